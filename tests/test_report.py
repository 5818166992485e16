"""Aggregation, tables, plots and reference rows, checked against hand-computed numbers."""

import csv
import io
import math

import pytest

from axiomatic.report import reach
from axiomatic.report.plots import plot_learning_curves, plot_length_generalisation, write_plots
from axiomatic.data.references import REFERENCES, select_references
from axiomatic.report.rendering import (
    comparisons_markdown,
    format_interval,
    importances_markdown,
    to_csv,
    to_latex,
    to_markdown,
    to_rich,
)
from axiomatic.report.tables import CHANCE_LABEL, build_table
from axiomatic.study.results import (
    aggregate_arms,
    failed_trials,
    holm_adjust,
    mean_ci,
    paired_comparisons,
    time_to_accuracy,
)

T_975_DF2 = 4.302652729749462  # Student t quantile, two-sided 95%, 2 degrees of freedom
STANDARD_9 = "suite/standard_chain/len=9/acc"


def record(arm, seed, status="done", metrics=None, history=None, error=None):
    return {
        "arm": arm,
        "params": {"model.pe": arm.split("=")[1]},
        "seed": seed,
        "status": status,
        "error": error,
        "metrics": metrics or {},
        "history": history or [],
    }


@pytest.fixture
def records():
    return [
        record("pe=none", 0, metrics={STANDARD_9: 0.8, "val/acc": 0.95}),
        record("pe=none", 1, metrics={STANDARD_9: 0.9, "val/acc": 0.96}),
        record("pe=none", 2, metrics={STANDARD_9: 1.0, "val/acc": 0.97}),
        record("pe=learned", 0, metrics={STANDARD_9: 0.7}),
        record("pe=learned", 1, metrics={STANDARD_9: 0.7}),
        # A failed and a running seed carry metrics that must not leak into any statistic.
        record("pe=learned", 2, status="failed", metrics={STANDARD_9: 0.0}, error="CUDA OOM"),
        record("pe=sinusoidal", 0, metrics={STANDARD_9: 0.85}),
        record("pe=sinusoidal", 1, status="running", metrics={STANDARD_9: 0.1}),
    ]


# --- results -------------------------------------------------------------------------------


def test_mean_ci_uses_the_student_t_interval():
    interval = mean_ci([0.8, 0.9, 1.0])
    half_width = T_975_DF2 * 0.1 / math.sqrt(3)  # sample sd of 0.8, 0.9, 1.0 is 0.1
    assert interval["mean"] == pytest.approx(0.9)
    assert interval["ci_high"] - interval["mean"] == pytest.approx(half_width)
    assert half_width == pytest.approx(0.2484, abs=1e-4)
    assert interval["mean"] - interval["ci_low"] == pytest.approx(half_width)
    assert interval["n"] == 3


def test_mean_ci_single_value_and_empty():
    assert mean_ci([0.7]) == {"mean": 0.7, "ci_low": 0.7, "ci_high": 0.7, "n": 1, "values": [0.7]}
    assert mean_ci([]) is None


def test_accuracy_intervals_stay_in_range_and_two_seeds_show_their_values():
    # the quickstart once printed 0.592 ± 1.281 over two seeds
    wide = mean_ci([0.95, 1.0, 1.0], bounds=(0.0, 1.0))
    assert wide["ci_high"] == 1.0 and 0 <= wide["ci_low"] < wide["mean"]
    assert format_interval(wide["mean"], wide["ci_low"], wide["ci_high"], wide["values"]) == "0.98 [0.91, 1.00]"
    two = mean_ci([0.693, 0.491], bounds=(0.0, 1.0))
    assert format_interval(two["mean"], two["ci_low"], two["ci_high"], two["values"]) == "0.69 / 0.49"
    records = [record("pe=none", seed, metrics={STANDARD_9: value})
               for seed, value in enumerate([0.2, 0.9, 1.0])]
    (summary,) = aggregate_arms(records)
    interval = summary.metrics[STANDARD_9]
    assert 0.0 <= interval["ci_low"] and interval["ci_high"] <= 1.0


