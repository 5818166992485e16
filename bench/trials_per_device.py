"""Several small trials on one device at once: the aggregate speed of 1, 2 and 4 concurrent cells.

Runs one study of the CPU recipe's model (configs/cpu_small.yaml: one arm, --cells seeds, --steps
steps each, no suites) through the real runner once per concurrency k, with
`search.max_concurrent: k` and each cell holding 1/k of the device: `resources.gpu: 1/k` on a GPU,
`resources.cpu: C/k` of the C CPUs Ray is given on a CPU (--tiny). Each study's wall time runs from
the runner's start to its last cell's end, in a Ray session started once beforehand, with the
dataset generated once beforehand too, so the studies differ only in how many cells share the
device. The figure of merit is cells per minute, and the speed-up is that against k = 1 in the
same run (the machine's noise hits all alike; the wall includes Tune's own start, the same for
every k).

    .venv/bin/python bench/trials_per_device.py [--cells 8] [--steps 600] [--concurrent 1 2 4]
                                                [--rows 20000] [--json] [--append FILE] [--out DIR]
    .venv/bin/python bench/trials_per_device.py --tiny      # a CPU: 2 cells, 5 steps, 1 and 2 at once
"""

from __future__ import annotations

import argparse
import os
import platform as stdlib_platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from publish import add_output_options, publish  # bench/publish.py: this folder is on sys.path

from axiomatic import Study
from axiomatic.data.store import Store
from axiomatic.ray_session import ray_session
from axiomatic.study import grid_arms, validate_study
from axiomatic.train import load_data, load_yaml

REPO = Path(__file__).resolve().parents[1]


def study(concurrent: int, cells: int, steps: int, rows: int, cpus: int, gpu: bool) -> dict:
    """The study at concurrency ``concurrent``: each cell 1/concurrent of the device."""
    base = load_yaml(REPO / "configs" / "cpu_small.yaml")
    share = round(1 / concurrent, 6)
    return {
        "name": f"trials-per-device-{concurrent}",
        "data": {**base["data"], "size": rows},
        "model": base["model"],
        "train": {**base["train"], "max_steps": steps, "eval_every": steps,
                  "device": "cuda" if gpu else "cpu"},
        "seeds": list(range(cells)),
        "search": {"algorithm": "grid", "max_concurrent": concurrent},
        "resources": ({"cpu": max(1, cpus // 4), "gpu": share} if gpu
                      else {"cpu": round(cpus / concurrent, 6), "gpu": 0}),
    }


def measure(concurrent: int, cells: int, steps: int, rows: int, cpus: int, gpu: bool, root: Path,
            store: Store) -> dict:
    run = Study.open(study(concurrent, cells, steps, rows, cpus, gpu), runs_dir=root, store=store)
    spec, ledger = run.spec, run.ledger
    started = time.perf_counter()
    run.run()
    wall = time.perf_counter() - started
    done = ledger.cells()
    finished = sum(c.finished for c in done)
    if finished != cells:
        errors = sorted({c.error for c in done if c.error})
        raise SystemExit(f"{spec.name}: {finished} of {cells} cells finished; errors: {errors}")
    per_cell = [ledger.history(c.id)[-1]["seconds"] for c in done]
    return {"concurrent": concurrent, "resources": spec.resources.model_dump(exclude={"custom", "workers"}),
            "cells": cells, "seconds": wall, "cells_per_minute": 60 * cells / wall,
            "cell_seconds_mean": sum(per_cell) / len(per_cell)}


def markdown(result: dict, command: str) -> str:
    lines = [f"## Several trials on one device: {result['device']} ({time.strftime('%Y-%m-%d')})", "",
             f"Command: `{command}`  ",
             f"{result['cells']} cells of the CPU recipe's model ({result['steps']} steps each, "
             f"{result['data_rows']:,} generated rows, no suites), one study per concurrency in one Ray session "
             f"({result['ray_cpus']} CPUs, {result['ray_gpus']} GPUs); torch {result['torch']}.", "",
             "| cells at once | each cell holds | wall (s) | cells/min | speed-up | one cell's own seconds (mean) |",
             "|---:|---|---:|---:|---:|---:|"]
    for row in result["rows"]:
        held = ", ".join(f"{k} {v:g}" for k, v in row["resources"].items() if v)
        lines.append(f"| {row['concurrent']} | {held} | {row['seconds']:.1f} | {row['cells_per_minute']:.2f} | "
                     f"{row['speedup']:.2f}x | {row['cell_seconds_mean']:.1f} |")
    return "\n".join(lines + ["", "Speed-up: cells/min against one cell at a time, same run. A cell's own "
                              "seconds are its training and evaluation time as it reports them."]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=8, help="cells of each study (seeds of one arm)")
    parser.add_argument("--steps", type=int, default=600, help="training steps of each cell")
    parser.add_argument("--rows", type=int, default=20000, help="generated training rows")
    parser.add_argument("--concurrent", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--tiny", action="store_true", help="a quick CPU run: 2 cells, 5 steps, 1 and 2 at once")
    add_output_options(parser, "trials_per_device")
    args = parser.parse_args()
    if args.tiny:
        args.cells, args.steps, args.rows, args.concurrent = 2, 5, 2000, [1, 2]
    gpu = torch.cuda.is_available()
    cpus = os.cpu_count() or 2
    os.environ.setdefault("AXIOMATIC_CACHE", tempfile.mkdtemp(prefix="axiomatic-bench-cache-"))
    store = Store()
    first = validate_study(study(1, args.cells, args.steps, args.rows, cpus, gpu), "bench")
    load_data(first.run_config(grid_arms(first)[0], first.seeds[0]), store)  # generated once, not timed
    with tempfile.TemporaryDirectory() as tmp, ray_session(num_cpus=cpus, num_gpus=int(gpu), log_to_driver=False):
        rows = [measure(k, args.cells, args.steps, args.rows, cpus, gpu, Path(tmp), store) for k in args.concurrent]
    for row in rows:
        row["speedup"] = row["cells_per_minute"] / rows[0]["cells_per_minute"]
    device = torch.cuda.get_device_name(0) if gpu else (
        f"CPU ({stdlib_platform.processor() or stdlib_platform.machine()}, {cpus} cores)")
    result = {"device": device, "torch": torch.__version__, "cells": args.cells, "steps": args.steps,
              "data_rows": args.rows, "ray_cpus": cpus, "ray_gpus": int(gpu), "rows": rows}
    text = markdown(result, " ".join(["bench/trials_per_device.py", *sys.argv[1:]]))
    publish(result, text, args, "trials_per_device")


if __name__ == "__main__":
    main()
