"""Training data: determinism, labels against networkx, category balance, shortcuts, the store.

Labels are checked against an independent reference: the decoded premise text is parsed back and
networkx decides reachability, so a bug anywhere between graph and tokens shows up as a mismatch.
"""

import hashlib
import multiprocessing
import os

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from axiomatic.data import baselines, graphs, mixtures, suites, text
from axiomatic.data.axioms import transitivity
from axiomatic.data.dataset import Dataset
from axiomatic.data.mixtures import DataSpec
from axiomatic.data.store import Store

ARRAYS = ("tokens", "lengths", "labels", "categories", "nodes")
SMALL_SUITE = "reversed_chain/len=3"


def category_counts(data: Dataset) -> dict[str, int]:
    counts = np.bincount(data.categories, minlength=len(graphs.CATEGORY_NAMES))
    return dict(zip(graphs.CATEGORY_NAMES, counts.tolist()))


def premise_graph(premise: str, hypothesis: str) -> tuple[nx.DiGraph, text.Parsed]:
    parsed = text.parse(premise, hypothesis)
    return nx.DiGraph(parsed.edges), parsed


def assert_rows_match_networkx(data: Dataset, rows=None, connected: bool = True) -> None:
    """Label = reachability, category = why, names distinct, node count right, for every row.

    ``connected=False`` for random DAGs, where a node may have no edge and so never appear in the
    premise (the published branching files have such nodes too); the question may still name it.
    """
    for i in range(len(data)) if rows is None else rows:
        premise, hypothesis, label = data.text(i)
        graph, parsed = premise_graph(premise, hypothesis)
        x, y = parsed.x, parsed.y
        assert x != y, (premise, hypothesis)
        if connected:
            # Distinct names: the number of names read back equals the generator's node count.
            assert x in graph and y in graph, (premise, hypothesis)
            assert graph.number_of_nodes() == data.nodes[i], premise
        else:
            graph.add_nodes_from([x, y])
            assert graph.number_of_nodes() <= data.nodes[i], premise
        reach = nx.has_path(graph, x, y)
        assert (label == "Yes") == reach, (premise, hypothesis, label)
        category = graphs.CATEGORY_NAMES[data.categories[i]]
        if graph.has_edge(x, y):
            assert category == "yes_direct"
        elif reach:
            assert category == "yes_multihop"
        elif nx.has_path(graph, y, x):
            assert category == "no_reverse"
        else:
            assert category == "no_unrelated"


def array_digest(data: Dataset) -> str:
    h = hashlib.sha256()
    for name in ARRAYS:
        array = getattr(data, name)
        h.update(str(array.shape).encode() + str(array.dtype).encode() + array.tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------- determinism

def test_same_seed_gives_identical_bytes():
    spec = mixtures.preset("TS2", size=3000, seed=7)
    first, second = mixtures.generate(spec), mixtures.generate(spec)
    for name in ARRAYS:
        a, b = getattr(first, name), getattr(second, name)
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), name
    assert first.tokens.dtype == np.uint8 and first.labels.dtype == np.uint8


def test_global_numpy_state_does_not_matter():
    spec = mixtures.preset("TS1", size=500, seed=3)
    np.random.seed(1)
    first = mixtures.generate(spec)
    np.random.seed(2)
    np.random.random(100)
    assert array_digest(first) == array_digest(mixtures.generate(spec))


def test_different_seed_differs():
    a = mixtures.generate(mixtures.preset("TS2", size=3000, seed=1))
    b = mixtures.generate(mixtures.preset("TS2", size=3000, seed=2))
    assert array_digest(a) != array_digest(b)
    assert set(a.row_keys()) != set(b.row_keys())


def test_spec_digest_is_canonical():
    ts2 = mixtures.preset("TS2")
    # The same mixture written three ways is the same recipe (and the same cached arrays).
    assert ts2.digest() == DataSpec().digest() == DataSpec(shares=mixtures.shares_at(1.0)).digest()
    assert ts2.digest() != mixtures.preset("TS2", seed=1).digest()
    assert ts2.digest() != mixtures.preset("TS1").digest()
    assert len(ts2.digest()) == 64


def test_hop_balance_off_keeps_the_digest_and_on_changes_it():
    assert DataSpec(hop_balance=False).digest() == DataSpec().digest()
    assert "hop_balance" not in DataSpec().canonical()
    assert DataSpec(hop_balance=True).digest() != DataSpec().digest()


