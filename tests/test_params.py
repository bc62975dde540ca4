"""Choosing the parameters (``--params``, ``Task(params=…)``): scores and treatments act on those only, the user's
model is untouched, and a pattern that matches nothing, or a method that replays every parameter, is one line."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.cli import main
from remedy.curvature.grads import per_example_grads
from remedy.models import MLP
from remedy.params import choose, parse_params
from remedy.task import cross_entropy


@pytest.fixture(scope="module")
def mlp_problem(flipped_logreg: dict) -> dict:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MLP(2, 2, hidden=(8,))
    config = remedy.TrainConfig(lr=0.05, max_epochs=20, early_stopping=False)
    model, record = remedy.train_model(model, flipped_logreg["train"], config=config, seed=0)
    return {**flipped_logreg, "model": model, "record": record}


def test_the_last_layer_alone_gives_the_last_layers_gradients_and_edits(mlp_problem: dict) -> None:
    model, train = mlp_problem["model"], mlp_problem["train"]
    names = [n for n, _ in model.named_parameters()]
    last = names[-2].rsplit(".", 1)[0] + ".*"
    posterior = remedy.Posterior(model, train, record=mlp_problem["record"], params=(last,))
    assert all(p.requires_grad for p in model.parameters())  # the user's model is untouched
    w, b = list(model.parameters())[-2:]
    assert posterior.theta().numel() == w.numel() + b.numel()
    split = remedy.split_test(model, mlp_problem["test"], seed=0)
    # every pass differentiates the chosen layer only: the per-example gradients are the last layer's
    grads = torch.cat([g for _, g in per_example_grads(posterior.model, cross_entropy, train.take(torch.arange(5)))])
    for i in range(5):
        loss = torch.nn.functional.cross_entropy(model(train.x[i : i + 1]), train.y[i : i + 1])
        expected = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, [w, b])])
        torch.testing.assert_close(grads[i].float(), expected, rtol=1e-5, atol=1e-6)
    scores = remedy.identify(posterior, split.query, "linear-influence").values
    everything = remedy.identify(
        remedy.Posterior(model, train, record=mlp_problem["record"]), split.query, "linear-influence"
    ).values
    assert not torch.allclose(scores, everything)
    repaired = remedy.repair(posterior, torch.arange(10), "finetune", guard=split.query.guard).model
    for (name, before), after in zip(model.named_parameters(), repaired.parameters(), strict=True):
        assert torch.equal(before, after) == (not name.startswith(last[:-2])), name  # only the chosen layer moves


def test_a_pattern_that_matches_nothing_or_a_replaying_method_is_one_line(capsys) -> None:
    with pytest.raises(remedy.RemedyError, match=r"^--params: expected glob patterns matching"):
        choose(MLP(2, 2, hidden=(4,)), ("head.*",))
    assert parse_params(" net.5.*, net.3.bias ,") == ("net.5.*", "net.3.bias") and parse_params(None) == ()
    flags = ["demo", "--quick", "--dataset", "digits", "--out", "unused", "--identify", "sgd-influence"]
    assert main([*flags, "--params", "net.5.*"]) == 2
    assert "--params: expected no parameter choice with --identify sgd-influence" in capsys.readouterr().err
