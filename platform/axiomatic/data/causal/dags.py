"""Every DAG on N nodes up to isomorphism (N = 2..6), and sampled ones for N = 7..8.

A graph on ``n`` nodes is an (n, n) bool adjacency, ``adjacency[u, v]`` meaning u -> v. Its *code*
is an integer with one bit per ordered pair: the n(n-1)/2 forward pairs (u < v) take the low bits
in row-major order ((0, 1), (0, 2), ..., (1, 2), ...), the backward pairs the bits above them. The
*canonical code* is the smallest code over all n! relabellings. Because every DAG has a
topological labelling, whose code has no backward bit, the canonical code is always that of an
upper-triangular graph: the canonical representative's edges run from lower to higher index, and
its forward-pair numbering is the one the Corr2Cause generator uses, so our representatives and
their order are Corr2Cause's (the smallest code among a DAG's topological labellings).

Codes for all relabellings come from one matrix product per chunk of graphs: relabelling ``p``
moves edge (a, b) to (p[a], p[b]), so a graph's code under every ``p`` is its flattened adjacency
times a (n*n, n!) table of bit weights. The weights are split into a forward and a backward half
so that each half stays below 2^28 and float64 BLAS sums it exactly (n <= 8).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

EXHAUSTIVE = range(2, 7)  # every DAG up to isomorphism
SAMPLED = range(7, 9)  # random DAGs, deduplicated up to isomorphism
DAG_COUNTS = {2: 2, 3: 6, 4: 31, 5: 302, 6: 5984}  # OEIS A003087
_CHUNK_CELLS = 3_000_000  # graphs x relabellings per matrix product: about 24 MB of float64


@functools.lru_cache(maxsize=None)
def permutations(n: int) -> np.ndarray:
    """(n!, n) every relabelling, in lexicographic order (itertools', and Corr2Cause's)."""
    return np.array(list(itertools.permutations(range(n))), dtype=np.int64)


def forward_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The (u, v), u < v, pairs in row-major order: forward pair k is bit k of a code."""
    return np.triu_indices(n, k=1)


@functools.lru_cache(maxsize=None)
def _weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(forward, backward) bit-weight tables (n*n, n!): row a*n+b holds the weight that edge
    (a, b) carries under each relabelling, split by where the relabelled edge points."""
    half = n * (n - 1) // 2
    bit = np.zeros((n, n), dtype=np.int64)
    u, v = forward_pairs(n)
    bit[u, v] = np.arange(half)
    bit[v, u] = np.arange(half)
    perms = permutations(n)
    a, b = np.divmod(np.arange(n * n), n)
    new_a, new_b = perms[:, a], perms[:, b]  # (n!, n*n)
    weight = np.where(new_a == new_b, 0.0, 2.0 ** bit[new_a, new_b])
    forward = np.where(new_a < new_b, weight, 0.0).T.copy()
    backward = np.where(new_a > new_b, weight, 0.0).T.copy()
    return forward, backward


def relabelled_codes(adjacency: np.ndarray) -> np.ndarray:
    """(B, n!) int64: the code of every relabelling of every graph (permutations(n) order)."""
    count, n, _ = adjacency.shape
    forward, backward = _weights(n)
    flat = adjacency.reshape(count, n * n).astype(np.float64)
    half = n * (n - 1) // 2
    return ((flat @ backward).astype(np.int64) << half) | (flat @ forward).astype(np.int64)


def canonical_codes(adjacency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, perm): each graph's smallest code over all relabellings, and the first
    (lexicographic) relabelling that reaches it. Works for any directed graph, CPDAGs included."""
    count, n, _ = adjacency.shape
    step = max(1, _CHUNK_CELLS // len(permutations(n)))
    codes = np.empty(count, dtype=np.int64)
    best = np.empty(count, dtype=np.int64)
    for start in range(0, count, step):
        chunk = relabelled_codes(adjacency[start : start + step])
        best[start : start + step] = chunk.argmin(axis=1)
        codes[start : start + step] = chunk.min(axis=1)
    return codes, best


def decode(codes: np.ndarray, n: int) -> np.ndarray:
    """(B, n, n) bool adjacency of each code."""
    half = n * (n - 1) // 2
    u, v = forward_pairs(n)
    codes = np.asarray(codes, dtype=np.int64)
    adjacency = np.zeros((codes.size, n, n), dtype=bool)
    adjacency[:, u, v] = (codes[:, None] >> np.arange(half)) & 1
    adjacency[:, v, u] = (codes[:, None] >> (half + np.arange(half))) & 1
    return adjacency


def encode(adjacency: np.ndarray) -> np.ndarray:
    """(B,) int64 code of each graph as labelled (no relabelling)."""
    n = adjacency.shape[1]
    half = n * (n - 1) // 2
    u, v = forward_pairs(n)
    weights = np.int64(1) << np.arange(half, dtype=np.int64)
    forward = (adjacency[:, u, v] * weights).sum(axis=1)
    backward = (adjacency[:, v, u] * weights).sum(axis=1)
    return (backward << half) | forward


@functools.lru_cache(maxsize=None)
def all_dags(n: int) -> np.ndarray:
    """(K, n, n) every DAG on n nodes up to isomorphism, as canonical representatives sorted by
    canonical code (Corr2Cause's order). Read-only: the array is cached."""
    if n not in EXHAUSTIVE:
        raise ValueError(f"nodes: every DAG up to isomorphism is enumerated for N = 2..6, got {n}")
    half = n * (n - 1) // 2
    upper = decode(np.arange(2**half, dtype=np.int64), n)  # every forward-only graph
    codes, _ = canonical_codes(upper)
    dags = decode(np.unique(codes), n)
    dags.flags.writeable = False
    return dags


def sample_dags(rng: np.random.Generator, n: int, count: int, edge_prob: float = 0.5) -> np.ndarray:
    """(count, n, n) random DAGs, pairwise non-isomorphic, as canonical representatives.

    Each forward pair of a random node order is an edge with probability ``edge_prob`` (0.5 is
    the average density of the exhaustive sets); draws isomorphic to an earlier one are dropped
    by exact canonical code (all n! relabellings: 40,320 at N = 8, about a second per 2,000
    graphs), so the set holds ``count`` distinct DAGs, in the order they were first drawn.
    """
    half = n * (n - 1) // 2
    u, v = forward_pairs(n)
    seen: dict[int, None] = {}
    while len(seen) < count:
        draws = np.zeros((count, n, n), dtype=bool)
        draws[:, u, v] = rng.random((count, half)) < edge_prob
        for code in canonical_codes(draws)[0].tolist():
            if len(seen) == count:
                break
            seen.setdefault(code)
    return decode(np.fromiter(seen, dtype=np.int64, count=count), n)
