"""The transitivity task (the paper's v1 axiom): ``A causes B.`` premises, ``Does X cause Y?``."""

from __future__ import annotations

from axiomatic.data import graph_suites, graphs, mixtures
from axiomatic.data.tasks.task import Option, Task

# shared with d-separation, whose premises are the same chains
PERTURBATION = Option("--perturbation", "perturbation", {"type": float, "help": "0 = OCC, 1 = TS2, 2 = TS1, 3 = beyond"})
CHAIN_LENGTHS = Option("--chain-lengths", "chain_lengths", {"type": int, "nargs": 2, "metavar": ("LO", "HI")})
FLIP_PROB = Option("--flip-prob", "flip_prob", {"type": float})
SHUFFLE_SHARE = Option("--shuffle-share", "shuffle_share", {"type": float})
UNIFORM = Option("--uniform", "balance", {"action": "store_true",
                                          "help": "plain uniform pair sampling (no category balance)"}, inverts=True)

TASK = Task(
    name="transitivity",
    description="if A causes B and B causes C then A causes C",
    spec=mixtures.DataSpec,
    generate=mixtures.generate,
    question_words=("Does",),
    category_names=graphs.CATEGORY_NAMES,
    presets={name: {"perturbation": value} for name, value in mixtures.PRESETS.items()},
    default_preset="TS2",
    options=(PERTURBATION, CHAIN_LENGTHS, FLIP_PROB, SHUFFLE_SHARE,
             Option("--hypotheses-per-premise", "hypotheses_per_premise", {"type": int}), UNIFORM,
             Option("--hop-balance", "hop_balance", {"action": "store_true", "help": "questions drawn "
                    "uniformly over the distances a premise offers (transitivity)"})),
    questions_per_row=lambda spec: spec.questions_per_premise,
    suite_families=graph_suites.families("transitivity"),
    suite_names=lambda: graph_suites.names("transitivity"),
    build_suite=graph_suites.build,
    suite_listing=graph_suites.listing("transitivity"),
    checks_every_published_file=True,
    shortcut_rules=("mention_order", "direct_edge"),
    report_groups=(
        ("flipped_chain_short", "Training lengths (flipped, held out)"),
        ("shuffled_flipped_chain", "Training lengths (flipped, shuffled)"),
        ("standard_chain", "Length generalisation (standard)"),
        ("flipped_chain", "Length generalisation (flipped)"),
        ("reversed_chain", "Reversal"),
        ("shuffled_chain", "Shuffled order"),
        ("name_shift", "Name shift"),
        ("branching_bf1.4", "Branching bf1.4"),
        ("branching_bf2.0", "Branching bf2.0"),
    ),
    hops=True,
)
