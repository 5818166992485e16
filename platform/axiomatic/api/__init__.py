"""The Python API: :class:`Study`, a study's whole life as one object (``axiomatic.Study``)."""

from axiomatic.api.study import RunOutcome, Study

__all__ = ["RunOutcome", "Study"]