def test_time_to_accuracy_counts_the_seeds_that_got_there():
    metrics = [{"reach/0.75/step": 1000, "reach/0.75/seconds": 100.0, "reach/0.90/step": 3000,
                "reach/0.90/seconds": 300.0},
               {"reach/0.75/step": 2000, "reach/0.75/seconds": 180.0},
               {"val/acc": 0.6}]
    records = [record("pe=none", seed, metrics=m) for seed, m in enumerate(metrics)]
    records.append(record("pe=none", 3, status="running", metrics={"reach/0.90/step": 10}))
    reaches = {r.threshold: r for r in time_to_accuracy(records)}
    assert (reaches["0.75"].reached, reaches["0.75"].seeds_done) == (2, 3)
    assert reaches["0.75"].step["values"] == [1000, 2000] and reaches["0.75"].seconds["mean"] == 140.0
    assert (reaches["0.90"].reached, reaches["0.90"].step["mean"]) == (1, 3000)
    markdown = reach.to_markdown(time_to_accuracy(records))
    assert "| pe=none | 0.75 | 2/3 | 1000 / 2000 | 100 / 180 |" in markdown


def test_holm_adjustment_on_known_p_values():
    # sorted 0.01, 0.03, 0.04 -> x3, x2, x1 = 0.03, 0.06, 0.04 -> running max 0.03, 0.06, 0.06
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]) == []


def test_aggregates_use_only_finished_seeds(records):
    summaries = {s.arm: s for s in aggregate_arms(records)}
    assert list(summaries) == ["pe=none", "pe=learned", "pe=sinusoidal"]
    learned = summaries["pe=learned"]
    assert learned.metrics[STANDARD_9]["mean"] == pytest.approx(0.7)
    assert (learned.seeds_done, learned.seeds_running, learned.seeds_total) == (2, 0, 3)
    sinusoidal = summaries["pe=sinusoidal"]
    assert sinusoidal.metrics[STANDARD_9] == {"mean": 0.85, "ci_low": 0.85, "ci_high": 0.85, "n": 1,
                                              "values": [0.85]}
    assert (sinusoidal.seeds_done, sinusoidal.seeds_running, sinusoidal.seeds_total) == (1, 1, 2)
    assert summaries["pe=none"].params == {"model.pe": "none"}


def test_aggregates_select_metrics_and_count_a_retried_seed_once(records):
    retried = records + [record("pe=learned", 1, metrics={STANDARD_9: 0.9})]
    learned = {s.arm: s for s in aggregate_arms(retried, [STANDARD_9])}["pe=learned"]
    assert set(learned.metrics) == {STANDARD_9}
    assert learned.seeds_done == 2
    assert learned.metrics[STANDARD_9]["mean"] == pytest.approx((0.7 + 0.9) / 2)


def test_failed_trials_are_listed(records):
    failed = failed_trials(records)
    assert [(r["arm"], r["seed"], r["error"]) for r in failed] == [("pe=learned", 2, "CUDA OOM")]


def test_paired_comparison_pairs_by_seed(records):
    comparisons = {c.arm: c for c in paired_comparisons(records, "pe=none", STANDARD_9)}
    learned = comparisons["pe=learned"]
    # Seed 2 of pe=learned failed, so only seeds 0 and 1 pair: differences -0.1 and -0.2.
    assert learned.n_pairs == 2
    assert learned.mean_diff == pytest.approx(-0.15)
    # t = -0.15 / (sd 0.0707 / sqrt 2) = -3 with 1 df (Cauchy): p = 1 - 2/pi * atan(3).
    assert learned.p_value == pytest.approx(1 - 2 / math.pi * math.atan(3))
    half_width = 12.706204736 * (0.1 / math.sqrt(2)) / math.sqrt(2)  # t(0.975, 1) * se
    assert learned.ci_high - learned.mean_diff == pytest.approx(half_width)
    sinusoidal = comparisons["pe=sinusoidal"]
    assert sinusoidal.n_pairs == 1
    assert sinusoidal.mean_diff == pytest.approx(0.05)
    assert sinusoidal.p_value is None and sinusoidal.p_holm is None
    # Only one arm has a p-value, so Holm multiplies it by 1.
    assert learned.p_holm == pytest.approx(learned.p_value)


