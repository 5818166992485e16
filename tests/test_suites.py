"""Evaluation suites: composition of every generated suite, the published files, their baselines."""

import functools
import json

import networkx as nx
import numpy as np
import pytest

from axiomatic.data import baselines, suites, tasks, text
from axiomatic.data.dataset import Dataset
from axiomatic.data.store import Store

ALL_GENERATED = suites.generated_names()


def parsed_rows(data: Dataset) -> list[text.Parsed]:
    return [text.parse(*data.text(i)[:2]) for i in range(len(data))]


# Several tests read the same suites (every generated one three times), and none changes one: each
# is built and parsed once per session. test_suite_is_built_identically_every_time builds its own.
@functools.cache
def built(name: str) -> Dataset:
    return suites.build(name)


@functools.cache
def parsed(name: str) -> tuple[text.Parsed, ...]:
    return tuple(parsed_rows(built(name)))


def in_chain_order(edges) -> bool:
    return all(edges[j][1] == edges[j + 1][0] for j in range(len(edges) - 1))


def last_edge_first(edges) -> bool:
    return all(edges[j][0] == edges[j + 1][1] for j in range(len(edges) - 1))


def sentences_follow_chain(edges) -> bool:
    """Sentence j joins chain positions j and j+1, whatever each edge's direction."""
    sequence = chain_of(edges)
    if sequence[0] not in edges[0]:
        sequence.reverse()
    position = {v: i for i, v in enumerate(sequence)}
    return [sorted(position[v] for v in e) for e in edges] == [[j, j + 1] for j in range(len(edges))]


def chain_of(edges) -> list[str]:
    """The chain's node sequence, whatever order the sentences come in (it must be a path)."""
    graph = nx.Graph(edges)
    ends = [v for v in graph if graph.degree(v) == 1]
    assert nx.is_connected(graph) and len(ends) == 2 and graph.number_of_edges() == len(graph) - 1
    return nx.shortest_path(graph, *sorted(ends))


# ---------------------------------------------------------------- generated suites

def test_suite_names():
    assert len(ALL_GENERATED) == 62 == len(set(ALL_GENERATED))
    assert "flipped_chain/len=9" in ALL_GENERATED and "branching_bf1.4/n=12" in ALL_GENERATED
    assert suites.split_name("flipped_chain/len=9") == ("flipped_chain", 9)
    assert suites.split_name("branching_bf2.0/n=5") == ("branching_bf2.0", 5)


@pytest.mark.parametrize("name", ALL_GENERATED)
def test_generated_suite_composition(name):
    family_name, size = suites.split_name(name)
    family = suites.FAMILIES[family_name]
    data = built(name)
    assert len(data) == suites.DEFAULT_ITEMS == 500
    assert int(data.labels.sum()) == 250
    assert (data.nodes == size).all()

    rows = parsed(name)
    lo, hi = family.name_length
    name_lengths = [len(v) for p in rows for edge in p.edges for v in edge]
    assert lo <= min(name_lengths) and max(name_lengths) <= hi
    if family_name == "name_shift":
        assert (lo, hi) == (4, 10) and min(name_lengths) == 4 and max(name_lengths) == 10
    else:
        assert (lo, hi) == (1, 3)

    for p, label in zip(rows, data.labels):
        graph = nx.DiGraph(p.edges)
        graph.add_nodes_from([p.x, p.y])
        assert bool(label) == nx.has_path(graph, p.x, p.y)
        if family.structure == "dag":
            assert len(p.edges) == int(family.edges_per_node * size)
            assert nx.is_directed_acyclic_graph(graph) and len(graph) <= size
            continue
        assert len(p.edges) == size - 1 and len(chain_of(p.edges)) == size  # distinct names
        if family.order == "reversed":
            assert last_edge_first(p.edges) and not in_chain_order(p.edges)
        elif family.order == "shuffled":
            # flipped chains: test_shuffled_flipped_suites_leave_chain_order
            assert family.structure == "flipped" or not in_chain_order(p.edges)
        else:
            assert sentences_follow_chain(p.edges)
            if family.structure == "sequential":
                assert in_chain_order(p.edges)
        if family.structure == "sequential":
            sequence = chain_of(p.edges)
            assert all(graph.has_edge(a, b) for a, b in zip(sequence, sequence[1:])) or \
                all(graph.has_edge(b, a) for a, b in zip(sequence, sequence[1:]))


def test_shuffled_flipped_suites_leave_chain_order():
    # The generator never keeps the chain order; from 4 nodes on, most orders follow neither end
    # (3 nodes have one other order: the chain read from its other end).
    for size in (4, 5, 6):
        rows = parsed(f"shuffled_flipped_chain/len={size}")
        assert sum(not sentences_follow_chain(p.edges) for p in rows) > 0.6 * len(rows)


