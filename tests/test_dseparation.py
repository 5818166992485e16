"""The d-separation axiom: labels against networkx, balance, determinism, suites, shortcuts.

Every row is read back as text (``Dataset.text`` + ``text.parse``) and networkx decides
d-separation, so a bug anywhere between graph, question and tokens shows up as a mismatch.
"""

import hashlib
import re

import networkx as nx
import numpy as np
import pytest
from pydantic import ValidationError

from axiomatic.data import baselines, mixtures, packing, suites, text
from axiomatic.data.axioms import corr2cause, dseparation
from axiomatic.data.axioms.dseparation import DSeparationSpec
from axiomatic.data.dataset import Dataset

ARRAYS = ("tokens", "lengths", "labels", "categories", "nodes")
CHAIN_SUITES = [f"dseparation/flipped_chain/len={n}" for n in range(7, 16)]
DAG_SUITES = [f"dseparation/branching_bf1.4/n={n}" for n in (5, 8, 10, 12)]
HYPOTHESIS = re.compile(r"^Are (\w+) and (\w+) d-separated(?: given \{(\w+(?:, \w+)*)\})?\?$")
# rows of every kind: sequential, flipped and reversed chains, some shuffled, and DAGs
MIXED = DSeparationSpec(size=1500, seed=4, perturbation=2.0, shuffle_share=0.3, dag_share=0.3)


def read_back(data: Dataset, i: int) -> tuple[nx.DiGraph, text.Parsed, bool]:
    premise, hypothesis, label = data.text(i)
    assert HYPOTHESIS.match(hypothesis), hypothesis  # the published files' exact form
    parsed = text.parse(premise, hypothesis)
    graph = nx.DiGraph(parsed.edges)
    graph.add_nodes_from([parsed.x, parsed.y, *parsed.given])  # a DAG's node may have no edge
    return graph, parsed, label == "Yes"


def assert_rows_are_d_separation(data: Dataset) -> None:
    for i in range(len(data)):
        graph, p, label = read_back(data, i)
        assert p.x != p.y and p.x not in p.given and p.y not in p.given, p
        assert len(set(p.given)) == len(p.given) == data.categories[i], p
        # written in name order, as the published files are
        assert p.x < p.y and list(p.given) == sorted(p.given), p
        if len(p.edges) == data.nodes[i] - 1:  # a chain: distinct names, so every node reads back
            assert graph.number_of_nodes() == data.nodes[i], p
        assert graph.number_of_nodes() <= data.nodes[i]
        assert label == nx.is_d_separator(graph, {p.x}, {p.y}, set(p.given)), (data.text(i))


def digest(data: Dataset) -> str:
    h = hashlib.sha256()
    for name in ARRAYS:
        h.update(getattr(data, name).tobytes())
    return h.hexdigest()


def per_size(data: Dataset) -> dict[int, tuple[int, int]]:
    """Set size -> (rows, Yes rows)."""
    return {int(s): (int((data.categories == s).sum()), int(data.labels[data.categories == s].sum()))
            for s in np.unique(data.categories)}


# ---------------------------------------------------------------- generated rows

def test_labels_equal_networkx_d_separation():
    data = dseparation.generate(MIXED)
    assert len(data) == 1500 and data.categories.dtype == np.uint8
    assert_rows_are_d_separation(data)


def test_several_questions_per_premise_share_its_names_and_pack_into_one_row():
    spec = MIXED.model_copy(update={"questions_per_premise": 4, "size": 1498})
    data = dseparation.generate(spec)
    assert len(data) == 1498
    assert_rows_are_d_separation(data)
    groups = packing.premise_groups(data)
    assert np.bincount(groups).max() == 4 and len(np.unique(groups)) == 375  # ceil(1498 / 4)
    rows = packing.by_premise(data, 4)
    assert len(rows) == 375 and (rows.labels != packing.ABSENT).sum() == 1498
    assert abs(data.labels.mean() - 0.5) < 0.02
    # one question per premise is what it was: the k = 1 bytes do not move
    assert digest(dseparation.generate(MIXED)) == digest(dseparation.generate(
        MIXED.model_copy(update={"questions_per_premise": 1})))


