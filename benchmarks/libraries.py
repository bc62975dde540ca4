"""remedy beside pyDVL, dattri and kronfluence: the same influence computation on the same model and damping.

Each library runs in its own environment (pyDVL pins numpy < 2; all install under ``torch==2.13.0``;
see benchmarks/README.md), so the steps are separate commands sharing a work folder:

    python benchmarks/libraries.py prepare              # product env: train, save model/data, reference
    python benchmarks/libraries.py run METHOD [METHOD]  # any env that has remedy and the library
    python benchmarks/libraries.py table                # the markdown table of every result so far

The computation: the influence of each of the 3,000 training images on the loss of one failure (the
first of F_q), at damping 0.01. Time is the median of ``--runs`` runs as a multiple of one training
epoch (measured by ``prepare``); agreement is the Spearman correlation with a converged reference
(CG on the GGN, up to 100 products, relative residual 1e-4), after orienting each library's scores to
remedy's convention (larger = more harmful: removing the example lowers the query's loss).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as nnf
from safetensors.torch import load_file, save_file
from scipy.stats import spearmanr
from torch.utils.data import DataLoader, TensorDataset

if TYPE_CHECKING:
    from dattri.task import AttributionTask

DAMPING = 0.01
WORK = Path("runs/bench/libraries")


def _load(work: Path) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    from remedy.models import build_model

    tensors = load_file(work / "data.safetensors")
    model = build_model("cnn", (1, 28, 28), 10, 0)
    model.load_state_dict(load_file(work / "model.safetensors"))
    return model.eval(), tensors


def prepare(work: Path) -> None:
    from remedy import Posterior, split_test
    from remedy.curvature import InverseSettings
    from remedy.data import load_dataset
    from remedy.examples import Examples
    from remedy.identify.linear_influence import pairwise_influence
    from remedy.models import build_model, train_model
    from remedy.pipeline import DemoConfig, corrupt

    data = load_dataset("mnist")
    corruption = corrupt(data, DemoConfig())
    train = Examples(corruption.x, corruption.y)
    model, log = train_model(build_model("cnn", (1, 28, 28), 10, 0), train, seed=0)
    failures = split_test(model, data.test, seed=0)
    query = data.test[failures.query.index[:1]]
    work.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, work / "model.safetensors")
    save_file({"x": train.x, "y": train.y, "qx": query.x, "qy": query.y}, work / "data.safetensors")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inverse = InverseSettings("ggn", "cg", DAMPING, options={"tol": 1e-4, "max_iter": 100})
        reference = pairwise_influence(Posterior(model, train), query, inverse)
    seconds = time.perf_counter() - start
    save_file({"scores": reference[:, 0].contiguous()}, work / "reference.safetensors")
    info = {
        "epoch_seconds": log.epoch_seconds,
        "reference_seconds": seconds,
        "warnings": [str(w.message) for w in caught],
    }
    (work / "prepare.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info, indent=2))


def _remedy(
    curvature: str, solver: str, examples: int | None = None, **options: object
) -> Callable[[torch.nn.Module, dict], torch.Tensor]:
    def method(model: torch.nn.Module, t: dict[str, torch.Tensor]) -> torch.Tensor:
        from remedy import Posterior
        from remedy.curvature import InverseSettings
        from remedy.examples import Examples
        from remedy.identify.linear_influence import pairwise_influence

        posterior = Posterior(model, Examples(t["x"], t["y"]))
        query = Examples(t["qx"], t["qy"])
        inverse = InverseSettings(curvature, solver, DAMPING, examples, options=options)
        return pairwise_influence(posterior, query, inverse)[:, 0]

    return method


def _lissa_scale(model: torch.nn.Module, t: dict[str, torch.Tensor]) -> float:
    """What remedy's LiSSA picks: 1.5 × (largest eigenvalue of a 64-example GGN + damping), seeded."""
    from remedy.curvature import build_curvature
    from remedy.curvature.solvers.lissa import largest_eigenvalue
    from remedy.examples import Examples
    from remedy.seeds import stream
    from remedy.task import cross_entropy

    generator = stream(0, "lissa")
    index = torch.randperm(len(t["y"]), generator=generator)[:64]
    curvature = build_curvature("ggn", model, cross_entropy, Examples(t["x"][index], t["y"][index]))
    return 1.5 * (largest_eigenvalue(curvature, generator) + DAMPING)


