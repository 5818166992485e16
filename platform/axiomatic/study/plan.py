"""A study's cost before it runs: arms x seeds, steps per cell, resources, time and disk; and the
check a run shares with it, that every cell's training data can be built.

Steps are counted over every arm of a grid (a tpe/random study: its representative arm); the wall
estimate takes their mean, the plan shows their range. The time per step is measured on this
machine on the first arm (``train.dry_run``), unless its cells train on a GPU this machine lacks.
"""

from __future__ import annotations

import os

from axiomatic.data.store import Store
from axiomatic.study.space import arm_count, grid_arms
from axiomatic.study.spec import StudySpec
from axiomatic.train.config import RunConfig


def planned_runs(spec: StudySpec) -> list[RunConfig]:
    """The run of every grid arm, else of the representative arm, at the first seed."""
    arms = grid_arms(spec) if spec.search.algorithm == "grid" else [spec.representative_arm()]
    return [spec.run_config(arm, spec.seeds[0]) for arm in arms]


def check_cells_train(spec: StudySpec, store: Store) -> None:
    """Refuse, as the plan does, a study whose cells cannot train (e.g. a train.pack_length
    shorter than a training row): else every cell would fail and the study end as if it had run."""
    from axiomatic.train.dry_run import planned_steps  # imports torch

    for run in planned_runs(spec):
        planned_steps(run, store)


def plan(spec: StudySpec, store: Store, calibrate: bool = True) -> dict:
    """The plan as one JSON-ready object (what ``platform plan --json`` prints). ``calibrate``
    False skips timing steps on this machine (then no time estimate)."""
    from axiomatic.model import Decoder
    from axiomatic.train.dry_run import planned_steps, seconds_per_step

    arms = grid_arms(spec) if spec.search.algorithm == "grid" else None
    n_arms = arm_count(spec)
    cells = n_arms * len(spec.seeds)
    slots = local_slots(spec)
    runs = planned_runs(spec)
    first = runs[0]
    each = [planned_steps(run, store) for run in runs]
    steps = round(sum(each) / len(each))
    params = Decoder(first.model).num_parameters()
    skipped = "--no-calibrate" if not calibrate else calibration_impossible(spec, first)
    step_seconds = None if skipped else seconds_per_step(first, store)
    per_cell = steps * step_seconds if step_seconds else None
    wall = per_cell * -(-cells // slots) if per_cell and slots else None
    return {"study": spec.name, "algorithm": spec.search.algorithm, "arms": n_arms,
            "arm_names": [spec.arm_name(a) for a in arms] if arms else None, "seeds": list(spec.seeds),
            "cells": cells, "resources_per_cell": spec.resources.model_dump(), "concurrency": slots,
            "scheduler": spec.scheduler.type, "steps_per_cell": steps,
            "steps_per_cell_range": [min(each), max(each)], "parameters": params,
            "seconds_per_step": step_seconds, "estimated_seconds_per_cell": per_cell,
            "estimated_wall_seconds": wall, "calibrated_on": _device(first) if step_seconds else None,
            "calibration_skipped": skipped,
            # two checkpoints per cell (latest, previous): weights + AdamW moments, float32
            "checkpoint_disk_bytes": cells * params * 4 * 3 * 2}


def _device(run: RunConfig) -> str:
    from axiomatic.train import resolve_device

    return str(resolve_device(run.train.device))


def calibration_impossible(spec: StudySpec, run: RunConfig) -> str | None:
    """Why this machine cannot time a cell's steps, or None: a cell that trains on a GPU is not
    timed on a CPU (a 38M-parameter model at batch 512 would take minutes to say nothing)."""
    import torch

    wants_gpu = spec.resources.gpu > 0 or run.train.device == "cuda"
    if wants_gpu and not torch.cuda.is_available():
        return "its cells train on a GPU and this machine has none"
    return None


def local_slots(spec: StudySpec) -> int:
    """How many cells this machine runs at once (0: it lacks the resources of one)."""
    import torch

    per = spec.resources
    slots = [(os.cpu_count() or 1) // max(per.cpu * per.workers, 1e-9)]
    if per.gpu:
        slots.append(torch.cuda.device_count() // (per.gpu * per.workers))
    fit = int(min(slots))
    return min(fit, spec.search.max_concurrent or fit)
