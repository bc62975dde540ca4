"""TRAK (Park et al. 2023): attribution by randomly projected gradients of the model's output, with the kernel of
the projected features inverted, ensembled over models."""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import Tensor, nn

from remedy.chunks import over_chunks
from remedy.curvature import per_example_grads
from remedy.data.split import QueryHalf
from remedy.errors import check
from remedy.examples import Data, Examples
from remedy.identify.registry import SCORERS
from remedy.inputs import logits
from remedy.models.train import train_model
from remedy.posterior import Posterior
from remedy.seeds import derive, stream

PROJECTIONS = ("rademacher", "gaussian", "identity")
BLOCK = 4096
"""Parameters per block of the projection matrix, generated from its own seeded stream when it is needed."""


def margin(logits: Tensor, y: Tensor) -> Tensor:
    """TRAK's model output for classification, ``f(z) = log p_y − log(1 − p_y)``, per example."""
    logp = torch.log_softmax(logits, -1)
    own = logp.gather(1, y[:, None])[:, 0]
    own_class = torch.arange(logits.shape[-1], device=logits.device) == y[:, None]
    others = logp.masked_fill(own_class, float("-inf"))
    return own - torch.logsumexp(others, -1)


def _negative_margin(logits: Tensor, y: Tensor) -> Tensor:
    return -margin(logits, y)


def projected(model: nn.Module, data: Data, dim: int, kind: str, seed: int, chunk_bytes: int, rows: int) -> Tensor:
    """``Φ [n, k]`` (float64): each example's gradient of the margin, ``∇_θ f(z)``, times the random projection
    ``P [p, k]`` (``±1/√k`` entries for ``rademacher``, ``N(0, 1/k)`` for ``gaussian``; the identity keeps all p
    coordinates). Gradients are computed in chunks of ``rows`` examples and projected in the model's precision
    (float32 products over at most :data:`BLOCK` terms, summed block by block); ``P`` is generated block by block
    from ``stream(seed, …)``, never held whole."""

    def features(chunk: Data) -> Tensor:
        grads = -torch.cat([g for _, g in per_example_grads(model, _negative_margin, chunk, chunk_bytes)])
        if kind == "identity":
            return grads.double()
        out = torch.zeros(len(grads), dim, dtype=grads.dtype, device=grads.device)
        for start in range(0, grads.shape[1], BLOCK):
            width = min(BLOCK, grads.shape[1] - start)
            gen = stream(seed, f"trak-projection-{start}")
            if kind == "rademacher":
                block = torch.randint(0, 2, (width, dim), generator=gen, dtype=torch.int8).to(grads.dtype) * 2 - 1
            else:
                block = torch.randn(width, dim, generator=gen, dtype=grads.dtype)
            out += grads[:, start : start + width] @ block.to(grads.device)
        return out.double() / math.sqrt(dim)

    return torch.cat(over_chunks(data, rows, features, "trak")).cpu()


@torch.no_grad()
def correct_probability(model: nn.Module, data: Data, batch_size: int = 1024) -> Tensor:
    """``p_y`` for every example: the probability the model gives its label."""
    device = next(model.parameters()).device
    parts = [
        torch.softmax(logits(model, b.to(device).x).double(), -1).gather(1, b.y.to(device)[:, None])[:, 0].cpu()
        for b in data.batches(batch_size)
    ]
    return torch.cat(parts)


def train_features(
    posterior: Posterior, model: nn.Module, dim: int, kind: str, damping: float, seed: int
) -> tuple[Tensor, Tensor]:
    """One model's training features ``Φ [N, k]`` and its damped kernel ``ΦᵀΦ + λI``,
    ``λ = damping · mean(diag ΦᵀΦ)``."""
    phi = projected(
        model, posterior.train, dim, kind, seed, posterior.passes.chunking.chunk_bytes, posterior.passes.rows
    )
    kernel = phi.T @ phi
    kernel += damping * kernel.diagonal().mean() * torch.eye(kernel.shape[0], dtype=kernel.dtype)
    return phi, kernel


def attribution(
    posterior: Posterior,
    model: nn.Module,
    targets: Examples | None,
    dim: int,
    kind: str,
    damping: float,
    seed: int,
    summed: bool = False,
) -> tuple[Tensor, Tensor]:
    """One model's kernel term ``φ_iᵀ (ΦᵀΦ + λI)⁻¹ φ(x_q)`` for every training example i and target x_q, ``[N, Q]``
    (``summed``: its sum over the targets, ``φ_iᵀ (ΦᵀΦ + λI)⁻¹ Σ_q φ(x_q)``, ``[N]``, without the ``[N, Q]`` matrix;
    ``targets=None``: each training example's own term, ``[N]``), and its residual weights ``1 − p_i``. ``seed`` draws
    this model's projection."""
    phi, kernel = train_features(posterior, model, dim, kind, damping, seed)
    if targets is None:
        term = (phi * torch.linalg.solve(kernel, phi.T).T).sum(1)
    else:
        chunking = posterior.passes.chunking
        target = projected(model, targets, dim, kind, seed, chunking.chunk_bytes, posterior.passes.rows)
        if summed:
            term = phi @ torch.linalg.solve(kernel, target.sum(0))
        else:
            term = phi @ torch.linalg.solve(kernel, target.T)
    return term, 1.0 - correct_probability(model, posterior.train)


