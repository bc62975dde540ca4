"""Causes that hold up: every scorer × seeds × label-noise settings — detection, the corrupted share of the causes,
and the net held-out effect of treating them, beside the controls (issue 12's benchmark)."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from remedy.data import load_dataset
from remedy.data.failures import split_failures
from remedy.evaluate import detection_curve, evaluate
from remedy.evaluate.scoreboard import Trial, choose_count, controls, count_curve, outcome
from remedy.examples import Examples
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.experiments.causes_report import figures, tables
from remedy.identify import SCORERS, identify
from remedy.io import to_jsonable, write_json
from remedy.models import build_model, train_model
from remedy.models.train import TrainConfig
from remedy.pipeline import DemoConfig, corrupt
from remedy.posterior import Posterior
from remedy.treat import TREATMENTS

SEEDS = 5
DEFAULT = DemoConfig()
SCORERS_RUN: dict[str, tuple[str, dict[str, Any]]] = {
    "default": (DEFAULT.identify, DEFAULT.identify_options),
    "ewc-influence": ("ewc-influence", {}),
    "ewc-influence per mode": ("ewc-influence", {"per": "mode", "aggregate": "class-max"}),
    "finetune-influence": ("finetune-influence", {}),
    "linear-influence": ("linear-influence", {}),
    "puma (query half)": ("puma", {"target": "guard"}),
    "tracin": ("tracin", {}),
    "representer": ("representer", {}),
    "self-influence": ("self-influence", {}),
    "self-loss": ("self-loss", {}),
    "cleanlab": ("cleanlab", {}),
    "random": ("random", {}),
}
"""Every scorer the benchmark runs, by label: (registry name, options). Second-order ones use the demo's inverse.
The per-failure variants of linear influence and TracIn (cosine / GAS) are available by name but left out: each
costs a streamed ``[N, Q]`` pass per seed, and EWC per mode stands for per-failure aggregation here."""


@dataclass(frozen=True)
class Setting:
    """A label-noise setting: a built-in dataset, class-pair flips or a uniform flip rate."""

    dataset: str
    flip: str | None = None
    flip_rate: float | None = None


SETTINGS = {
    "mnist-pairs": Setting("mnist", flip="1-7:0.3,4-9:0.3,3-5:0.3"),  # the demo's
    "mnist-uniform": Setting("mnist", flip_rate=0.1),
    "digits-pairs": Setting("digits", flip="3-8:0.3,5-9:0.3,2-7:0.3"),
}


def study(setting: Setting, seed: int, quick: bool) -> dict[str, Any]:
    """One seed of one setting: train on the noisy labels, split the test set, run the default pipeline (count
    chosen on the guard), every scorer at that count, and the controls; all numbers on the held-out half."""
    default = replace(DemoConfig(), dataset=setting.dataset, seed=seed, flip=setting.flip, flip_rate=setting.flip_rate)
    data = load_dataset(setting.dataset, quick=quick)
    corruption = corrupt(data, default)
    train = Examples(corruption.x, corruption.y)
    config = TrainConfig(max_epochs=15 if quick else 100)
    shape = tuple(train.x.shape[1:])
    arch = "cnn" if data.is_image else "mlp"
    model, log = train_model(build_model(arch, shape, data.num_classes, seed), train, config=config, seed=seed)
    failures = split_failures(model, data.test, seed=seed)

    def fresh() -> Posterior:  # every scorer pays for its own Fisher, factors and folds: honest wall times
        init = lambda s: build_model(arch, shape, data.num_classes, s)  # noqa: E731
        return Posterior(model, train, config=config, init=init, checkpoints=log.checkpoints)

    posterior = fresh()
    net_before = evaluate(model, failures)["accuracy"]["net"]
    shared = default.shared()
    main = default.treat[0]
    trial = Trial(posterior, failures, main, TREATMENTS.accepted(main, shared), default.delta)
    scores, seconds = {}, {}
    for label, (method, options) in tqdm(SCORERS_RUN.items(), desc="scorers", disable=None, leave=False):
        same = next((other for other, run in SCORERS_RUN.items() if run == (method, options) and other in scores), None)
        if same is not None:
            scores[label], seconds[label] = scores[same], seconds[same]
            continue
        start = time.perf_counter()
        scores[label] = identify(fresh(), failures, method, **(SCORERS.accepted(method, shared) | options)).values
        seconds[label] = time.perf_counter() - start
    candidates = sorted({max(1, round(f * posterior.n)) for f in default.count_fractions})
    default_label = "default"
    default_ranking = torch.argsort(scores[default_label], descending=True, stable=True)
    k, guard_curve = choose_count(trial, default_ranking, candidates)
    net_curve = count_curve(trial, {default_label: default_ranking}, candidates, net_before)  # repairs already made
    rows: dict[str, Any] = {}
    for label, values in scores.items():
        ranking = torch.argsort(values, descending=True, stable=True)
        result = trial(ranking[:k])
        rows[label] = {
            "seconds": seconds[label],
            "epochs": seconds[label] / log.epoch_seconds,
            "detection_auc": detection_curve(values, corruption.mask).auc,
            "causes_corrupted": float(corruption.mask[ranking[:k]].double().mean()),
            main: outcome(result, failures, net_before),
        }
    relabel = Trial(posterior, failures, "relabel", TREATMENTS.accepted("relabel", shared), default.delta)
    for label in (default_label, "random"):
        rows[label]["relabel"] = outcome(
            relabel(torch.argsort(scores[label], descending=True)[:k]), failures, net_before
        )
    rows["oracle"] = {"relabel": outcome(relabel(torch.nonzero(corruption.mask).flatten()), failures, net_before)}
    return {
        "count": k,
        "guard_curve": guard_curve,
        "net_curve": net_curve,
        "scorers": rows,
        "controls": controls(trial, k, net_before, {}, corruption.mask, default.random_draws, seed, candidates),
        "net_before": net_before,
        "n_train": posterior.n,
        "n_corrupted": corruption.n_corrupted,
        "n_held_out": len(failures.held_out),
        "epoch_seconds": log.epoch_seconds,
    }


def mean_sd(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0}


def resumed(work: Path | None, name: str, setting: Setting, seed: int, quick: bool) -> dict[str, Any]:
    """:func:`study`, or its result saved in ``work`` by an earlier run with the same arguments."""
    if work is None:
        return study(setting, seed, quick)
    path = work / f"{name}-{seed}{'-quick' if quick else ''}.json"
    if path.is_file():
        return json.loads(path.read_text())
    result = to_jsonable(study(setting, seed, quick))
    write_json(path, result)
    return result


@EXPERIMENTS.register("causes")
def causes(seed: int, quick: bool, *, work: Path | None = None) -> Result:
    seeds = list(range(seed, seed + (2 if quick else SEEDS)))
    chosen = {"digits-pairs": SETTINGS["digits-pairs"]} if quick else SETTINGS
    runs = {
        name: [resumed(work, name, setting, s, quick) for s in tqdm(seeds, desc=name, disable=None, leave=False)]
        for name, setting in chosen.items()
    }
    summary = tables(runs, mean_sd) | {"runs": runs, "settings": {"seeds": seeds, "default": repr(DemoConfig())}}
    return Result(
        title="Causes that hold up: scorers, treatments and controls over seeds",
        summary=summary,
        description=(
            f"Each setting is trained from scratch on noisy labels for each of {len(seeds)} seeds; the test set is "
            "split in half by seed. The default pipeline chooses how many of its top-ranked training examples to "
            "treat on the query half alone; every scorer is then treated at that count with the same fine-tuning, "
            "early-stopped on the query half, beside no removal, random removal (3 draws), a random order with its "
            "count chosen on the query half like the default's, and the oracle (all corrupted labels). Net change = "
            "accuracy on the held-out half minus the original model's, in points."
        ),
        figures=figures(runs),
    )
