"""Sample efficiency (Tanno et al. App. B.1, Fig. 6): how the diagnosis degrades as the query shrinks. On the demo's
label noise, F_q is cut to 5 … 100 % of the query half's failures; for every scorer, the examples it calls harmful
(score > 0, as the paper removes them) are checked against the flipped labels (precision, recall) and removed by the
default treatment, and so is the pipeline's own count (chosen on the guard among the candidates)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from remedy.data.split import QueryHalf
from remedy.evaluate.scoreboard import Trial, choose_count, measure
from remedy.experiments.base import EXPERIMENTS, Result, one_setting
from remedy.experiments.causes import SETTINGS, config_for
from remedy.experiments.causes_report import over_seeds
from remedy.experiments.studies import left_out
from remedy.experiments.studies import scorers as every
from remedy.identify import identify
from remedy.io import to_jsonable, write_json
from remedy.pipeline import demo_task
from remedy.report import plots
from remedy.workflow import count_candidates, setup

SIZES = (0.05, 0.1, 0.25, 0.5, 1.0)
"""The fractions of the query half's failures the diagnosis is given."""

QUICK_SCORERS = ("ewc-influence",)
"""``--quick``: the paper's scorer alone, and the smallest candidate count only (no choice on the guard)."""


def cut(query: QueryHalf, size: float) -> QueryHalf:
    """The query half with only the first ``size`` of its failures F_q (at least two) and, for the scorers that
    explain the whole half (``target="guard"``), the same share of its correct predictions: T_q shrinks with F_q."""
    keep = max(2, round(size * len(query.failures)))
    failed = torch.isin(query.guard_index, query.index)
    correct = torch.nonzero(~failed).flatten()
    correct = correct[: round(size * len(correct))]
    shown = torch.sort(torch.cat([torch.nonzero(torch.isin(query.guard_index, query.index[:keep])).flatten(), correct]))
    guard = shown.values
    return replace(
        query.subset(torch.arange(keep)),
        guard=query.guard[guard.to(query.guard.y.device)],
        guard_index=query.guard_index[guard],
    )


SETTINGS_RUN = {"mnist-pairs": "mnist", "digits-pairs": "digits"}
"""``--setting`` → its dataset: the demo's label noise on MNIST (the default) or on scikit-learn's digits."""


def study(seed: int, quick: bool, name: str, names: list[str]) -> dict[str, Any]:
    """One seed of the setting ``name`` for the scorers ``names``, at every query size; self-loss and random ignore
    the query, so their rows differ by size only through the count chosen."""
    setting = SETTINGS[name]
    config = replace(config_for(setting, seed, quick), compare=(), peers=(), treat=("finetune",), treatment_seeds=1)
    task, _ = demo_task(replace(config, compare=tuple(names)))  # the record, when a scorer needs it
    problem = setup(task, config)
    posterior, split, corrupted = problem.posterior, problem.split, problem.corrupted
    assert corrupted is not None
    name, options = config.treatment("finetune")
    trial = Trial(posterior, split.query.guard, name, options, config.delta, (0,))
    nothing = measure(posterior, trial.all(torch.zeros(0, dtype=torch.long)), split).row["net_change"]
    rows: dict[str, list[dict[str, Any]]] = {}
    for scorer in names:
        method, own = config.scorer_options(scorer)
        rows[scorer] = []
        for size in SIZES:
            query = cut(split.query, size)
            scores = identify(posterior, query, method, **own)
            harmful = scores.positive()
            entry: dict[str, Any] = {"size": size, "queries": len(query.failures), "harmful": len(harmful)}
            if len(harmful):
                hits = int(corrupted[harmful].sum())
                entry |= {"precision": hits / len(harmful), "recall": hits / int(corrupted.sum())}
                if len(harmful) < posterior.n:
                    entry["removed_harmful"] = measure(posterior, [trial(harmful)], split).row
            candidates = count_candidates(config, posterior.n, scores.count)[: 1 if quick else None]
            chosen, _ = choose_count(trial, scores.ranking(), candidates)
            entry["chosen"] = chosen
            entry["removed_chosen"] = measure(posterior, [trial(scores.ranking()[:chosen])], split).row
            rows[scorer].append(entry)
    return {"seed": seed, "nothing": nothing, "scorers": _slim(rows), "n_corrupted": int(corrupted.sum())}


