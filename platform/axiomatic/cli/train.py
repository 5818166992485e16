"""``platform train`` and ``platform eval``."""

from __future__ import annotations

import time
from pathlib import Path

from rich.table import Table

from axiomatic import metric_names
from axiomatic.cli.common import DATA_DIRS, JSON_OUTPUT, console, data_store, emit_json
from axiomatic.errors import UserError


def add_commands(commands) -> None:
    train = commands.add_parser("train", help="train one model from a run YAML",
                                parents=[JSON_OUTPUT, *DATA_DIRS])
    train.add_argument("config", help="run YAML with data / model / train / suites sections")
    train.add_argument("--workers", type=int, default=1, help="N > 1 trains under Ray Train DDP")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"))
    train.add_argument("--out", help="output directory (default runs/train/<config name>)")
    train.add_argument("--resume", help="continue from this checkpoint directory")
    train.add_argument("--address", help="Ray cluster to join for --workers > 1 (default: local)")
    train.set_defaults(handler=_train)

    ev = commands.add_parser("eval", help="score a checkpoint on suites and JSONL files",
                             parents=[JSON_OUTPUT, *DATA_DIRS])
    ev.add_argument("checkpoint")
    ev.add_argument("--suite", action="extend", nargs="+", default=[],
                    help="suite names or prefix/* (several after one --suite, or --suite repeated)")
    ev.add_argument("--jsonl", action="append", default=[], help="file of {premise, hypothesis, label}")
    ev.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ev.add_argument("--by-category", action="store_true",
                    help="also accuracy per category of question (d-separation: given-set size; "
                         "transitivity: direct, multi-hop, reverse, unrelated; Corr2Cause: hypothesis "
                         "type), beside the shortcut rules on the same rows")
    ev.add_argument("--by-hops", action="store_true",
                    help="also accuracy by how many edges apart the question's pair stands in the "
                         "premise (transitivity, d-separation), beside the shortcut rules")
    ev.set_defaults(handler=_eval)


# ---------------------------------------------------------------- train

def _train(args) -> int:
    from axiomatic.data import suites
    from axiomatic.ray_session import check_cluster
    from axiomatic.train import launch, load_run

    store = data_store(args)
    run = load_run(args.config)
    try:
        run = _with_suites(run, suites.expand(list(run.suites), store.published) if run.suites else [])
    except ValueError as err:
        raise UserError(f"{args.config}: suites: {err}") from None
    if args.device:
        run = _with_train(run, device=args.device)
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    if args.workers > 1:
        check_cluster(args.address)  # before anything is written
    out = Path(args.out or Path("runs") / "train" / Path(args.config).stem).resolve()
    out.mkdir(parents=True, exist_ok=True)
    progress = _Progress(quiet=args.json)
    started = time.perf_counter()
    metrics = launch.train(run, out, workers=args.workers, report=progress, resume_from=args.resume,
                           address=args.address, store=store)
    checkpoint_dir = out / "checkpoint"
    if args.json:
        emit_json({"checkpoint": str(checkpoint_dir), "metrics": metrics})
    else:
        console.print(f"trained in {time.perf_counter() - started:.0f} s; checkpoint: {checkpoint_dir}")
        _print_scores(_suite_scores(metrics, store))
    return 0


def _with_suites(run, names):
    from dataclasses import replace

    return replace(run, suites=tuple(names))


def _with_train(run, **changes):
    from dataclasses import replace

    return replace(run, train=run.train.model_copy(update=changes))


