"""``remedy demo | diagnose | repair | report | experiment``: the whole workflow on a built-in example, on your own
task (``--task module:function``), and the paper reproductions. Every flag is checked before any work starts; a
bad value stops with one line ``remedy: error: --flag: …`` and a warning prints as one line ``remedy: warning: …``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

import torch
import torch.distributed as dist

from remedy.curvature import CURVATURES, SOLVERS, InverseSettings
from remedy.data import DATASETS
from remedy.errors import RemedyError, check
from remedy.identify import SCORERS
from remedy.methods import parse_options
from remedy.metrics import METRICS
from remedy.models import ARCHITECTURES
from remedy.params import parse_params
from remedy.pipeline import DemoConfig
from remedy.settings import Settings
from remedy.treat import DEFAULT_TREATMENT, TREATMENTS

DEFAULTS = DemoConfig()


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``remedy: error: --flag: …`` instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument "):
            flag, _, rest = message[len("argument ") :].partition(": ")
            message = f"{flag.split('/')[-1]}: {rest}"
        print(f"remedy: error: {message}", file=sys.stderr)
        raise SystemExit(2)


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
    parser.add_argument(
        "--metric",
        default=DEFAULTS.metric,
        help=f"the metric whose harm is scored (puma): {', '.join(METRICS.names())}",
    )


def _repair_arguments(
    parser: argparse.ArgumentParser, treat_default: tuple[str, ...], peer_default: tuple[str, ...]
) -> None:
    parser.add_argument(
        "--treat",
        action="append",
        metavar="NAME[KEY=VALUE,...]",
        help=f"treatment, repeatable; the first gets the controls: {', '.join(TREATMENTS.names())} "
        f"(default: {', '.join(treat_default)}); options in brackets, e.g. 'puma[preserve=loss,tolerance=0.01]'",
    )
    parser.add_argument("--top-fraction", type=float, help="treat this fraction of the training set (default: chosen)")
    parser.add_argument("--delta", type=float, default=DEFAULTS.delta, help="accuracy a treatment may cost its guard")
    parser.add_argument(
        "--treatment-seeds",
        type=int,
        default=DEFAULTS.treatment_seeds,
        help="run every treatment with this many seeds of its own (the intervals cover their noise)",
    )
    parser.add_argument(
        "--peer",
        action="append",
        metavar="NAME[KEY=VALUE,...]",
        help=f"repeatable: a scorer a user would pick instead; its top set is a control (default: "
        f"{', '.join(peer_default)})",
    )


def _task_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task",
        required=True,
        help="your task: 'package.module:function' or 'file.py:function' returning a remedy.Task or "
        "(model, train, test)",
    )
    parser.add_argument("--weights", type=Path, help="load these safetensors weights into the task's model")
    parser.add_argument("--memory-mb", type=int, default=256, help="memory for one chunk of per-example work (MiB)")


def _common(parser: argparse.ArgumentParser, out: str | None, seed: int | None = 0) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path(out) if out else None, required=out is None, help="output folder"
    )
    parser.add_argument(
        "--seed", type=int, default=seed, help="default: 0" if seed is not None else "default: the diagnosis's"
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument(
        "--params",
        metavar="PATTERN[,PATTERN]",
        help="act on these parameters only, glob patterns over their names, e.g. 'fc2.*' for a last layer named fc2 "
        "(default: every trainable parameter; repair: the diagnosis's)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="remedy",
        description="Find the training data behind a classifier's failures, erase it, and prove the repair.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    demo = commands.add_parser("demo", help="corrupt a built-in dataset, train, diagnose, repair and report")
    _common(demo, "runs/demo")
    demo.add_argument("--dataset", choices=DATASETS, default="mnist")
    noise = demo.add_mutually_exclusive_group()
    noise.add_argument("--flip", help="class pairs flipped both ways with a probability, e.g. '1-7:0.3,4-9:0.3'")
    noise.add_argument("--flip-rate", type=float, help="flip this fraction of labels uniformly to another class")
    _identify_arguments(demo)
    _repair_arguments(demo, DEFAULTS.treat, DEFAULTS.peers)
    demo.add_argument("--model", choices=ARCHITECTURES, help="architecture (default: cnn for images, mlp otherwise)")
    demo.add_argument("--quick", action="store_true", help="fewer images and epochs, for trying things")
    demo.add_argument(
        "--partition", type=int, help="draw the dataset's train/test partition with this seed (default: the fixed one)"
    )
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
    _repair_arguments(repair, (DEFAULT_TREATMENT,), Settings.peers)
    report = commands.add_parser("report", help="rebuild report.html from a run folder")
    report.add_argument("folder", type=Path)
    experiment = commands.add_parser("experiment", help="run a named study; writes summary.json and report.html")
    experiment.add_argument("name", nargs="?", help="the experiment (see --list)")
    experiment.add_argument("--list", action="store_true", help="list the experiments and exit")
    experiment.add_argument("--out", type=Path, help="output folder (default: runs/experiments/NAME)")
    experiment.add_argument("--seed", type=int, default=0, help="the first seed")
    experiment.add_argument("--seeds", help="a range of seeds A-B (inclusive), for the experiments that repeat")
    experiment.add_argument(
        "--setting", action="append", help="only this setting, repeatable (for the experiments with several)"
    )
    experiment.add_argument(
        "--scorers", help="only these scorers, comma-separated (for the experiments that run every scorer)"
    )
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


def _seed_range(text: str | None) -> list[int] | None:
    if text is None:
        return None
    first, sep, last = text.partition("-")
    try:
        seeds = list(range(int(first), int(last) + 1)) if sep else [int(first)]
    except ValueError as err:
        raise RemedyError(f"--seeds: expected a range like 5-14, got {text!r}") from err
    check(bool(seeds), "--seeds", f"a non-empty range A-B with A <= B, got {text!r}")
    return seeds


def _experiment(args: argparse.Namespace) -> int:
    from remedy.experiments import EXPERIMENTS, run_experiment

    if args.list or not args.name:
        for name in EXPERIMENTS.names():
            module = sys.modules[EXPERIMENTS.get(name).__module__]
            print(f"{name:22}{(module.__doc__ or '').strip().splitlines()[0]}")
        return 0
    EXPERIMENTS.get(args.name, "experiment")
    seeds = _seed_range(args.seeds)
    out = args.out or Path("runs/experiments") / args.name
    scorers = args.scorers.split(",") if args.scorers else None
    result, report = run_experiment(args.name, out, args.seed, args.quick, seeds, args.setting, scorers)
    print(result.title)
    for key, value in list(result.summary.items())[:6]:
        print(f"  {key}: {_short(value)}")
    print(f"report: {report.resolve()}")
    return 0


def _identify_settings(args: argparse.Namespace) -> dict[str, Any]:
    check(args.curvature in CURVATURES.names(), "--curvature", f"one of {', '.join(CURVATURES.names())}")
    check(args.solver in SOLVERS.names(), "--solver", f"one of {', '.join(SOLVERS.names())}")
    check(args.damping >= 0, "--damping", f"a damping >= 0, got {args.damping}")
    examples = args.curvature_examples
    check(examples is None or examples > 0, "--curvature-examples", f"a positive number, got {examples}")
    check(args.metric in METRICS.names(), "--metric", f"one of {', '.join(METRICS.names())}, got {args.metric!r}")
    return {
        "failures": args.failures,
        "identify": args.identify,
        "identify_options": parse_options(args.identify_option, "--identify-option"),
        "inverse": InverseSettings(args.curvature, args.solver, args.damping, examples, args.seed or 0),
        "metric": args.metric,
    }


def _repair_settings(args: argparse.Namespace, default: tuple[str, ...], peers: tuple[str, ...]) -> dict[str, Any]:
    return {
        "treat": tuple(args.treat) if args.treat else default,
        "peers": tuple(args.peer) if args.peer else peers,
        "top_fraction": args.top_fraction,
        "delta": args.delta,
        "treatment_seeds": args.treatment_seeds,
    }


def _params(args: argparse.Namespace, diagnosed: dict | None = None) -> dict[str, Any]:
    """``params`` for the settings: the flag's patterns, or a repair's diagnosis's."""
    if getattr(args, "params", None) is not None:
        return {"params": parse_params(args.params)}
    return {"params": tuple((diagnosed or {}).get("params", ()))}


