"""What choosing the last layer (``--params``) costs in attribution quality: each pairwise scorer's linear
datamodeling score (LDS) on the attribution experiment's MNIST MLP (dattri's MNIST-10 setting: 5,000 training
images, 500 queries, 100 retrainings on random halves), with every parameter and with the last layer alone, beside
its time. The retrained models are the experiment's, read from its work folder (run ``remedy experiment
attribution --work runs/experiments/attribution/work`` first, or they are trained here).

    python benchmarks/params_lds.py --threads 1 [--work runs/experiments/attribution/work] [--quick]

Prints a markdown table (benchmarks/README.md keeps the last one).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from remedy.evaluate import Datamodels
from remedy.evaluate.datamodels import query_losses
from remedy.examples import Examples
from remedy.experiments.attribution import fit, mnist_10, per_query
from remedy.posterior import Posterior
from remedy.task import cross_entropy

METHODS = ("trak", "linear-influence", "puma", "tracin", "representer", "ewc-influence", "self-loss")
LAST = ("net.3.*",)
"""The MLP's last layer (``net.3.weight``, ``net.3.bias``: 1,290 of its 101,770 parameters)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("runs/experiments/attribution/work"))
    parser.add_argument("--quick", action="store_true", help="1,000 training images, 100 queries, 20 retrainings")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_train, n_test, count = (1000, 100, 20) if args.quick else (5000, 500, 100)
    train, test = mnist_10(n_train, n_test)
    every = fit("mlp", train, args.seed, record=True)
    last = Posterior(every.model, train, record=every.record, params=LAST)

    def retrain(subset: Examples, subset_seed: int) -> torch.nn.Module:
        return fit("mlp", subset, subset_seed).model

    folder = args.work / f"mlp-subsets{'-quick' if args.quick else ''}"
    datamodels = Datamodels(retrain, query_losses(test, cross_entropy), train, 0.5, count, args.seed, folder)
    print(
        f"MNIST MLP, {n_train:,} training images, {n_test} queries, {count} retrainings; every parameter "
        f"{every.theta().numel():,}, the last layer {last.theta().numel():,}\n"
    )
    print("| scorer | LDS, every parameter | LDS, last layer | seconds, every | seconds, last |\n|---|---|---|---|---|")
    for method in METHODS:
        found = {}
        for label, posterior in (("every", every), ("last", last)):
            start = time.perf_counter()
            scores = per_query("mlp", posterior, test, method, args.seed)
            found[label] = (datamodels.lds(scores), time.perf_counter() - start)
        (lds_all, s_all), (lds_last, s_last) = found["every"], found["last"]
        print(f"| {method} | {lds_all:.3f} | {lds_last:.3f} | {s_all:.1f} | {s_last:.1f} |", flush=True)


if __name__ == "__main__":
    main()
