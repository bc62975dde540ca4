"""PUMA patching as a treatment: remove the causes, keep a metric of the kept data within δ (SPEC §5)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from remedy.curvature import DEFAULT_INVERSE, InverseSettings
from remedy.examples import Examples
from remedy.metrics import Error, Metric, build_metric
from remedy.posterior import Posterior
from remedy.puma import patch
from remedy.seeds import stream
from remedy.treat.registry import TREATMENTS


@TREATMENTS.register("puma")
def puma(
    posterior: Posterior,
    causes: Tensor,
    guard: Examples,
    *,
    preserve: str | Metric = "loss",
    reference: int = 256,
    tolerance: float = 0.01,
    alpha: float = 1e-3,
    compensate: bool = True,
    max_step: float | None = None,
    inverse: InverseSettings = DEFAULT_INVERSE,
    seed: int = 0,
) -> nn.Module:
    """``θ_mod = θ̂ + η H⁻¹[Σ_{k∈C} ∇L_t(z_k) − Σ_j λ*_j ∇L_t(z_j)]`` (blog eq. 10, :func:`remedy.puma.patch`).

    The compensation preserves ``preserve`` to first order (a Metric, or a name from ``METRICS`` built on
    ``reference`` kept training examples drawn with ``seed``); η is the largest step (halving from 1/N) whose
    measured error rate on the ``guard`` rises by at most ``tolerance`` (one-sided: a step that lowers the guard's
    error is never shortened for it).
    """
    if len(causes) == 0:  # nothing to remove
        return posterior.copy_model()
    kept = torch.nonzero(~torch.isin(torch.arange(posterior.n), causes)).flatten()
    sample = kept[torch.randperm(len(kept), generator=stream(seed, "puma-reference"))[:reference]]
    kept_metric = preserve if isinstance(preserve, Metric) else build_metric(preserve, posterior.train.take(sample))
    fix = patch(
        posterior,
        causes,
        kept_metric,
        guard=Error(guard),
        delta=tolerance,
        one_sided=True,
        alpha=alpha,
        compensate=compensate,
        max_step=max_step,
        inverse=inverse,
    )
    return fix.model
