"""Training rows: one premise with the questions asked of it, back to back in one row.

A dataset stores one question per row (``premise + question``), which is what evaluation reads.
For training with ``data.questions_per_premise: k`` the rows that share a premise are put into
one row ``premise + q1 + q2 + ... + qk`` whose layout (:mod:`axiomatic.model.layout`) lets each
question see the premise and itself only: k labels for one pass over the premise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from axiomatic.data import tokenizer
from axiomatic.data.dataset import Dataset

PERIOD = tokenizer.TOKEN_ID["."]
ABSENT = -1  # label of a question slot a row does not use


@dataclass
class TrainingRows:
    tokens: np.ndarray     # (R, T) uint8: the premise, then its questions, right-padded
    premise: np.ndarray    # (R,) int32: premise tokens
    questions: np.ndarray  # (R, K) int32: tokens of each question, 0 for absent slots (last)
    labels: np.ndarray     # (R, K) int8: 1 Yes, 0 No, ABSENT

    def __len__(self) -> int:
        return int(self.premise.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        return self.premise + self.questions.sum(axis=1)


def premise_lengths(data: Dataset) -> np.ndarray:
    """Tokens before each row's question, which starts after the premise's last period: the last
    one before the row's final token (a Corr2Cause hypothesis is a statement ending in one; no
    template has a period inside its question)."""
    columns = np.arange(data.tokens.shape[1])
    periods = (data.tokens == PERIOD) & (columns[None, :] < data.lengths[:, None] - 1)
    return (np.where(periods, columns, -1).max(axis=1) + 1).astype(np.int32)


def premise_groups(data: Dataset) -> np.ndarray:
    """A group id per row; rows with the same premise tokens share one."""
    premise = premise_lengths(data)
    keys = np.array([data.tokens[i, : premise[i]].tobytes() for i in range(len(data))], dtype=object)
    return np.unique(keys, return_inverse=True)[1].astype(np.int64)


def single_questions(data: Dataset) -> TrainingRows:
    """Every row as it is: one question per training row."""
    premise = premise_lengths(data)
    return TrainingRows(data.tokens, premise, (data.lengths - premise)[:, None].astype(np.int32),
                        data.labels[:, None].astype(np.int8))


def by_premise(data: Dataset, k: int) -> TrainingRows:
    """Rows that share a premise, up to k at a time, as one row each (premise stated once)."""
    premise = premise_lengths(data)
    question = data.lengths - premise
    group = premise_groups(data)
    order = np.argsort(group, kind="stable")
    rank = np.empty_like(order)
    starts = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]])
    rank[order] = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    # chunk = one output row: a group's members k at a time; slot = the place within it
    chunk = np.unique(group * len(order) + rank // k, return_inverse=True)[1]
    slot = rank % k
    n_rows = int(chunk.max()) + 1 if len(order) else 0
    questions = np.zeros((n_rows, k), np.int32)
    questions[chunk, slot] = question
    labels = np.full((n_rows, k), ABSENT, np.int8)
    labels[chunk, slot] = data.labels
    row_premise = np.zeros(n_rows, np.int32)
    row_premise[chunk] = premise
    # each question lands after the premise and the questions of lower slots in its row
    offset = row_premise[chunk] + (np.cumsum(questions, axis=1) - questions)[chunk, slot]
    tokens = np.zeros((n_rows, int((row_premise + questions.sum(axis=1)).max(initial=0))), np.uint8)
    columns = np.arange(data.tokens.shape[1])[None, :]
    first = slot == 0
    src, col = np.nonzero((columns < premise[:, None]) & first[:, None])
    tokens[chunk[src], col] = data.tokens[src, col]
    src, col = np.nonzero((columns >= premise[:, None]) & (columns < data.lengths[:, None]))
    tokens[chunk[src], offset[src] + col - premise[src]] = data.tokens[src, col]
    return TrainingRows(tokens, row_premise, questions, labels)


def split_by_premise(data: Dataset, n_val: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, val) with about ``n_val`` validation rows and no premise in both."""
    group = premise_groups(data)
    picked = rng.permutation(int(group.max()) + 1)
    sizes = np.bincount(group)[picked]
    val_groups = picked[: int(np.searchsorted(np.cumsum(sizes), n_val)) + 1]
    is_val = np.isin(group, val_groups)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


# ---------------------------------------------------------------------------------------------
# packed rows: several instances (training rows as above) back to back in one row of fixed length


