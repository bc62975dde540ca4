"""Unrolling SGD (Thudi, Deza, Chandrasekaran & Papernot 2022): remove the causes' first-order contribution to θ,
summed along the recorded training run."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from remedy.errors import check
from remedy.examples import Examples
from remedy.inputs import logits
from remedy.models.train import training_objective
from remedy.posterior import Posterior
from remedy.treat.registry import TREATMENTS


def _gradient(posterior: Posterior, flat: Tensor, data: Examples, weights: Tensor) -> Tensor:
    """``Σ_i weights_i ∇ℓ_i(θ)`` at the flat parameters ``flat`` for the training objective's per-example terms, in
    eval mode (dropout off, batch-norm statistics frozen: the recorded step's own randomness cannot be replayed)."""
    model = posterior.model_at(flat.to(posterior.theta()))
    objective = training_objective(posterior.loss, posterior.record.config)
    total = (objective(logits(model, data.x), data.y) * weights.to(data.y.device)).sum()
    parameters = [p for p in model.parameters() if p.requires_grad]
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(total, parameters)]).double().cpu()


def unrolled_contribution(posterior: Posterior, causes: Tensor, at: str = "run") -> Tensor:
    """``−Σ_t P_t Σ_{z ∈ C ∩ B_t} ∇ℓ_z(θ_t) / |B_t|``: the causes' first-order contribution to θ̂, ``θ̂ − θ̂_{∖C}`` —
    the descent steps their gradients added to the run — from the training record's trajectory.

    ``P_t`` is the step's own scaling: the learning rate for SGD (with momentum, each gradient keeps contributing
    to later steps through the momentum buffer). Adam's step ``lr · m̂_t / (√v̂_t + ε)`` is not linear in the
    gradient — removing the causes changes the second moment as much as the first, to first order — so for Adam
    the contribution of step t is that step minus the same step with the causes' terms left out of both moments,
    the moments replayed from the recorded batches at the recorded iterates. In every case the gradients are those
    of the recorded run: how the removal would have moved the other examples' gradients (curvature feedback) is
    left out. ``at="start"`` is Thudi et al.'s single-gradient form: every gradient taken at the initial weights θ_0
    instead of at θ_t (cheaper: one gradient per cause, no replay).
    """
    check(at in ("run", "start"), "at", f"'run' or 'start', got {at!r}")
    trajectory = posterior.record.trajectory
    assert trajectory is not None  # required by the registry trait
    optimizer = trajectory.optimizer
    adam = optimizer["name"] == "adam"
    beta1, beta2 = optimizer.get("betas", (0.9, 0.999)) if adam else (0.0, 0.0)
    eps, momentum = optimizer.get("eps", 1e-8), optimizer.get("momentum", 0.0) or 0.0
    wanted = causes.cpu()
    zeros = torch.zeros(trajectory.n_params, dtype=torch.float64)
    total, buffer = zeros.clone(), zeros.clone()
    moments = {"with": [zeros.clone(), zeros.clone()], "without": [zeros.clone(), zeros.clone()]}
    initial = trajectory.initial() if at == "start" else None
    for step in trajectory.iterate():
        members = step.batch[torch.isin(step.batch, wanted)]
        if len(members) == 0 and not adam and not momentum:
            continue
        size = len(step.batch)
        own = zeros
        if len(members):
            data = posterior.train.take(members).to(posterior.device)
            point = step.before if initial is None else initial
            own = _gradient(posterior, point, data, torch.full((len(members),), 1.0 / size))
        if adam:
            batch = posterior.train.take(step.batch).to(posterior.device)
            grad = _gradient(posterior, step.before, batch, torch.full((size,), 1.0 / size))
            t = step.index + 1
            moved = {}
            for key, g in (("with", grad), ("without", grad - own)):
                first, second = moments[key]
                first.mul_(beta1).add_((1 - beta1) * g)
                second.mul_(beta2).add_((1 - beta2) * g.square())
                moved[key] = step.lr * first / (1 - beta1**t) / ((second / (1 - beta2**t)).sqrt() + eps)
            total -= moved["with"] - moved["without"]
        elif momentum:
            buffer.mul_(momentum).add_(own)
            total -= step.lr * buffer
        else:
            total -= step.lr * own
    return total


@TREATMENTS.register("unrolling", needs=("trajectory",))
def unrolling(
    posterior: Posterior, causes: Tensor, guard: Examples, *, at: str = "run", scale: float = 1.0
) -> nn.Module:
    """``θ = θ̂ − scale · (θ̂ − θ̂_{∖C})``: the causes' contribution along the recorded run ``θ̂ − θ̂_{∖C} ≈ −Σ_t P_t
    Σ_{z ∈ C ∩ B_t} ∇ℓ_z(θ_t) / |B_t|`` (:func:`unrolled_contribution`; Adam's steps taken with and without them)
    taken back. Accurate when the weights moved little during training, which training with
    ``TrainConfig(sd_regularizer=λ)`` (Thudi et al.'s standard-deviation loss) encourages. Cost: one gradient per
    step that saw a cause (for Adam, one batch gradient per step to replay its moments)."""
    if len(causes) == 0:
        return posterior.copy_model()
    contribution = unrolled_contribution(posterior, causes, at)
    return posterior.model_at((posterior.theta().double().cpu() - scale * contribution).to(posterior.theta()))
