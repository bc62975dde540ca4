"""Unlearning fidelity: every treatment against retraining from scratch without the forgotten data (SPEC §7.8)."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from remedy.data.split import Split, split_test
from remedy.evaluate import accuracy
from remedy.evaluate.forgetting import agreement, kl_divergence, loss_attack_auc, svc_attack, tug_of_war
from remedy.examples import Examples
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.io import write_json
from remedy.models import train_model
from remedy.models.record import temporary_folder
from remedy.models.sisa import SHARDS, SLICES
from remedy.pipeline import DemoConfig, demo_task
from remedy.posterior import Posterior
from remedy.report import plots
from remedy.seeds import stream
from remedy.treat import repair
from remedy.treat.sisa import retrained_fraction

TREATMENTS_RUN = (
    "finetune",
    "relabel",
    "ewc-deletion",
    "newton",
    "puma",
    "amnesiac",
    "unrolling",
    "sisa",
    "finetune-failures",
    "finetune-failures-removed",
)
"""Every treatment, each asked to forget the same examples of the same model (SISA: of its own sharded model)."""

ORIGINAL = "original"
"""The row of θ̂ unchanged (nothing forgotten), measured like a treatment."""

DATASETS = ("mnist", "breast-cancer")
FORGET = ("random 10 %", "corrupted labels")


def _accuracies(model: nn.Module, forgotten: Examples, kept: Examples, test: Examples) -> dict[str, float]:
    values = {"forgotten": accuracy(model, forgotten), "kept": accuracy(model, kept), "test": accuracy(model, test)}
    return {k: float(v) for k, v in values.items() if v is not None}


def measure(model: nn.Module, retrained: nn.Module, sets: dict[str, Examples], seed: int) -> dict[str, Any]:
    """One unlearned model against the retrained one: accuracies, agreement and KL on the test half, the
    membership attacks on the forgotten examples (against unseen test examples) and the tug of war."""
    accuracies = _accuracies(model, sets["forgotten"], sets["kept"], sets["test"])
    target = _accuracies(retrained, sets["forgotten"], sets["kept"], sets["test"])
    return {
        "accuracy": accuracies,
        "agreement_with_retrain": agreement(model, retrained, sets["test"]),
        "kl_to_retrain": kl_divergence(model, retrained, sets["test"]),
        "mia_auc": loss_attack_auc(model, sets["forgotten"], sets["test"]),
        "mia_svc": svc_attack(model, sets["kept"], sets["attack"], sets["forgotten"], seed),
        "tow": tug_of_war(accuracies, target),
    }


def _same(model: nn.Module, original: nn.Module) -> bool:
    """Whether a treatment handed back θ̂ itself (e.g. its early stopping kept step 0): nothing was forgotten."""
    state = model.state_dict()
    return all(torch.equal(value, state[key]) for key, value in original.state_dict().items())


def _sets(train: Examples, forget: Tensor, split: Split) -> dict[str, Examples]:
    keep = torch.ones(len(train), dtype=torch.bool)
    keep[forget] = False
    guard = split.query.guard
    half = len(guard) // 2
    return {
        "forgotten": train[forget],
        "kept": train[keep],
        "test": split.held_out.examples,  # what the attack is measured against, never trained on
        "attack": guard[torch.arange(half)],  # unseen examples the SVC attack learns from
    }


def study(dataset: str, seed: int, quick: bool) -> dict[str, Any]:
    """One seed of one dataset: the model trained with its every step recorded and a SISA model of the same
    architecture; each forget set removed by every treatment and by retraining from scratch."""
    config = replace(DemoConfig(), dataset=dataset, seed=seed, quick=quick, treat=("amnesiac",))
    task, _ = demo_task(config, temporary_folder())
    train, record = task.train, task.record
    assert record is not None and record.epoch_seconds is not None and task.corrupted is not None
    posterior = Posterior(task.model, train, record=record)
    split = split_test(task.model, task.test, seed=seed)
    sharded = replace(record.config, record=False, shards=SHARDS, slices=SLICES)
    start = time.perf_counter()
    ensemble, sisa_record = train_model(posterior.fresh_model(seed), train, config=sharded, seed=seed)
    sisa_record.init = record.init
    sisa_posterior = Posterior(ensemble, train, record=sisa_record)
    sisa_seconds = time.perf_counter() - start
    forget_sets = {
        FORGET[0]: torch.randperm(len(train), generator=stream(seed, "forget"))[: len(train) // 10].sort().values,
        FORGET[1]: torch.nonzero(torch.as_tensor(task.corrupted)).flatten(),
    }
    out: dict[str, Any] = {
        "epoch_seconds": record.epoch_seconds,
        "sharding_cost": accuracy(task.model, split.held_out.examples) - accuracy(ensemble, split.held_out.examples),
        "sisa_training_epochs": sisa_seconds / record.epoch_seconds,
        "n_train": len(train),
    }
    for name, forget in forget_sets.items():
        sets = _sets(train, forget, split)
        start = time.perf_counter()
        retrained = repair(posterior, forget, "retrain", guard=split.query.guard, seed=seed).model
        seconds = time.perf_counter() - start
        rows: dict[str, Any] = {
            "retrain": {
                "accuracy": _accuracies(retrained, sets["forgotten"], sets["kept"], sets["test"]),
                "mia_auc": loss_attack_auc(retrained, sets["forgotten"], sets["test"]),
                "mia_svc": svc_attack(retrained, sets["kept"], sets["attack"], sets["forgotten"], seed),
                "epochs": seconds / record.epoch_seconds,
            }
        }
        # θ̂ itself: the tug of war and the attacks of doing nothing, the floor every treatment is read against
        rows[ORIGINAL] = measure(task.model, retrained, sets, seed) | {"epochs": 0.0, "returned_original": True}
        for method in tqdm(TREATMENTS_RUN, desc=f"{dataset} {seed} {name}", disable=None, leave=False):
            owner = sisa_posterior if method == "sisa" else posterior
            start = time.perf_counter()
            model = repair(owner, forget, method, guard=split.query.guard, delta=float("inf")).model
            seconds = time.perf_counter() - start
            rows[method] = measure(model, retrained, sets, seed) | {
                "epochs": seconds / record.epoch_seconds,
                "returned_original": _same(model, owner.model),
            }
        rows["sisa"]["retrained_fraction"] = retrained_fraction(sisa_record.shards, forget)
        out[name] = rows
    return out


def resumed(work: Path | None, dataset: str, seed: int, quick: bool) -> dict[str, Any]:
    path = work / f"{dataset}-{seed}{'-quick' if quick else ''}.json" if work else None
    if path is not None and path.is_file():
        return json.loads(path.read_text())
    result = study(dataset, seed, quick)
    if path is not None:
        write_json(path, result)
    return result


def _mean(values: list[float]) -> float:
    return statistics.fmean(values)


def summarise(runs: list[dict[str, Any]], forget: str) -> dict[str, Any]:
    """Means over seeds of every treatment's numbers (and retraining's) for one forget set."""
    rows = [run[forget] for run in runs]

    def average(values: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values[0].items():
            if isinstance(value, dict):
                out[key] = average([v[key] for v in values])
            else:
                out[key] = _mean([float(v[key]) for v in values])
        return out

    names = [*TREATMENTS_RUN, *([ORIGINAL] if all(ORIGINAL in r for r in rows) else [])]
    treatments = {method: average([r[method] for r in rows]) for method in names}
    return {"treatments": treatments, "retrain": average([r["retrain"] for r in rows])}


@EXPERIMENTS.register("unlearning")
def unlearning(seed: int, quick: bool, *, work: Path | None = None, seeds: list[int] | None = None) -> Result:
    seeds = seeds or list(range(seed, seed + (1 if quick else 3)))
    datasets = ("digits", "wine") if quick else DATASETS
    runs = {d: [resumed(work, d, s, quick) for s in seeds] for d in datasets}
    cases = {f"{d}, {forget}": summarise(runs[d], forget) for d in datasets for forget in FORGET}
    first = next(iter(cases.values()))
    summary = first | {"cases": cases, "runs": runs, "settings": {"seeds": seeds, "datasets": list(datasets)}}
    figures = []
    for case, table in cases.items():
        tow = {m: row["tow"] for m, row in table["treatments"].items()}
        figures.append(
            (plots.net_change_plot(tow, {}), f"{case}: tug of war with retraining (1 = identical accuracies)")
        )
    return Result(
        title="Unlearning fidelity: every treatment against retraining from scratch",
        summary=summary,
        description=(
            "Each dataset's model is trained with its every optimiser step recorded (and a SISA model of "
            f"{SHARDS} shards × {SLICES} slices beside it); each treatment then forgets (a) a random 10 % of the "
            "training set and (b) the corrupted labels, and is compared with the same architecture retrained from "
            "scratch without them (no back-off toward θ̂: a deletion must delete): accuracy on the forgotten, kept and "
            "test examples, prediction agreement and KL "
            "divergence to the retrained model on the held-out test half, two membership attacks on the forgotten "
            "examples (loss-threshold AUC against unseen test examples; the confidence SVC attack's member rate), "
            "the tug of war and the wall time in epochs of the original training. The row 'original' is θ̂ "
            "unchanged: what doing nothing scores. The first case's numbers lead."
        ),
        figures=figures,
    )
