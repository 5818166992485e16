"""The fixed vocabulary: stable ids, exact round trips, names that look like reserved words."""

import json

import numpy as np
import pytest

from axiomatic.data import mixtures, suites, text, tokenizer
from axiomatic.data.axioms import corr2cause, dseparation
from axiomatic.data.tokenizer import TOKEN_ID

ROUND_TRIP_FILES = (
    "transitivity__standard_chain__7.jsonl",
    "transitivity__flipped_chain__50.jsonl",
    "transitivity__reversed_chain__3.jsonl",
    "transitivity__branching_bf2.0__12.jsonl",
    "dseparation__flipped_chain__15.jsonl",
    "dseparation__branching_bf1.4__5.jsonl",
    "dseparation__branching_bf1.4__12.jsonl",
)
RESERVED_NAMES = ("No", "no", "Yes", "y", "n0", "and", "Are", "Does")


# ---------------------------------------------------------------- the vocabulary itself

def test_vocabulary_is_small_and_fixed():
    assert tokenizer.VOCAB_SIZE == len(tokenizer.VOCAB) == 118
    assert tokenizer.VOCAB_SIZE < 256  # datasets are stored as uint8
    assert tokenizer.VERSION == "axiomatic-vocab-2"
    # Every name character resolves to its own character token, whatever words share its spelling.
    for c in tokenizer.ALPHANUMERICS:
        assert tokenizer.VOCAB[TOKEN_ID[c]] == c and TOKEN_ID[c] >= TOKEN_ID["0"]


def test_vocabulary_entries_are_distinct():
    assert len(set(tokenizer.VOCAB)) == tokenizer.VOCAB_SIZE


@pytest.mark.parametrize("token, expected", [
    ("<pad>", 0), ("causes", 1), ("cause", 2), ("Does", 3), ("Are", 4), ("and", 5),
    ("d-separated", 6), ("given", 7), (".", 46), ("?", 47), (",", 48), ("{", 49), ("}", 50),
    ("0", 54), ("9", 63), ("A", 64), ("Z", 89), ("a", 90), ("y", 114), ("z", 115),
    ("Yes", 116), ("No", 117),
])
def test_token_ids_are_stable(token, expected):
    # Checkpoints store token ids: moving any of these would silently corrupt old models.
    assert TOKEN_ID[token] == expected


def test_label_ids():
    assert (tokenizer.PAD_ID, tokenizer.YES_ID, tokenizer.NO_ID) == (0, 116, 117)
    assert tokenizer.encode_label("Yes") == 1
    assert tokenizer.encode_label("No") == 0
    for bad in ("yes", "no", "YES", "", "True"):
        with pytest.raises(ValueError, match="Yes' or 'No"):
            tokenizer.encode_label(bad)


def test_every_alphanumeric_is_one_char_token():
    assert len(tokenizer.ALPHANUMERICS) == 62
    ids = tokenizer.char_ids(tokenizer.ALPHANUMERICS)
    assert ids.dtype == np.uint8
    assert len(set(ids.tolist())) == 62
    assert tokenizer.YES_ID not in ids and tokenizer.NO_ID not in ids


# ---------------------------------------------------------------- names that look like words

@pytest.mark.parametrize("name", RESERVED_NAMES)
def test_reserved_word_names_are_spelled_in_characters(name):
    assert tokenizer.encode_name(name) == [TOKEN_ID[c] for c in name]
    ids = tokenizer.encode(f"{name} causes q. q causes Z.", f"Does {name} cause Z?")
    assert tokenizer.YES_ID not in ids and tokenizer.NO_ID not in ids
    # The only word tokens are the grammar's: causes, ., causes, ., Does, cause, ?
    words = [tokenizer.VOCAB[i] for i in ids if i < TOKEN_ID["0"]]
    assert words == ["causes", ".", "causes", ".", "Does", "cause", "?"]
    assert tokenizer.decode(ids) == f"{name} causes q. q causes Z. Does {name} cause Z?"


def test_transitivity_input_made_of_reserved_names():
    premise = "No causes Yes. Yes causes and. and causes y. y causes n0. n0 causes Does. Does causes no."
    hypothesis = "Does Does cause No?"
    ids = tokenizer.encode(premise, hypothesis)
    assert tokenizer.YES_ID not in ids and tokenizer.NO_ID not in ids
    assert TOKEN_ID["and"] not in ids  # transitivity's grammar has no 'and': the name is a-n-d
    does = [i for i, t in enumerate(ids) if t == TOKEN_ID["Does"]]
    assert len(does) == 1 and ids[does[0] - 1] == TOKEN_ID["."]  # the question's first word only
    assert tokenizer.split_input(ids) == (premise, hypothesis)


