"""Paper-style results tables: arms over suites, next to chance, shortcuts and the paper's numbers.

`build_table` turns arm summaries, shortcut baselines and reference rows into a plain `Table`;
the `to_*` functions render it. Columns are suites, grouped as the paper's tables group them and
ordered by size (len=7 before len=10). Rows, top to bottom:

- one per arm: mean over the seeds that ran to the end ± half-width of the 95% Student-t interval
  ("0.87 ± 0.03"), or "0.97 [0.93, 1.00]" where the interval is cut at the range an accuracy can
  take; with one or two seeds the seeds' own values ("0.59 / 0.49"), since two points cannot
  support an interval. Seeds the scheduler stopped early are not averaged; the arm's label says
  how many there were ("pe=none (1 of 3 seeds stopped early, not averaged)");
- "chance (majority class)": accuracy of always answering the suite's more frequent label
  (0.50 on balanced suites, and where no baseline was computed);
- "mention order", "direct edge": the shortcut rules' accuracies (PAPER.md "Shortcuts"); an arm
  that does not beat them has not shown it applies the axiom;
- one per reference row, as given;
- "Δ best arm - <first reference>": per column, the best arm's mean minus that reference.

Non-arm rows only show in the groups where they have a number.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import rich.table

from axiomatic import metric_names
from axiomatic.study.results import ArmSummary, PairedComparison

# (suite family, group title), in the order of the paper's tables.
GENERATED_FAMILIES = (
    ("standard_chain", "Length generalisation (standard)"),
    ("flipped_chain", "Length generalisation (flipped)"),
    ("reversed_chain", "Reversal"),
    ("shuffled_chain", "Shuffled order"),
    ("name_shift", "Name shift"),
    ("branching_bf1.4", "Branching bf1.4"),
    ("branching_bf2.0", "Branching bf2.0"),
)
FAMILY_ORDER = tuple(family for family, _ in GENERATED_FAMILIES)
FAMILY_TITLES = dict(GENERATED_FAMILIES)
PUBLISHED_PREFIX = "published/"
PUBLISHED_AXIOM_ORDER = ("transitivity", "dseparation")
PUBLISHED_TITLE = "Published files"
OTHER_TITLE = "Other"

SIZE_COMPONENT = re.compile(r"^(len|n)=(\d+)$")
CHANCE_LABEL = "chance (majority class)"
SHORTCUT_LABELS = (("mention_order", "mention order"), ("direct_edge", "direct edge"))
MISSING = "–"


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


def split_suite(suite: str) -> tuple[str, int | None]:
    """("flipped_chain", 9) for "flipped_chain/len=9"; (suite, None) when it has no size."""
    family, _, last = suite.rpartition("/")
    match = SIZE_COMPONENT.match(last)
    if not family or not match:
        return suite, None
    return family, int(match.group(2))


def _family_rank(family: str) -> tuple[int, int, int]:
    """Generated families in the paper's order, then published files by axiom, then the rest."""
    if family in FAMILY_ORDER:
        return (0, FAMILY_ORDER.index(family), 0)
    if family.startswith(PUBLISHED_PREFIX):
        axiom, _, inner = family[len(PUBLISHED_PREFIX) :].partition("/")
        axiom_rank = (
            PUBLISHED_AXIOM_ORDER.index(axiom)
            if axiom in PUBLISHED_AXIOM_ORDER
            else len(PUBLISHED_AXIOM_ORDER)
        )
        inner_rank = FAMILY_ORDER.index(inner) if inner in FAMILY_ORDER else len(FAMILY_ORDER)
        return (1, axiom_rank, inner_rank)
    return (2, 0, 0)


def suite_sort_key(suite: str) -> tuple:
    family, size = split_suite(suite)
    return (_family_rank(family), family, -1 if size is None else size)


def group_title(suite: str) -> str:
    """The column group of a suite; each published family is a group of its own (by prefix)."""
    family, _ = split_suite(suite)
    if family in FAMILY_TITLES:
        return FAMILY_TITLES[family]
    if family.startswith(PUBLISHED_PREFIX):
        return f"{PUBLISHED_TITLE}: {family[len(PUBLISHED_PREFIX):]}"
    return OTHER_TITLE


