"""GPU check: training throughput and MFU of the paper model, then a short TS2 + NoPE run.

    bench/gpu_check.sh OUTDIR [--tiny] [--minutes M] [--limit-minutes L] [--skip-accuracy]

(a) Throughput. The ``paper`` model preset (12 x 8 x 512, 38M parameters) trained by the real
    ``Trainer.step`` on 50,000 generated TS2 rows, once with the ``paper`` recipe (fp32, eager,
    batch 128, no bucketing) and once with the ``fast`` recipe (bf16 autocast, torch.compile,
    length bucketing, batch 512). Each is warmed up first (compilation, the recompile for dynamic
    lengths, allocator growth), then a fixed number of steps is timed between two
    ``torch.cuda.synchronize()`` calls.

    FLOPs per example (the PaLM / Chinchilla accounting, forward + backward):
        6 * N * T  +  12 * L * d * T^2  +  6 * d * V
    N = parameters of the blocks and final LayerNorm (embedding lookups are not matmuls), T = the
    example's real tokens (padding is not useful work, so bucketing shows up as MFU), L = layers,
    d = width, V = vocabulary (the head runs at one position per example). The attention term
    counts the full T x T score matrix, as the convention does, although causal SDPA skips the
    masked half. MFU = achieved FLOP/s / the GPU's dense bf16 tensor-core peak, for both recipes
    (so the fp32 recipe is measured against a peak it cannot reach: H100 fp32 is ~67 TFLOP/s).

(b) Accuracy. TS2 (175,000 rows through the store: leakage-checked against every suite), the
    paper model with NoPE, the ``fast`` recipe, trained for ``--minutes`` (default 3.5, cut so the
    whole check stays under ``--limit-minutes``, default 8): max_steps is set from the throughput
    measured in (a), so the cosine schedule ends on time.
    Then every generated transitivity suite and every published transitivity file is scored,
    next to the paper's reference numbers and the shortcut baselines.

``--tiny`` runs the same code paths on the CPU with the ``tiny`` model, a few steps and a few
suites (about two minutes): a smoke test of the script, not a measurement. On the CPU the trainer
skips torch.compile (CUDA only); the output says so.

Writes OUTDIR/gpu_check.json and OUTDIR/gpu_check.md, and prints the Markdown.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform  # the standard library's: the repository's platform/ is not a package
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from axiomatic.data import REFERENCES, DataSpec, Store, generate, preset, suites, tokenizer
from axiomatic.data.mixtures import PAPER_SIZE
from axiomatic.metric_names import TRAIN_LOSS, VAL_ACC, VAL_LOSS
from axiomatic.model import Decoder, ModelConfig, num_parameters
from axiomatic.train import RunConfig, RunData, Trainer, Worker, evaluate, load_data, train_config

# Dense (no sparsity) peaks in TFLOP/s from NVIDIA's data sheets: (bf16 tensor core, fp32 non-tensor).
# More specific names first: the first substring of the device name that matches wins.
PEAKS = [
    ("H100 PCIe", 756.0, 51.0),
    ("H100 NVL", 835.0, 60.0),
    ("H100", 989.4, 66.9),  # SXM5, "NVIDIA H100 80GB HBM3"
    ("H200", 989.4, 66.9),  # same compute as the H100 SXM, more and faster memory
    ("GH200", 989.4, 66.9),
    ("A100", 312.0, 19.5),
    ("L40S", 362.0, 91.6),
    ("L4", 121.0, 30.3),
]
FALLBACK_PEAK = ("unknown GPU: H100 SXM peak assumed", 989.4, 66.9)
GOAL_MFU = 0.40
GOAL_SPEEDUP = 20.0
RESERVE_S = 120.0  # part (b) outside its training budget: TS2 + suites, recompilation, scoring
TINY_SUITES = ["standard_chain/len=7", "flipped_chain/len=7", "reversed_chain/len=3", "branching_bf1.4/n=5",
               "published/transitivity/standard_chain/len=7", "published/transitivity/reversed_chain/len=3"]


def peak_for(device: torch.device) -> tuple[str, float | None, float | None]:
    if device.type != "cuda":
        return "cpu", None, None
    name = torch.cuda.get_device_name(device)
    for key, bf16, fp32 in PEAKS:
        if key in name:
            return key, bf16, fp32
    return FALLBACK_PEAK


def flops_per_example(model: ModelConfig, n_trunk: int, tokens: np.ndarray) -> np.ndarray:
    """Training FLOPs (forward + backward) of each example with ``tokens`` real tokens, as the
    decoder computes them: every block at every token except the last, which runs its query,
    projection and MLP at the last input token only (keys and values still at every token)."""
    t = tokens.astype(np.float64)
    d = model.d_model
    once = 2 * d * d + 2 * d * model.d_mlp  # last block's matmul weights used at one token
    blocks = 6 * (n_trunk - once) * t + 6 * once
    attention = 12 * (model.n_layer - 1) * d * t**2 + 12 * d * t
    return blocks + attention + 6 * d * model.vocab_size


def trunk_parameters(model: torch.nn.Module) -> int:
    """Parameters that do matmul work per token: everything but the embedding and the head."""
    skip = {"tok_emb.weight", "head.weight", "pos.table"}
    return sum(p.numel() for name, p in model.named_parameters() if name not in skip)


def compiled_graphs() -> int:
    return int(torch._dynamo.utils.counters["stats"]["unique_graphs"])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------- (a) throughput

def bench_trainer(recipe: str, model_cfg: ModelConfig, data, device: torch.device,
                  overrides: dict | None = None) -> tuple[Trainer, Iterator[np.ndarray]]:
    """The real Trainer on ``data`` under a recipe (plus overrides), and an endless batch stream."""
    cfg = train_config({"recipe": recipe, "epochs": 10_000, "device": device.type, **(overrides or {})})
    run = RunConfig(DataSpec(size=len(data)), model_cfg, cfg, seed=0)
    trainer = Trainer(run, RunData(train=data, val=data.subset(np.arange(16)), suites={}, digest="bench"),
                      Worker(device=device))
    phase = trainer.phases[-1]
    return trainer, itertools.chain.from_iterable(trainer.batches(phase, epoch) for epoch in itertools.count())


def warm_up_steps(trainer: Trainer, warmup: int) -> int:
    """At least ``warmup``; with bucketing at least a whole epoch. Bucketed batches come in one
    shape per token length, and each new shape costs once (recompilation, kernel selection): the
    first GPU check timed ``fast`` after 40 steps, before it had met them all, and its step then
    took 38 ms where the training run after it settled at ~27 ms."""
    return max(warmup, trainer.steps_per_epoch[-1]) if trainer.cfg.bucketing else warmup


def measure(recipe: str, model_cfg: ModelConfig, data, device: torch.device, warmup: int, steps: int,
            peak_bf16: float | None, overrides: dict | None = None) -> dict:
    """Time ``steps`` optimiser steps of the real Trainer after the warm-up (``warm_up_steps``)."""
    trainer, batches = bench_trainer(recipe, model_cfg, data, device, overrides)
    cfg, phase = trainer.cfg, trainer.phases[-1]
    warmup = warm_up_steps(trainer, warmup)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    started = time.perf_counter()
    for _ in range(warmup):
        trainer.step(phase, next(batches))
    sync(device)
    warmup_s = time.perf_counter() - started

    timed = [next(batches) for _ in range(steps)]
    losses = []
    compiled_before = compiled_graphs()
    sync(device)
    started = time.perf_counter()
    for idx in timed:
        losses.append(trainer.step(phase, idx)[0])
    sync(device)
    seconds = time.perf_counter() - started
    recompiles = compiled_graphs() - compiled_before

    rows = np.concatenate(timed)
    real_tokens = data.lengths[rows]
    padded_tokens = sum(len(idx) * int(data.lengths[idx].max()) for idx in timed)
    n_trunk = trunk_parameters(trainer.model)
    flops = float(flops_per_example(model_cfg, n_trunk, real_tokens).sum())
    result = {
        "recipe": recipe, "precision": cfg.precision, "batch_size": cfg.batch_size,
        "compile": bool(cfg.compile and device.type == "cuda"),
        "bf16_autocast": bool(trainer.autocast), "bucketing": cfg.bucketing,
        "warmup_steps": warmup, "warmup_s": warmup_s, "timed_steps": steps, "seconds": seconds,
        "s_per_step": seconds / steps, "examples_per_s": len(rows) / seconds,
        "tokens_per_s": float(real_tokens.sum()) / seconds,
        "padding_share": 1 - float(real_tokens.sum()) / padded_tokens,
        "mean_tokens": float(real_tokens.mean()), "trunk_parameters": n_trunk,
        "flops_per_example": flops / len(rows), "tflops_per_s": flops / seconds / 1e12,
        "mfu_vs_bf16_peak": flops / seconds / (peak_bf16 * 1e12) if peak_bf16 else None,
        "loss_first": float(losses[0]), "loss_last": float(losses[-1]),
        "recompiles_while_timed": recompiles,  # > 0: the warm-up was too short, the time includes compiling
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
    }
    del trainer
    torch._dynamo.reset()  # drop the compiled graphs (and the memory they hold) before the next model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


# ---------------------------------------------------------------- (b) accuracy

def transitivity_suites(store: Store, tiny: bool) -> list[str]:
    available = suites.all_names(store.published)
    if tiny:
        return [name for name in TINY_SUITES if name in available]
    return [name for name in available
            if not name.startswith("published/") or name.startswith("published/transitivity/")]


def reference_for(name: str) -> tuple[float | None, str | None]:
    """The paper's number for a suite (a published file counts as its generated counterpart)."""
    key = name.removeprefix("published/transitivity/")
    for label in ("paper TS2 NoPE", "paper axiomatic model"):
        if key in REFERENCES[label]:
            return REFERENCES[label][key], label
    return None, None


