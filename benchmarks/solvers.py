"""Wall time and agreement of every iHVP solver's full linear-influence identification on the MNIST-3000 CNN.

    python benchmarks/solvers.py --runs 3

Trains the demo's model (seed 0, default label noise), then for each configuration times
``identify(..., "linear-influence")`` from a fresh posterior (no cached factors), reports the median
of ``--runs`` runs as a multiple of one training epoch, and the Spearman correlation of its scores
with a reference solve on the GGN (CG, ``--reference-iterations`` products, same damping).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

import torch
from scipy.stats import spearmanr

from remedy import Posterior, identify, split_test
from remedy.curvature import InverseSettings
from remedy.data import load_dataset
from remedy.examples import Examples
from remedy.models import build_model, train_model
from remedy.pipeline import DemoConfig, corrupt

CONFIGS = [  # label, curvature, solver, examples, solver options
    ("cg (10 products)", "ggn", "cg", None, {"max_iter": 10}),
    ("cg (10 products on 500 examples)", "ggn", "cg", 500, {"max_iter": 10}),
    ("lissa (depth 50, batch 64)", "ggn", "lissa", None, {"depth": 50, "batch_size": 64}),
    ("arnoldi (rank 10, 20 products on 500 examples)", "ggn", "arnoldi", 500, {"rank": 10, "iterations": 20}),
    ("ekfac (closed form)", "ekfac", "closed-form", None, {}),
    ("ekfac (factors on 500 examples)", "ekfac", "closed-form", 500, {}),
    ("kfac (closed form)", "kfac", "closed-form", None, {}),
    ("diagonal Fisher (closed form)", "fisher-diag", "closed-form", None, {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--damping", type=float, default=0.01)
    parser.add_argument("--reference-iterations", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/solvers.json"))
    args = parser.parse_args()
    data = load_dataset("mnist")
    corruption = corrupt(data, DemoConfig())
    train = Examples(corruption.x, corruption.y)
    model, log = train_model(build_model("cnn", (1, 28, 28), 10, 0), train, seed=0)
    failures = split_test(model, data.test, seed=0)
    epoch = log.epoch_seconds
    print(f"one training epoch: {epoch:.3f} s; {sum(p.numel() for p in model.parameters())} parameters")

    def run(inverse: InverseSettings) -> tuple[float, torch.Tensor]:
        posterior = Posterior(model, train)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scores = identify(posterior, failures, "linear-influence", inverse=inverse)
        for warning in caught:
            if "cg:" in str(warning.message):
                print(f"  {inverse.solver}: {warning.message}")
        return time.perf_counter() - start, scores.values

    rows = []
    references: dict[str, torch.Tensor] = {}
    for label, curvature, solver, examples, options in CONFIGS:
        if "ggn" not in references:
            options_ref = {"tol": 1e-4, "max_iter": args.reference_iterations}
            seconds, references["ggn"] = run(InverseSettings("ggn", "cg", args.damping, options=options_ref))
            products = args.reference_iterations
            print(f"reference (cg, {products} GGN products): {seconds:.1f} s ({seconds / epoch:.1f} epochs)")
        times, values = [], None
        for _ in range(args.runs):
            seconds, values = run(InverseSettings(curvature, solver, args.damping, examples, options=options))
            times.append(seconds)
        rho = float(spearmanr(values.numpy(), references["ggn"].numpy()).statistic)
        row = {
            "solver": label,
            "curvature": curvature,
            "seconds": statistics.median(times),
            "epochs": statistics.median(times) / epoch,
            "spearman": rho,
        }
        rows.append(row)
        print(f"| {label} | {curvature} | {row['seconds']:.1f} | {row['epochs']:.1f} | {rho:.3f} |", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"epoch_seconds": epoch, "damping": args.damping, "runs": args.runs, "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
