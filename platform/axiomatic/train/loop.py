"""The per-worker training loop: plain torch, the same code in-process and under Ray Train.

The loop knows nothing about Ray. Where it runs is described by a :class:`Worker` (rank, world
size, device, how to wrap the model for DDP) and what happens to each evaluation is a ``report``
callback ``(metrics, checkpoint_dir | None) -> None``: the CLI prints and keeps the checkpoint,
Tune and Ray Train persist it. The batch order of epoch ``e`` depends only on ``(seed, e)``, so a
resumed run replays exactly the batches it had not yet seen.

A run with a curriculum first trains each stage's own training set for the stage's number of steps,
then the main data for ``epochs`` epochs. Which stage a step belongs to follows from the step count
alone, so resuming needs no extra state. Validation always uses the main data's held-out split: the
learning curve shows progress on the task that counts, stage after stage.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from axiomatic.data.dataset import Dataset
from axiomatic.data.store import Store
from axiomatic.errors import UserError
from axiomatic.model.decoder import Decoder
from axiomatic.train import checkpoint
from axiomatic.train.checkpoint import TrainingState
from axiomatic.train.config import RunConfig, TrainConfig
from axiomatic.train.evaluate import evaluate, loss_and_correct

Report = Callable[[dict, "Path | None"], None]


@dataclass
class Worker:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    wrap: Callable[[torch.nn.Module], torch.nn.Module] = lambda model: model


@dataclass
class RunData:
    train: Dataset
    val: Dataset
    suites: dict[str, Dataset]
    digest: str
    stages: list[Dataset] = field(default_factory=list)  # curriculum training sets, in order


class OnDevice:
    """One training set's arrays as tensors on the worker's device (lengths also on the host)."""

    def __init__(self, data: Dataset, device: torch.device):
        self.lengths_np = data.lengths
        self.tokens = torch.from_numpy(data.tokens).to(device)
        self.lengths = torch.from_numpy(data.lengths.astype(np.int64)).to(device)
        self.labels = torch.from_numpy(data.labels.astype(np.int64)).to(device)

    def __len__(self) -> int:
        return len(self.lengths_np)


def resolve_device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for, but torch sees no CUDA device")
    return torch.device(choice)


def load_data(run: RunConfig, store: Store) -> RunData:
    """Training set (checked for leakage against every suite), validation split and suites."""
    data, manifest = store.training_set(run.data)
    order = np.random.default_rng(run.data.seed).permutation(len(data))
    n_val = max(1, round(run.train.val_share * len(data)))
    val = data.subset(order[:n_val])
    suites = {name: store.suite(name)[0] for name in run.suites}
    stages = [without_rows_of(store.training_set(stage.data)[0], val) for stage in run.curriculum]
    return RunData(data.subset(order[n_val:]), val, suites, manifest["digest"], stages)


def without_rows_of(data: Dataset, held_out: Dataset) -> Dataset:
    """``data`` minus any row whose (premise, question) is in ``held_out``: a curriculum stage
    must not train on the validation split it is judged by."""
    seen = set(held_out.row_keys())
    keep = np.array([key not in seen for key in data.row_keys()], dtype=bool)
    return data if keep.all() else data.subset(keep)


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int, bucketing: bool,
                  rank: int = 0, world: int = 1) -> list[np.ndarray]:
    """This rank's batches of one epoch; every rank gets the same number of batches."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    if bucketing:
        # sort within large random windows: batches of similar length, order still random
        window = batch_size * world * 32
        order = np.concatenate([w[np.argsort(lengths[w], kind="stable")]
                                for w in np.array_split(order, max(1, len(order) // window))])
    step = batch_size * world
    batches = [order[i : i + step] for i in range(0, len(order) - step + 1, step)]
    if bucketing:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return [b[rank::world] for b in batches]


def learning_rate(cfg: TrainConfig, step: int, total_steps: int) -> float:
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    floor = cfg.lr * cfg.min_lr_ratio
    if cfg.schedule == "wsd":
        # warmup-stable-decay: constant, then a straight line down to the floor over the last
        # decay_steps, so the run keeps its full rate for as long as possible and settles at the end
        decay = cfg.decay_steps or max(1, total_steps // 5)
        progress = min(1.0, max(0, step - (total_steps - decay)) / decay)
        return cfg.lr - (cfg.lr - floor) * progress
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def build_model(run: RunConfig, device: torch.device) -> Decoder:
    torch.manual_seed(run.seed)
    return Decoder(run.model).to(device)


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    # foreach: one batched kernel per update instead of a Python loop over the parameters. CUDA
    # picks it by default, a CPU does not, and the loop is a visible share of a small model's step
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas,
                             weight_decay=cfg.weight_decay, foreach=True)


class Trainer:
    """One run's model, optimizer, data and position; :meth:`fit` trains to the end."""

    def __init__(self, run: RunConfig, data: RunData, worker: Worker, resume_from: Path | None = None):
        self.run, self.cfg, self.data, self.worker = run, run.train, data, worker
        device = worker.device
        self.model = build_model(run, device)
        self.optimizer = build_optimizer(self.model, self.cfg)
        self.state = TrainingState()
        if resume_from is not None:
            self.state = checkpoint.restore(resume_from, self.model, self.optimizer)
        self.autocast = self.cfg.precision == "bf16"
        wrapped = worker.wrap(self.model)
        self.forward = torch.compile(wrapped) if self.cfg.compile and device.type == "cuda" else wrapped
        # one tensor set per phase: the curriculum stages, then the main training set last
        self.phases = [OnDevice(d, device) for d in [*data.stages, data.train]]
        self.steps_per_epoch = [len(self.batches(phase, 0)) for phase in self.phases]
        names = [f"curriculum.{k}.data" for k in range(len(data.stages))] + ["data"]
        for name, phase, per_epoch in zip(names, self.phases, self.steps_per_epoch):
            if per_epoch == 0:
                raise UserError(f"train.batch_size={self.cfg.batch_size} exceeds the {len(phase)} "
                                f"training rows of {name}; lower it or raise {name}.size")
        self.stage_ends = run.stage_ends
        self.total_steps = min(run.curriculum_steps + self.cfg.epochs * self.steps_per_epoch[-1],
                               self.cfg.max_steps or 10**12)

    def batches(self, phase: OnDevice, epoch: int) -> list[np.ndarray]:
        return epoch_batches(phase.lengths_np, self.cfg.batch_size // self.worker.world,
                             self.run.seed, epoch, self.cfg.bucketing, self.worker.rank, self.worker.world)

    def pending(self) -> Iterator[tuple[OnDevice, np.ndarray, bool]]:
        """Yield ``(phase, batch, boundary)`` for every step still to train, from the current
        position; ``boundary`` marks the last batch of a curriculum stage or of a main epoch.
        The caller trains on each batch before asking for the next (``step`` counts it)."""
        while self.state.step < min(self.run.curriculum_steps, self.total_steps):
            k = int(np.searchsorted(self.stage_ends, self.state.step, side="right"))
            local = self.state.step - (self.stage_ends[k - 1] if k else 0)
            # a stage longer than one pass over its data moves on to the next epoch's order
            per_epoch = self.steps_per_epoch[k]
            for idx in self.batches(self.phases[k], local // per_epoch)[local % per_epoch :]:
                last = self.state.step + 1 == self.stage_ends[k]
                yield self.phases[k], idx, last
                if last or self.state.step >= self.total_steps:
                    break
        while self.state.epoch < self.cfg.epochs and self.state.step < self.total_steps:
            plan = self.batches(self.phases[-1], self.state.epoch)
            for idx in plan[self.state.step_in_epoch :]:
                # advance the epoch position first: a checkpoint taken after this step says so
                self.state.step_in_epoch += 1
                end = self.state.step_in_epoch == len(plan)
                if end:
                    self.state.epoch, self.state.step_in_epoch = self.state.epoch + 1, 0
                yield self.phases[-1], idx, end
                if end or self.state.step >= self.total_steps:
                    break

    def step(self, phase: OnDevice, idx: np.ndarray) -> float:
        """One optimiser step on a batch of one phase's training rows; returns the loss."""
        index = torch.from_numpy(idx).to(self.worker.device)
        lengths = phase.lengths[index]
        tokens = phase.tokens[index, : int(lengths.max())].long()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.cfg, self.state.step, self.total_steps)
        with torch.autocast(self.worker.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits = self.forward(tokens, lengths)
        loss, _ = loss_and_correct(logits, phase.labels[index])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.state.step += 1
        return loss.item()

    def evaluation(self) -> dict[str, float]:
        device, size = self.worker.device, self.cfg.eval_batch_size
        val = evaluate(self.model, self.data.val, device, size, self.autocast)
        metrics = {"val/acc": val["acc"], "val/loss": val["loss"]}
        for name, suite in self.data.suites.items():
            metrics[f"suite/{name}/acc"] = evaluate(self.model, suite, device, size, self.autocast)["acc"]
        return metrics

    def fit(self, report: Report) -> dict:
        """Train until ``epochs`` or ``max_steps``, evaluating and reporting as configured."""
        losses, seen, train_time = [], 0, 0.0
        if self.state.step >= self.total_steps or self.state.epoch >= self.cfg.epochs:
            # resumed from the final checkpoint (killed before its result was recorded): say it again
            return self._report(report, losses, 0.0, finished=True)
        metrics: dict = {}
        for phase, idx, boundary in self.pending():
            started = time.perf_counter()
            losses.append(self.step(phase, idx))
            train_time += time.perf_counter() - started
            seen += len(idx) * self.worker.world
            done = self.state.step >= self.total_steps
            due = self.cfg.eval_every and self.state.step % self.cfg.eval_every == 0
            if due or done or boundary:
                finished = done or self.state.epoch >= self.cfg.epochs
                metrics = self._report(report, losses, seen / max(train_time, 1e-9), finished)
                losses = []
        return metrics

    def _report(self, report: Report, losses: list[float], examples_per_s: float, finished: bool) -> dict:
        # "finished" marks the last report of a complete run (a scheduler-stopped run never has it)
        metrics = {"epoch": self.state.epoch, "step": self.state.step, "finished": int(finished),
                   "train/loss": float(np.mean(losses)) if losses else float("nan"),
                   "examples_per_s": examples_per_s, **self.evaluation()}
        if self.worker.rank != 0:
            report(metrics, None)
            return metrics
        tmp = Path(tempfile.mkdtemp(prefix="ckpt-"))
        try:
            checkpoint.save(tmp, self.model, self.optimizer, self.state, self.run, self.data.digest)
            report(metrics, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return metrics


def train(run: RunConfig, report: Report, worker: Worker | None = None, resume_from: Path | None = None,
          store: Store | None = None) -> dict:
    """Load data, build everything, and train; returns the last reported metrics."""
    worker = worker or Worker(device=resolve_device(run.train.device))
    data = load_data(run, store or Store())
    return Trainer(run, data, worker, resume_from).fit(report)
