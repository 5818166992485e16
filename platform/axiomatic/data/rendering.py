"""Input orders other than the paper's: the question before the premise, the given set before the pair.

The paper writes the premise, then the question, and the answer is read at the question's ``?``.
Under causal attention the premise's tokens then never see the question: whatever a premise token
computes cannot depend on which pair is asked, so every comparison between the question and the
premise has to happen at the few question tokens. With ``train.question_first`` a row is
``Are X and Y d-separated given {Z}? A causes B. ...`` and the answer is read at the row's last
token (the premise's final ``.``): every premise token can then mark itself as X, Y or a member of
the given set as it is read. A departure from the paper, off by default; it applies to the
training rows, the validation split and every suite alike (published files included), so a model
is always asked in the order it was trained on.

Only rows of one question whose premise is ``A causes B.`` sentences can be turned: transitivity
and d-separation with one question per row. Corr2Cause's hypotheses end in ``.`` like its
premise's sentences, and several questions per row share one premise stated before them.

With ``train.given_first`` a d-separation question states its given set before its pair:
``A causes B. ... given {Z1, Z2} Are X and Y d-separated?``. In the paper's order the given set
stands between the pair and the ``?`` where the answer is read, and a model's accuracy falls with
the set's size (docs/training.md, "d-separation on a CPU"); moved first, the pair sits just
before the answer, as a transitivity question's does, and the pair's tokens can see the whole
set. The same tokens in another order (a row keeps its length), so it packs as the paper's order
does (several questions per premise). Questions without a given set, and transitivity rows,
are left as they are. A departure from the paper, off by default, applied to training,
validation and every suite alike.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from axiomatic.data import packing, tokenizer
from axiomatic.data.dataset import Dataset

PERIOD, QUESTION_MARK = tokenizer.TOKEN_ID["."], tokenizer.TOKEN_ID["?"]
GIVEN, CLOSE = tokenizer.word("given"), tokenizer.TOKEN_ID["}"]


def question_first(data: Dataset) -> Dataset:
    """The same rows with each question moved before its premise (labels and the rest unchanged).

    A row's question is what follows its premise's last ``.``; ValueError when a row has no
    premise or does not end in ``?`` (a row that is not one premise and one question)."""
    if not len(data):
        return data
    columns = np.arange(data.tokens.shape[1])
    inside = columns < data.lengths[:, None]
    periods = (data.tokens == PERIOD) & inside
    last = data.tokens[np.arange(len(data)), data.lengths - 1]
    if not periods.any(axis=1).all() or (last != QUESTION_MARK).any():
        raise ValueError("question_first: every row must be a premise of 'A causes B.' sentences "
                         "followed by one question ending in '?'")
    premise_end = data.tokens.shape[1] - np.argmax(periods[:, ::-1], axis=1)  # just after its last '.'
    question = (data.lengths - premise_end)[:, None]
    # position j of the new row takes the question's token j, then the premise's token j - |question|
    source = np.where(columns < question, premise_end[:, None] + columns, columns - question)
    return _reordered(data, source)


def given_first(data: Dataset) -> Dataset:
    """The same rows with each question's ``given {...}`` moved to the question's start (labels
    and the rest unchanged); rows whose question has no given set come back as they were.
    ValueError when a row does not end in ``?`` (a Corr2Cause hypothesis ends in ``.``)."""
    if not len(data):
        return data
    columns = np.arange(data.tokens.shape[1])
    inside = columns < data.lengths[:, None]
    if (data.tokens[np.arange(len(data)), data.lengths - 1] != QUESTION_MARK).any():
        raise ValueError("given_first: every row must end in a question ending in '?'")
    start = packing.premise_lengths(data)  # where each row's question begins
    in_question = columns >= start[:, None]
    has_given = ((data.tokens == GIVEN) & in_question & inside).any(axis=1)
    given = np.where(has_given, np.argmax((data.tokens == GIVEN) & in_question, axis=1), start)
    close = np.where(has_given, np.argmax((data.tokens == CLOSE) & (columns >= given[:, None]), axis=1) + 1,
                     start)
    clause = (close - given)[:, None]  # the given clause's length, 0 without one
    before = (given - start)[:, None]  # the question's tokens before it: "Are X and Y d-separated"
    offset = columns - start[:, None]
    # the question's slots take the clause first, then what stood before it; the rest stays put
    source = np.where((offset >= 0) & (offset < clause), given[:, None] + offset,
                      np.where((offset >= clause) & (offset < clause + before),
                               start[:, None] + offset - clause, columns))
    return _reordered(data, source)


def _reordered(data: Dataset, source: np.ndarray) -> Dataset:
    """``data`` with position j of each row taking that row's token ``source[j]`` (padding kept;
    labels and the row structure unchanged)."""
    inside = np.arange(data.tokens.shape[1]) < data.lengths[:, None]
    tokens = np.where(inside, np.take_along_axis(data.tokens, np.where(inside, source, 0), axis=1),
                      tokenizer.PAD_ID).astype(np.uint8)
    return replace(data, tokens=tokens)
