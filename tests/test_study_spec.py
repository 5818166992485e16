"""The study YAML: every malformed file fails with its file and field named; good files load,
sample and build run configs."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from axiomatic.data import suites as suite_catalog
from axiomatic.errors import UserError
from axiomatic.study.space import arm_count, define_by_run, enqueue_grid, grid_space, make_sampler
from axiomatic.study.spec import load_study, validate_study

REPO = Path(__file__).resolve().parents[1]
BAD_FILES = sorted((Path(__file__).parent / "study_files" / "bad").glob("*.yaml"))
STUDY_FILES = sorted((REPO / "studies").glob("*.yaml"))

optuna.logging.set_verbosity(optuna.logging.WARNING)


def expected_field(path: Path) -> str:
    """The ``# expect: <field path>`` comment on the first line of a malformed study."""
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: <field path>'"
    return first.removeprefix("# expect: ").strip()


def skip_without_published(spec_suites: list[str]) -> None:
    if any(p.startswith("published/") for p in spec_suites) and not suite_catalog.published_files(
            suite_catalog.published_dir()):
        pytest.skip("published evaluation files not found")


def small_study(**overrides) -> dict:
    study = {"name": "small", "data": {"preset": "TS2", "size": 2000},
             "model": {"preset": "tiny", "pe": {"grid": ["none", "rope"]}},
             "train": {"recipe": "fast", "epochs": 2}, "suites": ["reversed_chain/*"]}
    return {**study, **overrides}


# ---------------------------------------------------------------- malformed files

