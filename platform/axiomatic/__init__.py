"""axiomatic: Ray-distributed hyperparameter studies for axiomatic training.

``axiomatic.Study`` is the Python API (docs/api.md). It is imported on first use: importing
``axiomatic.data`` (or a Ray worker importing a trial) must not pay for Optuna and the report.
"""

__all__ = ["Study"]


def __getattr__(name: str):
    if name == "Study":
        from axiomatic.api import Study

        return Study
    raise AttributeError(f"module 'axiomatic' has no attribute {name!r}")