def test_labels_balanced_within_every_set_size():
    data = dseparation.generate(dseparation.preset("DSEP", size=6000, seed=1))
    assert int(data.labels.sum()) == 3000
    for size, (rows, yes) in per_size(data).items():
        assert abs(2 * yes - rows) <= 1, (size, rows, yes)
    # sizes spread evenly over 0..min(4, nodes - 2) within every group (5 and 6 nodes: chains
    # and DAGs, two groups, each off by at most one)
    for n in np.unique(data.nodes):
        counts = np.bincount(data.categories[data.nodes == n])
        assert counts.size == min(4, n - 2) + 1 and counts.max() - counts.min() <= 2, (n, counts)
    assert set(np.unique(data.nodes)) == {3, 4, 5, 6, 7, 8}


def test_a_size_without_yes_hands_its_share_to_the_others():
    # sequential chains only: no collider, so no pair is d-separated by the empty set
    data = dseparation.generate(DSeparationSpec(size=2000, perturbation=0.0, seed=2))
    sizes = per_size(data)
    assert sizes[0][1] == 0
    assert int(data.labels.sum()) == 1000  # still half Yes: the other sizes took the Yes
    assert all(2 * yes > rows for size, (rows, yes) in sizes.items() if size > 0)


def test_unbalanced_keeps_half_yes_but_not_per_size():
    data = dseparation.generate(DSeparationSpec(size=3000, balance=False, seed=3))
    assert int(data.labels.sum()) == 1500
    shares = [yes / rows for rows, yes in per_size(data).values()]
    assert shares[0] < 0.4 and shares[-1] > 0.7  # larger sets carry most Yes
    assert baselines.score(data)["nonempty_given"] > 0.55


def test_same_spec_same_bytes_and_seed_matters():
    np.random.seed(0)
    first = dseparation.generate(MIXED)
    np.random.seed(1)
    assert digest(first) == digest(dseparation.generate(MIXED))
    other = dseparation.generate(MIXED.model_copy(update={"seed": 5}))
    assert digest(other) != digest(first) and set(other.row_keys()) != set(first.row_keys())


def test_spec_digest_and_presets():
    dsep = dseparation.preset("DSEP")
    assert dsep.size == 175_000 and dsep.dag_share == 0.25
    assert dsep.digest() == DSeparationSpec(dag_share=0.25, shares=dseparation.FLIPPED_ONLY).digest()
    assert dsep.digest() != dseparation.preset("DSEP", seed=1).digest()
    canonical = dsep.canonical()
    assert canonical["generator"] == "dseparation-2" and canonical["task"] == "dseparation"
    assert canonical["shares"] == {"sequential": 0.0, "flipped": 1.0, "reversed": 0.0}
    assert set(DSeparationSpec.model_fields) - {"perturbation", "shares"} <= set(canonical)
    assert DSeparationSpec(perturbation=1.0).resolved_shares() == mixtures.shares_at(1.0)
    with pytest.raises(ValueError, match="unknown preset 'TS2'"):
        dseparation.preset("TS2")


@pytest.mark.parametrize("fields, field", [
    ({"chain_lengths": (2, 5)}, "chain_lengths"),
    ({"dag_nodes": (6, 5)}, "dag_nodes"),
    ({"edges_per_node": 3.0}, "edges_per_node"),  # 5 nodes hold at most 10 edges, not 15
    ({"max_given": 9}, "max_given"),
    ({"dag_share": 1.5}, "dag_share"),
    ({"questions_per_premise": 0}, "questions_per_premise"),
    ({"alphabet": "ab-"}, "alphabet"),
    ({"task": "transitivity"}, "task"),
    ({"colour": "blue"}, "colour"),
    ({"perturbation": 1.0, "shares": {"sequential": 1, "flipped": 0, "reversed": 0}},
     "either 'perturbation' or 'shares'"),
])
def test_bad_specs_name_the_field(fields, field):
    with pytest.raises(ValidationError) as err:
        DSeparationSpec(**fields)
    assert field in str(err.value)


# ---------------------------------------------------------------- suites

def test_generated_suites_are_named_and_built():
    assert suites.generated_names("dseparation") == CHAIN_SUITES + DAG_SUITES
    for name in CHAIN_SUITES + DAG_SUITES:
        data = suites.build(name)
        assert len(data) == 500 and int(data.labels.sum()) == 250, name
        assert (data.nodes == suites.split_name(name)[1]).all()
        counts = np.bincount(data.categories)
        assert counts.tolist() == ([125] * 4 if name.endswith("n=5") else [100] * 5), name
        assert suites.task_of_suite(name) == "dseparation"
    assert digest(suites.build(CHAIN_SUITES[0])) == digest(suites.build(CHAIN_SUITES[0]))