def test_flipped_suites_flip_about_half_the_edges():
    flips = total = 0
    for size in (9, 15, 50):
        for p in parsed(f"flipped_chain/len={size}"):
            assert sentences_follow_chain(p.edges)
            sequence = chain_of(p.edges)
            if sequence[0] not in p.edges[0]:
                sequence.reverse()
            position = {v: i for i, v in enumerate(sequence)}
            backward = [position[a] > position[b] for a, b in p.edges]
            flips += sum(backward)
            total += len(backward)
    assert 0.45 < flips / total < 0.55


def test_balanced_suites_are_balanced_in_categories():
    for name in ("standard_chain/len=12", "flipped_chain/len=12", "branching_bf1.4/n=8"):
        counts = np.bincount(built(name).categories, minlength=4)
        assert counts[0] == counts[1] == 125  # direct == multi-hop among Yes
        if name.startswith("standard"):
            assert counts.tolist() == [125, 125, 250, 0]  # a chain has no unrelated pairs
        else:
            assert counts[2] == counts[3] == 125


def test_suite_is_built_identically_every_time():
    for name in ("flipped_chain/len=20", "shuffled_chain/len=5", "branching_bf2.0/n=10"):
        np.random.seed(0)
        first = suites.build(name)
        np.random.seed(123)
        second = suites.build(name)
        for field in ("tokens", "lengths", "labels", "categories", "nodes"):
            assert getattr(first, field).tobytes() == getattr(second, field).tobytes(), (name, field)
    # Different names give different items (the seed is derived from the name).
    a, b = suites.build("shuffled_chain/len=7"), suites.build("name_shift/len=7")
    assert not set(a.row_keys()) & set(b.row_keys())


def test_suite_through_the_store_matches_and_has_baselines(tmp_path):
    store = Store(root=tmp_path / "cache")
    data, manifest = store.suite("reversed_chain/len=4")
    assert data.tokens.tobytes() == suites.build("reversed_chain/len=4").tokens.tobytes()
    assert manifest["counts"]["n"] == 500 and manifest["counts"]["yes"] == 250
    assert manifest["baselines"] == baselines.score(data)
    assert manifest["baselines"]["direct_edge"] == pytest.approx(0.75)
    assert manifest["baselines"]["mention_order"] < 0.3  # stated backwards: mention order misleads


def test_shortcuts_on_generated_suites():
    shuffled = baselines.score(built("shuffled_chain/len=9"))
    assert shuffled["mention_order"] < 0.65
    standard = baselines.score(built("standard_chain/len=9"))
    assert standard["mention_order"] == 1.0  # why shuffled and flipped suites exist
    for name in ("flipped_chain/len=9", "branching_bf1.4/n=10", "shuffled_chain/len=9"):
        assert baselines.score(built(name))["direct_edge"] == pytest.approx(0.75)


@pytest.mark.parametrize("name", [
    "nope/len=3", "flipped_chain/len=99", "flipped_chain/n=9", "branching_bf1.4/len=5",
    "flipped_chain", "flipped_chain/len=x", "published/transitivity/nope/len=3",
])
def test_unknown_suites_raise(name):
    with pytest.raises(ValueError, match="unknown suite|suite name must look like"):
        suites.build(name)


def test_expand_selectors():
    assert suites.expand(["flipped_chain/*"]) == [f"flipped_chain/len={n}" for n in suites.LONG_CHAINS]
    assert suites.expand(["reversed_chain/", "reversed_chain/len=3"]) == \
        [f"reversed_chain/len={n}" for n in (3, 4, 5, 6)]
    with pytest.raises(ValueError, match="unknown suite"):
        suites.expand(["nothing/*"])


# ---------------------------------------------------------------- published files

def test_published_files_are_listed_and_read(published_dir):
    files = suites.published_files(published_dir)
    index = json.loads((published_dir / "index.json").read_text())
    assert len(files) == len(index) == 47  # 34 transitivity + 13 d-separation files
    assert set(files) <= set(suites.all_names(published_dir))
    for entry in index:
        axiom, family = entry["suite"].split("/", 1)
        key = "n" if family.startswith("branching") else "len"
        # Through the store (the session cache usually has them already); the store reads them
        # with suites.dataset_from_jsonl, which test_tokenizer checks line by line.
        data, manifest = Store(published=published_dir).suite(f"published/{axiom}/{family}/{key}={entry['size']}")
        assert len(data) == entry["n"] and int(data.labels.sum()) == entry["yes"]
        assert manifest["recipe"]["sha256"]  # keyed by the file's content, not its name


