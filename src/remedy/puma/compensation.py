"""PUMA's compensating weights (blog eq. 9): ``λ* = argmin_λ ‖Σ_j λ_j ψ_j − Σ_k ψ_k‖² + Ω(λ)``, Ω an ℓ1 penalty."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from torch import Tensor

from remedy.errors import check


def compensation_weights(psi_up: Tensor, target: Tensor, alpha: float = 1e-3, max_iter: int = 20_000) -> Tensor:
    """Sparse ``λ [n_up]`` with ``psi_upᵀ λ ≈ target`` (``psi_up [n_up, m]``, ``target [m]``) by scikit-learn's Lasso.

    The penalty is ``alpha`` relative to the smallest one that zeroes every weight (``alpha = 1`` → λ = 0;
    ``alpha → 0`` → least squares, the minimum-ℓ1 solution when the system is underdetermined).
    """
    check(psi_up.ndim == 2 and target.shape == (psi_up.shape[1],), "target", f"[{psi_up.shape[1]}] to match ψ")
    check(0 < alpha <= 1, "alpha", f"a relative ℓ1 penalty in (0, 1], got {alpha}")
    design = psi_up.T.double().cpu().numpy()  # [m, n_up]: one equation per metric entry
    y = target.double().cpu().numpy()
    scale = float(np.abs(design).max()) or 1.0
    design, y = design / scale, y / scale
    alpha_max = float(np.abs(design.T @ y).max()) / len(y)
    if alpha_max == 0:
        return torch.zeros(psi_up.shape[0], dtype=torch.float64)
    lasso = Lasso(alpha=alpha * alpha_max, fit_intercept=False, max_iter=max_iter, tol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lasso.fit(design, y)
    return torch.from_numpy(lasso.coef_.copy())
