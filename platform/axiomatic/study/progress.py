"""Where a running study stands, as the live console draws it: a frozen snapshot per arm.

The searcher builds it from its cells (:meth:`ArmSearcher.progress`); the console reads nothing
else of the searcher, so it can be drawn, and tested, without Ray or a searcher.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from axiomatic.study.ledger import Cell, CellStatus


@dataclass(frozen=True)
class ArmProgress:
    """One arm's seeds by status, and the objective of those that ran to the end."""

    arm: str  # the readable arm name
    total: int
    done: int
    running: int
    stopped: int
    failed: int
    values: tuple[float, ...]  # the objective of each DONE seed (stopped ones are not averaged)
    running_cells: tuple[str, ...]  # ids of the running cells, whose live results Tune reports

    @property
    def finished(self) -> int:
        """Seeds final for resume (done or stopped), as ``Cell.finished`` counts them."""
        return self.done + self.stopped

    @property
    def waiting(self) -> int:
        """Seeds still to run in this session (failed ones wait for a rerun, not for this one)."""
        return self.total - self.finished - self.failed


@dataclass(frozen=True)
class SearchProgress:
    arms: tuple[ArmProgress, ...]  # in the order the arms were first seen
    total_cells: int  # every cell the study will have, arms not yet proposed included

    @property
    def finished_cells(self) -> int:
        return sum(arm.finished for arm in self.arms)


def arm_progress(members: Sequence[Cell], metric: str) -> ArmProgress:
    """The snapshot of one arm from its cells (all of one arm, at least one)."""
    def count(status: CellStatus) -> int:
        return sum(c.status is status for c in members)

    return ArmProgress(
        arm=members[0].arm, total=len(members), done=count(CellStatus.DONE),
        running=count(CellStatus.RUNNING), stopped=count(CellStatus.STOPPED), failed=count(CellStatus.FAILED),
        values=tuple(c.metrics[metric] for c in members if c.status is CellStatus.DONE and metric in c.metrics),
        running_cells=tuple(c.id for c in members if c.status is CellStatus.RUNNING))


def search_progress(cells: Iterable[Cell], metric: str, total_cells: int) -> SearchProgress:
    by_arm: dict[str, list[Cell]] = {}
    for cell in cells:
        by_arm.setdefault(cell.arm_id, []).append(cell)
    return SearchProgress(tuple(arm_progress(members, metric) for members in by_arm.values()), total_cells)
