"""The report's tables as text: the paper-style table (`report.tables`) as Markdown, LaTeX, CSV and
rich tables, and the paired comparisons and parameter importances as Markdown."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence

import rich.table

from axiomatic.report.tables import ColumnGroup, Row, Table, TableCell, column_label
from axiomatic.study.results import PairedComparison

MISSING = "–"


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


LABEL_WIDTH_CAP = 40  # beyond this a label folds onto a second line


def add_label_column(view: rich.table.Table, header: str, labels: Sequence[str]) -> None:
    """The column that names each row (an arm, a baseline), wide enough for its longest label:
    on a narrow console rich shrinks the widest columns first, and an arm cut to
    ``perturbation…`` no longer says which arm it is. The numbers wrap instead."""
    longest = max((len(label) for label in labels), default=0)
    view.add_column(header, min_width=min(max(longest, len(header)), LABEL_WIDTH_CAP), overflow="fold")


def to_rich(table: Table) -> list[rich.table.Table]:
    """One rich table per column group: all suites side by side would not fit a terminal."""
    rendered = []
    for group in table.groups:
        view = rich.table.Table(title=group.title, title_justify="left")
        rows = _rows_for(table, group)
        add_label_column(view, "", [row.shown_label for row in rows if row.kind == "arm"])
        for suite in group.suites:
            view.add_column(column_label(suite), justify="right")
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
