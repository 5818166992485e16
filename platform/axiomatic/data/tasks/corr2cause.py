"""The Corr2Cause task: every statistical relation among N variables, then a causal hypothesis."""

from __future__ import annotations

from axiomatic.data.axioms import corr2cause
from axiomatic.data.dataset import Dataset
from axiomatic.data.tasks.task import Option, Task


def _type_and_size(data: Dataset, row: int) -> dict:
    """Which hypothesis type a row asks about, and how many variables its system has."""
    return {"type": corr2cause.TYPES[data.categories[row]], "n_nodes": int(data.nodes[row])}


TASK = Task(
    name="corr2cause",
    description="from correlations to causation (Jin et al. 2024)",
    spec=corr2cause.Corr2CauseSpec,
    generate=corr2cause.generate,
    question_words=("Suppose",),
    category_names=corr2cause.TYPES,
    options=(
        Option("--nodes", "nodes", {"type": int, "nargs": 2, "metavar": ("LO", "HI"), "help": "variables per system, 2..8"}),
        Option("--split", "split", {"help": "train, val, test or all (splits hold whole equivalence classes)"}),
        Option("--semantics", "semantics", {"help": "exact (default) or corr2cause"}),
        Option("--names", "names", {"help": "random (default) or letters"}),
        Option("--pair-order", "pair_order", {"help": "both (default) or forward"}),
        Option("--types", "types", {"nargs": "+", "help": "hypothesis types (default: all six)"}),
        Option("--premise", "premise", {"help": "full (default) or minimal"}),
        Option("--natural", "balanced", {"action": "store_true",
                                         "help": "the natural Yes share instead of balanced labels"}, inverts=True),
    ),
    suite_families=corr2cause.SUITE_FAMILIES,
    claims=corr2cause.is_suite_name,
    suite_names=corr2cause.suite_names,
    build_suite=corr2cause.build_suite,
    suite_listing="corr2cause/(n=5..8|type=T|all), corr2cause_minimal/(n=5|6|type=T|all), corr2cause_natural/all",
    unknown_suite=corr2cause.unknown_suite,
    report_groups=(("corr2cause", "Corr2Cause (balanced test split)"),
                   ("corr2cause_natural", "Corr2Cause (natural Yes share)"),
                   ("corr2cause_minimal", "Corr2Cause (minimal premise, balanced test split)")),
    yes_class=True,
    jsonl_fields=_type_and_size,
)