def train_and_score(args, device: torch.device, fast_steps_per_s: float, elapsed_s: float) -> dict:
    store = Store()
    names = transitivity_suites(store, args.tiny)
    size = 4_000 if args.tiny else PAPER_SIZE
    model_cfg = ModelConfig.preset("tiny" if args.tiny else "paper", vocab_size=tokenizer.VOCAB_SIZE,
                                   pe="none")
    budget_s = args.minutes * 60
    if not args.tiny:  # stay inside --limit-minutes: keep time for data, compilation and scoring
        budget_s = max(30.0, min(budget_s, args.limit_minutes * 60 - elapsed_s - RESERVE_S))
    # the rate of (a) excludes the per-epoch evaluation and checkpoint: keep 15 % for them
    steps = max(20, int(fast_steps_per_s * budget_s * 0.85))
    cfg = train_config({"recipe": "fast", "epochs": 10_000, "max_steps": steps, "device": device.type,
                        "warmup_steps": min(300, steps // 10)})
    run = RunConfig(preset("TS2", size=size), model_cfg, cfg, suites=(), seed=0)

    t0 = time.perf_counter()
    data = load_data(run, store)  # the store's path: leakage check against every suite
    load_s = time.perf_counter() - t0
    curve = []
    t0 = time.perf_counter()
    trainer = Trainer(run, data, Worker(device=device))
    trainer.fit(lambda metrics, _: curve.append(metrics))
    train_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    rows = []
    for name in names:
        suite, manifest = store.suite(name)
        if int(suite.lengths.max()) > model_cfg.max_len:
            rows.append({"suite": name, "n": len(suite), "accuracy": None, "note": "longer than max_len"})
            continue
        score = evaluate(trainer.model, suite, device, cfg.eval_batch_size, trainer.autocast)
        reference, source = reference_for(name)
        rows.append({"suite": name, "n": score["n"], "accuracy": score["acc"], "reference": reference,
                     "reference_row": source, **manifest["baselines"]})
    eval_s = time.perf_counter() - t0
    return {
        "data": {"preset": "TS2", "size": size, "train_rows": len(data.train), "val_rows": len(data.val),
                 "load_s": load_s},
        "model": model_cfg.to_dict(), "parameters": num_parameters(trainer.model),
        "train": cfg.model_dump(mode="json"), "budget_s": budget_s, "train_s": train_s, "eval_s": eval_s,
        "steps": trainer.state.step, "epochs": curve[-1]["epoch"] if curve else 0,
        "curve": [{k: m[k] for k in ("epoch", "step", TRAIN_LOSS, VAL_ACC, "examples_per_s")} for m in curve],
        "final": {k: curve[-1][k] for k in (TRAIN_LOSS, VAL_ACC, VAL_LOSS)} if curve else {},
        "suites": rows,
        "published_files_found": any(r["suite"].startswith("published/") for r in rows),
    }


# ---------------------------------------------------------------- report

def fmt(value, spec: str = ".3f", missing: str = "–") -> str:
    return missing if value is None else format(value, spec)


def markdown(result: dict) -> str:
    env, a, b = result["environment"], result["throughput"], result.get("accuracy")
    lines = [f"### GPU check ({env['mode']}), {env['date']}", "",
             f"Command: `{env['command']}`  ",
             f"Device: {env['device']}; torch {env['torch']}, CUDA {env['cuda']}, Python {env['python']}, "
             f"{env['cpus']} CPUs; float32 matmul precision `{env['float32_matmul_precision']}`.  "]
    if env["device_type"] == "cpu":
        lines.append("**CPU run**: the trainer applies torch.compile only on CUDA, so here the `fast` "
                     "recipe runs eager (bf16 autocast, batch 512 and bucketing still apply); no MFU "
                     "(no peak for a CPU). The figures check that the script works, nothing more.  ")
    else:
        lines.append(f"Peak used for MFU: {env['peak_name']}, dense bf16 {env['peak_bf16_tflops']} TFLOP/s "
                     f"for both recipes (fp32 non-tensor peak: {env['peak_fp32_tflops']} TFLOP/s).  ")
    lines += ["", f"**(a) Training throughput**, model preset `{a['model_preset']}` "
              f"({a['parameters']:,} parameters, {a['trunk_parameters']:,} in the blocks), "
              f"{a['data_rows']:,} generated TS2 rows:", "",
              "| recipe | precision | compile | bucketing | batch | warm-up | timed steps | ms/step | examples/s "
              "| real tokens/ex | padding | TFLOP/s | MFU (vs bf16 peak) | peak mem GiB |",
              "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in a["recipes"]:
        lines.append(
            f"| `{r['recipe']}` | {'bf16 autocast' if r['bf16_autocast'] else 'fp32'} | "
            f"{'yes' if r['compile'] else 'no'} | {'yes' if r['bucketing'] else 'no'} | {r['batch_size']} | "
            f"{r['warmup_steps']} steps, {r['warmup_s']:.1f} s | {r['timed_steps']} | {r['s_per_step'] * 1e3:.1f} | "
            f"{r['examples_per_s']:,.0f} | {r['mean_tokens']:.1f} | {r['padding_share']:.1%} | "
            f"{r['tflops_per_s']:.2f} | {fmt(r['mfu_vs_bf16_peak'], '.1%')} | {fmt(r['peak_memory_gib'], '.2f')} |")
    goals = a["goals"]
    for r in a["recipes"]:
        if r["recompiles_while_timed"]:
            lines += ["", f"Warning: `{r['recipe']}` compiled {r['recompiles_while_timed']} graph(s) while "
                      "being timed; its figures include compilation."]
    lines += ["", f"`fast` / `paper` examples/s: **{a['speedup']:.1f}x** (goal >= {GOAL_SPEEDUP:.0f}x: "
              f"{goals['speedup']}); `fast` MFU: **{fmt(a['recipes'][1]['mfu_vs_bf16_peak'], '.1%')}** "
              f"(goal >= {GOAL_MFU:.0%}: {goals['mfu']}).", "",
              "FLOPs per example = 6·(N−Q)·T + 6·Q + 12·(L−1)·d·T² + 12·d·T + 6·d·V (forward + backward; "
              "N = block parameters, Q = 2d² + 2·d·d_mlp the last block's weights used at the last "
              "input token only, T = the example's real tokens, L layers, d width, V vocabulary): "
              "the work the decoder does, which skips most of the last block elsewhere."]
    if b:
        lines += ["", f"**(b) TS2 + NoPE**, model `{a['model_preset']}`, recipe `fast`: "
                  f"{b['data']['train_rows']:,} training rows, {b['steps']:,} steps "
                  f"({b['epochs']} epochs) in {b['train_s']:.0f} s (budget {b['budget_s']:.0f} s); "
                  f"final train loss {fmt(b['final'].get(TRAIN_LOSS), '.4f')}, "
                  f"val acc {fmt(b['final'].get(VAL_ACC))}; scoring took {b['eval_s']:.0f} s.", ""]
        if not b["published_files_found"]:
            lines += ["Published files not found (set AXIOMATIC_PUBLISHED_DIR): generated suites only.", ""]
        lines += ["| suite | n | accuracy | paper (reference) | mention order | direct edge |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in b["suites"]:
            ref = "–" if r.get("reference") is None else (
                f"{r['reference']:.2f}" + (" ᵃ" if r["reference_row"] != "paper TS2 NoPE" else ""))
            lines.append(f"| {r['suite']} | {r['n']} | {fmt(r['accuracy'])} | {ref} | "
                         f"{fmt(r.get('mention_order'))} | {fmt(r.get('direct_edge'))} |")
        other = any(r.get("reference_row") not in (None, "paper TS2 NoPE") for r in b["suites"])
        lines += ["", "Reference: `paper TS2 NoPE` from `axiomatic.data.references` (v1, unverified)"
                  + ("; ᵃ = the row `paper axiomatic model` (name shift)" if other else "")
                  + ". A published file gets the number of its generated counterpart: the paper scored "
                  "its own files."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory for gpu_check.json and gpu_check.md")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke test: tiny model, few steps and suites")
    parser.add_argument("--minutes", type=float, help="training budget of part (b) (default 3.5; 1 with --tiny)")
    parser.add_argument("--limit-minutes", type=float, default=8.0,
                        help="the whole check's wall-clock target on a GPU; part (b) is shortened to fit")
    parser.add_argument("--skip-accuracy", action="store_true", help="run part (a) only")
    args = parser.parse_args(argv)
    args.minutes = args.minutes if args.minutes is not None else (1.0 if args.tiny else 3.5)
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    peak_name, peak_bf16, peak_fp32 = peak_for(device)
    env = {
        "mode": "tiny, CPU" if args.tiny else f"full, {device.type}",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": os.environ.get("GPU_CHECK_COMMAND") or " ".join(["python", *sys.argv]),
        "device_type": device.type,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else
        f"CPU ({platform.machine()}, {torch.get_num_threads()} torch thread(s))",
        "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
        "cpus": os.cpu_count(), "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "peak_name": peak_name, "peak_bf16_tflops": peak_bf16, "peak_fp32_tflops": peak_fp32,
    }
    print(f"device: {env['device']}", flush=True)

    # (a)
    model_preset = "tiny" if args.tiny else "paper"
    model_cfg = ModelConfig.preset(model_preset, vocab_size=tokenizer.VOCAB_SIZE)
    rows = 4_000 if args.tiny else 50_000
    data = generate(preset("TS2", size=rows, seed=1))
    plans = {"paper": (2, 5) if args.tiny else (10, 50),
             "fast": (2, 5) if args.tiny else (40, 100)}  # compile + dynamic-length recompile in warm-up
    recipes = []
    for recipe, (warmup, steps) in plans.items():
        print(f"(a) {recipe}: warm-up (at least {warmup} steps; an epoch if bucketed), {steps} timed steps",
              flush=True)
        recipes.append(measure(recipe, model_cfg, data, device, warmup, steps, peak_bf16))
        print(f"    {recipes[-1]['examples_per_s']:,.0f} examples/s, "
              f"{recipes[-1]['tflops_per_s']:.2f} TFLOP/s", flush=True)
    speedup = recipes[1]["examples_per_s"] / recipes[0]["examples_per_s"]
    mfu = recipes[1]["mfu_vs_bf16_peak"]
    throughput = {
        "model_preset": model_preset, "parameters": num_parameters(Decoder(model_cfg)),
        "trunk_parameters": recipes[0]["trunk_parameters"], "data_rows": rows, "recipes": recipes,
        "speedup": speedup,
        "goals": {"speedup": "n/a on CPU" if mfu is None else ("met" if speedup >= GOAL_SPEEDUP else "not met"),
                  "mfu": "n/a on CPU" if mfu is None else ("met" if mfu >= GOAL_MFU else "not met")},
    }
    result = {"environment": env, "throughput": throughput}

    # (b)
    if not args.skip_accuracy:
        fast_steps_per_s = 1.0 / recipes[1]["s_per_step"]
        print(f"(b) TS2 + NoPE, fast recipe, {args.minutes:g} min", flush=True)
        result["accuracy"] = train_and_score(args, device, fast_steps_per_s, time.perf_counter() - started)
    result["environment"]["total_s"] = time.perf_counter() - started

    (out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (out / "gpu_check.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