def test_paired_comparison_holm_across_arms():
    rows = []
    for seed, (base, a, b) in enumerate([(0.5, 0.6, 0.9), (0.6, 0.8, 0.7), (0.7, 0.75, 0.8)]):
        rows += [
            record("pe=none", seed, metrics={STANDARD_9: base}),
            record("pe=a", seed, metrics={STANDARD_9: a}),
            record("pe=b", seed, metrics={STANDARD_9: b}),
        ]
    comparisons = paired_comparisons(rows, "pe=none", STANDARD_9)
    raw = [c.p_value for c in comparisons]
    assert [c.arm for c in comparisons] == ["pe=a", "pe=b"]
    assert [c.p_holm for c in comparisons] == pytest.approx(holm_adjust(raw))


def test_paired_comparison_rejects_an_unknown_baseline(records):
    with pytest.raises(ValueError, match="pe=rope"):
        paired_comparisons(records, "pe=rope", STANDARD_9)


# --- tables --------------------------------------------------------------------------------


SCRAMBLED_SUITES = [
    "published/dseparation/flipped_chain/len=7",
    "branching_bf1.4/n=12",
    "standard_chain/len=10",
    "published/transitivity/standard_chain/len=7",
    "reversed_chain/len=3",
    "branching_bf1.4/n=5",
    "standard_chain/len=7",
    "flipped_chain/len=9",
]


def summaries_for(suites):
    return aggregate_arms(
        [record("pe=none", seed, metrics={f"suite/{s}/acc": 0.8 + 0.1 * seed for s in suites})
         for seed in range(3)]
    )


BASELINES = {
    "standard_chain/len=7": {"mention_order": 1.0, "direct_edge": 0.6, "majority": 0.5},
    "reversed_chain/len=3": {"mention_order": 0.34, "direct_edge": 0.83, "majority": 0.5},
    "branching_bf1.4/n=5": {"mention_order": None, "direct_edge": 0.92, "majority": 0.55},
}


def test_table_groups_and_orders_columns():
    table = build_table(summaries_for(SCRAMBLED_SUITES), BASELINES, None)
    assert [g.title for g in table.groups] == [
        "Length generalisation (standard)",
        "Length generalisation (flipped)",
        "Reversal",
        "Branching bf1.4",
        "Published files: transitivity/standard_chain",
        "Published files: dseparation/flipped_chain",
    ]
    assert table.columns == [
        "standard_chain/len=7",
        "standard_chain/len=10",
        "flipped_chain/len=9",
        "reversed_chain/len=3",
        "branching_bf1.4/n=5",
        "branching_bf1.4/n=12",
        "published/transitivity/standard_chain/len=7",
        "published/dseparation/flipped_chain/len=7",
    ]


def test_table_rows_baselines_references_and_delta():
    suites = ["standard_chain/len=7", "reversed_chain/len=3", "branching_bf1.4/n=5"]
    references = select_references(["paper TS2 NoPE", "paper TS2 LPE"])
    table = build_table(summaries_for(suites), BASELINES, references)
    rows = {row.label: row for row in table.rows}
    assert [row.label for row in table.rows] == [
        "pe=none",
        CHANCE_LABEL,
        "mention order",
        "direct edge",
        "paper TS2 NoPE",
        "paper TS2 LPE",
        "Δ best arm - paper TS2 NoPE",
    ]
    assert rows[CHANCE_LABEL].cells["branching_bf1.4/n=5"].mean == 0.55
    assert "branching_bf1.4/n=5" not in rows["mention order"].cells
    assert set(rows["paper TS2 LPE"].cells) == {"standard_chain/len=7"}
    delta = rows["Δ best arm - paper TS2 NoPE"].cells
    assert delta["standard_chain/len=7"].mean == pytest.approx(0.9 - 1.00)
    assert delta["branching_bf1.4/n=5"].mean == pytest.approx(0.9 - 0.86)