def saved(work: Path | None, name: str, seed: int, quick: bool, names: list[str]) -> dict[str, Any]:
    """Seed ``seed``'s run for ``names``: what ``work`` holds of it (a study saves every seed's scorers there), with
    only the scorers it lacks computed (θ̂, the split and the treatment are the seed's, so the rest is the same) and
    saved beside them, so that two processes may share a seed's scorers."""
    path = work / f"sample-efficiency-{name}-{seed}{'-quick' if quick else ''}.json" if work is not None else None

    def read() -> dict[str, Any] | None:
        return json.loads(path.read_text()) if path is not None and path.is_file() else None

    run = read()
    missing = [n for n in names if run is None or n not in run["scorers"]]
    if missing:
        found = to_jsonable(study(seed, quick, name, missing))
        run = read() or found  # as it is now: another process may have saved other scorers of this seed meanwhile
        run = run | {"scorers": run["scorers"] | found["scorers"]}
        if path is not None:
            write_json(path, run)
    assert run is not None
    return run | {"scorers": {n: run["scorers"][n] for n in names}}


def _slim(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The numbers the tables need from each measured row: accuracy on F_h and T_h ∖ F and the net change."""
    keep = ("net_change", "interval", "fixed", "broken")
    for entries in rows.values():
        for entry in entries:
            for key in ("removed_harmful", "removed_chosen"):
                if key in entry:
                    row = entry[key]
                    entry[key] = {k: row[k] for k in keep} | {
                        "held_out_failures": row["accuracy"]["held_out_failures"],
                        "remaining": row["accuracy"]["remaining"],
                    }
    return rows


def tables(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scorer and query size, over seeds: precision and recall of what it calls harmful; after removing it and
    after removing the pipeline's chosen count, the held-out failures fixed, correct predictions broken, the net
    change and its difference from nothing removed (mean with a 95 % t-interval, over the seeds that have the
    number)."""
    out: dict[str, Any] = {}
    for scorer in runs[0]["scorers"]:
        out[scorer] = []
        for i, size in enumerate(SIZES):
            entries = [run["scorers"][scorer][i] for run in runs]
            row: dict[str, Any] = {"size": size, "harmful": over_seeds([float(e["harmful"]) for e in entries])}
            for key in ("precision", "recall"):
                values = [e[key] for e in entries if key in e]
                row[key] = over_seeds(values) if values else None
            for key in ("removed_harmful", "removed_chosen"):
                had = [(e[key], run["nothing"]) for e, run in zip(entries, runs, strict=True) if key in e]
                for part in ("fixed", "broken", "net_change"):
                    row[f"{key}_{part}"] = over_seeds([float(r[part]) for r, _ in had]) if had else None
                row[f"{key}_minus_nothing"] = over_seeds([r["net_change"] - n for r, n in had]) if had else None
            out[scorer].append(row)
    return out


def figure(table: dict[str, Any], key: str, label: str) -> str:
    curves = {
        scorer: [row[key]["mean"] if row[key] is not None else float("nan") for row in rows]
        for scorer, rows in table.items()
    }
    return plots.lines_plot(list(SIZES), curves, "fraction of the query failures given", label)


@EXPERIMENTS.register("sample-efficiency")
def sample_efficiency(
    seed: int,
    quick: bool,
    *,
    work: Path | None = None,
    seeds: list[int] | None = None,
    settings: list[str] | None = None,
    scorers: list[str] | None = None,
) -> Result:
    name = one_setting(settings, tuple(SETTINGS_RUN), "digits-pairs" if quick else "mnist-pairs")
    seeds = seeds or list(range(seed, seed + (1 if quick else 3)))
    names = scorers or list(QUICK_SCORERS if quick else every(quick, SETTINGS_RUN[name]))
    runs = [saved(work, name, s, quick, names) for s in seeds]
    table = tables(runs)
    return Result(
        title=f"Sample efficiency: the diagnosis from 5 % to 100 % of the query failures ({name})",
        summary={
            "scorers": table,
            "nothing": over_seeds([run["nothing"] for run in runs]),
            "runs": runs,
            "settings": {
                "seeds": seeds,
                "sizes": list(SIZES),
                "setting": name,
                "left_out": left_out(quick, SETTINGS_RUN[name], scorers),
            },
        },
        description=(
            "The demo's label noise: 30 % of three pairs of classes flipped (MNIST 1↔7, 4↔9, 3↔5; scikit-learn's "
            "digits 3↔8, 5↔9, 2↔7). The query "
            "half's failures F_q are cut to each fraction; every scorer explains the cut set. What it calls harmful "
            "(score > 0, as Tanno et al. remove) is checked against the flipped labels and removed by the default "
            "treatment (one treatment seed), and so is the top of its ranking at the count the pipeline chooses on "
            "the guard. Differences from nothing removed on the held-out half, mean and 95 % interval over seeds."
        ),
        figures=[
            (figure(table, "precision", "precision of 'harmful'"), "Flipped share of what each scorer calls harmful."),
            (figure(table, "recall", "recall of 'harmful'"), "Share of the flipped labels each scorer calls harmful."),
            (
                figure(table, "removed_chosen_minus_nothing", "removal value (points)"),
                "The pipeline's chosen count removed: net change minus nothing removed, points on T_h.",
            ),
        ],
    )
