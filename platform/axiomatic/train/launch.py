"""Run the training loop in-process (one worker) or under Ray Train DDP (N workers).

One worker runs in the calling process: a ``TorchTrainer`` costs 25-50 s of start-up on a small
machine, which would dominate short runs. N workers run :func:`ray_train_worker` under a
``TorchTrainer`` (gloo on CPU, nccl on GPU); inside a Tune trial the same trainer is built by the
study runner with a ``TuneReportCallback``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import ray
import ray.train
import ray.train.torch
from ray.train import Checkpoint, CheckpointConfig, FailureConfig, RunConfig as RayRunConfig, ScalingConfig
from ray.train.torch import TorchConfig, TorchTrainer

from ray.util.placement_group import get_current_placement_group

from axiomatic.data.store import Store
from axiomatic.files import read_jsonl_rows
from axiomatic.location import Location
from axiomatic.ray_session import ray_session
from axiomatic.train import checkpoint, loop
from axiomatic.train.config import RunConfig
from axiomatic.train.history import HISTORY, RunHistory
from axiomatic.train.run_files import RunFiles, scratch_dir


TRAIN_PLACEMENT_GROUP = "train_placement_group"


def train(run: RunConfig, out: Path, workers: int = 1, report=None, resume_from=None,
          address: str | None = None, store: Store | None = None) -> dict:
    """Train and keep the latest checkpoint in ``out/checkpoint`` (the one before it in
    ``out/checkpoint.prev``); every evaluation goes to ``out/metrics.jsonl`` and to TensorBoard
    event files in ``out``. ``platform train`` and 1-worker study cells both keep runs this way."""
    if workers > 1:
        return _train_distributed(run, out, workers, report, resume_from, address, store)
    start = Path(resume_from) if resume_from else None
    with RunHistory(out, resumed_step=resumed_step(start)) as history:

        def keep(metrics: dict, checkpoint_dir: Path | None) -> None:
            history.append(metrics)
            if checkpoint_dir is not None:
                checkpoint.keep(Path(checkpoint_dir), out / "checkpoint")
            if report is not None:
                report(metrics, checkpoint_dir)

        return loop.train_worker(run, keep, resume_from=start, store=store)


def resumed_step(start: Path | None) -> int:
    return checkpoint.read_meta(start)["step"] if start is not None else 0


def _train_distributed(run, out, workers, report, resume_from, address, store) -> dict:
    # Rank 0 appends every evaluation to out/metrics.jsonl (and out's TensorBoard events) as it
    # goes: Ray's Result keeps only the metrics of the checkpoints it retains (num_to_keep=1), so
    # it cannot give the history.
    out = out.resolve()
    history = out / HISTORY
    earlier = len(read_jsonl_rows(history))
    with ray_session(address, num_cpus=max(workers, 2), log_to_driver=True):
        trainer = distributed_trainer(run, workers, name=f"train-{out.name}", storage=Location(out / "ray"),
                                      resume_from=resume_from, history=Location(out), store=store)
        result = trainer.fit()
    if result.error:
        raise result.error
    if report is not None:
        for metrics in read_jsonl_rows(history)[earlier:]:
            report(metrics, None)
    return {k: v for k, v in result.metrics.items() if not k.startswith("_") and k != TRAIN_PLACEMENT_GROUP}


def distributed_trainer(run: RunConfig, workers: int, name: str, storage: Location, resume_from=None,
                        callbacks=(), history: Location | None = None, cpu_per_worker: float = 1.0,
                        gpu_per_worker: float = 1.0, custom_per_worker: dict | None = None,
                        controller_failure_limit: int = 1, store: Store | None = None) -> TorchTrainer:
    """A TorchTrainer running the loop on ``workers`` DDP workers; restarts resume its run.

    ``storage``: Ray Train's own run directory (local or object storage). ``history``: where rank
    0 also keeps the run's files (:class:`~axiomatic.train.run_files.RunFiles`: each evaluation in
    metrics.jsonl and TensorBoard events, the latest checkpoint), the study ledger's cell
    directory. In object storage every worker downloads the checkpoint it starts from there, so
    none reads another node's disk. The workers read data from ``store``'s cache and published
    dir (default: the usual places).
    """
    use_gpu = run.train.device == "cuda" or (run.train.device == "auto" and _cluster_has_gpus())
    store = store or Store()
    config = {"run": run.to_dict(), "cache": str(store.root), "published": str(store.published),
              "resume_from": str(Path(resume_from).resolve()) if resume_from else None,
              "history": history.uri if history else None}
    return TorchTrainer(
        ray_train_worker,
        train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu, resources_per_worker={
            "CPU": cpu_per_worker, **({"GPU": gpu_per_worker} if use_gpu else {}), **(custom_per_worker or {})}),
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        run_config=RayRunConfig(
            name=name, storage_path=storage.path, storage_filesystem=storage.fs, callbacks=list(callbacks),
            # Ray's default (-1) retries a worker group that cannot start forever
            failure_config=FailureConfig(max_failures=1, controller_failure_limit=controller_failure_limit),
            checkpoint_config=CheckpointConfig(num_to_keep=1)),
    )


def _cluster_has_gpus() -> bool:
    return ray.is_initialized() and ray.cluster_resources().get("GPU", 0) > 0


def ray_train_worker(config: dict) -> None:
    """Per-worker entry point under Ray Train: rank, device and DDP come from Ray's context."""
    run = RunConfig.from_dict(config["run"])
    context = ray.train.get_context()
    worker = loop.Worker(rank=context.get_world_rank(), world=context.get_world_size(),
                         device=ray.train.torch.get_device(),
                         wrap=lambda model: ray.train.torch.prepare_model(model, move_to_device=False))
    store = Store(config["cache"], config["published"])
    files = _run_files(config, worker.rank)
    try:
        with _start_checkpoint(config, files) as start, _rank_zero_history(files, worker.rank, start) as history:

            def report(metrics: dict, checkpoint_dir: Path | None) -> None:
                if history is not None:  # only rank 0 writes checkpoints, so only it keeps the run's files
                    history.append(metrics)
                    if checkpoint_dir is not None:
                        checkpoint.keep(checkpoint_dir, files.work / "checkpoint")
                    files.publish(checkpoint_dir)
                # the placement group id lets a Tune callback free it when a scheduler stops the trial
                # (Train's own cleaner needs the dashboard's State API; see study/runner.py)
                metrics = {**metrics, TRAIN_PLACEMENT_GROUP: get_current_placement_group().id.hex()}
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None)

            loop.train_worker(run, report, worker, resume_from=start, store=store)
    finally:
        if files is not None:
            files.clean()