@dataclass
class Packing:
    """Which instance lengths share a row of ``row_length`` tokens, and where each one starts.

    A function of the lengths alone: slot s holds an instance of ``length[s]`` tokens in row
    ``row[s]`` from column ``offset[s]``, as that row's ``index[s]``-th instance. Slots are sorted
    by row, so row r's are ``start[r]:start[r + 1]``. Each epoch only decides which instance of
    a length fills which slot of that length (:func:`packed_batches`), so every epoch has the same
    rows, the same number of batches and the same shapes.
    """

    row_length: int
    length: np.ndarray  # (N,) int64
    row: np.ndarray     # (N,) int64
    offset: np.ndarray  # (N,) int64
    index: np.ndarray   # (N,) int64
    start: np.ndarray   # (rows + 1,) int64

    @property
    def rows(self) -> int:
        return len(self.start) - 1

    @property
    def slots(self) -> int:
        """Instances in the fullest row."""
        return int(np.diff(self.start).max(initial=0))

    @property
    def padding(self) -> float:
        """Share of the rows' tokens that no instance fills."""
        return 1.0 - float(self.length.sum()) / max(1, self.rows * self.row_length)


def pack(lengths: np.ndarray, row_length: int) -> Packing:
    """Best-fit decreasing: the longest instance first, each into the open row it fills most
    tightly, or a new row. Rows come out within a few tokens of full (instances are short next to
    a row), and deterministically: the layout depends on the lengths, not on any seed."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) and int(lengths.max()) > row_length:
        raise ValueError(f"an instance of {int(lengths.max())} tokens does not fit a row of {row_length}")
    ordered = np.sort(lengths)[::-1]
    with_room = np.zeros(row_length + 1, np.int64)  # open rows by free tokens
    open_rows: list[list[int]] = [[] for _ in range(row_length + 1)]
    used: list[int] = []  # tokens taken in each row so far
    row, offset = np.empty(len(ordered), np.int64), np.empty(len(ordered), np.int64)
    for s, length in enumerate(ordered.tolist()):
        fits = np.flatnonzero(with_room[length:])
        if fits.size:
            free = length + int(fits[0])
            r = open_rows[free].pop()
            with_room[free] -= 1
        else:
            free, r = row_length, len(used)
            used.append(0)
        row[s], offset[s] = r, used[r]
        used[r] += length
        open_rows[free - length].append(r)
        with_room[free - length] += 1
    by_row = np.lexsort((offset, row))
    row, offset, ordered = row[by_row], offset[by_row], ordered[by_row]
    start = np.searchsorted(row, np.arange(len(used) + 1))
    index = np.arange(len(row)) - start[row]
    return Packing(row_length, ordered.astype(np.int64), row, offset, index, start)


@dataclass
class PackedBatch:
    """One worker's packed batch on the host: instance n goes to row ``row[n]`` (of ``rows``)
    from column ``offset[n]``, as its ``slot[n]``-th instance."""

    instances: np.ndarray
    row: np.ndarray
    offset: np.ndarray
    slot: np.ndarray
    rows: int

    def __len__(self) -> int:
        return len(self.instances)


def packed_batches(packing: Packing, lengths: np.ndarray, rows_per_batch: int, seed: int, epoch: int,
                   rank: int = 0, world: int = 1) -> list[PackedBatch]:
    """This worker's packed batches of one epoch, a function of ``(seed, epoch)`` only: the
    instances of each length are dealt at random to the slots of that length, the rows are
    shuffled, and each batch of ``rows_per_batch * world`` rows split across the workers (a last,
    partial batch is dropped)."""
    rng = np.random.default_rng([seed, epoch])
    # instances sorted by length with ties in random order, slots sorted by length: the k-th of
    # each fills the k-th of the other (the two hold the same multiset of lengths)
    instance = dealt(packing, np.lexsort((rng.random(len(lengths)), lengths)))
    order = rng.permutation(packing.rows)
    step = rows_per_batch * world
    return [rows_of(packing, instance, order[first : first + step][rank::world])
            for first in range(0, packing.rows - step + 1, step)]


def in_order(packing: Packing, lengths: np.ndarray, rows_per_batch: int) -> list[PackedBatch]:
    """Every instance once, the rows in order, the last batch possibly holding fewer rows:
    evaluation's packed batches, the same at every call."""
    instance = dealt(packing, np.argsort(lengths, kind="stable"))
    return [rows_of(packing, instance, np.arange(first, min(first + rows_per_batch, packing.rows)))
            for first in range(0, packing.rows, rows_per_batch)]


def dealt(packing: Packing, by_length: np.ndarray) -> np.ndarray:
    """The instance in each slot, given the instances in order of length (``by_length``): the
    slots sorted by length take them in that order."""
    instance = np.empty(len(by_length), np.int64)
    instance[np.argsort(packing.length, kind="stable")] = by_length
    return instance


def rows_of(packing: Packing, instance: np.ndarray, rows: np.ndarray) -> PackedBatch:
    """The packed rows ``rows`` (in that order) as one batch."""
    counts = packing.start[rows + 1] - packing.start[rows]
    slots = np.concatenate([np.arange(packing.start[r], packing.start[r + 1]) for r in rows])
    return PackedBatch(instance[slots], np.repeat(np.arange(len(rows)), counts),
                       packing.offset[slots], packing.index[slots], len(rows))
