"""``remedy demo`` (diagnose → repair → report on a built-in example) and ``remedy experiment NAME``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from remedy.curvature import CURVATURES, InverseSettings
from remedy.curvature.solvers import SOLVERS
from remedy.data import DATASETS
from remedy.errors import RemedyError
from remedy.identify import SCORERS
from remedy.metrics import METRICS
from remedy.models import ARCHITECTURES
from remedy.treat import TREATMENTS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="remedy",
        description="Find the training data behind a classifier's failures, erase it, and prove the repair.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="corrupt a built-in dataset, train, diagnose, repair and report")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default: runs/demo)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--dataset", choices=DATASETS, default="mnist")
    noise = demo.add_mutually_exclusive_group()
    noise.add_argument("--flip", help="class pairs flipped both ways with a probability, e.g. '1-7:0.3,4-9:0.3'")
    noise.add_argument("--flip-rate", type=float, help="flip this fraction of labels uniformly to another class")
    demo.add_argument("--identify", default="ewc-influence", help=f"scorer: {', '.join(SCORERS.names())}")
    demo.add_argument(
        "--treat", action="append", help=f"treatment, repeatable: {', '.join(TREATMENTS.names())} (default: all)"
    )
    demo.add_argument(
        "--top-fraction", type=float, default=0.05, help="fraction of the training set removed as causes (default 0.05)"
    )
    demo.add_argument("--curvature", default="ggn", help=f"for second-order methods: {', '.join(CURVATURES.names())}")
    demo.add_argument(
        "--solver", default="cg", help=f"iHVP solver for second-order methods: {', '.join(SOLVERS.names())}"
    )
    demo.add_argument(
        "--curvature-examples", type=int, help="estimate the curvature on this many training examples (default: all)"
    )
    demo.add_argument("--metric", default="loss", help=f"for puma: {', '.join(METRICS.names())} (default loss)")
    demo.add_argument("--damping", type=float, default=1e-3, help="added to the curvature's diagonal (default 1e-3)")
    demo.add_argument("--model", choices=ARCHITECTURES, help="architecture (default: cnn for images, mlp otherwise)")
    demo.add_argument("--quick", action="store_true", help="fewer images and epochs: finishes in about a minute")
    demo.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    experiment = commands.add_parser("experiment", help="run a named study; writes summary.json and report.html")
    experiment.add_argument("name", nargs="?", help="the experiment (see --list)")
    experiment.add_argument("--list", action="store_true", help="list the experiments and exit")
    experiment.add_argument("--out", type=Path, help="output folder (default: runs/experiments/NAME)")
    experiment.add_argument("--seed", type=int, default=0)
    experiment.add_argument("--quick", action="store_true", help="smaller data and fewer steps, for trying things")
    experiment.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    return parser


def _short(value: object) -> str:
    """A summary value for the terminal: numbers to 4 significant digits, nested dicts inline, lists counted."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return f"[{len(value)} items]"
    return str(value)


def _experiment(args: argparse.Namespace) -> int:
    from remedy.experiments import EXPERIMENTS, run_experiment

    if args.list or not args.name:
        for name in EXPERIMENTS.names():
            module = sys.modules[EXPERIMENTS.get(name).__module__]
            print(f"{name:20}{(module.__doc__ or '').strip().splitlines()[0]}")
        return 0
    try:
        result, report = run_experiment(
            args.name, args.out or Path("runs/experiments") / args.name, args.seed, args.quick
        )
    except RemedyError as err:
        print(f"remedy: error: {err}", file=sys.stderr)
        return 2
    print(result.title)
    for key, value in list(result.summary.items())[:6]:
        print(f"  {key}: {_short(value)}")
    print(f"report: {report.resolve()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.command == "experiment":
        return _experiment(args)
    from remedy.pipeline import DemoConfig, run_demo
    from remedy.report.html import write_report

    try:
        inverse = InverseSettings(args.curvature, args.solver, args.damping, args.curvature_examples, args.seed)
        config = DemoConfig(
            dataset=args.dataset,
            seed=args.seed,
            flip=args.flip,
            flip_rate=args.flip_rate,
            identify=args.identify,
            treat=tuple(args.treat) if args.treat else DemoConfig.treat,
            top_fraction=args.top_fraction,
            model=args.model,
            quick=args.quick,
            inverse=inverse,
            metric=args.metric,
        )
        run = run_demo(config, args.out)
        report = write_report(run, args.out)
    except RemedyError as err:
        print(f"remedy: error: {err}", file=sys.stderr)
        return 2
    s = run.summary
    d, ident = s["detection"], s["identify"]
    print(f"{s['dataset']}: {s['n_train']} training examples, {s['n_corrupted']} corrupted")
    print(f"one training epoch: {s['train_epoch_seconds']:.2f} s; {ident['method']}: {ident['seconds']:.1f} s")
    print(f"detection area {d['auc']:.3f} (random {d['random_auc']:.3f}, oracle {d['oracle_auc']:.3f})")
    print(f"corrupted found after inspecting 10 %: {d['found_at_10pct']:.1%}; top {ident['n_causes']} removed")
    print(f"{'':16}{'query':>8}{'holdout':>9}{'remaining':>11}")
    rows = {"before": s["accuracy_before"], **{k: v["accuracy"] for k, v in s["treatments"].items()}, **s["references"]}
    for name, acc in rows.items():
        print(
            f"{name:16}"
            + "".join(
                f"{acc[p]:>{w}.3f}" if acc[p] is not None else f"{'—':>{w}}"
                for p, w in (("query", 8), ("holdout", 9), ("remaining", 11))
            )
        )
    print(f"report: {report.resolve()}")
    return 0
