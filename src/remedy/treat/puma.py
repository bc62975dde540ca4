"""PUMA patching as a treatment: remove the causes, keep a metric of the kept data within δ (SPEC §5)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from remedy.data.failures import Failures
from remedy.metrics import Error, Metric, build_metric
from remedy.posterior import Posterior
from remedy.puma import patch
from remedy.treat.registry import TREATMENTS


@TREATMENTS.register("puma")
def puma(
    posterior: Posterior,
    causes: Tensor,
    failures: Failures,
    *,
    metric: str | Metric = "loss",
    reference: int = 256,
    delta: float = 0.01,
    alpha: float = 1e-3,
    compensate: bool = True,
    max_step: float | None = None,
    curvature: str = "ggn",
    solver: str = "cg",
    damping: float = 1e-3,
    curvature_examples: int | None = None,
    seed: int = 0,
    **solver_options: Any,
) -> nn.Module:
    """``θ_mod = θ̂ + η H⁻¹[Σ_{k∈C} ∇L_t(z_k) − Σ_j λ*_j ∇L_t(z_j)]`` (blog eq. 10, :func:`remedy.puma.patch`).

    The preserved metric is ``metric`` (a Metric, or a name built on ``reference`` kept training examples drawn
    with ``seed``); η is the largest step that keeps the measured error rate on those examples within
    ``delta``. ``failures`` is not used: PUMA edits θ̂ in closed form, with no stopping set.
    """
    kept = torch.nonzero(~torch.isin(torch.arange(posterior.n), causes)).flatten()
    sample = kept[torch.randperm(len(kept), generator=torch.Generator().manual_seed(seed))[:reference]]
    data = posterior.train[sample.to(posterior.train.y.device)]
    preserve = metric if isinstance(metric, Metric) else build_metric(metric, data)
    return patch(
        posterior,
        causes,
        preserve,
        guard=Error(data),
        delta=delta,
        alpha=alpha,
        compensate=compensate,
        max_step=max_step,
        curvature=curvature,
        solver=solver,
        damping=damping,
        curvature_examples=curvature_examples,
        seed=seed,
        **solver_options,
    ).model
