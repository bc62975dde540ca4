"""TRAK and TMC-Shapley: remedy beside dattri's ``TRAKAttributor`` and pyDVL's TMC Shapley on the same model and
data, in seconds and in multiples of one training epoch (medians of 3), with the Spearman agreement between them.

    .venv/bin/python benchmarks/valuation_libraries.py prepare                 # trains and saves the two problems
    .venv/bin/python benchmarks/valuation_libraries.py run remedy-trak remedy-tmc
    BENCH/dattri/bin/python benchmarks/valuation_libraries.py run dattri-trak  # own venvs: benchmarks/README.md
    BENCH/dvl/bin/python benchmarks/valuation_libraries.py run pydvl-tmc
    .venv/bin/python benchmarks/valuation_libraries.py table

TRAK: the attribution benchmark's MLP (784-128-10) on 1,000 MNIST digits, 100 test images, one model, a 512-column
Rademacher projection, no damping; scores as remedy's harms (dattri's τ negated), agreement over the whole
``[N, Q]`` matrix and per query (mean Spearman). The two libraries draw different projections, so agreement below
1 measures the projection's noise as well as any difference in the computation. TMC-Shapley: 60 of
scikit-learn's 8x8 digits with 6 labels flipped, the utility the accuracy on 300 others of a scikit-learn logistic
regression (C = 1) fitted on the subset, 50 permutations truncated at 1 % of U(D), no burn-in; the unit is one fit
of that learner on all 60 (its "epoch").
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from scipy.stats import spearmanr

WORK = Path("runs/bench/valuation")
DIM, PERMUTATIONS, TOLERANCE, N_TMC, FLIPS = 512, 50, 0.01, 60, 6


def prepare(work: Path) -> None:
    from sklearn.datasets import load_digits

    from remedy.experiments.attribution import fit, mnist_10
    from remedy.identify.shapley import predictor
    from remedy.seeds import stream

    work.mkdir(parents=True, exist_ok=True)
    train, test = mnist_10(1000, 100)
    posterior = fit("mlp", train, 0)
    save_file(
        {f"model.{k}": v.contiguous() for k, v in posterior.model.state_dict().items()}
        | {"x": train.x, "y": train.y, "qx": test.x, "qy": test.y},
        work / "trak.safetensors",
    )
    x, y = load_digits(return_X_y=True)
    order = torch.randperm(len(y), generator=stream(0, "valuation-bench")).numpy()
    train_idx, val_idx = order[:N_TMC], order[N_TMC : N_TMC + 300]
    noisy = y[train_idx].copy()
    flipped = np.arange(FLIPS)
    noisy[flipped] = (noisy[flipped] + 1 + torch.randint(0, 9, (FLIPS,), generator=stream(0, "flips")).numpy()) % 10
    arrays = {"x": x[train_idx], "y": noisy, "vx": x[val_idx], "vy": y[val_idx], "flipped": flipped}
    save_file({k: torch.as_tensor(np.ascontiguousarray(v)) for k, v in arrays.items()}, work / "tmc.safetensors")
    fits = []
    for _ in range(5):
        tick = time.perf_counter()
        predictor(arrays["x"], arrays["y"])
        fits.append(time.perf_counter() - tick)
    units = {"trak": posterior.record.epoch_seconds, "tmc": statistics.median(fits)}
    (work / "units.json").write_text(json.dumps(units))


def _mlp(t: dict[str, torch.Tensor]) -> torch.nn.Module:
    from remedy.experiments.attribution import mlp

    model = mlp(0)
    model.load_state_dict({k[len("model.") :]: v for k, v in t.items() if k.startswith("model.")})
    return model.eval()


def remedy_trak(t: dict[str, torch.Tensor], seed: int = 0) -> torch.Tensor:
    from remedy import Examples, Posterior
    from remedy.identify.trak import trak_matrix

    posterior = Posterior(_mlp(t), Examples(t["x"], t["y"]))
    return trak_matrix(posterior, Examples(t["qx"], t["qy"]), dim=DIM, damping=0.0, seed=seed)


def dattri_trak(t: dict[str, torch.Tensor]) -> torch.Tensor:
    from dattri.algorithm.trak import TRAKAttributor
    from dattri.task import AttributionTask
    from torch.utils.data import DataLoader, TensorDataset

    model = _mlp(t)

    def margin(params: dict, data: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = data
        logp = -torch.nn.functional.cross_entropy(torch.func.functional_call(model, params, (x[None],)), y[None])
        return logp - torch.log(1 - torch.exp(logp))

    def probability(params: dict, data: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = data
        return torch.exp(
            -torch.nn.functional.cross_entropy(torch.func.functional_call(model, params, (x[None],)), y[None])
        )

    task = AttributionTask(loss_func=margin, model=model, checkpoints=model.state_dict())
    attributor = TRAKAttributor(task, probability, projector_kwargs={"proj_dim": DIM, "proj_seed": 0})
    train = DataLoader(TensorDataset(t["x"], t["y"]), batch_size=100)
    attributor.cache(train)
    return -attributor.attribute(DataLoader(TensorDataset(t["qx"], t["qy"]), batch_size=100))  # τ: larger = helps


def remedy_tmc(t: dict[str, torch.Tensor], seed: int = 0) -> torch.Tensor:
    from remedy.identify.shapley import FeatureUtility, tmc

    utility = FeatureUtility(t["x"].numpy(), t["y"].numpy(), t["vx"].numpy(), t["vy"].numpy(), 10)
    return -tmc(utility, N_TMC, PERMUTATIONS, TOLERANCE, seed=seed, convergence=0.0).values  # never stops early


def pydvl_tmc(t: dict[str, torch.Tensor]) -> torch.Tensor:
    from pydvl.valuation import (
        Dataset,
        MaxSamples,
        ModelUtility,
        PermutationSampler,
        RelativeTruncation,
        ShapleyValuation,
        SupervisedScorer,
    )
    from sklearn.linear_model import LogisticRegression

    train = Dataset(t["x"].numpy(), t["y"].numpy())
    scorer = SupervisedScorer("accuracy", Dataset(t["vx"].numpy(), t["vy"].numpy()), default=0.1)
    utility = ModelUtility(LogisticRegression(C=1.0, max_iter=200), scorer, show_warnings=False)
    sampler = PermutationSampler(truncation=RelativeTruncation(rtol=TOLERANCE, burn_in_fraction=0.0), seed=0)
    valuation = ShapleyValuation(utility, sampler, MaxSamples(sampler, PERMUTATIONS), show_warnings=False)
    valuation.fit(train)
    result = valuation.result
    values = np.zeros(N_TMC)
    values[result.indices] = result.values
    return -torch.as_tensor(values)


METHODS: dict[str, tuple[str, Callable[[dict[str, torch.Tensor]], torch.Tensor]]] = {
    "remedy-trak": ("trak", remedy_trak),
    "remedy-trak-seed1": ("trak", lambda t: remedy_trak(t, seed=1)),
    "dattri-trak": ("trak", dattri_trak),
    "remedy-tmc": ("tmc", remedy_tmc),
    "remedy-tmc-seed1": ("tmc", lambda t: remedy_tmc(t, seed=1)),
    "pydvl-tmc": ("tmc", pydvl_tmc),
}
"""Each problem's first row is the reference the others are compared with; ``-seed1`` is remedy with another
projection or permutation seed: how well the method agrees with itself, the ceiling for agreement between libraries."""


def run(work: Path, name: str, runs: int) -> None:
    problem, method = METHODS[name]
    t = load_file(work / f"{problem}.safetensors")
    torch.set_num_threads(1)
    seconds = []
    for _ in range(runs):
        tick = time.perf_counter()
        scores = method(t)
        seconds.append(time.perf_counter() - tick)
    save_file({"scores": scores.double().contiguous()}, work / f"{name}.safetensors")
    (work / f"{name}.json").write_text(json.dumps({"seconds": seconds}))
    print(f"{name}: median {statistics.median(seconds):.2f} s over {runs}")


def table(work: Path) -> None:
    from remedy.evaluate import detection_curve

    units = json.loads((work / "units.json").read_text())
    mask = torch.zeros(N_TMC, dtype=torch.bool)
    mask[load_file(work / "tmc.safetensors")["flipped"]] = True
    print("| problem | computation | seconds | × unit | Spearman with remedy | per query | flips found (area) |")
    print("|---|---|---|---|---|---|---|")
    for problem in ("trak", "tmc"):
        names = [n for n, (p, _) in METHODS.items() if p == problem and (work / f"{n}.json").is_file()]
        if not names:
            continue
        scores = {n: load_file(work / f"{n}.safetensors")["scores"] for n in names}
        first = scores[names[0]]
        for name, values in scores.items():
            seconds = statistics.median(json.loads((work / f"{name}.json").read_text())["seconds"])
            overall = "—" if name == names[0] else f"{spearmanr(first.flatten(), values.flatten()).statistic:.3f}"
            per_query = "—"
            if values.ndim == 2 and name != names[0]:
                mean = statistics.fmean(spearmanr(first[:, q], values[:, q]).statistic for q in range(values.shape[1]))
                per_query = f"{mean:.3f}"
            found = f"{detection_curve(values, mask).auc:.3f}" if problem == "tmc" else "—"
            cost = f"{seconds:.2f} | {seconds / units[problem]:.1f}"
            print(f"| {problem} | {name} | {cost} | {overall} | {per_query} | {found} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "run", "table"))
    parser.add_argument("names", nargs="*", help=f"with run: any of {', '.join(METHODS)}")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in METHODS]
    if unknown:
        parser.error(f"names: expected any of {', '.join(METHODS)}, got {', '.join(unknown)}")
    if args.action == "prepare":
        prepare(args.work)
    elif args.action == "run":
        for name in args.names:
            run(args.work, name, args.runs)
    else:
        table(args.work)


if __name__ == "__main__":
    main()
