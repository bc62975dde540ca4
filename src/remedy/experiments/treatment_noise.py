"""Treatment noise: the spread of every treatment's held-out net change over its own seeds, at fixed causes."""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from remedy.evaluate.scoreboard import Trial, measure, random_ranking
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.experiments.causes import SETTINGS, config_for
from remedy.identify import identify
from remedy.io import write_json
from remedy.models.record import temporary_folder
from remedy.pipeline import demo_task
from remedy.report import plots
from remedy.workflow import setup

CANDIDATES = (
    "finetune[early_stop=true]",
    "finetune[lr=0.001,epochs=20]",
    "finetune[lr=0.001,epochs=20,runs=2]",
    "finetune[lr=0.001,epochs=10]",
    "finetune[lr=0.001,epochs=10,runs=2]",
    "finetune[lr=0.0003,epochs=20]",
    "finetune[lr=0.0003,epochs=20,runs=3]",
    "finetune[lr=0.0003,epochs=20,average=0]",
    "finetune[early_stop=true,prox=0.01]",
)
"""The fine-tuning schedules the default was chosen among, by their explicit options: the earlier recipe
(early-stopped on the guard at the training learning rate, the first), fixed schedules with stochastic weight
averaging at two steps and two lengths, averages of several runs, the last iterate without averaging, and a
proximal term."""

TREATMENTS_RUN = (
    *CANDIDATES,
    "finetune",
    "relabel",
    "ewc-deletion",
    "retrain",
    "amnesiac",
    "finetune-failures-removed",
)
"""The candidates, the default (``finetune``), and the other treatments with randomness of their own."""

SEEDS = 5
"""Treatment seeds per set of causes."""

FRACTION = 0.1
"""The size of the diagnosis's set of causes, as a fraction of the training set."""


def causes_sets(problem: Any, seed: int) -> dict[str, torch.Tensor]:
    """The fixed sets of causes every treatment is run on: the default scorer's top 10 %, a random set of that size,
    nothing, and the corrupted labels (the oracle)."""
    n = problem.posterior.n
    ranking = identify(problem.posterior, problem.split.query).ranking()
    k = round(FRACTION * n)
    sets = {
        "diagnosis (top 10 %)": ranking[:k],
        "random (10 %)": random_ranking(n, seed)[:k],
        "no removal": torch.zeros(0, dtype=torch.long),
    }
    if problem.corrupted is not None:
        sets["oracle"] = torch.nonzero(problem.corrupted).flatten()
    return sets


def study(setting: str, seed: int, specs: tuple[str, ...], quick: bool, work: Path | None) -> dict[str, Any]:
    """On one split seed of ``setting`` (one trained model): every set of causes treated by every spec with
    :data:`SEEDS` treatment seeds, each set's net changes (points) and their spread; each spec's result is saved in
    ``work`` and read from there when it exists."""
    results: dict[str, Any] = {}
    todo = []
    for spec in specs:
        path = work / f"{setting}-{seed}-{spec}{'-quick' if quick else ''}.json" if work else None
        if path is not None and path.is_file():
            results[spec] = json.loads(path.read_text())
        else:
            todo.append((spec, path))
    if not todo:
        return results
    config = replace(config_for(SETTINGS[setting], seed, quick), treat=tuple(spec for spec, _ in todo))
    task, about = demo_task(config, temporary_folder())  # with the training record amnesiac needs
    problem = setup(task, config)
    sets = causes_sets(problem, seed)
    for spec, path in tqdm(todo, desc=f"{setting} {seed}", disable=None, leave=False):
        name, options = config.treatment(spec)
        trial = Trial(problem.posterior, problem.split.query.guard, name, options, config.delta, tuple(range(SEEDS)))
        rows = {}
        for label, causes in sets.items():
            row = measure(problem.posterior, trial.all(causes), problem.split).row
            rows[label] = {k: row[k] for k in ("net_change", "spread", "seeds", "seconds", "returned_original")}
        results[spec] = {"rows": rows, "epoch_seconds": about["train_epoch_seconds"], "seeds": len(trial.seeds)}
        if path is not None:
            write_json(path, results[spec])
    return results


@EXPERIMENTS.register("treatment-noise")
def treatment_noise(seed: int, quick: bool, *, work: Path | None = None, seeds: list[int] | None = None) -> Result:
    seeds = seeds or [seed]
    settings = ["digits-pairs"] if quick else ["mnist-pairs", "digits-pairs"]
    specs = ("finetune", CANDIDATES[0]) if quick else TREATMENTS_RUN
    per_seed = {setting: [study(setting, s, specs, quick, work) for s in seeds] for setting in settings}
    runs = {setting: {spec: [r[spec] for r in results] for spec in specs} for setting, results in per_seed.items()}
    table: dict[str, Any] = {}
    for setting, by_spec in runs.items():
        table[setting] = {}
        for spec, results in by_spec.items():
            sets = list(results[0]["rows"])
            spreads = [r["rows"][s]["spread"] for r in results for s in sets]
            table[setting][spec] = {
                "spread": statistics.fmean(spreads),
                "sets": {
                    s: {
                        "net_change": statistics.fmean(r["rows"][s]["net_change"] for r in results),
                        "spread": statistics.fmean(r["rows"][s]["spread"] for r in results),
                    }
                    for s in sets
                },
                "epochs": statistics.fmean(
                    r["rows"][s]["seconds"] / r["seeds"] / r["epoch_seconds"] for r in results for s in sets
                ),
            }
    figures = []
    for setting, by_spec in table.items():
        means = {spec: row["spread"] for spec, row in by_spec.items()}
        caption = (
            f"{setting}: sd of the net change over {SEEDS} treatment seeds at fixed causes (points), mean over sets."
        )
        figures.append((plots.net_change_plot(means, {}), caption))
    return Result(
        title="Treatment noise: the spread of each treatment over its own seeds at fixed causes",
        summary={"treatments": table, "runs": runs, "settings": {"seeds": seeds, "treatment_seeds": SEEDS}},
        description=(
            f"For each split seed, the demo's model is trained and the same sets of causes (the default scorer's top "
            f"{FRACTION:.0%}, a random set of that size, nothing, the corrupted labels) are treated by every treatment "
            f"with {SEEDS} treatment seeds. The spread is the standard deviation of the net change on the held-out "
            "half over those seeds: the noise a treatment adds to every comparison made with it."
        ),
        figures=figures,
    )
