"""Aggregation of a study's trial records over seeds: means, t intervals (Student, Welch), paired tests.

A trial record is a plain dict written by the study runner::

    {"arm": "pe=none", "params": {...}, "seed": 0,
     "status": "done" | "stopped" | "failed" | "running" | "pending", "error": None | "text",
     "metrics": {"val/acc": 0.93, "suite/flipped_chain/len=9/acc": 0.71, ...},
     "history": [{"epoch": 1, "val/acc": 0.6, ...}, ...]}

The status is a :class:`~axiomatic.study.ledger.CellStatus` (or its plain string). Only records
that ran to the end (DONE) enter any statistic: a running trial's metrics are provisional, a failed
trial's are whatever it had reached when it died, and a trial the scheduler stopped early (STOPPED)
reports the epoch it reached, not the end of training: averaged with finished seeds it would drag
an arm's mean towards wherever ASHA cut it. Stopped seeds are counted per arm instead
(``seeds_stopped``). A value that is not a finite number
(a NaN loss) enters none either. If one seed of an arm finished twice
(a retried trial), its last record wins, so no seed is counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
import math

import numpy as np
from scipy import stats

from axiomatic import metric_names
from axiomatic.study.ledger import CellStatus


def mean_ci(values: Sequence[float], confidence: float = 0.95,
            bounds: tuple[float, float] | None = None) -> dict | None:
    """Mean and Student-t confidence interval of independent values (one per seed).

    Returns None for no values. With a single value the spread is unknown, so the interval
    collapses to the mean itself (ci_low == ci_high == mean) rather than being infinite. With
    ``bounds`` (an accuracy's [0, 1]) the interval is cut to the range the metric can take.
    The values themselves come along: with fewer than three seeds the renderers show them instead
    of an interval that two points cannot support.
    """
    sample = np.asarray(values, dtype=float)
    n = len(sample)
    if n == 0:
        return None
    mean = float(sample.mean())
    if n == 1:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "n": 1, "values": sample.tolist()}
    standard_error = float(sample.std(ddof=1)) / math.sqrt(n)
    half_width = float(stats.t.ppf((1 + confidence) / 2, df=n - 1)) * standard_error
    low, high = mean - half_width, mean + half_width
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": n, "values": sample.tolist()}


def welch_ci(first: Sequence[float], second: Sequence[float], confidence: float = 0.95,
             bounds: tuple[float, float] | None = None) -> dict | None:
    """Mean of ``second`` minus mean of ``first``, independent samples of unequal variances, with
    Welch's t interval (Welch-Satterthwaite degrees of freedom). None without values on either
    side; no interval (None bounds) with fewer than two values on either side. ``bounds`` cuts
    the interval to the range a difference can take."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return None
    difference = float(b.mean() - a.mean())
    if len(a) < 2 or len(b) < 2:
        return {"mean": difference, "ci_low": None, "ci_high": None}
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    standard_error = math.sqrt(var_a + var_b)
    if standard_error == 0:  # every value alike on both sides: the difference is known exactly
        return {"mean": difference, "ci_low": difference, "ci_high": difference}
    df = (var_a + var_b) ** 2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
    half_width = float(stats.t.ppf((1 + confidence) / 2, df=df)) * standard_error
    low, high = difference - half_width, difference + half_width
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"mean": difference, "ci_low": low, "ci_high": high}


def _finite(value) -> bool:
    """A number a statistic may use: present, and neither NaN nor infinite (a diverged loss)."""
    return isinstance(value, (int, float)) and math.isfinite(value)


def metric_bounds(name: str) -> tuple[float, float] | None:
    """The range a metric can take, when it has one: accuracies and Yes-class scores lie in [0, 1]."""
    return (0.0, 1.0) if metric_names.is_score(name) else None


@dataclass(frozen=True)
class ArmSummary:
    """One arm (a point of the search space) summarised over its seeds that ran to the end."""

    arm: str
    params: dict
    seeds_done: int
    seeds_running: int
    seeds_stopped: int  # ended early by the scheduler: counted, never averaged
    seeds_total: int
    metrics: dict[str, dict]  # metric name -> mean_ci(...) over the DONE seeds


