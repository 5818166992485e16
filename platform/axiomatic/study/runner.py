"""Run a study: Ray Tune executes cells, Optuna proposes arms, the ledger remembers everything.

An *arm* is one setting of the searched parameters; a *cell* is an arm at one seed, and a Tune
trial runs one cell. :class:`ArmSearcher` is the Tune searcher: it asks Optuna (public ask/tell
API, RDB storage in the run directory) for a new arm only when every known arm has all its seeds
scheduled, expands it into one cell per seed, and tells Optuna the arm's combined objective
once its seeds are in. Ray's ``OptunaSearch`` maps one Tune trial to one Optuna trial, which can
express neither "an arm is N seeded trials" nor an arm that resumes across invocations; this
searcher keeps that mapping in the ledger instead.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import optuna
import ray
from ray import tune
from ray.tune.logger import JsonLoggerCallback
from ray.tune.search import Searcher

from axiomatic import metric_names
from axiomatic.data.store import Store
from axiomatic.errors import UserError
from axiomatic.ray_session import ray_session
from axiomatic.study import space
from axiomatic.study import storage as optuna_storage
from axiomatic.study.cell_task import CellTask
from axiomatic.study.ledger import Cell, CellStatus, Ledger, arm_id, cell_id
from axiomatic.study.progress import SearchProgress, search_progress
from axiomatic.study.spec import StudySpec
from axiomatic.study.storage import OptunaStorage
from axiomatic.study.trial import run_cell
from axiomatic.train import launch

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


def _trial_name(trial) -> str:
    return f"{CellTask.from_config(trial.config).cell}-{trial.trial_id}"


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


def quiet_environment(log_dir: Path) -> None:
    """Ray's and Tune's own output off (the live console is the only output), logs to files."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no config box, no status table
    # the ledger keeps the results: no CSV or TensorBoardX files per trial and session (each cell
    # writes its own TensorBoard events); the Tuner is given the JSON logger alone (run_study)
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    _quiet_python_logging(log_dir)


def _local_gpus() -> int:
    import torch

    return torch.cuda.device_count()


