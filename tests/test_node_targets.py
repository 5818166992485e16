"""Per-node d-separation targets (``train.node_loss``): read from question-first tokens, the
blocking ones agree with the d-separation oracle and the given ones with the given sets; they
exist only where a premise token can know them, and they train."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from axiomatic.data import rendering, suites, tokenizer
from axiomatic.data.axioms import blocking, dseparation
from axiomatic.errors import UserError
from axiomatic.model.config import ModelConfig
from axiomatic.train.batches import assemble
from axiomatic.train.config import RunConfig, TrainConfig, build_run
from axiomatic.train.loop import Trainer, Worker
from axiomatic.train.objective import node_loss
from axiomatic.train.run_data import RunData


def targets_of(question: str, premise: str) -> dict[int, int]:
    """{token position: target} of one question-first row given as text."""
    ids = tokenizer.encode(premise, question)
    cut = len(ids) - ids[::-1].index(tokenizer.TOKEN_ID["."])  # the question follows the last '.'
    tokens = np.array([ids[cut:] + ids[:cut]], dtype=np.uint8)
    found = blocking.node_targets(tokens, np.array([tokens.shape[1]]))[0]
    return {int(i): int(found[i]) for i in np.flatnonzero(found >= 0)}


def test_a_collider_blocks_unless_given_and_a_chain_node_blocks_when_given():
    collider, chain = "A causes B. C causes B.", "A causes B. B causes C."
    # positions: Are A and C d-separated ? | A(6) causes B(8) . C(10) causes B(12) .
    # B is named twice: at 8 whether it is given, at 12 whether it blocks; A and C never block
    assert targets_of("Are A and C d-separated?", collider) == {6: 0, 8: 0, 10: 0, 12: 1}
    # with 'given { B }' four tokens longer: A(10) B(12) B-or-C(14) B-or-C(16)
    assert targets_of("Are A and C d-separated given {B}?", collider) == {10: 0, 12: 1, 14: 0, 16: 0}
    assert targets_of("Are A and C d-separated given {B}?", chain) == {10: 0, 12: 1, 14: 1, 16: 0}
    assert targets_of("Are A and C d-separated?", chain) == {6: 0, 8: 0, 10: 0, 12: 0}
    # a node outside the pair's path never blocks it; a name's target sits on its last character
    assert targets_of("Are Ab and B d-separated?", "Ab causes B. C causes B.") == {8: 0, 10: 0, 12: 0, 14: 0}


def test_the_nodes_that_block_are_exactly_what_makes_a_pair_d_separated():
    data = dseparation.generate(dseparation.preset("DSEP", size=3000, seed=5))
    for turned in (rendering.question_first(data), rendering.question_first(rendering.given_first(data))):
        blocks = blocking.node_targets(turned.tokens, turned.lengths, ("blocks",))
        marked = (blocks >= 0).any(axis=1)
        assert 0.7 < marked.mean() < 0.8  # the chains, not the quarter of random DAGs
        assert ((blocks == 1).any(axis=1)[marked] == (turned.labels[marked] == 1)).all()
        # one given target per node named twice, 1 exactly as often as the given sets name one
        given = blocking.node_targets(turned.tokens, turned.lengths, ("given",))
        sizes = dseparation.given_sizes(turned.tokens, turned.lengths)
        chain_nodes = (blocks >= 0).sum(axis=1)
        assert ((given >= 0).sum(axis=1)[marked] == chain_nodes[marked] - 2).all()
        ends_given = sizes[marked] - (given == 1).sum(axis=1)[marked]  # given nodes at a chain's end
        assert ends_given.min() == 0 and 0 < (ends_given > 0).mean() < 0.6
    published = rendering.question_first(suites.build("dseparation/flipped_chain/len=7"))
    blocks = blocking.node_targets(published.tokens, published.lengths, ("blocks",))
    assert ((blocks >= 0).sum(axis=1) == 7).all()
    assert ((blocks == 1).any(axis=1) == (published.labels == 1)).all()
    both = blocking.node_targets(published.tokens, published.lengths)
    assert ((both >= 0).sum(axis=1) == 7 + 5).all()


def test_no_targets_where_no_premise_token_could_know_them():
    premise_first = suites.build("dseparation/flipped_chain/len=7")  # the question comes last
    transitivity = rendering.question_first(suites.build("flipped_chain/len=7"))
    dags = rendering.question_first(suites.build("dseparation/branching_bf1.4/n=8"))
    for rows in (premise_first, transitivity, dags):
        assert (blocking.node_targets(rows.tokens, rows.lengths) == blocking.IGNORE).all()
    # a shuffled chain gets targets only in the 2 of its 5! sentence orders that walk it (10 of 600 expected)
    shuffled = rendering.question_first(dseparation.generate(dseparation.DSeparationSpec(
        size=600, seed=2, shuffle_share=1.0, chain_lengths=(6, 6))))
    targets = blocking.node_targets(shuffled.tokens, shuffled.lengths, ("blocks",))
    marked = (targets >= 0).any(axis=1)
    assert 0 < marked.sum() <= 25 and ((targets == 1).any(axis=1)[marked] == (shuffled.labels[marked] == 1)).all()


def test_the_node_loss_is_a_two_way_cross_entropy_at_the_marked_positions_only():
    logits = torch.randn(2, 5, tokenizer.VOCAB_SIZE)
    targets = torch.full((2, 5), -1)
    assert node_loss(logits, targets, 0).item() == 0.0
    targets[0, 1], targets[1, 3] = 1, 0
    pair = torch.stack([logits[0, 1, [tokenizer.NO_ID, tokenizer.YES_ID]],
                        logits[1, 3, [tokenizer.NO_ID, tokenizer.YES_ID]]])
    expected = torch.nn.functional.cross_entropy(pair, torch.tensor([1, 0]))
    assert torch.isclose(node_loss(logits, targets, 2), expected)


def test_the_node_loss_teaches_which_node_blocks():
    # a tiny NoPE model on question-first 3-4-node chains: at the marked names its (No, Yes)
    # logits, which nothing else trains there, pick out the blocking nodes and the others alike
    spec = dseparation.DSeparationSpec(size=512, seed=3, chain_lengths=(3, 4), name_length=(1, 1), max_given=1)
    data = rendering.question_first(dseparation.generate(spec))
    model_config = ModelConfig.preset("tiny", vocab_size=tokenizer.VOCAB_SIZE, dropout=0.0, n_layer=2,
                                      mixer="conv", pe="none", embed_init="paper")
    train = TrainConfig(lr=3e-3, batch_size=64, epochs=40, grad_clip=1.0, question_first=True, node_loss=1.0)
    trainer = Trainer(RunConfig(spec, model_config, train), RunData(data, data, {}, "in-memory"), Worker())
    trainer.fit(lambda metrics, _: None)
    batch = assemble([(trainer.phases[-1], np.arange(256))])
    targets = torch.from_numpy(blocking.node_targets(batch.tokens.numpy(), batch.lengths.numpy(), ("blocks",)))
    with torch.no_grad():
        every = trainer.model(batch.tokens, batch.lengths, every_position=True).tokens
    says_yes = every[..., tokenizer.YES_ID] > every[..., tokenizer.NO_ID]
    blocking_acc = says_yes[targets == 1].float().mean().item()
    other_acc = (~says_yes[targets == 0]).float().mean().item()
    assert blocking_acc > 0.75 and other_acc > 0.9, (blocking_acc, other_acc)


@pytest.mark.parametrize("sections, message", [
    ({"data": {"task": "dseparation"}, "train": {"node_loss": 1.0}}, "needs train.question_first"),
    ({"data": {"chain_lengths": [3, 4]}, "train": {"node_loss": 1.0, "question_first": True}},
     "needs d-separation data"),
    ({"data": {"task": "dseparation"}, "train": {"node_loss": -1.0}}, "train.node_loss"),
    ({"data": {"task": "dseparation"}, "train": {"node_loss": 1.0, "question_first": True,
                                                 "pack_length": 64, "batch_tokens": 512}},
     "not available with train.pack_length"),
])
def test_the_node_loss_refuses_what_it_cannot_target(sections, message):
    with pytest.raises(UserError, match=message):
        build_run(sections, "run.yaml")
