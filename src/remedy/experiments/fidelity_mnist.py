"""Bae et al. 2022 on a network: LOO, the PBRF and CG / LiSSA / EK-FAC / EWC-influence on an MLP trained on MNIST
digits by full-batch gradient descent (the CNN's full-batch retraining is too slow on 2 cores).

The MLP uses GELU, not ReLU: ReLU's kinks stall L-BFGS on the proximal and PBRF objectives with gradient entries
near 1e-4 (about the size of the removal's own gradient), so no tolerance could be stated for those ground truths."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

from remedy.curvature import InverseSettings
from remedy.data import load_dataset
from remedy.data.catalog import stratified_split
from remedy.examples import Examples
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.experiments.common import full_batch_posterior, predict
from remedy.fidelity import Estimate, GradientDescent, Responses, ewc_changes, influence, summarise
from remedy.metrics import PerExampleLoss
from remedy.models import MLP
from remedy.report.plots import to_data_uri
from remedy.seeds import seeded, stream

ESTIMATORS: dict[str, Estimate] = {
    "cg": influence(InverseSettings("ggn", "cg", damping=0.0, options={"max_iter": 20})),
    "lissa": influence(InverseSettings("ggn", "lissa", damping=0.0, options={"depth": 200, "batch_size": 128})),
    "ekfac": influence(InverseSettings("ekfac", "closed-form", damping=0.0)),
    "ewc-influence": ewc_changes,
}


@dataclass(frozen=True)
class Setting:
    """One fidelity study: an MLP of ``width`` hidden units trained for ``steps`` full-batch gradient-descent
    steps on ``per_class`` MNIST training digits of each class; ``points`` removed one at a time; the losses of
    ``measurements`` misclassified test digits measured; LOO from scratch averaged over ``seeds`` inits; the
    proximal LOO and the PBRF solved to ``tol`` on the largest gradient entry."""

    width: int = 16
    steps: int = 1000
    per_class: int = 100
    points: int = 50
    measurements: int = 5
    seeds: int = 2
    weight_decay: float = 1e-2
    tol: float = 1e-8


def mlp(width: int, seed: int) -> nn.Module:
    with seeded(seed, "init"):
        return MLP(28 * 28, 10, (width,), activation=nn.GELU).double()


def mnist_subset(per_class: int) -> tuple[Examples, Examples]:
    """``per_class`` digits of each class from remedy's 3,000-image MNIST training split, and its 7,000 test digits."""
    data = load_dataset("mnist")
    keep, _ = stratified_split(data.train.y, 0, per_class=per_class)
    return Examples(data.train.x[keep].double(), data.train.y[keep]), Examples(data.test.x.double(), data.test.y)


def study(setting: Setting, seed: int, estimators: dict[str, Estimate]) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The summary of one setting (see :func:`remedy.fidelity.summarise`) and every array it came from."""
    train, test = mnist_subset(setting.per_class)
    trainer = GradientDescent(setting.steps)
    posterior = full_batch_posterior(functools.partial(mlp, setting.width), train, setting.weight_decay, trainer, seed)
    predicted = predict(posterior.model, test)
    wrong = torch.nonzero(predicted != test.y).flatten()
    pick = torch.randperm(len(wrong), generator=stream(seed, "fidelity-measurements"))[: setting.measurements]
    measured = PerExampleLoss(test[wrong[pick]])
    points = torch.randperm(posterior.n, generator=stream(seed, "fidelity-points"))[: setting.points]
    responses = Responses(
        posterior,
        measured,
        proximity=setting.weight_decay,
        tol=setting.tol,
        retrain=trainer,
    )
    arrays = responses.table(points.tolist(), seeds=tuple(range(seed, seed + setting.seeds)))
    estimates = {name: estimate(posterior, measured, points) for name, estimate in estimators.items()}
    with torch.no_grad():
        objective = float(responses.objective(None)(responses.theta))
    summary = summarise(arrays, estimates, "cg") | {
        "n_points": setting.points,
        "n_measurements": setting.measurements,
        "n_params": responses.theta.numel(),
        "train_objective": objective,
        "worst_gradient": responses.worst_gradient,
        "test_accuracy": float((predicted == test.y).double().mean()),
    }
    return summary, arrays | {f"estimate/{name}": e for name, e in estimates.items()}


@EXPERIMENTS.register("fidelity-mnist")
def fidelity_mnist(seed: int, quick: bool) -> Result:
    setting = Setting(width=4, steps=50, per_class=20, points=6, measurements=2, seeds=1) if quick else Setting()
    summary, arrays = study(setting, seed, ESTIMATORS)
    summary["settings"] = {"dataset": "mnist", "proximity": setting.weight_decay, **vars(setting)}
    fig, axes = plt.subplots(1, len(ESTIMATORS), figsize=(3.4 * len(ESTIMATORS), 3.4), sharey=True)
    for ax, name in zip(axes, ESTIMATORS, strict=True):
        predicted = arrays[f"estimate/{name}"].flatten()
        for truth, marker in (("loo_scratch", "o"), ("pbrf", "x")):
            ax.scatter(predicted, arrays[truth].flatten(), s=9, marker=marker, label=truth)
        ax.axline((0, 0), slope=1, color="grey", lw=0.8)
        ax.set(xlabel=f"{name}: predicted change", title=name)
    axes[0].set(ylabel="actual change in test loss")
    axes[0].legend()
    return Result(
        title="Influence fidelity on an MLP trained on MNIST digits",
        summary=summary,
        description=(
            f"A GELU MLP (784 → {setting.width} → 10, {summary['n_params']:,} parameters, float64) trained by "
            f"full-batch gradient descent with momentum for {setting.steps} steps on {10 * setting.per_class} "
            f"MNIST digits, weight decay {setting.weight_decay:g}. Removing each of {setting.points} random "
            f"training digits; measurements: the losses of {setting.measurements} misclassified test digits. "
            "LOO retrains with the same recipe (from scratch: the same init, averaged over "
            f"{setting.seeds} seeds; warm: from θ̂); the proximal LOO and the PBRF are solved to tolerance by "
            f"L-BFGS from θ̂ (largest gradient entry ≤ {setting.tol:g}; the worst reached is in summary.json as "
            "worst_gradient) with proximity λ = the weight decay; the linearisation is solved exactly. The gap "
            "terms are mean absolute differences between consecutive ground truths, ending at CG (20 products)."
        ),
        figures=[(to_data_uri(fig), "Each estimator's predicted changes against LOO and the PBRF (grey: y = x).")],
    )
