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
    from axiomatic.data import tasks

    gen.add_argument("--task", default=tasks.DEFAULT_TASK, help=f"{tasks.DEFAULT_TASK} (default), "
                     f"or one of {', '.join(n for n in tasks.names() if n != tasks.DEFAULT_TASK)}")
    gen.add_argument("--preset", help="; ".join(
        f"{task.name}: {', '.join(task.presets)}" + (f" (default {task.default_preset})" if task.default_preset else "")
        for task in tasks.all_tasks() if task.presets))
    gen.add_argument("--size", type=int)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--name-length", type=int, nargs=2, metavar=("LO", "HI"))
    added: set[str] = set()
    for task in tasks.all_tasks():  # each task's own options, in a group of its own
        group = gen.add_argument_group(task.name)
        for option in task.options:
            if option.flag not in added:
                group.add_argument(option.flag, **option.arguments)
                added.add(option.flag)
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


def _spec_from_args(args):
    """The spec the command line asks for: --size, --seed and --name-length serve every task, the
    rest are the named task's own options (its Task.options)."""
    from axiomatic.data import tasks

    if args.task not in tasks.names():
        raise UserError(f"--task: unknown task {args.task!r}; accepted: {', '.join(tasks.names())}")
    task = tasks.get(args.task)
    section = {"task": args.task, "seed": args.seed}
    for option, field in (("--size", "size"), ("--name-length", "name_length")):
        if getattr(args, field) is not None:
            section[field] = getattr(args, field)
    own = {option.flag: option for option in task.options}
    for option in tasks.generate_options().values():
        value = getattr(args, option.dest, None)
        if value is None or value is False:
            continue
        if option.flag not in own:
            raise UserError(f"{option.flag}: not an option of --task {args.task} (its own: "
                            f"{', '.join(own) or 'none'})")
        section[own[option.flag].field] = False if own[option.flag].inverts else value
    # the task's default preset stands for a perturbation; one given on the command line replaces it
    preset = args.preset or (task.default_preset if "perturbation" not in section else None)
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
    extra = tasks.get(task).jsonl_fields  # corr2cause: the hypothesis type, the variables
    with open(directory / "instances.jsonl", "w") as handle:
        for i in range(len(data)):
            premise, hypothesis, label = data.text(i)
            record = {"premise": premise, "hypothesis": hypothesis, "label": label}
            if extra is not None:
                record.update(extra(data, i))
            handle.write(json.dumps(record) + "\n")


def _print_manifest(manifest: dict, out: Path) -> None:
    counts = manifest["counts"]
    table = Table(title=f"training set → {out}", show_header=False)
    spec = manifest["spec"]
    table.add_row("digest", manifest["digest"][:16])
    table.add_row("task", spec.get("task", "transitivity"))  # a transitivity spec may predate tasks
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
    from axiomatic.data import data_dirs, upstream

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
    _print_fetched(result, data_dirs.published_dir(root=args.cache_dir).resolve(), upstream.COMMIT, args.json)
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