def test_markdown_and_latex_render_the_numbers():
    suites = ["standard_chain/len=7", "reversed_chain/len=3"]
    table = build_table(summaries_for(suites), BASELINES, select_references(["paper TS2 NoPE"]))
    markdown = to_markdown(table)
    assert "### Length generalisation (standard)" in markdown
    assert "| pe=none | 0.90 [0.65, 1.00] |" in markdown  # 0.90 ± 0.25, cut at 1
    assert "| direct edge | 0.83 |" in markdown
    assert "| Δ best arm - paper TS2 NoPE | -0.10 |" in markdown
    latex = to_latex(table)
    assert r"pe=none & 0.90 [0.65, 1.00] \\" in latex
    assert r"\multicolumn{1}{c}{Reversal}" in latex
    assert r"$\Delta$ best arm - paper TS2 NoPE & -0.10 \\" in latex
    titles = [view.title for view in to_rich(table)]
    assert titles == ["Length generalisation (standard)", "Reversal"]


def test_csv_parses_back_to_the_same_numbers():
    suites = ["standard_chain/len=7", "flipped_chain/len=9"]
    summaries = summaries_for(suites)
    table = build_table(summaries, BASELINES, None)
    parsed = list(csv.DictReader(io.StringIO(to_csv(table))))
    arm_cells = {row["suite"]: row for row in parsed if row["kind"] == "arm"}
    interval = summaries[0].metrics["suite/flipped_chain/len=9/acc"]
    flipped = arm_cells["flipped_chain/len=9"]
    assert float(flipped["mean"]) == interval["mean"]
    assert float(flipped["ci_low"]) == interval["ci_low"]
    assert float(flipped["ci_high"]) == interval["ci_high"]
    assert int(flipped["n"]) == 3
    chance = [row for row in parsed if row["row"] == CHANCE_LABEL]
    assert [(row["suite"], float(row["mean"]), row["n"]) for row in chance] == [
        ("standard_chain/len=7", 0.5, ""),
        ("flipped_chain/len=9", 0.5, ""),
    ]


def test_comparison_and_importance_markdown(records):
    text = comparisons_markdown(paired_comparisons(records, "pe=none", STANDARD_9))
    assert "| pe=learned | pe=none | suite/standard_chain/len=9/acc | 2 | -0.150 [" in text
    single_pair = f"| pe=sinusoidal | pe=none | {STANDARD_9} | 1 | +0.050 | – | – |"
    assert single_pair in text
    ranked = importances_markdown({"train.lr": 0.2, "model.pe": 0.8}).splitlines()
    assert ranked[2:] == ["| model.pe | 0.800 |", "| train.lr | 0.200 |"]


# --- references ----------------------------------------------------------------------------


def test_reference_rows_and_selection_errors():
    assert REFERENCES["paper TS2 NoPE"]["standard_chain/len=9"] == 0.92
    assert REFERENCES["GPT-4 zero-shot"]["reversed_chain/len=6"] == 0.92
    assert REFERENCES["paper TS2 NoPE"]["branching_bf2.0/n=12"] == 0.64
    assert REFERENCES["paper axiomatic model"]["name_shift/len=9"] == 0.73
    assert list(select_references(["paper TS2 SPE", "paper TS2 NoPE"])) == [
        "paper TS2 SPE",
        "paper TS2 NoPE",
    ]
    with pytest.raises(ValueError, match="accepted labels.*paper TS2 NoPE"):
        select_references(["paper TS2 NoPE", "paper TS3 NoPE"])


# --- plots ---------------------------------------------------------------------------------


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_SIGNATURE


