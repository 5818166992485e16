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

import ray
from ray import tune
from ray.tune.logger import JsonLoggerCallback

from axiomatic.data.store import Store
from axiomatic.errors import UserError
from axiomatic.ray_session import ray_session
from axiomatic.study import optuna_db as optuna_storage
from axiomatic.study.cell_task import CellTask
from axiomatic.study.ledger import Ledger
from axiomatic.study.spec import StudySpec
from axiomatic.study.optuna_db import OptunaStorage
from axiomatic.study.searcher import ArmSearcher, optuna_study
from axiomatic.study.trial import run_cell
from axiomatic.train import launch

def _trial_name(trial) -> str:
    return f"{CellTask.from_config(trial.config).cell}-{trial.trial_id}"


def quiet_environment(log_dir: Path) -> None:
    """Ray's and Tune's own output off (the live console is the only output), logs to files."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no config box, no status table
    # the ledger keeps the results: no CSV or TensorBoardX files per trial and session (each cell
    # writes its own TensorBoard events); the Tuner is given the JSON logger alone (run_cells)
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


def run_cells(spec: StudySpec, ledger: Ledger, dashboard: str | None, slots: int, console_callback=None,
              store: Store | None = None, storage: OptunaStorage | None = None) -> ArmSearcher:
    """Run every missing cell of the study inside a :func:`study_ray` the caller holds, its cells
    reading and writing data where ``store`` says and its Optuna trials where ``storage`` says
    (None: the run's own); returns the searcher (for its final state). ``axiomatic.Study.run``
    calls it under the study's lease."""
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