def _quiet_python_logging(log_dir: Path) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "driver.log")
    for name in ("ray", "ray.tune", "ray.train"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False


def concurrency(spec: StudySpec) -> int:
    """How many cells fit the cluster at once (capped by search.max_concurrent)."""
    resources = ray.cluster_resources()
    per = spec.resources
    slots = [resources.get("CPU", 1) // max(per.cpu * per.workers, 1e-9)]
    if per.gpu:
        slots.append(resources.get("GPU", 0) // (per.gpu * per.workers))
    slots += [resources.get(name, 0) // (amount * per.workers) for name, amount in per.custom.items()]
    fit = int(max(min(slots), 0))
    if fit == 0:
        custom = "".join(f", {name} {amount}" for name, amount in per.custom.items())
        has = "".join(f", {name} {resources.get(name, 0)}" for name in per.custom)
        raise UserError(f"resources: a cell needs {per.workers} x (cpu {per.cpu}, gpu {per.gpu}{custom}) but "
                        f"the cluster has CPU {resources.get('CPU', 0)}, GPU {resources.get('GPU', 0)}{has}")
    return min(fit, spec.search.max_concurrent or fit)


DRIVER_MEMORY = 64 * 2**20


def trial_resources(spec: StudySpec) -> dict:
    per = spec.resources
    if per.workers == 1:
        return {"cpu": per.cpu, "gpu": per.gpu, **per.custom}  # keys beyond these are custom resources
    # The trial only drives a TorchTrainer, whose workers reserve their own placement group. Any
    # CPU held by the driver (even 0.01) would leave a 2-CPU machine unable to place 2 one-CPU
    # workers; Ray needs a non-empty bundle, so the driver holds a token amount of memory.
    return {"cpu": 0, "memory": DRIVER_MEMORY}


class FreeTrainPlacementGroups(tune.Callback):
    """Remove a multi-worker trial's Train placement group when the trial ends.

    When a scheduler stops a trial mid-fit, Train's own cleaner only notices through the State
    API, which is absent without the dashboard; the group would keep its CPUs/GPUs reserved and
    the next trials would wait for workers forever.
    """

    def _free(self, trial) -> None:
        from ray._raylet import PlacementGroupID
        from ray.util.placement_group import PlacementGroup, remove_placement_group

        group = (trial.last_result or {}).get(launch.TRAIN_PLACEMENT_GROUP)
        if group:
            try:
                remove_placement_group(PlacementGroup(PlacementGroupID(bytes.fromhex(group))))
            except Exception:  # already gone with its controller: nothing to free
                pass

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._free(trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._free(trial)


def tune_callbacks(console_callback=None) -> list[tune.Callback]:
    """The live console, the placement-group cleaner, and Tune's JSON logger: ``Tuner.fit`` ends
    by reading every trial's ``result.json`` back (its ``ResultGrid``), and with Tune's default
    loggers off it found none and wrote "Failed to fetch metrics" for every trial to driver.log."""
    return [c for c in (console_callback, FreeTrainPlacementGroups(), JsonLoggerCallback()) if c]


def scheduler(spec: StudySpec):
    if spec.scheduler.type == "none":
        return None
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(time_attr="training_iteration", max_t=spec.scheduler.max_t or 10**6,
                         grace_period=spec.scheduler.grace_period,
                         reduction_factor=spec.scheduler.reduction_factor)


@contextmanager
def study_ray(spec: StudySpec, log_dir: Path, address: str | None = None):
    """Ray for a study, its own output going to ``log_dir``. Yields the joined cluster's dashboard
    URL (None for a private Ray) and how many cells run at once: a cluster without room for one
    cell (a custom resource it lacks) is exit 2 here, before the study writes anything."""
    quiet_environment(log_dir)
    with ray_session(address, num_cpus=os.cpu_count() or 2, num_gpus=_local_gpus(),
                     log_to_driver=False, logging_level=logging.WARNING) as dashboard:
        yield dashboard, concurrency(spec)


def run_study(spec: StudySpec, ledger: Ledger, address: str | None = None, console_callback=None,
              store: Store | None = None, storage: OptunaStorage | None = None) -> ArmSearcher:
    """Run every missing cell of the study, its cells reading and writing data where ``store``
    says and its Optuna trials where ``storage`` says (None: the run's own); returns the searcher
    (for its final state)."""
    with study_ray(spec, ledger.work / "logs", address) as (dashboard, slots):
        return run_cells(spec, ledger, dashboard, slots, console_callback, store, storage)


def run_cells(spec: StudySpec, ledger: Ledger, dashboard: str | None, slots: int, console_callback=None,
              store: Store | None = None, storage: OptunaStorage | None = None) -> ArmSearcher:
    """:func:`run_study` inside a :func:`study_ray` the caller holds."""
    ledger.work.mkdir(parents=True, exist_ok=True)
    storage = storage or optuna_storage.of_run(ledger, spec.name)
    study = optuna_study(spec, storage, kept_at=optuna_storage.kept_at(ledger, storage))
    searcher = ArmSearcher(spec, ledger, study,
                           on_cell=console_callback.cell_changed if console_callback else None, store=store,
                           keep_trials=lambda: optuna_storage.push(ledger, storage))
    if console_callback:
        console_callback.attach(searcher.progress, caption=f"Ray dashboard: {dashboard}" if dashboard else None)
    tuner = tune.Tuner(
        tune.with_resources(run_cell, trial_resources(spec)),
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler(spec),
                                    metric=spec.objective.metric, mode=spec.objective.mode,
                                    num_samples=-1, max_concurrent_trials=slots,
                                    # a new actor per cell would re-import torch every time
                                    reuse_actors=True,
                                    trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
        run_config=tune.RunConfig(
            name=f"session-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=(ledger.root / "tune").path,
            storage_filesystem=ledger.root.fs,
            verbose=0, callbacks=tune_callbacks(console_callback),
            failure_config=tune.FailureConfig(max_failures=1)),
    )
    tuner.fit()
    return searcher
