"""The time-to-accuracy table: when each arm's seeds first reached each validation accuracy.

An arm that learns faster on average but gets there on fewer seeds is not the better recipe, so
the share of seeds that got there stands beside the step and the seconds (over those that did).
"""

from __future__ import annotations

from collections.abc import Sequence

import rich.table

from axiomatic.report.rendering import MISSING, add_label_column, format_interval
from axiomatic.study.results import Reach


def _reach_texts(reach: Reach) -> list[str]:
    def spread(interval: dict | None, digits: int) -> str:
        if interval is None:
            return MISSING
        return format_interval(interval["mean"], interval["ci_low"], interval["ci_high"],
                               interval["values"], digits)

    return [reach.arm, f"{reach.threshold}", f"{reach.reached}/{reach.seeds_done}",
            spread(reach.step, 0), spread(reach.seconds, 0)]


REACH_HEADER = ("arm", "val acc", "seeds there", "first step", "seconds")


def to_markdown(reaches: Sequence[Reach]) -> str:
    """When each arm's seeds first reached each validation accuracy (over those that did)."""
    lines = ["| " + " | ".join(REACH_HEADER) + " |", "|---|---:|---:|---:|---:|"]
    for reach in reaches:
        lines.append("| " + " | ".join(t.replace("|", "\\|") for t in _reach_texts(reach)) + " |")
    return "\n".join(lines) + "\n"


def to_rich(reaches: Sequence[Reach]) -> rich.table.Table:
    view = rich.table.Table(title="Time to validation accuracy (seeds that got there)", title_justify="left")
    add_label_column(view, REACH_HEADER[0], [reach.arm for reach in reaches])
    for column in REACH_HEADER[1:]:
        view.add_column(column, justify="right")
    for reach in reaches:
        view.add_row(*_reach_texts(reach))
    return view
