"""Curvature and per-example gradients are saved once and reused only while the fingerprints match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import remedy
import remedy.curvature.store as store_module
from remedy.curvature import per_example_grads
from remedy.examples import Examples
from remedy.models import MLP
from remedy.passes import Chunking
from remedy.task import cross_entropy


@pytest.fixture()
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"fisher": 0}
    real = store_module.diagonal_fisher

    def counting(*args: object, **kwargs: object) -> torch.Tensor:
        calls["fisher"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(store_module, "diagonal_fisher", counting)
    return calls


def setup() -> tuple[torch.nn.Module, Examples]:
    torch.manual_seed(0)
    return MLP(4, 3, hidden=(5,)).eval(), Examples(torch.randn(30, 4), torch.randint(0, 3, (30,)))


def test_fisher_is_computed_once_and_reloaded(tmp_path: Path, counted: dict[str, int]) -> None:
    model, data = setup()
    posterior = remedy.Posterior(model, data, chunking=Chunking(cache_dir=tmp_path))
    first = posterior.curvatures.fisher()
    torch.testing.assert_close(posterior.curvatures.get("fisher-diag").diagonal, first)  # reused, not recomputed
    again = remedy.Posterior(model, data, chunking=Chunking(cache_dir=tmp_path)).curvatures.fisher()
    assert counted["fisher"] == 1 and torch.equal(first, again)
    settings = json.loads(next(tmp_path.glob("fisher-diag-*.json")).read_text())
    assert set(settings) == {"model", "data", "loss"}
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    remedy.Posterior(model, data, chunking=Chunking(cache_dir=tmp_path)).curvatures.fisher()
    remedy.Posterior(
        model, Examples(data.x, (data.y + 1) % 3), chunking=Chunking(cache_dir=tmp_path)
    ).curvatures.fisher()
    assert counted["fisher"] == 3  # a changed model or changed labels recompute


def test_training_gradients_are_cached_and_equal_the_streamed_ones(tmp_path: Path) -> None:
    model, data = setup()
    cached = remedy.Posterior(model, data, chunking=Chunking(chunk_bytes=4 * 7 * 43, cache_dir=tmp_path))  # 7 rows
    rows = torch.cat(cached.passes.map_grads(lambda g: g, "grads"))
    (store,) = tmp_path.glob("train-grads-*/")
    assert len(list(store.glob("*.safetensors"))) == 5  # 30 rows in chunks of 7: saved chunk by chunk
    streamed = torch.cat([g for _, g in per_example_grads(model, cross_entropy, data)])
    torch.testing.assert_close(rows, streamed)
    reloaded = remedy.Posterior(model, data, chunking=Chunking(cache_dir=tmp_path))
    torch.testing.assert_close(torch.cat(reloaded.passes.map_grads(lambda g: g, "grads")), streamed)
    too_big = remedy.Posterior(model, data, chunking=Chunking(cache_dir=tmp_path / "other", cache_bytes=10))
    torch.testing.assert_close(torch.cat(too_big.passes.map_grads(lambda g: g, "grads")), streamed)
    assert not (tmp_path / "other").exists()
