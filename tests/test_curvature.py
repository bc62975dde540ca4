"""Every curvature back-end and iHVP solver against explicit matrices on small problems."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call, hessian, jacrev

from remedy.curvature import EmpiricalFisher, GaussNewton, Hessian, InverseSettings, per_example_grads
from remedy.curvature.ggn import _is_logits, _logit_layer
from remedy.curvature.solvers import ihvp
from remedy.data import load_dataset
from remedy.errors import RemedyError
from remedy.examples import Examples
from remedy.models import MLP, LogisticRegression
from remedy.task import cross_entropy

WD = 0.01


def flat_params(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def objective(model: torch.nn.Module, data: Examples, weight_decay: float):
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]

    def j(theta: torch.Tensor) -> torch.Tensor:
        params = {n: t.view(s) for n, t, s in zip(names, theta.split(sizes), shapes, strict=True)}
        out = functional_call(model, params, (data.x,))
        return cross_entropy(out, data.y).mean() + 0.5 * weight_decay * theta.square().sum()

    return j


@pytest.fixture(scope="module")
def logreg() -> tuple[torch.nn.Module, Examples]:
    data = load_dataset("breast-cancer").train
    torch.manual_seed(0)
    model = LogisticRegression(30, 2).double().eval()
    return model, Examples(data.x.double(), data.y)


@pytest.fixture(scope="module")
def mlp() -> tuple[torch.nn.Module, Examples]:
    torch.manual_seed(0)
    model = MLP(5, 3, hidden=(7,)).double().eval()
    return model, Examples(torch.randn(40, 5, dtype=torch.float64), torch.randint(0, 3, (40,)))


def explicit_hessian(model: torch.nn.Module, data: Examples) -> torch.Tensor:
    return hessian(objective(model, data, WD))(flat_params(model))


def test_hessian_products_match_the_explicit_hessian(mlp) -> None:
    model, data = mlp
    torch.testing.assert_close(Hessian(model, cross_entropy, data, WD, chunk=16).dense(), explicit_hessian(model, data))


def test_ggn_equals_hessian_for_a_linear_model(logreg) -> None:
    model, data = logreg
    exact = explicit_hessian(model, data)
    torch.testing.assert_close(GaussNewton(model, cross_entropy, data, WD).dense(), exact)
    torch.testing.assert_close(Hessian(model, cross_entropy, data, WD).dense(), exact)


def test_ggn_products_equal_jt_h_j_built_explicitly(mlp) -> None:
    model, data = mlp
    theta = flat_params(model)
    names = [n for n, _ in model.named_parameters()]
    shapes, sizes = [p.shape for p in model.parameters()], [p.numel() for p in model.parameters()]

    def f(th: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        params = {n: t.view(s) for n, t, s in zip(names, th.split(sizes), shapes, strict=True)}
        return functional_call(model, params, (x[None],))[0]

    expected = WD * torch.eye(len(theta), dtype=theta.dtype)
    for x in data.x:
        jac = jacrev(f)(theta, x)  # [C, P]
        p = torch.softmax(f(theta, x), 0)
        h_out = torch.diag(p) - torch.outer(p, p)
        expected += jac.T @ h_out @ jac / len(data)
    torch.testing.assert_close(GaussNewton(model, cross_entropy, data, WD, chunk=7).dense(), expected)


def test_full_empirical_fisher_is_mean_outer_product(mlp) -> None:
    model, data = mlp
    g = torch.cat([chunk for _, chunk in per_example_grads(model, cross_entropy, data)])
    expected = g.T @ g / len(data) + WD * torch.eye(g.shape[1], dtype=g.dtype)
    torch.testing.assert_close(EmpiricalFisher(model, cross_entropy, data, WD).dense(), expected)


SOLVER_CASES = [
    ("direct", {}, 1e-6),
    ("cg", {"tol": 1e-10}, 1e-4),
    ("arnoldi", {"rank": 40, "iterations": 80}, 1e-4),
    ("lissa", {"batch_size": 10_000}, 1e-3),  # full-batch; scale and depth from the spectrum below
]


@pytest.mark.parametrize(("solver", "options", "tolerance"), SOLVER_CASES)
@pytest.mark.parametrize("problem", ["logreg", "mlp"])
def test_solvers_match_the_explicit_damped_inverse(
    request, problem: str, solver: str, options: dict, tolerance: float
) -> None:
    model, data = request.getfixturevalue(problem)
    curvature = GaussNewton(model, cross_entropy, data, WD)
    damping = 0.1 if solver == "lissa" else 0.01  # LiSSA needs ~log(tol)/log(1 − λ_min/scale) steps
    matrix = curvature.dense() + damping * torch.eye(curvature.n_params, dtype=torch.float64)
    if solver == "arnoldi":  # rank = P: the low-rank inverse is exact
        options = {"rank": curvature.n_params, "iterations": curvature.n_params}
    if solver == "lissa":  # converges when scale > λ_max; error ≤ (1 − λ_min/scale)^depth, here ≤ 1e-4
        values = torch.linalg.eigvalsh(matrix)
        scale = 1.1 * float(values.max())
        depth = int(torch.log(torch.tensor(1e-4)) / torch.log1p(torch.tensor(-float(values.min()) / scale))) + 1
        options = {**options, "scale": scale, "depth": depth}
    v = torch.randn(curvature.n_params, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = torch.linalg.solve(matrix, v)
    got = ihvp(curvature, v, damping, solver, **options)
    assert float((got - exact).norm() / exact.norm()) <= tolerance
    single = ihvp(curvature, v[:, 0], damping, solver, **options)
    assert single.shape == (curvature.n_params,)


def test_arnoldi_remainder_is_exact_for_a_low_rank_curvature(logreg) -> None:
    model, data = logreg
    curvature = EmpiricalFisher(model, cross_entropy, data[:5], 0.0)  # rank 5: the rest of the spectrum is 0
    damping = 0.01
    v = torch.randn(curvature.n_params, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    exact = torch.linalg.solve(curvature.dense() + damping * torch.eye(curvature.n_params, dtype=torch.float64), v)
    kept = ihvp(curvature, v, damping, "arnoldi", rank=5, iterations=10)
    dropped = ihvp(curvature, v, damping, "arnoldi", rank=5, iterations=10, remainder="drop")
    assert float((kept - exact).norm() / exact.norm()) < 1e-6
    assert float((dropped - exact).norm() / exact.norm()) > 0.5  # Schioppa et al.'s truncation loses the rest


def test_stochastic_lissa_is_close_and_divergence_is_an_error(logreg) -> None:
    model, data = logreg
    curvature = GaussNewton(model, cross_entropy, data, WD)
    v = torch.randn(curvature.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    exact = torch.linalg.solve(curvature.dense() + 0.1 * torch.eye(curvature.n_params, dtype=torch.float64), v)
    noisy = ihvp(curvature, v, 0.1, "lissa", depth=400, scale=8.0, batch_size=64, repeats=3)
    assert float((noisy - exact).norm() / exact.norm()) < 0.2
    with pytest.raises(RemedyError, match="lissa: diverged at step"):
        ihvp(curvature, v, 0.1, "lissa", depth=2000, scale=0.01)


BUILDS = [
    lambda: LogisticRegression(6, 3),
    lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 3, bias=False)),
    lambda: torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.Tanh()),  # not logits: from the products
]


@pytest.mark.parametrize("build", BUILDS)
def test_dense_ggn_of_softmax_regression_equals_the_products(build) -> None:
    torch.manual_seed(4)
    model = build().double()
    data = Examples(torch.randn(300, 6, dtype=torch.float64), torch.randint(0, 3, (300,)))
    curvature = GaussNewton(model, cross_entropy, data, 0.05)
    columns = torch.eye(curvature.n_params, dtype=torch.float64)
    layer = _logit_layer(model, curvature.f.names)
    closed_form = layer is not None and _is_logits(model, layer, data)
    assert closed_form == (build is not BUILDS[2])  # the premise: which path dense() takes
    assert torch.allclose(curvature.dense(), curvature.matvec(columns), atol=1e-10)


def test_direct_factorises_an_indefinite_curvature_by_eigendecomposition(mlp) -> None:
    model, data = mlp
    curvature = Hessian(model, cross_entropy, data, 0.0)
    matrix = curvature.dense()
    assert float(torch.linalg.eigvalsh(matrix).min()) < -0.01  # the premise: Cholesky of H + 0.01 I fails
    inverse = InverseSettings("hessian", "direct", damping=0.01).build(curvature)
    v = torch.randn(curvature.n_params, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    exact = torch.linalg.solve(matrix + 0.01 * torch.eye(curvature.n_params, dtype=torch.float64), v)
    assert inverse.factor[0] == "eigh"
    assert float(((inverse @ v) - exact).norm() / exact.norm()) < 1e-6
    psd = InverseSettings("ggn", "direct", damping=0.01).build(GaussNewton(model, cross_entropy, data, 0.0))
    assert psd.factor[0] == "cholesky"


def test_cg_rejects_an_indefinite_curvature(mlp) -> None:
    model, data = mlp
    curvature = Hessian(model, cross_entropy, data, 0.0)
    values, vectors = torch.linalg.eigh(curvature.dense())
    assert float(values.min()) < 0  # the premise: this MLP's Hessian has a negative direction
    v = vectors[:, 0]
    with pytest.raises(RemedyError, match="not positive definite"):
        ihvp(curvature, v, 0.0, "cg")
