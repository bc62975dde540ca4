"""Adversarial poisoning (Tanno et al. §4.1, Fig. 4c): 30 % of the training images of classes 1, 6, 7 and 9 replaced
by FGSM images crafted against separately trained clean victim models, each labelled with the victims' prediction.
Unlike harmless noise, poison can make the model fail; the paper's claims: the scorers find it better than random,
and removing their top causes beats removing all the poison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from remedy.data import Corruption, DatasetSplit, fgsm_poison
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.experiments.studies import (
    CLASSES,
    FRACTION,
    corrupted_study,
    corruption_run,
    dataset_for,
    left_out,
)
from remedy.experiments.study_report import resumed, study_result, tables
from remedy.models import build_model, train_model
from remedy.models.config import QUICK_RECIPE, RECIPE
from remedy.seeds import derive

EPSILON = 0.2
"""FGSM's step, in pixel units (images span 1 from black to white); the seed paper's text does not give its ε."""

VICTIMS = 2
"""Clean models the images are crafted against (an ensemble: the poison transfers to the model trained on it)."""

EVERY = "all the poison"


def victims(data: DatasetSplit, seed: int, quick: bool) -> list[nn.Module]:
    """:data:`VICTIMS` models trained on the clean training set with the benchmarks' recipe and seeds of their own."""
    arch = "cnn" if data.is_image else "mlp"
    shape = tuple(data.train.x.shape[1:])
    recipe = QUICK_RECIPE if quick else RECIPE
    out = []
    for k in range(VICTIMS):
        own = derive(seed, f"victim-{k}") % 2**31
        out.append(train_model(build_model(arch, shape, data.num_classes, own), data.train, config=recipe, seed=own)[0])
    return out


def study(seed: int, quick: bool, dataset: str) -> dict[str, Any]:
    """One seed: the poisoned training set, every scorer's ranking against the poison, and the removal of its top
    causes beside removing all of it."""
    made: dict[str, Any] = {}

    def corrupt(data: DatasetSplit, seed: int) -> Corruption:
        x, low, high = data.train.x, float(data.train.x.min()), float(data.train.x.max())
        attacked = victims(data, seed, quick)
        c = fgsm_poison(x, data.train.y, list(CLASSES), FRACTION, EPSILON, attacked, seed, low, high)
        made["relabelled"] = int((c.y != c.true_y).sum())
        return c

    run = corruption_run(corrupted_study(seed, quick, corrupt, dataset, record=not quick), quick, EVERY)
    return {"seed": seed, "relabelled": made["relabelled"]} | run


@EXPERIMENTS.register("poisoning")
def poisoning(
    seed: int,
    quick: bool,
    *,
    work: Path | None = None,
    seeds: list[int] | None = None,
    settings: list[str] | None = None,
) -> Result:
    dataset = dataset_for(quick, settings)
    seeds = seeds or list(range(seed, seed + (1 if quick else 3)))
    runs = [resumed(work, f"poisoning-{dataset}", s, quick, lambda s, q: study(s, q, dataset)) for s in seeds]
    chosen = {
        "seeds": seeds,
        "dataset": dataset,
        "left_out": left_out(quick, dataset),
        "epsilon": EPSILON,
        "victims": VICTIMS,
        "fraction": FRACTION,
        "classes": list(CLASSES),
        "top": runs[0]["top"],
    }
    return study_result(
        f"Adversarial poisoning: FGSM images replace 30 % of classes 1, 6, 7, 9 ({dataset})",
        tables(runs) | {"runs": runs, "settings": chosen},
        (
            f"{FRACTION:.0%} of the training images of classes 1, 6, 7 and 9 are replaced by FGSM images (ε = "
            f"{EPSILON} in pixel units) crafted against {VICTIMS} models trained separately on the clean training set, "
            "each labelled with the victims' prediction on it; θ̂ is trained on the poisoned set with the benchmarks' "
            "recipe and the query is its failures of those classes in the query half. Every scorer ranks the training "
            "set against the poison; its top causes are removed by the default treatment and measured on the held-out "
            "half beside nothing removed, all the poison removed and a random set. The paper's claims: the scorers "
            "find the poison better than random, and removing their causes beats removing all the poison."
        ),
        "poisoned",
        EVERY,
    )
