"""What Tanno et al.'s corruption studies share (§4.1, Fig. 4; App. B): training images of some classes corrupted, θ̂
trained on them with the benchmarks' recipe, the query half's failures *of those classes* to explain, every scorer's
ranking of the training set against the corrupted mask, and sets of causes removed by the default treatment and
measured on the held-out half beside nothing removed, random removal and every corrupted image removed."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from remedy.data import Corruption, DatasetSplit, load_dataset
from remedy.evaluate import detection_curve
from remedy.evaluate.scoreboard import Trial, difference, measure, random_ranking
from remedy.examples import Examples
from remedy.experiments.base import one_setting
from remedy.experiments.causes_report import over_seeds
from remedy.identify import SCORERS, Scores, identify
from remedy.models import build_model, train_model
from remedy.models.config import QUICK_RECIPE, RECIPE
from remedy.pipeline import DemoConfig
from remedy.task import Task
from remedy.workflow import Problem, setup

CLASSES = (1, 6, 7, 9)
"""The classes whose training images are corrupted (Tanno et al. §4.1)."""

FRACTION = 0.3
"""The fraction of each of those classes' training images corrupted."""

DATASETS = ("mnist", "digits")
"""The studies' datasets (``--setting``): MNIST as in the paper, scikit-learn's digits as the small version (no
CIFAR-10 can be downloaded here)."""

COSTLY = {
    name: {"mnist": f"{epochs} training epochs per run on digits (input-noise, 3 seeds): hours per seed on MNIST"}
    for name, epochs in (
        ("sgd-influence", "650-890"),
        ("magic", "505-545"),
        ("cleanlab", "200-255"),
        ("adaptive", "170-270"),
        ("self-influence", "155-250"),
        ("dvrl", "115-175"),
    )
}
"""Scorers left out of a study's full run, per dataset, and why (each runs in the other dataset's version). The
tables in ``docs/results/studies`` were run when TMC-Shapley's default learner was logistic regression (days on
MNIST) and leave it out; its centroid learner takes 28-29 s a run on the MNIST demo (``docs/tanno-studies.md`` §4)."""

TOP = 1 / 3
"""The causes removed: each scorer's top third of the training set (Tanno et al.: 1,000 of 3,000 MNIST images)."""

QUICK_SCORERS = ("ewc-influence", "puma", "self-loss", "random")
"""The scorers of a ``--quick`` run: the paper's, the default and its peer, a few minutes in all."""


@dataclass
class Study:
    """One seed of a corruption study: the problem (posterior, split of failures of :data:`CLASSES`), what was
    corrupted, and the run's settings and epoch time."""

    problem: Problem
    corruption: Corruption
    settings: DemoConfig
    epoch_seconds: float


def dataset_for(quick: bool, settings: list[str] | None = None) -> str:
    """The one dataset of ``--setting`` (MNIST by default, digits for ``--quick``)."""
    return one_setting(settings, DATASETS, "digits" if quick else "mnist")


def class_failures(num_classes: int) -> str:
    """Every failure mode whose true class is one of :data:`CLASSES` (``"1->0,1->2,…"``)."""
    return ",".join(f"{c}->{p}" for c in CLASSES for p in range(num_classes) if p != c)


def corrupted_study(
    seed: int, quick: bool, corrupt: Callable[[DatasetSplit, int], Corruption], dataset: str, record: bool = False
) -> Study:
    """Corrupt the training set of ``dataset`` with ``corrupt(data, seed)``, train θ̂ on it with the
    benchmarks' recipe (with the trajectory when ``record``), and split the test set by ``seed`` with the failures of
    :data:`CLASSES` as the query."""
    data = load_dataset(dataset)
    corruption = corrupt(data, seed)
    train = Examples(corruption.x, corruption.y)
    shape = tuple(train.x.shape[1:])
    arch = "cnn" if data.is_image else "mlp"
    recipe = replace(QUICK_RECIPE if quick else RECIPE, record=record)
    model, trained = train_model(build_model(arch, shape, data.num_classes, seed), train, config=recipe, seed=seed)
    trained.init = lambda s: build_model(arch, shape, data.num_classes, s)
    task = Task(model, train, data.test, record=trained, corrupted=corruption.mask, true_labels=corruption.true_y)
    settings = DemoConfig(dataset=data.name, seed=seed, failures=class_failures(data.num_classes), treatment_seeds=1)
    return Study(setup(task, settings), corruption, settings, trained.epoch_seconds or 1.0)


def scorers(quick: bool, dataset: str, only: list[str] | None = None) -> dict[str, str]:
    """Row label → scorer name: ``only`` these (``--scorers``), or every registered scorer (those :data:`COSTLY` on
    ``dataset`` left out), or the :data:`QUICK_SCORERS`."""
    skip = left_out(quick, dataset, only)
    names = only or (QUICK_SCORERS if quick else [n for n in SCORERS.names() if n not in skip])
    return {name: name for name in names}


