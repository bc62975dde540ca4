"""The confirmation of the frozen defaults on fresh seeds, at the cost a 2-core machine allows: the shipped pipeline
(``remedy demo``'s, through :func:`remedy.experiments.causes.config_for`) with the default treatment, its controls and
both peers (self-loss, cleanlab), without the extra scorers and treatments the full ``remedy experiment causes`` adds.

    python benchmarks/confirm.py --setting mnist-pairs --seeds 5-14 --work runs/confirm/work
    remedy experiment causes --setting mnist-pairs --seeds 5-14 --out runs/confirm   # tables from the saved seeds
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from remedy.experiments.causes import SETTINGS, config_for
from remedy.io import to_jsonable, write_json
from remedy.pipeline import run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=SETTINGS, required=True)
    parser.add_argument("--seeds", required=True, help="A-B, inclusive (B-A: backwards)")
    parser.add_argument("--work", type=Path, required=True, help="the causes experiment's work folder")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    first, last = (int(s) for s in args.seeds.split("-"))
    step = 1 if last >= first else -1  # B-A runs the same seeds backwards: a second process meets the first midway
    args.work.mkdir(parents=True, exist_ok=True)
    for seed in range(first, last + step, step):
        path = args.work / f"{args.setting}-{seed}.json"
        claim = path.with_suffix(".running")
        if path.is_file() or claim.exists():
            continue
        claim.touch()
        config = replace(config_for(SETTINGS[args.setting], seed, quick=False), compare=(), treat=("finetune",))
        summary = run_demo(config).summary
        summary.get("detection", {}).pop("curves", None)
        write_json(path, to_jsonable(summary))
        claim.unlink()
        print(f"{args.setting} {seed}: {summary['headline']}", flush=True)


if __name__ == "__main__":
    main()
