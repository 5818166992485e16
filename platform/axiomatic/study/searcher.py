"""The Tune searcher of a study: :class:`ArmSearcher` asks Optuna (public ask/tell API) for a new
arm only when every known arm has all its seeds scheduled, expands it into one cell per seed,
records every cell in the ledger, and tells Optuna the arm's combined objective once its seeds
are in. :func:`optuna_study` opens (or creates) the Optuna study it asks and tells."""

from __future__ import annotations

import numpy as np
import optuna
from ray.tune.search import Searcher

from axiomatic import metric_names
from axiomatic.data.store import Store
from axiomatic.errors import UserError
from axiomatic.study import space
from axiomatic.study import optuna_db as optuna_storage
from axiomatic.study.cell_task import CellTask
from axiomatic.study.ledger import Cell, CellStatus, Ledger, arm_id, cell_id
from axiomatic.study.progress import SearchProgress, search_progress
from axiomatic.study.spec import StudySpec
from axiomatic.study.optuna_db import OptunaStorage

COMBINE = {"mean": np.mean, "median": np.median, "min": np.min}


def combine(spec: StudySpec, cells: list[Cell]) -> float | None:
    """The arm's objective for Optuna. Seeds stopped early count here (unlike in the report):
    the search needs a value for every arm, and the scheduler stopped them for trailing."""
    values = [c.metrics.get(spec.objective.metric) for c in cells if c.finished]
    values = [v for v in values if v is not None]
    return float(COMBINE[spec.objective.combine](values)) if values else None