def _check_common(args: argparse.Namespace) -> None:
    check(args.threads is None or args.threads >= 1, "--threads", f"at least 1 thread, got {args.threads}")
    out = getattr(args, "out", None)
    check(out is None or not out.exists() or out.is_dir(), "--out", f"a folder, found a file at {out}")
    weights = getattr(args, "weights", None)
    check(weights is None or weights.is_file(), "--weights", f"a safetensors file, found nothing at {weights}")
    cache = getattr(args, "cache", None)
    check(cache is None or not cache.exists() or cache.is_dir(), "--cache", f"a folder, found a file at {cache}")


def _print_scoreboard(s: dict) -> None:
    ident = s["identify"]
    print(f"{ident['method']}: {ident['seconds']:.1f} s; {s['n_train']} training examples")
    chosen, net = s["count"]["chosen"], s["accuracy_before"]["net"]
    seeds = len(s["treatment_seeds"])
    print(f"treated the top {chosen} with {seeds} treatment seed(s); held-out accuracy before {100 * net:.2f} %")
    width = max(len(name) for name in [*s["treatments"], *(f"control: {k}" for k in s["controls"])]) + 2
    print(f"{'':{width}}{'fixed':>7}{'broken':>8}{'net change, points [95 % interval]':>38}{'vs repair':>24}")
    rows = {**s["treatments"], **{f"control: {k}": v for k, v in s["controls"].items()}}
    for name, row in rows.items():
        lo, hi = row["interval"]
        change = f"{row['net_change']:+.2f} [{lo:+.2f}, {hi:+.2f}]"
        diff = row.get("difference")
        versus = f"{diff['mean']:+.2f} [{diff['interval'][0]:+.2f}, {diff['interval'][1]:+.2f}]" if diff else ""
        same = "  (θ̂ unchanged)" if row.get("returned_original") else ""
        print(f"{name:{width}}{row['fixed']:>7.0f}{row['broken']:>8.0f}{change:>38}{versus:>24}{same}")
    for warning in s.get("directions", {}).get("warnings", []):
        print(f"remedy: warning: {warning}", file=sys.stderr)
    if s["count"].get("told_apart") is False:
        print("remedy: note: the guard could not tell the candidate counts apart (report: 'How many to treat')")
    print(s["headline"])


