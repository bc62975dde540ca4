"""Which way of choosing the causes adds the most beyond the same treatment with nothing removed? Every candidate
selection rule (a scorer, or a set-aware rule around one) through the shipped pipeline's own pieces, on the same
trained model, split and treatment seeds, for each seed:

- the controls every rule is measured against: the default treatment with **nothing removed** and the **oracle**
  (every corrupted label), each with every treatment seed;
- for each rule: its order, the count chosen on the query half T_q among the candidate counts (the settings'
  fractions and the count the rule estimates itself, when it gives one), the repair at that count and at the
  estimated count with every treatment seed, and each one's **removal value** (the repair minus nothing removed,
  paired on T_h) and its share of the oracle's; the held-out net change at every candidate count (first treatment
  seed), for analysis only.

A rerun adds the rules a saved seed lacks (the model and split are the same: the training is deterministic under its
seed on one machine). Choose on selection seeds (0-4), confirm on fresh ones with ``confirm.py``.

    python benchmarks/selection.py --setting mnist-pairs --seeds 0-4 --work docs/results/selection \\
        --rules puma trak cells "cells[base=puma]" adaptive
    python benchmarks/selection.py --table --work docs/results/selection docs/results/selection-2
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from confirm import signed

from remedy.evaluate.scoreboard import Trial, choose_count, measure, removal_value
from remedy.experiments.causes import SETTINGS, config_for
from remedy.experiments.causes_report import over_seeds
from remedy.identify import identify
from remedy.io import to_jsonable, write_json
from remedy.pipeline import demo_task
from remedy.workflow import count_candidates, setup


def run_seed(setting: str, seed: int, rules: list[str], path: Path) -> dict[str, Any]:
    """One seed: the controls once, then every rule the saved result lacks; saved after each rule."""
    saved = json.loads(path.read_text()) if path.is_file() else {"setting": setting, "seed": seed, "rules": {}}
    missing = [r for r in rules if r not in saved["rules"]]
    if not missing:
        return saved
    config = replace(config_for(SETTINGS[setting], seed, quick=False), peers=(), compare=(), treat=("finetune",))
    task, about = demo_task(replace(config, compare=tuple(missing)))  # records the run when a rule needs it
    problem = setup(task, config)
    posterior, split = problem.posterior, problem.split
    name, options = config.treatment("finetune")
    trial = Trial(posterior, split.query.guard, name, options, config.delta, config.seeds())
    corrupted = problem.corrupted
    assert corrupted is not None
    nothing = measure(posterior, trial.all(torch.zeros(0, dtype=torch.long)), split)
    oracle = measure(posterior, trial.all(torch.nonzero(corrupted).flatten()), split)
    saved |= {
        "nothing": nothing.row["net_change"],
        "nothing_interval": nothing.row["interval"],
        "oracle": oracle.row["net_change"],
        "oracle_removal": removal_value(oracle, nothing)["value"],
        "n_corrupted": int(corrupted.sum()),
        "train_epochs": about["train_epochs"],
        "epoch_seconds": about["train_epoch_seconds"],
    }
    for rule in missing:
        method, options = config.scorer_options(rule)
        start = time.perf_counter()
        scores = identify(posterior, split.query, method, **options)
        cost = (time.perf_counter() - start) / about["train_epoch_seconds"]
        ranking = scores.ranking()
        candidates = count_candidates(config, posterior.n, scores.count)
        chosen, curve = choose_count(trial, ranking, candidates, seed=split.seed)
        entry: dict[str, Any] = {"cost_epochs": cost, "estimated": scores.count, "chosen": chosen, "guard_curve": curve}
        entry["held_out_curve"] = {
            str(k): measure(posterior, [trial(ranking[:k])], split).row["net_change"] for k in candidates
        }
        for label, k in (("guard", chosen), ("estimate", scores.count)):
            if k is None or k < 1:
                continue
            row = measure(posterior, trial.all(ranking[:k]), split)
            entry[label] = {
                "count": k,
                "net_change": row.row["net_change"],
                "corrupted": float(corrupted[ranking[:k]].double().mean()),
                "found": float(corrupted[ranking[:k]].sum()) / max(1, int(corrupted.sum())),
                "removal": removal_value(row, nothing, oracle, seed=split.seed),
            }
        saved["rules"][rule] = entry
        write_json(path, to_jsonable(saved))
        print(f"{setting} {seed} {rule}: {json.dumps(to_jsonable({k: entry.get(k) for k in ('guard', 'estimate')}))}")
    return saved


def saved(works: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """Every saved seed of every folder, per setting; the rules of one seed found in several folders are merged (they
    share the model, split and controls: the training is deterministic under its seed)."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for work in works:
        for path in sorted(work.glob("*.json")):
            match = re.fullmatch(r"(.+)-(\d+)", path.stem)
            if not (match and match[1] in SETTINGS):
                continue
            run = json.loads(path.read_text())
            key = (match[1], int(match[2]))
            if key in found:
                assert abs(found[key]["nothing"] - run["nothing"]) < 1e-9, f"{path}: another model than before"
                found[key]["rules"] |= run["rules"]
            else:
                found[key] = run
    return {
        name: sorted((run for (setting, _), run in found.items() if setting == name), key=lambda s: s["seed"])
        for name in SETTINGS
        if any(setting == name for setting, _ in found)
    }


