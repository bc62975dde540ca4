"""``remedy demo`` (diagnose → repair → report on a built-in example) and ``remedy experiment NAME``."""

from __future__ import annotations

import argparse
import json
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
from remedy.pipeline import DemoConfig
from remedy.treat import TREATMENTS

DEFAULTS = DemoConfig()


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
    demo.add_argument("--failures", help="only these failure modes, true->predicted, e.g. '4->9,7->1' (default: all)")
    demo.add_argument("--identify", default=DEFAULTS.identify, help=f"scorer: {', '.join(SCORERS.names())}")
    demo.add_argument(
        "--identify-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the scorer, repeatable, e.g. per=mode, normalize=cosine, aggregate=mean-rank",
    )
    demo.add_argument(
        "--treat",
        action="append",
        help=f"treatment, repeatable; the first gets the controls: {', '.join(TREATMENTS.names())} "
        f"(default: {', '.join(DEFAULTS.treat)})",
    )
    demo.add_argument(
        "--top-fraction", type=float, help="treat this fraction of the training set (default: chosen on the guard)"
    )
    demo.add_argument("--delta", type=float, default=DEFAULTS.delta, help="accuracy a treatment may cost its guard")
    inverse = DEFAULTS.inverse
    demo.add_argument("--curvature", default=inverse.curvature, help=f"second-order: {', '.join(CURVATURES.names())}")
    demo.add_argument("--solver", default=inverse.solver, help=f"iHVP solver: {', '.join(SOLVERS.names())}")
    demo.add_argument(
        "--curvature-examples", type=int, help="estimate the curvature on this many training examples (default: all)"
    )
    demo.add_argument("--metric", default=DEFAULTS.metric, help=f"for puma: {', '.join(METRICS.names())}")
    demo.add_argument("--damping", type=float, default=inverse.damping, help="added to the curvature's diagonal")
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


def _options(pairs: list[str]) -> dict[str, object]:
    """``["per=mode", "lam=0.01"]`` → ``{"per": "mode", "lam": 0.01}`` (values read as JSON when they parse)."""
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RemedyError(f"--identify-option: expected KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _print_scoreboard(s: dict) -> None:
    ident = s["identify"]
    epoch = s["train_epoch_seconds"]
    print(f"{s['dataset']}: {s['n_train']} training examples, {s['n_corrupted']} corrupted; one epoch {epoch:.2f} s")
    area = s["detection"]["auc"]
    print(f"{ident['method']}: {ident['seconds']:.1f} s ({ident['epochs']:.1f} epochs); detection area {area:.3f}")
    chosen, share, net = s["count"]["chosen"], ident["causes_corrupted"], s["accuracy_before"]["net"]
    print(f"treated the top {chosen} ({share:.0%} corrupted); held-out accuracy before {net:.4f}")
    print(f"{'':22}{'fixed':>7}{'broken':>8}{'net change (points)':>22}")
    rows = {**s["treatments"], **{f"control: {k}": v for k, v in s["controls"].items()}}
    for name, row in rows.items():
        spread = f" ± {100 * row['spread']:.2f}" if "spread" in row else ""
        print(f"{name:22}{row['fixed']:>7.0f}{row['broken']:>8.0f}{100 * row['net_change']:>+15.2f}{spread}")
    print(s["headline"])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.command == "experiment":
        return _experiment(args)
    from remedy.pipeline import run_demo
    from remedy.report.html import write_report

    try:
        inverse = InverseSettings(args.curvature, args.solver, args.damping, args.curvature_examples, args.seed)
        config = DemoConfig(
            dataset=args.dataset,
            seed=args.seed,
            flip=args.flip,
            flip_rate=args.flip_rate,
            failures=args.failures,
            identify=args.identify,
            identify_options=_options(args.identify_option)
            if args.identify_option or args.identify != DEFAULTS.identify
            else DEFAULTS.identify_options,
            treat=tuple(args.treat) if args.treat else DEFAULTS.treat,
            top_fraction=args.top_fraction,
            delta=args.delta,
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
    _print_scoreboard(run.summary)
    print(f"report: {report.resolve()}")
    return 0
