"""Exact metagradients through the recorded training run (MAGIC, Ilyas & Engstrom 2025): the derivative of a target
at θ̂ with respect to every training example's weight in the loss, by reverse-mode differentiation of every recorded
optimiser step — the optimiser's own state (Adam's moments, SGD's momentum) and the averaging of the iterates included.
For that run and its seed the attribution is exact to first order in the weights; it costs one backward replay of
the run (a Hessian-vector product and the batch's per-example gradients per step)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.func import grad
from tqdm.auto import tqdm

from remedy import inputs
from remedy.curvature.functional import FunctionalModel
from remedy.data.split import QueryHalf
from remedy.errors import check
from remedy.identify.registry import SCORERS
from remedy.inputs import per_example as vmapped
from remedy.models.record import Step, Trajectory
from remedy.models.train import training_objective
from remedy.posterior import Posterior

MEMORY = 4 * 2**30
"""The most bytes of optimiser states (one or two parameter vectors per step) the forward replay keeps."""


class Optimiser:
    """One recorded optimiser's step ``(θ_t, s_t, g_t) → (θ_{t+1}, s_{t+1})`` and its reverse: Adam (PyTorch's,
    without weight decay or AMSGrad) or SGD with momentum ``μ`` (PyTorch's, dampening 0; ``μ = 0`` is plain SGD).
    ``s`` is Adam's moments ``(m, v)`` or SGD's momentum buffer."""

    def __init__(self, described: dict[str, Any]) -> None:
        self.name = described["name"]
        check(self.name in ("adam", "sgd"), "optimizer", f"Adam or SGD, got {self.name!r}")
        check(not described.get("weight_decay"), "optimizer", "no weight decay inside the optimiser")
        check(not described.get("amsgrad") and not described.get("nesterov"), "optimizer", "no AMSGrad or Nesterov")
        check(not described.get("dampening"), "optimizer", "SGD without dampening")
        self.betas = described.get("betas", (0.9, 0.999))
        self.eps = float(described.get("eps", 1e-8))
        self.momentum = float(described.get("momentum") or 0.0)

    def states(self) -> int:
        return 2 if self.name == "adam" else int(self.momentum > 0)

    def forward(self, state: list[Tensor], g: Tensor, index: int) -> list[Tensor]:
        """The state after step ``index`` (0-based) from the one before it and the step's gradient."""
        if self.name == "adam":
            b1, b2 = self.betas
            return [b1 * state[0] + (1 - b1) * g, b2 * state[1] + (1 - b2) * g.square()]
        if not self.momentum:
            return []
        return [g.clone() if index == 0 else self.momentum * state[0] + g]

    def reverse(
        self, before: list[Tensor], g: Tensor, lr: float, index: int, theta_bar: Tensor, state_bar: list[Tensor]
    ) -> tuple[Tensor, list[Tensor]]:
        """Given the adjoints of θ_{t+1} (``theta_bar`` [Q, P]) and of s_{t+1}, the adjoint of the step's gradient
        g_t and of s_t (θ_t's adjoint gets ``theta_bar`` itself plus what flows through g_t)."""
        if self.name == "adam":
            b1, b2 = self.betas
            m, v = self.forward(before, g, index)
            c1, c2 = 1 - b1 ** (index + 1), 1 - b2 ** (index + 1)
            root = v.sqrt()
            d = root / c2**0.5 + self.eps
            m_bar = state_bar[0] - (lr / c1) / d * theta_bar
            dv = torch.where(root > 0, (lr / c1) * m / d.square() / (2 * root * c2**0.5), torch.zeros_like(v))
            v_bar = state_bar[1] + dv * theta_bar
            g_bar = (1 - b1) * m_bar + 2 * (1 - b2) * g * v_bar
            return g_bar, [b1 * m_bar, b2 * v_bar]
        if not self.momentum:
            return -lr * theta_bar, []
        b_bar = state_bar[0] - lr * theta_bar
        return b_bar, [torch.zeros_like(b_bar) if index == 0 else self.momentum * b_bar]


def metagradients(
    posterior: Posterior, targets: Callable[[Tensor], Tensor], desc: str = "magic", dtype: torch.dtype = torch.float64
) -> Tensor:
    """``[N, Q]``: ``∂φ_q(θ̂(w)) / ∂w_i`` at ``w = 1``, for the targets ``φ(θ) = targets(θ)`` (``[Q]`` values of the
    flat parameters), where every recorded step minimised the weighted batch objective ``(1/|B|) Σ_{i∈B} w_i ℓ_i``
    and θ̂ is the last counted iterate or the mean of the averaged ones. Forward: the optimiser's states replayed
    from the recorded batches and parameters; backward: every step in reverse, carrying the adjoints of θ and of the
    optimiser's state. The adjoints are carried in ``dtype`` (float32 halves the memory and time of many targets)."""
    trajectory = posterior.record.trajectory
    assert trajectory is not None
    optimiser = Optimiser(trajectory.optimizer)
    f = FunctionalModel(posterior.model)
    theta_hat = f.theta.detach()
    check(
        torch.allclose(trajectory.theta_hat().to(theta_hat), theta_hat, atol=1e-5),
        "record",
        "a trajectory that ends at the posterior's model",
    )
    objective = training_objective(posterior.loss, posterior.record.config)
    bytes_needed = trajectory.steps * trajectory.n_params * 4 * optimiser.states()
    check(
        bytes_needed <= MEMORY,
        "trajectory",
        f"optimiser states within {MEMORY >> 30} GiB, need {bytes_needed >> 20} MiB",
    )

    def batch_loss(theta: Tensor, x: Tensor, y: Tensor) -> Tensor:
        return objective(f(theta, x), y).mean()

    def example_loss(theta: Tensor, x: Tensor, y: Tensor) -> Tensor:
        return objective(f(theta, inputs.apply(x, lambda t: t[None])), y[None]).sum()

    per_example = vmapped(grad(example_loss), in_dims=(None, 0, 0))
    states = _replay(posterior, trajectory, optimiser, batch_loss)
    top = torch.func.jacrev(targets)(theta_hat).to(dtype)  # [Q, P]
    averaged = set(trajectory.averaged or ())
    theta_bar = torch.zeros_like(top) if averaged else top.clone()
    state_bar = [torch.zeros_like(top) for _ in range(optimiser.states())]
    out = torch.zeros(posterior.n, top.shape[0], dtype=torch.float64)
    for step in tqdm(trajectory.iterate(reverse=True), total=trajectory.steps, desc=desc, disable=None, leave=False):
        if step.index + 1 in averaged:
            theta_bar = theta_bar + top / len(averaged)
        g_bar, state_bar, grads, theta = _reverse_step(
            posterior, step, states, optimiser, theta_bar, state_bar, per_example
        )
        out.index_add_(0, step.batch, (grads @ g_bar.T.to(grads) / len(step.batch)).double().cpu())
        theta_bar = theta_bar + _hvps(posterior, step, theta, g_bar, batch_loss).to(dtype)
    return out


def _hvps(posterior: Posterior, step: Step, theta: Tensor, vectors: Tensor, batch_loss: Callable) -> Tensor:
    """``H_B(θ_t) v`` for every row of ``vectors`` [Q, P] (double backward through the batch's mean objective)."""
    part = posterior.train.take(step.batch).to(posterior.device)
    at = theta.detach().requires_grad_()
    (g,) = torch.autograd.grad(batch_loss(at, part.x, part.y), at, create_graph=True)
    (products,) = torch.autograd.grad(g, at, grad_outputs=vectors.to(at), is_grads_batched=True)
    return products.cpu()


def _replay(
    posterior: Posterior, trajectory: Trajectory, optimiser: Optimiser, batch_loss: Callable
) -> list[list[Tensor]]:
    """Every step's optimiser state before it (float32, on the CPU), from the recorded parameters and batches."""
    state = [torch.zeros(trajectory.n_params, dtype=torch.float64) for _ in range(optimiser.states())]
    out = []
    for step in tqdm(trajectory.iterate(), total=trajectory.steps, desc="replay", disable=None, leave=False):
        out.append([s.float() for s in state])
        g = _batch_grad(posterior, step, batch_loss)
        state = optimiser.forward(state, g, step.index)
    return out


def _batch_grad(posterior: Posterior, step: Step, batch_loss: Callable) -> Tensor:
    part = posterior.train.take(step.batch).to(posterior.device)
    theta = step.before.to(posterior.passes.theta)
    return grad(batch_loss)(theta, part.x, part.y).double().cpu()


def _reverse_step(
    posterior: Posterior,
    step: Step,
    states: list[list[Tensor]],
    optimiser: Optimiser,
    theta_bar: Tensor,
    state_bar: list[Tensor],
    per_example: Callable,
) -> tuple[Tensor, list[Tensor], Tensor, Tensor]:
    """One step backwards: the adjoint of its gradient, of the state before it, the batch's per-example gradients
    ``[B, P]`` (the model's precision) and the parameters it started from."""
    part = posterior.train.take(step.batch).to(posterior.device)
    theta = step.before.to(posterior.passes.theta)
    grads = per_example(theta, part.x, part.y).cpu()
    before = [s.to(theta_bar.dtype) for s in states[step.index]]
    g = grads.mean(0).to(theta_bar.dtype)
    g_bar, state_bar = optimiser.reverse(before, g, step.lr, step.index, theta_bar, state_bar)
    return g_bar, state_bar, grads, theta


@SCORERS.register("magic", needs=("trajectory",))
def magic(posterior: Posterior, query: QueryHalf, *, target: str = "guard") -> Tensor:
    """``r(z_i) = ∂M(θ̂(w)) / ∂w_i`` at ``w = 1``, larger = more harmful (up-weighting z_i raises the target's mean
    loss ``M``; removing it lowers M by about r), with M the query half's mean loss (``guard``) or its failures'
    (``failures``), differentiated exactly through every recorded step of the run that produced θ̂
    (:func:`metagradients`). Needs the training record's trajectory and a run without dropout (its noise is not
    replayed). Cost: one forward replay (a batch gradient per step) and one backward (per-example gradients and a
    Hessian-vector product per step), about three trainings."""
    check(target in ("failures", "guard"), "target", f"'failures' or 'guard', got {target!r}")
    data = posterior.examples(query.failures if target == "failures" else query.guard, "query")
    f = FunctionalModel(posterior.model)
    return metagradients(posterior, lambda theta: posterior.loss(f(theta, data.x), data.y).mean()[None])[:, 0]
