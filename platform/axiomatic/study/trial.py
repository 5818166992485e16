"""The Tune function trainable: one study cell (an arm at one seed), resumable from its checkpoint.

A 1-worker cell runs the training loop in the trial's own process. An N-worker cell builds a Ray
Train ``TorchTrainer`` whose ``TuneReportCallback`` forwards rank 0's metrics to Tune; its run
name is derived from the cell, so a restarted cell resumes its inner run. Either way the cell's
history and latest checkpoint are kept in the cell's directory of the study's storage
(:mod:`axiomatic.train.run_files`).
"""

from __future__ import annotations

import traceback

import ray
from ray import tune

from axiomatic.study.cell_task import CellTask
from axiomatic.train import checkpoint, launch
from axiomatic.train.run_files import RunFiles


def run_cell(config: dict) -> None:
    task = CellTask.from_config(config)
    files = RunFiles(task.cell_dir)
    try:
        _run_cell(task, files)
    except Exception as err:
        # the ledger keeps the reason, so reports can say why a cell failed
        files.record_error(describe_error(err))
        raise
    finally:
        files.clean()


def describe_error(err: BaseException) -> str:
    """``Type: message``, then where it was raised (the last frame), then the traceback's tail:
    the first line is what a report prints."""
    frame = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
    where = f"\n  raised at {frame.filename}:{frame.lineno} in {frame.name}" if frame else ""
    trace = "".join(traceback.format_exception(err))[-1500:]
    return f"{type(err).__name__}: {err}{where}\n\n{trace}"


def _run_cell(task: CellTask, files: RunFiles) -> None:
    run = task.run
    node = ray.get_runtime_context().get_node_id()
    resume = files.start(tune.get_context().get_trial_id(), node)  # the newest checkpoint that reads back whole
    rows = files.history()
    if resume is not None and rows and rows[-1].get("finished") and rows[-1].get("step") == _step_of(resume):
        # the runner died after the cell's last report and before its result was recorded: the
        # cell is finished, so say its last report again instead of evaluating (and logging) anew
        tune.report(rows[-1])
        return
    # the directories the command line resolved, never looked for again in this worker
    store = task.store()
    if task.workers == 1:
        def report(metrics: dict, checkpoint_dir) -> None:
            files.publish(checkpoint_dir)
            tune.report(metrics)

        launch.train(run, files.work, report=report, resume_from=resume, store=store)
        return
    from ray.tune.integration.ray_train import TuneReportCallback

    trainer = launch.distributed_trainer(
        run, task.workers, name=f"cell-{task.cell}", storage=task.cell_dir / "ray", resume_from=resume,
        callbacks=[TuneReportCallback()], history=task.cell_dir, cpu_per_worker=task.cpu_per_worker,
        gpu_per_worker=task.gpu_per_worker, custom_per_worker=task.custom_per_worker,
        controller_failure_limit=0, store=store)
    result = trainer.fit()
    if result.error:
        raise result.error


def _step_of(resume) -> int:
    return checkpoint.read_meta(resume)["step"]
