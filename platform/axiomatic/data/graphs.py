"""Causal structures in batches: chains with flipped edges, random DAGs, and their truths.

A batch of ``B`` graphs on ``n`` nodes is a boolean adjacency tensor ``(B, n, n)`` plus the edge
list ``(B, E, 2)`` in the order the premise will state it. Everything is vectorised over the batch;
networkx is only used by tests and the naive benchmark as an independent reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Hypothesis categories: why a pair's answer is what it is.
YES_DIRECT, YES_MULTIHOP, NO_REVERSE, NO_UNRELATED = range(4)
CATEGORY_NAMES = ("yes_direct", "yes_multihop", "no_reverse", "no_unrelated")


@dataclass
class GraphBatch:
    adjacency: np.ndarray  # (B, n, n) bool, adjacency[b, u, v] means u causes v
    edges: np.ndarray  # (B, E, 2) node indices, in premise order

    @property
    def count(self) -> int:
        return self.adjacency.shape[0]

    @property
    def nodes(self) -> int:
        return self.adjacency.shape[1]


def chains(flips: np.ndarray) -> GraphBatch:
    """Chains over positions 0..n-1; edge k joins k and k+1, pointing back where flips[:, k]."""
    count, n_edges = flips.shape
    lower = np.arange(n_edges)
    src = np.where(flips, lower + 1, lower)
    dst = np.where(flips, lower, lower + 1)
    edges = np.stack([src, dst], axis=-1)
    adjacency = np.zeros((count, n_edges + 1, n_edges + 1), dtype=bool)
    rows = np.arange(count)[:, None]
    adjacency[rows, src, dst] = True
    return GraphBatch(adjacency, edges.astype(np.int64))


def random_dags(rng: np.random.Generator, count: int, nodes: int, n_edges: int) -> GraphBatch:
    """Erdős–Rényi DAGs: ``n_edges`` distinct pairs (i < j) drawn uniformly per graph, among the
    graphs in which every node has an edge.

    The premise states edges only, so a node without one would be named by a question and never
    by its premise (a free "No" for transitivity, a name to guess for d-separation): rows that
    drew one are drawn again. Node indices are the topological order; names are random, and the
    premise order is shuffled by the caller, so the index order leaks nothing.
    """
    upper_i, upper_j = np.triu_indices(nodes, k=1)
    if not min_dag_edges(nodes) <= n_edges <= upper_i.size:
        raise ValueError(f"a DAG on {nodes} nodes, every node on an edge, has {min_dag_edges(nodes)} "
                         f"to {upper_i.size} edges, asked {n_edges}")
    edges = np.zeros((count, n_edges, 2), np.int64)
    pending = np.arange(count)
    while pending.size:
        chosen = np.argsort(rng.random((pending.size, upper_i.size)), axis=1)[:, :n_edges]
        drawn = np.stack([upper_i[chosen], upper_j[chosen]], axis=-1)
        edges[pending] = drawn
        touched = np.zeros((pending.size, nodes), bool)
        touched[np.arange(pending.size)[:, None], drawn.reshape(pending.size, -1)] = True
        pending = pending[~touched.all(axis=1)]
    adjacency = np.zeros((count, nodes, nodes), dtype=bool)
    rows = np.arange(count)[:, None]
    adjacency[rows, edges[..., 0], edges[..., 1]] = True
    return GraphBatch(adjacency, edges)


def min_dag_edges(nodes: int) -> int:
    """The fewest edges ``random_dags`` accepts on ``nodes`` nodes: n - 1. Fewer could still touch
    every node (down to n / 2), but so few graphs do that drawing them by rejection would crawl."""
    return nodes - 1


def reverse_order(batch: GraphBatch) -> GraphBatch:
    return GraphBatch(batch.adjacency, batch.edges[:, ::-1].copy())


def shuffle_order(rng: np.random.Generator, batch: GraphBatch, rows: np.ndarray | None = None) -> GraphBatch:
    """Random premise order, for every row or only the rows selected by a boolean mask."""
    perm = np.argsort(rng.random(batch.edges.shape[:2]), axis=1)
    shuffled = np.take_along_axis(batch.edges, perm[..., None], axis=1)
    if rows is not None:
        shuffled = np.where(rows[:, None, None], shuffled, batch.edges)
    return GraphBatch(batch.adjacency, shuffled)


def transitive_closure(adjacency: np.ndarray) -> np.ndarray:
    """reach[b, u, v]: a directed path of length >= 1 leads from u to v (Warshall, batched)."""
    reach = adjacency.copy()
    for k in range(reach.shape[1]):
        reach |= reach[:, :, k : k + 1] & reach[:, k : k + 1, :]
    return reach


def skeleton_distances(adjacency: np.ndarray) -> np.ndarray:
    """(B, n, n) edges on the shortest path between u and v with direction ignored; 0 on the
    diagonal and between nodes no path joins (breadth-first, one hop per step, batched)."""
    skeleton = adjacency | adjacency.transpose(0, 2, 1)
    distance = np.zeros(adjacency.shape, dtype=np.int64)
    reached = np.broadcast_to(np.eye(adjacency.shape[1], dtype=bool), adjacency.shape).copy()
    for hops in range(1, adjacency.shape[1]):
        grown = reached | (reached[:, :, :, None] & skeleton[:, None, :, :]).any(axis=2)
        distance[grown & ~reached] = hops
        if (grown == reached).all():
            break
        reached = grown
    return distance


def pair_categories(adjacency: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """(4, B, n, n) masks of the ordered pairs (x, y), x != y, in each hypothesis category."""
    reverse = reach.transpose(0, 2, 1)
    off_diagonal = ~np.eye(adjacency.shape[1], dtype=bool)
    return np.stack([
        adjacency,
        reach & ~adjacency,
        reverse,
        ~reach & ~reverse & off_diagonal,
    ])


def d_separated(adjacency: np.ndarray, x: np.ndarray, y: np.ndarray, given: np.ndarray) -> np.ndarray:
    """(B,) bool: x and y are d-separated given the node set ``given`` in each graph of the batch.

    adjacency (B, n, n) bool; x, y (B,) node indices; given (B, n) bool, holding neither x nor y.
    The moral-ancestral-graph criterion, batched: keep the ancestors of {x, y} and the given set,
    marry the parents of every common child, drop direction and the given nodes, and ask whether
    x still reaches y. Agrees with ``networkx.is_d_separator`` (tests), without a Python loop per
    query, which is what makes a 175k-item training set or every query of every six-node DAG cheap.
    """
    count, n, _ = adjacency.shape
    rows = np.arange(count)
    ancestral = given.copy()
    ancestral[rows, x] = True
    ancestral[rows, y] = True
    for _ in range(n - 1):  # a directed path into the set has at most n - 1 edges
        grown = ancestral | (adjacency & ancestral[:, None, :]).any(axis=2)
        if (grown == ancestral).all():
            break
        ancestral = grown
    kept = adjacency & ancestral[:, :, None] & ancestral[:, None, :]
    as_int = kept.astype(np.uint8)
    married = (as_int @ as_int.transpose(0, 2, 1)) > 0  # p and q share a child
    open_nodes = ancestral & ~given
    moral = (kept | kept.transpose(0, 2, 1) | married) & open_nodes[:, :, None] & open_nodes[:, None, :]
    reached = np.zeros((count, n), dtype=bool)
    reached[rows, x] = True
    for _ in range(n - 1):
        grown = reached | (moral & reached[:, :, None]).any(axis=1)
        if (grown == reached).all():
            break
        reached = grown
    return ~reached[rows, y]
