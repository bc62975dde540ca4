"""Per-example gradients stay within their chunk budget however large N grows."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import resource, sys, torch
from torch import nn
from remedy.curvature import diagonal_fisher
from remedy.examples import Examples
from remedy.task import cross_entropy
torch.manual_seed(0)
n = int(sys.argv[1])
model = nn.Sequential(nn.Linear(10, 768), nn.ReLU(), nn.Linear(768, 768), nn.ReLU(), nn.Linear(768, 2)).eval()
data = Examples(torch.randn(n, 10), torch.randint(0, 2, (n,)))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
diagonal_fisher(model, cross_entropy, data, chunk_bytes=32 * 2**20)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def peak_growth_kib(n: int) -> int:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(n)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # tests/test_streaming.py checks the same bound on a whole diagnosis in the default suite
def test_peak_memory_does_not_grow_with_n() -> None:
    small, large = peak_growth_kib(500), peak_growth_kib(2000)
    # all 2,000 gradient rows of ~600k parameters would be ~4.8 GB; chunks of 32 MiB keep the peak flat
    assert large < small + 100 * 1024, (small, large)
