"""Which corrupted labels does the repair need gone? The default treatment (fine-tuning on D \\ C) applied to sets
that differ in *which* flipped labels they hold, on the demo's problem for each seed.

The default scorer's top 10 % of the training set is mostly flipped labels, yet its repair gains no more than a
random 10 % while removing every flipped label gains much more (``docs/causes.md``). The sets below take that apart:

- ``puma``: the default scorer's top 10 %; ``puma-flips``: only its flipped labels (its clean ones kept);
- ``puma-balanced``: as many causes, the default scorer's top taken within each given label in proportion to the
  label's share of the training set; ``puma-cells``: as many causes among the examples θ̂ misfits, spread over
  the (predicted, given) label cells in proportion to each cell's size, the default scorer's top within each
  (both are what a user can do without knowing which labels are flipped);
- ``flips-matched``: other flipped labels with the same (true, given) class pairs as ``puma-flips``, as many as
  each pair has left (fewer where the scorer took nearly all of a pair);
- ``flips-random``: as many flipped labels drawn from all of them; ``flips-rest``: every flipped label *not* in the
  top 10 %; ``flips-all``: every flipped label (the oracle); ``nothing``: nothing removed.

Each set's net change on the held-out half with its interval, and its paired difference from ``puma-flips``; for each
set, the share of its flipped labels that θ̂ fits (predicts the given, wrong label). An analysis: it chooses nothing.
A rerun adds the sets a saved seed lacks (with ``puma-flips`` again, the reference of the paired differences).

    python benchmarks/which_flips.py --setting mnist-pairs --seeds 0-4 --work runs/which-flips
    python benchmarks/which_flips.py --setting mnist-pairs --table --work runs/which-flips
"""

from __future__ import annotations

import argparse
import collections
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from confirm import signed
from torch import Tensor

from remedy.data.split import predict
from remedy.evaluate.scoreboard import Trial, difference, measure
from remedy.experiments.causes import SETTINGS, config_for
from remedy.experiments.causes_report import over_seeds
from remedy.identify import identify
from remedy.io import to_jsonable, write_json
from remedy.pipeline import demo_task
from remedy.seeds import stream
from remedy.workflow import setup

SETS = (
    "nothing",
    "puma",
    "puma-balanced",
    "puma-cells",
    "puma-flips",
    "flips-matched",
    "flips-random",
    "flips-rest",
    "flips-all",
)


def pick(pool: Tensor, k: int, generator: torch.Generator) -> Tensor:
    return pool[torch.randperm(len(pool), generator=generator)[:k]]


def balanced(ranking: Tensor, given: Tensor, k: int) -> Tensor:
    """The top of ``ranking`` within each given label, ``k`` in all, each label's share in proportion to its size."""
    labels, counts = torch.unique(given, return_counts=True)
    shares = torch.round(k * counts.double() / len(given)).long()
    return torch.cat([ranking[given[ranking] == label][:share] for label, share in zip(labels, shares, strict=True)])


def cells(ranking: Tensor, given: Tensor, predicted: Tensor, k: int) -> Tensor:
    """``k`` causes among the misfit examples (``predicted != given``), each (predicted, given) cell's share in
    proportion to its size (largest remainders), the top of ``ranking`` within each; topped up from ``ranking`` if
    there are fewer."""
    misfit = ranking[predicted[ranking] != given[ranking]]
    cell = predicted[misfit] * 1000 + given[misfit]
    keys, sizes = torch.unique(cell, return_counts=True)
    quota = min(k, len(misfit)) * sizes.double() / len(misfit)
    shares = quota.floor().long()  # largest remainders: the shares sum to min(k, misfits) exactly
    shares[torch.argsort(quota - shares, descending=True, stable=True)[: min(k, len(misfit)) - int(shares.sum())]] += 1
    chosen = torch.cat([misfit[:0], *(misfit[cell == key][:share] for key, share in zip(keys, shares, strict=True))])
    rest = ranking[~torch.isin(ranking, chosen)]
    return torch.cat([chosen, rest[: max(0, k - len(chosen))]])


def sets_of(
    ranking: Tensor, k: int, corrupted: Tensor, given: Tensor, predicted: Tensor, pairs: Tensor, seed: int
) -> dict[str, Tensor]:
    """The sets of causes: ``pairs[i]`` is example i's (true, given) class pair as one integer."""
    top = ranking[:k]
    flips = torch.nonzero(corrupted).flatten()
    ours = top[corrupted[top]]
    others = flips[~torch.isin(flips, ours)]
    matched = []
    for pair, n in collections.Counter(pairs[ours].tolist()).items():
        pool = others[pairs[others] == pair]
        matched.append(pick(pool, n, stream(seed, f"which-flips matched {pair}")))
    return {
        "nothing": top[:0],
        "puma": top,
        "puma-balanced": balanced(ranking, given, k),
        "puma-cells": cells(ranking, given, predicted, k),
        "puma-flips": ours,
        "flips-matched": torch.cat([ours[:0], *matched]),
        "flips-random": pick(flips, len(ours), stream(seed, "which-flips random")),
        "flips-rest": others,
        "flips-all": flips,
    }


