"""The transitivity axiom: premises of ``A causes B.`` sentences, ``Does X cause Y?``, Yes iff X ⇝ Y.

Instances are built directly as token arrays, a whole group of same-sized graphs at a time:
structure -> names -> hypothesis categories -> pairs -> tokens. No strings, no per-instance
Python, which is what makes generation fast (see docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from axiomatic.data import graphs, names, tokenizer
from axiomatic.data.dataset import Dataset

CAUSES = tokenizer.word("causes")
CAUSE = tokenizer.word("cause")
DOES = tokenizer.word("Does")
PERIOD = tokenizer.TOKEN_ID["."]
QUESTION = tokenizer.TOKEN_ID["?"]


@dataclass
class Group:
    """Premises of one graph size, with their names: the unit of vectorised work."""

    graphs: graphs.GraphBatch
    name_length: tuple[int, int]


def generate(rng: np.random.Generator, groups: list[Group], alphabet: str,
             hypotheses_per_premise: int = 1, balance: bool = True,
             balance_within_premise: bool = False, hop_balance: bool = False) -> Dataset:
    """Label, pick hypotheses for, and tokenize every premise of every group.

    ``hypotheses_per_premise`` k: rows p*k .. p*k+k-1 ask k distinct questions of premise p. Labels
    are balanced over all rows, or with ``balance_within_premise`` over each premise's k questions
    as far as its pairs allow (which lets k reach every ordered pair of the premise).
    ``hop_balance``: within its category, a question's pair is drawn uniformly over the distances
    (edges apart, direction ignored) the premise offers, then uniformly at that distance, so
    far pairs are as common as near ones (Saparov et al. 2025); otherwise uniformly over pairs.
    """
    alphabet_ids = tokenizer.char_ids(alphabet)
    k = hypotheses_per_premise
    named = [(g, *names.sample_names(rng, g.graphs.count, g.graphs.nodes, g.name_length, alphabet_ids))
             for g in groups]
    truths = [_truths(g.graphs) for g in groups]
    available = np.concatenate([np.repeat(masks.sum(axis=(2, 3)), k, axis=1) for masks in truths], axis=1)
    if balance_within_premise:
        per_premise = available[:, ::k]
        labels = _labels_within_premises(rng, per_premise[0] + per_premise[1],
                                         per_premise[2] + per_premise[3], k)
    else:
        labels = _balanced_labels(rng, available.shape[1])
    wanted = _assign_categories(rng, available, labels, balance, k)
    parts, start = [], 0
    for (group, chars, name_lengths), masks in zip(named, truths):
        stop = start + group.graphs.count * k
        distances = graphs.skeleton_distances(group.graphs.adjacency) if hop_balance else None
        x, y, picked = _pick_pairs(rng, masks, labels[start:stop], wanted[start:stop], k, distances)
        rows = np.repeat(np.arange(group.graphs.count), k)
        tokens, lengths = render(group.graphs.edges[rows], chars[rows], name_lengths[rows], x, y)
        nodes = np.full(len(x), group.graphs.nodes, dtype=np.int32)
        parts.append(Dataset(tokens, lengths, labels[start:stop].astype(np.uint8), picked, nodes))
        start = stop
    return Dataset.concat(parts)


def _truths(batch: graphs.GraphBatch) -> np.ndarray:
    return graphs.pair_categories(batch.adjacency, graphs.transitive_closure(batch.adjacency))


def _balanced_labels(rng: np.random.Generator, count: int) -> np.ndarray:
    """Exactly half Yes (the odd one out is No), in random order."""
    return rng.permutation(np.arange(count) < count // 2)


def _labels_within_premises(rng: np.random.Generator, yes_pairs: np.ndarray, no_pairs: np.ndarray,
                            k: int) -> np.ndarray:
    """k labels per premise, in random order: k // 2 Yes, with the odd question of half the
    premises a Yes too, moved only where a premise has too few pairs of one label."""
    count = yes_pairs.size
    yes = np.full(count, k // 2) + (k % 2) * (rng.permutation(count) < count // 2)
    yes = np.clip(yes, k - no_pairs, yes_pairs)
    labels = np.arange(k)[None, :] < yes[:, None]
    return rng.permuted(labels, axis=1).ravel()


def _assign_categories(rng: np.random.Generator, available: np.ndarray, labels: np.ndarray,
                       balance: bool, k: int = 1) -> np.ndarray:
    """Which category each instance's hypothesis comes from.

    Balanced: half the Yes items multi-hop and half the No items unrelated, as far as the
    structures allow (a sequential chain has no unrelated pair; a 3-node chain with a flip has no
    multi-hop pair); the rest fall back to direct edges and reversed paths. Unbalanced: -1, meaning
    "any pair with this label", the paper's plain uniform sampling.
    """
    if not balance:
        return np.full(labels.shape, -1, dtype=np.int64)
    wanted = np.where(labels, graphs.YES_DIRECT, graphs.NO_REVERSE)
    for label, rarer in ((True, graphs.YES_MULTIHOP), (False, graphs.NO_UNRELATED)):
        members = np.flatnonzero(labels == label)
        candidates = rng.permutation(members[available[rarer, members] > 0])
        # The k hypotheses of one premise (instances p*k .. p*k+k-1) share its pairs: a premise
        # can serve a category at most as often as it has pairs of that category.
        candidates = candidates[_rank_within(candidates // k) < available[rarer, candidates]]
        wanted[candidates[: members.size // 2]] = rarer
    return wanted


def _rank_within(keys: np.ndarray) -> np.ndarray:
    """Each element's rank among the elements with the same key, in array order."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, keys.size]))
    rank = np.empty_like(order)
    rank[order] = np.arange(keys.size) - run_start
    return rank