def test_plots_write_png_files(tmp_path):
    history = [{"epoch": 1, "step": 1000 * k, "val/acc": 0.5 + 0.1 * k} for k in (1, 2, 3)]
    suites = [
        "standard_chain/len=7",
        "standard_chain/len=10",
        "published/transitivity/standard_chain/len=7",
    ]
    records = [
        record("pe=none", seed, metrics={f"suite/{s}/acc": 0.8 + 0.05 * seed for s in suites},
               history=history)
        for seed in range(2)
    ]
    summaries = aggregate_arms(records)
    one_family = tmp_path / "one.png"
    assert is_png(plot_length_generalisation(summaries, "standard_chain", one_family, BASELINES))
    assert is_png(plot_learning_curves(records, "val/acc", tmp_path / "curves.png"))
    written = write_plots(records, summaries, BASELINES, tmp_path / "plots")
    assert [p.name for p in written] == [
        "length_standard_chain.png",
        "length_published__transitivity__standard_chain.png",
        "learning_val__acc.png",
    ]
    assert all(is_png(path) for path in written)


def test_learning_curves_follow_the_evaluation_steps_and_keep_bands_in_range():
    from axiomatic.report.plots import _step_intervals

    records = [record("pe=none", seed, history=[{"epoch": 1, "step": step, "val/acc": value}
                                                for step, value in zip((500, 1000, 1500), values)])
               for seed, values in enumerate([(0.5, 0.9, 1.0), (0.6, 0.99, 0.98), (0.2, 0.7, 0.99)])]
    points = _step_intervals(records, "val/acc")
    assert [step for step, _ in points] == [500, 1000, 1500]  # three evaluations in one epoch
    assert all(0.0 <= band["ci_low"] and band["ci_high"] <= 1.0 for _, band in points)


# --- seeds stopped early ------------------------------------------------------------------


REVERSED_3 = "suite/reversed_chain/len=3/acc"
# (pe, seed) -> status as cell.json stores it, and the seed's accuracy
STOPPED_LEDGER = {("none", 0): ("done", 0.9), ("none", 1): ("done", 0.8), ("none", 2): ("stopped", 0.2),
                  ("rope", 0): ("done", 0.7), ("rope", 1): ("done", 0.6), ("rope", 2): ("done", 0.65)}


def ledger_with_a_stopped_seed(tmp_path):
    """A real study directory whose cell.json files are written as a runner writes them, one
    seed of the baseline arm stopped early (by ASHA) at a much lower accuracy."""
    import json

    from axiomatic.study.ledger import Ledger, arm_id, cell_id
    from axiomatic.study.spec import validate_study

    spec = validate_study({"name": "stopped", "data": {"size": 500},
                           "model": {"preset": "tiny", "pe": {"grid": ["none", "rope"]}},
                           "train": {"device": "cpu", "epochs": 4}, "seeds": [0, 1, 2],
                           "suites": ["reversed_chain/len=3"], "baseline": {"model.pe": "none"}},
                          "stopped.yaml")
    ledger = Ledger(tmp_path / "stopped")
    ledger.initialise("", spec.fingerprint())
    for (pe, seed), (status, accuracy) in STOPPED_LEDGER.items():
        params = {"model.pe": pe}
        cell = {"arm_id": arm_id(params), "arm": spec.arm_name(params), "params": params, "seed": seed,
                "status": status, "metrics": {"val/acc": accuracy, REVERSED_3: accuracy,
                                              "epoch": 2 if status == "stopped" else 4},
                "error": None, "optuna_trial": None}
        path = ledger.cell_dir(cell_id(cell["arm_id"], seed)).local_path / "cell.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(cell))
    return spec, ledger


def test_a_seed_stopped_early_is_kept_apart_from_the_finished_ones(tmp_path):
    from axiomatic.report import summary

    spec, ledger = ledger_with_a_stopped_seed(tmp_path)
    statuses = {(r["arm"], r["seed"]): r["status"] for r in ledger.records()}
    assert (statuses[("pe=none", 2)], statuses[("pe=none", 0)]) == ("stopped", "done")

    report = summary.build(spec, ledger)
    printed = report.to_json()  # what --json prints
    arms = {a["arm"]: a for a in printed["arms"]}
    assert (arms["pe=none"]["seeds_done"], arms["pe=none"]["seeds_stopped"]) == (2, 1)
    assert (arms["pe=rope"]["seeds_done"], arms["pe=rope"]["seeds_stopped"]) == (3, 0)
    accuracy = arms["pe=none"]["metrics"]["val/acc"]
    assert accuracy["n"] == 2 and accuracy["mean"] == pytest.approx(0.85)  # not (0.9+0.8+0.2)/3
    (comparison,) = printed["comparisons"]
    assert comparison["n_pairs"] == 2 and comparison["mean_diff"] == pytest.approx(-0.2)

    markdown = summary.markdown_extras(report, to_markdown(summary.table(report, spec)))
    assert "| pe=none (1 of 3 seeds stopped early, not averaged) |" in markdown
    assert "| pe=rope |" in markdown
    assert "seeds stopped early" in markdown.splitlines()[2].lower()  # the table's note says so


