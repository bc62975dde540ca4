"""TRAK against its formula with dense matrices on a small logistic regression, and its projections."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.evaluate import detection_curve
from remedy.identify.trak import margin, trak_matrix


def gradients(model: torch.nn.Module, data: remedy.Examples) -> torch.Tensor:
    rows = []
    for x, y in zip(data.x, data.y, strict=True):
        value = margin(model(x[None]), y[None]).sum()
        rows.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(value, list(model.parameters()))]))
    return torch.stack(rows).double()


def test_trak_with_the_identity_projection_is_the_papers_formula(problem: dict) -> None:
    posterior, split = problem["posterior"], problem["split"]
    scores = remedy.identify(posterior, split.query, "trak", projection="identity", damping=0.01, target="failures")
    phi, targets = gradients(posterior.model, posterior.train), gradients(posterior.model, split.query.failures)
    kernel = phi.T @ phi
    kernel += 0.01 * kernel.diagonal().mean() * torch.eye(len(kernel), dtype=kernel.dtype)
    with torch.no_grad():
        p = torch.softmax(posterior.model(posterior.train.x).double(), -1).gather(1, posterior.train.y[:, None])[:, 0]
    tau = (targets @ torch.linalg.solve(kernel, phi.T)) * (1 - p)  # [x, i]
    torch.testing.assert_close(scores.values, -tau.sum(0), rtol=1e-6, atol=1e-9)


def test_projected_trak_finds_the_planted_flips_and_agrees_with_the_identity(problem: dict) -> None:
    posterior, split = problem["posterior"], problem["split"]
    exact = remedy.identify(posterior, split.query, "trak", projection="identity").values
    for kind in ("rademacher", "gaussian"):
        projected = remedy.identify(posterior, split.query, "trak", projection=kind, dim=64).values
        assert torch.corrcoef(torch.stack([exact, projected]))[0, 1] > 0.9
    assert detection_curve(exact, problem["mask"]).auc > 0.8


def test_trak_ensembles_over_models(problem: dict) -> None:
    posterior, split = problem["posterior"], problem["split"]
    one = remedy.identify(posterior, split.query, "trak", projection="identity").values
    three = remedy.identify(posterior, split.query, "trak", projection="identity", models=3).values
    assert not torch.equal(one, three) and torch.corrcoef(torch.stack([one, three]))[0, 1] > 0.5
    with pytest.raises(remedy.RemedyError, match=r"^use: expected checkpoints"):
        remedy.identify(posterior, split.query, "trak", use="checkpoints", models=2)


def test_trak_self_attribution_is_the_diagonal(problem: dict) -> None:
    posterior = problem["posterior"]
    own = trak_matrix(posterior, None, dim=64, models=2)
    torch.testing.assert_close(own, trak_matrix(posterior, posterior.train, dim=64, models=2).diagonal())
    assert detection_curve(-own, problem["mask"]).auc > 0.8  # the flipped labels attribute most to themselves


def test_each_ensemble_member_projects_with_its_own_matrix_and_the_sum_needs_no_matrix(problem: dict) -> None:
    from remedy.identify.trak import attribution, ensemble, projection_seed

    posterior, split = problem["posterior"], problem["split"]
    targets = posterior.examples(split.query.failures, "targets")
    assert projection_seed(0, 0) == 0 and len({projection_seed(0, m) for m in range(4)}) == 4
    members = ensemble(posterior, 2, "retrain", 0)
    found = [
        attribution(posterior, m, targets, 8, "rademacher", 1e-3, projection_seed(0, k)) for k, m in enumerate(members)
    ]
    terms, weights = [t for t, _ in found], [w for _, w in found]
    expected = -(terms[0] + terms[1]) / 2 * ((weights[0] + weights[1]) / 2)[:, None]
    both = trak_matrix(posterior, targets, dim=8, models=2)
    torch.testing.assert_close(both, expected)
    shared = [attribution(posterior, m, targets, 8, "rademacher", 1e-3, 0)[0] for m in members]
    assert not torch.allclose(both, -(shared[0] + shared[1]) / 2 * ((weights[0] + weights[1]) / 2)[:, None])
    torch.testing.assert_close(trak_matrix(posterior, targets, dim=8, models=2, summed=True), both.sum(1))


@pytest.mark.parametrize("kind", ["rademacher", "gaussian"])
def test_the_projection_keeps_inner_products_across_blocks_and_chunks(kind: str) -> None:
    """A model with more parameters than the projection's dimension and than one block of the projection matrix
    (two blocks, the second partial), gradients in several chunks: ΦΦᵀ estimates GGᵀ (Johnson–Lindenstrauss); a block
    reused or skipped, or chunks misaligned, would not."""
    from remedy.identify.trak import BLOCK, projected

    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = remedy.models.MLP(20, 10, hidden=(256,))
    n_params = sum(p.numel() for p in model.parameters())
    assert BLOCK < n_params < 2 * BLOCK
    data = remedy.Examples(torch.randn(24, 20, generator=gen), torch.randint(0, 10, (24,), generator=gen))
    exact = gradients(model, data)
    phis = [projected(model, data, 2048, kind, seed=s, chunk_bytes=2**20, rows=7) for s in range(6)]
    assert phis[0].shape == (24, 2048) and not torch.allclose(phis[0], phis[1])  # the seed draws the matrix
    truth = exact @ exact.T
    ratio = torch.stack([(phi * phi).sum(1) for phi in phis]) / truth.diagonal()
    assert float((ratio - 1).abs().max()) < 0.15  # each squared norm within a few sds of sqrt(2/k) = 3 %
    gram = torch.stack([phi @ phi.T for phi in phis]).mean(0)
    assert float((gram - truth).norm() / truth.norm()) < 0.06  # one projection's error is about 0.09
