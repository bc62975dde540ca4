"""Sharded passes (:mod:`remedy.chunks`): two gloo processes split the chunks between them and get the one-process
results bit for bit, for the bare passes and for the posterior's (kept gradients, log-likelihoods, the Fisher)."""

from __future__ import annotations

import functools
import operator
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from remedy.chunks import over_chunks, sum_over_chunks
from remedy.examples import Data, Examples
from remedy.models import build_model
from remedy.passes import Chunking
from remedy.posterior import Posterior

N, ROWS = 53, 6  # 9 chunks, the last one short: the processes get 5 and 4


def _data() -> Examples:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(N, 5, generator=gen) * torch.logspace(-4, 4, N).unsqueeze(1)  # sums depend on their order
    return Examples(x, torch.zeros(N, dtype=torch.long))


def _passes(done: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    data = _data()

    def square(chunk: Data) -> torch.Tensor:
        assert isinstance(chunk, Examples)
        done.append(int((data.x[:, 0] == chunk.x[0, 0]).nonzero()[0]) // ROWS)  # which chunk this process computes
        return chunk.x.square().sum(0)

    total = sum_over_chunks(data, ROWS, square)
    assert isinstance(total, torch.Tensor)
    rows = over_chunks(data, ROWS, lambda c: c.x.sum(1))
    assert all(isinstance(v, torch.Tensor) for v in rows)
    return total, torch.cat(rows)  # type: ignore[arg-type]


def _posterior_passes(cache: str) -> dict[str, torch.Tensor]:
    """Gradient products from the kept gradient matrix and log-likelihoods of a small MLP, in chunks of 7 rows (the
    budget holds 7 gradients), and its Fisher (one chunk of ``CHUNK_ROWS``: the sharded sum is checked above)."""
    data = _data()
    x = data.x[:, :4].reshape(N, 1, 2, 2) / data.x.abs().amax()
    y = torch.arange(N) % 3
    model = build_model("mlp", (1, 2, 2), 3, 0).eval()
    n_params = sum(p.numel() for p in model.parameters())
    posterior = Posterior(model, (x, y), chunking=Chunking(chunk_bytes=7 * 4 * n_params, cache_dir=cache))
    directions = torch.randn(n_params, 5, generator=torch.Generator().manual_seed(1))
    return {
        "products": posterior.passes.train_products(directions),  # 5 directions: from the kept per-example gradients
        "log_likelihood": posterior.log_likelihood(posterior.train),
        "fisher": posterior.curvatures.fisher(),
    }


def _worker(rank: int, folder: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank, world_size=2)
    torch.set_num_threads(1)
    try:
        done: list[int] = []
        total, rows = _passes(done)
        found = {"total": total, "rows": rows, "done": torch.tensor(done), **_posterior_passes(f"{folder}/cache")}
        torch.save(found, f"{folder}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_split_the_chunks_and_sum_them_as_one(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    done: list[int] = []
    total, rows = _passes(done)
    data = _data()
    chunks = [data.x[i : i + ROWS].square().sum(0) for i in range(0, N, ROWS)]
    assert done == list(range(9))
    assert torch.equal(total, functools.reduce(operator.add, chunks))  # ((c0 + c1) + c2) + …, in chunk order
    assert torch.equal(rows, data.x.sum(1))

    mp.spawn(_worker, args=(str(tmp_path),), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert ranks[0]["done"].tolist() == [0, 2, 4, 6, 8] and ranks[1]["done"].tolist() == [1, 3, 5, 7]
    one = _posterior_passes(str(tmp_path / "one"))
    saved = sorted(f.name for f in (tmp_path / "cache").glob("train-grads-*/*.safetensors"))
    assert saved == [f"{i:06d}.safetensors" for i in range(8)]  # 53 gradients in chunks of 7, each saved once
    for result in ranks:
        assert torch.equal(result["total"], total) and torch.equal(result["rows"], rows)
        for name, value in one.items():
            assert torch.equal(result[name], value), name
