"""The d-separation task: ``A causes B.`` premises, ``Are X and Y d-separated given {Z}?``."""

from __future__ import annotations

from axiomatic.data import graph_suites
from axiomatic.data.axioms import dseparation
from axiomatic.data.dataset import Dataset
from axiomatic.data.tasks import transitivity
from axiomatic.data.tasks.task import Option, Task


def _given_sizes(data: Dataset):
    """A d-separation question states its own category: the size of its given set."""
    return dseparation.given_sizes(data.tokens, data.lengths)


TASK = Task(
    name="dseparation",
    description="whether two nodes are d-separated given a set",
    spec=dseparation.DSeparationSpec,
    generate=dseparation.generate,
    question_words=("d-separated",),
    category_names=dseparation.CATEGORY_NAMES,
    presets=dseparation.PRESETS,
    default_preset="DSEP",
    options=(transitivity.PERTURBATION, transitivity.CHAIN_LENGTHS, transitivity.FLIP_PROB,
             transitivity.SHUFFLE_SHARE,
             Option("--dag-share", "dag_share", {"type": float, "help": "share of premises that are random DAGs"}),
             Option("--max-given", "max_given", {"type": int, "help": "largest conditioning set asked about"}),
             transitivity.UNIFORM),
    questions_per_row=lambda spec: spec.questions_per_premise,
    suite_families=graph_suites.families("dseparation"),
    suite_names=lambda: graph_suites.names("dseparation"),
    build_suite=graph_suites.build,
    suite_listing=graph_suites.listing("dseparation"),
    shortcut_rules=("no_edge", "blocked_between", "nonempty_given", "skeleton_cut"),
    report_groups=(("dseparation/flipped_chain", "d-separation, flipped chains"),
                   ("dseparation/branching_bf1.4", "d-separation, branching bf1.4")),
    hops=True,
    categories_from_text=_given_sizes,
)
