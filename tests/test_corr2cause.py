"""Corr2Cause: DAG and class enumeration, CPDAGs and members against brute force, premises and
labels against networkx, the shortcut our options remove, splits, determinism, the published
labelling, bad input.

References are independent of the code under test: networkx decides d-separation, v-structures
and paths; members come from brute force over the skeleton's orientations; rows are read back
from their text through the sentence grammar.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from pydantic import ValidationError

from axiomatic.data import graphs, text, tokenizer
from axiomatic.data.axioms import corr2cause
from axiomatic.data.axioms.corr2cause import TYPES, Corr2CauseSpec
from axiomatic.data.causal import classes, dags, equivalence

LETTERS = "ABCDEFGH"


def digraph(adjacency: np.ndarray) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(adjacency.shape[0]))
    graph.add_edges_from(zip(*map(np.ndarray.tolist, np.nonzero(adjacency))))
    return graph


def relabel(adjacency: np.ndarray, perm) -> np.ndarray:
    out = np.zeros_like(adjacency)
    u, v = np.nonzero(adjacency)
    out[np.asarray(perm)[u], np.asarray(perm)[v]] = True
    return out


def rows_as_text(data) -> list[tuple[text.Corr2CauseParsed, str]]:
    return [(text.parse_corr2cause(*data.text(i)[:2]), data.text(i)[2]) for i in range(len(data))]


# ---------------------------------------------------------------- DAGs and classes

@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_every_dag_up_to_isomorphism_once(n):
    reps = dags.all_dags(n)
    assert len(reps) == dags.DAG_COUNTS[n] == {2: 2, 3: 6, 4: 31, 5: 302, 6: 5984}[n]
    assert not np.tril(reps).any()  # representatives' edges run from lower to higher index
    codes, _ = dags.canonical_codes(reps)
    assert (codes == dags.encode(reps)).all() and (np.diff(codes) > 0).all()


def test_dag_classes_agree_with_networkx_isomorphism():
    # every forward-only graph on 4 nodes, grouped by networkx's isomorphism test
    upper = dags.decode(np.arange(2**6), 4)
    groups: list[nx.DiGraph] = []
    for adjacency in upper:
        graph = digraph(adjacency)
        if not any(nx.is_isomorphic(graph, g) for g in groups):
            groups.append(graph)
    assert len(groups) == len(dags.all_dags(4)) == 31


def test_sampled_dags_are_distinct_acyclic_and_seeded():
    first = dags.sample_dags(np.random.default_rng(3), 7, 60)
    again = dags.sample_dags(np.random.default_rng(3), 7, 60)
    assert first.shape == (60, 7, 7) and (first == again).all()
    assert not graphs.transitive_closure(first).diagonal(axis1=1, axis2=2).any()
    assert len(np.unique(dags.canonical_codes(first)[0])) == 60
    # a relabelled copy has the same canonical code: isomorphic draws would have been caught
    shuffled = relabel(first[0], np.random.default_rng(0).permutation(7))
    assert dags.canonical_codes(shuffled[None])[0][0] == dags.canonical_codes(first[:1])[0][0]


@pytest.mark.parametrize("n, classes", [(2, 2), (3, 5), (4, 20), (5, 142), (6, 2201)])
def test_markov_equivalence_classes_up_to_isomorphism(n, classes):
    codes = equivalence.class_codes(*equivalence.cpdag(dags.all_dags(n)))
    assert len(np.unique(codes)) == classes
    assert len(corr2cause.class_table(n).keys) == classes


def test_v_structures_match_networkx():
    for adjacency in dags.all_dags(5)[::7]:
        expected = {(min(a, c), b, max(a, c)) for a, b, c in nx.dag.v_structures(digraph(adjacency))}
        found = {tuple(v) for v in np.argwhere(equivalence.v_structures(adjacency[None])[0]).tolist()}
        assert found == expected


def test_mec_members_equal_brute_force():
    rng = np.random.default_rng(0)
    small = [d for n in (2, 3, 4) for d in dags.all_dags(n)]
    five = dags.all_dags(5)
    picks = [relabel(five[i], rng.permutation(5)) for i in rng.choice(len(five), 50, replace=False)]
    for adjacency in small + picks:
        members, owner = equivalence.mec_members(*equivalence.cpdag(adjacency[None]))
        members = members[np.argsort(dags.encode(members))]
        reference = equivalence.brute_force_members(adjacency)
        assert (owner == 0).all() and members.shape == reference.shape and (members == reference).all()
        assert any((m == adjacency).all() for m in members)


def test_cpdag_directs_exactly_the_edges_every_member_shares():
    for adjacency in dags.all_dags(4):
        directed, undirected = (a[0] for a in equivalence.cpdag(adjacency[None]))
        members = equivalence.brute_force_members(adjacency)
        assert (directed == members.all(axis=0)).all()
        assert (undirected == (members.any(axis=0) & ~members.all(axis=0))).all()


# ---------------------------------------------------------------- premises

def expected_statements(rep: np.ndarray, names: list[str], order: list[int]) -> list[tuple]:
    """The premise as Corr2Cause writes it, decided by networkx: correlations, then every
    independence, each sorted by the listing positions of (x, y, given)."""
    graph = digraph(rep)
    position = {v: p for p, v in enumerate(order)}
    n = rep.shape[0]
    correlations, independences = [], []
    for a, b in itertools.combinations(range(n), 2):
        x, y = sorted((a, b), key=position.get)
        rest = [v for v in order if v not in (a, b)]
        for k in range(len(rest) + 1):
            for given in itertools.combinations(rest, k):
                separated = nx.is_d_separator(graph, {x}, {y}, set(given))
                if not given and not separated:
                    correlations.append(((position[x], position[y]), ("correlates", names[x], names[y], ())))
                if separated:
                    key = (position[x], position[y], [position[g] + 1 for g in given])
                    independences.append((key, ("independent", names[x], names[y], tuple(names[g] for g in given))))
    return [s for _, s in sorted(correlations)] + [s for _, s in sorted(independences)]


@pytest.mark.parametrize("names", ["letters", "random"])
def test_premise_statements_equal_networkx_d_separation(names):
    spec = Corr2CauseSpec(nodes=(2, 5), split="all", names=names, size=300, seed=5)
    items, data = corr2cause.select(spec), corr2cause.generate(spec)
    for i in range(len(data)):
        parsed = text.parse_corr2cause(*data.text(i)[:2])
        n = int(items.n[i])
        order = items.order[i, :n].tolist()
        node_names = {v: parsed.variables[p] for p, v in enumerate(order)}
        if names == "letters":
            assert parsed.variables == tuple(LETTERS[:n]) and order == list(range(n))
        rep = corr2cause.class_table(n).reps[items.cls[i]]
        assert list(parsed.statements) == expected_statements(rep, node_names, order)
        corr = len(parsed.correlations)
        assert parsed.however == (corr if 0 < corr < len(parsed.statements) else None)


def test_published_example_premise_verbatim():
    data = corr2cause.generate(Corr2CauseSpec(nodes=(3, 3), split="all", names="letters",
                                              pair_order="forward", balanced=False))
    premises = {data.text(i)[0] for i in range(len(data))}
    assert ("Suppose there is a closed system of 3 variables, A, B and C. All the statistical relations "
            "among these 3 variables are as follows: A correlates with C. B correlates with C. However, "
            "A is independent of B.") in premises


def test_minimal_premise_keeps_only_minimal_separating_sets():
    table = corr2cause.class_table(5)
    full, small = table.separated, classes.minimal(table.separated)
    assert (small <= full).all() and small.sum() < full.sum()
    for k, p, z in np.argwhere(full)[::37].tolist():
        subsets = [s for s in range(2**5) if s & z == s and s != z]
        assert small[k, p, z] == (not any(full[k, p, s] for s in subsets))
    # every pair is still answered: marginally correlated, or with at least one minimal set
    assert ((~full[:, :, 0]) | small.any(axis=2)).all()


def test_rows_round_trip_through_the_grammar():
    data = corr2cause.generate(Corr2CauseSpec(nodes=(2, 6), size=400, seed=2, premise="minimal"))
    period = tokenizer.TOKEN_ID["."]
    for i in range(len(data)):
        premise, hypothesis, _ = data.text(i)
        row = data.tokens[i, : data.lengths[i]]
        assert tokenizer.encode(premise, hypothesis) == row.tolist()
        # the trainer's rule: the premise ends at the last "." before the row's final token
        assert row[-1] == period
        cut = np.flatnonzero(row[:-1] == period)[-1] + 1
        assert tokenizer.decode(row[:cut]) == premise and tokenizer.decode(row[cut:]) == hypothesis


# ---------------------------------------------------------------- labels

def holds(graph: nx.DiGraph, kind: str, x: int, y: int) -> bool:
    """The six relations decided by networkx paths, for one DAG."""
    def disjoint(starts_at_c: bool) -> bool:
        for c in set(graph) - {x, y}:
            ends = [(c, x), (c, y)] if starts_at_c else [(x, c), (y, c)]
            for p in nx.all_simple_paths(graph, *ends[0]):
                for q in nx.all_simple_paths(graph, *ends[1]):
                    if set(p) & set(q) == {c}:
                        return True
        return False

    return {
        "parent": lambda: graph.has_edge(x, y),
        "ancestor": lambda: nx.has_path(graph, x, y) and not graph.has_edge(x, y),
        "child": lambda: graph.has_edge(y, x),
        "descendant": lambda: nx.has_path(graph, y, x) and not graph.has_edge(y, x),
        "collider": lambda: disjoint(False),
        "confounder": lambda: disjoint(True),
    }[kind]()


@pytest.mark.parametrize("n", [3, 4])
def test_exact_labels_hold_in_every_member(n):
    table = corr2cause.class_table(n)
    for k, rep in enumerate(table.reps):
        members = [digraph(m) for m in equivalence.brute_force_members(rep)]
        for t, kind in enumerate(TYPES):
            for x, y in itertools.permutations(range(n), 2):
                assert table.labels[k, t, x, y] == all(holds(g, kind, x, y) for g in members), (k, kind, x, y)


def test_two_nodes_have_no_yes_and_three_nodes_exactly_three():
    spec = dict(split="all", names="letters", pair_order="forward", balanced=False)
    two = corr2cause.generate(Corr2CauseSpec(nodes=(2, 2), **spec))
    assert len(two) == 2 * 1 * 6 and two.labels.sum() == 0
    three = rows_as_text(corr2cause.generate(Corr2CauseSpec(nodes=(3, 3), **spec)))
    yes = sorted((p.claim, p.first, p.second) for p, label in three if label == "Yes")
    assert yes == [("collider", "A", "B"), ("direct", "A", "C"), ("direct", "B", "C")]
    collider_premise = {p.statements for p, label in three if label == "Yes"}
    assert collider_premise == {(("correlates", "A", "C", ()), ("correlates", "B", "C", ()),
                                 ("independent", "A", "B", ()))}
    # the chain's class A - B - C is written on its smallest-code member, B <- A -> C
    chain = [label for p, label in three if p.independences == [("B", "C", ("A",))]]
    assert len(chain) == 18 and set(chain) == {"No"}


def test_dataset_fields_follow_the_items():
    spec = Corr2CauseSpec(nodes=(3, 5), split="all", size=200, seed=4, types=("collider", "parent"))
    items, data = corr2cause.select(spec), corr2cause.generate(spec)
    assert (data.categories == items.kind).all() and set(data.categories.tolist()) == {0, 4}
    assert (data.nodes == items.n).all() and (data.labels == items.labels).all()
    assert data.tokens.dtype == np.uint8 and data.labels.sum() == 100


# ---------------------------------------------------------------- the letter-order shortcut

def later_causes_earlier(parsed: text.Corr2CauseParsed) -> bool | None:
    """For a causal claim: does it say a later-listed variable causes an earlier one?"""
    if parsed.claim not in ("direct", "mediated", "indirect"):
        return None
    return parsed.variables.index(parsed.first) > parsed.variables.index(parsed.second)


def test_letters_in_forward_order_leak_the_answer_and_random_names_do_not():
    letters = rows_as_text(corr2cause.generate(Corr2CauseSpec(
        nodes=(3, 6), split="all", names="letters", pair_order="forward", size=3000, seed=1)))
    leaked = [label for p, label in letters if later_causes_earlier(p)]
    assert len(leaked) > 500 and set(leaked) == {"No"}  # the rule "later causes earlier -> No" never errs

    rows = rows_as_text(corr2cause.generate(Corr2CauseSpec(nodes=(3, 6), split="all", size=4000, seed=1)))
    causal = [(later_causes_earlier(p), label == "Yes") for p, label in rows if later_causes_earlier(p) is not None]
    later = np.array([c for c, _ in causal])
    yes = np.array([y for _, y in causal])
    # the rule "Yes iff the cause is listed first" scores at chance on the balanced set
    accuracy = ((~later) == yes).mean()
    assert len(causal) > 1500 and abs(accuracy - 0.5) < 0.04
    assert abs(yes[later].mean() - yes[~later].mean()) < 0.06


# ---------------------------------------------------------------- splits and determinism

def test_splits_share_no_class_and_cover_every_class():
    def keys_of(split: str) -> set[int]:  # natural share: every item, so every class, is a row
        return set(corr2cause.class_keys(Corr2CauseSpec(nodes=(2, 6), split=split, balanced=False)).tolist())

    keys = {s: keys_of(s) for s in ("train", "val", "test")}
    everything = keys_of("all")
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"] and not keys["val"] & keys["test"]
    assert keys["train"] | keys["val"] | keys["test"] == everything
    assert len(everything) == 2 + 5 + 20 + 142 + 2201
    splits = corr2cause.class_table(6).splits
    assert 0.75 < (splits == 0).mean() < 0.85 and 0.07 < (splits == 2).mean() < 0.13
    for key in list(keys["test"])[:20]:
        assert corr2cause.split_of_class(key) == "test"


def test_class_keys_align_with_rows():
    spec = Corr2CauseSpec(nodes=(4, 4), split="all", names="letters", size=100, seed=9)
    keys, items = corr2cause.class_keys(spec), corr2cause.select(spec)
    table = corr2cause.class_table(4)
    assert (keys == table.keys[items.cls]).all()
    data = corr2cause.generate(spec)
    for i in range(len(data)):  # the row's premise is its class's premise
        parsed = text.parse_corr2cause(*data.text(i)[:2])
        rep = table.reps[items.cls[i]]
        assert list(parsed.statements) == expected_statements(rep, dict(enumerate(LETTERS)), [0, 1, 2, 3])


def test_same_spec_same_bytes():
    spec = Corr2CauseSpec(nodes=(2, 5), size=500, seed=11)
    first, second = corr2cause.generate(spec), corr2cause.generate(Corr2CauseSpec(**spec.model_dump()))
    for field in ("tokens", "lengths", "labels", "categories", "nodes"):
        assert getattr(first, field).tobytes() == getattr(second, field).tobytes()
    other = corr2cause.generate(spec.model_copy(update={"seed": 12}))
    assert other.tokens.tobytes() != first.tokens.tobytes()
    reordered = Corr2CauseSpec(nodes=(2, 5), size=500, seed=11, types=tuple(reversed(TYPES)))
    assert reordered.digest() == spec.digest()
    assert spec.canonical()["generator"] == corr2cause.GENERATOR_VERSION


# ---------------------------------------------------------------- the published labelling

AUDITED = [  # published test items whose gold label an independent audit disputes (see docs)
    (4, [("C", "D", "AB")], "collider", "A", "B"),
    (5, [("A", "B", ""), ("A", "B", "C"), ("A", "B", "CD"), ("A", "B", "D"), ("A", "D", "BC"), ("A", "D", "C"),
         ("B", "C", ""), ("B", "C", "A"), ("B", "C", "AD"), ("B", "C", "ADE"), ("B", "C", "D"), ("B", "D", ""),
         ("B", "D", "A"), ("B", "D", "AC"), ("B", "D", "C"), ("C", "E", "ABD"), ("C", "E", "AD")], "parent", "A", "E"),
    (5, [("C", "E", "AB"), ("C", "E", "ABD"), ("D", "E", "AB"), ("D", "E", "ABC")], "collider", "A", "B"),
]


def test_published_semantics_reproduces_audited_gold_labels():
    """The published labels of these items are No where every member says Yes: bug 1."""
    for n, independences, kind, x, y in AUDITED:
        u, v = dags.forward_pairs(n)
        pair = {(a, b): p for p, (a, b) in enumerate(zip(u.tolist(), v.tolist()))}
        wanted = np.zeros((u.size, 2**n), dtype=bool)
        for a, b, given in independences:
            wanted[pair[LETTERS.index(a), LETTERS.index(b)], sum(1 << LETTERS.index(g) for g in given)] = True
        t, i, j = TYPES.index(kind), LETTERS.index(x), LETTERS.index(y)
        for semantics, expected in (("corr2cause", False), ("exact", True)):
            table = corr2cause.class_table(n, semantics)
            (k,) = np.flatnonzero((table.separated == wanted).all(axis=(1, 2)))
            assert table.labels[k, t, i, j] == expected


def test_published_descendant_bug_changes_twenty_six_node_dags():
    candidates = dags.all_dags(6)
    true = classes.separations(candidates)
    changed = [i for i in np.flatnonzero(classes._descendants_differ(candidates))
               if (classes._path_separations(candidates[i], classes._published_descendants(candidates[i]))
                   != true[i]).any()]
    assert len(changed) == 20
    # the path criterion with true descendants is d-separation itself
    index = changed[0]
    reach = graphs.transitive_closure(candidates[index : index + 1])[0] | np.eye(6, dtype=bool)
    masks = [int((row * (1 << np.arange(6))).sum()) for row in reach]
    assert (classes._path_separations(candidates[index], masks) == true[index]).all()


def test_published_semantics_agrees_on_small_graphs_and_differs_on_larger():
    for n in (2, 3):  # on the (earlier, later) pairs the published data asks about
        u, v = dags.forward_pairs(n)
        published, exact = corr2cause.class_table(n, "corr2cause"), corr2cause.class_table(n)
        assert (published.labels[:, :, u, v] == exact.labels[:, :, u, v]).all()
    exact, published = corr2cause.class_table(4), corr2cause.class_table(4, "corr2cause")
    assert (exact.keys == published.keys).all() and (exact.separated == published.separated).all()
    assert (exact.labels != published.labels).any()


# ---------------------------------------------------------------- suites and bad input

def test_suites():
    names = corr2cause.suite_names()
    assert "corr2cause/n=6" in names and "corr2cause/type=collider" in names and "corr2cause_natural/all" in names
    balanced = corr2cause.build_suite("corr2cause/all", items=60)
    natural = corr2cause.build_suite("corr2cause_natural/all", items=300)
    assert len(balanced) == 60 and balanced.labels.sum() == 30
    assert 0.08 < natural.labels.mean() < 0.3
    typed = corr2cause.build_suite("corr2cause/type=confounder", items=40)
    assert set(typed.categories.tolist()) == {TYPES.index("confounder")}
    test_keys = set(corr2cause.class_keys(corr2cause.suite_spec("corr2cause/all", 60)).tolist())
    assert all(corr2cause.split_of_class(k) == "test" for k in test_keys)
    with pytest.raises(ValueError, match="too few for a suite"):
        corr2cause.build_suite("corr2cause/n=4")
    minimal = corr2cause.build_suite("corr2cause_minimal/n=5", items=40)
    assert minimal.labels.mean() == 0.5 and minimal.lengths.max() < balanced.lengths.max()
    with pytest.raises(ValueError, match="accepted: corr2cause/n=5"):
        corr2cause.build_suite("corr2cause/bogus")


def test_premise_lengths_by_size():
    lengths = corr2cause.premise_tokens_by_size(sizes=(2, 3, 4))
    assert lengths[2]["full"] == lengths[2]["minimal"]  # two nodes: one statement either way
    for n in (3, 4):
        assert lengths[n]["minimal"][0] <= lengths[n]["full"][0]
        assert lengths[n]["full"][1] <= lengths[n]["full"][0]


@pytest.mark.parametrize("fields, field", [
    ({"nodes": (1, 3)}, "nodes"), ({"nodes": (2, 9)}, "nodes"), ({"nodes": (5, 4)}, "nodes"),
    ({"types": ("parent", "sibling")}, "types"), ({"types": ()}, "types"),
    ({"semantics": "lenient"}, "semantics"), ({"names": "greek"}, "names"), ({"size": 0}, "size"),
    ({"semantics": "corr2cause", "nodes": (2, 7)}, "nodes"), ({"bogus": 1}, "bogus"),
])
def test_bad_specs_name_the_field(fields, field):
    with pytest.raises(ValidationError, match=field):
        Corr2CauseSpec(**fields)


def test_size_beyond_the_split_names_the_field():
    with pytest.raises(ValueError, match=r"size: asked for 1000 items, the test split of N=2..3 holds only 0"):
        corr2cause.generate(Corr2CauseSpec(nodes=(2, 3), split="test", size=1000))
