"""Shortcut baselines: trivial rules whose accuracy every reported number must be read against.

Transitivity questions (``Does X cause Y?``):

- mention order: Yes iff X is first mentioned before Y in the premise;
- direct edge: Yes iff the premise states "X causes Y." word for word.

d-separation questions (``Are X and Y d-separated given {Z..}?``), their analogues:

- no edge: Yes iff neither "X causes Y." nor "Y causes X." is stated (adjacent nodes are never
  d-separated, so this is right on every adjacent pair: the direct-edge rule turned round);
- blocked between: Yes iff a given node is first mentioned strictly between X and Y (a reader
  who takes the premise for a chain in mention order and blocks it at any given node);
- nonempty given: Yes iff the conditioning set is not empty;
- skeleton cut: Yes iff the given nodes cut every path between X and Y with edge directions
  ignored (colliders read like any other node: the rule d-separation differs from).

And for every suite, majority: always answer the suite's more frequent label.

A rule that does not apply to a suite's questions scores None. The transitivity rules are
computed on the token arrays (:func:`token_predictions`, vectorised: scoring the 101 suites
once decoded every row back to text, most of a first ``platform data generate``); rows whose
names are longer than ``MAX_NAME`` characters go through the sentence grammar instead. The
d-separation rules read the parsed sentences (about 4 ms per 100 rows: a 500-item suite or the
5,000-row sample a training set is scored on takes well under a second).
"""

from __future__ import annotations

import numpy as np

from axiomatic.data import tasks, text, tokenizer
from axiomatic.data.dataset import Dataset

# which rules read which task's questions is the task's (tasks.Task.shortcut_rules)
TRANSITIVITY_RULES = tasks.get("transitivity").shortcut_rules
DSEPARATION_RULES = tasks.get("dseparation").shortcut_rules
NAMES = (*dict.fromkeys(rule for task in tasks.all_tasks() for rule in task.shortcut_rules), "majority")
MAX_NAME = 10  # characters a name key holds: 6 bits each after a sentinel bit, in an int64
CODE = np.zeros(256, dtype=np.int64)  # token id -> 1..62 for the name characters, 0 otherwise
CODE[tokenizer.CHAR_ID] = np.arange(1, len(tokenizer.CHAR_ID) + 1)
DOES, CAUSE, CAUSES, D_SEPARATED = (tokenizer.word(w) for w in ("Does", "cause", "causes", "d-separated"))


def _first_mentions(parsed: text.Parsed) -> dict[str, int]:
    """Each name's place in the order of first mention; names the premise lacks come last."""
    first: dict[str, int] = {}
    for a, b in parsed.edges:
        first.setdefault(a, len(first))
        first.setdefault(b, len(first))
    big = len(first) + 1
    return {name: first.get(name, big) for name in (*first, parsed.x, parsed.y, *parsed.given)}


def mention_order(parsed: text.Parsed) -> bool:
    first = _first_mentions(parsed)
    return first[parsed.x] < first[parsed.y]


def direct_edge(parsed: text.Parsed) -> bool:
    return (parsed.x, parsed.y) in set(parsed.edges)


def no_edge(parsed: text.Parsed) -> bool:
    edges = set(parsed.edges)
    return (parsed.x, parsed.y) not in edges and (parsed.y, parsed.x) not in edges


def blocked_between(parsed: text.Parsed) -> bool:
    first = _first_mentions(parsed)
    low, high = sorted((first[parsed.x], first[parsed.y]))
    return any(low < first[z] < high for z in parsed.given)


def nonempty_given(parsed: text.Parsed) -> bool:
    return bool(parsed.given)


def skeleton_cut(parsed: text.Parsed) -> bool:
    neighbours: dict[str, set[str]] = {}
    for a, b in parsed.edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    seen, frontier = {parsed.x, *parsed.given}, [parsed.x]
    while frontier:
        frontier = [v for u in frontier for v in neighbours.get(u, ()) if v not in seen]
        seen.update(frontier)
    return parsed.y not in seen


RULES = {"mention_order": mention_order, "direct_edge": direct_edge, "no_edge": no_edge,
         "blocked_between": blocked_between, "nonempty_given": nonempty_given,
         "skeleton_cut": skeleton_cut}


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
    """The Yes/No answer per row of every rule that reads the rows' task's questions (its
    ``shortcut_rules``), or None (no rows, a mix, a task without rules)."""
    task = tasks.task_of_rows(data)
    rules = tasks.get(task).shortcut_rules if task is not None else ()
    if not rules:
        return None  # no rows, a mix, or a task no rule reads (corr2cause)
    fast = token_predictions(data) if rules == TRANSITIVITY_RULES else None
    if fast is not None:
        return fast
    asked = (data.tokens == DOES).sum(axis=1) + (data.tokens == D_SEPARATED).sum(axis=1)
    if (asked != 1).any():
        return None
    parsed = [text.parse(*data.text(i)[:2]) for i in range(len(data))]
    if {p.question for p in parsed} != {task}:
        return None
    return {name: np.array([RULES[name](p) for p in parsed]) for name in rules}


def score(data: Dataset) -> dict[str, float | None]:
    """Accuracy of every shortcut on a dataset (None for the rules that do not apply), and the
    Yes share the Yes-class baselines are computed from."""
    labels = data.labels.astype(bool)
    yes_share = float(labels.mean()) if len(data) else 0.0
    out: dict[str, float | None] = {name: None for name in NAMES}
    out["majority"] = max(yes_share, 1 - yes_share)
    out["yes_share"] = yes_share
    rules = predictions(data)
    if rules is not None:
        out.update({name: float((pred == labels).mean()) for name, pred in rules.items()})
    return out