@pytest.mark.parametrize("name", ["dseparation/flipped_chain/len=9", "dseparation/flipped_chain/len=15",
                                  "dseparation/branching_bf1.4/n=5", "dseparation/branching_bf1.4/n=12"])
def test_suite_labels_equal_networkx(name):
    data = suites.build(name)
    assert_rows_are_d_separation(data)
    size = suites.split_name(name)[1]
    for i in range(0, len(data), 25):
        graph, p, _ = read_back(data, i)
        if "chain" in name:  # a chain of distinct names, sentence j joining positions j, j+1
            assert nx.is_tree(graph.to_undirected()) and graph.number_of_nodes() == size
            assert all(set(a) & set(b) for a, b in zip(p.edges, p.edges[1:]))
        else:
            assert len(p.edges) == int(1.4 * size) and nx.is_directed_acyclic_graph(graph)


def test_transitivity_suites_keep_their_names_and_bytes():
    # 54 names, and 4 + 4 since the held-out training-length families
    assert len(suites.generated_names()) == 62
    new_families = ("flipped_chain_short/", "shuffled_flipped_chain/")
    assert len([n for n in suites.generated_names() if n.startswith(new_families)]) == 8
    assert not [n for n in suites.generated_names() if n.startswith("dseparation")]
    built = [suites.build(name) for name in ("standard_chain/len=7", "flipped_chain/len=12",
                                             "shuffled_chain/len=5", "branching_bf1.4/n=8")]
    built.append(mixtures.generate(mixtures.preset("TS1", size=2000, seed=5)))
    h = hashlib.sha256()  # the chains' bytes predate the d-separation task; suites-3 redrew the
    for data in built:   # DAGs that left a node without an edge (branching n=8 here)
        for field in ARRAYS:
            h.update(getattr(data, field).tobytes())
    assert h.hexdigest() == "323d923170ffa06531b8a44aa73e108be402927a83bd8b15bbec42c97c9db512"


def test_task_suites(published_dir):
    published = list(suites.published_files(published_dir))
    # what all_names returned before d-separation had suites, and since the held-out
    # training-length suites (a training set is checked against them too, so its cache key moved)
    transitivity = suites.task_suites("transitivity", published_dir)
    assert transitivity == suites.generated_names() + published and len(transitivity) == 109
    dsep = suites.task_suites("dseparation", published_dir)
    published_dsep = [n for n in published if n.startswith("published/dseparation/")]
    assert dsep == CHAIN_SUITES + DAG_SUITES + published_dsep
    assert len(dsep) == 26
    c2c = suites.task_suites("corr2cause", published_dir)
    assert c2c == corr2cause.suite_names()  # no published Corr2Cause files in the project's format
    everything = suites.generated_names() + CHAIN_SUITES + DAG_SUITES + c2c + published
    assert suites.all_names(published_dir) == everything
    assert suites.task_of_suite("corr2cause_minimal/n=5") == "corr2cause"
    assert suites.task_of_suite("published/dseparation/flipped_chain/len=7") == "dseparation"
    assert suites.task_of_suite("flipped_chain/len=7") == "transitivity"


def test_selectors_and_unknown_names():
    assert suites.expand(["dseparation/*"]) == CHAIN_SUITES + DAG_SUITES
    assert suites.expand(["dseparation/branching_bf1.4/"]) == DAG_SUITES
    assert not [n for n in suites.expand(["flipped_chain/*"]) if n.startswith("dseparation")]
    for bad in ("dseparation/flipped_chain/len=20", "dseparation/branching_bf2.0/n=5"):
        with pytest.raises(ValueError, match=r"unknown suite .*dseparation/flipped_chain/len=\(7"):
            suites.build(bad)
        with pytest.raises(ValueError, match="unknown suite"):
            suites.task_of_suite(bad)


# ---------------------------------------------------------------- shortcut baselines

def independent_rules(graph: nx.DiGraph, p: text.Parsed) -> dict[str, bool]:
    """The d-separation shortcuts, computed from the graph (and the premise order) anew."""
    mentioned = list(dict.fromkeys(v for edge in p.edges for v in edge))
    place = {v: mentioned.index(v) if v in mentioned else len(mentioned) + 1 for v in graph}
    low, high = sorted((place[p.x], place[p.y]))
    skeleton = graph.to_undirected()
    skeleton.remove_nodes_from(p.given)
    return {
        "no_edge": not (graph.has_edge(p.x, p.y) or graph.has_edge(p.y, p.x)),
        "blocked_between": any(low < place[z] < high for z in p.given),
        "nonempty_given": bool(p.given),
        "skeleton_cut": not nx.has_path(skeleton, p.x, p.y),
    }