def test_published_dir_from_environment(published_dir, monkeypatch, tmp_path):
    monkeypatch.setenv(suites.PUBLISHED_ENV, str(tmp_path))
    assert suites.published_dir() == tmp_path
    assert suites.published_files(suites.published_dir()) == {}  # no index.json there
    assert suites.published_dir(published_dir) == published_dir  # an explicit argument wins


def published_scores(directory, family: str, key: str, size: int) -> dict:
    """baselines.score of a published file, as the store computed it when it cached the file."""
    return Store(published=directory).suite(f"published/transitivity/{family}/{key}={size}")[1]["baselines"]


def test_store_baselines_are_the_baselines_of_the_file(published_dir):
    name = "published/transitivity/flipped_chain/len=12"
    data, manifest = Store(published=published_dir).suite(name)
    assert manifest["baselines"] == baselines.score(suites.build(name, published_dir))


@pytest.mark.parametrize("size", range(7, 16))
def test_published_standard_chain_mention_order(published_dir, size):
    # len=10 holds items whose names repeat within a chain (cycles, see the files' README): there
    # the label and mention order part ways on 9 of 500 items.
    expected = 0.982 if size == 10 else 1.0
    assert published_scores(published_dir, "standard_chain", "len", size)["mention_order"] == \
        pytest.approx(expected, abs=1e-9)


def test_published_branching_direct_edge(published_dir):
    got = [published_scores(published_dir, "branching_bf1.4", "n", n)["direct_edge"] for n in (5, 8, 10, 12)]
    assert got == pytest.approx([0.916, 0.852, 0.844, 0.804], abs=1e-9)
    mention = [published_scores(published_dir, "branching_bf1.4", "n", n)["mention_order"] for n in (5, 8, 10, 12)]
    assert all(0.43 <= m <= 0.49 for m in mention)


def test_published_reversal(published_dir):
    scores = [published_scores(published_dir, "reversed_chain", "len", n) for n in (3, 4, 5, 6)]
    assert [s["mention_order"] for s in scores] == pytest.approx([0.336, 0.168, 0.100, 0.068], abs=1e-9)
    assert [s["direct_edge"] for s in scores] == pytest.approx([0.834, 0.75, 0.70, 0.666], abs=1e-9)


def test_published_flipped_chains(published_dir):
    for size in range(7, 16):
        scores = published_scores(published_dir, "flipped_chain", "len", size)
        assert 0.73 <= scores["direct_edge"] <= 0.81, size
        assert 0.43 <= scores["mention_order"] <= 0.56, size


def test_dseparation_files_have_no_transitivity_shortcuts(published_dir):
    scores = baselines.score(suites.build("published/dseparation/flipped_chain/len=9", published_dir))
    assert scores["mention_order"] is None and scores["direct_edge"] is None and scores["majority"] == 0.5
    assert all(scores[rule] is not None for rule in baselines.DSEPARATION_RULES)  # their own instead


# ---------------------------------------------------------------- JSONL reading errors

def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = '{"premise": "a causes b.", "hypothesis": "Does a cause b?", "label": "Yes"}'


def test_dataset_from_jsonl_good_file(tmp_path):
    path = write_lines(tmp_path / "ok.jsonl", [GOOD, "", '{"premise": "a causes b. b causes c.", '
                                               '"hypothesis": "Does c cause a?", "label": "No"}'])
    data = suites.dataset_from_jsonl(path)
    assert len(data) == 2 and data.labels.tolist() == [1, 0]
    assert data.text(1) == ("a causes b. b causes c.", "Does c cause a?", "No")


@pytest.mark.parametrize("bad_line, message", [
    ('{"premise": "a causes b.", "label": "Yes"}', "field 'hypothesis'"),
    ('{"hypothesis": "Does a cause b?", "label": "Yes"}', "field 'premise'"),
    ('{"premise": "a causes b.", "hypothesis": "Does a cause b?"}', "field 'label'"),
    ('{"premise": "a causes b.", "hypothesis": "Does a cause b?", "label": "yes"}', "field 'label'"),
    ('{"premise": "a causes b.", "hypothesis": "Does a cause b?", "label": "Maybe"}', "field 'label'"),
    ('{"premise": "a causes b.", "hypothesis": "Does a cause b?", "label": 1}', "field 'label'"),
    ('{"premise": "a causes b."', "not valid JSON"),
    ('["a causes b.", "Does a cause b?", "Yes"]', "expected an object"),
])
def test_dataset_from_jsonl_names_file_line_and_field(tmp_path, bad_line, message):
    path = write_lines(tmp_path / "bad.jsonl", [GOOD, bad_line, GOOD])
    with pytest.raises(ValueError) as err:
        suites.dataset_from_jsonl(path)
    assert f"{path}:2:" in str(err.value)
    assert message in str(err.value)


