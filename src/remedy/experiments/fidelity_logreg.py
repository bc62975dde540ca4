"""Bae et al. 2022 on a convex model: LOO, the PBRF and influence estimates on L2-regularised logistic regression."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from remedy.curvature.functional import FunctionalModel
from remedy.curvature.solvers import ihvp
from remedy.data import load_dataset
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.fidelity import GAP_TERMS, Responses, correlations, gap_terms, minimise
from remedy.metrics import PerExampleLoss
from remedy.models import LogisticRegression
from remedy.posterior import Posterior
from remedy.report.plots import to_data_uri
from remedy.task import Examples, cross_entropy

WD, POINTS, MEASUREMENTS = 0.1, 60, 5
ESTIMATORS = {
    "exact": ("hessian", "direct", {}),
    "cg": ("ggn", "cg", {"max_iter": 5}),
    "lissa": ("ggn", "lissa", {"depth": 50, "batch_size": 64}),
    "ekfac": ("ekfac", "closed-form", {}),
}


@EXPERIMENTS.register("fidelity-logreg")
def fidelity_logreg(seed: int, quick: bool) -> Result:
    data = load_dataset("breast-cancer")
    train, test = Examples(data.train.x.double(), data.train.y), Examples(data.test.x.double(), data.test.y)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LogisticRegression(train.x.shape[1], 2).double().eval()
    f = FunctionalModel(model)
    theta = minimise(lambda t: cross_entropy(f(t, train.x), train.y).mean() + 0.5 * WD * t.square().sum(), f.theta)
    torch.nn.utils.vector_to_parameters(theta, list(model.parameters()))
    posterior = Posterior(model, train, weight_decay=WD)
    with torch.no_grad():
        hardest = cross_entropy(model(test.x), test.y).argsort(descending=True)[:MEASUREMENTS]
    measured = test[hardest]
    responses = Responses(posterior, lambda t: cross_entropy(f(t, measured.x), measured.y), proximity=WD)
    points = torch.linspace(0, posterior.n - 1, 20 if quick else POINTS).long()
    truths = {
        name: torch.stack([getattr(responses, name)(int(j)) for j in points])
        for name in ("loo_scratch", "loo_warm", "proximal", "pbrf", "linearized")
    }
    jacobian = PerExampleLoss(measured).jacobian(posterior.model).T  # [P, Q]
    estimates: dict[str, Tensor] = {}
    for name, (curvature, solver, options) in ESTIMATORS.items():
        directions = ihvp(posterior.curvature(curvature), jacobian, 0.0, solver, **options)
        estimates[name] = posterior.train_products(directions)[points] / posterior.n
    terms = gap_terms(*truths.values(), estimates["cg"])
    summary = {
        "correlation": {
            name: {"loo": correlations(e, truths["loo_scratch"]), "pbrf": correlations(e, truths["pbrf"])}
            for name, e in estimates.items()
        },
        "gap_terms": {name: float(terms[name].abs().mean()) for name in GAP_TERMS},
        "gap_total": float(terms["total"].abs().mean()),
        "loo_scale": float(truths["loo_scratch"].abs().mean()),
        "n_points": len(points),
        "n_measurements": MEASUREMENTS,
        "settings": {"dataset": "breast-cancer", "weight_decay": WD, "proximity": WD, "gap_estimator": "cg"},
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
            "consecutive ground truths (LOO from scratch → warm → proximal → PBRF → linearised → CG, 5 products)."
        ),
        figures=[(to_data_uri(fig), "Predicted against actual changes.")],
    )