def _pick_pairs(rng, masks, labels, wanted, k, distances=None):
    """Choose (x, y) per instance: uniformly within its category (uniformly over the distances
    first, when given), distinct within a premise."""
    count = masks.shape[1]
    n = masks.shape[2]
    used = np.zeros((count, n, n), dtype=bool)
    x = np.empty(count * k, dtype=np.int64)
    y = np.empty(count * k, dtype=np.int64)
    picked = np.empty(count * k, dtype=np.uint8)
    label_masks = {True: masks[0] | masks[1], False: masks[2] | masks[3]}
    premises = np.arange(count)
    for step in range(k):
        idx = premises * k + step
        lab, want = labels[idx].astype(bool), wanted[idx]
        any_of_label = np.where(lab[:, None, None], label_masks[True], label_masks[False]) & ~used
        own = masks[np.maximum(want, 0), premises] & ~used
        has_own = (want >= 0) & own.reshape(count, -1).any(axis=1)
        choice = np.where(has_own[:, None, None], own, any_of_label)
        keys = rng.random((count, n * n))
        if distances is not None:
            keys = keys ** _same_distance_counts(choice, distances).reshape(count, -1)
        flat = np.where(choice.reshape(count, -1), keys, -1.0).argmax(axis=1)
        x[idx], y[idx] = np.divmod(flat, n)
        used[premises, x[idx], y[idx]] = True
        picked[idx] = masks[:, premises, x[idx], y[idx]].argmax(axis=0)
    return x, y, picked


def _same_distance_counts(choice: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """(B, n, n): how many of a premise's candidate pairs stand at each pair's distance.

    The largest of u ** c over the candidates (u uniform) picks a pair with probability
    proportional to 1 / c (Efraimidis and Spirakis), so every distance on offer is equally likely.
    """
    levels = np.arange(distances.max() + 1)
    at_level = distances[:, None] == levels[None, :, None, None]  # (B, D, n, n)
    per_level = (at_level & choice[:, None]).sum(axis=(2, 3))  # (B, D)
    return np.take_along_axis(per_level, distances.reshape(len(distances), -1), axis=1).reshape(distances.shape)


# ---------------------------------------------------------------- rendering, shared by the axioms

Piece = tuple[np.ndarray, np.ndarray]  # token ids and the mask of the slots in use, same shape


def spell(chars: np.ndarray, name_lengths: np.ndarray, node: np.ndarray) -> Piece:
    """The name of node ``node[b, ...]`` of row b, as (B, ..., W) character ids and mask."""
    rows = np.arange(len(node)).reshape((-1,) + (1,) * (node.ndim - 1))
    return chars[rows, node], np.arange(chars.shape[-1]) < name_lengths[rows, node][..., None]


def word(token: int, shape: tuple[int, ...]) -> Piece:
    """One token in every slot of ``shape``: (*shape, 1)."""
    return np.full(shape + (1,), token, np.uint8), np.ones(shape + (1,), bool)


def join(pieces: list[Piece]) -> Piece:
    """Pieces side by side along their last axis."""
    return np.concatenate([p[0] for p in pieces], axis=-1), np.concatenate([p[1] for p in pieces], axis=-1)


def premise(edges: np.ndarray, chars: np.ndarray, name_lengths: np.ndarray) -> Piece:
    """``A causes B .`` for every edge, in premise order: (B, E, 2W + 2)."""
    shape = edges.shape[:2]
    return join([spell(chars, name_lengths, edges[..., 0]), word(CAUSES, shape),
                 spell(chars, name_lengths, edges[..., 1]), word(PERIOD, shape)])


def assemble(pieces: list[Piece]) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded token rows (B, T) and lengths: each piece flattened per row, laid end to end."""
    count = len(pieces[0][0])
    values = np.concatenate([p[0].reshape(count, -1) for p in pieces], axis=1)
    mask = np.concatenate([p[1].reshape(count, -1) for p in pieces], axis=1)
    return _compact(values, mask)


def render(edges, chars, name_lengths, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Token rows ``A causes B . ... Does X cause Y ?`` for a batch, right-padded."""
    shape = (len(edges),)
    return assemble([premise(edges, chars, name_lengths), word(DOES, shape), spell(chars, name_lengths, x),
                     word(CAUSE, shape), spell(chars, name_lengths, y), word(QUESTION, shape)])


def _compact(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squeeze out masked-off slots, keeping row order: a right-padded (B, T) matrix."""
    lengths = mask.sum(axis=1).astype(np.int32)
    tokens = np.zeros((values.shape[0], int(lengths.max())), dtype=np.uint8)
    row, _ = np.nonzero(mask)
    column = (np.cumsum(mask, axis=1) - 1)[mask]
    tokens[row, column] = values[mask]
    return tokens, lengths
