"""The cost estimate printed before a diagnosis (:mod:`remedy.estimate`) against what the scorer then took: peak
resident memory (``ru_maxrss`` of a process forked for the scorer alone, after the task is built) and wall time, on
three tasks of different size: scikit-learn's digits with the quick demo's MLP, the demo's MNIST CNN, and the
HuggingFace text task (``examples/text_task.py``, needs ``remedy[hf]``).

    python benchmarks/estimate.py --threads 1 [--tasks digits mnist text] [--scorers cells puma …]

Prints a markdown table with the ratios measured / estimated (benchmarks/README.md keeps the last one).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch

import remedy
from remedy.estimate import estimate
from remedy.pipeline import DemoConfig, demo_task

SCORERS = ("self-loss", "representer", "finetune-influence", "cells", "tracin", "puma", "trak", "ewc-influence",
           "linear-influence", "g-shapley")  # fmt: skip


def build(name: str) -> remedy.Task:
    if name == "text":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
        import text_task

        return text_task.build()
    config = DemoConfig(dataset="digits", model="mlp", quick=True) if name == "digits" else DemoConfig()
    return demo_task(config)[0]


def measure(task: remedy.Task, scorer: str, out: Any) -> None:
    """In a forked process: the estimate, then the scorer, then its peak resident memory and time."""
    posterior = remedy.Posterior(task.model, task.train, record=task.record)
    split = remedy.split_test(task.model, task.test, seed=0)
    cost = estimate(posterior, scorer, len(split.query.failures))
    start = time.perf_counter()
    remedy.identify(posterior, split, scorer)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.send((cost.peak_mb, cost.seconds, peak, seconds, posterior.n, posterior.theta().numel()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tasks", nargs="*", default=["digits", "mnist", "text"])
    parser.add_argument("--scorers", nargs="*", default=list(SCORERS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    context = mp.get_context("fork")
    columns = ("task", "N", "P", "scorer", "estimated MiB", "peak MiB", "peak / estimate", "estimated s", "took s")
    print(f"| {' | '.join(columns)} | took / estimate |\n|{'---|' * (len(columns) + 1)}", flush=True)
    for name in args.tasks:
        task = build(name)
        for scorer in args.scorers:
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=measure, args=(task, scorer, send))
            child.start()
            est_mb, est_s, peak, took, n, p = receive.recv()
            child.join()
            ratio_s = f"{took / est_s:.2f}" if est_s else ""
            print(
                f"| {name} | {n:,} | {p:,} | {scorer} | {est_mb:,.0f} | {peak:,.0f} | {peak / est_mb:.2f} | "
                f"{est_s or 0:.1f} | {took:.1f} | {ratio_s} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