# ---------------------------------------------------------------- labels are reachability

@settings(max_examples=25, deadline=None)
@given(
    lo=st.integers(2, 8), span=st.integers(0, 3), flip_prob=st.floats(0, 1),
    perturbation=st.floats(0, 3), shuffle_share=st.floats(0, 1), k=st.integers(1, 4),
    balance=st.booleans(), size=st.integers(1, 150), seed=st.integers(0, 2**32 - 1),
    name_length=st.sampled_from([(1, 1), (1, 3), (2, 5)]), hop_balance=st.booleans(),
)
def test_labels_equal_networkx_reachability(lo, span, flip_prob, perturbation, shuffle_share, k,
                                            balance, size, seed, name_length, hop_balance):
    k = min(k, lo - 1)
    spec = DataSpec(size=size, seed=seed, chain_lengths=(lo, lo + span), flip_prob=flip_prob,
                    perturbation=perturbation, shuffle_share=shuffle_share,
                    hypotheses_per_premise=k, balance=balance, name_length=name_length,
                    hop_balance=hop_balance)
    data = mixtures.generate(spec)
    assert len(data) == size
    assert set(np.unique(data.nodes)) <= set(range(lo, lo + span + 1))
    yes = int(data.labels.sum())
    # Half Yes over premises x k; trimming to `size` drops fewer than k rows.
    assert abs(2 * yes - size) <= k
    assert_rows_match_networkx(data)


@settings(max_examples=25, deadline=None)
@given(
    nodes=st.integers(3, 12), edge_fraction=st.floats(0, 1), count=st.integers(1, 40),
    shuffle=st.booleans(), seed=st.integers(0, 2**32 - 1),
)
def test_branching_labels_equal_networkx_reachability(nodes, edge_fraction, count, shuffle, seed):
    rng = np.random.default_rng(seed)
    max_edges = nodes * (nodes - 1) // 2
    # every node on an edge (graphs.random_dags), so at least n - 1 edges
    n_edges = max(graphs.min_dag_edges(nodes), round(edge_fraction * max_edges))
    batch = graphs.random_dags(rng, count, nodes, n_edges)
    if shuffle:
        batch = graphs.shuffle_order(rng, batch)
    data = transitivity.generate(rng, [transitivity.Group(batch, (1, 3))], mixtures.ALPHANUMERICS)
    assert len(data) == count
    assert int(data.labels.sum()) == count // 2
    for i in range(count):
        graph, _ = premise_graph(*data.text(i)[:2])
        assert graph.number_of_edges() == n_edges and nx.is_directed_acyclic_graph(graph)
    assert_rows_match_networkx(data, connected=False)