class _Progress:
    """Prints one line per evaluation (epoch, step, loss, accuracies) as training goes."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, metrics: dict, checkpoint_dir) -> None:
        if self.quiet:
            return
        suites = [v for k, v in metrics.items() if metric_names.suite_of(k) is not None]
        mean_suite = f"  suites mean {sum(suites) / len(suites):.3f}" if suites else ""
        loss, val_acc = metrics[metric_names.TRAIN_LOSS], metrics[metric_names.VAL_ACC]
        console.print(f"epoch {metrics['epoch']:>3}  step {metrics['step']:>6}  "
                      f"loss {loss:.4f}  val acc {val_acc:.3f}"
                      f"{mean_suite}  {metrics['examples_per_s']:.0f} ex/s")


# ---------------------------------------------------------------- eval

def _suite_scores(metrics: dict, store) -> dict[str, dict]:
    scores = {}
    for key, value in metrics.items():
        if (name := metric_names.suite_of(key)) is not None:
            data, manifest = store.suite(name)
            scores[name] = {"accuracy": value, "n": len(data), **manifest["baselines"]}
    return scores


SCORE_COLUMNS = (("accuracy", "accuracy"), ("precision", "Yes precision"), ("recall", "Yes recall"),
                 ("f1", "Yes F1"))


def _print_scores(scores: dict[str, dict]) -> None:
    from axiomatic.data import baselines

    if not scores:
        return
    table = Table(title="scores per suite, beside the shortcut baselines (accuracy)")
    # a long --jsonl path is folded over lines; kept on one line it squeezes the numbers to nothing
    short_names = all(len(name) <= 40 for name in scores)
    measures = [(key, title) for key, title in SCORE_COLUMNS if any(key in s for s in scores.values())]
    rules = [key for key in baselines.NAMES if any(s.get(key) is not None for s in scores.values())]
    table.add_column("suite", no_wrap=short_names, overflow="fold")
    for column in ["n", *(title for _, title in measures), *(r.replace("_", " ") for r in rules)]:
        table.add_column(column, justify="right")
    for name, s in scores.items():
        numbers = [f"[bold]{s[key]:.3f}[/]" for key, _ in measures]
        table.add_row(name, str(s["n"]), *numbers, *("–" if s.get(r) is None else f"{s[r]:.3f}" for r in rules))
    console.print(table)


def _eval_targets(args, run) -> dict:
    """{suite name or file path: (dataset, its shortcut baselines)} for the suites and files asked
    for (default: the run's own suites)."""
    from axiomatic.data import baselines, suites

    store = data_store(args)
    try:
        names = suites.expand(args.suite, store.published) if args.suite else list(run.suites)
    except ValueError as err:
        raise UserError(f"--suite: {err}") from None
    targets = {}
    for name in names:
        data, manifest = store.suite(name)
        targets[name] = (data, manifest["baselines"])
    for path in args.jsonl:
        try:
            data = suites.dataset_from_jsonl(Path(path))
        except (OSError, ValueError) as err:
            raise UserError(str(err)) from None
        targets[path] = (data, baselines.score(data))
    if not targets:
        raise UserError("nothing to evaluate: give --suite NAME or --jsonl FILE")
    return targets


def _eval(args) -> int:
    from axiomatic.model import Decoder
    from axiomatic.train import checkpoint, resolve_device

    run, _ = checkpoint.read_run(args.checkpoint)
    targets = _eval_targets(args, run)
    device = resolve_device(args.device)
    model = Decoder(run.model).to(device)
    checkpoint.restore(args.checkpoint, model)
    scores = {name: _score(args, run, model, device, name, data, base) for name, (data, base) in targets.items()}
    if args.json:
        emit_json(scores)
    else:
        _print_scores(scores)
        _print_groups(scores, "by_category", "accuracy by category of question")
        _print_groups(scores, "by_hops", "accuracy by the pair's distance in the premise (hops)")
    return 0


def _score(args, run, model, device, name: str, data, base: dict) -> dict:
    """One suite's or file's scores: accuracy, the Yes class's, its baselines, and the groups
    asked for (--by-category, --by-hops)."""
    from axiomatic.data import tasks
    from axiomatic.train import evaluate
    from axiomatic.train.evaluate import answers, by_group
    from axiomatic.train.run_data import input_order

    try:
        turned = input_order(run)(data)
    except ValueError as err:
        raise UserError(f"{name}: {err} (the checkpoint was trained with train.question_first or train.given_first)") from None
    if int(turned.lengths.max()) > run.model.max_len:
        raise UserError(f"{name}: inputs of up to {int(data.lengths.max())} tokens exceed the "
                        f"model's max_len={run.model.max_len}")
    result = evaluate(model, turned, device)
    score = {"accuracy": result["acc"], "n": result["n"], **base,
             **{key: result[key] for key in ("precision", "recall", "f1")}}
    groupings = {key: group(data) for key, group in (("by_category", tasks.row_categories),
                                                     ("by_hops", tasks.row_hops)) if getattr(args, key)}
    if groupings:
        said = answers(model, turned, device)
        score.update({key: by_group(said, data, grouping) for key, grouping in groupings.items()})
    return score


def _print_groups(scores: dict[str, dict], key: str, title: str) -> None:
    from axiomatic.data import baselines

    found = {name: s[key] for name, s in scores.items() if s.get(key)}
    if not found:
        return
    rules = [r for r in baselines.NAMES if r != "majority" and any(
        r in group for groups in found.values() for group in groups.values())]
    table = Table(title=f"{title}, beside the shortcut rules on the same rows")
    for column in ("suite", "group", "n", "accuracy", *(r.replace("_", " ") for r in rules)):
        table.add_column(column, justify="left" if column in ("suite", "group") else "right")
    for name, groups in found.items():
        for group, g in groups.items():
            table.add_row(name, group, str(g["n"]), f"[bold]{g['accuracy']:.3f}[/]",
                          *("–" if g.get(r) is None else f"{g[r]:.3f}" for r in rules))
    console.print(table)