def test_a_stopped_cell_stays_stopped_on_disk_and_is_never_rescheduled(tmp_path):
    import json

    from axiomatic.study.ledger import CellStatus
    from axiomatic.study import optuna_db
    from axiomatic.study.searcher import ArmSearcher, optuna_study

    spec, ledger = ledger_with_a_stopped_seed(tmp_path)
    stopped = next(c for c in ledger.cells() if c.seed == 2 and c.arm == "pe=none")
    # final: a scheduler's decision is not undone by a rerun
    assert stopped.status is CellStatus.STOPPED and stopped.finished
    ledger.save(stopped)
    on_disk = json.loads((ledger.cell_dir(stopped.id).local_path / "cell.json").read_text())
    assert on_disk["status"] == "stopped"
    searcher = ArmSearcher(spec, ledger, optuna_study(spec, optuna_db.of_run(ledger, spec.name)))
    assert searcher.queue == [] and searcher.complete()


def test_the_live_table_averages_finished_seeds_and_counts_stopped_ones(tmp_path):
    from axiomatic.report.console import LiveConsole
    from axiomatic.study.progress import arm_progress

    spec, ledger = ledger_with_a_stopped_seed(tmp_path)
    members = [c for c in ledger.cells() if c.arm == "pe=none"]
    row = LiveConsole(spec, enabled=False)._row(arm_progress(members, "val/acc"))
    assert row[1:3] == ["2/0/3", "0.900 / 0.800"]
    assert "1 stopped early" in row[4]


def test_the_live_table_is_drawn_from_a_snapshot_alone(tmp_path):
    from rich.console import Console

    from axiomatic.report.console import LiveConsole
    from axiomatic.study.progress import ArmProgress, SearchProgress

    spec, _ = ledger_with_a_stopped_seed(tmp_path)
    snapshot = SearchProgress(arms=(
        ArmProgress("pe=none", total=3, done=2, running=0, stopped=1, failed=0, values=(0.9, 0.8),
                    running_cells=()),
        ArmProgress("pe=rope", total=3, done=0, running=1, stopped=0, failed=0, values=(),
                    running_cells=("r-s0",))), total_cells=6)
    live = LiveConsole(spec, enabled=False)
    live.latest["r-s0"] = {"val/acc": 0.55}
    console = Console(width=160, record=True)
    console.print(live.table(snapshot))
    lines = console.export_text().splitlines()
    none_row = next(line for line in lines if "pe=none" in line)
    rope_row = next(line for line in lines if "pe=rope" in line)
    assert "2/0/3" in none_row and "done (1 stopped early)" in none_row
    assert "0/1/3" in rope_row and "0.550 (live)" in rope_row and "running" in rope_row
    assert snapshot.finished_cells == 3


