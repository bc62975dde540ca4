"""``remedy demo | diagnose | repair | report | experiment``: the whole workflow on a built-in example, on your own
task (``--task module:function``), and the paper reproductions."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from remedy.curvature import CURVATURES, SOLVERS, InverseSettings
from remedy.data import DATASETS
from remedy.errors import RemedyError
from remedy.identify import SCORERS
from remedy.metrics import METRICS
from remedy.models import ARCHITECTURES
from remedy.pipeline import DemoConfig
from remedy.treat import TREATMENTS

DEFAULTS = DemoConfig()


def _identify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--failures", help="only these failure modes, true->predicted, e.g. '4->9,7->1' (default: all)")
    parser.add_argument("--identify", default=DEFAULTS.identify, help=f"scorer: {', '.join(SCORERS.names())}")
    parser.add_argument(
        "--identify-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the scorer, repeatable, e.g. per=mode, normalize=cosine, aggregate=mean-rank",
    )
    inverse = DEFAULTS.inverse
    parser.add_argument("--curvature", default=inverse.curvature, help=f"second-order: {', '.join(CURVATURES.names())}")
    parser.add_argument("--solver", default=inverse.solver, help=f"iHVP solver: {', '.join(SOLVERS.names())}")
    parser.add_argument("--damping", type=float, default=inverse.damping, help="added to the curvature's diagonal")
    parser.add_argument("--curvature-examples", type=int, help="estimate the curvature on this many training examples")
    parser.add_argument("--metric", default=DEFAULTS.metric, help=f"for puma: {', '.join(METRICS.names())}")


def _repair_arguments(parser: argparse.ArgumentParser, treat_default: tuple[str, ...]) -> None:
    parser.add_argument(
        "--treat",
        action="append",
        help=f"treatment, repeatable; the first gets the controls: {', '.join(TREATMENTS.names())} "
        f"(default: {', '.join(treat_default)})",
    )
    parser.add_argument("--top-fraction", type=float, help="treat this fraction of the training set (default: chosen)")
    parser.add_argument("--delta", type=float, default=DEFAULTS.delta, help="accuracy a treatment may cost its guard")


def _task_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task",
        required=True,
        help="your task: 'package.module:function' or 'file.py:function' returning a remedy.Task or "
        "(model, train, test)",
    )
    parser.add_argument("--memory-mb", type=int, default=256, help="memory for one chunk of per-example work (MiB)")


def _common(parser: argparse.ArgumentParser, out: str | None, seed: int | None = 0) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path(out) if out else None, required=out is None, help="output folder"
    )
    parser.add_argument(
        "--seed", type=int, default=seed, help="default: 0" if seed is not None else "default: the diagnosis's"
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="remedy",
        description="Find the training data behind a classifier's failures, erase it, and prove the repair.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="corrupt a built-in dataset, train, diagnose, repair and report")
    _common(demo, "runs/demo")
    demo.add_argument("--dataset", choices=DATASETS, default="mnist")
    noise = demo.add_mutually_exclusive_group()
    noise.add_argument("--flip", help="class pairs flipped both ways with a probability, e.g. '1-7:0.3,4-9:0.3'")
    noise.add_argument("--flip-rate", type=float, help="flip this fraction of labels uniformly to another class")
    _identify_arguments(demo)
    _repair_arguments(demo, DEFAULTS.treat)
    demo.add_argument("--model", choices=ARCHITECTURES, help="architecture (default: cnn for images, mlp otherwise)")
    demo.add_argument("--quick", action="store_true", help="fewer images and epochs, for trying things")
    demo.add_argument("--device", default="cpu", help="cpu, or cuda to run every pass on the GPU")
    diagnose = commands.add_parser("diagnose", help="score your task's training data against its failures")
    _common(diagnose, None)
    _task_arguments(diagnose)
    _identify_arguments(diagnose)
    diagnose.add_argument("--cache", type=Path, help="cache folder (default: OUT/cache): a killed run resumes from it")
    repair = commands.add_parser("repair", help="treat the top causes of a diagnosis and prove it against controls")
    _common(repair, None, seed=None)
    _task_arguments(repair)
    repair.add_argument("--causes", type=Path, required=True, help="a diagnosis's scores.csv (index, score)")
    _repair_arguments(repair, ("finetune",))
    repair.add_argument("--peer", action="append", help="a scorer whose top set is a control (default: self-loss)")
    report = commands.add_parser("report", help="rebuild report.html from a run folder")
    report.add_argument("folder", type=Path)
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
    result, report = run_experiment(args.name, args.out or Path("runs/experiments") / args.name, args.seed, args.quick)
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


def _identify_settings(args: argparse.Namespace) -> dict[str, Any]:
    options = args.identify_option or args.identify != DEFAULTS.identify
    return {
        "failures": args.failures,
        "identify": args.identify,
        "identify_options": _options(args.identify_option) if options else DEFAULTS.identify_options,
        "inverse": InverseSettings(args.curvature, args.solver, args.damping, args.curvature_examples, args.seed),
        "metric": args.metric,
    }


def _print_scoreboard(s: dict) -> None:
    ident = s["identify"]
    print(f"{ident['method']}: {ident['seconds']:.1f} s; {s['n_train']} training examples")
    chosen, net = s["count"]["chosen"], s["accuracy_before"]["net"]
    print(f"treated the top {chosen}; held-out accuracy before {net:.4f}")
    print(f"{'':22}{'fixed':>7}{'broken':>8}{'net change (points)':>22}")
    rows = {**s["treatments"], **{f"control: {k}": v for k, v in s["controls"].items()}}
    for name, row in rows.items():
        spread = f" ± {100 * row['spread']:.2f}" if "spread" in row else ""
        print(f"{name:22}{row['fixed']:>7.0f}{row['broken']:>8.0f}{100 * row['net_change']:>+15.2f}{spread}")
    print(s["headline"])


def _run(args: argparse.Namespace) -> Path | None:
    """Run the command; the report's path, or None when there is nothing to print (another process's share)."""
    from remedy.chunks import world
    from remedy.report.html import write_report

    if args.command == "report":
        return write_report(args.folder)
    if args.command == "demo":
        from remedy.pipeline import run_demo

        config = DemoConfig(
            dataset=args.dataset,
            seed=args.seed,
            flip=args.flip,
            flip_rate=args.flip_rate,
            treat=tuple(args.treat) if args.treat else DEFAULTS.treat,
            top_fraction=args.top_fraction,
            delta=args.delta,
            model=args.model,
            quick=args.quick,
            device=args.device,
            **_identify_settings(args),
        )
        evidence = run_demo(config, args.out)
    else:
        from remedy.commands import TaskRun, diagnose_task, repair_task
        from remedy.task import load_task

        task = load_task(args.task)
        if args.command == "diagnose":
            cache = args.cache or args.out / "cache"
            run = TaskRun(seed=args.seed, cache=cache, chunk_mb=args.memory_mb, **_identify_settings(args))
            evidence = diagnose_task(task, run, args.out)
        else:
            run = TaskRun(
                seed=_diagnosis_seed(args),
                treat=tuple(args.treat) if args.treat else ("finetune",),
                top_fraction=args.top_fraction,
                delta=args.delta,
                peers=tuple(args.peer) if args.peer else ("self-loss",),
                failures=_diagnosis_setting(args, "failures"),
                chunk_mb=args.memory_mb,
            )
            evidence = repair_task(task, run, args.causes, args.out)
    if world()[0] != 0:
        return None
    if "treatments" in evidence.summary:
        _print_scoreboard(evidence.summary)
    return write_report(args.out)


def _diagnosis_setting(args: argparse.Namespace, key: str) -> Any:
    summary = args.causes.parent / "summary.json"
    settings = json.loads(summary.read_text()).get("settings", {}) if summary.is_file() else {}
    return settings.get(key)


def _diagnosis_seed(args: argparse.Namespace) -> int:
    """--seed, or else the diagnosis's seed (the same test split), or else 0."""
    if args.seed is not None:
        return args.seed
    seed = _diagnosis_setting(args, "seed")
    return 0 if seed is None else int(seed)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    started = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    if started:  # launched by torchrun: shard the per-example passes across the processes
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    try:
        if args.command == "experiment":
            return _experiment(args)
        report = _run(args)
    except RemedyError as err:
        print(f"remedy: error: {err}", file=sys.stderr)
        return 2
    finally:
        if started:
            dist.destroy_process_group()
    if report is not None:
        print(f"report: {report.resolve()}")
    return 0
