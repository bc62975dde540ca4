"""The constants of TMC-Shapley's centroid cost in ``remedy.estimate`` (``STEP_SECONDS``, ``VALIDATION_SECONDS``):
one untruncated permutation of :class:`~remedy.identify.shapley.CentroidUtility.prefixes` timed on synthetic features
(64 wide, ten classes) at several training and validation sizes, and seconds per step = a + b · |val| fitted by least
squares over the sizes (fastest of three timings each).

    python benchmarks/centroid_steps.py --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from remedy.identify.shapley import CentroidUtility

SIZES = ((1500, 1000), (3000, 1000), (3000, 3500), (1500, 6000))
"""(training examples, validation examples) timed."""


def seconds_per_step(n: int, v: int, classes: int = 10, width: int = 64) -> float:
    gen = np.random.default_rng(0)
    y, val_y = gen.integers(0, classes, n), gen.integers(0, classes, v)
    x = gen.normal(size=(n, width)) + 0.3 * y[:, None]
    val = gen.normal(size=(v, width)) + 0.3 * val_y[:, None]
    utility = CentroidUtility(x, y, val, val_y, classes)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        utility.prefixes(order)
        times.append(time.perf_counter() - start)
    return min(times) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    torch.set_num_threads(parser.parse_args().threads)
    rows = [(v, seconds_per_step(n, v)) for n, v in SIZES]
    for (n, v), (_, step) in zip(SIZES, rows, strict=True):
        print(f"N={n:5d} |val|={v:5d}: {step * 1e6:7.1f} µs per step")
    b, a = np.polyfit([v for v, _ in rows], [s for _, s in rows], 1)
    print(f"STEP_SECONDS ≈ {a:.1e}, VALIDATION_SECONDS ≈ {b:.1e}")


if __name__ == "__main__":
    main()
