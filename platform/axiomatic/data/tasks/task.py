"""What a task is: everything the platform needs to know about one kind of question, in one object.

A task (transitivity, d-separation, Corr2Cause, or one a test defines) owns its data spec (a
pydantic model with a ``task`` field, ``size``, ``seed``, ``canonical()`` and ``digest()``), the
generator that turns a spec into token rows, the words that mark its rows, how its rows group
into training rows (questions per row), its generated suites, its shortcut rules, its report
groups and the options ``platform data generate`` offers for it. Adding a task is one module
that builds a :class:`Task`, and one line in :mod:`axiomatic.data.tasks` that registers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from pydantic import BaseModel

from axiomatic.data import tokenizer
from axiomatic.data.dataset import Dataset

# any task's spec: a pydantic model with task, size, seed, canonical() and digest()
TaskSpec = BaseModel


@dataclass(frozen=True)
class Option:
    """One option of ``platform data generate`` and the spec field it sets."""

    flag: str  # "--chain-lengths"
    field: str  # "chain_lengths"
    arguments: Mapping[str, Any] = field(default_factory=dict)  # argparse's add_argument keywords
    inverts: bool = False  # a flag that sets its field False (--uniform: balance False)

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")


def _one_question(spec: TaskSpec) -> int:
    return 1


def _no_suites() -> list[str]:
    return []


@dataclass(frozen=True)
class Task:
    name: str
    spec: type[BaseModel]
    generate: Callable[[Any], Dataset]  # same spec, same bytes
    # words every row of the task holds and no other task's rows all hold: which task rows ask
    question_words: tuple[str, ...]
    category_names: tuple[str, ...]  # what Dataset.categories holds for its rows, by index
    description: str = ""
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> the fields it stands for
    default_preset: str | None = None  # what platform data generate uses without --preset
    options: tuple[Option, ...] = ()  # platform data generate's options (--size, --seed, --name-length serve all)
    # training rows: how many of a premise's questions one training row holds, from a spec
    questions_per_row: Callable[[Any], int] = _one_question
    # generated suites: the family names it claims, its suites' names, how to build one
    suite_families: tuple[str, ...] = ()
    # whether a name is of the task's families, known or not (None: what precedes its last "/" is one)
    claims: Callable[[str], bool] | None = None
    suite_names: Callable[[], list[str]] = _no_suites
    build_suite: Callable[[str, int], Dataset] | None = None
    suite_listing: str = ""  # how its suites are named, for an unknown suite's message
    # the task's own error for a name of its families that names no suite (None: the catalogue's)
    unknown_suite: Callable[[str], ValueError] | None = None
    # leakage-check a training set against every published file, not only the task's own
    # (transitivity: its cache keys predate other tasks)
    checks_every_published_file: bool = False
    shortcut_rules: tuple[str, ...] = ()  # baselines' rules that read its questions
    report_groups: tuple[tuple[str, str], ...] = ()  # (suite family, column group title)
    yes_class: bool = False  # evaluations add the Yes class's precision, recall and F1
    hops: bool = False  # rows have a pair at a distance in an "A causes B." premise
    # each row's category for rows read from text (which carry none), or None
    categories_from_text: Callable[[Dataset], np.ndarray] | None = None
    # what platform data generate --jsonl adds to a row's record
    jsonl_fields: Callable[[Dataset, int], dict] | None = None

    def asks(self, tokens: np.ndarray) -> np.ndarray:
        """Per row: whether it holds every one of the task's question words."""
        rows = np.ones(len(tokens), dtype=bool)
        for word in self.question_words:
            rows &= (tokens == tokenizer.word(word)).any(axis=1)
        return rows

    def claims_suite(self, name: str) -> bool:
        """Whether a generated suite's name is of one of the task's families (known or not)."""
        if self.claims is not None:
            return self.claims(name)
        return name.rpartition("/")[0] in self.suite_families