class ArmSearcher(Searcher):
    """Tune searcher over arms x seeds, backed by an Optuna study and the ledger."""

    def __init__(self, spec: StudySpec, ledger: Ledger, study: optuna.Study, on_cell=None,
                 store: Store | None = None, keep_trials=None):
        super().__init__(metric=spec.objective.metric, mode=spec.objective.mode)
        self.spec, self.ledger, self.study = spec, ledger, study
        # called after each change to the Optuna trials (an SQLite file in object storage is put back)
        self.keep_trials = keep_trials or (lambda: None)
        # The cache and published dir the command line resolved; each cell is handed both
        self.store = store or Store(published=spec.published_dir)
        self.sample = space.define_by_run(spec)
        self.target_arms = space.arm_count(spec)
        self.on_cell = on_cell or (lambda cell: None)
        self.cells: dict[str, Cell] = {c.id: c for c in ledger.cells()}
        for cell in self.cells.values():
            if cell.status is CellStatus.RUNNING:  # left so by a driver that died; this one holds the lease now
                cell.status = CellStatus.PENDING
        self.running: dict[str, str] = {}  # tune trial id -> cell id
        self.trials_lost: str | None = None  # why the Optuna storage stopped answering, if it did
        self.queue: list[str] = []
        for arm in self._known_arms():
            self._enqueue_missing_seeds(arm)
            self._maybe_tell(arm)  # a runner killed between an arm's last seed and its tell
        self._adopt_orphans()
        self.keep_trials()

    def __getstate__(self):
        # Tune pickles its experiment state, this searcher included. Our real state lives in the
        # ledger and the Optuna storage; the driver-only handles (a DB engine, the console hook)
        # are left out of the pickle.
        return {k: (None if k in ("study", "on_cell", "keep_trials") else v) for k, v in self.__dict__.items()}

    def save_to_dir(self, checkpoint_dir: str, session_str: str = "default") -> None:
        """Nothing to save: the ledger and the Optuna storage are this searcher's state, and the
        next runner rebuilds it from them (``Tuner.restore`` is never used). Tune's own method
        wrote "save not implemented for Searcher" to driver.log in every study."""

    # ---------------------------------------------------------------- arms and cells

    def _known_arms(self) -> list[str]:
        seen: list[str] = []
        for cell in self.cells.values():
            if cell.arm_id not in seen:
                seen.append(cell.arm_id)
        return seen

    def _arm_cells(self, arm: str) -> list[Cell]:
        return [c for c in self.cells.values() if c.arm_id == arm]

    def _enqueue_missing_seeds(self, arm: str) -> None:
        template = self._arm_cells(arm)[0]
        for seed in self.spec.seeds:
            key = cell_id(arm, seed)
            cell = self.cells.get(key)
            if cell is None:
                cell = Cell(arm, template.arm, template.params, seed, optuna_trial=template.optuna_trial)
                self.cells[key] = cell
                self.ledger.save(cell)
            if not cell.finished and key not in self.queue and key not in self.running.values():
                self.queue.append(key)

    def _adopt_orphans(self) -> None:
        """Arms Optuna handed out but the ledger never recorded (a runner killed in between).

        One whose parameters were all suggested becomes an arm; one killed before that (it has
        only the fixed parameters it was enqueued with) is failed and its grid point queued again.
        """
        known = set(self._known_arms())
        running = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        for trial in running:
            if arm_id(trial.params) in known:
                continue
            if trial.params:
                self._add_arm(trial.params, trial.number)
                continue
            self.study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            if fixed := trial.system_attrs.get("fixed_params"):
                self.study.enqueue_trial(fixed)

    def _new_arm(self) -> str | None:
        trial = self.study.ask()
        params = self.sample(trial)
        if any(c.arm_id == arm_id(params) for c in self.cells.values()):
            # the sampler proposed a known arm (a repeat): close it, no new cells
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            self.keep_trials()
            return None
        trial.set_user_attr("arm", self.spec.arm_name(params))
        return self._add_arm(params, trial.number)

    def _add_arm(self, params: dict, trial_number: int) -> str:
        arm = arm_id(params)
        first = Cell(arm, self.spec.arm_name(params), params, self.spec.seeds[0], optuna_trial=trial_number)
        self.keep_trials()  # the trial is kept before any cell names it
        self.cells[first.id] = first
        self.ledger.save(first)
        self._enqueue_missing_seeds(arm)
        return arm

    def arm_count(self) -> int:
        return len(self._known_arms())

    def total_cells(self) -> int:
        return max(self.arm_count(), self.target_arms) * len(self.spec.seeds)

    def progress(self) -> SearchProgress:
        """A frozen snapshot of every arm's seeds, for the live console."""
        return search_progress(self.cells.values(), self.spec.objective.metric, self.total_cells())

    def complete(self) -> bool:
        """Every cell of every arm has its final status (done, stopped or failed): false after
        an interruption, which leaves cells pending or running for the next run to resume."""
        return (self.arm_count() >= self.target_arms and not self.trials_lost
                and not any(c.status in (CellStatus.PENDING, CellStatus.RUNNING) for c in self.cells.values()))

    def _on_trials(self, action, *args):
        """``action(*args)`` on the Optuna trials. A database that stops answering is remembered
        for the driver to report, and ends the search (no arm asked for or told after it): Tune
        would only log the error, and the study end looking complete."""
        from optuna.exceptions import StorageInternalError
        from sqlalchemy.exc import SQLAlchemyError

        if self.trials_lost:
            return None
        try:
            return action(*args)
        except (SQLAlchemyError, StorageInternalError) as err:
            self.trials_lost = optuna_storage.reason(err)
            return None

    # ---------------------------------------------------------------- Searcher API

    def suggest(self, trial_id: str):
        if not self.queue and self.arm_count() < self.target_arms:
            for _ in range(3):  # a repeated proposal costs one ask; give up after a few
                if self._on_trials(self._new_arm):
                    break
        if not self.queue:
            ended = self.arm_count() >= self.target_arms or self.trials_lost or not self.running
            return Searcher.FINISHED if ended else None
        key = self.queue.pop(0)
        cell = self.cells[key]
        cell.status = CellStatus.RUNNING
        self.ledger.save(cell)
        self.running[trial_id] = key
        self.on_cell(cell)
        resources = self.spec.resources
        return CellTask(key, self.ledger.cell_dir(key), self.spec.run_config(cell.params, cell.seed),
                        resources.workers, resources.cpu, resources.gpu, self.store.root,
                        self.store.published, resources.custom).to_config()

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        key = self.running.pop(trial_id, None)
        if key is None:
            return
        cell = self.cells[key]
        if error:
            cell.status, cell.error = CellStatus.FAILED, _last_error(self.ledger, key)
        else:
            cell.metrics = _metrics_only(result or {})
            cell.status = CellStatus.DONE if (result or {}).get("finished") else CellStatus.STOPPED
            cell.error = None  # an earlier attempt's failure is no longer the cell's story
        self.ledger.save(cell)
        self.on_cell(cell)
        self._on_trials(self._maybe_tell, cell.arm_id)

    def _maybe_tell(self, arm: str) -> None:
        """Tell Optuna the arm's value once every seed has finished. A failed seed holds it back
        (the trial stays RUNNING) until a rerun completes that seed: an arm's value never comes
        from its surviving seeds only."""
        cells = self._arm_cells(arm)
        if not all(c.finished for c in cells):
            return
        number = cells[0].optuna_trial
        if number is None or self.study.trials[number].state.is_finished():
            return  # told already (a later seed extension keeps the first verdict; reports use all)
        value = combine(self.spec, cells)
        if value is None:
            self.study.tell(number, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(number, value)
        self.keep_trials()


def _metrics_only(result: dict) -> dict:
    return {k: v for k, v in result.items()
            if k.startswith(metric_names.PREFIXES) or k in ("epoch", "step", "stage", "seconds", "examples_per_s", "finished")}


def _last_error(ledger: Ledger, key: str) -> str:
    """The cell's own exception as its trainable recorded it (trial.py writes error.txt)."""
    return ledger.error(key) or (
        f"the cell's process ended without recording an exception (killed, or out of memory?); "
        f"see {ledger.work / 'logs'} and {ledger.root / 'tune'}")


# -------------------------------------------------------------------- driver


def optuna_study(spec: StudySpec, storage: OptunaStorage, kept_at: str | None = None) -> optuna.Study:
    """The study's Optuna study, created or loaded; storage that holds no Optuna database (a
    damaged optuna.db) is exit 2 naming it (``kept_at``: where the run keeps that file)."""
    from sqlalchemy.exc import SQLAlchemyError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(study_name=storage.study_name, storage=storage.url, load_if_exists=True,
                                    sampler=space.make_sampler(spec),
                                    direction="maximize" if spec.objective.mode == "max" else "minimize")
    except SQLAlchemyError as err:
        shown = kept_at or optuna_storage.without_password(storage.url)
        raise UserError(f"{shown}: the run's Optuna trials cannot be read ({optuna_storage.reason(err)}); "
                        "restore it from a copy, or start the study afresh under another name") from None
    if spec.search.algorithm == "grid":
        space.enqueue_grid(study, spec)
    return study