def _pydvl(kind: str) -> Callable[[torch.nn.Module, dict], torch.Tensor]:
    def method(model: torch.nn.Module, t: dict[str, torch.Tensor]) -> torch.Tensor:
        from pydvl.influence.torch import CgInfluence, EkfacInfluence, LissaInfluence
        from pydvl.influence.torch.util import SecondOrderMode

        ggn = SecondOrderMode.GAUSS_NEWTON
        loader = DataLoader(TensorDataset(t["x"], t["y"]), batch_size=64 if kind == "lissa" else 500)
        if kind == "cg":
            inf = CgInfluence(model, nnf.cross_entropy, DAMPING, maxiter=10, second_order_mode=ggn)
        elif kind == "lissa":  # pyDVL's default scale (10) diverged here: remedy's automatic scale instead
            inf = LissaInfluence(
                model, nnf.cross_entropy, DAMPING, maxiter=50, scale=_lissa_scale(model, t), second_order_mode=ggn
            )
        else:
            inf = EkfacInfluence(model, update_diagonal=True, hessian_regularization=DAMPING)
        inf = inf.fit(loader)
        return -inf.influences(t["qx"], t["qy"], t["x"], t["y"])[0]  # ⟨H⁻¹∇ℓ_test, ∇ℓ⟩: larger = more helpful

    return method


