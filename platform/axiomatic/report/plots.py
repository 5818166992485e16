"""PNG figures of a study: accuracy against structure size per suite family, learning curves.

Bands are 95% Student-t intervals over finished seeds (see `study.results.mean_ci`); an arm with a
single seed is drawn as a line without a band.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

# Headless: studies run on cluster nodes and in CI without a display.
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen before this import)
from matplotlib.ticker import MaxNLocator  # noqa: E402

from axiomatic.study.ledger import CellStatus  # noqa: E402
from axiomatic import metric_names  # noqa: E402
from axiomatic.report.tables import measured_suites, split_suite  # noqa: E402
from axiomatic.study.results import ArmSummary, mean_ci, metric_bounds  # noqa: E402

CHANCE = 0.5
SHORTCUT_STYLES = (("mention_order", "mention order", ":"), ("direct_edge", "direct edge", "-."))
LEARNING_CURVE_METRIC = metric_names.VAL_ACC


def _family_sizes(summaries: Sequence[ArmSummary], family: str) -> list[tuple[int, str]]:
    """(size, suite) of every sized suite of the family that some arm measured, by size."""
    split = [(split_suite(suite), suite) for suite in measured_suites(summaries)]
    return [(size, suite) for (fam, size), suite in split if fam == family and size is not None]


def _x_label(family: str) -> str:
    return "nodes in the graph" if "branching" in family else "nodes in the chain"


def _save(figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def _draw_mean_with_band(axes, xs, intervals, label: str) -> None:
    means = [interval["mean"] for interval in intervals]
    (line,) = axes.plot(xs, means, marker="o", label=label)
    if any(interval["n"] >= 2 for interval in intervals):
        lows = [interval["ci_low"] for interval in intervals]
        highs = [interval["ci_high"] for interval in intervals]
        axes.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.2, linewidth=0)


def _draw_shortcuts(axes, sizes_and_suites, baselines: Mapping[str, dict]) -> None:
    """The shortcut rules per size: an arm under these lines has not beaten a trivial rule."""
    for key, label, linestyle in SHORTCUT_STYLES:
        points = [
            (size, baselines[suite][key])
            for size, suite in sizes_and_suites
            if baselines.get(suite, {}).get(key) is not None
        ]
        if points:
            xs, ys = zip(*points)
            # Markers too, so a baseline known at a single size still shows.
            axes.plot(xs, ys, color="grey", linestyle=linestyle, marker="x", label=label)


def plot_length_generalisation(
    summaries: Sequence[ArmSummary],
    family: str,
    path: Path,
    baselines: Mapping[str, dict] | None = None,
) -> Path:
    """Accuracy against size for one suite family ("flipped_chain", ...), one line per arm."""
    sizes_and_suites = _family_sizes(summaries, family)
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    for summary in summaries:
        measured = [
            (size, summary.metrics[metric_names.suite_acc(suite)])
            for size, suite in sizes_and_suites
            if metric_names.suite_acc(suite) in summary.metrics
        ]
        if measured:
            xs, intervals = zip(*measured)
            _draw_mean_with_band(axes, xs, intervals, summary.arm)
    axes.axhline(CHANCE, color="black", linestyle="--", linewidth=1, label="chance")
    _draw_shortcuts(axes, sizes_and_suites, baselines or {})
    axes.set(title=family, xlabel=_x_label(family), ylabel="accuracy", ylim=(0.0, 1.05))
    axes.set_xticks([size for size, _ in sizes_and_suites])
    axes.legend(fontsize="small")
    return _save(figure, path)


def _step_intervals(arm_records: Sequence[dict], metric: str) -> list[tuple[int, dict]]:
    """(step, mean_ci over the seeds that reported the metric at that step), by step: the
    evaluation cadence, not epochs (a short run has a handful of epochs and many evaluations).

    Seeds stopped early (e.g. by ASHA) simply drop out of later steps; an accuracy's band stays
    in [0, 1].
    """
    values_by_step: dict[int, list[float]] = {}
    for record in arm_records:
        for report in record.get("history") or []:
            if metric in report:
                values_by_step.setdefault(report["step"], []).append(report[metric])
    return [(step, mean_ci(values, bounds=metric_bounds(metric)))
            for step, values in sorted(values_by_step.items())]


def plot_learning_curves(records: Sequence[dict], metric: str, path: Path) -> Path:
    """Per arm, the mean of metric over the seeds that ran to the end (DONE) against the step,
    with a 95% CI band; a seed stopped early would leave the band narrower at later steps."""
    finished_by_arm: dict[str, list[dict]] = {}
    for record in records:
        if record["status"] == CellStatus.DONE:
            finished_by_arm.setdefault(record["arm"], []).append(record)
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    for arm, arm_records in finished_by_arm.items():
        points = _step_intervals(arm_records, metric)
        if points:
            steps, intervals = zip(*points)
            _draw_mean_with_band(axes, steps, intervals, arm)
    axes.set(title=metric, xlabel="optimiser step", ylabel=metric)
    if metric_bounds(metric):
        axes.set_ylim(0.0, 1.05)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small")
    return _save(figure, path)


def _families_present(summaries: Sequence[ArmSummary]) -> list[str]:
    """Families with at least one sized suite, in table order."""
    split = [split_suite(suite) for suite in measured_suites(summaries)]
    return list(dict.fromkeys(family for family, size in split if size is not None))


def _file_stem(name: str) -> str:
    """A file name from a family or metric name ("published/transitivity/x" -> "published__...")."""
    return name.replace("/", "__").replace("=", "-")


def _has_history(records: Sequence[dict], metric: str) -> bool:
    return any(
        metric in report
        for record in records
        if record["status"] == CellStatus.DONE
        for report in record.get("history") or []
    )


def write_plots(
    records: Sequence[dict],
    summaries: Sequence[ArmSummary],
    baselines: Mapping[str, dict] | None,
    out_dir: Path,
) -> list[Path]:
    """One length-generalisation plot per suite family present, and val/acc learning curves."""
    out_dir = Path(out_dir)
    paths = [
        plot_length_generalisation(
            summaries, family, out_dir / f"length_{_file_stem(family)}.png", baselines
        )
        for family in _families_present(summaries)
    ]
    if _has_history(records, LEARNING_CURVE_METRIC):
        curve_path = out_dir / f"learning_{_file_stem(LEARNING_CURVE_METRIC)}.png"
        paths.append(plot_learning_curves(records, LEARNING_CURVE_METRIC, curve_path))
    return paths