def projection_seed(seed: int, member: int) -> int:
    """The seed of ensemble member ``member``'s projection: θ̂ (member 0) keeps ``seed``, every other member draws its
    own, so that averaging over the ensemble also averages the projection's error out (Park et al. §3.2)."""
    return seed if member == 0 else derive(seed, f"trak-projection-member-{member}") % 2**31


def trak_matrix(
    posterior: Posterior,
    targets: Examples | None,
    dim: int = 1024,
    projection: str = "rademacher",
    models: int = 1,
    use: str = "retrain",
    damping: float = 1e-3,
    seed: int = 0,
    summed: bool = False,
) -> Tensor:
    """``[N, Q]`` harms ``−τ(x_q)_i`` (larger = z_i lowers x_q's margin more): TRAK's attribution of every target,
    the kernel term averaged over the ensemble times the averaged residual weights (Park et al. eq. 17); each member
    projects with its own random matrix. ``summed``: the sum over the targets, ``[N]``, accumulated member by member
    (no ``[N, Q]`` matrix is kept). ``targets=None`` gives the self-attributions ``−τ(z_i)_i``, ``[N]`` (mislabel
    detection ranks by ``τ(z_i)_i``)."""
    check(projection in PROJECTIONS, "projection", f"one of {', '.join(PROJECTIONS)}, got {projection!r}")
    check(dim >= 1, "dim", f"a positive dimension, got {dim}")
    check(damping >= 0, "damping", f"a non-negative relative damping, got {damping}")
    if targets is not None:
        targets = posterior.examples(targets, "targets")
    kernel_term: Tensor | None = None
    residual: Tensor | None = None
    members = ensemble(posterior, models, use, seed)
    for m, member in enumerate(members):
        term, weights = attribution(
            posterior, member, targets, dim, projection, damping, projection_seed(seed, m), summed
        )
        kernel_term = term if kernel_term is None else kernel_term + term
        residual = weights if residual is None else residual + weights
    assert kernel_term is not None and residual is not None
    kernel_term, residual = kernel_term / len(members), residual / len(members)
    return -kernel_term * (residual if kernel_term.ndim == 1 else residual[:, None])


def ensemble(posterior: Posterior, models: int, use: str, seed: int) -> list[nn.Module]:
    """θ̂ and ``models − 1`` more: retrained from fresh initialisations with the training record's recipe
    (``use="retrain"``, without recording their steps; trained once per posterior), or the record's checkpoints
    (``use="checkpoints"``, the last ``models`` of them)."""
    check(models >= 1, "models", f"at least one model, got {models}")
    check(use in ("retrain", "checkpoints"), "use", f"'retrain' or 'checkpoints', got {use!r}")
    if use == "checkpoints":
        states = list(posterior.record.checkpoints)[-models:]
        check(bool(states), "use", "checkpoints in the training record (train with TrainConfig(checkpoints=K))")
        return [posterior.model_from(state) for state in states]
    config = replace(posterior.record.config, record=False)

    def member(m: int) -> nn.Module:
        member_seed = derive(seed, f"trak-model-{m}") % 2**31
        model = posterior.fresh_model(member_seed)
        trained = train_model(model, posterior.train, posterior.loss, config, member_seed, "trak model")[0]
        return posterior.restrict(trained)  # gradients of the same parameters as θ̂'s

    return [
        posterior.model,
        *(posterior.memo(("trak-model", seed, m), lambda m=m: member(m)) for m in range(1, models)),
    ]


@SCORERS.register("trak")
def trak(
    posterior: Posterior,
    query: QueryHalf,
    *,
    target: str = "guard",
    dim: int = 1024,
    projection: str = "rademacher",
    models: int = 1,
    use: str = "retrain",
    damping: float = 1e-3,
    seed: int = 0,
) -> Tensor:
    """``r(z_i) = −Σ_x τ(x)_i``, larger = more harmful, with TRAK's attribution ``τ(x)_i = φ(x)ᵀ (ΦᵀΦ + λI)⁻¹ φ_i ·
    (1 − p_i)`` of the target examples' margins ``f(x) = log p_y(x) − log(1 − p_y(x))`` (Park et al. eq. 13–17):
    ``φ = Pᵀ ∇_θ f`` with a random projection to ``dim`` dimensions, ``Φ`` the training examples' features, ``p_i``
    the probability θ̂ gives example i's label. A positive τ means z_i raises x's margin (helps it), so the harm is
    its negative. With ``models = M``, the kernel term is averaged over M models (θ̂ and M − 1 retrained ones, or
    the record's checkpoints) and multiplied by the averaged residual weights, as the paper's ensemble.
    ``target``: the query half whole (``guard``, as PUMA's default) or its failures (``failures``). Cost per model:
    one per-example-gradient pass over D and a ``dim × dim`` solve (plus its training when retrained)."""
    check(target in ("failures", "guard"), "target", f"'failures' or 'guard', got {target!r}")
    targets = query.failures if target == "failures" else query.guard
    return trak_matrix(posterior, targets, dim, projection, models, use, damping, seed, summed=True)
