"""EWC-deletion (Tanno et al. eq. 15, with App. C's 2/(γN) penalty scaling)."""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor, nn

from remedy.errors import check
from remedy.examples import Examples
from remedy.models.config import TrainConfig
from remedy.posterior import Posterior
from remedy.treat.registry import TREATMENTS
from remedy.update import EWC


@TREATMENTS.register("ewc-deletion")
def ewc_deletion(
    posterior: Posterior,
    causes: Tensor,
    guard: Examples,
    *,
    gamma: float = 0.03,
    prior_precision: float = 0.0,
    config: TrainConfig | None = None,
    seed: int = 0,
    stop_on: str = "loss",
) -> nn.Module:
    """Unlearn C: ``θ** = argmax −log p(C | θ) − 2/(γN) · [N/2 (θ−θ̂)ᵀ diag(F̂)(θ−θ̂) + λ/2 ‖θ−θ̂‖²]``.

    Gradient *ascent* on the causes' mean loss, held near θ̂ by the Laplace penalty; a larger ``γ`` (the
    paper sweeps [0.01, 0.05]) lets θ move further. The penalty is weighed against the *mean*
    log-likelihood of C: against the sum, ``ΔᵀF̂Δ/γ`` is negligible for any γ in that range, so the
    paper's sweep only has an effect in this reading (``benchmarks/ablations.py``: F_q loss 74.07 vs
    74.02 after five epochs for γ = 0.01 and 0.2).

    Early-stopped on the ``guard``'s loss (``stop_on="error"``: its error rate, as in Tanno §4.2),
    checked after every step: ascent is unbounded, and at the training learning rate
    Adam ruins the model within a few epochs (same script: F_q loss 1.6 → 4.5 after one, 76 after
    five). The default ``config`` is therefore the posterior's with a tenth of its learning rate,
    ``check_every=1`` and a patience of 20 steps.
    """
    check(gamma > 0, "gamma", f"a positive step scale, got {gamma}")
    if len(causes) == 0:  # nothing to unlearn
        return posterior.copy_model()
    if config is None:
        config = replace(posterior.record.config, lr=posterior.record.config.lr / 10, check_every=1, patience=20)
    update = EWC(2.0 / (gamma * posterior.n), prior_precision, config, seed, stop_on)
    return posterior.delete(causes, update, guard).model