def test_there_are_enough_malformed_files():
    assert len(BAD_FILES) >= 22


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_malformed_study_names_file_and_field(path):
    with pytest.raises(UserError) as caught:
        load_study(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert expected_field(path) in message, message


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_study(tmp_path / "absent.yaml")


def test_all_problems_of_one_layer_are_reported_together():
    with pytest.raises(UserError) as caught:
        validate_study(small_study(search={"algorithm": "tpe", "samples": 3}, seeds=[1, 1]), "x.yaml")
    assert "search.samples" in str(caught.value) and "seeds" in str(caught.value)


SEVERAL_MISTAKES = """\
name: several
model: {preset: tiny, pe: spiral}
train: {lr: -1.0}
scheduler: {type: asha, grace_period: 5, max_t: 2}
baseline: {model.pe: none}
"""


def test_every_problem_of_a_file_is_named_in_one_message(tmp_path):
    """An unknown encoding (found by building the run), a negative lr (another section), a
    scheduler rule and a baseline rule: one message names all four, with the file."""
    path = tmp_path / "several.yaml"
    path.write_text(SEVERAL_MISTAKES)
    result = subprocess.run([sys.executable, "-m", "axiomatic.cli", "study", str(path)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())  # rich wraps long lines
    assert str(path) in message.replace(" ", "") or path.name in message, message
    for field in ("model.pe: pe must be one of", "train.lr", "scheduler.grace_period", "baseline.model.pe"):
        assert field in message, (field, message)
    assert not (tmp_path / "runs").exists()


def test_a_schema_problem_does_not_hide_the_others():
    study = {"name": "several", "seeds": [1, 1], "model": {"preset": "tiny", "pe": "spiral"},
             "scheduler": {"type": "asha", "grace_period": 5, "max_t": 2}}
    with pytest.raises(UserError) as caught:
        validate_study(study, "x.yaml")
    message = str(caught.value)
    assert message.startswith("x.yaml: invalid study")
    for field in ("  seeds: ", "  model.pe: ", "  scheduler.grace_period: "):
        assert field in message, (field, message)


def test_a_problem_of_every_arm_is_named_once_and_one_of_some_arms_names_them():
    model = {"preset": "tiny", "pe": "spiral", "d_model": 64, "n_head": {"grid": [4, 6]}}
    with pytest.raises(UserError) as caught:
        validate_study(small_study(model=model), "x.yaml")
    lines = str(caught.value).splitlines()
    assert sum("model.pe:" in line for line in lines) == 1, lines
    (n_head,) = [line for line in lines if line.startswith("  model.n_head:")]
    assert "while building the arm n_head=6" in n_head and "n_head=4" not in n_head


def test_name_cannot_escape_the_runs_directory():
    with pytest.raises(UserError, match="name"):
        validate_study(small_study(name=".."), "x.yaml")


def test_conditions_cannot_form_a_cycle():
    model = {"preset": "tiny",
             "pe": {"choice": ["none", "rope"], "when": {"model.n_layer": 2}},
             "n_layer": {"choice": [2, 4], "when": {"model.pe": "rope"}}}
    with pytest.raises(UserError, match="cycle"):
        validate_study(small_study(model=model, search={"algorithm": "tpe", "num_samples": 2}), "x.yaml")


def test_baseline_must_name_a_whole_arm():
    model = {"preset": "tiny", "pe": {"grid": ["none", "rope"]}, "n_layer": {"grid": [1, 2]}}
    with pytest.raises(UserError, match="no value for model.n_layer"):
        validate_study(small_study(model=model, baseline={"model.pe": "none"}), "x.yaml")


def _registered_commands() -> set[str]:
    from axiomatic.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def test_cli_refuses_a_malformed_study_before_running(tmp_path):
    if "study" not in _registered_commands():
        pytest.skip("the 'study' command is not registered yet")
    path = Path(__file__).parent / "study_files" / "bad" / "baseline_on_tpe.yaml"
    result = subprocess.run([sys.executable, "-m", "axiomatic.cli", "study", str(path)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert path.name in result.stderr.replace("\n", "")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# ---------------------------------------------------------------- the study files

def test_the_five_study_files_exist():
    assert {p.stem for p in STUDY_FILES} >= {
        "quickstart", "pe_ablation", "mixture_search", "depth", "paper_reproduction"}


@pytest.mark.parametrize("path", STUDY_FILES, ids=lambda p: p.stem)
def test_study_file_loads(path):
    import yaml

    skip_without_published(yaml.safe_load(path.read_text()).get("suites", []))
    spec = load_study(path)
    assert spec.name == path.stem
    assert path.read_text().startswith("#"), "each study file opens with a header comment"
    assert arm_count(spec) >= 1


def _mixture_search(algorithm: str = "tpe"):
    import yaml

    path = REPO / "studies" / "mixture_search.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["search"]["algorithm"] = algorithm
    return validate_study(raw, str(path))


@pytest.mark.parametrize("algorithm", ["tpe", "random"])
def test_define_by_run_samples_inside_domains_and_honours_when(algorithm):
    spec = _mixture_search(algorithm)
    params = {p.path: p for p in spec.parameters()}
    study = optuna.create_study(sampler=make_sampler(spec), direction="maximize")
    sample = define_by_run(spec)
    seen_pe = set()
    for _ in range(40):
        trial = study.ask()
        values = sample(trial)
        assert values == trial.params
        for path, value in values.items():
            assert params[path].contains(value), (path, value)
        assert ("model.rope_theta" in values) == (values["model.pe"] == "rope")
        assert isinstance(values["model.n_layer"], int)
        seen_pe.add(values["model.pe"])
        study.tell(trial, 0.5)
    assert "rope" in seen_pe and len(seen_pe) > 1


def test_grid_study_enumerates_every_arm():
    spec = validate_study(small_study(), "x.yaml")
    assert grid_space(spec) == {"model.pe": ["none", "rope"]}
    study = optuna.create_study(sampler=make_sampler(spec))
    enqueue_grid(study, spec)
    enqueue_grid(study, spec)  # idempotent: arms already queued are not queued twice
    sample = define_by_run(spec)
    arms = []

    def objective(trial):
        arms.append(spec.arm_name(sample(trial)))
        return 1.0

    study.optimize(objective, n_trials=arm_count(spec))
    assert sorted(arms) == ["pe=none", "pe=rope"]


def test_pe_ablation_is_five_arms():
    path = REPO / "studies" / "pe_ablation.yaml"
    import yaml

    skip_without_published(yaml.safe_load(path.read_text())["suites"])
    spec = load_study(path)
    assert grid_space(spec) == {"model.pe": ["none", "sinusoidal", "learned", "rope", "alibi"]}
    assert arm_count(spec) == 5
    assert spec.baseline_arm() == "pe=none"
    run = spec.run_config({"model.pe": "rope"}, seed=2)
    assert (run.model.pe, run.seed, run.model.d_model, run.data.size) == ("rope", 2, 512, 175000)
    assert "published/transitivity/flipped_chain/len=9" in run.suites
    assert "standard_chain/len=50" in run.suites


def test_tpe_arm_count_is_num_samples():
    assert arm_count(_mixture_search()) == 40


def test_run_config_substitutes_params_and_keeps_defaults_of_inactive_ones():
    spec = _mixture_search()
    base = {"data.perturbation": 0.5, "data.flip_prob": 0.3, "model.n_layer": 3, "train.lr": 1e-3}
    run = spec.run_config({**base, "model.pe": "none"}, seed=7)
    assert (run.model.pe, run.model.n_layer, run.model.rope_theta) == ("none", 3, 10000.0)
    assert (run.data.perturbation, run.data.flip_prob, run.train.lr, run.seed) == (0.5, 0.3, 1e-3, 7)
    assert run.train.epochs == 10 and run.model.d_model == 128
    assert run.suites[0] == "flipped_chain/len=9" and "reversed_chain/len=6" in run.suites
    rope = spec.run_config({**base, "model.pe": "rope", "model.rope_theta": 5000.0}, seed=0)
    assert rope.model.rope_theta == 5000.0
    with pytest.raises(ValueError, match="model.pe"):
        spec.run_config(base, seed=0)
    with pytest.raises(ValueError, match="model.width"):
        spec.run_config({**base, "model.pe": "none", "model.width": 3}, seed=0)


def test_a_nested_field_can_be_searched():
    # the mixture's shares are a mapping: each share is its own parameter, at its full path
    data = {"size": 2000, "shares": {"sequential": {"grid": [0.0, 0.3]}, "flipped": {"grid": [1.0, 0.7]},
                                     "reversed": 0.0}}
    arms = [{"data.shares.sequential": 0.0, "data.shares.flipped": 1.0},
            {"data.shares.sequential": 0.3, "data.shares.flipped": 0.7}]  # shares must sum to 1
    spec = validate_study(small_study(data=data, model={"preset": "tiny"},
                                      search={"algorithm": "grid", "arms": arms}), "x.yaml")
    assert grid_space(spec) == {"data.shares.sequential": [0.0, 0.3], "data.shares.flipped": [1.0, 0.7]}
    run = spec.run_config({"data.shares.sequential": 0.3, "data.shares.flipped": 0.7}, seed=0)
    assert (run.data.shares.sequential, run.data.shares.flipped, run.data.shares.reversed) == (0.3, 0.7, 0.0)
    assert spec.data["shares"]["sequential"] == {"grid": [0.0, 0.3]}  # the spec itself unchanged
    assert spec.arm_name({"data.shares.sequential": 0.3, "data.shares.flipped": 0.7}) == \
        "shares.sequential=0.3 shares.flipped=0.7"


def test_arm_names_are_short_and_readable():
    spec = _mixture_search()
    name = spec.arm_name({"model.pe": "rope", "model.rope_theta": 12345.6, "train.lr": 0.00123456})
    assert name == "pe=rope rope_theta=1.2e4 lr=0.0012"
    assert validate_study(small_study(model={"preset": "tiny"}), "x.yaml").arm_name({}) == "default"
    grid = validate_study(small_study(data={"size": 2000, "perturbation": {"grid": [1.0, 1.05]}}), "x.yaml")
    # listed floats show as written, so 2-digit rounding never merges two grid arms
    assert grid.arm_name({"data.perturbation": 1.05, "model.pe": "none"}) == "perturbation=1.05 pe=none"
    assert grid.arm_name({"data.perturbation": 1.0, "model.pe": "none"}) == "perturbation=1 pe=none"


def test_fingerprint_ignores_what_extends_a_study_and_sees_what_changes_an_arm():
    raw = small_study(seeds=[0, 1], search={"algorithm": "grid", "num_samples": 1},
                      references=["paper TS2 NoPE"], resources={"cpu": 1})
    before = validate_study(raw, "x.yaml").fingerprint()
    extended = small_study(seeds=[0, 1, 2, 3], search={"algorithm": "grid", "num_samples": 9,
                                                        "max_concurrent": 2},
                           references=[], resources={"cpu": 2}, description="more seeds")
    assert validate_study(extended, "x.yaml").fingerprint() == before
    wider = small_study(model={"preset": "tiny", "d_model": 128, "pe": {"grid": ["none", "rope"]}})
    assert validate_study(wider, "x.yaml").fingerprint() != before
    fewer_suites = small_study(suites=["reversed_chain/len=3"])
    assert validate_study(fewer_suites, "x.yaml").fingerprint() != before


def test_curriculum_reaches_every_arm_and_is_part_of_the_fingerprint():
    stages = [{"steps": 300, "data": {"chain_lengths": [2, 2], "name_length": [1, 1]}}]
    spec = validate_study(small_study(curriculum=stages), "x.yaml")
    run = spec.run_config({"model.pe": "rope"}, seed=3)
    assert [stage.steps for stage in run.curriculum] == [300]
    assert run.curriculum[0].data.chain_lengths == (2, 2) and run.curriculum[0].data.size == 2000
    assert run.curriculum_steps == 300
    plain = validate_study(small_study(), "x.yaml").fingerprint()
    assert "curriculum" not in plain  # studies made before curricula keep their fingerprint
    assert spec.fingerprint() == {**plain, "curriculum": stages}


def test_representative_arm_leaves_out_inactive_parameters():
    arm = _mixture_search().representative_arm()
    assert arm == {"data.perturbation": 0.0, "data.flip_prob": 0.2, "model.pe": "none",
                   "model.n_layer": 2, "train.lr": 3e-4}
    assert _mixture_search().run_config(arm, seed=0).model.pe == "none"


# ---------------------------------------------------------------- a list of arms

def test_a_grid_study_can_list_its_arms_instead_of_the_product():
    study = small_study(
        model={"preset": "tiny", "mixer": {"grid": ["none", "conv"]}},
        train={"recipe": "fast", "epochs": 2, "aux_loss": {"grid": [0.0, 0.5]},
               "use_curriculum": {"grid": [True, False]}},
        curriculum=[{"steps": 10, "until_acc": 0.9, "data": {"chain_lengths": [2, 2]}}],
        search={"algorithm": "grid", "arms": [
            {"model.mixer": "none", "train.aux_loss": 0.0, "train.use_curriculum": False},
            {"model.mixer": "conv", "train.aux_loss": 0.5, "train.use_curriculum": True}]},
        baseline={"model.mixer": "none", "train.aux_loss": 0.0, "train.use_curriculum": False})
    spec = validate_study(study, "levers.yaml")
    assert arm_count(spec) == 2  # not the 8 of the product
    study_db = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    enqueue_grid(study_db, spec)
    assert [t.system_attrs["fixed_params"] for t in study_db.get_trials()] == spec.search.arms
    plain = spec.run_config(spec.search.arms[0], seed=0)
    levers = spec.run_config(spec.search.arms[1], seed=0)
    assert plain.curriculum == () and levers.curriculum[0].until_acc == 0.9
    assert (plain.model.mixer, levers.train.aux_loss) == ("none", 0.5)
