"""The baseline scorers against direct computations, and the cleanlab scorer on planted flips."""

from __future__ import annotations

import torch

import remedy
from remedy.curvature import InverseSettings
from remedy.evaluate import detection_curve
from remedy.models.crossval import out_of_sample_probabilities
from remedy.task import cross_entropy


def test_self_loss_and_random(flipped_logreg: dict) -> None:
    posterior = remedy.Posterior(flipped_logreg["model"], flipped_logreg["train"])
    failures = remedy.QueryHalf.of(flipped_logreg["test"][:10])
    train = flipped_logreg["train"]
    with torch.no_grad():
        expected = cross_entropy(flipped_logreg["model"](train.x), train.y).double()
    torch.testing.assert_close(remedy.identify(posterior, failures, "self-loss").values, expected)
    a = remedy.identify(posterior, failures, "random", seed=3).values
    assert torch.equal(a, remedy.identify(posterior, failures, "random", seed=3).values)
    assert not torch.equal(a, remedy.identify(posterior, failures, "random", seed=4).values)


def test_self_influence_is_the_quadratic_form(flipped_logreg: dict) -> None:
    model, train = flipped_logreg["model"], flipped_logreg["train"]
    posterior = remedy.Posterior(model, train)
    inverse = InverseSettings("hessian", "direct", damping=0.01)
    h = posterior.curvatures.get("hessian").dense().double() + 0.01 * torch.eye(6, dtype=torch.float64)
    rows = []
    for i in range(len(train)):
        model.zero_grad()
        cross_entropy(model(train.x[i : i + 1]), train.y[i : i + 1]).sum().backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double())
    g = torch.stack(rows)
    expected = (g * torch.linalg.solve(h, g.T).T).sum(1)
    got = remedy.identify(posterior, remedy.QueryHalf.of(train[:2]), "self-influence", inverse=inverse).values
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)


def test_cleanlab_ranks_planted_flips_first(flipped_logreg: dict) -> None:
    posterior = remedy.Posterior(
        flipped_logreg["model"], flipped_logreg["train"], record=remedy.TrainingRecord(remedy.TrainConfig(lr=0.05))
    )
    scores = remedy.identify(posterior, remedy.QueryHalf.of(flipped_logreg["test"][:10]), "cleanlab", folds=3)
    mask = flipped_logreg["mask"]
    assert detection_curve(scores.values, mask).auc > 0.9
    assert bool(mask[scores.top(15)].all())  # the first half of the ranking's head is all planted flips


def test_out_of_sample_rows_come_from_models_that_never_saw_them(flipped_logreg: dict) -> None:
    """A model that memorises — one free row of logits per training input, which only training on that very input
    moves — gives every out-of-sample row its untouched prior (uniform), and confident rows to the inputs it saw."""
    train = flipped_logreg["train"]

    class Lookup(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.keys = train.x.clone()
            self.table = torch.nn.Parameter(torch.zeros(len(train), 2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            index = torch.cdist(x, self.keys).argmin(1)  # each input is one of the training inputs
            return self.table[index]

    config = remedy.TrainConfig(lr=0.5, max_epochs=20, early_stopping=False)  # its validation loss never moves
    probs = out_of_sample_probabilities(lambda s: Lookup(), train, cross_entropy, config, 4, 0)
    torch.testing.assert_close(probs, torch.full((len(train), 2), 0.5, dtype=torch.float64))
    seen, _ = remedy.train_model(Lookup(), train, config=config)  # the premise: in sample, it has memorised
    assert float((seen(train.x).argmax(1) == train.y).double().mean()) > 0.85
