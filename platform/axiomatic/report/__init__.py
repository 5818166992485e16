"""Paper-style tables and their text, and the time-to-accuracy table.

The paper's reference numbers live beside the suites they describe, in ``axiomatic.data``.
Not imported here: ``summary`` (the whole report: Optuna and matplotlib, about two seconds),
``plots`` (matplotlib) and ``console`` (a Ray Tune callback).
"""

from axiomatic.report import reach, rendering, tables

__all__ = ["reach", "rendering", "tables"]
