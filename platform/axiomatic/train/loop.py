"""The per-worker training loop: plain torch, the same code in-process and under Ray Train.

The loop knows nothing about Ray. Where it runs is described by a :class:`Worker` (rank, world
size, device, how to wrap the model for DDP) and what happens to each evaluation is a ``report``
callback ``(metrics, checkpoint_dir | None) -> None``: the CLI prints and keeps the checkpoint,
Tune and Ray Train persist it.

A run with a curriculum first trains each stage's own training set, up to the stage's number of
steps or until its training accuracy reaches ``until_acc``, then the main data for ``epochs``
epochs. With ``train.replay: r`` every phase after the first takes a share r of each batch from
the earlier stages' data (a mixed curriculum). Where each stage began is part of the training
state, so a resumed run continues exactly. Validation always uses the main data's held-out split:
the learning curve shows progress on the task that counts, stage after stage.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from axiomatic import metric_names
from axiomatic.data.axioms.blocking import node_targets
from axiomatic.data.packing import PackedBatch, packed_batches
from axiomatic.data.suites import task_of_suite
from axiomatic.data.tasks import yes_class
from axiomatic.data.store import Store
from axiomatic.errors import Diverged, UserError
from axiomatic.model.decoder import Decoder
from axiomatic.model.layout import Layout
from axiomatic.train import checkpoint
from axiomatic.train.batches import Phase, assemble, assemble_packed, epoch_batches, replayed
from axiomatic.train.checkpoint import TrainingState
from axiomatic.train.config import RunConfig, TrainConfig
from axiomatic.train.evaluate import evaluate
from axiomatic.train.run_data import RunData, load_data
from axiomatic.train.steps import batches_per_epoch, own_batch_rows, run_steps
from axiomatic.train.objective import answer_loss, next_token_loss, node_loss

Report = Callable[[dict, "Path | None"], None]


@dataclass
class Worker:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    wrap: Callable[[torch.nn.Module], torch.nn.Module] = lambda model: model


def resolve_device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for, but torch sees no CUDA device")
    return torch.device(choice)


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
    # On CUDA fused: the whole update in one kernel (not yet timed here: no GPU in the session
    # that wrote it). Elsewhere foreach: one batched kernel per update instead of a Python loop
    # over the parameters, which a CPU does not pick by default and which is a visible share of a
    # small model's step.
    fused = next(model.parameters()).is_cuda
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay,
                             **({"fused": True} if fused else {"foreach": True}))


REACH_THRESHOLDS = (0.75, 0.90)  # validation accuracies whose first step and second are reported


class Trainer:
    """One run's model, optimizer, data and position; :meth:`fit` trains to the end.

    One step is ``next_batch`` -> ``step`` -> ``advance``: the batch of the current position,
    an optimiser step on it (plus any replayed rows), then the position moved on.
    """

    def __init__(self, run: RunConfig, data: RunData, worker: Worker, resume_from: Path | None = None):
        self.run, self.cfg, self.data, self.worker = run, run.train, data, worker
        device = worker.device
        self.model = build_model(run, device)
        self.model.use_flex = self.cfg.flex_attention
        self.optimizer = build_optimizer(self.model, self.cfg)
        self.state = TrainingState()
        if resume_from is not None:
            self.state = checkpoint.restore(resume_from, self.model, self.optimizer)
        elif run.train.init_from is not None:
            checkpoint.load_weights(run.train.init_from, self.model)
        if self.state.stage is None:  # a checkpoint from before gated stages: every stage ran its steps
            self.state.stage = int(np.searchsorted(run.stage_ends, self.state.step, side="right"))
            self.state.stage_start = ([0] + run.stage_ends)[self.state.stage]
        self.autocast = self.cfg.precision == "bf16"
        wrapped = worker.wrap(self.model)
        self.forward = torch.compile(wrapped) if self.cfg.compile and device.type == "cuda" else wrapped
        # one Phase per curriculum stage, then the main training set last; each dataset says how
        # many of a premise's questions one training row holds (Dataset.questions_per_row)
        names = [f"curriculum.{k}.data" for k in range(len(data.stages))] + ["data"]
        if self.cfg.pack_length:
            rows = self.cfg.batch_tokens // self.cfg.pack_length // worker.world
            self.phases = [Phase(d, d.questions_per_row, device, rows, self.cfg.pack_length)
                           for d in [*data.stages, data.train]]
            self._check_packing(names, rows)
            self.steps_per_epoch = [phase.packing.rows // (rows * worker.world) for phase in self.phases]
        else:
            self.phases = [Phase(d, d.questions_per_row, device, own_batch_rows(self.cfg, k, worker.world))
                           for k, d in enumerate([*data.stages, data.train])]
            self.steps_per_epoch = [batches_per_epoch(len(phase), phase.batch_rows, worker.world)
                                    for phase in self.phases]
        for name, phase, per_epoch in zip(names, self.phases, self.steps_per_epoch):
            if per_epoch == 0:
                size = (f"train.batch_tokens={self.cfg.batch_tokens} exceeds the {phase.packing.rows} packed "
                        f"rows of {name}" if self.cfg.pack_length else
                        f"train.batch_size={self.cfg.batch_size} exceeds the {len(phase)} training rows of {name}")
                raise UserError(f"{size}; lower it or raise {name}.size")
        self._check_lengths(names)
        self.total_steps = run_steps(run, self.steps_per_epoch[-1])
        self._plan: tuple[tuple[int, int], list[np.ndarray] | list[PackedBatch]] | None = None
        self._recent: list[torch.Tensor] = []  # the ungated stage's latest step accuracies

    def _check_packing(self, phase_names: list[str], rows: int) -> None:
        """Refuse packing that cannot work: a training row longer than a packed row, or a
        batch of fewer packed rows than workers."""
        cfg = self.cfg
        for name, phase in zip(phase_names, self.phases):
            if phase.packing is None:
                longest = int(phase.lengths_np.max())
                raise UserError(f"train.pack_length={cfg.pack_length} is shorter than the longest training "
                                f"row of {name} ({longest} tokens); raise it to at least {longest}")
        if rows == 0:
            raise UserError(f"train.batch_tokens={cfg.batch_tokens} gives fewer rows of train.pack_length="
                            f"{cfg.pack_length} than the {self.worker.world} workers; raise it")

    def _check_lengths(self, phase_names: list[str]) -> None:
        """Refuse, before the first step, data the model cannot read: a Corr2Cause premise
        grows fast with its variables, and a row past max_len would fail mid-run."""
        limit = self.run.model.max_len
        named = {**dict(zip(phase_names, [*self.data.stages, self.data.train])), "validation split": self.data.val,
                 **{f"suite {name}": suite for name, suite in self.data.suites.items()}}
        for name, dataset in named.items():
            longest = int(dataset.lengths.max()) if len(dataset) else 0
            if longest > limit:
                raise UserError(f"{name}: rows of up to {longest} tokens exceed model.max_len={limit}; "
                                "raise model.max_len, or shorten the premises (corr2cause: data.premise: "
                                "minimal, or fewer data.nodes)")

    def batches(self, phase: Phase, epoch: int) -> list[np.ndarray] | list[PackedBatch]:
        if phase.packing is not None:
            return packed_batches(phase.packing, phase.lengths_np, phase.batch_rows, self.run.seed, epoch,
                                  self.worker.rank, self.worker.world)
        return epoch_batches(phase.lengths_np, phase.batch_rows, self.run.seed, epoch,
                             self.cfg.bucketing, self.worker.rank, self.worker.world)

    def _epoch_plan(self, k: int, epoch: int) -> list[np.ndarray] | list[PackedBatch]:
        if self._plan is None or self._plan[0] != (k, epoch):  # one permutation per epoch, not per step
            self._plan = ((k, epoch), self.batches(self.phases[k], epoch))
        return self._plan[1]

    @property
    def in_curriculum(self) -> bool:
        return self.state.stage < len(self.run.curriculum)

    def finished(self) -> bool:
        return self.state.step >= self.total_steps or (not self.in_curriculum
                                                       and self.state.epoch >= self.cfg.epochs)

    def next_batch(self) -> tuple[Phase, np.ndarray | PackedBatch]:
        """The phase being trained and its rows (or packed instances) for the current step."""
        k = self.state.stage
        if self.in_curriculum:
            # a stage longer than one pass over its data moves on to the next epoch's order
            local, per_epoch = self.state.step - self.state.stage_start, self.steps_per_epoch[k]
            return self.phases[k], self._epoch_plan(k, local // per_epoch)[local % per_epoch]
        return self.phases[k], self._epoch_plan(k, self.state.epoch)[self.state.step_in_epoch]

    def step(self, phase: Phase, idx: np.ndarray | PackedBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step on a phase's rows ``idx`` plus the rows replayed from earlier
        phases (or on its packed instances); returns (answer loss, accuracy on the phase's own
        questions) as 0-d tensors on the device."""
        if isinstance(idx, PackedBatch):
            batch = assemble_packed(phase, idx)
        else:
            k = self.phases.index(phase)
            extra = replayed(self.phases[:k], self.cfg.batch_size // self.worker.world - len(idx),
                             self.run.seed, self.state.step, self.worker.rank)
            batch = assemble([(phase, idx), *extra])
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.cfg, self.state.step, self.total_steps)
        aux, nodes = self.cfg.aux_loss > 0, self.cfg.node_loss > 0
        with torch.autocast(self.worker.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            if batch.layout is None and not (aux or nodes):
                answers, every = self.forward(batch.tokens, batch.lengths)[:, None], None
            else:
                answers, every = self.forward(batch.tokens, batch.lengths, layout=batch.layout,
                                              every_position=aux or nodes)
        loss, correct = answer_loss(answers, batch.labels)
        total = loss
        if aux:
            layout = batch.layout or Layout.plain(batch.lengths, batch.tokens.size(1))
            total = total + self.cfg.aux_loss * next_token_loss(every, batch.tokens, layout)
        if nodes:
            targets = node_targets(batch.tokens.cpu().numpy(), batch.lengths.cpu().numpy())
            count = int((targets >= 0).sum())
            total = total + self.cfg.node_loss * node_loss(
                every, torch.from_numpy(targets).to(every.device), count)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        own = batch.labels[: batch.own_rows] >= 0
        self.state.step += 1
        # left on the device: reading them here would make every step wait for the GPU
        return loss.detach(), (correct[: batch.own_rows].sum() / own.sum()).detach()

    def advance(self, accuracy: torch.Tensor) -> bool:
        """Move the position past the step just taken; True when a stage or a main epoch ended.
        Only a stage gated on accuracy reads the step's accuracy (a wait for the device)."""
        state = self.state
        if self.in_curriculum:
            stage = self.run.curriculum[state.stage]
            if stage.until_acc is not None:
                state.window = [*state.window, self._all_ranks_mean(float(accuracy))][-self.cfg.gate_window:]
            else:  # kept on the device: read once, when the stage ends
                self._recent = [*self._recent, accuracy][-self.cfg.gate_window:]
            learned = (stage.until_acc is not None and len(state.window) == self.cfg.gate_window
                       and float(np.mean(state.window)) >= stage.until_acc)
            if learned or state.step - state.stage_start >= stage.steps:
                state.stage_acc[stage_label(self.run, state.stage)] = self._stage_accuracy()
                state.stage, state.stage_start, state.window, self._recent = state.stage + 1, state.step, [], []
                return True
            return False
        state.step_in_epoch += 1
        if state.step_in_epoch == self.steps_per_epoch[-1]:
            state.epoch, state.step_in_epoch = state.epoch + 1, 0
            return True
        return False

    def _stage_accuracy(self) -> float:
        """The ending stage's training accuracy over its last gate_window steps (each measured
        before its update; fewer steps after a resume inside an ungated stage)."""
        if self.state.window:
            return float(np.mean(self.state.window))
        if not self._recent:
            return float("nan")
        return self._all_ranks_mean(float(torch.stack(self._recent).float().mean()))

    def _all_ranks_mean(self, value: float) -> float:
        # every rank must end a stage at the same step, so they judge the same number
        if self.worker.world == 1:
            return value
        total = torch.tensor([value], device=self.worker.device)
        torch.distributed.all_reduce(total)
        return float(total.item()) / self.worker.world

    def evaluation(self) -> dict[str, float]:
        device, size, packed = self.worker.device, self.cfg.eval_batch_size, self.cfg.pack_length
        val = evaluate(self.model, self.data.val, device, size, self.autocast, packed)
        metrics = {metric_names.VAL_ACC: val["acc"], metric_names.VAL_LOSS: val["loss"]}
        if yes_class(self.run.data.task):
            metrics[metric_names.VAL_F1] = val["f1"]
        for name, suite in self.data.suites.items():
            scored = evaluate(self.model, suite, device, size, self.autocast, packed)
            metrics[metric_names.suite_acc(name)] = scored["acc"]
            if yes_class(task_of_suite(name)):
                for measure in metric_names.YES_CLASS_MEASURES:
                    metrics[metric_names.suite_metric(name, measure)] = scored[measure]
        return metrics

    def fit(self, report: Report) -> dict:
        """Train until ``epochs`` or ``max_steps``, evaluating and reporting as configured."""
        seen, train_time = 0, 0.0
        self._clock = (time.perf_counter(), self.state.elapsed)
        self._trained_stage = self.state.stage
        if self.finished():
            # resumed from the final checkpoint (killed before its result was recorded): say it again
            return self._report(report, float("nan"), 0.0, finished=True)
        metrics: dict = {}
        losses: list[torch.Tensor] = []  # this evaluation period's, on the device
        while not self.finished():
            started = time.perf_counter()
            phase, idx = self.next_batch()
            self._trained_stage = self.state.stage
            loss, accuracy = self.step(phase, idx)
            boundary = self.advance(accuracy)
            losses.append(loss)
            # examples: training rows (a premise and its questions); a packed batch's vary
            seen += len(idx) * self.worker.world if isinstance(idx, PackedBatch) else self.cfg.batch_size
            due = self._evaluation_due(boundary) or self.finished()
            # the period's one read of the device, before the clock stops: the queued steps count as trained
            mean_loss = self._mean_loss(losses) if due else None
            train_time += time.perf_counter() - started
            if due:
                metrics = self._report(report, mean_loss, seen / max(train_time, 1e-9), self.finished())
                losses = []
        return metrics

    def _mean_loss(self, losses: list[torch.Tensor]) -> float:
        """The mean answer loss of the period's steps; a step whose loss was not finite ends the
        run (found here, at the evaluation after it, so that no step waits to be checked)."""
        values = torch.stack(losses).float().tolist()
        for offset, value in enumerate(values):
            if not math.isfinite(value):
                step = self.state.step - len(values) + offset + 1
                raise Diverged(f"diverged at step {step}: loss {value} (found at the evaluation of step "
                               f"{self.state.step})")
        return float(np.mean(values))

    def _evaluation_due(self, boundary: bool) -> bool:
        # With eval_every the cadence is the user's: epoch ends add no evaluations (on short epochs
        # they would outnumber the asked-for ones). A curriculum stage's end always evaluates: the
        # curve shows where each stage left the target task.
        if not self.cfg.eval_every:
            return boundary
        stage_ended = boundary and self._trained_stage != self.state.stage
        return stage_ended or self.state.step % self.cfg.eval_every == 0

    def _report(self, report: Report, mean_loss: float, examples_per_s: float, finished: bool) -> dict:
        # "finished" marks the last report of a complete run (a scheduler-stopped run never has it);
        # "stage" is the curriculum stage the last step trained (len(curriculum): the main data)
        started, before = self._clock
        self.state.elapsed = before + time.perf_counter() - started
        metrics = {"epoch": self.state.epoch, "step": self.state.step, "finished": int(finished),
                   "stage": self._trained_stage, "seconds": round(self.state.elapsed, 3),
                   metric_names.TRAIN_LOSS: mean_loss,
                   "examples_per_s": examples_per_s, **self.evaluation(),
                   **{metric_names.stage_acc(label): acc for label, acc in self.state.stage_acc.items()}}
        for threshold in REACH_THRESHOLDS:
            key = metric_names.threshold_name(threshold)
            if key not in self.state.reached and metrics[metric_names.VAL_ACC] >= threshold:
                self.state.reached[key] = [self.state.step, metrics["seconds"]]
            if key in self.state.reached:
                step, seconds = self.state.reached[key]
                metrics[metric_names.reach_step(key)] = step
                metrics[metric_names.reach_seconds(key)] = seconds
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


def stage_label(run: RunConfig, k: int) -> str:
    """How metrics name curriculum stage k: its name, else its index."""
    return run.curriculum[k].name or str(k)


def train_worker(run: RunConfig, report: Report, worker: Worker | None = None,
                 resume_from: Path | None = None, store: Store | None = None) -> dict:
    """This worker's part of a run: load data, build everything, and train; returns the last
    reported metrics."""
    worker = worker or Worker(device=resolve_device(run.train.device))
    data = load_data(run, store or Store())
    return Trainer(run, data, worker, resume_from).fit(report)
