"""Linear influence on the attribution benchmark's logistic regression, remedy beside dattri's IF-CG: seconds and the
linear datamodeling score (LDS) of the same train × query matrix.

    remedy experiment attribution --out runs/experiments/attribution           # the 100 retrainings on random halves
    .venv/bin/python benchmarks/attribution_speed.py run remedy-direct remedy-ekfac remedy-cg
    BENCH/dattri/bin/python benchmarks/attribution_speed.py run dattri-cg --runs 1   # its own venv (benchmarks/README)
    .venv/bin/python benchmarks/attribution_speed.py table

The model is ``remedy.experiments.attribution``'s: softmax regression on 5,000 MNIST-10 images, J = mean
cross-entropy + 1e-3/2 ‖θ‖², L-BFGS to convergence. Every method computes the influence of each training image on the
loss of the first ``--queries`` test images, starting from a fresh posterior (nothing cached); the time is the median
of ``--runs`` runs, in seconds and in whole L-BFGS fits of the model. LDS: each query's loss after retraining on the
experiment's 100 random halves (read from its work folder, ``--work``), Spearman per query, averaged. Scores are
oriented to remedy's sign (larger = more harmful); dattri's ⟨H⁻¹∇ℓ_test, ∇ℓ_train⟩ is negated.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from libraries import dattri_task
from safetensors.torch import load_file
from timing import median_seconds
from torch.utils.data import DataLoader, TensorDataset

from remedy.curvature import InverseSettings
from remedy.evaluate.datamodels import lds, subset_masks
from remedy.examples import Examples
from remedy.experiments.attribution import fit, mnist_10
from remedy.identify.linear_influence import pairwise_influence
from remedy.posterior import Posterior

WD = 1e-3
INVERSES = {
    "remedy-direct": InverseSettings("ggn", "direct", damping=0.0),
    "remedy-ekfac": InverseSettings("ekfac", "closed-form", damping=WD),
    "remedy-cg": InverseSettings("ggn", "cg", damping=0.0, options={"max_iter": 30, "tol": 1e-6}),
}
"""remedy's inverses of J's Hessian (the GGN of this convex model; J already holds the L2 term, so no damping is added
except to EK-FAC, whose factors are of the loss alone)."""

Method = Callable[[Posterior, Examples], torch.Tensor]


def _remedy(settings: InverseSettings) -> Method:
    def method(posterior: Posterior, queries: Examples) -> torch.Tensor:
        fresh = Posterior(posterior.model, posterior.train, weight_decay=WD, record=posterior.record)
        return pairwise_influence(fresh, queries, settings)

    return method


def _dattri_cg(posterior: Posterior, queries: Examples) -> torch.Tensor:
    from dattri.algorithm.influence_function import IFAttributorCG

    task = dattri_task(posterior.model, posterior.train.x.ndim - 1)
    attributor = IFAttributorCG(task=task, max_iter=30, regularization=WD, mode="rev-fwd")
    train = TensorDataset(posterior.train.x, posterior.train.y)
    attributor.cache(DataLoader(train, batch_size=len(train)))
    scores = attributor.attribute(DataLoader(train, batch_size=500), DataLoader(TensorDataset(queries.x, queries.y)))
    return -scores  # larger = more helpful in dattri


METHODS: dict[str, Method] = {name: _remedy(settings) for name, settings in INVERSES.items()} | {
    "dattri-cg": _dattri_cg
}


def run(names: list[str], runs: int, queries: int, work: Path, out: Path) -> None:
    torch.set_num_threads(1)
    train, test = mnist_10(5000, 500)
    start = time.perf_counter()
    posterior = fit("logreg", train, 0)
    fit_seconds = time.perf_counter() - start
    masks = subset_masks(len(train), 0.5, 100, 0)
    files = sorted(work.glob("subset-*.safetensors"))
    measured = torch.stack([load_file(str(f))["measure"] for f in files])[:, :queries]
    assert len(files) == len(masks), f"{work}: {len(files)} retrainings of {len(masks)}; run the experiment first"
    query_set = test[torch.arange(queries)]
    results = json.loads(out.read_text()) if out.is_file() else {}
    for name in names:
        scores: list[torch.Tensor] = []
        method = METHODS[name]
        seconds = median_seconds(lambda m=method, s=scores: s.append(m(posterior, query_set)), runs)
        results[name] = {
            "seconds": seconds,
            "fits": seconds / fit_seconds,
            "lds": lds(scores[-1].detach().double(), masks, measured),
            "runs": runs,
            "queries": queries,
            "threads": 1,
        }
        print(name, results[name], flush=True)
        out.write_text(json.dumps(results, indent=1))


def table(out: Path) -> None:
    results = json.loads(out.read_text())
    print("| method | seconds (median) | × L-BFGS fit | LDS | runs |\n|---|---|---|---|---|")
    for name, row in results.items():
        print(f"| {name} | {row['seconds']:.1f} | {row['fits']:.1f} | {row['lds']:.3f} | {row['runs']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("run", "table"))
    parser.add_argument("methods", nargs="*", help=f"any of {', '.join(METHODS)}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--work", type=Path, default=Path("runs/experiments/attribution/work/logreg-subsets"))
    parser.add_argument("--out", type=Path, default=Path("runs/bench/attribution_speed.json"))
    args = parser.parse_args()
    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown:
        parser.error(f"methods: expected any of {', '.join(METHODS)}, got {', '.join(unknown)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.step == "run":
        run(args.methods, args.runs, args.queries, args.work, args.out)
    else:
        table(args.out)


if __name__ == "__main__":
    main()
