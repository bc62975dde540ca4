"""How much does more of the same training improve θ̂, by training recipe? For each seed and recipe: θ̂'s held-out
accuracy, how many of its flipped labels it fits, and the default treatment (fine-tuning on D \\ C, 20 epochs, the
last half averaged; one treatment seed) with nothing removed and with every corrupted label removed — so that the
removal value (the oracle's minus nothing removed) is measured beside the gain that training alone gives.

A recipe is ``early-stop`` (Adam, early-stopped on a 10 % validation split: the recipe before 2026-12-05) or
``E:a`` (a fixed E epochs on every example, the mean of the iterates over the last fraction a). The split and the
held-out half T_h are the pipeline's (seeded by the seed, on the early-stopped model's failures), so every recipe of a
seed is measured on the same examples.

    python benchmarks/recipe.py --setting mnist-pairs --seeds 0-4 --recipes early-stop 40:0.5 60:0.5 \\
        --work docs/results/recipe
    python benchmarks/recipe.py --table --work docs/results/recipe
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import torch
from confirm import signed

from remedy.data import load_dataset
from remedy.data.split import predict, split_test
from remedy.examples import Examples
from remedy.experiments.causes import SETTINGS, config_for
from remedy.experiments.causes_report import over_seeds
from remedy.io import to_jsonable, write_json
from remedy.models import build_model, train_model
from remedy.models.config import TrainConfig
from remedy.pipeline import corrupt
from remedy.posterior import Posterior
from remedy.treat import repair


def recipe(spec: str) -> TrainConfig:
    if spec == "early-stop":
        return TrainConfig()
    epochs, average = spec.split(":")
    return TrainConfig(max_epochs=int(epochs), early_stopping=False, average=float(average))


def accuracy(model: torch.nn.Module, data: Examples) -> float:
    return 100 * float((predict(model, data.x) == data.y).double().mean())


def run_seed(setting: str, seed: int, recipes: list[str], path: Path) -> dict[str, Any]:
    saved = json.loads(path.read_text()) if path.is_file() else {"setting": setting, "seed": seed, "recipes": {}}
    missing = [r for r in recipes if r not in saved["recipes"]]
    if not missing:
        return saved
    config = config_for(SETTINGS[setting], seed, quick=False)
    data = load_dataset(config.dataset)
    noisy = corrupt(data, config)
    train = Examples(noisy.x, noisy.y)
    arch = "cnn" if data.is_image else "mlp"
    initial = build_model(arch, tuple(train.x.shape[1:]), data.num_classes, seed)
    reference, _ = train_model(initial, train, config=TrainConfig(), seed=seed)
    split = split_test(reference, data.test, seed=seed)
    held, guard = split.held_out.examples, split.query.guard
    flips = torch.nonzero(noisy.mask).flatten()
    for spec in missing:
        model, record = train_model(initial, train, config=recipe(spec), seed=seed)
        before = accuracy(model, held)
        posterior = Posterior(model, train, record=record)
        nothing = repair(posterior, torch.zeros(0, dtype=torch.long), "finetune", guard=guard, delta=1.0, seed=0)
        oracle = repair(posterior, flips, "finetune", guard=guard, delta=1.0, seed=0)
        fits = float((predict(model, noisy.x[noisy.mask]) == noisy.y[noisy.mask]).double().mean())
        saved["recipes"][spec] = {
            "held_out_accuracy": before,
            "epochs": record.epochs,
            "fits_flips": fits,
            "nothing": accuracy(nothing.model, held) - before,
            "oracle": accuracy(oracle.model, held) - before,
        }
        write_json(path, to_jsonable(saved))
        print(f"{setting} {seed} {spec}: {json.dumps(to_jsonable(saved['recipes'][spec]))}", flush=True)
    return saved


def table(work: Path) -> str:
    runs: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(work.glob("*.json")):
        match = re.fullmatch(r"(.+)-(\d+)", path.stem)
        if match and match[1] in SETTINGS:
            runs.setdefault(match[1], []).append(json.loads(path.read_text()))
    lines = []
    for setting, seeds in runs.items():
        seeds.sort(key=lambda s: s["seed"])
        lines += [f"### {setting}: points on T_h, mean [95 % t-interval over seeds]", ""]
        lines += ["| recipe | seeds | θ̂'s accuracy | θ̂ fits its flips | nothing removed | oracle's removal value |"]
        lines += ["|---|---|---|---|---|---|"]
        for spec in dict.fromkeys(r for s in seeds for r in s["recipes"]):
            rows = [s["recipes"][spec] for s in seeds if spec in s["recipes"]]
            acc = over_seeds([r["held_out_accuracy"] for r in rows])
            nothing = over_seeds([r["nothing"] for r in rows])
            value = over_seeds([r["oracle"] - r["nothing"] for r in rows])
            fits = sum(r["fits_flips"] for r in rows) / len(rows)
            lines.append(
                f"| {spec} | {len(rows)} | {acc['mean']:.2f} | {fits:.2f} | "
                f"{signed(nothing['mean'], nothing['interval'])} | {signed(value['mean'], value['interval'])} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=SETTINGS)
    parser.add_argument("--seeds", help="A-B, inclusive")
    parser.add_argument("--recipes", nargs="+", default=["early-stop", "40:0.5", "60:0.5"])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args()
    if args.table:
        print(table(args.work))
        return
    if args.setting is None or args.seeds is None:
        parser.error("--setting and --seeds are required to run seeds (or --table)")
    torch.set_num_threads(args.threads)
    first, last = (int(s) for s in args.seeds.split("-"))
    args.work.mkdir(parents=True, exist_ok=True)
    for seed in range(first, last + 1):
        run_seed(args.setting, seed, args.recipes, args.work / f"{args.setting}-{seed}.json")


if __name__ == "__main__":
    main()
