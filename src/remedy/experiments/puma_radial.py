"""PUMA blog Fig. 6: remove one spatial cluster of one class and compare with retraining without it."""

from __future__ import annotations

import torch

from remedy.curvature import InverseSettings
from remedy.data.tabular import make_radial
from remedy.examples import Examples
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.experiments.common import accuracy, fit, patch_numbers, predict
from remedy.metrics import Error, PerExampleLoss
from remedy.models import MLP
from remedy.models.config import TrainConfig
from remedy.posterior import Posterior
from remedy.puma import patch
from remedy.report import plots
from remedy.seeds import stream

CONFIG = TrainConfig(lr=1e-2, max_epochs=300, patience=30)
INVERSE = InverseSettings("ggn", "direct", damping=1e-3)


def _data(seed: int, n: int, cluster: int) -> tuple[Examples, torch.Tensor, Examples]:
    """Concentric circles (class 0 outside, class 1 inside) plus a cluster of ``cluster`` class-1 points just
    outside the outer ring, at (1.3, 0); returns the training set, the cluster's indices and a test set
    without a cluster."""
    x, y = make_radial(n, 0.08, seed)
    gen = stream(seed, "cluster")
    island = torch.randn(cluster, 2, generator=gen) * 0.05 + torch.tensor([1.3, 0.0])
    train = Examples(torch.cat([x, island]), torch.cat([y, torch.ones(cluster, dtype=torch.long)]))
    test = Examples(*make_radial(1000, 0.08, seed, "radial-test"))
    return train, torch.arange(n, n + cluster), test


@EXPERIMENTS.register("puma-radial")
def puma_radial(seed: int, quick: bool) -> Result:
    train, causes, test = _data(seed, 300 if quick else 600, 40)
    kept = torch.ones(len(train), dtype=torch.bool)
    kept[causes] = False
    make = lambda: MLP(2, 2, hidden=(32, 32))  # noqa: E731
    model = fit(make, train, CONFIG, seed)
    retrained = fit(make, train[kept], CONFIG, seed)
    posterior = Posterior(model, train)
    preserve, guard = PerExampleLoss(train[kept]), Error(train[kept])
    cap = 100.0 / len(train)
    puma = patch(posterior, causes, preserve, guard=guard, delta=0.01, max_step=cap, inverse=INVERSE)
    naive = patch(posterior, causes, preserve, guard=guard, delta=0.01, max_step=cap, compensate=False, inverse=INVERSE)
    removed, others = train[causes], train[kept]
    target = predict(retrained, removed)

    def agreement(m: torch.nn.Module) -> float:
        return float((predict(m, removed) == target).double().mean())

    before = accuracy(model, others)
    summary = {
        "removed_agreement_with_retrain": agreement(puma.model),
        "other_accuracy_change": accuracy(puma.model, others) - before,
        "naive_other_accuracy_change": accuracy(naive.model, others) - before,
        "naive_removed_agreement_with_retrain": agreement(naive.model),
        "original_removed_agreement_with_retrain": agreement(model),
        "retrain_other_accuracy_change": accuracy(retrained, others) - before,
        "test_accuracy": {
            "original": accuracy(model, test),
            "puma": accuracy(puma.model, test),
            "naive": accuracy(naive.model, test),
            "retrain": accuracy(retrained, test),
        },
        "n_train": len(train),
        "n_removed": len(causes),
        "puma": patch_numbers(puma),
        "naive": patch_numbers(naive),
        "settings": {"model": "mlp 2-32-32-2", "max_step": cap, "inverse": INVERSE.to_dict()},
    }
    figure = plots.decision_regions(
        {"original": model, "PUMA": puma.model, "naive (λ = 0)": naive.model, "retrained without ×": retrained},
        train.x,
        train.y,
        ~kept,
    )
    return Result(
        title="PUMA: removing a cluster of one class (radial data)",
        summary=summary,
        description=(
            f"Concentric circles with a cluster of {len(causes)} inner-class points just outside the outer ring (×). "
            "An MLP learns the cluster; PUMA removes it in one patch, compensating with weights λ* on the kept "
            "points so that their per-example losses stay put to first order; the step η is the largest of "
            f"{cap:.3g}·2⁻ᵏ that changes the error on the kept points by at most δ = 0.01. Naive removal uses "
            "λ = 0 and the same line search. Retraining without the cluster is the reference."
        ),
        figures=[(figure, "Decision regions; × are the removed points.")],
    )