def column_label(suite: str) -> str:
    """The header of a suite within its group: its size ("len=9"), or the whole name if none."""
    family, size = split_suite(suite)
    return suite if size is None else suite[len(family) + 1 :]


def group_columns(suites: Sequence[str]) -> tuple[ColumnGroup, ...]:
    ordered = sorted(set(suites), key=suite_sort_key)
    titles = list(dict.fromkeys(group_title(suite) for suite in ordered))
    return tuple(
        ColumnGroup(title, tuple(s for s in ordered if group_title(s) == title)) for title in titles
    )


def measured_suites(summaries: Sequence[ArmSummary]) -> list[str]:
    """Every suite some arm has an accuracy for, in table order."""
    measured = {metric_names.suite_of(name) for s in summaries for name in s.metrics} - {None}
    return sorted(measured, key=suite_sort_key)


# --- rows ----------------------------------------------------------------------------------


def _arm_row(summary: ArmSummary, suites: Sequence[str]) -> Row:
    cells = {}
    for suite in suites:
        interval = summary.metrics.get(metric_names.suite_acc(suite))
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
) -> Table:
    """The paper-style table; suites=None shows every suite any arm has a result for."""
    groups = group_columns(measured_suites(summaries) if suites is None else suites)
    columns = [suite for group in groups for suite in group.suites]
    baselines = baselines or {}
    arm_rows = [_arm_row(summary, columns) for summary in summaries]
    baseline_rows = [_chance_row(baselines, columns)] + [
        _shortcut_row(key, label, baselines, columns) for key, label in SHORTCUT_LABELS
    ]
    reference_rows = [
        _reference_row(label, accuracies, columns)
        for label, accuracies in (references or {}).items()
    ]
    delta_rows = [_delta_row(arm_rows, reference_rows[0], columns)] if reference_rows else []
    other_rows = [row for row in baseline_rows + reference_rows + delta_rows if row.cells]
    return Table(groups, tuple(arm_rows + other_rows))


# --- rendering -----------------------------------------------------------------------------


def format_cell(cell: TableCell | None, kind: str, digits: int = 2) -> str:
    if cell is None:
        return MISSING
    if kind == "delta":
        return f"{cell.mean:+.{digits}f}"
    return format_interval(cell.mean, cell.ci_low, cell.ci_high, cell.values, digits)


def format_interval(mean: float, low: float | None, high: float | None,
                    values: Sequence[float] | None, digits: int = 2) -> str:
    """"0.87 ± 0.03"; "0.97 [0.93, 1.00]" when the interval was cut at the metric's range;
    "0.59 / 0.49" (the values) for one or two seeds; the mean alone without values."""
    if values is not None and len(values) < 3:
        return " / ".join(f"{v:.{digits}f}" for v in values)
    if low is None or high is None:
        return f"{mean:.{digits}f}"
    if math.isclose(mean - low, high - mean, rel_tol=1e-9, abs_tol=1e-12):
        return f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _rows_for(table: Table, group: ColumnGroup) -> list[Row]:
    """Every arm row, and the other rows that have a number in this group."""
    return [
        row
        for row in table.rows
        if row.kind == "arm" or any(suite in row.cells for suite in group.suites)
    ]


def _row_texts(row: Row, group: ColumnGroup) -> list[str]:
    return [format_cell(row.cells.get(suite), row.kind) for suite in group.suites]


def _markdown_group(table: Table, group: ColumnGroup) -> str:
    header = ["", *(column_label(suite) for suite in group.suites)]
    lines = [
        f"### {group.title}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(group.suites)) + "|",
    ]
    for row in _rows_for(table, group):
        label = row.shown_label.replace("|", "\\|")
        lines.append("| " + " | ".join([label, *_row_texts(row, group)]) + " |")
    return "\n".join(lines)


def to_markdown(table: Table) -> str:
    """One Markdown table per column group, under a "###" heading with the group's title."""
    note = ("_Cells: mean ± half-width of the 95% t interval over the seeds that ran to the end "
            "(cut to [0, 1]: mean [low, high]); with one or two seeds, their values. Seeds stopped "
            "early by the scheduler are counted beside their arm, not averaged._")
    return "\n\n".join([note, *(_markdown_group(table, g) for g in table.groups)]) + "\n"


LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "Δ": r"$\Delta$",
    "±": r"$\pm$",
    MISSING: "--",
}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(char, char) for char in text)


def _latex_group(table: Table, group: ColumnGroup) -> str:
    width = len(group.suites)
    lines = [
        r"\begin{tabular}{l" + "r" * width + "}",
        r"\hline",
        f" & \\multicolumn{{{width}}}{{c}}{{{latex_escape(group.title)}}} \\\\",
        " & " + " & ".join(latex_escape(column_label(s)) for s in group.suites) + r" \\",
        r"\hline",
    ]
    previous_kind = "arm"
    for row in _rows_for(table, group):
        # A rule between the study's own rows and the rows it is compared with.
        if previous_kind == "arm" and row.kind != "arm":
            lines.append(r"\hline")
        previous_kind = row.kind
        texts = [row.shown_label, *_row_texts(row, group)]
        lines.append(" & ".join(latex_escape(text) for text in texts) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines)


def to_latex(table: Table) -> str:
    """One plain `tabular` per column group (no package beyond LaTeX itself)."""
    return "\n\n".join(_latex_group(table, group) for group in table.groups) + "\n"


CSV_FIELDS = ("row", "kind", "group", "suite", "mean", "ci_low", "ci_high", "n")


def to_csv(table: Table) -> str:
    """Long format, one line per row and suite with a number, at full precision for analysis."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for group in table.groups:
        for row in table.rows:
            for suite in group.suites:
                cell = row.cells.get(suite)
                if cell is not None:
                    optional = (cell.ci_low, cell.ci_high, cell.n)
                    writer.writerow(
                        [row.label, row.kind, group.title, suite, repr(cell.mean)]
                        + ["" if value is None else repr(value) for value in optional]
                    )
    return buffer.getvalue()


def to_rich(table: Table) -> list[rich.table.Table]:
    """One rich table per column group: all suites side by side would not fit a terminal."""
    rendered = []
    for group in table.groups:
        view = rich.table.Table(title=group.title, title_justify="left")
        view.add_column("")
        for suite in group.suites:
            view.add_column(column_label(suite), justify="right")
        rows = _rows_for(table, group)
        for row, next_row in zip(rows, [*rows[1:], None]):
            # A rule between the study's own rows and the rows it is compared with.
            is_last_arm = row.kind == "arm" and (next_row is None or next_row.kind != "arm")
            style = None if row.kind == "arm" else "dim"
            view.add_row(row.shown_label, *_row_texts(row, group), style=style, end_section=is_last_arm)
        rendered.append(view)
    return rendered


def _signed(value: float | None) -> str:
    return MISSING if value is None else f"{value:+.3f}"


def _p_text(p: float | None) -> str:
    return MISSING if p is None else f"{p:.3g}"


def _difference_text(comparison: PairedComparison) -> str:
    if comparison.n_pairs < 2:
        return _signed(comparison.mean_diff)
    return (
        f"{_signed(comparison.mean_diff)} "
        f"[{_signed(comparison.ci_low)}, {_signed(comparison.ci_high)}]"
    )


def comparisons_markdown(comparisons: Sequence[PairedComparison]) -> str:
    """Paired-by-seed differences to the baseline arm, with raw and Holm-adjusted p-values."""
    lines = [
        "| arm | vs | metric | pairs | difference [95% CI] | p | p (Holm) |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for c in comparisons:
        cells = [c.arm, c.baseline_arm, c.metric, str(c.n_pairs), _difference_text(c)]
        cells += [_p_text(c.p_value), _p_text(c.p_holm)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def importances_markdown(importances: Mapping[str, float]) -> str:
    """Optuna parameter importances, most important first."""
    if not importances:
        return "_No parameter importances._\n"
    lines = ["| parameter | importance |", "|---|---:|"]
    ranked = sorted(importances.items(), key=lambda item: item[1], reverse=True)
    lines += [f"| {name} | {value:.3f} |" for name, value in ranked]
    return "\n".join(lines) + "\n"

