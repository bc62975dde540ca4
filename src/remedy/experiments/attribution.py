"""Attribution quality of every scorer in the setting of the public benchmarks (dattri's MNIST-10): the linear
datamodeling score against retraining on random halves, and mislabel detection with 10 % flipped labels."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from remedy.curvature import DEFAULT_INVERSE, InverseSettings
from remedy.curvature.functional import FunctionalModel
from remedy.data import flip_uniform, load_mnist, stratified_split
from remedy.data.split import QueryHalf
from remedy.evaluate import Datamodels, detection_curve
from remedy.evaluate.datamodels import query_losses
from remedy.examples import Examples
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.experiments.common import full_batch_posterior
from remedy.fidelity import minimise
from remedy.identify import SCORERS, identify
from remedy.identify.linear_influence import InfluencePairs
from remedy.identify.magic import metagradients
from remedy.identify.representer import RepresenterPairs
from remedy.identify.tracin import TracInPairs
from remedy.identify.trak import trak_matrix
from remedy.io import to_jsonable, write_json
from remedy.metrics import PerExampleLoss
from remedy.models import MLP, LogisticRegression, TrainConfig, train_model
from remedy.posterior import Posterior
from remedy.puma import valuation
from remedy.seeds import seeded
from remedy.task import cross_entropy

WD = 1e-3
"""The logistic regression's L2 coefficient: ``J = mean loss + WD/2 ‖θ‖²``, minimised to convergence by L-BFGS."""

INVERSES = {"logreg": InverseSettings("ggn", "direct", damping=0.0), "mlp": DEFAULT_INVERSE}
"""The inverse linear influence applies per model: the exact GGN (= the Hessian of this convex objective) built in
closed form and factorised by Cholesky for the logistic regression; remedy's default EK-FAC for the MLP, whose
101,770 parameters rule out a dense matrix (dattri uses conjugate gradient on both)."""

DATTRI = {
    "logreg": {"linear-influence (cg)": 0.80, "trak": 0.68, "tracin": 0.33, "representer": 0.19},
    "mlp": {"linear-influence (cg)": 0.26, "trak": 0.45},
}
"""dattri's published LDS on MNIST-10 (read off its charts; TRAK with 50 models), for comparison."""

DATTRI_DETECTION_MLP = {"linear-influence": 0.87, "representer": 0.97, "trak": 0.98}
"""dattri's mislabel-detection areas on the MLP with 10 % flipped labels."""

OPTIONS: dict[str, dict[str, Any]] = {
    "tmc-shapley": {"permutations": 1, "tolerance": 0.05, "learner": "logistic"},  # as the saved tables ran it
    "g-shapley": {"permutations": 5},
    "dvrl": {"iterations": 200},
}
"""Budgets for the costly scorers in this setting (their defaults assume a few thousand examples at most)."""

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "trak[models=10]": ("trak", {"models": 10}),
    "trak[models=50]": ("trak", {"models": 50}),  # dattri's published TRAK ensemble
}
"""Rows beside the registered scorers: a scorer with options (TRAK's ensemble, as the public benchmarks run it)."""

PAIRWISE = ("linear-influence", "puma", "tracin", "representer", "trak", "magic")
"""Scorers with a ``[N, Q]`` matrix, and so a self-attribution ``h(z_i, z_i)`` to detect mislabels by."""

NO_SELF = {
    "magic": "its self-attribution needs one target per training example, 5,000 targets carried back through every "
    "step of the run: ten times its LDS run",
}
"""Pairwise scorers whose self-attribution is not measured, and why."""

NOT_RUN = {
    "tmc-shapley": "with the logistic learner the saved tables use, one truncated permutation is hundreds of "
    "scikit-learn fits of 1-3 s each on 5,000 examples (hours for both models' clean and noisy runs); --quick runs "
    "it on 1,000 examples with one permutation",
    "magic": "its backward replay carries one tangent per query through every recorded step: 366 epochs for the 100 "
    "queries of --quick, so about 1,800 epochs for these 500 (extrapolated), beyond a tenth of TRAK-50's cost; a "
    "full run was started and stopped unfinished; --quick runs it",
}
"""Scorers left out at full scale, and why (the row says so instead of a number)."""