def dattri_task(model: torch.nn.Module, example_ndim: int) -> AttributionTask:
    """dattri's ``AttributionTask`` for cross-entropy on ``model``; ``example_ndim`` is one input's number of
    dimensions, which tells one example (per-example gradients under vmap) from a batch (Hessian products)."""
    from dattri.task import AttributionTask

    def loss_func(params: dict, data: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = data
        if x.ndim == example_ndim:
            x, y = x.unsqueeze(0), y.unsqueeze(0)
        return nnf.cross_entropy(torch.func.functional_call(model, params, (x,)), y.long())

    return AttributionTask(loss_func=loss_func, model=model, checkpoints=model.state_dict())


def _dattri(kind: str) -> Callable[[torch.nn.Module, dict], torch.Tensor]:
    def method(model: torch.nn.Module, t: dict[str, torch.Tensor]) -> torch.Tensor:
        from dattri.algorithm.influence_function import IFAttributorCG, IFAttributorEKFAC, IFAttributorLiSSA

        task = dattri_task(model, t["x"].ndim - 1)
        if kind == "cg":
            attributor = IFAttributorCG(task=task, max_iter=10, regularization=DAMPING, mode="rev-fwd")
        elif kind == "lissa":
            attributor = IFAttributorLiSSA(task=task, recursion_depth=50, batch_size=64, damping=DAMPING)
        else:
            attributor = IFAttributorEKFAC(task=task, damping=DAMPING)
        train = TensorDataset(t["x"], t["y"])
        attributor.cache(DataLoader(train, batch_size=len(train) if kind == "cg" else 256))
        scores = attributor.attribute(DataLoader(train, batch_size=256), DataLoader(TensorDataset(t["qx"], t["qy"])))
        return -scores[:, 0]  # dattri scores g_trainᵀ H⁻¹ g_test: larger = more helpful

    return method


def _kronfluence(model: torch.nn.Module, t: dict[str, torch.Tensor]) -> torch.Tensor:
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.task import Task

    class Classification(Task):
        def compute_train_loss(self, batch: tuple, model: torch.nn.Module, sample: bool = False) -> torch.Tensor:
            return nnf.cross_entropy(model(batch[0]), batch[1], reduction="sum")

        def compute_measurement(self, batch: tuple, model: torch.nn.Module) -> torch.Tensor:
            return nnf.cross_entropy(model(batch[0]), batch[1], reduction="sum")

    task = Classification()
    prepared = prepare_model(model, task)
    with tempfile.TemporaryDirectory() as out:
        analyzer = Analyzer("bench", prepared, task, cpu=True, disable_tqdm=True, output_dir=out)
        train = TensorDataset(t["x"], t["y"])
        factor_args = FactorArguments(strategy="ekfac", use_empirical_fisher=True)
        analyzer.fit_all_factors("f", train, per_device_batch_size=256, factor_args=factor_args)
        analyzer.compute_pairwise_scores(
            "s",
            "f",
            TensorDataset(t["qx"], t["qy"]),
            train,
            per_device_query_batch_size=1,
            per_device_train_batch_size=256,
            score_args=ScoreArguments(damping_factor=DAMPING),
        )
        scores = analyzer.load_pairwise_scores("s")["all_modules"]
    return -scores[0]  # kronfluence scores g_queryᵀ H⁻¹ g_train: larger = more helpful


METHODS: dict[str, Callable[[torch.nn.Module, dict], torch.Tensor]] = {
    "remedy-cg": _remedy("ggn", "cg", max_iter=10),
    "remedy-cg-500": _remedy("ggn", "cg", 500, max_iter=10),
    "remedy-lissa": _remedy("ggn", "lissa", depth=50, batch_size=64),
    "remedy-ekfac": _remedy("ekfac", "closed-form"),
    "remedy-ekfac-500": _remedy("ekfac", "closed-form", 500),
    "pydvl-cg": _pydvl("cg"),
    "pydvl-lissa": _pydvl("lissa"),
    "pydvl-ekfac": _pydvl("ekfac"),
    "dattri-cg": _dattri("cg"),
    "dattri-lissa": _dattri("lissa"),
    "dattri-ekfac": _dattri("ekfac"),
    "kronfluence-ekfac": _kronfluence,
}


def run(work: Path, name: str, runs: int) -> None:
    reference = load_file(work / "reference.safetensors")["scores"]
    epoch = json.loads((work / "prepare.json").read_text())["epoch_seconds"]
    times, scores = [], None
    for _ in range(runs):
        model, tensors = _load(work)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = METHODS[name](model, tensors)
        times.append(time.perf_counter() - start)
    rho = float(spearmanr(scores.detach().double().numpy(), reference.numpy()).statistic)
    row = {"method": name, "seconds": times, "epochs": statistics.median(times) / epoch, "spearman": rho}
    (work / "results").mkdir(exist_ok=True)
    (work / "results" / f"{name}.json").write_text(json.dumps(row, indent=2))
    print(f"| {name} | {statistics.median(times):.1f} | {row['epochs']:.1f} | {rho:.3f} |", flush=True)


def table(work: Path) -> None:
    print("| method | seconds (median) | epochs | Spearman vs reference |\n|---|---|---|---|")
    for path in sorted((work / "results").glob("*.json")):
        row = json.loads(path.read_text())
        seconds = statistics.median(row["seconds"])
        print(f"| {row['method']} | {seconds:.1f} | {row['epochs']:.1f} | {row['spearman']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["prepare", "run", "table"])
    parser.add_argument("methods", nargs="*", help=f"for run: {', '.join(METHODS)}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.work)
    elif args.step == "run":
        unknown = [name for name in args.methods if name not in METHODS]
        if unknown or not args.methods:
            parser.error(f"methods: one or more of {', '.join(METHODS)}, got {unknown or 'none'}")
        for name in args.methods:
            run(args.work, name, args.runs)
    else:
        table(args.work)


if __name__ == "__main__":
    main()
