"""A study's search space in Optuna's terms: a define-by-run function, a grid, a sampler.

Each searched parameter is suggested under its path (``model.pe``, ``train.lr``), so the names in
``runs/<study>/optuna.db`` read like the study file. A conditional parameter is suggested only in
trials whose earlier suggestions meet its ``when``; Optuna's samplers handle such dynamic spaces.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import optuna

from axiomatic.study.domains import Param, sampling_order
from axiomatic.study.spec import StudySpec


def define_by_run(spec: StudySpec) -> Callable[[optuna.Trial], dict[str, Any]]:
    """A function that samples one arm on an Optuna trial and returns ``{path: value}``.

    Parameters are suggested so that those a ``when`` refers to come first; the returned dict
    lists only the active parameters, in the study's YAML order.
    """
    params = spec.parameters()
    order = sampling_order(params)

    def sample(trial: optuna.Trial) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for param in order:
            if param.is_active(values):
                values[param.path] = _suggest(trial, param)
        return {p.path: values[p.path] for p in params if p.path in values}

    return sample


def _suggest(trial: optuna.Trial, param: Param) -> Any:
    if param.categorical:
        return trial.suggest_categorical(param.path, list(param.values))
    if param.kind == "int":
        return trial.suggest_int(param.path, param.low, param.high, log=param.log)
    return trial.suggest_float(param.path, param.low, param.high, log=param.log)


def grid_space(spec: StudySpec) -> dict[str, list]:
    """``{path: values}`` for ``optuna.samplers.GridSampler``; grid studies only."""
    if spec.search.algorithm != "grid":
        raise ValueError(f"study {spec.name!r} uses search.algorithm {spec.search.algorithm}, not grid")
    return {p.path: list(p.values) for p in spec.parameters()}


def grid_arms(spec: StudySpec) -> list[dict[str, Any]]:
    """Every arm of a grid study, in a fixed order: ``search.arms`` as listed, else the product
    of the grids (YAML order)."""
    grid = grid_space(spec)
    if spec.search.arms is not None:
        return [{path: arm[path] for path in grid} for arm in spec.search.arms]
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def enqueue_grid(study: optuna.Study, spec: StudySpec) -> None:
    """Queue every grid arm the Optuna study has not seen yet (in any state), in grid order.

    Grid studies enqueue their arms instead of using ``GridSampler``: its ``after_trial`` calls
    ``study.stop()``, which raises outside ``study.optimize`` — and a study runner tells results
    from Tune callbacks, not from inside an objective.
    """
    # a queued (WAITING) trial has no params yet, only the fixed ones it was enqueued with
    seen = [t.params or t.system_attrs.get("fixed_params", {}) for t in study.get_trials(deepcopy=False)]
    for arm in grid_arms(spec):
        if arm not in seen:
            study.enqueue_trial(arm)


def arm_count(spec: StudySpec) -> int:
    """How many arms the study has: the grid's product, or search.num_samples for tpe/random.

    Every arm runs once per seed, so a study runs ``arm_count(spec) * len(spec.seeds)`` trials.
    """
    if spec.search.algorithm == "grid":
        return len(grid_arms(spec))
    return spec.search.num_samples


def make_sampler(spec: StudySpec) -> optuna.samplers.BaseSampler:
    seed = spec.search.seed
    if spec.search.algorithm == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if spec.search.algorithm == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # grid arms are enqueued (enqueue_grid); the sampler only serves those fixed parameters
    return optuna.samplers.RandomSampler(seed=seed)
