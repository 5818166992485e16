"""Shortcut baselines: trivial rules whose accuracy every reported number must be read against.

- mention order: Yes iff X is first mentioned before Y in the premise;
- direct edge: Yes iff the premise states "X causes Y." word for word;
- majority: always answer the suite's more frequent label.

The first two are defined for transitivity questions only (None for d-separation suites). They
are computed on the token arrays (:func:`token_predictions`, vectorised: scoring the 101 suites
once decoded every row back to text, most of a first ``platform data generate``); rows whose
names are longer than ``MAX_NAME`` characters go through the sentence grammar instead.
"""

from __future__ import annotations

import numpy as np

from axiomatic.data import text, tokenizer
from axiomatic.data.dataset import Dataset

NAMES = ("mention_order", "direct_edge", "majority")
MAX_NAME = 10  # characters a name key holds: 6 bits each after a sentinel bit, in an int64
CODE = np.zeros(256, dtype=np.int64)  # token id -> 1..62 for the name characters, 0 otherwise
CODE[tokenizer.CHAR_ID] = np.arange(1, len(tokenizer.CHAR_ID) + 1)
DOES, CAUSE, CAUSES = (tokenizer.word(w) for w in ("Does", "cause", "causes"))


def mention_order(parsed: text.Parsed) -> bool:
    first: dict[str, int] = {}
    for a, b in parsed.edges:
        first.setdefault(a, len(first))
        first.setdefault(b, len(first))
    big = len(first) + 1
    return first.get(parsed.x, big) < first.get(parsed.y, big)


def direct_edge(parsed: text.Parsed) -> bool:
    return (parsed.x, parsed.y) in set(parsed.edges)


def _name_keys(tokens: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(key of the name starting at each position, 0 elsewhere; start position of the name each
    position lies in; whether some name is longer than MAX_NAME)."""
    T = tokens.shape[1]
    columns = np.arange(T)
    code = np.where(columns < lengths[:, None], CODE[tokens], 0)
    is_char = code > 0
    start = is_char & ~np.pad(is_char, ((0, 0), (1, 0)))[:, :T]
    key, inside = start.astype(np.int64), start.copy()
    for offset in range(MAX_NAME):
        ahead = np.pad(code, ((0, 0), (0, offset)))[:, offset:]
        inside &= ahead > 0
        key = np.where(inside, key * 64 + ahead, key)
    too_long = bool((inside & (np.pad(code, ((0, 0), (0, MAX_NAME)))[:, MAX_NAME:] > 0)).any())
    start_of = np.maximum.accumulate(np.where(start, columns, 0), axis=1)
    return key, start_of, too_long


def token_predictions(data: Dataset) -> dict[str, np.ndarray] | None:
    """Both rules on the token arrays: None when a row is not a transitivity question or has a
    name too long for the keys (then :func:`predictions` parses the text)."""
    tokens, rows = data.tokens, np.arange(len(data))
    does = tokens == DOES
    if not len(data) or (does.sum(axis=1) != 1).any():
        return None
    key, start_of, too_long = _name_keys(tokens, data.lengths)
    if too_long:
        return None
    question = does.argmax(axis=1)
    x = key[rows, question + 1]
    y = key[rows, (tokens == CAUSE).argmax(axis=1) + 1]
    columns = np.arange(tokens.shape[1])
    premise = columns[None, :] < question[:, None]
    never = tokens.shape[1]
    first_x = np.where(premise & (key == x[:, None]), columns, never).min(axis=1)
    first_y = np.where(premise & (key == y[:, None]), columns, never).min(axis=1)
    # "A causes B ." : the name ending just before `causes` and the one starting just after it
    before = np.pad(key[rows[:, None], start_of], ((0, 0), (1, 0)))[:, :-1]
    after = np.pad(key, ((0, 0), (0, 1)))[:, 1:]
    edge = premise & (tokens == CAUSES) & (before == x[:, None]) & (after == y[:, None])
    return {"mention_order": first_x < first_y, "direct_edge": edge.any(axis=1)}


def predictions(data: Dataset) -> dict[str, np.ndarray] | None:
    """Each rule's Yes/No answer per row, or None when the suite is not transitivity."""
    fast = token_predictions(data)
    if fast is not None:
        return fast
    parsed = [text.parse(*data.text(i)[:2]) for i in range(len(data))]
    if not parsed or any(p.question != "transitivity" for p in parsed):
        return None
    return {
        "mention_order": np.array([mention_order(p) for p in parsed]),
        "direct_edge": np.array([direct_edge(p) for p in parsed]),
    }


def score(data: Dataset) -> dict[str, float | None]:
    """Accuracy of every shortcut on a dataset."""
    labels = data.labels.astype(bool)
    yes_share = float(labels.mean()) if len(data) else 0.0
    out: dict[str, float | None] = {"mention_order": None, "direct_edge": None,
                                    "majority": max(yes_share, 1 - yes_share)}
    rules = predictions(data)
    if rules is not None:
        out.update({name: float((pred == labels).mean()) for name, pred in rules.items()})
    return out
