"""A run's datasets as the loop reads them: the training set (leakage-checked against every
suite), the validation split (by premise where rows share one), the suites and the curriculum
stages' sets, each in the input order the run reads (``train.question_first``, ``train.given_first``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from axiomatic.data import packing, rendering
from axiomatic.data.dataset import Dataset
from axiomatic.data.store import Store
from axiomatic.train.config import RunConfig
from axiomatic.train.steps import validation_rows


@dataclass
class RunData:
    train: Dataset
    val: Dataset
    suites: dict[str, Dataset]
    digest: str
    stages: list[Dataset] = field(default_factory=list)  # curriculum training sets, in order


def load_data(run: RunConfig, store: Store) -> RunData:
    """Training set (checked for leakage against every suite), validation split and suites."""
    data, manifest = store.training_set(run.data)
    rng = np.random.default_rng(run.data.seed)
    n_val = validation_rows(len(data), run.train.val_share)
    if data.questions_per_row > 1:
        # the questions of one premise train together, so a premise is in one split only
        train_rows, val_rows = packing.split_by_premise(data, n_val, rng)
    else:
        order = rng.permutation(len(data))
        train_rows, val_rows = order[n_val:], order[:n_val]
    val = data.subset(val_rows)
    suites = {name: store.suite(name)[0] for name in run.suites}
    stages = [without_rows_of(store.training_set(stage.data)[0], val) for stage in run.curriculum]
    ordered = input_order(run)
    return RunData(ordered(data.subset(train_rows)), ordered(val),
                   {name: ordered(suite) for name, suite in suites.items()}, manifest["digest"],
                   [ordered(stage) for stage in stages])


def input_order(run: RunConfig):
    """The function that puts a dataset's rows in the order this run reads them: the paper's
    (premise first) unchanged, or with ``train.given_first``'s and ``train.question_first``'s
    moves (the given set first within the question, then the question before the premise)."""
    moves = [move for move, wanted in ((rendering.given_first, run.train.given_first),
                                       (rendering.question_first, run.train.question_first)) if wanted]

    def ordered(data: Dataset) -> Dataset:
        for move in moves:
            data = move(data)
        return data
    return ordered


def without_rows_of(data: Dataset, held_out: Dataset) -> Dataset:
    """``data`` minus any row whose (premise, question) is in ``held_out``: a curriculum stage
    must not train on the validation split it is judged by."""
    seen = set(held_out.row_keys())
    keep = np.array([key not in seen for key in data.row_keys()], dtype=bool)
    return data if keep.all() else data.subset(keep)
