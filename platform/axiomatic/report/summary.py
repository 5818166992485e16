"""A study's final report: the paper-style table, paired comparisons, importances and plots.

Reads only the ledger (and the Optuna storage for importances), so ``platform report`` works on a
finished, interrupted or still-running study alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import optuna

from axiomatic import metric_names
from axiomatic.data import tasks
from axiomatic.data.references import select_references
from axiomatic.data.store import Store
from axiomatic.report import plots, reach, rendering, tables
from axiomatic.study import results
from axiomatic.study import optuna_db as optuna_storage
from axiomatic.study.ledger import Ledger, Unreadable
from axiomatic.study.spec import StudySpec
from axiomatic.study.optuna_db import OptunaStorage

RENDERERS = {"md": rendering.to_markdown, "latex": rendering.to_latex, "csv": rendering.to_csv}
SUFFIX = {"md": "md", "latex": "tex", "csv": "csv"}


def suite_baselines(suite_names: list[str], store: Store) -> dict[str, dict]:
    return {name: store.suite(name)[1]["baselines"] for name in suite_names}


def importances(spec: StudySpec, storage: OptunaStorage) -> dict[str, float]:
    """Optuna's parameter importances, for search studies with enough finished arms."""
    if spec.search.algorithm == "grid":
        return {}
    study = optuna.load_study(study_name=storage.study_name, storage=storage.url)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        return {}
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError):  # e.g. every arm scored the same
        return {}


