"""Two runs of a study compared (``platform diff``, ``Study.compare``): arms matched by their
parameters, each metric both measured as the second run minus the first with a 95 % interval,
what changed in the spec, and the arms only one of them has.

The interval is paired by seed where an arm ran the same seeds (two or more) to the end in both
runs, since the seed fixes the data order and the initialisation that both share; otherwise the
two runs' seeds are independent samples and Welch's interval applies. As in the report, only
seeds that ran to the end (DONE) and finite values enter, of the metrics proper (val/, train/,
suite/, reach/, stage/), not the bookkeeping a cell also keeps (epoch, step, seconds, throughput).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from axiomatic import metric_names
from axiomatic.study.ledger import CellStatus, arm_id
from axiomatic.study.results import mean_ci, metric_bounds, welch_ci
from axiomatic.study.run_dir import fingerprint_diff


class RunRecords(NamedTuple):
    """One side of a comparison: the run's name (its location), its cell records, its fingerprint."""

    name: str
    records: list[dict]
    fingerprint: dict


@dataclass(frozen=True)
class MetricDifference:
    """One arm's metric in the second run minus the first."""

    arm: str  # the arm's name in the first run
    params: dict
    metric: str
    test: str  # "paired" (by seed) or "welch"
    seeds_first: int
    seeds_second: int
    mean_first: float
    mean_second: float
    difference: float
    ci_low: float | None  # None: too few seeds for an interval
    ci_high: float | None


@dataclass(frozen=True)
class StudyComparison:
    first: str
    second: str
    spec_diff: str  # the fingerprints' unified diff; "" when both runs' arms mean the same
    differences: list[MetricDifference]
    only_in_first: list[str]  # arm names
    only_in_second: list[str]

    def to_json(self) -> dict:
        return {"first": self.first, "second": self.second, "spec_diff": self.spec_diff,
                "differences": [asdict(d) for d in self.differences],
                "only_in_first": self.only_in_first, "only_in_second": self.only_in_second}


class _Arm(NamedTuple):
    name: str
    params: dict
    values: dict[str, dict[int, float]]  # metric -> seed -> value, over the seeds that ran to the end


def _arms(records: list[dict]) -> dict[str, _Arm]:
    """Arms keyed by their parameters (an arm's id), in the order the run lists them."""
    arms: dict[str, _Arm] = {}
    for record in records:
        arm = arms.setdefault(arm_id(record["params"]), _Arm(record["arm"], record["params"], {}))
        if record["status"] != CellStatus.DONE:
            continue
        for metric, value in (record.get("metrics") or {}).items():
            measured = metric.startswith(metric_names.PREFIXES)  # not the bookkeeping: epoch, step, seconds
            if measured and isinstance(value, (int, float)) and math.isfinite(value):
                arm.values.setdefault(metric, {})[record["seed"]] = value  # a retried seed: the last wins
    return arms


def _difference(arm: _Arm, first: dict[int, float], second: dict[int, float], metric: str) -> MetricDifference:
    bounds = metric_bounds(metric)
    span = None if bounds is None else (-bounds[1], bounds[1])  # a difference of two shares lies in [-1, 1]
    paired = first.keys() == second.keys() and len(first) >= 2
    if paired:
        seeds = sorted(first)
        interval = mean_ci(np.subtract([second[s] for s in seeds], [first[s] for s in seeds]), bounds=span)
    else:
        interval = welch_ci(list(first.values()), list(second.values()), bounds=span)
    return MetricDifference(arm.name, arm.params, metric, "paired" if paired else "welch", len(first), len(second),
                            float(np.mean(list(first.values()))), float(np.mean(list(second.values()))),
                            interval["mean"], interval["ci_low"], interval["ci_high"])


def compare_runs(first: RunRecords, second: RunRecords) -> StudyComparison:
    """``second`` against ``first``: every metric an arm of both measured, second minus first."""
    arms_first, arms_second = _arms(first.records), _arms(second.records)
    differences = []
    for key, arm in arms_first.items():
        if key not in arms_second:
            continue
        theirs = arms_second[key].values
        for metric in sorted(arm.values.keys() & theirs.keys()):
            differences.append(_difference(arm, arm.values[metric], theirs[metric], metric))
    return StudyComparison(
        first=first.name, second=second.name,
        spec_diff=fingerprint_diff(first.fingerprint, second.fingerprint, first.name, second.name),
        differences=differences,
        only_in_first=[arm.name for key, arm in arms_first.items() if key not in arms_second],
        only_in_second=[arm.name for key, arm in arms_second.items() if key not in arms_first])
