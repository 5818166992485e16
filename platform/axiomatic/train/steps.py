"""How many optimiser steps a run takes: one computation, for the Trainer and for ``platform plan``.

Plain arithmetic on the run's config (no torch, no model), so a plan can count a cell's steps
without building anything.
"""

from __future__ import annotations

from axiomatic.data import tasks
from axiomatic.train.config import RunConfig, TrainConfig

NO_STEP_LIMIT = 10**12  # a run without max_steps ends with its epochs


def validation_rows(size: int, val_share: float) -> int:
    """Rows of a training set of ``size`` rows held out for validation (at least one)."""
    return max(1, round(val_share * size))


def own_batch_rows(train: TrainConfig, phase: int, world: int) -> int:
    """Rows a batch of phase ``phase`` takes from its own training set, on one worker: the first
    phase's batches are all its own; a later one leaves ``train.replay`` of each to earlier ones."""
    rows = train.batch_size // world
    return rows if phase == 0 else rows - round(train.replay * rows)


def batches_per_epoch(training_rows: int, batch_rows: int, world: int) -> int:
    """Full batches of one epoch (a last, partial one is dropped); the same on every worker."""
    return training_rows // (batch_rows * world)


def total_steps(run: RunConfig, training_rows: int, world: int = 1) -> int:
    """Optimiser steps of the run: its curriculum stages' (at most), then ``train.epochs`` epochs
    over the main data's ``training_rows`` training rows, capped by ``train.max_steps``."""
    main_phase = len(run.curriculum)  # one phase per stage, the main data last
    return run_steps(run, batches_per_epoch(training_rows, own_batch_rows(run.train, main_phase, world), world))


def run_steps(run: RunConfig, per_epoch: int) -> int:
    """Optimiser steps of the run when an epoch of the main data is ``per_epoch`` batches (for
    packed rows the Trainer counts those from the instances' lengths, which needs the data)."""
    return min(run.curriculum_steps + run.train.epochs * per_epoch, run.train.max_steps or NO_STEP_LIMIT)


def expected_training_rows(run: RunConfig) -> int:
    """The main data's training rows as its spec describes them, before any data exists: exact
    for one question per row unless rows leaked into a suite (those are dropped when the data is
    built); with k questions per row, premises split whole, so about a k-th of its rows."""
    size = run.data.size
    questions = size - validation_rows(size, run.train.val_share)
    return -(-questions // tasks.questions_per_row(run.data))
