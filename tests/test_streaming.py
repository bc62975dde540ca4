"""A training set given as a Dataset is read in batches, never copied whole, and gives the same numbers as the same
data held as tensors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch.utils.data import Dataset

import remedy
from remedy.examples import Examples, Streamed
from remedy.passes import Chunking


class Pairs(Dataset):
    """A Dataset over two tensors that counts how many items were read."""

    def __init__(self, data: Examples) -> None:
        self.data, self.reads = data, 0

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        self.reads += 1
        return self.data.x[i], int(self.data.y[i])


@pytest.fixture(scope="module")
def both(flipped_logreg: dict) -> dict:
    train = flipped_logreg["train"]
    config = remedy.TrainConfig(lr=0.05)
    memory = remedy.Posterior(
        flipped_logreg["model"], train, record=remedy.TrainingRecord(config), chunking=Chunking(chunk_bytes=4 * 6 * 37)
    )
    streamed = remedy.Posterior(
        flipped_logreg["model"],
        Pairs(train),
        record=remedy.TrainingRecord(config),
        chunking=Chunking(chunk_bytes=4 * 6 * 37),
    )
    split = remedy.split_test(flipped_logreg["model"], flipped_logreg["test"], seed=0)
    return {"memory": memory, "streamed": streamed, "split": split, **flipped_logreg}


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("puma", {"target": "guard"}),
        ("linear-influence", {"normalize": "cosine", "aggregate": "mean-rank"}),
        ("ewc-influence", {}),
        ("tracin", {"normalize": "unit"}),
        ("representer", {}),
        ("self-influence", {}),
        ("self-loss", {}),
    ],
)
def test_streamed_scores_equal_in_memory_scores(both: dict, method: str, options: dict) -> None:
    assert isinstance(both["streamed"].train, Streamed)
    memory = remedy.identify(both["memory"], both["split"], method, **options).values
    streamed = remedy.identify(both["streamed"], both["split"], method, **options).values
    torch.testing.assert_close(streamed, memory, rtol=1e-4, atol=1e-6 * float(memory.abs().max()))  # float32 sums


def test_streamed_repairs_equal_in_memory_repairs(both: dict) -> None:
    causes = torch.nonzero(both["mask"]).flatten()
    guard = both["split"].query.guard
    for method in ("finetune", "relabel", "newton"):
        a = remedy.repair(both["memory"], causes, method, guard=guard).model
        b = remedy.repair(both["streamed"], causes, method, guard=guard).model
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(p, q)


MEMORY = """
import resource, sys, torch
from torch import nn
from torch.utils.data import Dataset
import remedy
from remedy.passes import Chunking

class Images(Dataset):  # N images of 3x64x64 float32, generated on the fly (48 KiB each)
    def __len__(self): return int(sys.argv[1])
    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return torch.rand(3, 64, 64, generator=g), i % 3

torch.manual_seed(0)
layers = [nn.Conv2d(3, 4, 5, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 3)]
model = nn.Sequential(*layers).eval()
test = (torch.rand(200, 3, 64, 64), torch.arange(200) % 3)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
posterior = remedy.Posterior(model, Images(), chunking=Chunking(chunk_bytes=16 * 2**20))
failures = remedy.split_test(model, test, seed=0)
scores = remedy.identify(posterior, failures, "puma", target="guard")
assert bool(torch.isfinite(scores.values).all())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def peak_growth_mib(n: int) -> float:
    out = subprocess.run([sys.executable, "-c", MEMORY, str(n)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def test_a_training_set_is_never_held_whole() -> None:
    small, large = peak_growth_mib(1000), peak_growth_mib(3000)  # 49 MB and 147 MB of images
    assert large < small + 40, (small, large)  # the peak does not grow with the data
