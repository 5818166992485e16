"""The Tune function trainable: one study cell (an arm at one seed), resumable from its checkpoint.

A 1-worker cell runs the training loop in the trial's own process. An N-worker cell builds a Ray
Train ``TorchTrainer`` whose ``TuneReportCallback`` forwards rank 0's metrics to Tune; its run
name is derived from the cell, so a restarted cell resumes its inner run. Either way the cell's
history and latest checkpoint are kept in the cell's directory of the study ledger.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

from ray import tune

from axiomatic.files import append_jsonl_row, read_jsonl_rows
from axiomatic.study.cell_task import CellTask
from axiomatic.train import checkpoint, launch
from axiomatic.train.history import HISTORY


def run_cell(config: dict) -> None:
    task = CellTask.from_config(config)
    try:
        _run_cell(task)
    except Exception as err:
        # the ledger keeps the reason, so reports can say why a cell failed
        (task.cell_dir / "error.txt").write_text(describe_error(err))
        raise


def describe_error(err: BaseException) -> str:
    """``Type: message``, then where it was raised (the last frame), then the traceback's tail:
    the first line is what a report prints."""
    frame = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
    where = f"\n  raised at {frame.filename}:{frame.lineno} in {frame.name}" if frame else ""
    trace = "".join(traceback.format_exception(err))[-1500:]
    return f"{type(err).__name__}: {err}{where}\n\n{trace}"


def _run_cell(task: CellTask) -> None:
    cell_dir, run = task.cell_dir, task.run
    latest = cell_dir / "checkpoint"
    resume = checkpoint.latest(latest)  # the newest that reads back whole
    resumed_step = checkpoint.read_meta(resume)["step"] if resume else 0
    history = cell_dir / HISTORY
    _truncate_history(history, resumed_step)
    append_jsonl_row(cell_dir / "attempts.jsonl", {"started": time.time(), "resumed_from_step": resumed_step,
                                                   "trial_id": tune.get_context().get_trial_id()})
    rows = read_jsonl_rows(history)
    if resume is not None and rows and rows[-1].get("finished") and rows[-1].get("step") == resumed_step:
        # the runner died after the cell's last report and before its result was recorded: the
        # cell is finished, so say its last report again instead of evaluating (and logging) anew
        tune.report(rows[-1])
        return
    # the directories the command line resolved, never looked for again in this worker
    store = task.store()
    if task.workers == 1:
        launch.train(run, cell_dir, report=lambda metrics, _: tune.report(metrics), resume_from=resume,
                     store=store)
        return
    from ray.tune.integration.ray_train import TuneReportCallback

    trainer = launch.distributed_trainer(
        run, task.workers, name=f"cell-{cell_dir.name}", storage=cell_dir / "ray", resume_from=resume,
        callbacks=[TuneReportCallback()], history_dir=cell_dir, keep_checkpoint=latest,
        cpu_per_worker=task.cpu_per_worker, gpu_per_worker=task.gpu_per_worker,
        controller_failure_limit=0, store=store)
    result = trainer.fit()
    if result.error:
        raise result.error


def _truncate_history(history: Path, step: int) -> None:
    """Forget evaluations past the checkpoint we resume from: they will be made again (the
    resumed run's TensorBoard events hide them there too, see ``train.history``)."""
    kept = [row for row in read_jsonl_rows(history) if row.get("step", 0) <= step]
    if history.is_file():
        history.write_text("".join(json.dumps(r) + "\n" for r in kept))
