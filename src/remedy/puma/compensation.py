"""PUMA's compensating weights (blog eq. 9): ``λ* = argmin_λ ‖Σ_j λ_j ψ_j − Σ_k ψ_k‖² + Ω(λ)``, Ω an ℓ1 penalty."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet
from torch import Tensor

from remedy.errors import check


def compensation_weights(
    psi_up: Tensor, target: Tensor, alpha: float = 1e-3, l1_ratio: float = 0.5, max_iter: int = 20_000
) -> Tensor:
    """Sparse ``λ [n_up]`` with ``psi_upᵀ λ ≈ target`` (``psi_up [n_up, m]``, ``target [m]``) by scikit-learn's
    ElasticNet (``l1_ratio = 1``: the Lasso).

    The penalty is ``alpha`` relative to the smallest ℓ1 penalty that zeroes every weight (``alpha = 1`` → λ = 0;
    ``alpha → 0`` → least squares). With few equations (a scalar metric: one) the Lasso puts the whole target
    on the one or two examples with the largest |ψ|, with weights far above 1 that wreck the model; the ℓ2
    part of the default spreads the weight over many examples.
    """
    check(0 < l1_ratio <= 1, "l1_ratio", f"a mix in (0, 1], got {l1_ratio}")
    check(psi_up.ndim == 2 and target.shape == (psi_up.shape[1],), "target", f"[{psi_up.shape[1]}] to match ψ")
    check(0 < alpha <= 1, "alpha", f"a relative ℓ1 penalty in (0, 1], got {alpha}")
    design = psi_up.T.double().cpu().numpy()  # [m, n_up]: one equation per metric entry
    y = target.double().cpu().numpy()
    scale = float(np.abs(design).max()) or 1.0
    design, y = design / scale, y / scale
    alpha_max = float(np.abs(design.T @ y).max()) / (len(y) * l1_ratio)
    if alpha_max == 0:
        return torch.zeros(psi_up.shape[0], dtype=torch.float64)
    model = ElasticNet(alpha=alpha * alpha_max, l1_ratio=l1_ratio, fit_intercept=False, max_iter=max_iter, tol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the residual is reported by the caller
        model.fit(design, y)
    return torch.from_numpy(model.coef_.copy())
