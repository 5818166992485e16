"""``platform data generate``, ``platform data suites``, ``platform data show`` and
``platform data fetch-published``."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import urlparse

from pydantic import ValidationError
from rich.table import Table

from axiomatic.cli.common import CACHE_DIR, DATA_DIRS, JSON_OUTPUT, console, data_store, emit_json
from axiomatic.errors import UserError, from_validation
from axiomatic.files import write_directory_atomically


def add_commands(commands) -> None:
    data = commands.add_parser("data", help="generate training sets, list and inspect suites")
    sub = data.add_subparsers(title="data commands")

    gen = sub.add_parser("generate", help="generate a training set into a directory",
                         parents=[JSON_OUTPUT, *DATA_DIRS])
    gen.add_argument("--task", default="transitivity", help="transitivity (default), dseparation or corr2cause")
    gen.add_argument("--preset", help="transitivity: OCC, TS2 or TS1 (default TS2); dseparation: DSEP")
    gen.add_argument("--perturbation", type=float, help="0 = OCC, 1 = TS2, 2 = TS1, 3 = beyond")
    gen.add_argument("--size", type=int)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--chain-lengths", type=int, nargs=2, metavar=("LO", "HI"))
    gen.add_argument("--name-length", type=int, nargs=2, metavar=("LO", "HI"))
    gen.add_argument("--flip-prob", type=float)
    gen.add_argument("--shuffle-share", type=float)
    gen.add_argument("--hypotheses-per-premise", type=int)
    gen.add_argument("--uniform", action="store_true", help="plain uniform pair sampling (no category balance)")
    gen.add_argument("--hop-balance", action="store_true",
                     help="questions drawn uniformly over the distances a premise offers (transitivity)")
    dsep = gen.add_argument_group("dseparation")
    dsep.add_argument("--dag-share", type=float, help="share of premises that are random DAGs")
    dsep.add_argument("--max-given", type=int, help="largest conditioning set asked about")
    c2c = gen.add_argument_group("corr2cause")
    c2c.add_argument("--nodes", type=int, nargs=2, metavar=("LO", "HI"), help="variables per system, 2..8")
    c2c.add_argument("--split", help="train, val, test or all (splits hold whole equivalence classes)")
    c2c.add_argument("--semantics", help="exact (default) or corr2cause")
    c2c.add_argument("--names", help="random (default) or letters")
    c2c.add_argument("--pair-order", help="both (default) or forward")
    c2c.add_argument("--types", nargs="+", help="hypothesis types (default: all six)")
    c2c.add_argument("--premise", help="full (default) or minimal")
    c2c.add_argument("--natural", action="store_true", help="the natural Yes share instead of balanced labels")
    gen.add_argument("--out", required=True, help="directory for the arrays and manifest.json")
    gen.add_argument("--jsonl", action="store_true", help="also write DIR/instances.jsonl")
    gen.set_defaults(handler=_data_generate)

    lst = sub.add_parser("suites", help="list evaluation suites", parents=[JSON_OUTPUT, *DATA_DIRS])
    lst.set_defaults(handler=_data_suites)

    show = sub.add_parser("show", help="examples, counts and shortcut baselines of a suite",
                          parents=[JSON_OUTPUT, *DATA_DIRS])
    show.add_argument("suite")
    show.add_argument("--examples", type=int, default=5)
    show.set_defaults(handler=_data_show)

    fetch = sub.add_parser("fetch-published", parents=[JSON_OUTPUT, CACHE_DIR],
                           help="download the paper's published evaluation files into the cache")
    fetch.add_argument("--base-url", help="where the repository's files are served (default: GitHub's "
                       "raw files of AniketVashishtha/Causal_Axioms at the pinned commit)")
    fetch.set_defaults(handler=_data_fetch_published)


# the options of each task, as (option, spec field); --size, --seed and --name-length serve all
TASK_OPTIONS = {
    "transitivity": (("--perturbation", "perturbation"), ("--chain-lengths", "chain_lengths"),
                     ("--flip-prob", "flip_prob"), ("--shuffle-share", "shuffle_share"),
                     ("--hypotheses-per-premise", "hypotheses_per_premise"), ("--uniform", "balance"),
                     ("--hop-balance", "hop_balance")),
    "corr2cause": (("--nodes", "nodes"), ("--split", "split"), ("--semantics", "semantics"),
                   ("--names", "names"), ("--pair-order", "pair_order"), ("--types", "types"),
                   ("--premise", "premise"), ("--natural", "balanced")),
}
TASK_OPTIONS["dseparation"] = (*TASK_OPTIONS["transitivity"][:4], ("--dag-share", "dag_share"),
                               ("--max-given", "max_given"), ("--uniform", "balance"))
DEFAULT_PRESETS = {"transitivity": "TS2", "dseparation": "DSEP"}


def _spec_from_args(args):
    from axiomatic.data import tasks

    if args.task not in tasks.TASKS:
        raise UserError(f"--task: unknown task {args.task!r}; accepted: {', '.join(tasks.TASKS)}")
    section = {"task": args.task, "seed": args.seed}
    for option, field in (("--size", "size"), ("--name-length", "name_length")):
        if getattr(args, field) is not None:
            section[field] = getattr(args, field)
    own = dict(TASK_OPTIONS[args.task])
    for option, field in {o: f for options in TASK_OPTIONS.values() for o, f in options}.items():
        value = getattr(args, option[2:].replace("-", "_"))
        if value is None or value is False:
            continue
        if option not in own:
            raise UserError(f"{option}: not an option of --task {args.task} (its own: "
                            f"{', '.join(own) or 'none'})")
        section[field] = False if option in ("--uniform", "--natural") else value
    preset = args.preset or (DEFAULT_PRESETS.get(args.task) if "perturbation" not in section else None)
    if preset is not None:
        section["preset"] = preset
    try:
        return tasks.build_spec(section)
    except ValidationError as err:
        raise from_validation(err, "command line") from None
    except ValueError as err:  # an unknown preset: "preset: ..."
        raise UserError(f"command line: --{err}") from None


def _data_generate(args) -> int:
    spec = _spec_from_args(args)
    store = data_store(args)
    data, manifest = store.training_set(spec)
    out = Path(args.out)
    write_directory_atomically(out, lambda tmp: _export(tmp, data, manifest, args.jsonl, spec.task))
    if args.json:
        emit_json({"out": str(out.resolve()), "manifest": manifest})
    else:
        _print_manifest(manifest, out)
    return 0


def _export(directory: Path, data, manifest: dict, jsonl: bool, task: str) -> None:
    from axiomatic.data import tasks

    data.save(directory)
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    if not jsonl:
        return
    # corr2cause rows say which hypothesis type and how many variables they are about
    types = tasks.category_names(task) if task == "corr2cause" else None
    with open(directory / "instances.jsonl", "w") as handle:
        for i in range(len(data)):
            premise, hypothesis, label = data.text(i)
            record = {"premise": premise, "hypothesis": hypothesis, "label": label}
            if types is not None:
                record.update(type=types[data.categories[i]], n_nodes=int(data.nodes[i]))
            handle.write(json.dumps(record) + "\n")


def _print_manifest(manifest: dict, out: Path) -> None:
    counts = manifest["counts"]
    table = Table(title=f"training set → {out}", show_header=False)
    spec = manifest["spec"]
    table.add_row("digest", manifest["digest"][:16])
    table.add_row("task", spec.get("task", "transitivity"))
    table.add_row("instances", f"{counts['n']:,}  (Yes share {counts['yes_share']:.3f})")
    if "shares" in manifest["recipe"]["train"]:
        shares = manifest["recipe"]["train"]["shares"]
        table.add_row("mixture", "  ".join(f"{k} {v:.3f}" for k, v in shares.items()))
    if "chain_lengths" in spec:
        table.add_row("chains", f"{spec['chain_lengths'][0]}–{spec['chain_lengths'][1]} nodes, "
                      f"flip prob {spec['flip_prob']}, names {spec['name_length'][0]}–{spec['name_length'][1]} chars")
    else:
        table.add_row("spec", "  ".join(f"{k} {v}" for k, v in spec.items() if k not in ("task", "seed")))
    table.add_row("graph sizes", "  ".join(f"{k}: {v:,}" for k, v in counts["nodes"].items()))
    table.add_row("categories", "  ".join(f"{k} {v:,}" for k, v in counts["categories"].items()))
    table.add_row("leakage", f"checked against {manifest['leakage']['checked_suites']} suites: "
                  f"{manifest['leakage']['dropped']} shared rows dropped, {manifest['leakage']['shared']} left")
    table.add_row("shortcuts", _baseline_text(manifest["baselines"]) + f"  (on {manifest['baseline_rows']:,} rows)")
    table.add_row("generated in", f"{manifest['seconds']:.2f} s")
    console.print(table)


def _baseline_text(b: dict) -> str:
    return "  ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in b.items() if v is not None)


def _data_suites(args) -> int:
    from axiomatic.data import suites

    names = suites.all_names(data_store(args).published)
    if args.json:
        emit_json({"suites": names})
        return 0
    table = Table(title="evaluation suites")
    table.add_column("family", no_wrap=True)
    table.add_column("sizes")
    table.add_column("what it tests")
    for family in suites.FAMILIES.values():
        table.add_row(family.name, f"{family.size_key}=" + ", ".join(map(str, family.sizes)), family.description)
    published = [n for n in names if n.startswith("published/")]
    for prefix in sorted({n.rsplit("/", 1)[0] for n in published}):
        members = [n.rsplit("/", 1)[1] for n in published if n.rsplit("/", 1)[0] == prefix]
        key = members[0].split("=")[0]
        sizes = sorted((m.split("=")[1] for m in members), key=int)
        table.add_row(prefix, f"{key}=" + ", ".join(sizes), "the paper's published file")
    console.print(table)
    console.print(f"{len(names)} suites; name one as e.g. 'flipped_chain/len=9' or "
                  "'published/transitivity/flipped_chain/len=9'")
    return 0


def _data_show(args) -> int:
    store = data_store(args)
    try:
        data, manifest = store.suite(args.suite)
    except ValueError as err:
        raise UserError(f"suite: {err}") from None
    examples = [dict(zip(("premise", "hypothesis", "label"), data.text(i)))
                for i in range(min(args.examples, len(data)))]
    counts = manifest["counts"]
    if args.json:
        emit_json({"suite": args.suite, "n": counts["n"], "yes_share": counts["yes_share"],
                   "baselines": manifest["baselines"], "counts": counts, "examples": examples})
        return 0
    table = Table(title=f"{args.suite}: {counts['n']} items, Yes share {counts['yes_share']:.3f}")
    table.add_column("premise", overflow="fold")
    table.add_column("hypothesis")
    table.add_column("label")
    for ex in examples:
        table.add_row(ex["premise"], ex["hypothesis"], ex["label"])
    console.print(table)
    base = Table(title="shortcut baselines (accuracy)")
    for name in manifest["baselines"]:
        base.add_column(name.replace("_", " "))
    base.add_row(*("n/a" if v is None else f"{v:.3f}" for v in manifest["baselines"].values()))
    console.print(base)
    return 0



def _data_fetch_published(args) -> int:
    from axiomatic.data import locations, upstream

    base_url = args.base_url or upstream.DEFAULT_BASE_URL
    if urlparse(base_url).scheme not in ("http", "https", "file"):
        raise UserError(f"--base-url: expected an http(s):// or file:// URL, got {base_url!r}")
    try:
        # stdout holds only the JSON document with --json: no spinner then
        progress = nullcontext() if args.json else console.status(f"fetching the published files from {base_url}")
        with progress:
            result = upstream.fetch_published(args.cache_dir, base_url)
    except upstream.FetchError as err:
        raise UserError(f"fetch-published: {err}") from None
    except OSError as err:  # the download went well; the cache cannot be written
        raise UserError(f"--cache-dir: cannot write the published files there: {err}") from None
    # What commands read when no directory is named: ../shared, where it exists, comes first.
    _print_fetched(result, locations.published_dir(root=args.cache_dir).resolve(), upstream.COMMIT, args.json)
    return 0


def _print_fetched(result, read_by_default: Path, commit: str, as_json: bool) -> None:
    if as_json:
        emit_json({"directory": str(result.directory), "files": result.files, "downloaded": result.downloaded,
                   "commit": commit, "read_by_default": read_by_default == result.directory})
        return
    done = "fetched and verified" if result.downloaded else "already in the cache, verified"
    console.print(f"{result.files} published files {done}: {result.directory}")
    if read_by_default != result.directory:
        console.print(f"commands read {read_by_default} first; this copy is used where no other "
                      "published directory is found")
