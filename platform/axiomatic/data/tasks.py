"""The tasks a data section can hold, and the one place that maps a section to its spec.

``data.task`` picks the generator: ``transitivity`` (the default, so files written before tasks
existed mean what they meant), ``dseparation`` or ``corr2cause``. Each task's module owns a
pydantic spec with a ``task`` field, ``canonical()``/``digest()`` and a ``generate(spec)``; this
module only dispatches, so a run file, a study file and a curriculum stage name a task alike.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np

from axiomatic.data import graphs, mixtures, text, tokenizer
from axiomatic.data.axioms import corr2cause, dseparation
from axiomatic.data.dataset import UNKNOWN_CATEGORY, Dataset

TASKS = ("transitivity", "dseparation", "corr2cause")
DEFAULT_TASK = "transitivity"
# tasks whose evaluations add the Yes class's precision, recall and F1 to accuracy: Yes is the
# rarer, more telling answer there (a majority-class predictor scores well on accuracy alone)
YES_CLASS_TASKS = ("corr2cause",)

TaskSpec = Union[mixtures.DataSpec, dseparation.DSeparationSpec, corr2cause.Corr2CauseSpec]

# a word only that task's questions (or premises) use: which task a row of tokens belongs to
QUESTION_WORDS = {"transitivity": tokenizer.word("Does"), "dseparation": tokenizer.word("d-separated"),
                  "corr2cause": tokenizer.word("Suppose")}

_SPECS = {"transitivity": mixtures.DataSpec, "dseparation": dseparation.DSeparationSpec,
          "corr2cause": corr2cause.Corr2CauseSpec}
_GENERATORS = {"transitivity": mixtures.generate, "dseparation": dseparation.generate,
               "corr2cause": corr2cause.generate}
# a preset name -> the fields it stands for, per task that has presets
_PRESETS = {"transitivity": {name: {"perturbation": value} for name, value in mixtures.PRESETS.items()},
            "dseparation": dseparation.PRESETS}


def task_of(section: dict[str, Any]) -> str:
    """The task a section names; ValueError "task: ..." for an unknown one."""
    task = section.get("task", DEFAULT_TASK)
    if task not in TASKS:
        raise ValueError(f"task: unknown task {task!r}; accepted: {', '.join(TASKS)}")
    return task


def build_spec(section: dict[str, Any] | None) -> TaskSpec:
    """A section's spec, its ``preset`` (if any) expanded under the fields it states itself."""
    section = dict(section or {})
    task = task_of(section)
    preset = section.pop("preset", None)
    if preset is not None:
        presets = _PRESETS.get(task, {})
        if preset not in presets:
            accepted = ", ".join(presets) or f"none (task {task} has no presets)"
            raise ValueError(f"preset: unknown preset {preset!r}; accepted: {accepted}")
        if "shares" not in section:  # explicit shares replace the preset's mixture
            section = {**presets[preset], **section}
    return _SPECS[task](**section)


def generate(spec: TaskSpec) -> Dataset:
    """Same spec, same bytes, whatever the task."""
    return _GENERATORS[spec.task](spec)


def category_names(task: str) -> tuple[str, ...]:
    """What ``Dataset.categories`` holds for a task's rows, by index."""
    return {"transitivity": graphs.CATEGORY_NAMES, "dseparation": dseparation.CATEGORY_NAMES,
            "corr2cause": corr2cause.TYPES}[task]


def row_categories(data: Dataset) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """Each row's category index and the names they index, for the task whose questions the rows
    ask (None for rows of no single task). Generated rows carry theirs; rows read from text (the
    published files) carry none, and get the one a d-separation question states itself: the
    size of its given set. Transitivity and Corr2Cause rows from text stay uncategorised (None)."""
    task = task_of_rows(data)
    if task is None:
        return None
    known = data.categories != UNKNOWN_CATEGORY
    if known.all():
        return data.categories, category_names(task)
    if task == "dseparation" and not known.any():
        return dseparation.given_sizes(data.tokens, data.lengths), dseparation.CATEGORY_NAMES
    return None


def row_hops(data: Dataset) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """Each row's hop distance between the question's pair in the premise's skeleton (edges taken
    both ways; 0 where they are not connected) and the names they index ("hops_0" ...), for
    transitivity and d-separation rows; None for others. How far apart the pair stands is the
    axis along which longer chains get harder."""
    if task_of_rows(data) not in ("transitivity", "dseparation"):
        return None
    hops = np.array([_skeleton_distance(text.parse(*data.text(i)[:2])) for i in range(len(data))])
    return hops, tuple(f"hops_{k}" for k in range(int(hops.max()) + 1))


def _skeleton_distance(parsed: text.Parsed) -> int:
    """Breadth-first search over the premise's edges, both ways; 0 when x never reaches y."""
    neighbours: dict[str, set[str]] = {}
    for a, b in parsed.edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    frontier, seen, distance = {parsed.x}, {parsed.x}, 0
    while frontier:
        if parsed.y in frontier:
            return distance
        frontier = {n for node in frontier for n in neighbours.get(node, ())} - seen
        seen |= frontier
        distance += 1
    return 0


def task_of_rows(data: Dataset) -> str | None:
    """The task every row's question belongs to, read from its tokens, or None for a mix."""
    asked = {task for task, word in QUESTION_WORDS.items() if (data.tokens == word).any(axis=1).all()}
    return asked.pop() if len(data) and len(asked) == 1 else None


def section_keys() -> tuple[str, ...]:
    """Every key some task's data section accepts (``preset`` included), for spelling checks."""
    keys = ["preset"]
    for spec in _SPECS.values():
        keys += [key for key in spec.model_fields if key not in keys]
    return tuple(keys)