@settings(max_examples=25, deadline=None)
@given(nodes=st.integers(3, 7), k=st.integers(1, 6), count=st.integers(1, 30),
       flip_prob=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_hypotheses_of_one_premise_are_distinct(nodes, k, count, flip_prob, seed):
    k = min(k, nodes - 1)
    rng = np.random.default_rng(seed)
    batch = graphs.chains(rng.random((count, nodes - 1)) < flip_prob)
    data = transitivity.generate(rng, [transitivity.Group(batch, (1, 3))], mixtures.ALPHANUMERICS,
                                 hypotheses_per_premise=k)
    assert len(data) == count * k
    for p in range(count):
        texts = [data.text(p * k + j) for j in range(k)]
        assert len({premise for premise, _, _ in texts}) == 1  # rows p*k .. p*k+k-1 share a premise
        assert len({hypothesis for _, hypothesis, _ in texts}) == k
    assert_rows_match_networkx(data)


# ---------------------------------------------------------------- balance

def unrelated_available(data: Dataset, i: int) -> bool:
    """Does row i's premise have a pair joined by no directed path either way?"""
    graph, _ = premise_graph(*data.text(i)[:2])
    closure = nx.transitive_closure_dag(graph)
    n = graph.number_of_nodes()
    return closure.number_of_edges() < n * (n - 1) // 2


def multihop_available(data: Dataset, i: int) -> bool:
    graph, _ = premise_graph(*data.text(i)[:2])
    return nx.transitive_closure_dag(graph).number_of_edges() > graph.number_of_edges()


def test_ts2_is_balanced_as_far_as_structures_allow():
    data = mixtures.generate(mixtures.preset("TS2", size=4000, seed=11))
    counts = category_counts(data)
    yes, no = int(data.labels.sum()), len(data) - int(data.labels.sum())
    assert yes == no == 2000
    assert counts["yes_direct"] == counts["yes_multihop"] == 1000
    # Only flipped chains with a fork or collider have unrelated pairs; every No item whose
    # premise has one is a candidate, and the generator takes half of No or all candidates.
    no_rows = np.flatnonzero(data.labels == 0)
    candidates = sum(unrelated_available(data, i) for i in no_rows)
    assert counts["no_unrelated"] == min(no // 2, candidates)
    assert counts["no_unrelated"] + counts["no_reverse"] == no
    assert counts["no_unrelated"] > 0.15 * no  # TS2's flipped share (about 24 %) provides plenty


def test_all_flipped_long_chains_give_half_unrelated():
    spec = DataSpec(size=4000, seed=5, chain_lengths=(5, 6),
                    shares={"sequential": 0, "flipped": 1, "reversed": 0})
    counts = category_counts(mixtures.generate(spec))
    assert counts == {"yes_direct": 1000, "yes_multihop": 1000, "no_reverse": 1000, "no_unrelated": 1000}


def test_multihop_capped_by_what_premises_hold():
    # 3-node flipped chains: a fork or a collider has no multi-hop pair at all.
    spec = DataSpec(size=3000, seed=2, chain_lengths=(3, 3), flip_prob=0.5,
                    shares={"sequential": 0, "flipped": 1, "reversed": 0})
    data = mixtures.generate(spec)
    counts = category_counts(data)
    yes_rows = np.flatnonzero(data.labels == 1)
    candidates = sum(multihop_available(data, i) for i in yes_rows)
    assert counts["yes_multihop"] == min(len(yes_rows) // 2, candidates) < len(yes_rows) // 2
    assert counts["yes_direct"] + counts["yes_multihop"] == len(yes_rows)


@pytest.mark.parametrize("k", [2, 3])
def test_balance_holds_with_several_hypotheses_per_premise(k):
    # The k hypotheses of a premise share its pairs: a 3-node chain has one multi-hop pair, so
    # two Yes items of one premise cannot both be multi-hop. The generator must place the
    # multi-hop and unrelated items on premises that still have such pairs.
    short = DataSpec(size=4000, seed=4, chain_lengths=(3, 3), hypotheses_per_premise=2, perturbation=0)
    counts = category_counts(mixtures.generate(short))
    assert counts["yes_direct"] == counts["yes_multihop"] == 1000

    flipped = DataSpec(size=6000, seed=4, chain_lengths=(5, 6), hypotheses_per_premise=k,
                       shares={"sequential": 0, "flipped": 1, "reversed": 0})
    counts = category_counts(mixtures.generate(flipped))
    assert counts == {"yes_direct": 1500, "yes_multihop": 1500, "no_reverse": 1500, "no_unrelated": 1500}

    mixed = DataSpec(size=6000, seed=4, chain_lengths=(4, 6), hypotheses_per_premise=k,
                     shares={"sequential": 0.5, "flipped": 0.5, "reversed": 0})
    data = mixtures.generate(mixed)
    counts = category_counts(data)
    assert counts["yes_direct"] == counts["yes_multihop"] == 1500
    assert 0 < counts["no_unrelated"] < counts["no_reverse"]  # sequential chains have none
    assert_rows_match_networkx(data, rows=range(0, 6000, 50))


def test_occ_has_no_unrelated_items():
    # In a sequential chain every two nodes are joined by a directed path one way or the other,
    # so a pair that is not a Yes is always a reversed path: OCC's No items are all no_reverse.
    data = mixtures.generate(mixtures.preset("OCC", size=3000, seed=1))
    counts = category_counts(data)
    assert counts["no_unrelated"] == 0
    assert counts["no_reverse"] == 1500
    assert counts["yes_direct"] == counts["yes_multihop"] == 750


def test_unbalanced_is_plain_uniform_sampling():
    # balance=False samples a pair uniformly among those with the drawn label. On a sequential
    # chain of n nodes, n-1 of the n(n-1)/2 reachable pairs are direct edges: a share of 2/n.
    short = mixtures.generate(DataSpec(size=6000, seed=3, perturbation=0, chain_lengths=(3, 3),
                                       balance=False))
    counts = category_counts(short)
    direct_share = counts["yes_direct"] / (counts["yes_direct"] + counts["yes_multihop"])
    assert direct_share == pytest.approx(2 / 3, abs=0.03)
    assert direct_share > 0.6  # well above the balanced 0.5

    mixed = mixtures.generate(DataSpec(size=8000, seed=3, perturbation=0, balance=False))
    counts = category_counts(mixed)
    direct_share = counts["yes_direct"] / (counts["yes_direct"] + counts["yes_multihop"])
    expected = np.mean([2 / n for n in range(3, 7)])  # 0.475: on 3-6 nodes uniform is near 0.5
    assert direct_share == pytest.approx(expected, abs=0.03)

    balanced = category_counts(mixtures.generate(DataSpec(size=6000, seed=3, perturbation=0,
                                                          chain_lengths=(3, 3))))
    assert balanced["yes_direct"] == balanced["yes_multihop"] == 1500


def test_unbalanced_flipped_chains_sample_no_items_uniformly():
    spec = DataSpec(size=4000, seed=8, chain_lengths=(6, 6), balance=False,
                    shares={"sequential": 0, "flipped": 1, "reversed": 0})
    counts = category_counts(mixtures.generate(spec))
    # Flipped 6-node chains have many more unrelated than reversed pairs: uniform sampling shows it.
    assert counts["no_unrelated"] > counts["no_reverse"]
    assert counts["no_unrelated"] + counts["no_reverse"] == 2000


# ---------------------------------------------------------------- shortcuts on training data

@pytest.mark.parametrize("preset", ["OCC", "TS2", "TS1"])
def test_direct_edge_shortcut_scores_three_quarters(preset):
    # Balanced: every No and the direct half of Yes are right, the multi-hop half is wrong -> 0.75.
    scores = baselines.score(mixtures.generate(mixtures.preset(preset, size=4000, seed=9)))
    assert scores["direct_edge"] == pytest.approx(0.75, abs=0.005)
    assert scores["majority"] == pytest.approx(0.5, abs=0.001)


def test_mention_order_shortcut_below_one_when_perturbed():
    ts2 = baselines.score(mixtures.generate(mixtures.preset("TS2", size=4000, seed=9)))
    ts1 = baselines.score(mixtures.generate(mixtures.preset("TS1", size=4000, seed=9)))
    beyond = baselines.score(mixtures.generate(DataSpec(size=4000, seed=9, perturbation=3)))
    assert ts2["mention_order"] < 0.93
    assert ts1["mention_order"] < ts2["mention_order"]
    assert beyond["mention_order"] < 0.7
    # Sequential chains stated in order cannot defeat it: OCC scores 1.0 by construction, and only
    # shuffled premises bring it down.
    occ = baselines.score(mixtures.generate(mixtures.preset("OCC", size=2000, seed=9)))
    shuffled = baselines.score(mixtures.generate(mixtures.preset("OCC", size=2000, seed=9,
                                                                 shuffle_share=1.0)))
    assert occ["mention_order"] == 1.0
    assert shuffled["mention_order"] < 0.7


# ---------------------------------------------------------------- presets and perturbation

def test_perturbation_anchors_are_the_presets():
    for name, point in mixtures.PRESETS.items():
        np.testing.assert_allclose(mixtures.shares_at(point).as_array(),
                                   mixtures.PERTURBATION_ANCHORS[int(point)], atol=1e-12)
    np.testing.assert_allclose(mixtures.shares_at(0.5).as_array(),
                               (mixtures.PERTURBATION_ANCHORS[0] + mixtures.PERTURBATION_ANCHORS[1]) / 2,
                               atol=1e-12)
    np.testing.assert_allclose(mixtures.shares_at(3.0).as_array(), [0.0, 0.8, 0.2], atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 3))
def test_every_perturbation_resolves_to_valid_shares(point):
    # Rounding must never push a share below 0 (it did: 1 - s - f came out as -5e-17 at 0.25).
    shares = DataSpec(perturbation=point).resolved_shares().as_array()
    assert (shares >= 0).all() and shares.sum() == pytest.approx(1.0)


def test_shares_decide_the_mix_of_structures():
    # Reversed chains are the only kind whose first sentence's cause is not the first node; count
    # chains by reading the text back.
    spec = DataSpec(size=3000, seed=1, chain_lengths=(4, 4),
                    shares={"sequential": 0.5, "flipped": 0.0, "reversed": 0.5})
    data = mixtures.generate(spec)
    reversed_rows = 0
    for i in range(len(data)):
        edges = text.parse(*data.text(i)[:2]).edges
        in_order = all(edges[j][1] == edges[j + 1][0] for j in range(len(edges) - 1))
        backwards = all(edges[j][0] == edges[j + 1][1] for j in range(len(edges) - 1))
        assert in_order != backwards
        reversed_rows += backwards
    assert reversed_rows == 1500


# ---------------------------------------------------------------- bad specs

@pytest.mark.parametrize("fields, field", [
    ({"alphabet": ""}, "alphabet"),
    ({"alphabet": "ab_"}, "alphabet"),
    ({"alphabet": "aab"}, "alphabet"),
    ({"chain_lengths": (1, 5)}, "chain_lengths"),
    ({"chain_lengths": (6, 4)}, "chain_lengths"),
    ({"flip_prob": 1.5}, "flip_prob"),
    ({"flip_prob": -0.1}, "flip_prob"),
    ({"size": 0}, "size"),
    ({"size": -5}, "size"),
    ({"name_length": (5, 2)}, "name_length"),
    ({"name_length": (0, 2)}, "name_length"),
    ({"perturbation": 3.5}, "perturbation"),
    ({"shuffle_share": 2}, "shuffle_share"),
    ({"hypotheses_per_premise": 0}, "hypotheses_per_premise"),
    ({"hypotheses_per_premise": 3, "chain_lengths": (3, 6)}, "hypotheses_per_premise"),
    ({"shares": {"sequential": 0.5, "flipped": 0.4, "reversed": 0.0}}, "sum to 1"),
    ({"perturbation": 1.0, "shares": {"sequential": 1, "flipped": 0, "reversed": 0}}, "either 'perturbation' or 'shares'"),
    ({"axiom": "dseparation"}, "axiom"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_specs_name_the_field(fields, field):
    with pytest.raises(ValidationError) as err:
        DataSpec(**fields)
    assert field in str(err.value)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'TS3'"):
        mixtures.preset("TS3")


# ---------------------------------------------------------------- the store

def manifest_paths(root) -> list:
    return sorted(root.glob("*/*/manifest.json"))


def test_second_request_loads_without_regenerating(tmp_path):
    store = Store(root=tmp_path / "cache")
    spec = mixtures.preset("TS2", size=1500, seed=21)
    first, manifest = store.training_set(spec, check_against=[SMALL_SUITE])
    path = store.path_of(manifest) / "manifest.json"
    stamp = path.stat().st_mtime_ns
    os.utime(path, ns=(stamp - 10**9, stamp - 10**9))  # make a rewrite detectable
    stamp = path.stat().st_mtime_ns

    again, manifest_again = Store(root=tmp_path / "cache").training_set(spec, check_against=[SMALL_SUITE])
    assert manifest_again == manifest
    assert path.stat().st_mtime_ns == stamp  # loaded, not written again
    assert array_digest(again) == array_digest(first)
    assert len(manifest_paths(tmp_path / "cache")) == 2  # the training set and the one suite


def test_manifest_describes_the_dataset(tmp_path):
    store = Store(root=tmp_path / "cache")
    spec = mixtures.preset("TS1", size=1200, seed=2)
    data, manifest = store.training_set(spec, check_against=[SMALL_SUITE])
    directory = store.path_of(manifest)
    assert directory.name == manifest["digest"] and directory.parent.name == manifest["digest"][:2]
    assert DataSpec(**manifest["spec"]) == spec
    assert manifest["recipe"]["train"] == spec.canonical()
    counts = manifest["counts"]
    assert counts["n"] == len(data) == 1200 and counts["yes"] == 600
    assert counts["categories"] == category_counts(data)
    assert sum(counts["nodes"].values()) == 1200
    assert manifest["leakage"]["checked_suites"] == 1
    assert manifest["leakage"]["shared"] == 0
    assert set(manifest["baselines"]) == {*baselines.NAMES, "yes_share"}
    assert array_digest(Dataset.load(directory)) == array_digest(data)


def _request_in_child(root, barrier, queue):
    barrier.wait()  # all three ask at the same moment
    data, manifest = Store(root=root).training_set(mixtures.preset("TS2", size=2000, seed=5),
                                                  check_against=[SMALL_SUITE])
    queue.put((manifest["digest"], array_digest(data)))


def test_concurrent_requests_agree_and_leave_one_entry(tmp_path):
    root = tmp_path / "cache"
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(3), context.Queue()
    workers = [context.Process(target=_request_in_child, args=(root, barrier, queue)) for _ in range(3)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert len(set(results)) == 1
    digest, arrays = results[0]
    manifests = manifest_paths(root)
    train_entries = [p.parent for p in manifests if '"train"' in p.read_text()]
    assert [p.name for p in train_entries] == [digest]
    assert len(manifests) == 2  # plus the suite it was checked against
    assert not list(root.rglob(".tmp-*"))
    # And the survivor on disk is what every process got.
    assert array_digest(Dataset.load(train_entries[0])) == arrays


def test_leakage_check_drops_planted_rows(tmp_path):
    store = Store(root=tmp_path / "cache")
    train = mixtures.generate(mixtures.preset("TS1", size=3000, seed=13))
    suite, _ = store.suite(SMALL_SUITE)
    assert array_digest(suite) == array_digest(suites.build(SMALL_SUITE))
    suite_keys = set(suite.row_keys())
    natural = sum(key in suite_keys for key in train.row_keys())
    planted = suite.subset(np.arange(0, 500, 10))  # 50 evaluation items
    polluted = Dataset.concat([train, planted])
    assert len(polluted) == 3050

    cleaned, report = store.remove_leakage(polluted, [SMALL_SUITE])
    assert report["shared_found"] == report["dropped"] == natural + 50
    assert report["shared"] == 0
    assert len(cleaned) == 3050 - report["dropped"]
    assert not suite_keys & set(cleaned.row_keys())
    # Nothing else was touched: the clean training rows are all still there.
    assert set(cleaned.row_keys()) == {k for k in train.row_keys() if k not in suite_keys}


def test_training_set_is_checked_against_every_suite(axiomatic_cache):
    store = Store()  # the default root comes from AXIOMATIC_CACHE
    assert store.root == axiomatic_cache.resolve()
    data, manifest = store.training_set(mixtures.preset("TS1", size=1000, seed=3))
    assert manifest["leakage"]["checked_suites"] == len(suites.task_suites("transitivity"))
    assert manifest["leakage"]["shared"] == 0
    held_out = set()
    for name in suites.generated_names():
        held_out.update(store.suite(name)[0].row_keys())
    assert not held_out & set(data.row_keys())


# ---------------------------------------------------------------- distances and hop balance

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_skeleton_distances_equal_networkx(seed):
    rng = np.random.default_rng(seed)
    batch = graphs.random_dags(rng, 20, 8, 9)
    distances = graphs.skeleton_distances(batch.adjacency)
    for b in range(batch.count):
        skeleton = nx.Graph(batch.edges[b].tolist())
        lengths = dict(nx.all_pairs_shortest_path_length(skeleton))
        for u in range(8):
            for v in range(8):
                assert distances[b, u, v] == lengths.get(u, {}).get(v, 0), (b, u, v)


def reverse_item_distances(hop_balance: bool) -> np.ndarray:
    """Edges apart of the No items of sequential 8-node chains (all reversed paths, 1..7 apart)."""
    spec = DataSpec(size=6000, seed=3, chain_lengths=(8, 8), hop_balance=hop_balance,
                    shares={"sequential": 1, "flipped": 0, "reversed": 0})
    data = mixtures.generate(spec)
    distances = []
    for i in np.flatnonzero(data.labels == 0):
        graph, parsed = premise_graph(*data.text(i)[:2])
        distances.append(nx.shortest_path_length(graph.to_undirected(), parsed.x, parsed.y))
    return np.bincount(distances, minlength=8)[1:]


def test_hop_balance_makes_every_distance_equally_common():
    plain, balanced = reverse_item_distances(False), reverse_item_distances(True)
    # Uniform over pairs: 7 pairs 1 apart, 1 pair 7 apart. Uniform over distances: 3000 / 7 each.
    assert plain[0] > 5 * plain[-1]
    expected = balanced.sum() / 7
    assert np.all(np.abs(balanced - expected) < 0.15 * expected), balanced
