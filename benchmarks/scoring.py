"""What identification costs on the demo's MNIST CNN, in training epochs of the same model, and how many Arnoldi
eigenpairs agree with the exact solve on 650-parameter logistic regression.

    python benchmarks/scoring.py --runs 3

Trains the demo's model (seed 0, the demo's label noise) and times, from a fresh posterior each run (no cached
Fisher, factors or gradients), EWC-influence (its diagonal Fisher and its fit separately), linear influence with
EK-FAC on all 3,000 training images and with its factors on 500 of them (and how well the two agree), and the
default scorer (PUMA on the query half, EK-FAC); medians of ``--runs`` runs divided by the training epoch of the
same run. Then linear-influence scores of logistic regression on scikit-learn's digits (10 % uniform flips) with
Arnoldi of several ranks against the exact (``direct``) solve.
"""

from __future__ import annotations

import argparse

import torch
from scipy.stats import spearmanr
from timing import median_seconds

import remedy
from remedy.curvature import InverseSettings
from remedy.data import flip_uniform, load_dataset
from remedy.examples import Examples
from remedy.models import LogisticRegression, build_model, train_model
from remedy.pipeline import DemoConfig, corrupt


def identification(runs: int) -> None:
    data = load_dataset("mnist")
    noisy = corrupt(data, DemoConfig())
    train = Examples(noisy.x, noisy.y)
    model, log = train_model(build_model("cnn", (1, 28, 28), 10, 0), train, seed=0)
    failures = remedy.split_failures(model, data.test, seed=0)
    epoch = log.epoch_seconds
    ekfac = InverseSettings("ekfac", "closed-form", 1e-3)
    subset = InverseSettings("ekfac", "closed-form", 1e-3, examples=500)

    def ewc_fit() -> None:
        posterior = remedy.Posterior(model, train)
        posterior.set_fisher(fisher)
        remedy.identify(posterior, failures, "ewc-influence")

    fisher = remedy.Posterior(model, train).fisher()
    rows = {
        "diagonal Fisher (per-example gradients)": lambda: remedy.Posterior(model, train).fisher(),
        "EWC-influence fit and scores (Fisher given)": ewc_fit,
        "EWC-influence with its Fisher": lambda: remedy.identify(
            remedy.Posterior(model, train), failures, "ewc-influence"
        ),
        "linear influence, EK-FAC on all 3,000 images": lambda: remedy.identify(
            remedy.Posterior(model, train), failures, "linear-influence", inverse=ekfac
        ),
        "linear influence, EK-FAC factors on 500 images": lambda: remedy.identify(
            remedy.Posterior(model, train), failures, "linear-influence", inverse=subset
        ),
        "default: PUMA on the query half, EK-FAC": lambda: remedy.identify(
            remedy.Posterior(model, train), failures, "puma", target="guard", inverse=ekfac
        ),
    }
    print(f"one training epoch: {epoch:.2f} s; medians of {runs} runs\n")
    print("| identification | seconds | × epoch |\n|---|---|---|")
    for label, fn in rows.items():
        seconds = median_seconds(fn, runs)
        print(f"| {label} | {seconds:.2f} | {seconds / epoch:.2f} |", flush=True)
    full, part = (
        remedy.identify(remedy.Posterior(model, train), failures, "linear-influence", inverse=inverse).values
        for inverse in (ekfac, subset)
    )
    print(f"\nSpearman of linear influence, factors on 500 images against all: {spearmanr(full, part).statistic:.3f}")


def arnoldi_agreement() -> None:
    data = load_dataset("digits")
    noisy = flip_uniform(data.train.x, data.train.y, rate=0.1, num_classes=10, seed=0)
    model, _ = remedy.train_model(LogisticRegression(64, 10), (noisy.x, noisy.y), seed=0)
    failures = remedy.split_failures(model, data.test, seed=0)
    posterior = remedy.Posterior(model, (noisy.x, noisy.y))
    print(
        "\n| damping | exact | " + " | ".join(f"rank {r}, {m}" for r in (20, 50, 100) for m in ("drop", "δ⁻¹")) + " |"
    )
    print("|---|---|" + "---|" * 6)
    for damping in (1e-2, 1e-3):
        direct = InverseSettings("ggn", "direct", damping)
        exact = remedy.identify(posterior, failures, "linear-influence", inverse=direct)
        cells = []
        for rank in (20, 50, 100):
            for remainder in ("drop", "damping"):
                inverse = InverseSettings("ggn", "arnoldi", damping, options={"rank": rank, "remainder": remainder})
                scores = remedy.identify(posterior, failures, "linear-influence", inverse=inverse)
                cells.append(f"{spearmanr(exact.values.numpy(), scores.values.numpy()).statistic:.3f}")
        print(f"| {damping:g} | 1 | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    identification(args.runs)
    arnoldi_agreement()


if __name__ == "__main__":
    main()
