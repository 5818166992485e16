"""``platform diff RUN_A RUN_B``: two runs of a study compared (:meth:`axiomatic.Study.compare`),
RUN_B minus RUN_A, printed as a rich table, Markdown or one JSON document."""

from __future__ import annotations

from axiomatic.cli.common import DATA_DIRS, JSON_OUTPUT, console, data_store, emit_json


def add_commands(commands) -> None:
    diff = commands.add_parser("diff", help="compare two study runs: arms matched by parameters, "
                               "differences with 95%% intervals, what changed in the spec",
                               parents=[JSON_OUTPUT, *DATA_DIRS])
    diff.add_argument("run_a", help="the first run: runs/<study>, or its storage URI")
    diff.add_argument("run_b", help="the second run, compared against the first (RUN_B minus RUN_A)")
    diff.add_argument("--markdown", action="store_true", help="print Markdown instead of the table")
    diff.set_defaults(handler=_diff)


def _diff(args) -> int:
    from axiomatic import Study
    from axiomatic.report import study_diff

    store = data_store(args)
    comparison = Study.load(args.run_a, store=store).compare(Study.load(args.run_b, store=store))
    if args.json:
        emit_json(comparison.to_json())
    elif args.markdown:
        console.print(study_diff.to_markdown(comparison), markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(study_diff.to_rich(comparison))
    return 0
