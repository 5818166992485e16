"""The task registry: a task defined in this file, registered with one line, goes through
`platform data generate`, a short real `platform train` (tiny model, real torch), `platform eval`
and the report's paper-style table without any other module knowing it. And datasets carry their
row structure (questions per row), which the trainer and the store read instead of the spec."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field

from axiomatic import cli
from axiomatic.data import Store, mixtures, suites, tasks, tokenizer
from axiomatic.data.dataset import Dataset
from axiomatic.data.tasks import Option, Task
from axiomatic.digest import json_digest
from axiomatic.report import rendering, tables
from axiomatic.study.results import aggregate_arms

# ---------------------------------------------------------------- the task, as a new module holds it
#
# Chain independence: a chain whose edges point either way, stated in chain order, and "Are X
# and Y independent?": Yes iff a collider (a node both its chain edges point into) sits between
# them, which blocks the one path that joins them.

NAME = "chain_independence"
SUITE_LENGTHS = (6,)
CAUSES, ARE, AND, INDEPENDENT = (tokenizer.word(w) for w in ("causes", "Are", "and", "independent"))
PERIOD, QUESTION = tokenizer.TOKEN_ID["."], tokenizer.TOKEN_ID["?"]


class ChainIndependenceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: Literal["chain_independence"] = "chain_independence"
    size: int = Field(600, gt=0)
    seed: int = 0
    chain_nodes: tuple[int, int] = (4, 5)

    def canonical(self) -> dict:
        return {**self.model_dump(mode="json"), "generator": "chain-independence-1"}

    def digest(self) -> str:
        return json_digest(self.canonical())


def generate(spec: ChainIndependenceSpec) -> Dataset:
    rng = np.random.default_rng(spec.seed)
    nodes = rng.integers(spec.chain_nodes[0], spec.chain_nodes[1] + 1, spec.size)
    width = 4 * (int(nodes.max()) - 1) + 6
    tokens = np.zeros((spec.size, width), np.uint8)
    labels, categories = np.zeros(spec.size, np.uint8), np.zeros(spec.size, np.uint8)
    for row, n in enumerate(nodes):
        names = tokenizer.CHAR_ID[rng.permutation(len(tokenizer.CHAR_ID))[:n]]
        flipped = rng.random(n - 1) < 0.5  # edge k joins nodes k and k + 1, pointing back when flipped
        sentences = [[names[k + 1], CAUSES, names[k], PERIOD] if flipped[k] else [names[k], CAUSES, names[k + 1], PERIOD]
                     for k in range(n - 1)]
        x, y = sorted(rng.choice(n, 2, replace=False))
        labels[row] = any(not flipped[k - 1] and flipped[k] for k in range(x + 1, y))
        categories[row] = 0 if y - x == 1 else 1
        first, second = (x, y) if rng.random() < 0.5 else (y, x)
        ids = [t for sentence in sentences for t in sentence] + [ARE, names[first], AND, names[second], INDEPENDENT, QUESTION]
        tokens[row, : len(ids)] = ids
    lengths = (4 * (nodes - 1) + 6).astype(np.int32)
    return Dataset(tokens, lengths, labels, categories, nodes.astype(np.int32))


def suite_names() -> list[str]:
    return [f"{NAME}/len={n}" for n in SUITE_LENGTHS]


def build_suite(name: str, items: int) -> Dataset:
    n = int(name.rpartition("=")[2])
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return generate(ChainIndependenceSpec(size=min(items, 200), seed=seed, chain_nodes=(n, n)))


TASK = Task(
    name=NAME,
    spec=ChainIndependenceSpec,
    generate=generate,
    question_words=("Are", "independent"),
    category_names=("adjacent", "apart"),
    options=(Option("--chain-nodes", "chain_nodes", {"type": int, "nargs": 2, "metavar": ("LO", "HI")}),),
    suite_families=(NAME,),
    suite_names=suite_names,
    build_suite=build_suite,
    suite_listing=f"{NAME}/len=6",
    report_groups=((NAME, "Chain independence, longer chains"),),
)

# ---------------------------------------------------------------- the tests

SUITE = f"{NAME}/len=6"


@pytest.fixture
def registered():
    tasks.register(TASK)  # the one registration line
    yield TASK
    tasks.unregister(NAME)


def test_the_new_task_is_known_wherever_a_task_is_named(registered):
    assert NAME in tasks.names()
    spec = tasks.build_spec({"task": NAME, "size": 50})
    assert isinstance(spec, ChainIndependenceSpec)
    data = tasks.generate(spec)
    assert tasks.task_of_rows(data) == NAME and data.questions_per_row == 1
    assert suites.generated_names(NAME) == [SUITE] and SUITE in suites.all_names()
    assert suites.task_of_suite(SUITE) == NAME and suites.task_suites(NAME) == [SUITE]
    assert "chain_nodes" in tasks.section_keys()
    categories, names = tasks.row_categories(data)
    assert names == ("adjacent", "apart") and (categories == data.categories).all()
    assert tasks.row_hops(data) is None  # the task does not declare hops
    with pytest.raises(ValueError, match=f"unknown suite.*{NAME}/len=6"):
        suites.build(f"{NAME}/len=9")
    # the built-in tasks' rows are still told apart: no row of theirs asks "Are ... independent?"
    for name in ("flipped_chain/len=7", "dseparation/flipped_chain/len=7", "corr2cause/all"):
        assert tasks.task_of_rows(suites.build(name)) == suites.task_of_suite(name)


def test_the_task_is_forgotten_when_unregistered():
    assert NAME not in tasks.names()
    with pytest.raises(ValueError, match="task: unknown task 'chain_independence'"):
        tasks.build_spec({"task": NAME})


def test_a_name_cannot_be_registered_twice(registered):
    tasks.register(TASK)  # the same task again: nothing changes
    with pytest.raises(ValueError, match="registered already"):
        tasks.register(Task(name=NAME, spec=ChainIndependenceSpec, generate=generate,
                            question_words=("Are",), category_names=()))


def test_generate_train_evaluate_and_report(registered, tmp_path, capsys, session_cache):
    # platform data generate: the task's own option, its suite for the leakage check
    out = tmp_path / "data"
    code = cli.main(["data", "generate", "--task", NAME, "--size", "600", "--chain-nodes", "4", "5",
                     "--out", str(out), "--jsonl", "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    manifest = printed["manifest"]
    assert manifest["spec"] == {"task": NAME, "size": 600, "seed": 0, "chain_nodes": [4, 5]}
    assert manifest["leakage"]["checked_suites"] == 1
    assert set(manifest["counts"]["categories"]) == {"adjacent", "apart"}
    assert 0.1 < manifest["counts"]["yes_share"] < 0.9
    assert manifest["baselines"]["majority"] is not None and manifest["baselines"]["direct_edge"] is None
    first = json.loads((out / "instances.jsonl").read_text().splitlines()[0])
    assert first["hypothesis"].startswith("Are ") and first["hypothesis"].endswith(" independent?")
    # an option of another task is refused, as for the built-in tasks
    assert cli.main(["data", "generate", "--task", NAME, "--flip-prob", "0.3", "--out", str(tmp_path / "x")]) == 2
    refused = " ".join(capsys.readouterr().err.split())  # rich wraps the line
    assert f"--flip-prob: not an option of --task {NAME} (its own: --chain-nodes)" in refused

    # platform train: a tiny model for a few steps, scored on the task's suite
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(f"data: {{task: {NAME}, size: 600, chain_nodes: [4, 5]}}\n"
                        "model: {preset: tiny, dropout: 0.0}\n"
                        "train: {recipe: paper, epochs: 1, batch_size: 64, lr: 0.003, device: cpu}\n"
                        f"suites: [{SUITE}]\n")
    run_dir = tmp_path / "run"
    assert cli.main(["train", str(run_yaml), "--out", str(run_dir), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    accuracy = trained["metrics"][f"suite/{SUITE}/acc"]
    assert 0.0 <= accuracy <= 1.0 and 0.0 <= trained["metrics"]["val/acc"] <= 1.0

    # platform eval: the suite by the task's categories
    assert cli.main(["eval", trained["checkpoint"], "--suite", SUITE, "--by-category", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert json.dumps(scored).count("adjacent") and json.dumps(scored).count("apart")

    # the report's table: the suite in the task's own column group, next to chance
    record = {"arm": "tiny", "params": {}, "seed": 0, "status": "done", "metrics": trained["metrics"]}
    baselines = {SUITE: Store(session_cache).suite(SUITE)[1]["baselines"]}
    table = tables.build_table(aggregate_arms([record]), baselines, None)
    assert [group.title for group in table.groups] == ["Chain independence, longer chains"]
    assert [row.label for row in table.rows] == ["tiny", tables.CHANCE_LABEL]
    assert "Chain independence, longer chains" in rendering.to_markdown(table)


def test_a_dataset_carries_its_questions_per_row(tmp_path):
    spec = mixtures.DataSpec(size=400, seed=3, chain_lengths=(4, 5), questions_per_premise=3)
    data = tasks.generate(spec)
    assert data.questions_per_row == 3 and tasks.questions_per_row(spec) == 3
    assert data.subset(np.arange(30)).questions_per_row == 3
    store = Store(tmp_path / "cache")
    built, _ = store.training_set(spec, check_against=[])
    cached, _ = store.training_set(spec, check_against=[])  # read back from the cache
    assert built.questions_per_row == cached.questions_per_row == 3
    assert (cached.tokens == data.tokens).all()
    assert tasks.generate(spec.model_copy(update={"questions_per_premise": 1})).questions_per_row == 1
    with pytest.raises(ValueError, match="questions per row"):
        Dataset.concat([data, tasks.generate(spec.model_copy(update={"questions_per_premise": 1}))])
