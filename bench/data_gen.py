"""Benchmark: generate and tokenize the 175k-instance TS2 training set on one core.

    .venv/bin/python bench/data_gen.py [--reference-sample 5000] [--repeats 3] [--no-append]

Times three things, all pinned to CPU 0 with one thread:

1. ``mixtures.generate(mixtures.preset("TS2"))``: structures, names, labels, hypothesis choice
   and tokenization into uint8 arrays (the platform's vectorised path);
2. ``Store.training_set`` on the same spec in a fresh temporary cache: the above plus building
   and caching every evaluation suite, the leakage check, the shortcut baselines and the writes
   (what a first trial on a new node pays), and then the cached load;
3. a naive reference written here: per instance, plain-Python name and chain sampling (same TS2
   mixture), a networkx DiGraph, ``nx.has_path`` per candidate hypothesis, the sentences rendered
   as strings and tokenized string by string with ``tokenizer.encode``, then padded into arrays.
   It runs on a subsample and is reported per instance.

Prints a Markdown block and appends it to docs/benchmarks.md (unless --no-append).
"""

from __future__ import annotations

import os

# Thread pools must be sized before numpy (or anything that loads BLAS / OpenMP) is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "TORCH_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402  (the standard library's: the repo's platform/ is not a package)
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from axiomatic.data import DataSpec, Store, generate, preset, suites, tokenizer  # noqa: E402
from axiomatic.data.mixtures import KINDS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = REPO / "docs" / "benchmarks.md"
BENCHMARKS_HEADER = "# Benchmarks\n\nMeasured figures, appended by the scripts in `bench/` (newest last).\n"


# ---------------------------------------------------------------- the naive reference

def naive_instance(rng: random.Random, spec: DataSpec, kind: str, want_yes: bool):
    """One instance the straightforward way: Python lists, a networkx graph, strings."""
    n = rng.randint(*spec.chain_lengths)
    names: list[str] = []
    while len(names) < n:
        name = "".join(rng.choice(spec.alphabet) for _ in range(rng.randint(*spec.name_length)))
        if name not in names:
            names.append(name)
    edges = []
    for k in range(n - 1):
        flipped = kind == "flipped" and rng.random() < spec.flip_prob
        edges.append((names[k + 1], names[k]) if flipped else (names[k], names[k + 1]))
    if kind == "reversed":
        edges.reverse()
    graph = nx.DiGraph(edges)
    # Draw pairs until one has the wanted label (a chain always has both kinds of pair).
    while True:
        x, y = rng.sample(names, 2)
        if nx.has_path(graph, x, y) == want_yes:
            break
    premise = " ".join(f"{a} causes {b}." for a, b in edges)
    hypothesis = f"Does {x} cause {y}?"
    return premise, hypothesis, "Yes" if want_yes else "No"


def naive_generate(count: int, seed: int = 0):
    spec = preset("TS2")
    rng = random.Random(seed)
    shares = spec.resolved_shares().as_array()
    kinds = rng.choices(KINDS, weights=shares, k=count)
    records = [naive_instance(rng, spec, kind, i % 2 == 0) for i, kind in enumerate(kinds)]
    rows = [tokenizer.encode(p, h) for p, h, _ in records]
    lengths = np.array([len(r) for r in rows], dtype=np.int32)
    tokens = np.zeros((count, int(lengths.max())), dtype=np.uint8)
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = row
    labels = np.array([tokenizer.encode_label(lab) for _, _, lab in records], dtype=np.uint8)
    return tokens, lengths, labels


# ---------------------------------------------------------------- timing

