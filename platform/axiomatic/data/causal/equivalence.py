"""Markov equivalence: skeletons, v-structures, CPDAGs, and the DAGs of an equivalence class.

Two DAGs are Markov equivalent (imply the same independences) iff they share the skeleton and
the v-structures (Verma and Pearl). A class is drawn as its CPDAG: the edges every member orients
alike are directed, the rest undirected. networkx has no CPDAG, so it is built here: orient the
v-structures, then Meek's rules to a fixpoint (R1-R3 complete a DAG's pattern; R4 is needed once
an edge has been oriented by choice, as member enumeration does). Members are enumerated by
orienting one undirected edge both ways and closing each branch under R1-R4, recursively; every
leaf is a member and no branch dies (Meek 1995), which the tests check against brute force.

Everything works on batches: directed and undirected parts are (B, n, n) bool arrays, an
undirected edge appearing in both directions, and each rule is a few boolean matrix products
over the whole batch, so every class of every six-node DAG is handled at once.
"""

from __future__ import annotations

import itertools

import numpy as np

from axiomatic.data import graphs
from axiomatic.data.causal import dags


def skeleton(adjacency: np.ndarray) -> np.ndarray:
    return adjacency | adjacency.swapaxes(-1, -2)


def _count(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched boolean matrix product as counts (float32 is exact for these small sums)."""
    return np.matmul(a.astype(np.float32), b.astype(np.float32))


def _non_adjacent(adjacent: np.ndarray) -> np.ndarray:
    return ~adjacent & ~np.eye(adjacent.shape[-1], dtype=bool)


def v_structures(adjacency: np.ndarray) -> np.ndarray:
    """(B, n, n, n) bool: [b, i, k, j] for every v-structure i -> k <- j (i < j, i and j not
    adjacent) of each DAG."""
    apart = _non_adjacent(skeleton(adjacency))
    v = adjacency[:, :, :, None] & adjacency[:, None, :, :].swapaxes(2, 3) & apart[:, :, None, :]
    n = adjacency.shape[-1]
    return v & (np.arange(n)[:, None, None] < np.arange(n)[None, None, :])


def cpdag(adjacency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(directed, undirected) CPDAG of each DAG: v-structure edges, then Meek R1-R3."""
    v = v_structures(adjacency)
    directed = v.any(axis=3) | v.any(axis=1).swapaxes(1, 2)  # i -> k and j -> k of each i -> k <- j
    undirected = skeleton(adjacency) & ~directed & ~directed.swapaxes(1, 2)
    return meek_closure(directed, undirected, rule4=False)


def meek_closure(directed: np.ndarray, undirected: np.ndarray,
                 rule4: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Apply Meek's rules to every PDAG of the batch until none orients another edge.

    R1  a -> b - c, a and c not adjacent                                  =>  b -> c
    R2  a -> b -> c, a - c                                               =>  a -> c
    R3  a - c -> b, a - d -> b, c and d not adjacent, a - b              =>  a -> b
    R4  a - d -> c -> b, a adjacent to c, d and b not adjacent, a - b    =>  a -> b
    Each rule only orients edges every consistent extension orients so, so all can fire at once.
    """
    directed, undirected = directed.copy(), undirected.copy()
    adjacent = directed | directed.swapaxes(1, 2) | undirected  # fixed: rules only orient
    apart = _non_adjacent(adjacent)
    while True:
        new = _count(directed.swapaxes(1, 2), apart) > 0  # R1: [b, c]
        new |= _count(directed, directed) > 0  # R2: [a, c]
        into = undirected[:, :, None, :] & directed.swapaxes(1, 2)[:, None, :, :]  # [a, b, c]: a - c -> b
        new |= (into & (_count(into, apart[:, None]) > 0)).any(axis=3)  # R3
        if rule4:
            # [a, c, b]: some d with a - d -> c and d, b not adjacent
            via = np.einsum("zad,zdc,zdb->zacb", undirected.astype(np.float32),
                            directed.astype(np.float32), apart.astype(np.float32)) > 0
            new |= (via & (adjacent[:, :, :, None] & directed[:, None, :, :])).any(axis=2)
        new &= undirected
        if not new.any():
            return directed, undirected
        directed |= new
        undirected &= ~(new | new.swapaxes(1, 2))


def mec_members(directed: np.ndarray, undirected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(members, owner): every DAG of each CPDAG's class, members[k] belonging to CPDAG owner[k];
    grouped by owner, in a fixed order."""
    n = directed.shape[-1]
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    d, u, owner = directed, undirected, np.arange(directed.shape[0])
    members, owners = [], []
    while True:
        open_ = u.any(axis=(1, 2))
        members.append(d[~open_])
        owners.append(owner[~open_])
        d, u, owner = d[open_], u[open_], owner[open_]
        if not owner.size:
            break
        rows = np.arange(owner.size)
        i, j = np.divmod((u & upper).reshape(owner.size, n * n).argmax(axis=1), n)  # first open edge
        u = u.copy()
        u[rows, i, j] = u[rows, j, i] = False
        forward, backward = d.copy(), d.copy()
        forward[rows, i, j] = True
        backward[rows, j, i] = True
        d, u = meek_closure(np.concatenate([forward, backward]), np.concatenate([u, u]))
        owner = np.concatenate([owner, owner])
    owner = np.concatenate(owners)
    order = np.argsort(owner, kind="stable")
    return np.concatenate(members)[order], owner[order]


def brute_force_members(adjacency: np.ndarray) -> np.ndarray:
    """The reference: every acyclic orientation of one DAG's skeleton with its v-structures,
    (M, n, n) sorted by code. 2^edges orientations: for small graphs and tests."""
    n = adjacency.shape[0]
    u, v = np.nonzero(np.triu(skeleton(adjacency[None])[0]))
    flips = np.array(list(itertools.product([False, True], repeat=u.size)), dtype=bool)
    flips = flips.reshape(2**u.size, u.size)  # keeps the (1, 0) shape of an edgeless graph
    candidates = np.zeros((flips.shape[0], n, n), dtype=bool)
    rows = np.arange(flips.shape[0])[:, None]
    candidates[rows, np.where(flips, v, u), np.where(flips, u, v)] = True
    acyclic = ~graphs.transitive_closure(candidates).diagonal(axis1=1, axis2=2).any(axis=1)
    same = (v_structures(candidates) == v_structures(adjacency[None])).all(axis=(1, 2, 3))
    members = candidates[acyclic & same]
    return members[np.argsort(dags.encode(members), kind="stable")]


def class_codes(directed: np.ndarray, undirected: np.ndarray) -> np.ndarray:
    """(B,) int64: a key for each CPDAG's class up to isomorphism, the canonical code of the
    graph that has both arcs of an undirected edge and one of a directed one."""
    return dags.canonical_codes(directed | undirected)[0]
