"""Per-trial scheduling overhead of a study: wall time minus the trials' own work, per trial.

Runs a grid study of N trivially short cells (a 1-layer, 16-wide model on 64 rows, one epoch)
through the real runner (embedded Ray, Tune, the Optuna storage, the ledger), one cell at a
time, and in the same process times the identical training runs called directly. The
difference, less Ray's one-off start-up, divided by N, is what the platform costs per trial.
Then the same for Ray Train cells (2 DDP workers each), with fewer cells.

    .venv/bin/python bench/study_overhead.py [--cells 20] [--train-cells 3] [--append docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import os
import platform as stdlib_platform
import sys
import tempfile
import time
from pathlib import Path

import ray
from publish import emit  # bench/publish.py: the script's folder is on sys.path

from axiomatic import Study
from axiomatic.ray_session import ray_session
from axiomatic.study import grid_arms
from axiomatic.train import train_worker


def study(cells: int, workers: int) -> dict:
    return {
        "name": f"overhead-w{workers}",
        "data": {"preset": "TS2", "size": 64, "chain_lengths": [3, 3]},
        "model": {"preset": "tiny", "n_layer": 1, "d_model": 16, "n_head": 2, "d_mlp": 32,
                  "dropout": 0.0},
        "train": {"lr": {"grid": [round(1e-3 * (1 + i / cells), 6) for i in range(cells)]},
                  "batch_size": 16, "epochs": 1, "device": "cpu", "val_share": 0.25},
        "seeds": [0],
        "search": {"algorithm": "grid", "max_concurrent": 1},
        "objective": {"metric": "val/acc", "mode": "max"},
        "resources": {"cpu": 1, "gpu": 0, "workers": workers},
    }


def direct_work(spec) -> float:
    """Seconds the same cells take when trained directly, one after another."""
    started = time.perf_counter()
    for arm in grid_arms(spec):
        train_worker(spec.run_config(arm, spec.seeds[0]), lambda metrics, checkpoint: None)
    return time.perf_counter() - started


def measure(cells: int, workers: int, root: Path) -> dict:
    run = Study.open(study(cells, workers), runs_dir=root)
    work = direct_work(run.spec) if workers == 1 else None
    started = time.perf_counter()
    with ray_session(num_cpus=2, log_to_driver=False):
        ray_start = time.perf_counter() - started
        run.run()
    wall = time.perf_counter() - started
    finished = sum(c.finished for c in run.ledger.cells())
    out = {"cells": cells, "finished": finished, "workers": workers, "wall_s": wall,
           "ray_start_s": ray_start, "direct_work_s": work}
    if work is not None:
        out["overhead_per_trial_s"] = (wall - ray_start - work) / cells
    else:
        out["seconds_per_trial_s"] = (wall - ray_start) / cells
    return out


def markdown(results: list[dict]) -> str:
    lines = [
        f"## Study overhead ({time.strftime('%Y-%m-%d')})",
        "",
        f"Command: `.venv/bin/python bench/study_overhead.py {' '.join(sys.argv[1:])}`  ",
        f"Machine: {stdlib_platform.processor() or stdlib_platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {stdlib_platform.python_version()}, Ray {ray.__version__}; shared machine, noisy.",
        "",
        "| cells | workers per cell | wall (s) | Ray start (s) | same work run directly (s) | per trial (s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        per = r.get("overhead_per_trial_s", r.get("seconds_per_trial_s"))
        direct = f"{r['direct_work_s']:.1f}" if r["direct_work_s"] is not None else "–"
        label = "overhead" if "overhead_per_trial_s" in r else "whole trial"
        lines.append(f"| {r['finished']}/{r['cells']} | {r['workers']} | {r['wall_s']:.1f} | "
                     f"{r['ray_start_s']:.1f} | {direct} | {per:.2f} ({label}) |")
    lines += ["", "In-process cells: per-trial overhead = (wall - Ray start - direct work) / cells; goal <= 2 s.",
              "Ray Train cells: the whole trial (a 2-worker TorchTrainer start-up dominates its tiny work).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--train-cells", type=int, default=3)
    parser.add_argument("--append", help="append the Markdown block to this file")
    args = parser.parse_args()
    os.environ.setdefault("AXIOMATIC_CACHE", tempfile.mkdtemp(prefix="axiomatic-bench-cache-"))
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(args.cells, 1, Path(tmp))]
        if args.train_cells:
            results.append(measure(args.train_cells, 2, Path(tmp)))
    emit(markdown(results), args.append)


if __name__ == "__main__":
    main()