class Clock:
    """Wall and CPU seconds of one call. On a shared machine the two differ: CPU time is what
    the work costs, wall time what it cost while other processes took turns on the core."""

    def __init__(self, fn):
        wall, cpu = time.perf_counter(), time.process_time()
        self.result = fn()
        self.wall = time.perf_counter() - wall
        self.cpu = time.process_time() - cpu


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}{f' ({model})' if model else ''}, os.cpu_count() = {os.cpu_count()}, "
            f"Python {platform.python_version()}, numpy {np.__version__}, networkx {nx.__version__}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-sample", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-append", action="store_true", help="print only, do not touch docs/")
    args = parser.parse_args()

    os.sched_setaffinity(0, {0})
    spec = preset("TS2")
    size = spec.size

    generate(preset("TS2", size=2000))  # warm imports and numpy's caches
    runs = [Clock(lambda: generate(spec)) for _ in range(args.repeats)]
    data = runs[-1].result
    assert len(data) == size and int(data.labels.sum()) == size // 2
    fast = sorted(runs, key=lambda c: c.wall)[len(runs) // 2]  # the median run
    fast_best = min(c.wall for c in runs)

    with tempfile.TemporaryDirectory(prefix="axiomatic-bench-") as cache:
        first = Clock(lambda: Store(root=cache).training_set(spec))
        again = Clock(lambda: Store(root=cache).training_set(spec))
        stored, manifest = first.result
        n_suites = manifest["leakage"]["checked_suites"]
    # The suites part of the first call, measured on its own in another fresh cache.
    with tempfile.TemporaryDirectory(prefix="axiomatic-bench-") as other:
        suites_only = Clock(lambda: [Store(root=other).suite(n) for n in suites.all_names()])
    assert len(stored) == size - manifest["leakage"]["dropped"]

    sample = args.reference_sample
    naive = Clock(lambda: naive_generate(sample))
    tokens, _, labels = naive.result
    assert tokens.shape[0] == sample and int(labels.sum()) == (sample + 1) // 2

    fast_rate, fast_cpu_rate = size / fast.wall, size / fast.cpu
    naive_rate, naive_cpu_rate = sample / naive.wall, sample / naive.cpu
    ratio, cpu_ratio = fast_rate / naive_rate, fast_cpu_rate / naive_cpu_rate
    date = subprocess.run(["date"], capture_output=True, text=True).stdout.strip()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    command = ".venv/bin/python bench/data_gen.py"
    def verdict(ok):
        return "met" if ok else "NOT met"

    def row(what, n, clock):
        rate = f"{n / clock.wall:,.0f} | {n / clock.cpu:,.0f}" if n else " | "
        return f"| {what} | {f'{n:,}' if n else ''} | {clock.wall:.3f} | {clock.cpu:.3f} | {rate} |"

    block = f"""
## Data generation: TS2, 175,000 instances, one core ({date})

Command: `{command}` (pins itself to CPU 0; OMP/BLAS/torch threads = 1).
Machine: {machine()}. Load average at the end of the run: {load} (the machine is shared).

| what | instances | wall s | CPU s | instances/s (wall) | instances/s (CPU) |
|---|---:|---:|---:|---:|---:|
{row(f'`mixtures.generate(preset("TS2"))`: generate + tokenize (median of {args.repeats}; best wall {fast_best:.3f} s)', size, fast)}
{row(f"`Store.training_set`, fresh cache: + {n_suites} suites built and cached, leakage check, baselines, writes", len(stored), first)}
{row(f"the {n_suites} suites alone, built and cached (another fresh cache)", 0, suites_only)}
{row("`Store.training_set`, second request (cached load)", len(stored), again)}
{row("naive reference: Python + networkx `has_path` + string rendering + `tokenizer.encode`", sample, naive)}

Vectorised / naive: **{ratio:.0f}x** by wall time, {cpu_ratio:.0f}x by CPU time.
Goals: >= 175,000 instances/s generate + tokenize: {verdict(fast_rate >= 175_000)} by wall time
({fast_rate:,.0f}/s), {verdict(fast_cpu_rate >= 175_000)} by CPU time ({fast_cpu_rate:,.0f}/s);
>= 10x the reference: {verdict(ratio >= 10)}.
"""
    print(block)
    if not args.no_append:
        BENCHMARKS_MD.parent.mkdir(exist_ok=True)
        if not BENCHMARKS_MD.exists():
            BENCHMARKS_MD.write_text(BENCHMARKS_HEADER)
        with open(BENCHMARKS_MD, "a", encoding="utf-8") as handle:
            handle.write(block)
        print(f"appended to {BENCHMARKS_MD.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