def readable_importances(spec: StudySpec, storage: OptunaStorage,
                         kept_at: str) -> tuple[dict[str, float], list[Unreadable]]:
    """:func:`importances`, or none and why when the Optuna storage (``kept_at``) cannot be read."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return importances(spec, storage), []
    except SQLAlchemyError as err:
        return {}, [Unreadable(kept_at, f"the Optuna trials cannot be read ({optuna_storage.reason(err)})")]


def departures(spec: StudySpec, records: list[dict]) -> list[str]:
    """What the study's arms do that the paper's model and recipe do not, one line each: every
    report says so, since each of them changes what an accuracy can be compared with."""
    runs = [spec.run_config(params, spec.seeds[0]) for params in
            {repr(sorted(r["params"].items())): r["params"] for r in records}.values()]
    notes = {
        "model.mixer: conv (a causal depthwise convolution over mixer_width tokens before attention: "
        "a local position signal of its own, also in NoPE arms)": any(r.model.mixer == "conv" for r in runs),
        "model.mixer: name (the same convolution within each node name only: names become one "
        "vector each, as whole-name tokens would; no position signal)": any(r.model.mixer == "name" for r in runs),
        "model.mixer: sentence (the name mixer plus the mean of the sentence so far, in no order: "
        "no position signal)": any(r.model.mixer == "sentence" for r in runs),
        "data.questions_per_premise > 1 (several questions per premise in one training row)":
            any(tasks.questions_per_row(r.data) > 1 for r in runs),
        "train.aux_loss > 0 (a next-token loss on premise and question tokens besides the answer)":
            any(r.train.aux_loss > 0 for r in runs),
        "train.node_loss > 0 (per-node targets on d-separation chains besides the answer: does "
        "each node block the asked path, is it given)": any(r.train.node_loss > 0 for r in runs),
        "train.question_first (each question stated before its premise, in training and every "
        "suite)": any(r.train.question_first for r in runs),
        "train.given_first (each d-separation question's given set stated before its pair, in "
        "training and every suite)": any(r.train.given_first for r in runs),
        "a curriculum before the main data": any(r.curriculum for r in runs),
        "train.init_from (the model starts from another run's weights)":
            any(r.train.init_from is not None for r in runs),
        "corr2cause data.premise: minimal (each independent pair's minimal separating sets only, "
        "not every conditional independence Corr2Cause lists)":
            any(getattr(r.data, "premise", None) == "minimal" for r in runs),
        "corr2cause data.semantics: corr2cause (the published data's labels, not the exact "
        "Markov-equivalence semantics)": any(getattr(r.data, "semantics", None) == "corr2cause" for r in runs),
    }
    return [note for note, applies in notes.items() if applies]


def importance_caveat(summaries: list[results.ArmSummary], objective: str) -> str | None:
    """A warning when the arms' objective does not tell them apart: every arm's 95 % interval
    shares a value with every other's, or some arm has one seed (no interval at all). Importances
    then rank how parameters move noise, and say nothing about which matters."""
    measured = [s.metrics.get(objective) for s in summaries]
    measured = [m for m in measured if m is not None]
    if len(measured) < 2:
        return None
    if min(m["n"] for m in measured) < 2:
        return (f"some arms have a single seed, so no interval on {objective} says whether they "
                "differ: read the parameter importances as unconfirmed")
    if max(m["ci_low"] for m in measured) <= min(m["ci_high"] for m in measured):
        return (f"no arm differs from another beyond its 95 % interval on {objective}: the parameter "
                "importances rank noise, not what matters")
    return None


LEARNED = 0.90  # a curriculum stage whose training accuracy ended below this has not learned its task


def unlearned_stages(summaries: list[results.ArmSummary]) -> list[str]:
    """One line per arm and curriculum stage that ended below LEARNED on average over the arm's
    seeds: an arm "pretrained on X" whose stage never learned X tests no transfer from X."""
    notes = []
    for summary in summaries:
        for metric, measured in summary.metrics.items():
            stage = metric_names.stage_of(metric)
            if stage is not None and measured is not None and measured["mean"] < LEARNED:
                notes.append(f"{summary.arm}: curriculum stage '{stage}' ended at {measured['mean']:.3f} "
                             f"training accuracy (mean of {measured['n']} seeds), below {LEARNED:.2f}: "
                             "trained on that task, not shown to have learned it")
    return notes


@dataclass(frozen=True)
class FailedCell:
    arm: str
    seed: int
    error: str | None


@dataclass(frozen=True)
class StudyReport:
    """Everything the report shows. :meth:`to_json` is what ``--json`` prints; the rest (the
    ledger's records, the suites and their shortcut baselines) feeds the tables and plots."""

    study: str
    objective: dict
    arms: list[results.ArmSummary]  # metrics over the DONE seeds only; stopped seeds are counted
    baseline_arm: str | None
    comparisons: list[results.PairedComparison]
    reaches: list[results.Reach]
    importances: dict[str, float]
    importance_caveat: str | None  # why the importances may rank noise, or None
    departures: list[str]
    unlearned: list[str]  # curriculum stages that ended below LEARNED, one line per arm and stage
    failed: list[FailedCell]
    unreadable: list[Unreadable]  # objects of the run left out: each named, with what is wrong
    records: list[dict]
    suites: list[str]
    baselines: dict[str, dict]  # suite -> its shortcut baselines' accuracies

    def to_json(self) -> dict:
        return {
            "study": self.study,
            "objective": self.objective,
            "arms": [{"arm": s.arm, "params": s.params, "seeds_done": s.seeds_done,
                      "seeds_stopped": s.seeds_stopped, "seeds_total": s.seeds_total,
                      "metrics": s.metrics} for s in self.arms],
            "baseline_arm": self.baseline_arm,
            "comparisons": [asdict(c) for c in self.comparisons],
            "time_to_accuracy": [asdict(r) for r in self.reaches],
            "importances": self.importances,
            "importance_caveat": self.importance_caveat,
            "departures": self.departures,
            "unlearned_stages": self.unlearned,
            "failed": [asdict(f) for f in self.failed],
            "unreadable": [str(item) for item in self.unreadable],
        }


def build(spec: StudySpec, ledger: Ledger, store: Store | None = None,
          storage: OptunaStorage | None = None) -> StudyReport:
    """The report of the study as its ledger stands. The suites' shortcut baselines come from
    ``store`` (the command line's cache and published dir); Optuna's trials from ``storage``
    (None: the run's own)."""
    store = store or Store(published=spec.published_dir)
    storage = storage or optuna_storage.of_run(ledger, spec.name)
    records, unreadable = ledger.readable_records()
    found, lost = readable_importances(spec, storage, optuna_storage.kept_at(ledger, storage))
    summaries = results.aggregate_arms(records)
    suites = sorted({s for summary in summaries for m in summary.metrics
                     if (s := metric_names.suite_of(m)) is not None})
    base = spec.baseline_arm()
    comparisons = []
    if base is not None and any(s.arm == base for s in summaries):
        comparisons = results.paired_comparisons(records, base, spec.objective.metric)
    return StudyReport(
        study=spec.name, objective=spec.objective.model_dump(), arms=summaries, baseline_arm=base,
        comparisons=comparisons, reaches=results.time_to_accuracy(records),
        importances=found,
        importance_caveat=importance_caveat(summaries, spec.objective.metric) if found else None,
        departures=departures(spec, records),
        unlearned=unlearned_stages(summaries),
        failed=[FailedCell(r["arm"], r["seed"], r["error"]) for r in results.failed_trials(records)],
        unreadable=unreadable + lost, records=records, suites=suites, baselines=suite_baselines(suites, store))


def table(report: StudyReport, spec: StudySpec) -> tables.Table:
    return tables.build_table(report.arms, report.baselines, select_references(spec.references), report.suites)


def yes_class_tables(report: StudyReport, spec: StudySpec) -> dict[str, tables.Table]:
    """measure -> the table of the Yes class's F1, precision and recall, for the suites that
    report them (the correlation-to-causation task's); empty when no arm has any."""
    out = {}
    for measure in metric_names.YES_CLASS_MEASURES:
        suites = tables.measured_suites(report.arms, measure)
        if suites:
            out[measure] = tables.build_table(report.arms, report.baselines,
                                              select_references(spec.references, measure), suites, measure)
    return out


def write(report: StudyReport, paper_table: tables.Table, ledger: Ledger,
          formats=("md", "latex", "csv"), yes_class: dict[str, tables.Table] | None = None) -> list[Path]:
    """Write the tables, comparisons and plots into runs/<study>/report/ (a run kept in object
    storage gets a copy there too); the Yes-class tables (``yes_class``) go into the Markdown
    report and a CSV each."""
    out = ledger.work / "report"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        text = RENDERERS[fmt](paper_table)
        if fmt == "md":
            text = markdown_extras(report, text, yes_class or {})
        path = out / f"table.{SUFFIX[fmt]}"
        path.write_text(text)
        written.append(path)
    for measure, measure_table in (yes_class or {}).items():
        path = out / f"yes_{measure}.csv"
        path.write_text(rendering.to_csv(measure_table))
        written.append(path)
    written += plots.write_plots(report.records, report.arms, report.baselines, out)
    if not ledger.root.is_local:
        ledger.root.upload(out, "report")
    return written


def markdown_extras(report: StudyReport, table_text: str,
                    yes_class: dict[str, tables.Table] | None = None) -> str:
    parts = [f"# Study {report.study}\n", table_text]
    for measure, measure_table in (yes_class or {}).items():
        parts += [f"\n## Yes class: {measure}\n", rendering.to_markdown(measure_table)]
    if report.departures:
        parts += ["\n## Departures from the paper's model and recipe\n",
                  "\n".join(f"- {note}" for note in report.departures) + "\n"]
    if report.unlearned:
        parts += ["\n## Curriculum stages that did not learn their task\n",
                  "\n".join(f"- {note}" for note in report.unlearned) + "\n"]
    if report.reaches:
        parts += ["\n## Time to validation accuracy\n", reach.to_markdown(report.reaches)]
    if report.comparisons:
        parts += [f"\n## Paired comparisons against `{report.baseline_arm}`\n",
                  rendering.comparisons_markdown(report.comparisons)]
    if report.importances:
        caveat = f"**Caveat:** {report.importance_caveat}.\n\n" if report.importance_caveat else ""
        parts += ["\n## Parameter importances (Optuna)\n", caveat + rendering.importances_markdown(report.importances)]
    if report.failed:
        parts += ["\n## Failed cells\n"] + [f"- {f.arm} seed {f.seed}: {first_line(f.error)}"
                                           for f in report.failed]
    return "\n".join(parts) + "\n"


def first_line(error: str | None) -> str:
    """A failed cell's reason in one line: the exception's type and message."""
    lines = (error or "").strip().splitlines()
    return lines[0] if lines else ""
