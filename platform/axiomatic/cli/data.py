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
    gen.add_argument("--preset", default="TS2", help="OCC, TS2 or TS1 (default TS2)")
    gen.add_argument("--perturbation", type=float, help="0 = OCC, 1 = TS2, 2 = TS1, 3 = beyond")
    gen.add_argument("--size", type=int)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--chain-lengths", type=int, nargs=2, metavar=("LO", "HI"))
    gen.add_argument("--name-length", type=int, nargs=2, metavar=("LO", "HI"))
    gen.add_argument("--flip-prob", type=float)
    gen.add_argument("--shuffle-share", type=float)
    gen.add_argument("--hypotheses-per-premise", type=int)
    gen.add_argument("--uniform", action="store_true", help="plain uniform pair sampling (no category balance)")
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
    from axiomatic.data import PRESETS, DataSpec

    if args.perturbation is None and args.preset not in PRESETS:
        raise UserError(f"--preset: unknown preset {args.preset!r}; accepted: {', '.join(PRESETS)}")
    fields = {
        "perturbation": args.perturbation if args.perturbation is not None else PRESETS[args.preset],
        "size": args.size, "seed": args.seed, "chain_lengths": args.chain_lengths,
        "name_length": args.name_length, "flip_prob": args.flip_prob,
        "shuffle_share": args.shuffle_share, "hypotheses_per_premise": args.hypotheses_per_premise,
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    if args.uniform:
        fields["balance"] = False
    try:
        return DataSpec(**fields)
    except ValidationError as err:
        raise from_validation(err, "command line") from None


def _data_generate(args) -> int:
    spec = _spec_from_args(args)
    store = data_store(args)
    data, manifest = store.training_set(spec)
    out = Path(args.out)
    write_directory_atomically(out, lambda tmp: _export(tmp, data, manifest, args.jsonl))
    if args.json:
        emit_json({"out": str(out.resolve()), "manifest": manifest})
    else:
        _print_manifest(manifest, out)
    return 0


def _export(directory: Path, data, manifest: dict, jsonl: bool) -> None:
    data.save(directory)
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    if jsonl:
        with open(directory / "instances.jsonl", "w") as handle:
            for i in range(len(data)):
                premise, hypothesis, label = data.text(i)
                handle.write(json.dumps({"premise": premise, "hypothesis": hypothesis, "label": label}) + "\n")


def _print_manifest(manifest: dict, out: Path) -> None:
    counts = manifest["counts"]
    table = Table(title=f"training set → {out}", show_header=False)
    spec = manifest["spec"]
    shares = manifest["recipe"]["train"]["shares"]
    table.add_row("digest", manifest["digest"][:16])
    table.add_row("instances", f"{counts['n']:,}  (Yes share {counts['yes_share']:.3f})")
    table.add_row("mixture", "  ".join(f"{k} {v:.3f}" for k, v in shares.items()))
    table.add_row("chains", f"{spec['chain_lengths'][0]}–{spec['chain_lengths'][1]} nodes, "
                  f"flip prob {spec['flip_prob']}, names {spec['name_length'][0]}–{spec['name_length'][1]} chars")
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
