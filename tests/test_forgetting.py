"""The measures of forgetting: membership attacks that see nothing between two samples of one distribution and see
the training set of an overfit model; agreement, KL and the tug of war at their reference values."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.evaluate.forgetting import agreement, kl_divergence, loss_attack_auc, svc_attack, tug_of_war
from remedy.examples import Examples
from remedy.models import MLP


def random_labels(n: int, seed: int) -> Examples:
    """Inputs that say nothing about their labels: a model can only memorise them."""
    gen = torch.Generator().manual_seed(seed)
    return Examples(torch.randn(n, 50, generator=gen), torch.randint(0, 2, (n,), generator=gen))


@pytest.fixture(scope="module")
def overfit() -> dict:
    train, test = random_labels(100, 0), random_labels(600, 1)
    config = remedy.TrainConfig(lr=0.01, max_epochs=60, early_stopping=False, batch_size=20)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = MLP(50, 2, hidden=(256,))
    model, _ = remedy.train_model(net, train, config=config)
    return {"model": model, "train": train, "test": test}


def test_the_loss_attack_sees_an_overfit_models_training_set(overfit: dict) -> None:
    model, train, test = overfit["model"], overfit["train"], overfit["test"]
    assert loss_attack_auc(model, train, test) > 0.7
    first, second = test[torch.arange(0, 300)], test[torch.arange(300, 600)]
    assert abs(loss_attack_auc(model, first, second) - 0.5) < 0.06  # one distribution: nothing to see


def test_the_svc_attack_calls_training_examples_members_and_unseen_ones_not(overfit: dict) -> None:
    model, train, test = overfit["model"], overfit["train"], overfit["test"]
    members = train[torch.arange(0, 50)]
    kept = train[torch.arange(50, 100)]
    fresh = test[torch.arange(300, 600)]
    assert (
        svc_attack(model, kept, test[torch.arange(0, 300)], members)
        > svc_attack(model, kept, test[torch.arange(0, 300)], fresh) + 0.2
    )


def test_agreement_kl_and_tug_of_war_at_their_reference_values(overfit: dict) -> None:
    model, test = overfit["model"], overfit["test"]
    assert agreement(model, model, test) == 1.0 and kl_divergence(model, model, test) == pytest.approx(0.0, abs=1e-12)
    other = MLP(50, 2, hidden=(4,)).eval()
    assert agreement(model, other, test) < 1.0 and kl_divergence(model, other, test) > 0
    same = {"forgotten": 0.9, "kept": 0.8, "test": 0.7}
    assert tug_of_war(same, same) == 1.0
    assert tug_of_war({"forgotten": 0.8, "kept": 0.8, "test": 0.7}, same) == pytest.approx(0.9)
