"""A run's history, kept as its reports come: one row per evaluation in ``metrics.jsonl``, and every
numeric metric of it as a TensorBoard scalar in event files of the same directory, with the
optimiser step as the x axis. ``platform train`` runs and study cells keep it this way, on the
1-worker path and on rank 0 under Ray Train alike.

A resumed run writes a new event file in the same directory; its first record tells TensorBoard
to hide what earlier files hold past the resumed checkpoint's step (``purge_step``), the way a
study cell truncates its ``metrics.jsonl`` there: those evaluations are made again.
"""

from __future__ import annotations

from numbers import Real
from pathlib import Path

from axiomatic.files import append_jsonl_row

HISTORY = "metrics.jsonl"


def scalars(metrics: dict) -> dict[str, float]:
    """The metrics TensorBoard plots: every number but the step, which is their x axis."""
    return {name: float(value) for name, value in metrics.items()
            if name != "step" and isinstance(value, Real) and not isinstance(value, bool)}


class RunHistory:
    """``append`` each report; ``close`` (or leave the ``with`` block) when the run ends."""

    def __init__(self, directory: Path, resumed_step: int = 0):
        self.directory = Path(directory)
        self.path = self.directory / HISTORY
        self.resumed_step = resumed_step
        self._events = None  # opened at the first report: a run that reports nothing leaves no file

    def append(self, metrics: dict) -> None:
        append_jsonl_row(self.path, metrics)
        events = self._event_writer()
        for name, value in scalars(metrics).items():
            events.add_scalar(name, value, global_step=metrics["step"])
        events.flush()  # a TensorBoard watching a running study shows each evaluation as it comes

    def _event_writer(self):
        if self._events is None:
            # imported here: it loads tensorboard, which only a run that reports needs
            from torch.utils.tensorboard import SummaryWriter

            self._events = SummaryWriter(str(self.directory), purge_step=self.resumed_step + 1)
        return self._events

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None

    def __enter__(self) -> RunHistory:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
