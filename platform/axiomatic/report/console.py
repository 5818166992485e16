"""The study's live console: one row per arm and a progress bar, refreshed from Tune callbacks.

Ray's own progress output is off (verbose=0, logs to files under the run directory); this is the
only thing a study prints while it runs. Rows: seeds done / running / total, the objective's
mean ± 95% CI over the seeds that ran to the end (as in the report: seeds the scheduler stopped
early are counted in the status, not averaged), the best seed, status and an ETA from ended cells'
durations.
"""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from ray import tune

from axiomatic.report.rendering import format_interval
from axiomatic.study.ledger import CellStatus
from axiomatic.study.results import mean_ci, metric_bounds


class LiveConsole(tune.Callback):
    def __init__(self, spec, console: Console | None = None, enabled: bool = True):
        self.spec = spec
        self.console = console or Console()
        self.enabled = enabled
        self.searcher = None
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
        return {k: (None if k in ("console", "live", "progress", "searcher") else v)
                for k, v in self.__dict__.items()}

    # ---------------------------------------------------------------- lifecycle

    def attach(self, searcher) -> None:
        self.searcher = searcher
        self.refresh()

    def __enter__(self):
        if self.enabled:
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.refresh()
            self.live.__exit__(*exc)

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
        if not self.enabled or self.searcher is None:
            return
        cells = list(self.searcher.cells.values())
        done = sum(c.finished for c in cells)
        self.progress.update(self.task, completed=done, total=max(self.searcher.total_cells(), 1))
        self.live.update(Group(self.table(cells), self.progress))

    def table(self, cells) -> Table:
        metric = self.spec.objective.metric
        table = Table(title=f"{self.spec.name}: {metric} ({self.spec.objective.mode})", expand=False)
        for column in ("arm", "seeds done/run/total", f"{metric} mean ± CI", "best", "status", "ETA"):
            table.add_column(column, justify="left" if column in ("arm", "status") else "right")
        arms: dict[str, list] = {}
        for cell in cells:
            arms.setdefault(cell.arm_id, []).append(cell)
        for members in arms.values():
            table.add_row(*self._row(members, metric))
        return table

    def _row(self, members, metric) -> list[str]:
        done = [c for c in members if c.status is CellStatus.DONE]
        stopped = [c for c in members if c.status is CellStatus.STOPPED]
        running = [c for c in members if c.status is CellStatus.RUNNING]
        failed = [c for c in members if c.status is CellStatus.FAILED]
        values = [c.metrics[metric] for c in done if metric in c.metrics]
        ci = mean_ci(values, bounds=metric_bounds(metric))
        live = [self.latest[c.id][metric] for c in running if metric in self.latest.get(c.id, {})]
        summary = "–" if ci is None else format_interval(ci["mean"], ci["ci_low"], ci["ci_high"], ci["values"], 3)
        if ci is None and live:
            summary = f"[dim]{max(live):.3f} (live)[/]"
        pick = max if self.spec.objective.mode == "max" else min
        best = f"{pick(values):.3f}" if values else "–"
        status = ("failed" if failed and not running else "running" if running
                  else "done" if all(c.finished for c in members) else "queued")
        if failed:
            status += f" ({len(failed)} failed)"
        if stopped:
            status += f" ({len(stopped)} stopped early)"
        # failed ones wait for a rerun, not in this session
        waiting = sum(c.status in (CellStatus.PENDING, CellStatus.RUNNING) for c in members)
        return [members[0].arm, f"{len(done)}/{len(running)}/{len(members)}", summary, best, status,
                self._eta(waiting)]

    def _eta(self, remaining: int) -> str:
        if remaining == 0:
            return "–"
        if not self.durations:
            return "?"
        slots = max(1, len(self.started))
        seconds = sum(self.durations) / len(self.durations) * remaining / slots
        return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
