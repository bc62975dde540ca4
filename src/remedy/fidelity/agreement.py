"""How well predicted changes match a ground truth: correlations and the linear datamodeling score."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from torch import Tensor

from remedy.errors import check
from remedy.evaluate.datamodels import lds as datamodel_score
from remedy.evaluate.detection import detection_curve

TRUTHS = ("loo_scratch", "loo_warm", "proximal", "pbrf", "linearized")
"""The ground truths in the order of the five-term chain (Bae et al. 2022, Sec. 4)."""

ANCHORS = (("loo", "loo_scratch"), ("pbrf", "pbrf"))
"""The two ground truths every estimate is compared with, as named in a summary."""

GAP_TERMS = ("warm_start", "proximity", "non_convergence", "linearization", "solver")
"""Each the difference between consecutive links of the chain TRUTHS → estimate."""


def correlations(predicted: Tensor, actual: Tensor) -> dict[str, float]:
    """Pearson and Spearman between two ``[points, measurements]`` arrays of changes, flattened; and, for
    2-D arrays, ``pearson_within``: the mean over measurements of the Pearson across points (blind to an
    offset or scale that one measurement's changes share). NaN where fewer than 3 points remain (e.g. after
    diverged PBRF solves were dropped)."""
    check(predicted.shape == actual.shape, "predicted", f"the shape of actual {tuple(actual.shape)}")
    p, a = predicted.double().cpu().numpy(), actual.double().cpu().numpy()

    def pearson(x: np.ndarray, y: np.ndarray) -> float:
        return float(pearsonr(x, y).statistic) if len(x) >= 3 else float("nan")

    result = {
        "pearson": pearson(p.ravel(), a.ravel()),
        "spearman": float(spearmanr(p.ravel(), a.ravel()).statistic) if p.size >= 3 else float("nan"),
    }
    if p.ndim == 2:
        result["pearson_within"] = float(np.mean([pearson(p[:, q], a[:, q]) for q in range(p.shape[1])]))
    return result


def lds(predicted: Tensor, kept: Tensor, actual: Tensor) -> float:
    """Linear datamodeling score: for each measurement, the Spearman correlation over subsets between the
    summed predicted effect of the removed examples (``predicted [N, Q]``: change on removing each one) and
    the measured change ``actual [K, Q]`` after training on subset ``kept[k]`` (``[K, N]`` masks); averaged."""
    # removing z changes q by −h(z, q) to first order: the kept subsets' sums of harms rank the subsets the same way
    return datamodel_score(-predicted, kept, actual)


def detection_area(scores: Tensor, corrupted: Tensor) -> float:
    """Mislabel-detection area: the mean fraction of the ``corrupted`` ([N] boolean) examples found when the
    training set is inspected in decreasing order of ``scores`` ([N], larger = more harmful); random order
    gives about 0.5. :func:`remedy.evaluate.detection_curve` has the whole curve and the oracle."""
    return detection_curve(scores, corrupted).auc


def gap_terms(
    loo_scratch: Tensor, loo_warm: Tensor, proximal: Tensor, pbrf: Tensor, linearized: Tensor, estimate: Tensor
) -> dict[str, Tensor]:
    """The five-term decomposition of ``estimate − loo_scratch`` (Bae et al. 2022): each term the difference
    between consecutive ground truths, so that they sum to the total exactly."""
    chain = [loo_scratch, loo_warm, proximal, pbrf, linearized, estimate]
    terms = {name: b - a for name, a, b in zip(GAP_TERMS, chain[:-1], chain[1:], strict=True)}
    return terms | {"total": estimate - loo_scratch}


def summarise(truths: dict[str, Tensor], estimates: dict[str, Tensor], gap_estimator: str) -> dict[str, Any]:
    """The fidelity numbers of one study: each estimator's correlation with LOO (from scratch) and with the
    PBRF, the ground truths' own correlations, the mean absolute size of each gap term (the solver term for
    ``gap_estimator``), and every estimator's solver error against the exact linearisation. Points with a
    non-finite response (a diverged solve) are left out and counted in ``n_points_dropped``."""
    check(gap_estimator in estimates, "gap_estimator", f"one of {', '.join(estimates)}, got {gap_estimator!r}")
    finite = torch.stack([torch.isfinite(a).all(1) for a in (*truths.values(), *estimates.values())]).all(0)
    truths = {name: a[finite] for name, a in truths.items()}
    estimates = {name: a[finite] for name, a in estimates.items()}
    loo, pbrf = (truths[key] for _, key in ANCHORS)
    terms = gap_terms(*(truths[name] for name in TRUTHS), estimates[gap_estimator])
    return {
        "correlation": {
            name: {"loo": correlations(e, loo), "pbrf": correlations(e, pbrf)} for name, e in estimates.items()
        },
        "gap_terms": {name: float(terms[name].abs().mean()) for name in GAP_TERMS},
        "gap_total": float(terms["total"].abs().mean()),
        "gap_estimator": gap_estimator,
        "loo_scale": float(loo.abs().mean()),
        "n_points_dropped": int((~finite).sum()),
        "solver_error": {name: float((e - truths["linearized"]).abs().mean()) for name, e in estimates.items()},
        "truth_correlation": {
            name: {anchor: correlations(truths[name], truths[key]) for anchor, key in ANCHORS if key != name}
            for name in TRUTHS[1:]
        },
    }
