"""The paper's evaluation table in one call: train ``configs/gpu_reproduce.yaml`` (the paper model,
NoPE, on TS2, with the learning levers) inside a wall-clock budget, score every transitivity suite
and published file, and write the table beside the paper's numbers and the shortcut baselines.

    bash bench/gpu_reproduce.sh OUTDIR [--tiny] [--minutes M]

The budget (default 9 minutes for the whole script) sets ``train.max_steps``: after loading the
data, a throwaway trainer is timed for a few steps (compilation included in its warm-up), and the
run gets the steps that fit in what is left, keeping a reserve for evaluation. ``--tiny`` runs the
same path on a CPU with a 2-layer model, 4,000 rows and six suites in about a minute: a test that
the script works, not a measurement.

Writes OUTDIR/reproduce.json and OUTDIR/reproduce.md, and prints the Markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform  # the standard library's: the repository's platform/ is not a package
import sys
import time
from pathlib import Path

import torch

from axiomatic.data import Store, select_references, suites
from axiomatic.metric_names import TRAIN_LOSS, VAL_ACC
from axiomatic.model import num_parameters
from axiomatic.report import rendering, tables
from axiomatic.study import aggregate_arms
from axiomatic.train import Trainer, Worker, build_run, load_data, load_yaml, resolve_device

RUN_FILE = Path(__file__).resolve().parents[1] / "configs" / "gpu_reproduce.yaml"
REFERENCES = ("paper TS2 NoPE", "paper TS2 LPE", "paper TS2 SPE", "paper axiomatic model")
EVALUATION_SHARE = 0.25  # of the budget left after timing, kept for evaluations and checkpoints
TINY = {
    "data": {"size": 4000},
    "model": {"preset": "tiny", "n_layer": 2},
    "train": {"batch_size": 32, "lr": 2.0e-3, "warmup_steps": 20, "precision": "fp32",
              "eval_every": 60, "device": "cpu", "val_share": 0.1},
    "suites": ["standard_chain/len=7", "flipped_chain/len=7", "reversed_chain/len=3",
               "branching_bf1.4/n=5", "published/transitivity/standard_chain/len=7",
               "published/transitivity/reversed_chain/len=3"],
}


def run_config(tiny: bool):
    sections = load_yaml(RUN_FILE)
    if tiny:
        sections = {**sections, **{key: ({**sections[key], **value} if isinstance(value, dict) else value)
                                   for key, value in TINY.items()}}
    run = build_run(sections, str(RUN_FILE))
    available = set(suites.all_names(Store().published))
    names = [name for name in suites.expand(list(run.suites)) if name in available]
    return dataclasses.replace(run, suites=tuple(names))


def steps_per_second(run, data, device: torch.device, warmup: int, timed: int) -> float:
    """The real Trainer's step rate on this run, after ``warmup`` steps (compilation, shapes)."""
    trainer = Trainer(run, data, Worker(device=device))
    for count in range(warmup + timed):
        if count == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            started = time.perf_counter()
        trainer.advance(trainer.step(*trainer.next_batch())[1])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return timed / (time.perf_counter() - started)


def reproduce(tiny: bool, minutes: float) -> dict:
    started = time.perf_counter()
    run = run_config(tiny)
    device = resolve_device(run.train.device)
    store = Store()
    data = load_data(run, store)
    rate = steps_per_second(run, data, device, warmup=5 if tiny else 30, timed=10 if tiny else 40)
    left = minutes * 60 - (time.perf_counter() - started)
    steps = max(50, int(rate * left * (1 - EVALUATION_SHARE)))
    # four evaluations, the last one at the last step
    train = run.train.model_copy(update={"max_steps": steps, "eval_every": -(-steps // 4)})
    run = dataclasses.replace(run, train=train)
    history = []
    trainer = Trainer(run, data, Worker(device=device))
    trainer.fit(lambda metrics, _: history.append(metrics))
    final = history[-1]
    record = {"arm": f"this run (pe={run.model.pe})", "params": {}, "seed": run.seed, "status": "done",
              "metrics": final, "history": history}
    baselines = {name: store.suite(name)[1]["baselines"] for name in run.suites}
    table = tables.build_table(aggregate_arms([record]), baselines, select_references(REFERENCES),
                               list(run.suites))
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": os.environ.get("GPU_REPRODUCE_COMMAND") or " ".join(["python", *sys.argv]),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"CPU ({platform.machine()}, {torch.get_num_threads()} torch thread(s))",
            "torch": torch.__version__, "tiny": tiny, "budget_s": minutes * 60,
            "steps_per_s": rate, "steps": trainer.state.step, "parameters": num_parameters(trainer.model),
            "run": run.to_dict(), "curve": [{k: m[k] for k in ("step", "seconds", TRAIN_LOSS, VAL_ACC)}
                                            for m in history],
            "final": final, "total_s": time.perf_counter() - started,
            "published_found": any(name.startswith("published/") for name in run.suites),
            "_table": table}


def markdown(result: dict) -> str:
    final = result["final"]
    lines = [f"#### GPU reproduction{' (tiny, CPU)' if result['tiny'] else ''}, {result['date']}", "",
             f"Command: `{result['command']}`  ",
             f"Device: {result['device']}; torch {result['torch']}. Run file `configs/gpu_reproduce.yaml`"
             + (" with the `--tiny` overrides (a smoke test, not a measurement)" if result["tiny"] else "")
             + f"; {result['parameters']:,} parameters.  ",
             f"Budget {result['budget_s']:.0f} s; measured {result['steps_per_s']:.2f} steps/s; trained "
             f"{result['steps']:,} steps; the whole script took {result['total_s']:.0f} s. Final validation "
             f"accuracy {final[VAL_ACC]:.3f}, train loss {final[TRAIN_LOSS]:.3f}.", ""]
    if not result["published_found"]:
        lines += ["Published files not found (set AXIOMATIC_PUBLISHED_DIR): generated suites only.", ""]
    lines += ["| step | seconds | train loss | val acc |", "|---:|---:|---:|---:|"]
    lines += [f"| {p['step']:,} | {p['seconds']:.0f} | {p[TRAIN_LOSS]:.3f} | {p[VAL_ACC]:.3f} |"
              for p in result["curve"]]
    lines += ["", rendering.to_markdown(result["_table"]),
              "Reference rows: v1 of the paper, unverified transcriptions (axiomatic.data.references). "
              "Departures from the paper's recipe: the levers in the run file's header."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--tiny", action="store_true", help="the same path on a CPU, tiny model")
    parser.add_argument("--minutes", type=float, help="budget for the whole script (default 9; 1 with --tiny)")
    args = parser.parse_args(argv)
    minutes = args.minutes if args.minutes is not None else (1.0 if args.tiny else 9.0)
    result = reproduce(args.tiny, minutes)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(result)
    (out / "reproduce.md").write_text(text)
    (out / "reproduce.json").write_text(json.dumps({k: v for k, v in result.items() if k != "_table"},
                                                   indent=2, default=str) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
