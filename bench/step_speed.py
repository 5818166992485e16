"""What the last-position shortcut in ``Decoder.forward`` saves per training step.

``Decoder.forward`` runs its last block at each row's last input token only (keys and values
still at every position). This times a full training step (forward, backward, AdamW) with that
forward against the same model run the long way, every block at every position and then the
gather, on the same batches, alternating the two in rounds so that noise from a shared machine
hits both alike. The figure that counts is the ratio.

    .venv/bin/python bench/last_block.py [--rounds 5] [--steps 20] [--append docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import os
import platform as stdlib_platform
import time

import numpy as np
import torch
import torch.nn.functional as F

from publish import emit  # bench/publish.py: the script's folder is on sys.path

from axiomatic.data.tokenizer import NO_ID, VOCAB_SIZE, YES_ID
from axiomatic.model.decoder import Decoder, ModelConfig, at_positions

# (name, model, batch size, lengths drawn from): the CPU recipe's model on its 3–6-node data, and
# the paper's model at a batch a CPU steps through in about a second
CASES = [
    ("cpu_small (4 x 64, rope)", ModelConfig.preset("tiny", n_layer=4, pe="rope", dropout=0.0), 64, (13, 49)),
    ("paper (12 x 512, none)", ModelConfig.preset("paper"), 16, (13, 49)),
]


def full_stack(model: Decoder, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The long way: every block at every position, then the last input token's vector."""
    return model.head(model.ln_f(at_positions(model._trunk(tokens), lengths.long() - 1)))


def batches(batch_size: int, span: tuple[int, int], count: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        lengths = rng.integers(span[0], span[1] + 1, batch_size)
        tokens = rng.integers(1, VOCAB_SIZE, (batch_size, int(lengths.max())))
        labels = rng.choice([YES_ID, NO_ID], batch_size)
        out.append((torch.from_numpy(tokens), torch.from_numpy(lengths), torch.from_numpy(labels)))
    return out


def seconds_per_step(model, optimizer, forward, data) -> float:
    started = time.perf_counter()
    for tokens, lengths, labels in data:
        loss = F.cross_entropy(forward(tokens, lengths), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - started) / len(data)


def measure(config: ModelConfig, batch_size: int, span, rounds: int, steps: int) -> dict:
    torch.manual_seed(0)
    model = Decoder(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
    data = batches(batch_size, span, steps)
    forwards = {"full": lambda t, n: full_stack(model, t, n), "shortcut": model}
    seconds_per_step(model, optimizer, model, data[:3])  # warm-up: allocator, kernels
    times = {name: [] for name in forwards}
    for _ in range(rounds):
        for name, forward in forwards.items():
            times[name].append(seconds_per_step(model, optimizer, forward, data))
    medians = {name: float(np.median(t)) for name, t in times.items()}
    return {**medians, "speedup": medians["full"] / medians["shortcut"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="steps per timing")
    parser.add_argument("--append", help="append the Markdown block to this file")
    args = parser.parse_args()
    lines = [
        f"## Last-position shortcut: training step time ({time.strftime('%Y-%m-%d')})",
        "",
        f"Command: `.venv/bin/python bench/last_block.py --rounds {args.rounds} --steps {args.steps}`  ",
        f"Machine: {stdlib_platform.processor() or stdlib_platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads; shared machine, noisy.  ",
        "Median over rounds of the mean step (forward, backward, AdamW), the two forwards alternating.",
        "",
        "| model | batch | lengths | full stack (ms) | last block at one position (ms) | speed-up |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name, config, batch_size, span in CASES:
        result = measure(config, batch_size, span, args.rounds, args.steps)
        lines.append(f"| {name} | {batch_size} | {span[0]}–{span[1]} | {1e3 * result['full']:.1f} | "
                     f"{1e3 * result['shortcut']:.1f} | {result['speedup']:.2f}x |")
    emit("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
