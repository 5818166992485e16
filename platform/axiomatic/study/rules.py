"""The cross-field rules of a study file, and building every arm it can produce.

Each check yields every problem it sees (a :class:`~axiomatic.errors.Problem` naming the
field path); :func:`rule_problems` runs them all, then builds the run config of every arm a grid
can produce (or of representative values of every domain), so a bad fixed value fails when the
file is loaded, not in a trial. A check runs whenever what it reads is sound, so one message names
every problem of the file, not only those of the first check that found one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axiomatic import metric_names
from axiomatic.data import suites as suite_catalog
from axiomatic.data import tasks
from axiomatic.data.references import select_references
from axiomatic.errors import Problem
from axiomatic.model.config import ModelConfig
from axiomatic.study.domains import SECTIONS, Param, resolve_active, sampling_order, substitute
from axiomatic.train.config import TrainConfig, try_build_run

if TYPE_CHECKING:
    from axiomatic.study.spec import ObjectiveSpec, ResourcesSpec, SchedulerSpec, StudySpec

# Metrics the training loop reports for every trial; suite accuracies are added per study suite.
TRIAL_METRICS = (metric_names.VAL_ACC, metric_names.VAL_LOSS, metric_names.TRAIN_LOSS)
# The keys each section accepts: the fields of what it builds plus the preset/recipe shorthand.
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "data": tasks.section_keys(),
    "model": ("preset", *ModelConfig.model_fields),
    "train": ("recipe", *TrainConfig.model_fields),
}


# What stands for the parsed search domains among the fields a check reads: unsound when any
# domain is malformed, since that parameter is then missing from the parsed ones.
PARAMETERS = "(search domains)"
# What building the arms reads (the seed is not among it: every seed builds alike).
BUILD_READS = frozenset({"data", "model", "train", "curriculum", "search", PARAMETERS})

Check = tuple[frozenset, Callable[[], Iterable[Problem]]]  # (fields it reads, the check)


def rule_problems(spec: StudySpec, params: Sequence[Param], unsound: frozenset = frozenset()) -> list[Problem]:
    """Every problem the cross-field rules and the arm builds find.

    ``unsound`` names the top-level fields the schema rejected (``spec`` holds their defaults)
    and PARAMETERS when a search domain is malformed; a check that reads one of them is skipped,
    as judging a stand-in would report problems the file does not have. The arms are built only
    once the checks that define them pass: until then, which arms exist is not known.
    """
    arm_problems = _run(_arm_definition_checks(spec, params), unsound)
    problems = arm_problems + _run(_other_checks(spec, params), unsound)
    if not arm_problems and not BUILD_READS & unsound:
        problems += build_problems(spec, params)
    return problems


def _run(checks: list[Check], unsound: frozenset) -> list[Problem]:
    return [problem for reads, check in checks if not reads & unsound for problem in check()]


def _arm_definition_checks(spec: StudySpec, params: Sequence[Param]) -> list[Check]:
    """The checks on which arms exist: conditions, the grid, the listed arms."""
    return [(frozenset({PARAMETERS}), lambda: _condition_problems(params)),
            (frozenset({"search", PARAMETERS}), lambda: _grid_problems(spec, params)),
            (frozenset({"search", PARAMETERS}), lambda: _arm_list_problems(spec, params))]


def _other_checks(spec: StudySpec, params: Sequence[Param]) -> list[Check]:
    return [(frozenset({"data", "model", "train"}), lambda: _section_key_problems(spec)),
            (frozenset({"baseline", "search", PARAMETERS}), lambda: _baseline_problems(spec, params)),
            (frozenset({"scheduler"}), lambda: _scheduler_problems(spec.scheduler)),
            (frozenset({"resources"}), lambda: _resource_problems(spec.resources)),
            (frozenset({"references"}), lambda: _reference_problems(spec.references)),
            (frozenset({"suites", "objective"}), lambda: _suite_problems(spec))]


def _suite_problems(spec: StudySpec) -> Iterator[Problem]:
    published = suite_catalog.published_dir(spec.published_dir)
    expanded, suite_problems = _expand_suites(spec.suites, published)
    yield from suite_problems
    if not suite_problems:  # the objective may name a suite: judge it against the real list
        yield from _objective_problems(spec.objective, expanded, published)


def _section_key_problems(spec: StudySpec) -> Iterator[Problem]:
    # Checked here (not left to build_run) so the message names the exact key, e.g. model.bogus.
    for section, values in spec.sections().items():
        for key in values:
            if key not in SECTION_KEYS[section]:
                yield Problem(f"{section}.{key}", f"unknown key; accepted: {', '.join(SECTION_KEYS[section])}")


def _condition_problems(params: Sequence[Param]) -> Iterator[Problem]:
    by_path = {p.path: p for p in params}
    problems = []
    for param in params:
        where = f"{param.path}.when"
        for ref, allowed in param.when.items():
            target = by_path.get(ref)
            if ref == param.path:
                problems.append(Problem(where, "a parameter cannot be conditional on itself"))
            elif target is None:
                searched = ", ".join(by_path) or "none"
                problems.append(Problem(where, f"{ref!r} is not a searched parameter (searched: {searched}); "
                                               "a condition refers to another parameter's search domain"))
            else:
                problems += [Problem(where, f"{ref}={value!r} can never happen: {ref} is {target.describe()}")
                             for value in allowed if not target.contains(value)]
    yield from problems
    if not problems:  # a cycle is only worth reporting once every reference is sound
        try:
            sampling_order(params)
        except ValueError as err:
            yield Problem(f"{next(p.path for p in params if p.when)}.when", str(err))


def _grid_problems(spec: StudySpec, params: Sequence[Param]) -> Iterator[Problem]:
    if spec.search.algorithm != "grid":
        return
    for param in params:
        if not param.categorical:
            yield Problem(f"{param.path}.{param.kind}",
                          f"a grid study enumerates its arms, so every searched parameter needs "
                          f"{{grid: [...]}} or {{choice: [...]}}; {'an int' if param.kind == 'int' else 'a float'} range has no grid. "
                          "List the values, or use search.algorithm tpe or random")
        if param.when:
            yield Problem(f"{param.path}.when",
                          "a grid study runs the full product of its grids, so it cannot have "
                          "conditional parameters; drop 'when', split the study, or use tpe or random")


def _arm_list_problems(spec: StudySpec, params: Sequence[Param]) -> Iterator[Problem]:
    if spec.search.arms is None:
        return
    if spec.search.algorithm != "grid":
        yield Problem("search.arms", f"a list of arms belongs to a grid study; a "
                                     f"{spec.search.algorithm} study samples its arms")
        return
    by_path = {p.path: p for p in params}
    for index, arm in enumerate(spec.search.arms):
        where = f"search.arms.{index}"
        for path, value in arm.items():
            param = by_path.get(path)
            if param is None:
                yield Problem(f"{where}.{path}", f"not a searched parameter (searched: "
                                                 f"{', '.join(by_path) or 'none'})")
            elif not param.contains(value):
                yield Problem(f"{where}.{path}", f"{value!r} is not in its grid: {path} is {param.describe()}")
        missing = [path for path in by_path if path not in arm]
        if missing:
            yield Problem(where, f"no value for {', '.join(missing)}; an arm gives a value for every "
                                 "searched parameter")
        if any(arm == earlier for earlier in spec.search.arms[:index]):
            yield Problem(where, "the same arm is listed twice")


def _baseline_problems(spec: StudySpec, params: Sequence[Param]) -> Iterator[Problem]:
    if spec.baseline is None:
        return
    if spec.search.algorithm != "grid":
        yield Problem("baseline", f"a {spec.search.algorithm} study samples its arms, so it has no "
                                  "fixed arm to compare against; remove baseline or use search.algorithm grid")
        return
    by_path = {p.path: p for p in params}
    for path, value in spec.baseline.items():
        param = by_path.get(path)
        if param is None:
            searched = ", ".join(by_path) or "none"
            yield Problem(f"baseline.{path}", f"not a searched parameter (searched: {searched}); "
                                              "the baseline names one arm by its searched values")
        elif not param.contains(value):
            yield Problem(f"baseline.{path}", f"{value!r} is not one of the grid's arms: "
                                              f"{path} is {param.describe()}")
    missing = [p for p in by_path if p not in spec.baseline]
    if missing:
        yield Problem("baseline", f"no value for {', '.join(missing)}; the baseline names one arm, "
                                  "so it gives a value for every searched parameter")
    elif spec.search.arms is not None and spec.baseline not in spec.search.arms:
        yield Problem("baseline", "not one of search.arms; the baseline names one of the arms the study runs")


def _scheduler_problems(scheduler: SchedulerSpec) -> Iterator[Problem]:
    if scheduler.type == "asha" and scheduler.max_t is not None and scheduler.grace_period > scheduler.max_t:
        yield Problem("scheduler.grace_period", f"expected <= max_t ({scheduler.max_t}), "
                                                f"got {scheduler.grace_period}")


# Ray's own resources, which its custom resources may not name: they come from cpu and gpu
RAY_BUILTIN_RESOURCES = {"CPU": "resources.cpu", "GPU": "resources.gpu", "memory": None,
                         "object_store_memory": None}


def _resource_problems(resources: ResourcesSpec) -> Iterator[Problem]:
    for name in resources.custom:
        if name in RAY_BUILTIN_RESOURCES:
            instead = RAY_BUILTIN_RESOURCES[name]
            yield Problem(f"resources.custom.{name}", "one of Ray's own resources, not a custom one"
                          + (f": use {instead}" if instead else ""))
    if 0 < resources.gpu < 1 and resources.workers > 1:
        yield Problem("resources.gpu", f"fractional GPUs ({resources.gpu}) only for 1-worker trials: "
                                       f"NCCL refuses two workers on one GPU (workers = {resources.workers})")
    if resources.gpu > 1 and not float(resources.gpu).is_integer():
        yield Problem("resources.gpu", f"expected a fraction below 1 or a whole number, got {resources.gpu}")


def _reference_problems(labels: list[str]) -> Iterator[Problem]:
    for index, label in enumerate(labels):
        try:
            select_references([label])
        except ValueError as err:
            yield Problem(f"references.{index}", str(err))


def _expand_suites(patterns: list[str], published: Path) -> tuple[list[str], list[Problem]]:
    expanded, problems = [], []
    for index, pattern in enumerate(patterns):
        try:
            expanded += [n for n in suite_catalog.expand([pattern], published) if n not in expanded]
        except ValueError as err:
            hint = ""
            if pattern.startswith("published/") and not suite_catalog.published_files(published):
                hint = (f" (no published files found at {published}; give --published-dir, set "
                        f"{suite_catalog.PUBLISHED_ENV} to their directory, or run "
                        "'platform data fetch-published')")
            problems.append(Problem(f"suites.{index}", f"{err}{hint}"))
    return expanded, problems


def _objective_problems(objective: ObjectiveSpec, expanded: list[str], published: Path) -> Iterator[Problem]:
    metric = objective.metric
    located = metric_names.suite_and_measure(metric)
    suite = located[0] if located else None
    if suite is not None and located[1] != "acc" and not tasks.yes_class(suite_catalog.task_of_suite(suite)):
        yield Problem("objective.metric", f"{metric!r}: the Yes-class measures ({', '.join(metric_names.YES_CLASS_MEASURES)}) "
                                          f"are reported for the suites of the tasks {', '.join(tasks.yes_class_tasks())} only; "
                                          f"use {metric_names.suite_acc(suite)}")
    elif metric not in TRIAL_METRICS and suite not in expanded:
        example = f"e.g. {metric_names.suite_acc(expanded[0])}" if expanded else "none: the study lists no suites"
        accepted = (f"accepted: {', '.join(TRIAL_METRICS)}, or {metric_names.suite_acc('<name>')} "
                    f"for a suite of the study's suites ({example})")
        if suite is not None and suite in suite_catalog.all_names(published):
            yield Problem("objective.metric", f"suite {suite!r} is not among the study's suites; "
                                              f"add it to suites or pick another metric; {accepted}")
        else:
            yield Problem("objective.metric", f"{metric!r} is not reported by every trial; {accepted}")
    elif metric_names.is_loss(metric) and objective.mode == "max":
        yield Problem("objective.mode", f"{metric} is a loss: mode max would pick the worst arm; use mode: min")
    elif metric_names.is_score(metric) and objective.mode == "min":
        yield Problem("objective.mode", f"{metric} is a score (higher is better): mode min would pick the worst arm; use mode: max")


# ---------------------------------------------------------------- building the arms

def build_problems(spec: StudySpec, params: Sequence[Param]) -> list[Problem]:
    """Build the run config of every arm a grid can produce, or of representative values of
    every domain otherwise, so a bad fixed value or domain value is found now, not in a trial.

    A problem every arm has belongs to the file's fixed values and is named once; one that only
    some arms have names those arms.
    """
    arms_by_problem: dict[Problem, list[str]] = {}
    probes = list(_probe_assignments(spec, params))
    for assignment in probes:
        sections = _known_keys_only(substitute(spec.sections(), params, assignment))
        _, found = try_build_run({**sections, "curriculum": spec.curriculum, "suites": [],
                                  "seed": spec.seeds[0]})
        for problem in found:
            arms_by_problem.setdefault(problem, []).append(spec.arm_name(assignment))
    return [Problem(problem.path, problem.message + _arms_note(arms, len(probes)))
            for problem, arms in arms_by_problem.items()]


def _known_keys_only(sections: dict[str, dict]) -> dict[str, dict]:
    """The sections without the keys _section_key_problems reports, so no key is named twice."""
    return {name: {k: v for k, v in section.items() if k in SECTION_KEYS[name]}
            for name, section in sections.items()}


def _arms_note(arms: list[str], probed: int) -> str:
    if len(arms) == probed:
        return ""
    shown = ", ".join(arms[:3]) + (f" and {len(arms) - 3} more" if len(arms) > 3 else "")
    return f" (while building the arm{'s' if len(arms) > 1 else ''} {shown})"


def _probe_assignments(spec: StudySpec, params: Sequence[Param]) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    for assignment in _candidate_assignments(spec, params):
        active = resolve_active(params, assignment)
        key = repr(sorted(active.items(), key=lambda item: item[0]))
        if key not in seen:
            seen.add(key)
            yield active


def _candidate_assignments(spec: StudySpec, params: Sequence[Param]) -> Iterable[dict[str, Any]]:
    if spec.search.algorithm == "grid" and spec.search.arms is not None:
        yield from spec.search.arms  # only the listed arms ever run
        return
    base = {p.path: p.representative() for p in params}  # inactive ones are dropped later
    yield base
    if spec.search.algorithm == "grid":
        # Sections build independently, so each section's grid product covers every arm.
        for section in SECTIONS:
            own = [p for p in params if p.section == section]
            for values in itertools.product(*(p.values for p in own)):
                yield {**base, **{p.path: v for p, v in zip(own, values)}}
        return
    by_path = {p.path: p for p in params}
    for param in params:
        for value in param.probe_values():
            yield _with_conditions_met({**base, param.path: value}, param, by_path)


def _with_conditions_met(assignment: dict[str, Any], param: Param, by_path: dict[str, Param]) -> dict[str, Any]:
    """Set the parameters that ``param`` is conditional on so that it is active (transitively)."""
    for ref, allowed in param.when.items():
        assignment[ref] = allowed[0]
        assignment = _with_conditions_met(assignment, by_path[ref], by_path)
    return assignment
