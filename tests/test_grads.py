from __future__ import annotations

import torch
from torch import nn

from reference import loop_grads
from remedy.curvature import chunk_size, diagonal_fisher, directional_derivatives, per_example_grads
from remedy.examples import Examples
from remedy.models import MLP, TannoCNN
from remedy.task import cross_entropy


def all_grads(model: nn.Module, data: Examples, chunk_bytes: int) -> torch.Tensor:
    return torch.cat([g for _, g in per_example_grads(model, cross_entropy, data, chunk_bytes)])


def test_per_example_grads_match_a_loop_mlp() -> None:
    torch.manual_seed(0)
    model = MLP(6, 3, hidden=(5,)).eval()
    data = Examples(torch.randn(11, 6), torch.randint(0, 3, (11,)))
    expected = loop_grads(model, data)
    for budget in (10**9, 4 * 80):  # one chunk; chunks of a few rows
        torch.testing.assert_close(all_grads(model, data, budget), expected, rtol=1e-5, atol=1e-6)


def test_per_example_grads_match_a_loop_cnn() -> None:
    torch.manual_seed(0)
    model = TannoCNN(1, 4).eval()
    data = Examples(torch.randn(5, 1, 8, 8), torch.randint(0, 4, (5,)))
    torch.testing.assert_close(all_grads(model, data, 10**9), loop_grads(model, data), rtol=1e-4, atol=1e-6)


def test_chunks_respect_the_budget() -> None:
    model = MLP(6, 3, hidden=(5,))
    n_params = sum(p.numel() for p in model.parameters())
    data = Examples(torch.randn(50, 6), torch.randint(0, 3, (50,)))
    budget = 7 * n_params * 4
    sizes = [g.shape[0] for _, g in per_example_grads(model.eval(), cross_entropy, data, budget)]
    assert max(sizes) == chunk_size(n_params, budget) == 7
    assert sum(sizes) == 50


def test_diagonal_fisher_is_mean_of_squared_per_example_grads() -> None:
    torch.manual_seed(1)
    model = MLP(4, 3, hidden=(6,)).eval()
    data = Examples(torch.randn(20, 4), torch.randint(0, 3, (20,)))
    grads = loop_grads(model, data)
    fisher = diagonal_fisher(model, cross_entropy, data, chunk_bytes=4 * 3 * grads.shape[1])
    torch.testing.assert_close(fisher, grads.square().mean(0), rtol=1e-5, atol=1e-8)
    squared_batch_gradient = grads.mean(0).square()
    assert not torch.allclose(fisher, squared_batch_gradient, rtol=0.1)


def test_directional_derivatives_equal_per_example_gradients_times_directions() -> None:
    torch.manual_seed(0)
    model = TannoCNN(1, 4).eval()
    data = Examples(torch.randn(7, 1, 8, 8), torch.randint(0, 4, (7,)))
    n_params = sum(p.numel() for p in model.parameters())
    directions = torch.randn(n_params, 3)
    expected = loop_grads(model, data) @ directions
    for batch_size in (1024, 3):
        got = directional_derivatives(model, cross_entropy, data, directions, batch_size)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


class _Doubled(torch.autograd.Function):
    """``2x`` with a backward rule and no forward-mode one, as SDPA attention on the CPU."""

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return 2 * x

    @staticmethod
    def setup_context(ctx: object, inputs: tuple, output: torch.Tensor) -> None:
        pass

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        return 2 * grad


class _Twice(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Doubled.apply(x)


def test_gradient_products_fall_back_from_forward_mode_where_an_operation_has_no_rule(flipped_logreg: dict) -> None:
    import pytest

    from remedy.curvature.grads import gradient_products, per_example_grads
    from remedy.task import cross_entropy

    model, train = flipped_logreg["model"], flipped_logreg["train"].take(torch.arange(20))
    doubled = torch.nn.Sequential(
        model, type("Twice", (torch.nn.Module,), {"forward": lambda s, x: _Doubled.apply(x)})()
    )
    directions = torch.randn(sum(p.numel() for p in model.parameters()), 2, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match="forward mode AD.*per-example gradients"):
        found = gradient_products(doubled.eval(), cross_entropy, train, directions)
    expected = torch.cat([g for _, g in per_example_grads(doubled, cross_entropy, train)]) @ directions
    torch.testing.assert_close(found, expected)
