"""``platform plan``: a study's cost before it runs (arms x seeds, steps, resources, time, disk),
and the check ``platform study`` shares with it: every cell's training data can be built."""

from __future__ import annotations

import os
import time

from rich.table import Table

from axiomatic.cli.common import DATA_DIRS, JSON_OUTPUT, console, data_store, emit_json


def add_commands(commands) -> None:
    plan = commands.add_parser("plan", help="dry run: arms x seeds, resources, time and disk estimates",
                               parents=[JSON_OUTPUT, *DATA_DIRS])
    plan.add_argument("file")
    plan.add_argument("--no-calibrate", action="store_true", help="skip the timing of a few training steps")
    plan.set_defaults(handler=_plan)


def _plan(args) -> int:
    from axiomatic.study import arm_count, grid_arms, load_study

    store = data_store(args)
    spec = load_study(args.file, store.published)
    arms = grid_arms(spec) if spec.search.algorithm == "grid" else None
    n_arms = arm_count(spec)
    cells = n_arms * len(spec.seeds)
    slots = _local_slots(spec)
    runs = _planned_runs(spec)
    first = runs[0]
    # arms may differ in steps (a curriculum stage picked or not, epochs, data size): the wall
    # estimate takes their mean, the table their range
    each = [_steps(run, store) for run in runs]
    steps = round(sum(each) / len(each))
    params = _parameter_count(first)
    skipped = ("--no-calibrate" if args.no_calibrate else _calibration_impossible(spec, first))
    step_seconds = None if skipped else _calibrate(first, store)
    per_cell = steps * step_seconds if step_seconds else None
    wall = per_cell * -(-cells // slots) if per_cell and slots else None
    disk = cells * params * 4 * 3 * 2  # two checkpoints per cell (latest, previous): weights + AdamW moments
    plan = {"study": spec.name, "algorithm": spec.search.algorithm, "arms": n_arms,
            "arm_names": [spec.arm_name(a) for a in arms] if arms else None, "seeds": list(spec.seeds),
            "cells": cells, "resources_per_cell": spec.resources.model_dump(), "concurrency": slots,
            "scheduler": spec.scheduler.type, "steps_per_cell": steps,
            "steps_per_cell_range": [min(each), max(each)], "parameters": params,
            "seconds_per_step": step_seconds, "estimated_seconds_per_cell": per_cell,
            "estimated_wall_seconds": wall, "calibrated_on": _device(first) if step_seconds else None,
            "calibration_skipped": skipped,
            "checkpoint_disk_bytes": disk}
    if args.json:
        emit_json(plan)
        return 0
    _print_plan(plan)
    return 0


def _planned_runs(spec) -> list:
    """The run of every grid arm, else of the representative arm, at the first seed."""
    from axiomatic.study import grid_arms

    arms = grid_arms(spec) if spec.search.algorithm == "grid" else [spec.representative_arm()]
    return [spec.run_config(arm, spec.seeds[0]) for arm in arms]


def check_cells_train(spec, store) -> None:
    """Refuse, as the plan does, a study whose cells cannot train (e.g. a train.pack_length
    shorter than a training row): else every cell would fail and the study exit 0."""
    for run in _planned_runs(spec):
        _steps(run, store)


def _steps(run, store) -> int:
    """A cell's optimiser steps. From the config alone, except with packed rows, whose batches
    per epoch depend on the instances' lengths: then the Trainer's own count on the run's data,
    built here as the cell will build it (and cached for it). An impossible packing stops the
    plan with the Trainer's message."""
    from axiomatic.train import Trainer, Worker, expected_training_rows, load_data, total_steps

    if not run.train.pack_length:
        return total_steps(run, expected_training_rows(run))
    return Trainer(run, load_data(run, store), Worker()).total_steps


def _parameter_count(run) -> int:
    from axiomatic.model import Decoder

    return Decoder(run.model).num_parameters()


def _device(run) -> str:
    from axiomatic.train import resolve_device

    return str(resolve_device(run.train.device))


def _calibration_impossible(spec, run) -> str | None:
    """Why this machine cannot time a cell's steps, or None: a cell that trains on a GPU is not
    timed on a CPU (a 38M-parameter model at batch 512 would take minutes to say nothing)."""
    import torch

    wants_gpu = spec.resources.gpu > 0 or run.train.device == "cuda"
    if wants_gpu and not torch.cuda.is_available():
        return "its cells train on a GPU and this machine has none"
    return None


CALIBRATION_SECONDS = 10.0  # the timed steps stop here; one slow step is then the estimate


def _calibrate(run, store, steps: int = 5) -> float:
    """Seconds per optimiser step of this cell's model at its batch size, on this machine,
    from at most ``steps`` steps after a warm-up step, within CALIBRATION_SECONDS."""
    import dataclasses

    from axiomatic.train import Trainer, Worker, load_data, resolve_device

    size = max(run.train.batch_size * 2 * (steps + 1), 2000)
    if run.data.size is not None:  # never more than the run's own (a corr2cause split is finite)
        size = min(size, run.data.size)
    if run.train.pack_length:  # a packed batch takes rows by tokens: the run's own data, as the plan built it
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
        if warm_up + time.perf_counter() - started > CALIBRATION_SECONDS:
            break
        float(trainer.step(phase, idx)[0])  # read, so the step is timed to its end on a GPU too
        timed += 1
    return (time.perf_counter() - started) / timed if timed else warm_up


def _local_slots(spec) -> int:
    import torch

    per = spec.resources
    slots = [(os.cpu_count() or 1) // max(per.cpu * per.workers, 1e-9)]
    if per.gpu:
        slots.append(torch.cuda.device_count() // (per.gpu * per.workers))
    fit = int(min(slots))  # 0: this machine cannot run a cell (e.g. it has no GPU)
    return min(fit, spec.search.max_concurrent or fit)


def _print_plan(plan: dict) -> None:
    table = Table(title=f"plan: {plan['study']}", show_header=False)
    table.add_row("search", f"{plan['algorithm']}, scheduler {plan['scheduler']}")
    arms = f"{plan['arms']}"
    if plan["arm_names"]:
        arms += ": " + ", ".join(plan["arm_names"])
    table.add_row("arms", arms)
    table.add_row("seeds", ", ".join(map(str, plan["seeds"])))
    table.add_row("cells (arms x seeds)", str(plan["cells"]))
    r = plan["resources_per_cell"]
    table.add_row("resources per cell", f"{r['workers']} worker(s) x cpu {r['cpu']}, gpu {r['gpu']}")
    table.add_row("concurrency here", str(plan["concurrency"]) if plan["concurrency"]
                  else "0: this machine lacks the resources of one cell (run it on a cluster)")
    low, high = plan["steps_per_cell_range"]
    spread = f" (arms: {low:,} to {high:,})" if low != high else ""
    table.add_row("model", f"{plan['parameters']:,} parameters, {plan['steps_per_cell']:,} steps per cell{spread}")
    if plan["calibration_skipped"]:
        table.add_row("calibration", f"none: {plan['calibration_skipped']}")
    if plan["seconds_per_step"]:
        table.add_row("calibration", f"{plan['seconds_per_step'] * 1000:.1f} ms/step on {plan['calibrated_on']}")
        wall = (f"{plan['estimated_wall_seconds'] / 3600:.2f} h wall here (training only)"
                if plan["estimated_wall_seconds"] else "no wall time here")
        table.add_row("estimated time", f"{plan['estimated_seconds_per_cell'] / 60:.1f} min per cell, {wall}")
    table.add_row("checkpoint disk", f"{plan['checkpoint_disk_bytes'] / 2**20:.1f} MiB (latest two per cell)")
    console.print(table)
