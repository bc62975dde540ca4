"""Scale check: diagnose → repair with N = 60,000 training images on 2 cores, streamed, in bounded memory.

    python benchmarks/scale.py --out runs/scale        # trains once (weights kept in OUT), then times both commands

The 60,000 training images are the 3,000 bundled MNIST training digits (with the demo's pair flips), each in 20
copies shifted by up to 2 pixels; a ``Dataset`` makes every image on the fly, so the training set never exists as
one tensor. The test set is the 7,000 bundled test digits. The CNN is trained for 3 epochs (the check is about
time and memory, not accuracy). Each command runs as its own process under ``/usr/bin/time -v`` for its peak
resident memory.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch.utils.data import Dataset

import remedy
from remedy.data import load_dataset
from remedy.io import save_weights
from remedy.models import build_model
from remedy.models.config import TrainConfig
from remedy.pipeline import DemoConfig, corrupt
from remedy.seeds import stream

COPIES, SHIFT, EPOCHS = 20, 2, 3


class ShiftedDigits(Dataset):
    """``COPIES`` shifted copies of every base image, made when asked for."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, seed: int) -> None:
        self.x, self.y = x, y
        self.shifts = torch.randint(-SHIFT, SHIFT + 1, (len(x) * COPIES, 2), generator=stream(seed, "scale-shifts"))

    def __len__(self) -> int:
        return len(self.x) * COPIES

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        dy, dx = self.shifts[i].tolist()
        return torch.roll(self.x[i % len(self.x)], (dy, dx), dims=(-2, -1)), self.y[i % len(self.x)]


def build() -> remedy.Task:
    """The task both commands load: the trained weights are read from ``$REMEDY_SCALE_OUT`` when present."""
    out = Path(os.environ.get("REMEDY_SCALE_OUT", "runs/scale"))
    data = load_dataset("mnist")
    noisy = corrupt(data, DemoConfig())
    train = ShiftedDigits(noisy.x, noisy.y, seed=0)
    config = TrainConfig(max_epochs=EPOCHS, checkpoints=0)
    weights = out / "trained.safetensors"
    model = build_model("cnn", (1, 28, 28), 10, 0)
    if weights.is_file():
        model.load_state_dict(load_file(str(weights)))
        model.eval()
    else:
        model, _ = remedy.train_model(model, train, config=config, seed=0)
        save_weights(weights, model)
    return remedy.Task(model.eval(), train, data.test, config=config, name="mnist-60k")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak resident memory (GiB) of a command."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return seconds, peak_kb / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/scale"))
    parser.add_argument("--memory-mb", type=int, default=256)
    args = parser.parse_args()
    env = {**os.environ, "REMEDY_SCALE_OUT": str(args.out), "PYTHONPATH": str(Path(__file__).parent)}
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    build()
    print(f"trained {EPOCHS} epochs on 60,000 images: {time.perf_counter() - start:.0f} s", flush=True)
    remedy_cli = [sys.executable, "-m", "remedy"]
    task = ["--task", "scale:build", "--memory-mb", str(args.memory_mb)]
    steps = {
        "diagnose (puma, EK-FAC)": [*remedy_cli, "diagnose", *task, "--out", str(args.out / "diagnosis")],
        "repair (finetune, top 5 %)": [
            *remedy_cli, "repair", *task, "--causes", str(args.out / "diagnosis" / "scores.csv"),
            "--top-fraction", "0.05", "--treat", "finetune", "--out", str(args.out / "repair"),
        ],
    }  # fmt: skip
    print("| step | seconds | peak memory (GiB) |\n|---|---|---|")
    for label, command in steps.items():
        seconds, peak = timed(command, env)
        print(f"| {label} | {seconds:.0f} | {peak:.2f} |", flush=True)


if __name__ == "__main__":
    main()
