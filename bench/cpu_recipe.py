"""The CPU recipe's learning curve: wall time to >= 0.90 validation accuracy, and the suites.

Trains a run file (default ``configs/cpu_small.yaml``) in this process exactly as
``platform train`` does, and writes a Markdown block: the curve (every evaluation: step, stage,
seconds, loss, validation accuracy, mean of the training-length suites), the first evaluation at
or above the target, and the final accuracy of every suite beside its two shortcut baselines.
``--no-curriculum`` trains the same file with the curriculum removed and the same number of steps
on the target data: the control that shows what the curriculum buys. ``--seed N`` replaces the
run's seed and its data seed (the stages follow the data seed): another draw of the same recipe,
to see how far apart two runs land. ``--stop-after N`` ends the run at its first evaluation at or
after step N and ``--eval-every K`` evaluates more often: together they screen the early stages
of many draws cheaply (has the 2-node stage left the plateau?). At the end the final model is
also scored on two fresh draws of the target (rows of the main training set removed), one with
every premise in chain order and one with every premise in random order, so a run whose data
shuffles a share of its premises (and hence its validation split) can be read against one that
does not.

    .venv/bin/python bench/cpu_recipe.py [RUN.yaml] [--seed N] [--no-curriculum] [--append FILE]
                                         [--stop-after N] [--eval-every K]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform as stdlib_platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from publish import emit  # bench/publish.py: the script's folder is on sys.path

from axiomatic.data import Store, generate, suites
from axiomatic.metric_names import TRAIN_LOSS, VAL_ACC, suite_acc, suite_of
from axiomatic.model import Decoder
from axiomatic.train import RunConfig, build_run, checkpoint, evaluate, launch, load_yaml, without_rows_of

TARGET = 0.90
TRAINING_LENGTH = ("reversed_chain/len=", "shuffled_chain/len=")  # chains of 3–6 nodes
ORDERS = {"chain order": 0.0, "random order": 1.0}  # premise orders of the final check, as shuffle_share


def training_length(name: str) -> bool:
    return name.startswith(TRAINING_LENGTH) and int(name.split("=")[1]) <= 6


class Stopped(Exception):
    """Raised from the report at ``--stop-after``: the checkpoint of that evaluation is kept."""


def run(path: str, curriculum: bool, seed: int | None, stop_after: int | None = None,
        eval_every: int | None = None) -> dict:
    sections = load_yaml(path)
    if seed is not None:
        sections = {**sections, "seed": seed, "data": {**sections.get("data", {}), "seed": seed}}
    run_cfg = build_run(sections, path)
    run_cfg = dataclasses.replace(run_cfg, suites=tuple(suites.expand(list(run_cfg.suites))))
    if not curriculum:
        # the control: the same steps, all on the target data
        train = run_cfg.train.model_copy(update={"epochs": 10_000})
        run_cfg = dataclasses.replace(run_cfg, curriculum=(), train=train)
    if eval_every:
        train = run_cfg.train.model_copy(update={"eval_every": eval_every})
        run_cfg = dataclasses.replace(run_cfg, train=train)
    curve, started = [], time.perf_counter()

    def report(metrics: dict, _checkpoint) -> None:
        scores = [v for k, v in metrics.items()
                  if (suite := suite_of(k)) is not None and training_length(suite)]
        stage = metrics["stage"]
        curve.append({"step": metrics["step"], "stage": stage, "seconds": time.perf_counter() - started,
                      "loss": metrics[TRAIN_LOSS], "val": metrics[VAL_ACC],
                      "suites": float(np.mean(scores)) if scores else float("nan"), "last": metrics})
        print(f"step {metrics['step']:6d}  {curve[-1]['seconds']:5.0f} s  loss {metrics[TRAIN_LOSS]:.3f}  "
              f"val {metrics[VAL_ACC]:.3f}",
              file=sys.stderr, flush=True)
        if stop_after and metrics["step"] >= stop_after:
            raise Stopped

    store = Store()
    with tempfile.TemporaryDirectory() as out:
        try:
            launch.train(run_cfg, Path(out), report=report, store=store)
        except Stopped:
            pass
        orders = by_premise_order(run_cfg, Path(out) / "checkpoint", store)
    baselines = {name: store.suite(name)[1]["baselines"] for name in run_cfg.suites}
    return {"path": path, "curriculum": curriculum, "stages": len(run_cfg.curriculum),
            "wall_s": time.perf_counter() - started, "curve": curve, "baselines": baselines,
            "orders": orders}


def by_premise_order(run_cfg: RunConfig, checkpoint_dir: Path, store: Store,
                     size: int = 4000) -> dict[str, float]:
    """The final model's accuracy on fresh target rows, premises in chain order and in random order."""
    model = Decoder(run_cfg.model)
    checkpoint.restore(checkpoint_dir, model)
    training_rows = store.training_set(run_cfg.data)[0]
    scores = {}
    for order, share in ORDERS.items():
        spec = run_cfg.data.model_copy(update={"shuffle_share": share, "size": size,
                                               "seed": run_cfg.data.seed + 10_000})
        fresh = without_rows_of(generate(spec), training_rows)
        scores[order] = evaluate(model, fresh, torch.device("cpu"))["acc"]
    return scores


