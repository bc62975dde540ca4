"""KFAC / EK-FAC against the exact empirical Fisher where the theory says they agree."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from remedy.curvature import KFAC, EmpiricalFisher
from remedy.curvature.solvers import ihvp
from remedy.examples import Examples
from remedy.models import MLP, TannoCNN
from remedy.task import cross_entropy


def single_linear(n: int, seed: int = 0) -> tuple[nn.Module, Examples]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 3)).double().eval()
    return model, Examples(torch.randn(n, 4, dtype=torch.float64), torch.randint(0, 3, (n,)))


@pytest.mark.parametrize("eigen_corrected", [False, True])
def test_one_example_single_linear_layer_is_exact(eigen_corrected: bool) -> None:
    # with one example the gradient is g aᵀ and E[(g⊗a)(g⊗a)ᵀ] = E[g gᵀ] ⊗ E[a aᵀ] exactly
    model, data = single_linear(1)
    exact = EmpiricalFisher(model, cross_entropy, data, 0.1).dense()
    torch.testing.assert_close(KFAC(model, cross_entropy, data, 0.1, eigen_corrected).dense(), exact)


def test_constant_inputs_make_kfac_exact() -> None:
    # a = const for every example: E[gg^T ⊗ aa^T] = E[gg^T] ⊗ aa^T
    model, data = single_linear(12)
    data = Examples(data.x[:1].repeat(12, 1), data.y)
    exact = EmpiricalFisher(model, cross_entropy, data).dense()
    torch.testing.assert_close(KFAC(model, cross_entropy, data).dense(), exact)


def test_ekfac_diagonal_in_its_eigenbasis_is_exact() -> None:
    model, data = single_linear(30)
    exact = EmpiricalFisher(model, cross_entropy, data).dense()
    ekfac = KFAC(model, cross_entropy, data, eigen_corrected=True)
    block = ekfac.blocks[0]
    basis = torch.kron(block.q_s, block.q_a)  # vec order [out, in+1]
    weight_then_bias = torch.cat(
        [torch.arange(15).reshape(3, 5)[:, :4].flatten(), torch.arange(15).reshape(3, 5)[:, 4]]
    )
    rotated = basis.T @ exact[weight_then_bias.argsort()][:, weight_then_bias.argsort()] @ basis
    torch.testing.assert_close(torch.diagonal(rotated), block.values.flatten())
    kfac_error = (KFAC(model, cross_entropy, data).dense() - exact).norm()
    assert (ekfac.dense() - exact).norm() <= kfac_error


def test_ekfac_eigenvalues_are_the_exact_diagonal_in_the_basis_for_conv_and_linear_layers() -> None:
    # Λ*_ij = E[(Q_Sᵀ G_n Q_A)²_ij] is the exact Fisher's diagonal in the Kronecker basis, whichever order the
    # rotation is computed in (the conv layer has many positions: G_n first; the linear layer one: a and g first)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 4 * 4, 3)).double().eval()
    data = Examples(torch.randn(25, 1, 6, 6, dtype=torch.float64), torch.randint(0, 3, (25,)))
    exact = EmpiricalFisher(model, cross_entropy, data).dense()
    ekfac = KFAC(model, cross_entropy, data, eigen_corrected=True)
    for block in ekfac.blocks:
        out, width = block.shape
        weights = torch.arange(block.weight.start, block.weight.stop).reshape(out, width - 1)
        order = torch.cat([weights, torch.arange(block.bias.start, block.bias.stop)[:, None]], dim=1).flatten()
        basis = torch.kron(block.q_s, block.q_a)  # vec order [out, in+1]
        rotated = basis.T @ exact[order][:, order] @ basis
        torch.testing.assert_close(torch.diagonal(rotated), block.values.flatten())


@pytest.mark.parametrize("name", ["kfac", "ekfac"])
def test_closed_form_solve_inverts_matvec_on_a_cnn(name: str) -> None:
    torch.manual_seed(0)
    model = TannoCNN(1, 3).eval()
    data = Examples(torch.randn(20, 1, 8, 8), torch.randint(0, 3, (20,)))
    curvature = KFAC(model, cross_entropy, data, 0.0, eigen_corrected=name == "ekfac")
    v = torch.randn(curvature.n_params, 2)
    back = curvature.matvec(ihvp(curvature, v, 0.5, "closed-form"))
    torch.testing.assert_close(back + 0.5 * ihvp(curvature, v, 0.5, "closed-form"), v, rtol=1e-4, atol=1e-4)


def test_layers_without_factors_fall_back_to_the_diagonal_with_a_warning() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mlp = MLP(3, 2, hidden=(4,))
            self.gain = nn.Parameter(torch.ones(2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.mlp(x) * self.gain

    data = Examples(torch.randn(10, 3), torch.randint(0, 2, (10,)))
    with pytest.warns(UserWarning, match="gain are not in Linear/Conv2d layers"):
        curvature = KFAC(Scaled().eval(), cross_entropy, data)
    assert int(curvature.rest.sum()) == 2