def test_dseparation_and_appears_exactly_where_the_grammar_puts_it():
    premise = "and causes Are. Are causes No."
    hypothesis = "Are and and Are d-separated given {No, Does}?"
    ids = tokenizer.encode(premise, hypothesis)
    # premise: a n d causes A r e . A r e causes N o .   -> 15 tokens, then the question
    expected = ([TOKEN_ID[c] for c in "and"] + [TOKEN_ID["causes"]] + [TOKEN_ID[c] for c in "Are"]
                + [TOKEN_ID["."]] + [TOKEN_ID[c] for c in "Are"] + [TOKEN_ID["causes"]]
                + [TOKEN_ID[c] for c in "No"] + [TOKEN_ID["."]]
                + [TOKEN_ID["Are"]] + [TOKEN_ID[c] for c in "and"] + [TOKEN_ID["and"]]
                + [TOKEN_ID[c] for c in "Are"] + [TOKEN_ID["d-separated"], TOKEN_ID["given"], TOKEN_ID["{"]]
                + [TOKEN_ID[c] for c in "No"] + [TOKEN_ID[","]] + [TOKEN_ID[c] for c in "Does"]
                + [TOKEN_ID["}"], TOKEN_ID["?"]])
    assert ids == expected
    assert [i for i, t in enumerate(ids) if t == TOKEN_ID["and"]] == [19]
    assert [i for i, t in enumerate(ids) if t == TOKEN_ID["Are"]] == [15]
    assert tokenizer.YES_ID not in ids and tokenizer.NO_ID not in ids
    assert tokenizer.decode(ids) == f"{premise} {hypothesis}"


# ---------------------------------------------------------------- round trips

def test_round_trip_of_published_files(published_dir):
    checked = 0
    for file_name in ROUND_TRIP_FILES:
        path = published_dir / file_name
        lines = path.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
        for record in records:
            premise, hypothesis = record["premise"], record["hypothesis"]
            ids = tokenizer.encode(premise, hypothesis)
            assert max(ids) < tokenizer.VOCAB_SIZE
            assert tokenizer.YES_ID not in ids and tokenizer.NO_ID not in ids, (file_name, record)
            assert tokenizer.decode(ids) == f"{premise} {hypothesis}", (file_name, record)
            assert tokenizer.split_input(ids) == (premise, hypothesis)
            checked += 1
        # The same through the Dataset path the evaluator uses (padding, uint8, labels).
        data = suites.dataset_from_jsonl(path)
        assert len(data) == len(records)
        for i in (0, len(records) // 2, len(records) - 1):
            r = records[i]
            assert data.text(i) == (r["premise"], r["hypothesis"], r["label"])
    assert checked == 500 * len(ROUND_TRIP_FILES)


def test_encode_many_pads_with_pad_id():
    pairs = [("a causes b.", "Does a cause b?"), ("a causes bb. bb causes c.", "Does c cause a?")]
    tokens, lengths = tokenizer.encode_many(pairs)
    assert tokens.dtype == np.uint8 and tokens.shape == (2, int(lengths.max()))
    assert lengths.tolist() == [len(tokenizer.encode(*p)) for p in pairs]
    assert (tokens[0, lengths[0]:] == tokenizer.PAD_ID).all()
    assert tokenizer.decode(tokens[0]) == "a causes b. Does a cause b?"  # decoding stops at padding


@pytest.mark.parametrize("premise, hypothesis", [
    ("a causes b", "Does a cause b?"),  # no final period
    ("a causes.", "Does a cause b?"),  # missing effect
    ("a cause b.", "Does a cause b?"),  # wrong verb
    ("a causes b c.", "Does a cause b?"),  # two names in a slot
    ("a_1 causes b.", "Does a_1 cause b?"),  # name outside [0-9A-Za-z]
    ("", "Does a cause b?"),
    ("a causes b.", "Does a cause b"),  # no question mark
    ("a causes b.", "Is a a cause of b?"),
    ("a causes b.", "Are a and b d-separated given {a; b}?"),
    ("a causes b.", "Are a and b independent?"),
])
def test_unparseable_sentences_raise(premise, hypothesis):
    with pytest.raises(ValueError):
        tokenizer.encode(premise, hypothesis)


@pytest.mark.parametrize("generate", [
    lambda: mixtures.generate(mixtures.preset("TS1", size=300, seed=1)),
    lambda: dseparation.generate(dseparation.DSeparationSpec(size=300, seed=1, perturbation=2.0)),
    lambda: corr2cause.generate(corr2cause.Corr2CauseSpec(nodes=(2, 5), split="all", size=300, seed=1)),
], ids=["transitivity", "dseparation", "corr2cause"])
def test_two_names_never_touch_so_a_run_of_characters_is_one_name(generate):
    """The decoder (tokenizer.decode) and the name mixer (model.mixer.within_names) both read a run of
    character tokens as one node name: every task's grammar must put a word or a punctuation
    token between any two names."""
    data = generate()
    for i in range(len(data)):
        premise, hypothesis, _ = data.text(i)
        kinds = [piece.kind for piece in text.parse_input(premise, hypothesis)]
        assert ("name", "name") not in set(zip(kinds, kinds[1:])), (premise, hypothesis)
        assert tokenizer.encode(premise, hypothesis) == data.tokens[i, : data.lengths[i]].tolist()
