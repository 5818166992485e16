"""The study's live console: one row per arm and a progress bar, refreshed from Tune callbacks.

Ray's own progress output is off (verbose=0, logs to files under the run directory); this is the
only thing a study prints while it runs. Rows: seeds done / running / total, the objective's
mean ± 95% CI over the seeds that ran to the end (as in the report: seeds the scheduler stopped
early are counted in the status, not averaged), the best seed, status and an ETA from ended cells'
durations.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from ray import tune

from axiomatic.report.rendering import add_label_column, format_interval
from axiomatic.study.ledger import CellStatus
from axiomatic.study.progress import ArmProgress, SearchProgress
from axiomatic.study.results import mean_ci, metric_bounds


class LiveConsole(tune.Callback):
    def __init__(self, spec, console: Console | None = None, enabled: bool = True):
        self.spec = spec
        self.console = console or Console()
        self.enabled = enabled
        self.snapshot: Callable[[], SearchProgress] | None = None  # the searcher's progress()
        self.caption: str | None = None
        self.latest: dict[str, dict] = {}  # cell id -> last reported metrics while running
        self.started: dict[str, float] = {}
        self.durations: list[float] = []
        self.begun = time.time()
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=self.console)
        self.task = self.progress.add_task(spec.name, total=1)
        self.live = Live(console=self.console, refresh_per_second=2, transient=False)

    def __getstate__(self):
        # Tune pickles its callbacks with the experiment state; the terminal handles stay behind.
        return {k: (None if k in ("console", "live", "progress", "snapshot") else v)
                for k, v in self.__dict__.items()}

    # ---------------------------------------------------------------- lifecycle

    def attach(self, snapshot: Callable[[], SearchProgress], caption: str | None = None) -> None:
        """Show the searcher's progress; ``caption`` goes under the table (a cluster's dashboard)."""
        self.snapshot = snapshot
        self.caption = caption
        self.refresh()

    def __enter__(self):
        if self.enabled:
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.refresh()
            self.live.__exit__(*exc)
            if not self.console.is_terminal:
                # rich ends a live display with a newline on a terminal only: in a file or a CI
                # log the progress line and whatever is printed next would share one line
                self.console.line()

    # ---------------------------------------------------------------- events

    def cell_changed(self, cell) -> None:
        if cell.status is CellStatus.RUNNING:
            self.started[cell.id] = time.time()
        elif cell.id in self.started:
            self.durations.append(time.time() - self.started.pop(cell.id))
            self.latest.pop(cell.id, None)
        self.refresh()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        key = trial.config.get("cell")
        if key:
            self.latest[key] = result
            self.refresh()

    # ---------------------------------------------------------------- rendering

    def refresh(self) -> None:
        if not self.enabled or self.snapshot is None:
            return
        snapshot = self.snapshot()
        self.progress.update(self.task, completed=snapshot.finished_cells, total=max(snapshot.total_cells, 1))
        self.live.update(Group(self.table(snapshot), self.progress))

    def table(self, snapshot: SearchProgress) -> Table:
        metric = self.spec.objective.metric
        table = Table(title=f"{self.spec.name}: {metric} ({self.spec.objective.mode})", expand=False,
                      caption=self.caption)
        add_label_column(table, "arm", [arm.arm for arm in snapshot.arms])
        for column in ("seeds done/run/total", f"{metric} mean ± CI", "best", "status", "ETA"):
            table.add_column(column, justify="left" if column == "status" else "right")
        for arm in snapshot.arms:
            table.add_row(*self._row(arm))
        return table

    def _row(self, arm: ArmProgress) -> list[str]:
        metric = self.spec.objective.metric
        ci = mean_ci(arm.values, bounds=metric_bounds(metric))
        live = [self.latest[c][metric] for c in arm.running_cells if metric in self.latest.get(c, {})]
        summary = "–" if ci is None else format_interval(ci["mean"], ci["ci_low"], ci["ci_high"], ci["values"], 3)
        if ci is None and live:
            summary = f"[dim]{max(live):.3f} (live)[/]"
        pick = max if self.spec.objective.mode == "max" else min
        best = f"{pick(arm.values):.3f}" if arm.values else "–"
        status = ("failed" if arm.failed and not arm.running else "running" if arm.running
                  else "done" if arm.finished == arm.total else "queued")
        if arm.failed:
            status += f" ({arm.failed} failed)"
        if arm.stopped:
            status += f" ({arm.stopped} stopped early)"
        return [arm.arm, f"{arm.done}/{arm.running}/{arm.total}", summary, best, status, self._eta(arm.waiting)]

    def _eta(self, remaining: int) -> str:
        if remaining == 0:
            return "–"
        if not self.durations:
            return "?"
        slots = max(1, len(self.started))
        seconds = sum(self.durations) / len(self.durations) * remaining / slots
        return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
