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
    failures = remedy.split_test(model, data.test, seed=0)
    epoch = log.epoch_seconds
    ekfac = InverseSettings("ekfac", "closed-form", 1e-3)
    subset = InverseSettings("ekfac", "closed-form", 1e-3, examples=500)

    def ewc_fit() -> None:
        posterior = remedy.Posterior(model, train)
        posterior.curvatures.set_fisher(fisher)
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


def ekfac_arithmetic() -> None:
    """Multiply-adds per image of EK-FAC's passes on the demo CNN, in training steps (3 forward passes' worth)."""
    model, shapes = build_model("cnn", (1, 28, 28), 10, 0), []
    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(o[0].numel() // o.shape[1])) for m in layers]
    model(torch.zeros(1, 1, 28, 28))
    for hook in hooks:
        hook.remove()
    forward = a = rotation_before = rotation = 0
    for layer, positions in zip(layers, shapes, strict=True):
        out, width = layer.weight.shape[0], layer.weight[0].numel() + 1
        forward += positions * out * (width - 1)
        a += positions * width * width
        rotation_before += out * width * (out + width)
        rotation += min(out * width * (out + width), positions * (out * out + width * width))
    step = 3 * forward
    print(f"\nEK-FAC arithmetic per image (training step = {step / 1e6:.1f} M multiply-adds): A factors "
          f"{a / 1e6:.1f} M ({a / step:.2f} steps); eigenbasis rotation {rotation / 1e6:.1f} M ({rotation / step:.2f}"
          f" steps; {rotation_before / 1e6:.1f} M when G_n is always formed first)")  # fmt: skip


def arnoldi_agreement() -> None:
    data = load_dataset("digits")
    noisy = flip_uniform(data.train.x, data.train.y, rate=0.1, num_classes=10, seed=0)
    model, _ = remedy.train_model(LogisticRegression(64, 10), (noisy.x, noisy.y), seed=0)
    failures = remedy.split_test(model, data.test, seed=0)
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
    ekfac_arithmetic()
    arnoldi_agreement()


if __name__ == "__main__":
    main()