def _run_files(config: dict, rank: int) -> RunFiles | None:
    """The run's files as this worker sees them; in object storage each rank has its own scratch."""
    if not config["history"]:
        return None
    location = Location(config["history"])
    files = RunFiles(location, scratch=scratch_dir(location) / f"rank-{rank}")
    if rank == 0:
        files.pull_history()  # its reports are appended to the history the run has so far
    return files


@contextmanager
def _start_checkpoint(config: dict, files: RunFiles | None) -> Iterator[Path | None]:
    """Where the workers start: a restarted worker group continues from its own last report, a
    fresh one from the run's newest checkpoint (downloaded by each worker from object storage;
    else the ``resume_from`` the caller found), or from scratch."""
    resume = ray.train.get_checkpoint()
    if resume is not None:
        with resume.as_directory() as directory:
            yield Path(directory)
    elif files is not None and files.mirrored:
        yield files.fetch_checkpoint()
    else:
        yield Path(config["resume_from"]) if config["resume_from"] else None


def _rank_zero_history(files: RunFiles | None, rank: int, start: Path | None):
    """Rank 0 keeps the run's history (its reports carry the evaluations of all ranks)."""
    if rank != 0 or files is None:
        return nullcontext()
    return RunHistory(files.work, resumed_step=resumed_step(start))
