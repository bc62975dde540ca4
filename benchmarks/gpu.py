"""Time the demo and one identification on a CUDA GPU (for a person with one; CI never runs it).

    python benchmarks/gpu.py --out runs/gpu

Runs ``remedy demo --device cuda`` and prints its wall time and the training epoch it measured, then times
EK-FAC linear influence and the default scorer on the demo's model on the GPU, in epochs of the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

import remedy
from remedy.curvature import InverseSettings
from remedy.data import load_dataset
from remedy.examples import Examples
from remedy.models import build_model, train_model
from remedy.pipeline import DemoConfig, corrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/gpu"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("benchmarks/gpu.py: no CUDA device is available")
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "remedy", "demo", "--device", "cuda", "--out", str(args.out)], check=True)
    summary = json.loads((args.out / "summary.json").read_text())
    print(f"demo: {time.perf_counter() - start:.0f} s; one training epoch {summary['train_epoch_seconds']:.3f} s")

    data = load_dataset("mnist")
    noisy = corrupt(data, DemoConfig())
    train = Examples(noisy.x, noisy.y).to(torch.device("cuda"))
    model, log = train_model(build_model("cnn", (1, 28, 28), 10, 0).cuda(), train, seed=0)
    failures = remedy.split_test(model, data.test, seed=0)
    ekfac = InverseSettings("ekfac", "closed-form", 1e-3)
    for label, method, options in [
        ("linear influence, EK-FAC", "linear-influence", {"inverse": ekfac}),
        ("default: PUMA on the query half", "puma", {"inverse": ekfac, "target": "guard"}),
        ("EWC-influence", "ewc-influence", {}),
    ]:
        torch.cuda.synchronize()
        start = time.perf_counter()
        remedy.identify(remedy.Posterior(model, train), failures, method, **options)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        print(f"| {label} | {seconds:.2f} s | {seconds / log.epoch_seconds:.1f} epochs |")


if __name__ == "__main__":
    main()