@dataclass(frozen=True)
class PairedComparison:
    """One arm against the baseline arm on one metric, over the seeds both finished."""

    arm: str
    baseline_arm: str
    metric: str
    n_pairs: int
    mean_diff: float | None  # arm minus baseline
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_holm: float | None


def _records_by_arm(records: Iterable[dict]) -> dict[str, list[dict]]:
    """Records grouped by arm, arms in order of first appearance (the study's order)."""
    grouped: dict[str, list[dict]] = {}
    for record in records:
        grouped.setdefault(record["arm"], []).append(record)
    return grouped


def _done_by_seed(arm_records: Iterable[dict]) -> dict:
    """seed -> the arm's last record for that seed that ran to the end (DONE)."""
    return {r["seed"]: r for r in arm_records if r["status"] == CellStatus.DONE}


def _seeds_with_status(arm_records: Iterable[dict], status: CellStatus) -> set:
    return {r["seed"] for r in arm_records if r["status"] == status}


def _metric_names(records: Iterable[dict]) -> list[str]:
    return sorted({name for r in records for name in r.get("metrics") or {}})


def _summarise_arm(arm: str, arm_records: list[dict], metric_names: Sequence[str]) -> ArmSummary:
    done = _done_by_seed(arm_records)
    metrics = {}
    for name in metric_names:
        values = [m[name] for m in (r.get("metrics") or {} for r in done.values()) if _finite(m.get(name))]
        interval = mean_ci(values, bounds=metric_bounds(name))
        if interval is not None:
            metrics[name] = interval
    return ArmSummary(
        arm=arm,
        params=dict(arm_records[0].get("params") or {}),
        seeds_done=len(done),
        seeds_running=len(_seeds_with_status(arm_records, CellStatus.RUNNING)),
        seeds_stopped=len(_seeds_with_status(arm_records, CellStatus.STOPPED) - done.keys()),
        seeds_total=len({r["seed"] for r in arm_records}),
        metrics=metrics,
    )


def aggregate_arms(
    records: Sequence[dict], metric_names: Sequence[str] | None = None
) -> list[ArmSummary]:
    """Per-arm mean and 95% t interval of every metric over the arm's DONE seeds.

    metric_names=None summarises every metric any DONE record reports. An arm with no DONE seed
    still gets a summary (empty metrics) so progress and stopped counts stay visible.
    """
    finished = [r for r in records if r["status"] == CellStatus.DONE]
    names = _metric_names(finished) if metric_names is None else list(metric_names)
    return [
        _summarise_arm(arm, arm_records, names)
        for arm, arm_records in _records_by_arm(records).items()
    ]


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    Sorted ascending, the i-th smallest (0-based) is multiplied by (m - i); a running maximum keeps
    the adjusted values in the same order as the raw ones, and nothing exceeds 1.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index])
    adjusted = [0.0] * m
    running_max = 0.0
    for rank, index in enumerate(order):
        running_max = max(running_max, (m - rank) * p_values[index])
        adjusted[index] = min(1.0, running_max)
    return adjusted


def _paired_values(arm_done: dict, baseline_done: dict, metric: str) -> tuple[list, list]:
    """Values of the arm and the baseline on the seeds where both finished with the metric."""
    seeds = sorted(
        seed
        for seed in arm_done.keys() & baseline_done.keys()
        if _finite((arm_done[seed].get("metrics") or {}).get(metric))
        and _finite((baseline_done[seed].get("metrics") or {}).get(metric))
    )
    arm_values = [arm_done[s]["metrics"][metric] for s in seeds]
    baseline_values = [baseline_done[s]["metrics"][metric] for s in seeds]
    return arm_values, baseline_values


