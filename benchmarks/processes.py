"""One process against two on the 2-core machine: `remedy diagnose` of the demo's MNIST model under torchrun.

    python benchmarks/processes.py --out runs/processes --identify ewc-influence --identify linear-influence
    python benchmarks/processes.py --out runs/processes --copies 10     # N = 30,000: the 3,000 images 10 times

Trains the demo's model once (kept in OUT) on its 3,000 images, then times
``torchrun --nproc-per-node N -m remedy diagnose`` with 1 process × 1 thread, 2 processes × 1 thread and
1 process × 2 threads, each with a fresh cache, median of
``--runs`` runs (the whole command: start-up, loading the task and writing the results included), and checks
whether the scores equal those of 1 process × 1 thread bit for bit (two threads in one process sum in another
order, so they may differ in the last bits; two processes of one thread must not). ``--copies K`` scores a
training set of the demo's images repeated K times (the model stays the one trained on them once), for the
speed-up at a size where the sharded passes dominate start-up and the unsharded steps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

import remedy
from remedy.data import load_dataset
from remedy.examples import Examples
from remedy.identify import Scores
from remedy.io import save_weights
from remedy.models import build_model
from remedy.pipeline import DemoConfig, corrupt


def build() -> remedy.Task:
    """The demo's data and model; the weights are trained once and read from ``$REMEDY_PROCESSES_OUT``."""
    out = Path(os.environ.get("REMEDY_PROCESSES_OUT", "runs/processes"))
    data = load_dataset("mnist")
    noisy = corrupt(data, DemoConfig())
    copies = int(os.environ.get("REMEDY_PROCESSES_COPIES", "1"))
    weights = out / "trained.safetensors"
    model = build_model("cnn", (1, 28, 28), 10, 0)
    if weights.is_file():
        model.load_state_dict(load_file(str(weights)))
    else:
        model, _ = remedy.train_model(model, Examples(noisy.x, noisy.y), seed=0)
        save_weights(weights, model)
    train = Examples(noisy.x.repeat(copies, 1, 1, 1), noisy.y.repeat(copies))
    return remedy.Task(model.eval(), train, data.test, corrupted=noisy.mask.repeat(copies), name="mnist")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/processes"))
    parser.add_argument("--identify", action="append", default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--copies", type=int, default=1, help="repeat the training images this many times")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "REMEDY_PROCESSES_OUT": str(args.out), "REMEDY_PROCESSES_COPIES": str(args.copies)}
    os.environ.update(env)
    print(f"N = {len(build().train):,}\n")
    print("| scorer | processes × threads | seconds (median) | speed-up | scores equal to 1 × 1 |")
    print("|---|---|---|---|---|")
    for method in args.identify or ["ewc-influence", "linear-influence"]:
        first, base = None, None
        for processes, threads in [(1, 1), (2, 1), (1, 2)]:
            times, same = [], True
            for run in range(args.runs):
                out = args.out / f"{method}-{processes}x{threads}-{run}"
                shutil.rmtree(out, ignore_errors=True)
                command = [
                    sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes),
                    "-m", "remedy", "diagnose", "--task", f"{Path(__file__).resolve()}:build", "--out", str(out),
                    "--identify", method, "--threads", str(threads),
                ]  # fmt: skip
                start = time.perf_counter()
                subprocess.run(command, env=env, check=True, capture_output=True)
                times.append(time.perf_counter() - start)
                scores = Scores.load(out / "scores.csv").values
                first = scores if first is None else first
                same = same and torch.equal(scores, first)
            seconds = statistics.median(times)
            base = base or seconds
            print(f"| {method} | {processes} × {threads} | {seconds:.1f} | {base / seconds:.2f} | {same} |", flush=True)


if __name__ == "__main__":
    main()
