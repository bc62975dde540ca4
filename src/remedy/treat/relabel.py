"""Relabelling (Tanno et al. §5 name label correction as the next step): keep each cause, correct its label."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from remedy.errors import check
from remedy.examples import Examples
from remedy.models.crossval import out_of_sample, probabilities
from remedy.posterior import Posterior
from remedy.treat.finetune import AVERAGE, EPOCHS, LR, schedule
from remedy.treat.registry import TREATMENTS
from remedy.update import FineTune


def corrected_labels(posterior: Posterior, causes: Tensor, source: str, folds: int, seed: int) -> Tensor:
    """For each cause, the class the ``source`` probabilities favour among the classes other than its given label:
    θ̂'s own (``model``), or K-fold out-of-sample ones (``out-of-sample``, as cleanlab uses; ``folds`` trainings,
    shared with the ``cleanlab`` scorer). A cause is flagged because its label is suspect, so the given label is
    never kept."""
    check(source in ("model", "out-of-sample"), "source", f"'model' or 'out-of-sample', got {source!r}")
    if source == "model":
        probs = probabilities(posterior.model, posterior.train.subset(causes))
    else:
        probs = out_of_sample(posterior, folds, seed)[causes]
    given = posterior.train.labels[causes.to(posterior.train.labels.device)].cpu()
    probs[torch.arange(len(causes)), given] = -1.0
    return probs.argmax(1)


@TREATMENTS.register("relabel")
def relabel(
    posterior: Posterior,
    causes: Tensor,
    guard: Examples,
    *,
    source: str = "model",
    folds: int = 5,
    epochs: int = EPOCHS,
    lr: float | None = LR,
    average: float = AVERAGE,
    early_stop: bool = False,
    seed: int = 0,
    stop_on: str = "loss",
) -> nn.Module:
    """Maximise ``log p(D' | θ)`` from θ̂ on fine-tuning's schedule (:func:`remedy.treat.finetune.schedule`), where D'
    is D with each cause's label replaced by :func:`corrected_labels`. Unlike removal, a corrected example keeps
    teaching the model its true class. The out-of-sample source's folds are trained once, with the run's seed 0
    stream, whatever the treatment seed."""
    labels = posterior.train.labels.clone()
    if len(causes):
        labels[causes.to(labels.device)] = corrected_labels(posterior, causes, source, folds, 0).to(labels.device)
    config = schedule(posterior, epochs, lr, average, early_stop)
    return posterior.insert(posterior.train.relabelled(labels), FineTune(config, seed, stop_on), guard).model
