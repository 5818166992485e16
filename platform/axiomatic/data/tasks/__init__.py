"""The task registry: the one place that maps a task's name, a data section, a spec or a row of
tokens to the task that owns it (:class:`Task`, one module each).

``data.task`` picks the task: ``transitivity`` (the default, so files written before tasks
existed mean what they meant), ``dseparation`` or ``corr2cause``, or any task a caller
registers. A run file, a study file, a curriculum stage and ``platform data generate`` name a
task alike. A new task is a module that builds a :class:`Task` and one :func:`register` line:
the built-in ones are registered at the end of this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from axiomatic.data import text
from axiomatic.data.dataset import UNKNOWN_CATEGORY, Dataset
from axiomatic.data.tasks.task import Option, Task, TaskSpec

DEFAULT_TASK = "transitivity"
_REGISTRY: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Make a task known by its name (ValueError for a name already taken by another task)."""
    known = _REGISTRY.get(task.name)
    if known is not None and known is not task:
        raise ValueError(f"task {task.name!r} is registered already")
    _REGISTRY[task.name] = task
    return task


def unregister(name: str) -> None:
    """Forget a registered task (what a test that registered one does when it ends)."""
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """Every registered task, in the order registered."""
    return tuple(_REGISTRY)


def all_tasks() -> tuple[Task, ...]:
    return tuple(_REGISTRY.values())


def get(name: str) -> Task:
    """The task of that name; ValueError "task: ..." for an unknown one."""
    if name not in _REGISTRY:
        raise ValueError(f"task: unknown task {name!r}; accepted: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def task_of(section: dict[str, Any]) -> str:
    """The task a section names; ValueError "task: ..." for an unknown one."""
    return get(section.get("task", DEFAULT_TASK)).name


def build_spec(section: dict[str, Any] | None) -> TaskSpec:
    """A section's spec, its ``preset`` (if any) expanded under the fields it states itself."""
    section = dict(section or {})
    task = get(task_of(section))
    preset = section.pop("preset", None)
    if preset is not None:
        if preset not in task.presets:
            accepted = ", ".join(task.presets) or f"none (task {task.name} has no presets)"
            raise ValueError(f"preset: unknown preset {preset!r}; accepted: {accepted}")
        if "shares" not in section:  # explicit shares replace the preset's mixture
            section = {**task.presets[preset], **section}
    return task.spec(**section)


def generate(spec: TaskSpec) -> Dataset:
    """Same spec, same bytes, whatever the task; the rows carry the spec's questions per row."""
    data = get(spec.task).generate(spec)
    data.questions_per_row = questions_per_row(spec)
    return data


def questions_per_row(spec: TaskSpec) -> int:
    """How many questions of one premise a training row of the spec's data holds."""
    return get(spec.task).questions_per_row(spec)


def category_names(task: str) -> tuple[str, ...]:
    """What ``Dataset.categories`` holds for a task's rows, by index."""
    return get(task).category_names


def yes_class(task: str | None) -> bool:
    """Whether evaluations of the task's rows add the Yes class's precision, recall and F1: Yes is
    the rarer, more telling answer there (a majority-class predictor scores well on accuracy)."""
    return task in _REGISTRY and _REGISTRY[task].yes_class


def yes_class_tasks() -> tuple[str, ...]:
    return tuple(task.name for task in _REGISTRY.values() if task.yes_class)


def task_of_rows(data: Dataset) -> str | None:
    """The task every row's question belongs to, read from its tokens, or None for a mix."""
    asked = {task.name for task in _REGISTRY.values() if task.asks(data.tokens).all()}
    return asked.pop() if len(data) and len(asked) == 1 else None


def row_categories(data: Dataset) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """Each row's category index and the names they index, for the task whose questions the rows
    ask (None for rows of no single task). Generated rows carry theirs; rows read from text (the
    published files) carry none, and get the one a task reads from the question itself (the size
    of a d-separation question's given set); others from text stay uncategorised (None)."""
    name = task_of_rows(data)
    if name is None:
        return None
    task = get(name)
    known = data.categories != UNKNOWN_CATEGORY
    if known.all():
        return data.categories, task.category_names
    if task.categories_from_text is not None and not known.any():
        return task.categories_from_text(data), task.category_names
    return None


def row_hops(data: Dataset) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """Each row's hop distance between the question's pair in the premise's skeleton (edges taken
    both ways; 0 where they are not connected) and the names they index ("hops_0" ...), for the
    tasks whose rows ask about a pair in an ``A causes B.`` premise; None for others. How far apart
    the pair stands is the axis along which longer chains get harder."""
    name = task_of_rows(data)
    if name is None or not get(name).hops:
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


def section_keys() -> tuple[str, ...]:
    """Every key some task's data section accepts (``preset`` included), for spelling checks."""
    keys = ["preset"]
    for task in _REGISTRY.values():
        keys += [key for key in task.spec.model_fields if key not in keys]
    return tuple(keys)


def generate_options() -> dict[str, Option]:
    """``platform data generate``'s task options by flag, each once (tasks share some)."""
    options: dict[str, Option] = {}
    for task in _REGISTRY.values():
        for option in task.options:
            options.setdefault(option.flag, option)
    return options


def suite_owner(name: str) -> Task | None:
    """The task whose generated suite families a suite's name is of (None: no task's)."""
    return next((task for task in _REGISTRY.values() if task.claims_suite(name)), None)


# The built-in tasks, in the order suites, report groups and options are listed.
from axiomatic.data.tasks import corr2cause, dseparation, transitivity  # noqa: E402

register(transitivity.TASK)
register(dseparation.TASK)
register(corr2cause.TASK)

__all__ = ["DEFAULT_TASK", "Option", "Task", "TaskSpec", "all_tasks", "build_spec", "category_names",
           "generate", "generate_options", "get", "names", "questions_per_row", "register", "row_categories",
           "row_hops", "section_keys", "suite_owner", "task_of", "task_of_rows", "unregister", "yes_class",
           "yes_class_tasks"]