def markdown(result: dict) -> str:
    curve, final = result["curve"], result["curve"][-1]["last"]
    reached = next((point for point in curve if point["val"] >= TARGET), None)
    title = "CPU recipe" if result["curriculum"] else "CPU recipe without its curriculum (control)"
    lines = [
        f"## {title}: `{result['path']}` ({time.strftime('%Y-%m-%d')})",
        "",
        f"Command: `.venv/bin/python bench/cpu_recipe.py {' '.join(sys.argv[1:])}`  ",
        f"Machine: {stdlib_platform.processor() or stdlib_platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads; shared machine, noisy.  ",
        f"Wall time {result['wall_s']:.0f} s (data generation, {final['step']:,} steps, evaluations). "
        + (f"Validation accuracy first >= {TARGET:.2f} at step {reached['step']:,}, "
           f"{reached['seconds']:.0f} s after the start." if reached
           else f"Validation accuracy never reached {TARGET:.2f}."),
        "",
        "| step | stage | seconds | train loss | val acc | training-length suites (mean) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for point in curve:
        stage = "target" if point["stage"] == result["stages"] else f"curriculum {point['stage']}"
        lines.append(f"| {point['step']:,} | {stage} | {point['seconds']:.0f} | {point['loss']:.3f} | "
                     f"{point['val']:.3f} | {point['suites']:.3f} |")
    orders = ", ".join(f"{order} {acc:.3f}" for order, acc in result["orders"].items())
    lines += ["", f"Final model on fresh target rows by premise order: {orders}.",
              "", "| suite | accuracy | mention order | direct edge |", "|---|---:|---:|---:|"]
    for name, scores in result["baselines"].items():
        accuracy = final[suite_acc(name)]
        lines.append(f"| {name} | {accuracy:.3f} | {scores['mention_order']:.3f} | "
                     f"{scores['direct_edge']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_file", nargs="?", default="configs/cpu_small.yaml")
    parser.add_argument("--no-curriculum", action="store_true", help="the control run")
    parser.add_argument("--seed", type=int, help="replace the run's seed and its data seed")
    parser.add_argument("--append", help="append the Markdown block to this file")
    parser.add_argument("--stop-after", type=int, help="stop at the first evaluation at or after this step")
    parser.add_argument("--eval-every", type=int, help="evaluate every K steps instead of the file's value")
    args = parser.parse_args()
    result = run(args.run_file, not args.no_curriculum, args.seed, args.stop_after, args.eval_every)
    emit(markdown(result), args.append)


if __name__ == "__main__":
    main()
