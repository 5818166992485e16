"""Training throughput side by side: the paper recipe, the `fast` recipe, and packed rows.

Times the real ``Trainer.step`` (assembly, layout, forward, backward, AdamW) on one run file's data
and model, for five train sections in one process, taking turns in rounds so that the noise of a
shared machine hits all alike:

    paper           the paper's recipe: batch 128 rows, fp32, no bucketing
    fast            the `fast` recipe: batch 512 rows, bf16, length bucketing (compiled on CUDA)
    fast, packed    the same with packed rows of --pack-length tokens, about as many rows a batch
    file            the run file's own train section (the CPU recipe: `levers`, batch 64, bucketed)
    file, packed    the same with packed rows, about as many rows a batch
    fast, packed, flex   on CUDA only: `fast, packed` through FlexAttention block masks
                         (``train.flex_attention``); a section that fails to build or step is
                         reported with its error instead of figures

A row of the data is one *example*: a premise with its questions (four in both run files).
Packed batches hold ``batch_tokens // pack_length`` rows of ``pack_length`` tokens, with
``batch_tokens`` chosen so a batch holds about as many examples as its unpacked twin.

For each: examples/s and tokens/s (real tokens, padding excluded), the padding share of the tokens
the step computes on, MFU and, on CUDA, peak memory; and the questions/s of evaluating the section's
model on --eval-rows questions (one a row) as the Trainer does, packed in the packed sections. MFU
is the useful training FLOPs (6 x block parameters x real tokens, plus causal attention within
each example, 6 x layers x d_model x L(L+1) for an example of L tokens) per second over the rate of
a large matmul measured on the same device in the same precision (fp32 on a CPU, bf16 on CUDA): a
share of what this machine's matmul reaches, not of a datasheet figure.

On a CPU (default ``configs/cpu_small.yaml``, the small model) or on CUDA (``--run-file
configs/gpu_reproduce.yaml``, the paper model; bench/gpu_reproduce.sh runs it so).

    .venv/bin/python bench/throughput.py [--run-file F] [--rows N] [--pack-length R] [--rounds 3]
                                         [--steps 10] [--json] [--append FILE] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform as stdlib_platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from publish import add_output_options, publish  # bench/publish.py: this folder is on sys.path

from axiomatic.data import generate, packing
from axiomatic.data.dataset import Dataset
from axiomatic.data.packing import PackedBatch
from axiomatic.train import build_run, evaluate, load_yaml, resolve_device
from axiomatic.train.recipes import RECIPES
from axiomatic.train.loop import Trainer, Worker
from axiomatic.train.run_data import RunData

REPO = Path(__file__).resolve().parents[1]


def sections(run_file: Path, pack_length: int, mean_length: float, device: torch.device) -> dict[str, dict]:
    """The five train sections, by name."""
    own = load_yaml(run_file)["train"]
    own_recipe = {**RECIPES[own.get("recipe", "paper")], **{k: v for k, v in own.items() if k != "recipe"}}

    def packed(train: dict) -> dict:
        # about as many examples a batch as the unpacked twin, in whole packed rows
        rows = max(1, round(train["batch_size"] * mean_length / pack_length))
        return {**train, "bucketing": False, "pack_length": pack_length, "batch_tokens": rows * pack_length}

    paper, fast = {**RECIPES["paper"], "batch_size": 128}, RECIPES["fast"]
    trains = {"paper": paper, "fast": fast, "fast, packed": packed(fast), "file": own_recipe,
              "file, packed": packed(own_recipe)}
    if device.type == "cuda":  # FlexAttention's backward needs CUDA
        trains["fast, packed, flex"] = {**packed(fast), "flex_attention": True}
    # long enough never to end, no evaluation, on the device measured
    return {name: {**train, "epochs": 10_000, "max_steps": None, "eval_every": None, "device": device.type}
            for name, train in trains.items()}


def useful_flops(trainer: Trainer, lengths: np.ndarray) -> float:
    """Training FLOPs a batch of examples of these lengths needs, padding and masked pairs aside."""
    config = trainer.run.model
    blocks = sum(p.numel() for p in trainer.model.blocks.parameters())
    return float(6 * blocks * lengths.sum() + 6 * config.n_layer * config.d_model * (lengths * (lengths + 1)).sum())


def matmul_rate(device: torch.device, dtype: torch.dtype) -> float:
    """FLOP/s of a large square matmul on this device: the peak MFU is measured against."""
    n = 4096 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    synchronize(device)
    repeats, started = (50 if device.type == "cuda" else 5), time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * n**3 * repeats / (time.perf_counter() - started)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclasses.dataclass
class Timed:
    """One train section's trainer and what its timed steps added up to."""

    trainer: Trainer
    seconds: float = 0.0
    examples: int = 0
    tokens: int = 0  # real tokens
    computed: int = 0  # tokens the step computes on, padding included
    flops: float = 0.0
    peak_bytes: int = 0  # CUDA: most memory the steps held above what was allocated before them
    eval_seconds: float = 0.0
    eval_questions: int = 0

    def upcoming(self, count: int) -> list:
        trainer, state = self.trainer, self.trainer.state
        per_epoch, epochs, plans = trainer.steps_per_epoch[-1], {}, []
        for position in range(state.step_in_epoch, state.step_in_epoch + count):
            epoch = state.epoch + position // per_epoch
            if epoch not in epochs:
                epochs[epoch] = trainer.batches(trainer.phases[-1], epoch)
            plans.append(epochs[epoch][position % per_epoch])
        return plans

    def steps(self, count: int) -> None:
        device = self.trainer.worker.device
        phase = self.trainer.phases[-1]
        # the batches the steps will take, read ahead for the counts (the plan is cached per epoch)
        plans = self.upcoming(count)
        synchronize(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            resident = torch.cuda.memory_allocated(device)
        started = time.perf_counter()
        for _ in plans:
            self.trainer.step(*self.trainer.next_batch())
            self.trainer.advance(0.0)
        synchronize(device)
        self.seconds += time.perf_counter() - started
        for plan in plans:
            lengths = phase.lengths_np[plan.instances if isinstance(plan, PackedBatch) else plan]
            self.examples += len(lengths)
            self.tokens += int(lengths.sum())
            self.computed += (plan.rows * phase.packing.row_length if isinstance(plan, PackedBatch)
                              else len(lengths) * int(lengths.max()))
            self.flops += useful_flops(self.trainer, lengths)
        if device.type == "cuda":
            self.peak_bytes = max(self.peak_bytes, torch.cuda.max_memory_allocated(device) - resident)

    def evaluation(self, questions: Dataset) -> None:
        trainer, device = self.trainer, self.trainer.worker.device
        synchronize(device)
        started = time.perf_counter()
        evaluate(trainer.model, questions, device, trainer.cfg.eval_batch_size, trainer.autocast,
                 trainer.cfg.pack_length)  # reads its counts back: the time includes the device's work
        self.eval_seconds += time.perf_counter() - started
        self.eval_questions += len(questions)


def measure(run_file: Path, rows: int, pack_length: int, rounds: int, steps: int, eval_rows: int) -> dict:
    base = build_run(load_yaml(run_file), str(run_file))
    device = resolve_device("auto")
    data = generate(base.data.model_copy(update={"size": rows}))
    k = data.questions_per_row
    examples = packing.by_premise(data, k) if k > 1 else packing.single_questions(data)
    questions = data.subset(np.arange(min(len(data), eval_rows)))  # what an evaluation reads: one a row
    timed, failed = {}, {}
    for name, train in sections(run_file, pack_length, float(examples.lengths.mean()), device).items():
        run = build_run({**load_yaml(run_file), "train": train, "curriculum": [], "suites": []}, name)
        try:
            trainer = Trainer(run, RunData(data, data.subset(np.arange(1)), {}, "in-memory"), Worker(device=device))
            Timed(trainer).steps(3)  # warm-up, not counted: allocator, kernels, compilation
            Timed(trainer).evaluation(questions.subset(np.arange(min(len(questions), 64))))
        except Exception as err:  # a kernel path not yet run on this device: report it, time the rest
            failed[name] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            continue
        timed[name] = Timed(trainer)
    for _ in range(rounds):
        for entry in timed.values():
            entry.steps(steps)
            entry.evaluation(questions)
    precision = torch.bfloat16 if device.type == "cuda" else torch.float32
    peak = matmul_rate(device, precision)
    out = []
    for name, entry in timed.items():
        train = entry.trainer.cfg
        out.append({"recipe": name, "examples_per_s": entry.examples / entry.seconds,
                    "tokens_per_s": entry.tokens / entry.seconds, "mfu": entry.flops / entry.seconds / peak,
                    "padding": 1 - entry.tokens / entry.computed,
                    "eval_questions_per_s": entry.eval_questions / entry.eval_seconds,
                    "peak_memory_gib": entry.peak_bytes / 2**30 if device.type == "cuda" else None,
                    "examples_per_step": entry.examples / (rounds * steps), "precision": train.precision,
                    "batch": (f"{train.batch_tokens // train.pack_length} x {train.pack_length} tokens"
                              if train.pack_length else f"{train.batch_size} rows")})
    out += [{"recipe": name, "error": error} for name, error in failed.items()]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"CPU ({stdlib_platform.processor() or stdlib_platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} torch threads)")
    return {"device": name, "torch": torch.__version__, "run_file": str(run_file.relative_to(REPO)),
            "parameters": next(iter(timed.values())).trainer.model.num_parameters(), "matmul_flops": peak, "rows": out,
            "rounds": rounds, "steps": steps, "data_rows": rows, "eval_rows": len(questions),
            "pack_length": pack_length}


