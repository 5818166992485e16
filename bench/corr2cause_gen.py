"""Benchmark: the exhaustive Corr2Cause set for N = 2..6 on one core, and d-separation fast vs networkx.

    .venv/bin/python bench/corr2cause_gen.py [--networkx-classes 200] [--no-append]

Times, pinned to CPU 0 with one thread:

1. the class tables from a cold start: every DAG up to isomorphism, CPDAGs, the 2,370 classes,
   their members, labels for every ordered pair and type, and every d-separation statement;
2. ``generate`` of every item (all classes, both pair orders, all six types, natural Yes share,
   random names, full premises): labels, listing orders, names and tokenization;
3. the same premises' d-separation queries (every pair x every conditioning set of the other
   nodes, for every six-node class) with ``graphs.d_separated`` (all classes, batched) and with
   ``networkx.is_d_separator`` one query at a time (a subsample, reported per query).

Prints a Markdown block and appends it to docs/benchmarks.md (unless --no-append).
"""

from __future__ import annotations

import os

# Thread pools must be sized before numpy (or anything that loads BLAS / OpenMP) is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "TORCH_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from axiomatic.data import graphs  # noqa: E402
from axiomatic.data.axioms import corr2cause  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = REPO / "docs" / "benchmarks.md"
sys.path.insert(0, str(REPO / "bench"))
from data_gen import Clock, machine  # noqa: E402


def queries(reps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(class, x, y, given mask) of every premise query: each pair, each set of the other nodes."""
    n = reps.shape[1]
    rows = []
    for x, y in itertools.combinations(range(n), 2):
        rest = [v for v in range(n) if v not in (x, y)]
        for k in range(len(rest) + 1):
            for given in itertools.combinations(rest, k):
                mask = np.zeros(n, dtype=bool)
                mask[list(given)] = True
                rows.append((x, y, mask))
    count = len(reps)
    x = np.tile([r[0] for r in rows], count)
    y = np.tile([r[1] for r in rows], count)
    given = np.tile(np.array([r[2] for r in rows]), (count, 1))
    return np.repeat(np.arange(count), len(rows)), x, y, given


def fast(reps, cls, x, y, given, step: int = 400_000) -> np.ndarray:
    return np.concatenate([graphs.d_separated(reps[cls[s : s + step]], x[s : s + step], y[s : s + step],
                                              given[s : s + step]) for s in range(0, cls.size, step)])


def slow(reps, cls, x, y, given) -> np.ndarray:
    built = {k: nx.DiGraph([(int(a), int(b)) for a, b in zip(*np.nonzero(reps[k]))]) for k in np.unique(cls)}
    for k, g in built.items():
        g.add_nodes_from(range(reps.shape[1]))
    return np.array([nx.is_d_separator(built[k], {int(a)}, {int(b)}, set(np.flatnonzero(z).tolist()))
                     for k, a, b, z in zip(cls, x, y, given)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networkx-classes", type=int, default=200,
                        help="six-node classes whose queries networkx answers (all of them take minutes)")
    parser.add_argument("--no-append", action="store_true", help="print only, do not touch docs/")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})

    tables = Clock(lambda: [corr2cause.class_table(n) for n in range(2, 7)])
    classes = {t.n: len(t.keys) for t in tables.result}
    spec = corr2cause.Corr2CauseSpec(nodes=(2, 6), split="all", balanced=False)
    full = Clock(lambda: corr2cause.generate(spec))
    data = full.result
    expected = sum(k * n * (n - 1) * 6 for n, k in classes.items())
    assert len(data) == expected and classes == {2: 2, 3: 5, 4: 20, 5: 142, 6: 2201}
    tokens = int(data.lengths.sum())
    yes_share = float(data.labels.mean())
    del data

    reps = corr2cause.class_table(6).reps
    cls, x, y, given = queries(reps)
    batched = Clock(lambda: fast(reps, cls, x, y, given))
    picked = np.isin(cls, np.random.default_rng(0).choice(len(reps), args.networkx_classes, replace=False))
    reference = Clock(lambda: slow(reps, cls[picked], x[picked], y[picked], given[picked]))
    assert (reference.result == batched.result[picked]).all()
    fast_rate, slow_rate = cls.size / batched.wall, picked.sum() / reference.wall

    date = subprocess.run(["date"], capture_output=True, text=True).stdout.strip()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    end_to_end = tables.wall + full.wall
    block = f"""
## Corr2Cause: the exhaustive N = 2..6 set, one core ({date})

Command: `.venv/bin/python bench/corr2cause_gen.py` (pins itself to CPU 0; OMP/BLAS threads = 1).
Machine: {machine()}. Load average at the end of the run: {load} (the machine is shared).

| what | count | wall s | CPU s |
|---|---:|---:|---:|
| class tables, cold: DAGs up to isomorphism, CPDAGs, members, labels, d-separation statements | {sum(classes.values()):,} classes | {tables.wall:.2f} | {tables.cpu:.2f} |
| `generate`: every item (both orders, six types, natural share, random names, full premises) | {expected:,} items, {tokens / 1e6:.1f} M tokens | {full.wall:.2f} | {full.cpu:.2f} |
| **end to end** | | **{end_to_end:.2f}** | {tables.cpu + full.cpu:.2f} |
| `graphs.d_separated`, every premise query of every six-node class | {cls.size:,} queries | {batched.wall:.2f} | {batched.cpu:.2f} |
| `networkx.is_d_separator`, one query at a time ({args.networkx_classes} classes) | {int(picked.sum()):,} queries | {reference.wall:.2f} | {reference.cpu:.2f} |

Classes per N: {", ".join(f"{n}: {k:,}" for n, k in classes.items())}; Yes share {yes_share:.3f}.
d-separation: {fast_rate:,.0f} queries/s batched against {slow_rate:,.0f}/s with networkx,
**{fast_rate / slow_rate:.0f}x** (same answers on every compared query). Goal <= 60 s end to end:
{"met" if end_to_end <= 60 else "NOT met"}.
"""
    print(block)
    if not args.no_append:
        with open(BENCHMARKS_MD, "a", encoding="utf-8") as handle:
            handle.write(block)
        print(f"appended to {BENCHMARKS_MD.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
