"""Bae et al. 2022 on a convex model: LOO, the PBRF and influence estimates on L2-regularised logistic regression."""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import torch
from torch import nn

from remedy.curvature import InverseSettings
from remedy.data import load_dataset
from remedy.examples import Examples
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.experiments.common import full_batch_posterior
from remedy.fidelity import Responses, influence, lds, minimise, summarise
from remedy.metrics import PerExampleLoss
from remedy.models import LogisticRegression
from remedy.report.plots import to_data_uri
from remedy.seeds import seeded, stream
from remedy.task import cross_entropy

WD, POINTS, MEASUREMENTS, SUBSETS = 0.1, 60, 5, 30
ESTIMATORS = {
    "exact": influence(InverseSettings("hessian", "direct", damping=0.0)),
    "cg": influence(InverseSettings("ggn", "cg", damping=0.0, options={"max_iter": 5})),
    "lissa": influence(InverseSettings("ggn", "lissa", damping=0.0, options={"depth": 50, "batch_size": 64})),
    "ekfac": influence(InverseSettings("ekfac", "closed-form", damping=0.0)),
}


def logistic_regression(features: int, seed: int) -> nn.Module:
    with seeded(seed, "init"):
        return LogisticRegression(features, 2).double()


@EXPERIMENTS.register("fidelity-logreg")
def fidelity_logreg(seed: int, quick: bool) -> Result:
    data = load_dataset("breast-cancer")
    train, test = Examples(data.train.x.double(), data.train.y), Examples(data.test.x.double(), data.test.y)
    init = functools.partial(logistic_regression, train.x.shape[1])
    posterior = full_batch_posterior(init, train, WD, minimise, seed)
    with torch.no_grad():
        hardest = cross_entropy(posterior.model(test.x), test.y).argsort(descending=True)[:MEASUREMENTS]
    measured = PerExampleLoss(test[hardest])
    responses = Responses(posterior, measured, proximity=WD)
    points = torch.linspace(0, posterior.n - 1, 20 if quick else POINTS).long()
    truths = responses.table(points.tolist(), seeds=(seed,))
    everyone = torch.arange(posterior.n)
    predicted = {name: estimate(posterior, measured, everyone) for name, estimate in ESTIMATORS.items()}
    estimates = {name: p[points] for name, p in predicted.items()}
    kept = torch.rand(10 if quick else SUBSETS, posterior.n, generator=stream(seed, "lds-subsets")) < 0.5
    retrained = torch.stack([responses.loo_scratch(~mask, seeds=(seed,)) for mask in kept])
    summary = summarise(truths, estimates, "cg") | {
        "lds": {name: lds(p, kept, retrained) for name, p in predicted.items()},
        "n_points": len(points),
        "n_measurements": MEASUREMENTS,
        "settings": {"dataset": "breast-cancer", "weight_decay": WD, "proximity": WD},
    }
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    for name, marker in (("loo_scratch", "o"), ("pbrf", "x")):
        ax.scatter(estimates["exact"].flatten(), truths[name].flatten(), s=10, marker=marker, label=name)
    ax.set(xlabel="influence estimate (exact inverse)", ylabel="actual change in test loss")
    ax.legend()
    return Result(
        title="Influence fidelity on L2-regularised logistic regression (breast-cancer)",
        summary=summary,
        description=(
            f"Removing each of {len(points)} training points; measurements: the losses of the {MEASUREMENTS} "
            "hardest test examples. On a convex model with weight decay λ = 0.1 and proximity λ, LOO, the PBRF "
            "and influence should agree; the five gap terms are the mean absolute differences between "
            "consecutive ground truths (LOO from scratch → warm → proximal → PBRF → linearised → CG, 5 products). "
            f"The linear datamodeling score (lds) compares each estimator's summed predictions with retraining on "
            f"{len(kept)} random halves of the training set."
        ),
        figures=[(to_data_uri(fig), "Predicted against actual changes.")],
    )
