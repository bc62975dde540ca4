"""Representer points (Yeh et al. 2018): the last layer refit with L2 regularisation is a sum over training
examples, ``Φ(x_q) = Σ_i α_i f_iᵀ f_q``, so each example's share of each failure's logits is explicit."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from remedy.data.split import QueryHalf
from remedy.errors import check
from remedy.examples import Data, Examples
from remedy.identify.attribution import attribute
from remedy.identify.registry import SCORERS
from remedy.inputs import logits
from remedy.posterior import Posterior


def last_linear(model: nn.Module, num_classes: int) -> nn.Linear:
    """The model's last ``nn.Linear`` layer, which must produce the logits."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    check(bool(layers) and layers[-1].out_features == num_classes, "model", "a last nn.Linear layer giving the logits")
    return layers[-1]


@torch.no_grad()
def features(model: nn.Module, layer: nn.Linear, data: Data, batch_size: int = 1024) -> Tensor:
    """``[n, d + 1]``: the inputs of ``layer`` for every example of ``data``, float64, with a column of ones for
    the bias (on the model's device)."""
    device = next(model.parameters()).device
    store: list[Tensor] = []
    handle = layer.register_forward_hook(lambda module, inputs, output: store.append(inputs[0].flatten(1)))
    try:
        for part in data.batches(batch_size):
            logits(model, part.to(device).x)
    finally:
        handle.remove()
    f = torch.cat(store).double()
    return torch.cat([f, torch.ones(len(f), 1, dtype=f.dtype, device=f.device)], 1)


@dataclass(frozen=True)
class Representer:
    """The refit last layer ``W [C, d+1]`` (bias as the last column), the training features ``F [N, d+1]`` and
    the representer values ``α [N, C]`` with ``W = Σ_i α_i f_iᵀ``."""

    weight: Tensor
    train_features: Tensor
    alpha: Tensor


def fit_representer(posterior: Posterior, lam: float) -> Representer:
    """Refit the last layer on the training features to a stationary point of ``(1/N) Σ_i L(W f_i, y_i) + λ ‖W‖²``
    (L-BFGS from the model's own layer), then ``α_i = −∂L(W f_i, y_i)/∂(W f_i) / (2λN)``: at the stationary point
    ``W = Σ_i α_i f_iᵀ`` exactly (Yeh et al. Theorem 3.1)."""
    check(lam > 0, "lam", f"a positive L2 strength, got {lam}")
    layer = last_linear(posterior.model, posterior.num_classes)
    f = features(posterior.model, layer, posterior.train)
    y = posterior.train.labels.to(f.device)
    bias = layer.bias.detach() if layer.bias is not None else torch.zeros(layer.out_features)
    w = torch.cat([layer.weight.detach(), bias[:, None]], 1).double().clone().requires_grad_(True)
    optimiser = torch.optim.LBFGS(
        [w],
        lr=1,
        max_iter=500,
        tolerance_grad=1e-10,
        tolerance_change=0,
        history_size=50,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        optimiser.zero_grad()
        value = posterior.loss(f @ w.T, y).mean() + lam * w.square().sum()
        value.backward()
        return value

    optimiser.step(closure)
    w = w.detach()
    logits = (f @ w.T).requires_grad_(True)
    (dlogits,) = torch.autograd.grad(posterior.loss(logits, y).sum(), logits)
    return Representer(w, f, -dlogits / (2 * lam * len(y)))


class RepresenterPairs:
    """``h(z_i, q) = ∇_Φ L(q)ᵀ α_i (f_iᵀ f_q)``: z_i's share ``α_i f_iᵀ f_q`` of q's logits, dotted with the logits'
    loss gradient — the first-order fall of q's loss if z_i's share were removed (larger = more harmful)."""

    normalizations = ("none", "unit", "cosine")

    def __init__(self, posterior: Posterior, lam: float) -> None:
        self.posterior = posterior
        self.fit = posterior.memo(("representer", lam), lambda: fit_representer(posterior, lam))

    def own(self) -> Tensor:
        """``∇_Φ L(z_i)ᵀ α_i ‖f_i‖²``, with the loss gradient at the refit layer: ``−‖∇_Φ L(z_i)‖² ‖f_i‖² / (2λN)``."""
        fit = self.fit
        logits = (fit.train_features @ fit.weight.T).requires_grad_(True)
        labels = self.posterior.train.labels.to(logits.device)
        (grads,) = torch.autograd.grad(self.posterior.loss(logits, labels).sum(), logits)
        return ((grads * fit.alpha).sum(1) * fit.train_features.square().sum(1)).cpu()

    def harm(self, queries: Examples, normalize: str, weights: Tensor | None = None) -> Tensor:
        posterior, fit = self.posterior, self.fit
        layer = last_linear(posterior.model, posterior.num_classes)
        queries = posterior.examples(queries, "queries")
        fq = features(posterior.model, layer, queries)  # [Q, d+1]
        logits = (fq @ fit.weight.T).requires_grad_(True)
        (gq,) = torch.autograd.grad(posterior.loss(logits, queries.y.to(logits.device)).sum(), logits)  # [Q, C]
        alpha, f = fit.alpha, fit.train_features
        if normalize != "none":
            scale = (alpha.norm(dim=1) * f.norm(dim=1)).clamp_min(1e-30)
            alpha = alpha / scale[:, None]
        if normalize == "cosine":
            gq = gq / (gq.norm(dim=1) * fq.norm(dim=1)).clamp_min(1e-30)[:, None]
        if weights is not None:  # per group g: Σ_q w_qg ∇_Φ L(q) f_qᵀ, [G, C, d+1]
            m = torch.einsum("qg,qc,qd->gcd", weights.to(gq), gq, fq)
            return torch.einsum("nd,gcd,nc->ng", f, m, alpha).cpu()
        return ((alpha @ gq.T) * (f @ fq.T)).cpu()


@SCORERS.register("representer")
def representer(
    posterior: Posterior, query: QueryHalf, *, lam: float = 1e-3, normalize: str = "none", aggregate: str = "sum"
) -> Tensor:
    """``r(z) = Σ_q h(z, q)`` with the representer-point ``h`` from the last layer refit with L2 strength ``lam``,
    larger = more harmful; normalised and aggregated per failure as :mod:`remedy.identify.attribution`
    describes. Costs one forward pass over D and a last-layer refit."""
    return attribute(RepresenterPairs(posterior, lam), query.failures, normalize, aggregate)