def table(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Per setting: nothing removed's net change, the oracle's removal value, and every rule's removal value at its
    guard-chosen and its estimated count (mean [95 % t-interval over seeds]), its share of the oracle's (the ratio of
    the means), its counts and the corrupted share of its causes, over the seeds that ran it."""
    lines = []
    for setting, seeds in runs.items():
        nothing = over_seeds([s["nothing"] for s in seeds])
        oracle = over_seeds([s["oracle_removal"] for s in seeds])
        lines += [
            f"### {setting}: seeds {', '.join(str(s['seed']) for s in seeds)}",
            "",
            f"nothing removed: net change {signed(nothing['mean'], nothing['interval'])}; oracle's removal value "
            f"{signed(oracle['mean'], oracle['interval'])} ({statistics.fmean(s['n_corrupted'] for s in seeds):.0f} "
            "corrupted labels)",
            "",
            "| rule | count rule | seeds | counts | corrupted | flips found | removal value | share of the oracle's | "
            "cost, epochs |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        rules = list(dict.fromkeys(r for s in seeds for r in s["rules"]))
        for rule in rules:
            for label in ("guard", "estimate"):
                have = [s for s in seeds if rule in s["rules"] and label in s["rules"][rule]]
                if not have:
                    continue
                entries = [s["rules"][rule][label] for s in have]
                value = over_seeds([e["removal"]["value"] for e in entries])
                share = value["mean"] / statistics.fmean(s["oracle_removal"] for s in have)
                counts = ", ".join(str(e["count"]) for e in entries)
                cost = statistics.median(s["rules"][rule]["cost_epochs"] for s in have)
                lines.append(
                    f"| {rule} | {label} | {len(have)} | {counts} | "
                    f"{statistics.fmean(e['corrupted'] for e in entries):.2f} | "
                    f"{statistics.fmean(e['found'] for e in entries):.2f} | "
                    f"{signed(value['mean'], value['interval'])} | {share:.2f} | {cost:.1f} |"
                )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=SETTINGS)
    parser.add_argument("--seeds", help="A-B, inclusive")
    parser.add_argument("--work", type=Path, nargs="+", required=True, help="folders (several only with --table)")
    parser.add_argument("--rules", nargs="+", default=["puma", "trak", "cells"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--table", action="store_true", help="print the table of every seed saved in --work")
    args = parser.parse_args()
    if args.table:
        print(table(saved(args.work)))
        return
    if args.setting is None or args.seeds is None:
        parser.error("--setting and --seeds are required to run seeds (or --table)")
    torch.set_num_threads(args.threads)
    first, last = (int(s) for s in args.seeds.split("-"))
    (work,) = args.work
    work.mkdir(parents=True, exist_ok=True)
    for seed in range(first, last + 1):
        run_seed(args.setting, seed, args.rules, work / f"{args.setting}-{seed}.json")


if __name__ == "__main__":
    main()