@pytest.mark.parametrize("name", ["dseparation/flipped_chain/len=8", "dseparation/branching_bf1.4/n=10"])
def test_rules_answer_as_computed_independently(name):
    data = suites.build(name)
    rules = baselines.predictions(data)
    assert set(rules) == set(baselines.DSEPARATION_RULES)
    rows = [read_back(data, i) for i in range(len(data))]
    expected = [independent_rules(graph, p) for graph, p, _ in rows]
    for rule in baselines.DSEPARATION_RULES:
        assert rules[rule].tolist() == [e[rule] for e in expected], rule
    adjacent = ~rules["no_edge"]
    assert adjacent.any() and not data.labels[adjacent].any()  # adjacent pairs: always No, and right
    score = baselines.score(data)
    assert score["no_edge"] == pytest.approx(0.5 + adjacent.mean())  # every Yes is non-adjacent
    assert score["nonempty_given"] == 0.5  # balanced within every set size
    assert score["mention_order"] is None and score["direct_edge"] is None
    assert set(score) == {*baselines.NAMES, "yes_share"}


def test_rules_on_hand_written_premises():
    def answers(premise: str, hypothesis: str) -> dict[str, bool]:
        parsed = text.parse(premise, hypothesis)
        return {rule: baselines.RULES[rule](parsed) for rule in baselines.DSEPARATION_RULES}

    # a collider B, given: d-connected (No), but every chain-reading rule says Yes
    assert answers("A causes B. C causes B.", "Are A and C d-separated given {B}?") == \
        {"no_edge": True, "blocked_between": True, "nonempty_given": True, "skeleton_cut": True}
    # the same collider, not given: d-separated (Yes), and the chain readings say No
    assert answers("A causes B. C causes B.", "Are A and C d-separated?") == \
        {"no_edge": True, "blocked_between": False, "nonempty_given": False, "skeleton_cut": False}
    # mention order and the graph part ways: D is mentioned between A and C but lies off the path
    found = answers("A causes D. B causes C. A causes B.", "Are A and C d-separated given {D}?")
    assert found == {"no_edge": True, "blocked_between": True, "nonempty_given": True, "skeleton_cut": False}
    assert answers("A causes B.", "Are B and A d-separated given {C}?")["no_edge"] is False


def test_transitivity_scores_keep_their_values():
    data = suites.build("reversed_chain/len=4")
    score = baselines.score(data)
    assert score["direct_edge"] == pytest.approx(0.75) and score["mention_order"] < 0.3
    assert all(score[rule] is None for rule in baselines.DSEPARATION_RULES)
    mixed = Dataset.concat([data, suites.build(CHAIN_SUITES[0])])  # two tasks' questions: no rule
    assert baselines.predictions(mixed) is None


def test_published_dseparation_shortcuts(published_dir):
    def score(family, key, size):
        return baselines.score(suites.build(f"published/dseparation/{family}/{key}={size}", published_dir))

    # one chain per file, stated in chain order: reading it as a chain answers everything
    for size in (14, 15):
        assert score("flipped_chain", "len", size)["blocked_between"] == 1.0
    assert score("flipped_chain", "len", 10)["no_edge"] == 1.0  # every No there is an adjacent pair
    branching = [score("branching_bf1.4", "n", n) for n in (5, 8, 10, 12)]
    assert [s["no_edge"] for s in branching] == pytest.approx([0.894, 0.762, 0.746, 0.698], abs=1e-9)
    assert all(0.49 <= s["nonempty_given"] <= 0.53 and s["mention_order"] is None for s in branching)


def test_given_set_sizes_read_from_tokens_match_the_generated_ones(published_dir):
    from axiomatic.data import tasks

    data = suites.build("dseparation/branching_bf1.4/n=8")
    assert (dseparation.given_sizes(data.tokens, data.lengths) == data.categories).all()
    published = suites.build("published/dseparation/flipped_chain/len=7", published_dir)
    codes, names = tasks.row_categories(published)
    for i in range(0, len(published), 25):
        match = HYPOTHESIS.match(published.text(i)[1])
        assert codes[i] == (len(match.group(3).split(", ")) if match.group(3) else 0)
    assert names == dseparation.CATEGORY_NAMES and set(codes) == {0, 1, 2, 3, 4}