def _paired_p_value(arm_values: list[float], baseline_values: list[float]) -> float | None:
    """Two-sided paired t-test p-value, None where the test is undefined.

    It is undefined with fewer than two pairs, and when every seed differs by the same amount
    (zero variance of the differences, typically both arms at 1.00): scipy would return nan.
    """
    differences = np.subtract(arm_values, baseline_values)
    if len(differences) < 2 or np.allclose(differences, differences[0], rtol=0.0, atol=1e-12):
        return None
    return float(stats.ttest_rel(arm_values, baseline_values).pvalue)


def _compare_pair(
    arm: str, arm_done: dict, baseline_arm: str, baseline_done: dict, metric: str
) -> PairedComparison:
    arm_values, baseline_values = _paired_values(arm_done, baseline_done, metric)
    bounds = metric_bounds(metric)  # a difference of two accuracies lies in [-1, 1]
    interval = mean_ci(np.subtract(arm_values, baseline_values),
                       bounds=None if bounds is None else (-bounds[1], bounds[1]))
    return PairedComparison(
        arm=arm,
        baseline_arm=baseline_arm,
        metric=metric,
        n_pairs=len(arm_values),
        mean_diff=interval["mean"] if interval else None,
        ci_low=interval["ci_low"] if interval else None,
        ci_high=interval["ci_high"] if interval else None,
        p_value=_paired_p_value(arm_values, baseline_values),
        p_holm=None,
    )


def _with_holm(comparisons: list[PairedComparison]) -> list[PairedComparison]:
    """Fill p_holm across the comparisons that have a p-value; the family is those arms."""
    tested = [c for c in comparisons if c.p_value is not None]
    adjusted = dict(zip((c.arm for c in tested), holm_adjust([c.p_value for c in tested])))
    return [replace(c, p_holm=adjusted.get(c.arm)) for c in comparisons]


def paired_comparisons(
    records: Sequence[dict], baseline_arm: str, metric: str
) -> list[PairedComparison]:
    """Every other arm against baseline_arm on metric, paired by seed.

    Pairing by seed removes the seed-to-seed variation both arms share (same data order and
    initialisation seed), so smaller differences become visible than with independent samples.
    Only seeds that both arms finished are paired; p-values are Holm-corrected across the arms.
    """
    by_arm = _records_by_arm(records)
    if baseline_arm not in by_arm:
        raise ValueError(f"baseline arm {baseline_arm!r} not in the study; arms: {sorted(by_arm)}")
    baseline_done = _done_by_seed(by_arm[baseline_arm])
    comparisons = [
        _compare_pair(arm, _done_by_seed(arm_records), baseline_arm, baseline_done, metric)
        for arm, arm_records in by_arm.items()
        if arm != baseline_arm
    ]
    return _with_holm(comparisons)


def failed_trials(records: Iterable[dict]) -> list[dict]:
    """The failed records, unchanged, so the error text and params stay next to the arm."""
    return [r for r in records if r["status"] == CellStatus.FAILED]


@dataclass(frozen=True)
class Reach:
    """How soon an arm's seeds first reached a validation accuracy: of the finished seeds, how
    many got there, and the step and seconds (over those that did)."""

    arm: str
    threshold: str
    seeds_done: int
    reached: int
    step: dict | None  # mean_ci over the seeds that reached it
    seconds: dict | None


def time_to_accuracy(records: Sequence[dict]) -> list[Reach]:
    """Per arm and threshold (the ``reach/<threshold>/step`` metrics the loop reports)."""
    finished = [r for r in records if r["status"] == CellStatus.DONE]
    thresholds = sorted({metric_names.threshold_of(name) for r in finished
                         for name in r.get("metrics") or {}} - {None})
    out = []
    for arm, arm_records in _records_by_arm(records).items():
        done = list(_done_by_seed(arm_records).values())
        for threshold in thresholds:
            step, seconds = metric_names.reach_step(threshold), metric_names.reach_seconds(threshold)
            got = [r["metrics"] for r in done if step in r["metrics"]]
            out.append(Reach(arm, threshold, len(done), len(got),
                             mean_ci([m[step] for m in got]), mean_ci([m[seconds] for m in got])))
    return out
