"""What the decoder's last-position shortcut and bf16 autocast save per training step on a CPU.

``Decoder.forward`` runs its last block at each row's last input token only (keys and values
still at every position). This times a full training step (forward, backward, AdamW) three ways
on the same batches: the long way (every block at every position, then the gather) in fp32, the
shortcut in fp32 (what every run does), and the shortcut under bf16 autocast (``precision:
bf16``). The variants alternate in rounds so that noise from a shared machine hits all alike;
the figures that count are the ratios to the first.

A second table times the CPU recipe's model (read from ``configs/cpu_small.yaml``) against the
same model with the usual 4x MLP (256 wide), the width it had before the recipe halved it,
alternating in the same way. Its batches are bucketed as the recipe's are: every row of a batch
has one length, drawn per batch.

    .venv/bin/python bench/step_speed.py [--rounds 5] [--append docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform as stdlib_platform
import time
from pathlib import Path

import numpy as np
import torch

from publish import emit  # bench/publish.py: the script's folder is on sys.path

from axiomatic.data.tokenizer import VOCAB_SIZE
from axiomatic.model import Decoder, ModelConfig
from axiomatic.model.decoder import at_positions
from axiomatic.train import build_run, load_yaml
from axiomatic.train.objective import answer_loss

RECIPE_FILE = Path(__file__).resolve().parents[1] / "configs" / "cpu_small.yaml"
CPU_RECIPE = build_run(load_yaml(RECIPE_FILE), str(RECIPE_FILE))
LENGTHS = (13, 49)  # token lengths of 3–6-node rows with 1–3-character names

# (name, model, batch size, steps per timing): the CPU recipe's model on its 3–6-node data, and the
# paper's model at a batch a CPU steps through in about a second
CASES = [
    (f"cpu_small (4 x 64, MLP {CPU_RECIPE.model.d_mlp}, rope)", CPU_RECIPE.model,
     CPU_RECIPE.train.batch_size, 40),
    ("paper (12 x 512, none)", ModelConfig.preset("paper", vocab_size=VOCAB_SIZE), 16, 4),
]


def full_stack(model: Decoder, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The long way: every block at every position, then the last input token's vector."""
    return model.head(model.ln_f(at_positions(model._trunk(tokens), lengths.long()[:, None] - 1)[:, 0]))


def batches(batch_size: int, count: int, bucketed: bool = False, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        size = 1 if bucketed else batch_size  # bucketed: one length for the whole batch
        lengths = np.resize(rng.integers(LENGTHS[0], LENGTHS[1] + 1, size), batch_size)
        tokens = rng.integers(1, VOCAB_SIZE, (batch_size, int(lengths.max())))
        labels = rng.integers(0, 2, batch_size)  # 1 = Yes, as in a Dataset
        out.append((torch.from_numpy(tokens), torch.from_numpy(lengths), torch.from_numpy(labels)))
    return out


def seconds_per_step(model, optimizer, forward, bf16: bool, data: list) -> float:
    started = time.perf_counter()
    for tokens, lengths, labels in data:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = forward(tokens, lengths)
        loss, _ = answer_loss(logits[:, None], labels[:, None])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - started) / len(data)


def alternating(variants: dict, data: list, rounds: int) -> dict[str, float]:
    """Median seconds per step of each (model, optimizer, forward, bf16) variant, taking turns."""
    for variant in variants.values():  # warm-up: allocator, kernels, bf16 weight caches
        seconds_per_step(*variant, data[:3])
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, variant in variants.items():
            times[name].append(seconds_per_step(*variant, data))
    return {name: float(np.median(t)) for name, t in times.items()}


def with_optimizer(config: ModelConfig) -> tuple[Decoder, torch.optim.AdamW]:
    torch.manual_seed(0)
    model = Decoder(config).train()
    return model, torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)


def measure(config: ModelConfig, batch_size: int, rounds: int, steps: int) -> dict:
    model, optimizer = with_optimizer(config)
    full = lambda tokens, lengths: full_stack(model, tokens, lengths)  # noqa: E731
    variants = {"full": (model, optimizer, full, False), "shortcut": (model, optimizer, model, False),
                "shortcut_bf16": (model, optimizer, model, True)}
    return alternating(variants, batches(batch_size, steps), rounds)


def mlp_widths(rounds: int, steps: int = 40) -> dict[int, float]:
    """Seconds per step of the CPU recipe's model at its MLP width and at 256, on bucketed batches."""
    variants = {}
    for width in (CPU_RECIPE.model.d_mlp, 256):
        model, optimizer = with_optimizer(dataclasses.replace(CPU_RECIPE.model, d_mlp=width))
        variants[width] = (model, optimizer, model, False)
    return alternating(variants, batches(CPU_RECIPE.train.batch_size, steps, bucketed=True), rounds)


def native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--append", help="append the Markdown block to this file")
    args = parser.parse_args()
    lines = [
        f"## Training step on a CPU: last-position shortcut and bf16 ({time.strftime('%Y-%m-%d')})",
        "",
        f"Command: `.venv/bin/python bench/step_speed.py --rounds {args.rounds}`  ",
        f"Machine: {stdlib_platform.processor() or stdlib_platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads; shared machine, noisy.  ",
        "Median over rounds of the mean step (forward, backward, AdamW), the variants alternating. "
        f"The CPU {'has' if native_bf16() else 'lacks'} native bf16 instructions (AVX512-BF16 / AMX).",
        "",
        "| model | batch | lengths | full stack, fp32 (ms) | shortcut, fp32 (ms) | shortcut, bf16 (ms) "
        "| speed-up: shortcut | shortcut + bf16 |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, config, batch_size, steps in CASES:
        ms = {k: 1e3 * v for k, v in measure(config, batch_size, args.rounds, steps).items()}
        lines.append(f"| {name} | {batch_size} | {LENGTHS[0]}–{LENGTHS[1]} | {ms['full']:.1f} | "
                     f"{ms['shortcut']:.1f} | {ms['shortcut_bf16']:.1f} | "
                     f"{ms['full'] / ms['shortcut']:.2f}x | {ms['full'] / ms['shortcut_bf16']:.2f}x |")
    widths = {width: 1e3 * v for width, v in mlp_widths(args.rounds).items()}
    shipped = CPU_RECIPE.model.d_mlp
    lines += ["", "The CPU recipe's model by MLP width (shortcut, fp32, batches bucketed by length):", "",
              "| MLP width | ms per step | relative to the shipped width |", "|---:|---:|---:|"]
    lines += [f"| {width} | {ms:.1f} | {ms / widths[shipped]:.2f}x |" for width, ms in widths.items()]
    emit("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
