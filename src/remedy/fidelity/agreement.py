"""How well predicted changes match a ground truth: correlations and the linear datamodeling score."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from torch import Tensor

from remedy.errors import check

GAP_TERMS = ("warm_start", "proximity", "non_convergence", "linearization", "solver")


def correlations(predicted: Tensor, actual: Tensor) -> dict[str, float]:
    """Pearson and Spearman between two arrays of changes (flattened: points × measurements)."""
    check(predicted.shape == actual.shape, "predicted", f"the shape of actual {tuple(actual.shape)}")
    p, a = predicted.double().flatten().cpu().numpy(), actual.double().flatten().cpu().numpy()
    return {"pearson": float(pearsonr(p, a).statistic), "spearman": float(spearmanr(p, a).statistic)}


def lds(predicted: Tensor, kept: Tensor, actual: Tensor) -> float:
    """Linear datamodeling score: for each measurement, the Spearman correlation over subsets between the
    summed predicted effect of the removed examples (``predicted [N, Q]``: change on removing each one) and
    the measured change ``actual [K, Q]`` after training on subset ``kept[k]`` (``[K, N]`` masks); averaged."""
    check(kept.dtype == torch.bool and kept.shape[1] == predicted.shape[0], "kept", "[K, N] boolean masks")
    group = (~kept).double() @ predicted.double()  # [K, Q]
    rho = [spearmanr(group[:, q].numpy(), actual[:, q].double().numpy()).statistic for q in range(actual.shape[1])]
    return float(np.mean(rho))


def gap_terms(
    loo_scratch: Tensor, loo_warm: Tensor, proximal: Tensor, pbrf: Tensor, linearized: Tensor, estimate: Tensor
) -> dict[str, Tensor]:
    """The five-term decomposition of ``estimate − loo_scratch`` (Bae et al. 2022): each term the difference
    between consecutive ground truths, so that they sum to the total exactly."""
    chain = [loo_scratch, loo_warm, proximal, pbrf, linearized, estimate]
    terms = {name: b - a for name, a, b in zip(GAP_TERMS, chain[:-1], chain[1:], strict=True)}
    return terms | {"total": estimate - loo_scratch}
