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