def test_dataset_from_jsonl_unparseable_sentence_names_the_record(tmp_path):
    path = write_lines(tmp_path / "grammar.jsonl", [
        GOOD, GOOD, '{"premise": "a causes b", "hypothesis": "Does a cause b?", "label": "Yes"}'])
    with pytest.raises(ValueError, match=r"grammar\.jsonl: record 3: premise must end with"):
        suites.dataset_from_jsonl(path)


def test_dataset_from_jsonl_empty_file(tmp_path):
    with pytest.raises(ValueError, match="no records"):
        suites.dataset_from_jsonl(write_lines(tmp_path / "empty.jsonl", [""]))


def test_shortcuts_on_token_arrays_equal_the_rules_on_the_parsed_text():
    # the vectorised rules must answer every row of every suite as the sentence-level rules do
    # (Corr2Cause suites have no rule: their questions are neither task's, see the next test)
    for name in [n for n in suites.all_names() if suites.task_of_suite(n) != "corr2cause"]:
        data, rows = built(name), parsed(name)
        fast = baselines.token_predictions(data)
        if any(p.question != "transitivity" for p in rows):
            assert fast is None, name
            continue
        assert fast is not None, name
        assert fast["mention_order"].tolist() == [baselines.mention_order(p) for p in rows], name
        assert fast["direct_edge"].tolist() == [baselines.direct_edge(p) for p in rows], name


def test_corr2cause_suites_score_the_majority_and_the_yes_share_only():
    for name in ("corr2cause_minimal/n=5", "corr2cause_natural/all"):
        data = built(name)
        assert baselines.token_predictions(data) is None and baselines.predictions(data) is None
        score = baselines.score(data)
        assert all(score[rule] is None for rule in baselines.NAMES if rule != "majority")
        assert score["yes_share"] == pytest.approx(data.labels.mean())
        assert score["majority"] == pytest.approx(max(data.labels.mean(), 1 - data.labels.mean()))


# ---------------------------------------------------------------- every name a question uses is stated

def names_missing_from_premise(premise: str, hypothesis: str) -> set[str]:
    """The names a hypothesis asks about that its premise never states."""
    if text.is_corr2cause(premise):
        parsed = text.parse_corr2cause(premise, hypothesis)
        stated = {name for _, x, y, given in parsed.statements for name in (x, y, *given)}
        return {parsed.first, parsed.second} - (stated | set(parsed.variables))
    parsed = text.parse(premise, hypothesis)
    return {parsed.x, parsed.y, *parsed.given} - {name for edge in parsed.edges for name in edge}


def assert_every_asked_name_is_stated(data: Dataset, source: str) -> None:
    missing = [(i, names) for i in range(len(data))
               if (names := names_missing_from_premise(*data.text(i)[:2]))]
    assert not missing, f"{source}: {len(missing)} rows ask about names their premise never states, " \
                        f"e.g. row {missing[0][0]}: {data.text(missing[0][0])}"


# the DAG families are where a node could lack an edge; Corr2Cause premises list every variable
# by construction, and its training sets below stand for it (its 7-8-variable suites take 20 s)
@pytest.mark.parametrize("name", suites.generated_names("transitivity") + suites.generated_names("dseparation"))
def test_every_suite_asks_only_about_stated_names(name):
    assert_every_asked_name_is_stated(built(name), name)


@pytest.mark.parametrize("section", [
    {"preset": "TS1", "size": 2000},
    {"task": "dseparation", "size": 3000, "dag_share": 1.0, "dag_nodes": [5, 12]},
    {"task": "dseparation", "size": 2000, "dag_share": 1.0, "dag_nodes": [8, 8], "edges_per_node": 0.875},
    {"task": "corr2cause", "nodes": [2, 5], "split": "all", "size": 1000},
])
def test_every_training_set_asks_only_about_stated_names(section):
    assert_every_asked_name_is_stated(tasks.generate(tasks.build_spec(section)), str(section))


def test_random_dags_put_every_node_on_an_edge():
    from axiomatic.data import graphs
    rng = np.random.default_rng(0)
    batch = graphs.random_dags(rng, 2000, 12, 11)  # the fewest edges: most raw draws leave a node out
    touched = batch.adjacency.any(axis=1) | batch.adjacency.any(axis=2)
    assert touched.all()
    assert (batch.adjacency.sum(axis=(1, 2)) == 11).all()
    with pytest.raises(ValueError, match="11 to 66 edges, asked 10"):
        graphs.random_dags(rng, 1, 12, 10)
