"""Shortcut baselines: trivial rules whose accuracy every reported number must be read against.

- mention order: Yes iff X is first mentioned before Y in the premise;
- direct edge: Yes iff the premise states "X causes Y." word for word;
- majority: always answer the suite's more frequent label.

The first two are defined for transitivity questions only (None for d-separation suites).
"""

from __future__ import annotations

import numpy as np

from axiomatic.data import text
from axiomatic.data.dataset import Dataset

NAMES = ("mention_order", "direct_edge", "majority")


def mention_order(parsed: text.Parsed) -> bool:
    first: dict[str, int] = {}
    for a, b in parsed.edges:
        first.setdefault(a, len(first))
        first.setdefault(b, len(first))
    big = len(first) + 1
    return first.get(parsed.x, big) < first.get(parsed.y, big)


def direct_edge(parsed: text.Parsed) -> bool:
    return (parsed.x, parsed.y) in set(parsed.edges)


def predictions(data: Dataset) -> dict[str, np.ndarray] | None:
    """Each rule's Yes/No answer per row, or None when the suite is not transitivity."""
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