def _settings(args: argparse.Namespace) -> Any:
    """The run's settings from the flags, every one checked (before any work)."""
    _check_common(args)
    if args.command == "demo":
        config = DemoConfig(
            dataset=args.dataset,
            seed=args.seed,
            flip=args.flip,
            flip_rate=args.flip_rate,
            model=args.model,
            quick=args.quick,
            partition=args.partition,
            device=args.device,
            **_identify_settings(args),
            **_repair_settings(args, DEFAULTS.treat, DEFAULTS.peers),
            **_params(args),
        )
        config.check()
        return config
    from remedy.commands import TaskRun, diagnosis

    check(args.memory_mb >= 1, "--memory-mb", f"a positive number of MiB, got {args.memory_mb}")
    if args.command == "diagnose":
        run = TaskRun(
            seed=args.seed,
            cache=args.cache or args.out / "cache",
            chunk_mb=args.memory_mb,
            **_identify_settings(args),
            **_params(args),
        )
    else:
        made = diagnosis(args.causes)
        seed = int(made["seed"])
        check(
            args.seed in (None, seed),
            "--seed",
            f"the diagnosis's seed {seed} (its split of the test set), got {args.seed}",
        )
        args.seed = seed
        summary = args.causes.parent / "summary.json"
        diagnosed = json.loads(summary.read_text()).get("settings", {}) if summary.is_file() else {}
        run = TaskRun(
            seed=seed,
            failures=diagnosed.get("failures"),
            chunk_mb=args.memory_mb,
            **_repair_settings(args, (DEFAULT_TREATMENT,), Settings.peers),
            **_params(args, diagnosed),
        )
    run.check()
    return run


def _run(args: argparse.Namespace) -> Path | None:
    """Run the command; the report's path, or None when there is nothing to print (another process's share)."""
    from remedy.chunks import world
    from remedy.report.html import write_report

    if args.command == "report":
        return write_report(args.folder)
    settings = _settings(args)
    if args.command == "demo":
        from remedy.pipeline import run_demo

        evidence = run_demo(settings, args.out)
    else:
        from remedy.commands import diagnose_task, repair_task
        from remedy.inputs import calling
        from remedy.task import load_task

        task = load_task(args.task, args.weights)
        with calling(task.forward):  # the task's own call of its model, when it has one
            if args.command == "diagnose":
                evidence = diagnose_task(task, settings, args.out)
            else:
                evidence = repair_task(task, settings, args.causes, args.out)
    if world()[0] != 0:
        return None
    if "treatments" in evidence.summary:
        _print_scoreboard(evidence.summary)
    return write_report(args.out)


def _one_line_warnings() -> None:
    """Warnings as one line each, ``remedy: warning: …``, without the source line Python would print."""

    def show(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
        print(f"remedy: warning: {message}", file=sys.stderr)

    warnings.showwarning = show  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _one_line_warnings()
    started = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    try:
        check(getattr(args, "threads", None) is None or args.threads >= 1, "--threads", "at least 1 thread")
        if getattr(args, "threads", None):
            torch.set_num_threads(args.threads)
        if started:  # launched by torchrun: shard the per-example passes across the processes
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if args.command == "experiment":
            return _experiment(args)
        report = _run(args)
    except RemedyError as err:
        print(f"remedy: error: {err}", file=sys.stderr)
        return 2
    finally:
        if started and dist.is_initialized():
            dist.destroy_process_group()
    if report is not None:
        print(f"report: {report.resolve()}")
    return 0