def left_out(quick: bool, dataset: str, only: list[str] | None = None) -> dict[str, str]:
    """The scorers a full run on ``dataset`` leaves out (:data:`COSTLY`), each with the reason (none in ``--quick``,
    which runs its own few); with ``only``, every registered scorer not in it."""
    if only:
        return {
            name: COSTLY.get(name, {}).get(dataset, "not in --scorers") for name in SCORERS.names() if name not in only
        }
    return {} if quick else {name: why[dataset] for name, why in COSTLY.items() if dataset in why}


def score(study: Study, name: str) -> tuple[Scores, float]:
    """The scorer's ranking of the training set against the query (its run-wide options from the settings) and its
    cost in training epochs."""
    method, options = study.settings.scorer_options(name)
    scores = identify(study.problem.posterior, study.problem.split.query, method, **options)
    return scores, scores.seconds / study.epoch_seconds


def ranking_row(values: Tensor, mask: Tensor, top: int, points: int = 50) -> dict[str, Any]:
    """How a ranking meets the corrupted ``mask``: the corrupted share of its ``top``, the detection area and the
    curve of the fraction found against the fraction inspected (thinned to ``points``)."""
    curve = detection_curve(values, mask)
    order = torch.argsort(values, descending=True, stable=True)
    keep = torch.linspace(0, len(values) - 1, points).round().long()
    return {
        "top_share": float(mask[order[:top]].double().mean()),
        "auc": curve.auc,
        "curve": {"inspected": curve.inspected[keep].tolist(), "found": curve.found[keep].tolist()},
    }


def removal_rows(study: Study, sets: dict[str, Tensor]) -> dict[str, dict[str, Any]]:
    """Each set of causes removed by the default treatment (the settings' treatment seeds), measured on T_h: held-out
    failures fixed, correct predictions broken, the net change with its interval, and the paired difference from
    removing nothing (the first set, ``nothing``, is added)."""
    problem, settings = study.problem, study.settings
    name, options = settings.treatment(settings.treat[0])
    trial = Trial(problem.posterior, problem.split.query.guard, name, options, settings.delta, settings.seeds())
    nothing = measure(problem.posterior, trial.all(torch.zeros(0, dtype=torch.long)), problem.split)
    rows = {"nothing": nothing.row | {"minus_nothing": {"mean": 0.0, "interval": [0.0, 0.0]}}}
    for label, causes in sets.items():
        row = measure(problem.posterior, trial.all(causes), problem.split)
        rows[label] = row.row | {"minus_nothing": difference(row, nothing, settings.level, problem.split.seed)}
    return rows


def rank_every_scorer(study: Study, quick: bool, top: int) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Every scorer of :func:`scorers` on the study: its :func:`ranking_row` against the corrupted mask with its
    cost in epochs, and its ``top`` causes."""
    rows, sets = {}, {}
    for label, name in scorers(quick, study.settings.dataset).items():
        found, epochs = score(study, name)
        rows[label] = ranking_row(found.values, study.corruption.mask, top) | {"epochs": epochs}
        sets[label] = found.ranking()[:top]
    return rows, sets


def corruption_run(study: Study, quick: bool, every: str) -> dict[str, Any]:
    """One seed's measures: every scorer's ranking against the corrupted mask, and the removal of its top
    :data:`TOP` causes beside removing every corrupted image (the set named ``every``) and a random set as large."""
    top = round(TOP * study.problem.posterior.n)
    rows, sets = rank_every_scorer(study, quick, top)
    sets[every] = study.corruption.mask.nonzero().flatten()
    sets["random"] = random_set(study, top)
    return {
        "top": top,
        "n_corrupted": study.corruption.n_corrupted,
        "query_failures": len(study.problem.split.query.failures),
        "scorers": rows,
        "removal": removal_rows(study, sets),
    }


def random_set(study: Study, count: int) -> Tensor:
    return random_ranking(study.problem.posterior.n, study.settings.seed)[:count]


def over(runs: list[dict[str, Any]], path: Callable[[dict[str, Any]], float | None]) -> dict[str, Any] | None:
    """``path`` of every run, as a mean with its 95 % t-interval over the runs (``None`` when a run lacks it)."""
    values = [path(run) for run in runs]
    if any(v is None for v in values):
        return None
    return over_seeds([float(v) for v in values])  # type: ignore[arg-type]


def mean_curve(curves: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """The mean of detection curves thinned at the same points."""
    return {
        "inspected": curves[0]["inspected"],
        "found": [statistics.fmean(c["found"][i] for c in curves) for i in range(len(curves[0]["found"]))],
    }