def mnist_10(n_train: int, n_test: int) -> tuple[Examples, Examples]:
    """``n_train`` and ``n_test`` class-balanced images from the 10,000 shipped MNIST digits, flattened to 784."""
    x, y = load_mnist()
    train_idx, rest = stratified_split(y, 0, per_class=n_train // 10)
    test_idx, _ = stratified_split(y[rest], 1, per_class=n_test // 10)
    test_idx = rest[test_idx]
    x = x.flatten(1)
    return Examples(x[train_idx], y[train_idx]), Examples(x[test_idx], y[test_idx])


def logreg(seed: int) -> nn.Module:
    with seeded(seed, "init"):
        return LogisticRegression(784, 10).eval()


def mlp(seed: int) -> nn.Module:
    with seeded(seed, "init"):
        return MLP(784, 10, hidden=(128,)).eval()  # 101,770 parameters, dattri's MNIST MLP size


def fit(name: str, train: Examples, seed: int, record: bool = False) -> Posterior:
    """The model trained on ``train``: logistic regression to convergence (L-BFGS, L2), or the MLP by remedy's recipe
    with its checkpoints kept (TracIn) and, with ``record``, every step (SGD-influence)."""
    if name == "logreg":
        return full_batch_posterior(logreg, train, WD, minimise, seed)
    model, record_ = train_model(mlp(seed), train, config=TrainConfig(record=record), seed=seed)
    record_.init = mlp
    return Posterior(model, train, record=record_)


def per_query(name: str, posterior: Posterior, queries: Examples, method: str, seed: int, **options: Any) -> Tensor:
    """``[N, Q]`` harms of every training example to every query for the scorers that have them; ``[N]`` (the same
    ranking for every query) for the others, scored against the whole query set."""
    if method in PAIRWISE:
        return pairs(name, posterior, method, queries, seed, **options)
    options = SCORERS.accepted(method, {"seed": seed}) | OPTIONS.get(method, {}) | options
    if "target" in SCORERS.options(method):
        options["target"] = "failures"
    return identify(posterior, QueryHalf.of(queries, guard=queries), method, **options).values


def pairs(name: str, posterior: Posterior, method: str, queries: Examples | None, seed: int, **options: Any) -> Tensor:
    """A pairwise scorer's ``[N, Q]`` harms to ``queries``, or with ``queries=None`` its self-attributions
    ``h(z_i, z_i)``, ``[N]``: what dattri's mislabel detection ranks by (most negative first)."""
    if method == "trak":
        return trak_matrix(posterior, queries, seed=seed, **options)
    if method == "magic":
        assert queries is not None, NO_SELF["magic"]
        f = FunctionalModel(posterior.model)
        targets = posterior.examples(queries, "queries")
        return metagradients(posterior, lambda t: cross_entropy(f(t, targets.x), targets.y), dtype=torch.float32)
    scorer = {
        "linear-influence": lambda: InfluencePairs(posterior, INVERSES[name]),
        "puma": lambda: InfluencePairs(posterior, DEFAULT_INVERSE),  # PUMA's valuation is EK-FAC influence
        "tracin": lambda: TracInPairs(posterior),
        "representer": lambda: RepresenterPairs(posterior, 1e-3),
    }[method]()
    if queries is None:
        return scorer.own()
    if method == "puma":
        return -valuation(posterior, PerExampleLoss(queries))
    return scorer.harm(queries, "none")


def table_rows() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every registered scorer with its default options, and the :data:`VARIANTS`: row name → (scorer, options)."""
    return {method: (method, {}) for method in SCORERS.names()} | VARIANTS


def why_not(name: str, row: str, method: str, quick: bool) -> str | None:
    """Why row ``row`` (scorer ``method``) gets no number on model ``name`` at this scale, or None."""
    if method in NOT_RUN and not quick:
        return NOT_RUN[method]
    if quick and row == "trak[models=50]":
        return "--quick keeps to ten models; the full run trains the fifty of dattri's published ensemble"
    if name == "logreg" and row in VARIANTS:
        return "an ensemble of a convex model fit to convergence from different seeds is one model repeated"
    if name == "logreg" and SCORERS.trait(method, "needs", ()):
        return "needs the recorded optimiser steps; the logistic regression is fit by full-batch L-BFGS"
    return None


def complete(row: dict[str, Any], method: str) -> bool:
    """Whether a saved row has every number this version measures (a pairwise scorer's self-attribution too)."""
    return bool(row.get("not_run")) or method not in PAIRWISE or method in NO_SELF or "detection_self_auc" in row


def study(name: str, quick: bool, seed: int, work: Path | None) -> dict[str, Any]:
    """One model: every scorer's LDS against ``count`` retrainings on random halves (each query's loss measured),
    its detection areas on the same model trained with 10 % flipped labels (by its scores summed over the test set,
    and, for pairwise scorers, by each training example's attribution to itself), and its cost in epochs (for the
    logistic regression, in whole L-BFGS fits). Each row is saved in ``work`` as it finishes; a rerun resumes, and
    adds what a saved row lacks."""
    path = work / f"{name}{'-quick' if quick else ''}.json" if work else None
    saved = json.loads(path.read_text()) if path is not None and path.is_file() else {}
    done: dict[str, Any] = saved.get("scorers", {})
    todo = {row: spec for row, spec in table_rows().items() if row not in done or not complete(done[row], spec[0])}
    if not todo:
        return saved
    n_train, n_test, count = (1000, 100, 20) if quick else (5000, 500, 100)
    train, test = mnist_10(n_train, n_test)
    start = time.perf_counter()
    posterior = fit(name, train, seed, record=True)
    epoch = saved.get("epoch_seconds") or (time.perf_counter() - start) / max(posterior.record.epochs or 1, 1)

    def retrain(subset: Examples, subset_seed: int) -> nn.Module:
        return fit(name, subset, subset_seed).model

    subsets = work / f"{name}-subsets{'-quick' if quick else ''}" if work else None
    datamodels: list[Datamodels] = []  # built when a row first needs an LDS

    def lds(scores: Tensor) -> float:
        if not datamodels:
            datamodels.append(Datamodels(retrain, query_losses(test, cross_entropy), train, 0.5, count, seed, subsets))
        return datamodels[0].lds(scores)

    noisy = flip_uniform(train.x, train.y, 0.1, 10, seed)
    noisy_posterior = fit(name, Examples(noisy.x, noisy.y), seed, record=True)
    result = {"scorers": done, "n_train": n_train, "n_test": n_test, "subsets": count, "epoch_seconds": epoch}
    for row, (method, options) in tqdm(todo.items(), desc=f"attribution {name}", disable=None, leave=False):
        reason = why_not(name, row, method, quick)
        if reason is not None:
            done[row] = {"lds": None, "detection_auc": None, "epochs": None, "not_run": reason}
            continue
        if row not in done:
            tick = time.perf_counter()
            scores = per_query(name, posterior, test, method, seed, **options)
            seconds = time.perf_counter() - tick
            if method in NO_SELF:  # detection ranks by the summed scores: one target, the test set's mean loss
                query = QueryHalf.of(test, guard=test)
                global_scores = identify(noisy_posterior, query, method, target="failures", **options).values
            else:
                noisy_scores = per_query(name, noisy_posterior, test, method, seed, **options)
                global_scores = noisy_scores.sum(1) if noisy_scores.ndim == 2 else noisy_scores
            done[row] = {
                "lds": lds(scores),
                "detection_auc": detection_curve(global_scores.cpu(), noisy.mask).auc,
                "epochs": seconds / epoch,
                "per_query": scores.ndim == 2,
                "constant": bool(scores.std() == 0),  # e.g. an early-stopped edit that kept θ̂: every score 0
            }
        if method in PAIRWISE and method not in NO_SELF:
            own = pairs(name, noisy_posterior, method, None, seed, **options)
            done[row]["detection_self_auc"] = detection_curve(-own.cpu(), noisy.mask).auc
        elif method in NO_SELF:
            done[row]["detection_self_not_run"] = NO_SELF[method]
        if path is not None:
            write_json(path, to_jsonable(result))
    return result


def findings(name: str, rows: dict[str, Any]) -> list[str]:
    """One line per row: its LDS, detection areas and cost, with dattri's published figures where there are some
    (TRAK's are with 50 models)."""
    lds = {key.split(" ")[0]: value for key, value in DATTRI.get(name, {}).items()}
    detection = DATTRI_DETECTION_MLP if name == "mlp" else {}
    unit = "L-BFGS fits" if name == "logreg" else "epochs"
    lines = []
    for label, row in rows.items():
        if row.get("not_run"):
            lines.append(f"{name}, {label}: not run ({row['not_run']})")
            continue
        method = label.split("[")[0]
        beside = f" (dattri {lds[method]:.2f})" if method in lds else ""
        note = "; every score 0: the edit kept θ̂" if row.get("constant") else ""
        own = f", by self-attribution {row['detection_self_auc']:.3f}" if "detection_self_auc" in row else ""
        own += f" (dattri {detection[method]:.2f})" if method in detection else ""
        lines.append(
            f"{name}, {label}: LDS {row['lds']:.3f}{beside}, detection area {row['detection_auc']:.3f}{own}, "
            f"{row['epochs']:.2f} {unit}{note}"
        )
    return lines


@EXPERIMENTS.register("attribution")
def attribution(seed: int, quick: bool, *, work: Path | None = None) -> Result:
    models = {name: study(name, quick, seed, work) for name in ("logreg", "mlp")}
    summary = {
        "models": {name: run["scorers"] for name, run in models.items()},
        "dattri": {"lds": DATTRI, "detection_mlp": DATTRI_DETECTION_MLP},
        "runs": models,
    }
    return Result(
        title="Attribution: LDS and mislabel detection of every scorer, MNIST-10",
        summary=summary,
        findings=[line for name, run in models.items() for line in findings(name, run["scorers"])],
        description=(
            "The setting of dattri's benchmark: 5,000 training and 500 test images from the shipped MNIST digits, "
            "L2-regularised logistic regression trained to convergence and an MLP of 0.1 M parameters. LDS: each "
            "test image's loss after retraining on 100 random halves, against the sum of each scorer's per-query "
            "scores over the half (scorers without per-query scores give one ranking for every query). Detection: "
            "the same model trained with 10 % of the labels flipped, each scorer's ranking against the flips, by its "
            "scores summed over the test images and, for the pairwise scorers, by each training example's attribution "
            "to itself (dattri's protocol). trak[models=10] and trak[models=50] average TRAK over ten and fifty MLPs "
            "trained from different seeds. dattri's published figures are in summary.json beside remedy's. Costs are "
            "in epochs of the MLP's training and in whole L-BFGS fits of the logistic regression."
        ),
    )
