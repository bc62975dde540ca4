"""Amnesiac machine learning (Graves, Nagisetty & Ganesh 2021): undo the training steps that saw the causes."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from remedy.examples import Examples
from remedy.posterior import Posterior
from remedy.treat.finetune import schedule
from remedy.treat.registry import TREATMENTS
from remedy.update import FineTune


def subtract_steps(posterior: Posterior, steps: list[int]) -> Tensor:
    """``θ̂ − Σ_{t ∈ steps} Δθ_t``: θ̂ with the recorded updates of those optimiser steps taken back (float64 sum)."""
    trajectory = posterior.record.trajectory
    assert trajectory is not None  # required by the registry trait
    wanted = set(steps)
    total = torch.zeros(trajectory.n_params, dtype=torch.float64)
    for step in trajectory.iterate():
        if step.index in wanted:
            total += step.update
    return posterior.theta().double().cpu() - total


@TREATMENTS.register("amnesiac", needs=("trajectory",))
def amnesiac(
    posterior: Posterior,
    causes: Tensor,
    guard: Examples,
    *,
    epochs: int = 2,
    lr: float | None = None,
    seed: int = 0,
) -> nn.Module:
    """``θ = θ̂ − Σ_{t: B_t ∩ C ≠ ∅} Δθ_t``, then ``epochs`` of fine-tuning on D \\ C from there (at the training
    learning rate unless ``lr`` is given, averaged over the last half) to recover what the removed steps also taught.

    ``Δθ_t`` is the update the recorded optimiser step t made (:class:`~remedy.models.record.Trajectory`); only the
    steps that led to θ̂ count. The subtraction is exact: taking back every step returns the initial weights. What is
    not taken back is the optimiser's state (Adam's moments) that those steps shaped, nor the later steps' dependence
    on them — the reason for the fine-tuning. The causes' share of a removed batch's update goes with it, and so does
    the rest of that batch's (a batch of 64 with one cause loses 63 clean examples' step too): when the causes are
    spread over most batches, the subtraction takes θ back near its initialisation and the fine-tuning is a short
    retraining.
    """
    trajectory = posterior.record.trajectory
    assert trajectory is not None  # required by the registry trait
    start = (
        posterior.model
        if len(causes) == 0
        else posterior.model_at(subtract_steps(posterior, trajectory.steps_with(causes)).to(posterior.theta()))
    )
    config = schedule(posterior, epochs, lr, 0.5, early_stop=False)
    return posterior.delete(causes, FineTune(config, seed, start=start), guard).model
