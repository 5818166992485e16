"""Paper-style tables and their text, the time-to-accuracy table, and the paper's reference numbers.

Not imported here: ``summary`` (the whole report: Optuna and matplotlib, about two seconds, and it
imports ``study.spec``, which imports ``report.references``, so importing it here would be a
cycle), ``plots`` (matplotlib) and ``console`` (a Ray Tune callback).
"""

from axiomatic.report import reach, rendering, tables
from axiomatic.report.references import REFERENCES, select_references

__all__ = ["REFERENCES", "reach", "rendering", "select_references", "tables"]