def run_seed(setting: str, seed: int, fraction: float, saved: dict[str, Any] | None = None) -> dict[str, Any]:
    config = replace(config_for(SETTINGS[setting], seed, quick=False), peers=(), compare=(), treatment_seeds=1)
    task, about = demo_task(config)
    problem = setup(task, config)
    posterior, split = problem.posterior, problem.split
    scorer, scorer_options = config.scorer_options()
    scores = identify(posterior, split.query, scorer, **scorer_options)
    corrupted = problem.corrupted
    assert corrupted is not None and task.true_labels is not None
    given = posterior.train.labels.cpu()
    true = torch.as_tensor(task.true_labels).cpu()
    predicted = predict(posterior.model, posterior.train.x)
    fitted = predicted == given
    k = round(fraction * posterior.n)
    sets = sets_of(scores.ranking(), k, corrupted, given, predicted, true * 1000 + given, seed)
    done = (saved or {}).get("sets", {})
    method, options = config.treatment(config.treat[0])
    trial = Trial(posterior, split.query.guard, method, options, config.delta, config.seeds())
    rows = {}
    for name, causes in sets.items():
        if name in done and name != "puma-flips":
            continue
        rows[name] = measure(posterior, trial.all(causes), split, config.level)
        flips = causes[corrupted[causes]]
        rows[name].row |= {
            "n": len(causes),
            "n_flips": len(flips),
            "fitted": float(fitted[flips].double().mean()) if len(flips) else None,
            "pairs": dict(collections.Counter(f"{int(true[i])}→{int(given[i])}" for i in flips).most_common()),
        }
    for row in rows.values():
        row.row["minus_puma_flips"] = difference(row, rows["puma-flips"], config.level, seed)
    if "puma-flips" in done and abs(done["puma-flips"]["net_change"] - rows["puma-flips"].row["net_change"]) > 1e-9:
        print(f"warning: seed {seed}'s puma-flips moved since it was saved; its saved rows are kept", flush=True)
    fresh = {name: row.row for name, row in rows.items()}
    return {"setting": setting, "seed": seed, "fraction": fraction, **about} | {
        "sets": {name: done.get(name) or fresh[name] for name in SETS}
    }


def table(work: Path, setting: str) -> str:
    """Each set's mean over the saved seeds of ``setting`` that hold it, with its 95 % t-interval over seeds."""
    runs = sorted((json.loads(p.read_text()) for p in work.glob(f"{setting}-*.json")), key=lambda r: r["seed"])
    lines = [
        f"{setting}: net change on T_h in points, mean [95 % t-interval over seeds]",
        "",
        "| set | seeds | causes | flipped | θ̂ fits its flips | net change | minus puma-flips |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in SETS:
        rows = [r["sets"][name] for r in runs if name in r["sets"]]
        if not rows:
            continue
        net = over_seeds([row["net_change"] for row in rows])
        diff = over_seeds([row["minus_puma_flips"]["mean"] for row in rows])
        fits = [row["fitted"] for row in rows if row["fitted"] is not None]
        fit = f"{sum(fits) / len(fits):.2f}" if fits else "—"
        seeds = ", ".join(str(r["seed"]) for r in runs if name in r["sets"])
        lines.append(
            f"| {name} | {seeds} | {sum(row['n'] for row in rows) / len(rows):.0f} | "
            f"{sum(row['n_flips'] for row in rows) / len(rows):.0f} | {fit} | {signed(net['mean'], net['interval'])} | "
            f"{signed(diff['mean'], diff['interval'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=SETTINGS, default="mnist-pairs")
    parser.add_argument("--seeds", default="0-4", help="A-B, inclusive (B-A: backwards)")
    parser.add_argument("--fraction", type=float, default=0.1, help="the scorer's top set, a fraction of D")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--table", action="store_true", help="print the table of every seed saved in --work")
    args = parser.parse_args()
    if args.table:
        print(table(args.work, args.setting))
        return
    torch.set_num_threads(args.threads)
    first, last = (int(s) for s in args.seeds.split("-"))
    step = 1 if last >= first else -1
    args.work.mkdir(parents=True, exist_ok=True)
    for seed in range(first, last + step, step):
        path = args.work / f"{args.setting}-{seed}.json"
        claim = path.with_suffix(".running")
        saved = json.loads(path.read_text()) if path.is_file() else None
        if claim.exists() or (saved is not None and set(SETS) <= set(saved["sets"])):
            continue
        claim.touch()
        write_json(path, to_jsonable(run_seed(args.setting, seed, args.fraction, saved)))
        claim.unlink()
        print(f"{args.setting} {seed} done", flush=True)


if __name__ == "__main__":
    main()
