"""What keeping the training record costs: the demo's CNN trained on the 3,000 MNIST images with and without every
optimiser step recorded (``TrainConfig(record=True)``), as seconds per epoch (median of ``--runs``), the slowdown,
and the record's size per step on disk.

    python benchmarks/record.py --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

import torch

from remedy.data import load_dataset
from remedy.examples import Examples
from remedy.models import build_model, train_model
from remedy.models.config import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("mnist")
    train = Examples(data.train.x, data.train.y)
    per_epoch: dict[bool, list[float]] = {False: [], True: []}
    size = steps = 0
    for _ in range(args.runs):
        for record in (False, True):  # alternating, so that a slower stretch of the machine hits both
            config = TrainConfig(max_epochs=args.epochs, early_stopping=False, record=record)
            with tempfile.TemporaryDirectory() as folder:
                model = build_model("cnn", (1, 28, 28), 10, 0)
                _, kept = train_model(model, train, config=config, seed=0, record_dir=folder)
                per_epoch[record].append(kept.epoch_seconds)
                if kept.trajectory is not None:
                    size, steps = kept.trajectory.bytes_per_step, kept.trajectory.steps
    plain, recorded = (statistics.median(per_epoch[r]) for r in (False, True))
    n_params = sum(p.numel() for p in build_model("cnn", (1, 28, 28), 10, 0).parameters())
    print(f"CNN of {n_params:,} parameters, {steps} steps in {args.epochs} epochs, medians of {args.runs}")
    print(f"epoch without the record: {plain:.3f} s; with it: {recorded:.3f} s; slowdown {recorded / plain:.3f}×")
    print(f"record size: {size:,} bytes per step ({size / (4 * n_params):.3f} × the float32 parameters)")
    print(f"a 30-epoch training run of the demo keeps about {30 * steps / args.epochs * size / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
