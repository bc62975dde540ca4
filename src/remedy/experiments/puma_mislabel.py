"""PUMA blog Fig. 5: find uniformly flipped labels with PUMA's ψ, beside the other scorers and random order."""

from __future__ import annotations

from typing import Any

import torch

from remedy import Posterior, identify, split_test
from remedy.curvature import InverseSettings
from remedy.data import load_dataset
from remedy.data.corrupt import flip_uniform
from remedy.evaluate import detection_curve
from remedy.examples import Examples
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.metrics import Loss
from remedy.models import build_model, train_model
from remedy.puma import valuation
from remedy.report import plots
from remedy.seeds import stream

RATE = 0.1
INVERSE = InverseSettings("ggn", "cg", damping=0.01, options={"max_iter": 10})


def _study(name: str, seed: int, quick: bool) -> tuple[dict[str, Any], str]:
    data = load_dataset(name, quick)
    noise = flip_uniform(data.train.x, data.train.y, RATE, data.num_classes, seed)
    train = Examples(noise.x, noise.y)
    architecture = "cnn" if data.is_image and name == "mnist" else "mlp"
    model, log = train_model(
        build_model(architecture, tuple(train.x.shape[1:]), data.num_classes, seed), train, seed=seed
    )
    posterior = Posterior(model, train)
    failures = split_test(model, data.test, seed=seed)
    val = data.test[torch.randperm(len(data.test), generator=stream(seed, "validation"))[: len(data.test) // 2]]
    scores = {
        "puma (validation loss)": -valuation(posterior, Loss(val), INVERSE)[:, 0],
        "linear-influence (F_q)": identify(posterior, failures, "linear-influence", inverse=INVERSE).values,
        "ewc-influence (F_q)": identify(posterior, failures, "ewc-influence", seed=seed).values,
        "self-loss": -posterior.log_likelihood(train),
        "random": torch.rand(len(train), generator=stream(seed, "random-order"), dtype=torch.float64),
    }
    curves = {method: detection_curve(values.double().cpu(), noise.mask) for method, values in scores.items()}
    numbers = {
        "detection": {method: c.auc for method, c in curves.items()}
        | {"oracle": next(iter(curves.values())).oracle_auc},
        "found_at_10pct": {method: c.found_at(0.1) for method, c in curves.items()},
        "found_at_20pct": {method: c.found_at(0.2) for method, c in curves.items()},
        "n_train": len(train),
        "n_flipped": noise.n_corrupted,
        "model": architecture,
        "train_epoch_seconds": log.epoch_seconds,
    }
    figure = plots.detection_curves({m: (c.inspected, c.found) for m, c in curves.items()}, title=name)
    return numbers, figure


@EXPERIMENTS.register("puma-mislabel")
def puma_mislabel(seed: int, quick: bool) -> Result:
    studies = {name: _study(name, seed, quick) for name in ("mnist", "digits")}
    summary = {
        "detection": studies["mnist"][0]["detection"],
        "datasets": {name: numbers for name, (numbers, _) in studies.items()},
        "settings": {"flip_rate": RATE, "inverse": INVERSE.to_dict()},
    }
    return Result(
        title="PUMA: finding mislabelled training data (10 % uniform label flips)",
        summary=summary,
        description=(
            "10 % of the training labels of MNIST-3000 (CNN) and scikit-learn's digits (MLP) are flipped uniformly "
            "to another class. Each scorer ranks the training set; the curves count the flipped labels found as "
            "the ranking is inspected from the top. PUMA values every example by ψ on the mean loss of a clean "
            "validation half of the test set (harm = −ψ); linear influence and EWC-influence explain the failures "
            "F_q; self-loss ranks by each example's own training loss. `detection` in summary.json is MNIST's."
        ),
        figures=[(figure, f"{name}: fraction of flipped labels found") for name, (_, figure) in studies.items()],
    )