def test_departures_name_each_lever_an_arm_uses():
    from axiomatic.report.summary import departures
    from axiomatic.study.spec import validate_study

    spec = validate_study({"name": "levers", "data": {"task": "dseparation", "size": 500},
                           "model": {"preset": "tiny", "mixer": "conv"},
                           "train": {"device": "cpu", "question_first": {"grid": [False, True]}}},
                          "levers.yaml")
    plain = departures(spec, [{"params": {"train.question_first": False}}])
    turned = departures(spec, [{"params": {"train.question_first": False}},
                               {"params": {"train.question_first": True}}])
    assert any("model.mixer: conv" in note for note in plain)
    assert not any("question_first" in note for note in plain)
    assert [note for note in turned if note not in plain] == [
        "train.question_first (each question stated before its premise, in training and every suite)"]
    moved = departures(validate_study({"name": "given", "data": {"task": "dseparation", "size": 500},
                                       "train": {"device": "cpu", "given_first": True}}, "given.yaml"),
                       [{"params": {}}])
    assert any(note.startswith("train.given_first (each d-separation question's given set") for note in moved)
    targeted = departures(validate_study({"name": "nodes", "data": {"task": "dseparation", "size": 500},
                                          "train": {"device": "cpu", "question_first": True, "node_loss": 1.0}},
                                         "nodes.yaml"), [{"params": {}}])
    assert any(note.startswith("train.node_loss > 0 (per-node targets") for note in targeted)
    named = departures(validate_study({"name": "names", "model": {"preset": "tiny", "mixer": "name"},
                                       "train": {"device": "cpu"}}, "names.yaml"), [{"params": {}}])
    assert [note.split(" (")[0] for note in named if "mixer" in note] == ["model.mixer: name"]


def test_an_arm_whose_curriculum_stage_did_not_learn_is_flagged():
    from axiomatic.report.summary import unlearned_stages
    from axiomatic.study.results import aggregate_arms

    def record(arm: str, seed: int, stage_acc: float) -> dict:
        return {"arm": arm, "arm_id": arm, "params": {"train.stages": arm}, "seed": seed, "status": "done",
                "metrics": {"val/acc": 0.6, f"stage/{arm}/acc": stage_acc}, "error": None}

    records = [record("transitivity", 0, 0.97), record("transitivity", 1, 0.99),
               record("dseparation", 0, 0.62), record("dseparation", 1, 0.70)]
    notes = unlearned_stages(aggregate_arms(records))
    assert len(notes) == 1 and notes[0].startswith("dseparation: curriculum stage 'dseparation' ended at 0.660")


def test_importances_over_arms_that_do_not_differ_carry_a_caveat():
    from axiomatic.report.summary import importance_caveat
    from axiomatic.study.results import aggregate_arms

    def arms(values: dict[str, list[float]]):
        return aggregate_arms([{"arm": arm, "arm_id": arm, "params": {"data.perturbation": arm}, "seed": seed,
                                "status": "done", "metrics": {"val/acc": value}, "error": None}
                               for arm, seeds in values.items() for seed, value in enumerate(seeds)])

    apart = arms({"0.5": [0.60, 0.61, 0.62], "1.5": [0.90, 0.91, 0.92]})
    overlapping = arms({"0.5": [0.60, 0.70, 0.80], "1.5": [0.65, 0.75, 0.85]})
    single = arms({"0.5": [0.60], "1.5": [0.90]})
    assert importance_caveat(apart, "val/acc") is None
    assert "rank noise" in importance_caveat(overlapping, "val/acc")
    assert "single seed" in importance_caveat(single, "val/acc")


def test_a_narrow_console_keeps_every_arm_label_whole():
    """Run without a terminal (nohup, CI) rich draws 80 columns: an arm cut to ``pe=sinusoid…``
    no longer says which arm a row is, so the numbers wrap and the labels stay whole."""
    from rich.console import Console

    suites = ["standard_chain/len=7", "standard_chain/len=9", "standard_chain/len=12",
              "standard_chain/len=15", "flipped_chain/len=9", "flipped_chain/len=12"]
    arms = ["mixer=sentence pe=none", "mixer=conv pe=sinusoidal"]
    summaries = aggregate_arms([record(arm, seed, metrics={f"suite/{s}/acc": 0.8 + 0.01 * seed for s in suites})
                                for arm in arms for seed in range(3)])
    table = build_table(summaries, BASELINES, select_references(["paper TS2 NoPE"]))
    console = Console(width=60, record=True, color_system=None)
    for view in to_rich(table):
        console.print(view)
    printed = console.export_text()
    assert all(printed.count(arm) == 2 for arm in arms)  # one row in each of the two tables
    assert "…" not in printed
