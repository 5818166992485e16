"""Two runs compared (``study.comparison``), as text: a rich table for the terminal and Markdown
for a note or a pull request. The second run minus the first, each difference with its 95 %
interval and the test it came from."""

from __future__ import annotations

import rich.table
from rich.console import Group
from rich.markup import escape
from rich.syntax import Syntax

from axiomatic.report.rendering import MISSING
from axiomatic.study.comparison import MetricDifference, StudyComparison

HEADER = ("arm", "metric", "test", "seeds", "first", "second", "difference [95% CI]")


def _signed(value: float | None) -> str:
    return MISSING if value is None else f"{value:+.3f}"


def _cells(d: MetricDifference) -> list[str]:
    interval = "" if d.ci_low is None else f" [{_signed(d.ci_low)}, {_signed(d.ci_high)}]"
    return [d.arm, d.metric, d.test, f"{d.seeds_first} / {d.seeds_second}", f"{d.mean_first:.3f}",
            f"{d.mean_second:.3f}", _signed(d.difference) + interval]


def to_markdown(comparison: StudyComparison) -> str:
    parts = [f"# `{comparison.second}` against `{comparison.first}`\n"]
    if not comparison.spec_diff:
        parts.append("Both runs' arms mean the same (their fingerprints are equal).\n")
    else:
        parts += ["## What changed in the spec\n", f"```diff\n{comparison.spec_diff}\n```\n"]
    parts.append("## Arms in both: second minus first\n")
    if comparison.differences:
        lines = ["| " + " | ".join(HEADER) + " |", "|---|---|---|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(d)) + " |" for d in comparison.differences]
        parts.append("\n".join(lines) + "\n")
    else:
        parts.append("_No metric that an arm of both runs measured on seeds that ran to the end._\n")
    for title, arms in ((comparison.first, comparison.only_in_first), (comparison.second, comparison.only_in_second)):
        if arms:
            parts += [f"## Arms only in `{title}`\n", "\n".join(f"- {arm}" for arm in arms) + "\n"]
    return "\n".join(parts)


def to_rich(comparison: StudyComparison) -> Group:
    """The spec's diff (when there is one), the table, and the arms only one run has."""
    shown = []
    if not comparison.spec_diff:
        shown.append("[dim]both runs' arms mean the same (their fingerprints are equal)[/]")
    else:
        shown += ["[bold]what changed in the spec[/]", Syntax(comparison.spec_diff, "diff")]
    table = rich.table.Table(title=f"{escape(comparison.second)} minus {escape(comparison.first)}",
                             title_justify="left")
    for name in HEADER:  # a metric's long name folds rather than being cut; the numbers never wrap
        text = name in ("arm", "metric", "test")
        table.add_column(name, justify="left" if text else "right", overflow="fold", no_wrap=not text)
    for d in comparison.differences:
        table.add_row(*(escape(c) for c in _cells(d)))
    shown.append(table)
    for title, arms in ((comparison.first, comparison.only_in_first), (comparison.second, comparison.only_in_second)):
        if arms:
            shown.append(f"[bold]only in {escape(title)}:[/] " + escape(", ".join(arms)))
    return Group(*shown)
