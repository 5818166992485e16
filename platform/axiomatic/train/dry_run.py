"""What a run will cost, found without running it: its optimiser steps, and the seconds one step
takes on this machine (a few real steps of its model at its batch size). ``platform plan`` and
``Study.plan()`` ask here, so nothing above the training layer reaches into the Trainer."""

from __future__ import annotations

import dataclasses
import time

from axiomatic.data.store import Store
from axiomatic.train.config import RunConfig
from axiomatic.train.loop import Trainer, Worker, resolve_device
from axiomatic.train.run_data import load_data
from axiomatic.train.steps import expected_training_rows, total_steps

TIMING_SECONDS = 10.0  # the timed steps stop here; one slow step is then the estimate


def planned_steps(run: RunConfig, store: Store) -> int:
    """A run's optimiser steps. From the config alone, except with packed rows, whose batches per
    epoch depend on the instances' lengths: then the Trainer's own count on the run's data, built
    here as the run will build it (and cached for it). An impossible packing raises the Trainer's
    error."""
    if not run.train.pack_length:
        return total_steps(run, expected_training_rows(run))
    return Trainer(run, load_data(run, store), Worker()).total_steps


def seconds_per_step(run: RunConfig, store: Store, steps: int = 5) -> float:
    """Seconds per optimiser step of this run's model at its batch size, on this machine, from at
    most ``steps`` steps after a warm-up step, within TIMING_SECONDS."""
    size = max(run.train.batch_size * 2 * (steps + 1), 2000)
    if run.data.size is not None:  # never more than the run's own (a corr2cause split is finite)
        size = min(size, run.data.size)
    if run.train.pack_length:  # a packed batch takes rows by tokens: the run's own data, as planned
        size = run.data.size
    small = dataclasses.replace(run, suites=(), curriculum=(), data=run.data.model_copy(update={"size": size}))
    trainer = Trainer(small, load_data(small, store), Worker(device=resolve_device(run.train.device)))
    phase = trainer.phases[-1]
    batches = trainer.batches(phase, 0)
    started = time.perf_counter()
    float(trainer.step(phase, batches[0])[0])  # warm-up: allocation, kernel selection
    warm_up = time.perf_counter() - started
    started, timed = time.perf_counter(), 0
    for idx in batches[1 : steps + 1]:
        if warm_up + time.perf_counter() - started > TIMING_SECONDS:
            break
        float(trainer.step(phase, idx)[0])  # read, so the step is timed to its end on a GPU too
        timed += 1
    return (time.perf_counter() - started) / timed if timed else warm_up
