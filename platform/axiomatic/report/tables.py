"""Paper-style results tables: arms over suites, next to chance, shortcuts and the paper's numbers.

`build_table` turns arm summaries, shortcut baselines and reference rows into a plain `Table`;
`report.rendering` writes it as Markdown, LaTeX, CSV or rich tables. Columns are suites, grouped as
the paper's tables group them and ordered by size (len=7 before len=10). Rows, top to bottom:

- one per arm: mean over the seeds that ran to the end ± half-width of the 95% Student-t interval
  ("0.87 ± 0.03"), or "0.97 [0.93, 1.00]" where the interval is cut at the range an accuracy can
  take; with one or two seeds the seeds' own values ("0.59 / 0.49"), since two points cannot
  support an interval. Seeds the scheduler stopped early are not averaged; the arm's label says
  how many there were ("pe=none (1 of 3 seeds stopped early, not averaged)");
- "chance (majority class)": accuracy of always answering the suite's more frequent label
  (0.50 on balanced suites, and where no baseline was computed);
- "mention order", "direct edge" (transitivity) and "no edge", "blocked between", "nonempty
  given", "skeleton cut" (d-separation): the shortcut rules' accuracies (PAPER.md "Shortcuts",
  data.baselines); an arm that does not beat them has not shown it applies the axiom;
- on a Yes-class table (f1, precision, recall) one baseline instead: "always Yes";
- one per reference row, as given;
- "Δ best arm - <first reference>": per column, the best arm's mean minus that reference.

Non-arm rows only show in the groups where they have a number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from axiomatic import metric_names
from axiomatic.data import tasks
from axiomatic.study.results import ArmSummary

PUBLISHED_PREFIX = "published/"
PUBLISHED_TITLE = "Published files"
OTHER_TITLE = "Other"

SIZE_COMPONENT = re.compile(r"^(len|n)=(\d+)$")
# a Corr2Cause suite's last component when it is not a size: the whole split, or one hypothesis type
SELECTOR_COMPONENT = re.compile(r"^(all|type=[a-z]+)$")
CHANCE_LABEL = "chance (majority class)"
ALWAYS_YES_LABEL = "always Yes"
SHORTCUT_LABELS = (("mention_order", "mention order"), ("direct_edge", "direct edge"),
                   ("no_edge", "no edge"), ("blocked_between", "blocked between"),
                   ("nonempty_given", "nonempty given"), ("skeleton_cut", "skeleton cut"))


@dataclass(frozen=True)
class TableCell:
    """One number of the table; ci_low, ci_high and n only for arm cells (n = seeds)."""

    mean: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    values: tuple[float, ...] | None = None  # the seeds' own values


@dataclass(frozen=True)
class Row:
    label: str
    kind: str  # "arm", "baseline", "reference" or "delta"
    cells: dict[str, TableCell]  # suite -> cell; a suite without a number has no key
    note: str = ""  # shown beside the label where people read it (not in the CSV's row key)

    @property
    def shown_label(self) -> str:
        return f"{self.label} ({self.note})" if self.note else self.label


@dataclass(frozen=True)
class ColumnGroup:
    title: str
    suites: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    groups: tuple[ColumnGroup, ...]
    rows: tuple[Row, ...]

    @property
    def columns(self) -> list[str]:
        return [suite for group in self.groups for suite in group.suites]


# --- columns -------------------------------------------------------------------------------


def family_titles() -> dict[str, str]:
    """Suite family -> group title, in the order of the paper's tables: each task's report
    groups, the tasks in the order registered (the published files' axioms go in that order too)."""
    return {family: title for task in tasks.all_tasks() for family, title in task.report_groups}


def split_suite(suite: str) -> tuple[str, int | None]:
    """("flipped_chain", 9) for "flipped_chain/len=9"; ("corr2cause", None) for "corr2cause/all"
    or "corr2cause/type=collider"; (suite, None) when it has neither."""
    family, _, last = suite.rpartition("/")
    if family in family_titles() and SELECTOR_COMPONENT.match(last):
        return family, None
    match = SIZE_COMPONENT.match(last)
    if not family or not match:
        return suite, None
    return family, int(match.group(2))


def _family_rank(family: str) -> tuple[int, int, int]:
    """Generated families in the paper's order, then published files by axiom, then the rest."""
    order, axioms = tuple(family_titles()), tasks.names()
    if family in order:
        return (0, order.index(family), 0)
    if family.startswith(PUBLISHED_PREFIX):
        axiom, _, inner = family[len(PUBLISHED_PREFIX) :].partition("/")
        axiom_rank = axioms.index(axiom) if axiom in axioms else len(axioms)
        inner_rank = order.index(inner) if inner in order else len(order)
        return (1, axiom_rank, inner_rank)
    return (2, 0, 0)


def suite_sort_key(suite: str) -> tuple:
    # within a family: "all" first, then sizes, then hypothesis types by name
    family, size = split_suite(suite)
    return (_family_rank(family), family, -1 if size is None else size, suite)


def group_title(suite: str) -> str:
    """The column group of a suite; each published family is a group of its own (by prefix)."""
    family, _ = split_suite(suite)
    titles = family_titles()
    if family in titles:
        return titles[family]
    if family.startswith(PUBLISHED_PREFIX):
        return f"{PUBLISHED_TITLE}: {family[len(PUBLISHED_PREFIX):]}"
    return OTHER_TITLE


def column_label(suite: str) -> str:
    """The header of a suite within its group: its size ("len=9") or selector ("all"), or the
    whole name if none."""
    family, _ = split_suite(suite)
    return suite if family == suite else suite[len(family) + 1 :]


def group_columns(suites: Sequence[str]) -> tuple[ColumnGroup, ...]:
    ordered = sorted(set(suites), key=suite_sort_key)
    titles = list(dict.fromkeys(group_title(suite) for suite in ordered))
    return tuple(
        ColumnGroup(title, tuple(s for s in ordered if group_title(s) == title)) for title in titles
    )


def measured_suites(summaries: Sequence[ArmSummary], measure: str = "acc") -> list[str]:
    """Every suite some arm has a ``measure`` for, in table order."""
    located = [metric_names.suite_and_measure(name) for s in summaries for name in s.metrics]
    return sorted({found[0] for found in located if found and found[1] == measure}, key=suite_sort_key)


# --- rows ----------------------------------------------------------------------------------


def _arm_row(summary: ArmSummary, suites: Sequence[str], measure: str = "acc") -> Row:
    cells = {}
    for suite in suites:
        interval = summary.metrics.get(metric_names.suite_metric(suite, measure))
        if interval is not None:
            cells[suite] = TableCell(**{**interval, "values": tuple(interval["values"])})
    return Row(summary.arm, "arm", cells, stopped_note(summary))


def stopped_note(summary: ArmSummary) -> str:
    """Says that an arm's numbers leave out seeds the scheduler stopped early, and how many."""
    if not summary.seeds_stopped:
        return ""
    return f"{summary.seeds_stopped} of {summary.seeds_total} seeds stopped early, not averaged"


def _chance_row(baselines: Mapping[str, dict], suites: Sequence[str]) -> Row:
    cells = {s: TableCell(baselines.get(s, {}).get("majority", 0.5)) for s in suites}
    return Row(CHANCE_LABEL, "baseline", cells)


def _always_yes_row(baselines: Mapping[str, dict], suites: Sequence[str], measure: str) -> Row:
    """What answering Yes to everything scores on a Yes-class measure: precision = the Yes
    share q, recall 1, F1 2q / (1 + q). (Always No scores 0 on all three.)"""
    shares = {s: baselines[s]["yes_share"] for s in suites if "yes_share" in baselines.get(s, {})}
    value = {"precision": lambda q: q, "recall": lambda q: 1.0, "f1": lambda q: 2 * q / (1 + q)}[measure]
    return Row(ALWAYS_YES_LABEL, "baseline", {s: TableCell(value(q)) for s, q in shares.items()})


def _shortcut_row(
    key: str, label: str, baselines: Mapping[str, dict], suites: Sequence[str]
) -> Row:
    values = {suite: baselines.get(suite, {}).get(key) for suite in suites}
    return Row(label, "baseline", {s: TableCell(v) for s, v in values.items() if v is not None})


def _reference_row(label: str, accuracies: Mapping[str, float], suites: Sequence[str]) -> Row:
    return Row(label, "reference", {s: TableCell(accuracies[s]) for s in suites if s in accuracies})


def _delta_row(arm_rows: Sequence[Row], reference: Row, suites: Sequence[str]) -> Row:
    """Per column, the best arm's mean minus the reference (positive: the study beats it)."""
    cells = {}
    for suite in suites:
        means = [row.cells[suite].mean for row in arm_rows if suite in row.cells]
        if means and suite in reference.cells:
            cells[suite] = TableCell(max(means) - reference.cells[suite].mean)
    return Row(f"Δ best arm - {reference.label}", "delta", cells)


def build_table(
    summaries: Sequence[ArmSummary],
    baselines: Mapping[str, dict] | None,
    references: Mapping[str, Mapping[str, float]] | None,
    suites: Sequence[str] | None = None,
    measure: str = "acc",
) -> Table:
    """The paper-style table of a ``measure`` (accuracy, or the Yes class's f1 / precision /
    recall); suites=None shows every suite any arm has that measure for."""
    groups = group_columns(measured_suites(summaries, measure) if suites is None else suites)
    columns = [suite for group in groups for suite in group.suites]
    baselines = baselines or {}
    arm_rows = [_arm_row(summary, columns, measure) for summary in summaries]
    if measure == "acc":
        baseline_rows = [_chance_row(baselines, columns)] + [
            _shortcut_row(key, label, baselines, columns) for key, label in SHORTCUT_LABELS]
    else:
        baseline_rows = [_always_yes_row(baselines, columns, measure)]
    reference_rows = [
        _reference_row(label, accuracies, columns)
        for label, accuracies in (references or {}).items()
    ]
    delta_rows = [_delta_row(arm_rows, reference_rows[0], columns)] if reference_rows else []
    other_rows = [row for row in baseline_rows + reference_rows + delta_rows if row.cells]
    return Table(groups, tuple(arm_rows + other_rows))
