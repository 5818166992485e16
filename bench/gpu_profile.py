"""Where a training step of the paper model spends its time on a GPU: in kernels, or on the host.

The first GPU check (docs/benchmarks.md) timed both recipes at ~38 ms per step on an H200 —
``paper`` at batch 128 in fp32 and ``fast`` at batch 512 in bf16, compiled — so something other
than the arithmetic sets the pace. For each variant below this times steps of the real
``Trainer.step`` (``gpu_check.measure``) and profiles a few more with ``torch.profiler``:

    GPU busy share = the kernels' summed device time / the steps' wall time

A share far below 1 means the GPU waits for the host (Python, kernel launches, synchronisation),
and a larger batch costs little extra time per step. Variants: the ``paper`` recipe; ``fast`` in
eager mode (no compile, which would spend a minute or more compiling) at batches 512, 2048 and
4096. For the ``paper`` recipe it also lists the host operations with the most self CPU time.

    PYTHONPATH=platform python bench/gpu_profile.py --out DIR [--tiny]

``--tiny`` runs the same code on the CPU with the ``tiny`` model and small batches: a smoke test
(no device times, so no busy share). Writes DIR/gpu_profile.json and DIR/gpu_profile.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

# bench/gpu_check.py: the script's folder is on sys.path
from gpu_check import bench_trainer, measure, peak_for, sync, warm_up_steps

from axiomatic.data import generate, preset, tokenizer
from axiomatic.model import ModelConfig

# (label, recipe, overrides, warm-up steps, timed steps)
VARIANTS = [
    ("paper, batch 128, fp32 eager", "paper", {}, 10, 50),
    ("fast, batch 512, bf16 eager", "fast", {"compile": False}, 10, 50),
    ("fast, batch 2048, bf16 eager", "fast", {"compile": False, "batch_size": 2048}, 5, 30),
    ("fast, batch 4096, bf16 eager", "fast", {"compile": False, "batch_size": 4096}, 5, 20),
]
PROFILED_STEPS = 5


def device_seconds(events) -> float:
    """Summed self time of the events that ran on the GPU (kernels, copies), in seconds; the host
    operations that launched them carry the same time again and are left out, as the profiler's
    own "Self CUDA time total" does."""
    on_gpu = [e for e in events if e.device_type == DeviceType.CUDA and not e.is_user_annotation]
    return sum(e.self_device_time_total for e in on_gpu) / 1e6


def profiled(recipe: str, overrides: dict, model_cfg: ModelConfig, data, device: torch.device,
             warmup: int) -> tuple[float, float, str]:
    """Wall seconds and device seconds of a few steps, and the top host operations by self CPU time."""
    trainer, batches = bench_trainer(recipe, model_cfg, data, device, overrides)
    phase = trainer.phases[-1]
    for _ in range(warm_up_steps(trainer, warmup)):
        trainer.step(phase, next(batches))
    sync(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        started = time.perf_counter()
        for _ in range(PROFILED_STEPS):
            trainer.step(phase, next(batches))
        sync(device)
        wall = time.perf_counter() - started
    events = prof.key_averages()
    table = events.table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=48)
    del trainer
    torch._dynamo.reset()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return wall, device_seconds(events), table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--tiny", action="store_true", help="CPU smoke test with the tiny model")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    model_cfg = ModelConfig.preset("tiny" if args.tiny else "paper", vocab_size=tokenizer.VOCAB_SIZE)
    data = generate(preset("TS2", size=4_000 if args.tiny else 50_000, seed=1))
    _, peak_bf16, _ = peak_for(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}", flush=True)

    rows, host_table = [], ""
    for label, recipe, overrides, warmup, steps in VARIANTS:
        if args.tiny:  # small batches and few steps: the code path, not a measurement
            overrides = {**overrides, "batch_size": 64}
            warmup, steps = 2, 3
        timing = measure(recipe, model_cfg, data, device, warmup, steps, peak_bf16, overrides)
        row = {"variant": label, **{k: timing[k] for k in ("batch_size", "s_per_step", "examples_per_s",
                                                            "tflops_per_s", "mfu_vs_bf16_peak")}}
        wall, busy, table = profiled(recipe, overrides, model_cfg, data, device, min(warmup, 5))
        row.update(profiled_wall_s=wall, profiled_device_s=busy,
                   gpu_busy_share=busy / wall if device.type == "cuda" else None)
        host_table = host_table or table
        rows.append(row)
        print(json.dumps(row), flush=True)

    result = {"device": name, "torch": torch.__version__, "model": model_cfg.to_dict(), "variants": rows,
              "paper_recipe_host_ops": host_table}
    (out / "gpu_profile.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (out / "gpu_profile.md").write_text(text)
    print(text)
    return 0


def markdown(result: dict) -> str:
    def cell(value, spec):
        return "–" if value is None else format(value, spec)

    lines = [f"### GPU profile of a training step, {result['device']} ({time.strftime('%Y-%m-%d')})", "",
             f"Command: `PYTHONPATH=platform python bench/gpu_profile.py --out OUT`; torch {result['torch']}.", "",
             "| variant | batch | ms/step | examples/s | TFLOP/s | MFU | GPU busy share |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["variants"]:
        lines.append(f"| {r['variant']} | {r['batch_size']} | {1e3 * r['s_per_step']:.1f} | "
                     f"{r['examples_per_s']:,.0f} | {r['tflops_per_s']:.2f} | "
                     f"{cell(r['mfu_vs_bf16_peak'], '.1%')} | {cell(r.get('gpu_busy_share'), '.0%')} |")
    lines += ["", "Host operations of the `paper` recipe's steps, by self CPU time:", "", "```",
              result["paper_recipe_host_ops"].rstrip(), "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