def markdown(result: dict, command: str) -> str:
    rows = result["rows"]
    by_name = {row["recipe"]: row for row in rows}
    lines = [f"## Training throughput: paper, fast and packed batches on {result['device']} "
             f"({time.strftime('%Y-%m-%d')})", "",
             f"Command: `{command}`  ",
             f"Run file `{result['run_file']}` ({result['parameters']:,} parameters), {result['data_rows']:,} "
             f"generated questions; {result['rounds']} rounds of {result['steps']} steps each, the five "
             f"taking turns; torch {result['torch']}. MFU against a measured "
             f"{result['matmul_flops'] / 1e9:,.0f} GFLOP/s matmul on this device. An example is a "
             "premise with its questions.", "",
             "| train section | batch | precision | examples/step | examples/s | tokens/s | padding | MFU "
             "| step peak memory (GiB) | eval questions/s |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['recipe']} | failed: {row['error']} | | | | | | | | |")
            continue
        memory = "-" if row["peak_memory_gib"] is None else f"{row['peak_memory_gib']:.2f}"
        lines.append(f"| {row['recipe']} | {row['batch']} | {row['precision']} | {row['examples_per_step']:.0f} | "
                     f"{row['examples_per_s']:,.0f} | {row['tokens_per_s']:,.0f} | {100 * row['padding']:.1f} % | "
                     f"{100 * row['mfu']:.1f} % | {memory} | {row['eval_questions_per_s']:,.0f} |")
    pairs = (("fast", "fast, packed"), ("fast", "fast, packed, flex"), ("file", "file, packed"))

    def ratios(key: str, of: str) -> str:  # packed / plain for the pairs that both ran
        return "; ".join(f"{packed}: {by_name[packed][key] / by_name[plain][key]:.2f}x {of} {plain}"
                         for plain, packed in pairs if key in by_name.get(plain, {}) and key in by_name.get(packed, {}))

    return "\n".join(lines + ["",
                              f"Packed against bucketed, same run: {ratios('examples_per_s', 'the examples/s of')}.",
                              f"Evaluation questions/s on {result['eval_rows']:,} questions, packed against by "
                              f"length: {ratios('eval_questions_per_s', 'those of')}."]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-file", type=Path, default=REPO / "configs" / "cpu_small.yaml")
    parser.add_argument("--rows", type=int, default=8000, help="questions of generated data")
    parser.add_argument("--pack-length", type=int, default=256, help="tokens of a packed row")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="steps of each section per round")
    parser.add_argument("--eval-rows", type=int, default=2000, help="questions each evaluation reads")
    add_output_options(parser, "throughput")
    args = parser.parse_args()
    result = measure(args.run_file.resolve(), args.rows, args.pack_length, args.rounds, args.steps, args.eval_rows)
    text = markdown(result, " ".join(["bench/throughput.py", *sys.argv[1:]]))
    publish(result, text, args, "throughput")


if __name__ == "__main__":
    main()
