"""TracInCP (Pruthi et al. 2020) over the checkpoints of the training run, and its unit-gradient form GAS
(Hammoudeh & Lowd 2022): how much each training example's gradient steps lowered each failure's loss."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from remedy.chunks import over_chunks
from remedy.curvature import gradient_products, per_example_grads
from remedy.data.split import QueryHalf
from remedy.examples import Data, Examples
from remedy.identify.attribution import attribute
from remedy.identify.registry import SCORERS
from remedy.posterior import Posterior


class TracInPairs:
    """``h(z, q) = −Σ_k η ⟨∇L(z; θ_k), ∇L(q; θ_k)⟩`` over the checkpoints θ_k (θ̂ alone when the posterior holds
    none). Training on z moves θ by −η∇L(z), which changes L(q) by −η⟨∇L(z), ∇L(q)⟩ to first order; a positive
    h(z, q) means the steps on z *raised* q's loss. ``unit`` uses ``∇L(z)/‖∇L(z)‖`` at each checkpoint, ``cosine``
    unit gradients on both sides (GAS)."""

    normalizations = ("none", "unit", "cosine")

    def __init__(self, posterior: Posterior) -> None:
        self.posterior = posterior
        states = posterior.record.checkpoints or [posterior.model.state_dict()]
        self.models: list[nn.Module] = [posterior.model_from(state) for state in states]
        self.lr = posterior.record.config.lr

    def own(self) -> Tensor:
        """``−Σ_k η ‖∇L(z; θ_k)‖²``: TracIn's self-influence (Pruthi et al. §3's mislabel detection), negated."""
        posterior = self.posterior
        chunk_bytes = posterior.passes.chunking.chunk_bytes

        def squared_norms(chunk: Data, model: nn.Module) -> Tensor:
            return torch.cat(
                [g.double().square().sum(1) for _, g in per_example_grads(model, posterior.loss, chunk, chunk_bytes)]
            )

        per_model = [
            torch.cat(
                over_chunks(posterior.train, posterior.passes.rows, lambda c, m=m: squared_norms(c, m), "tracin self")
            )
            for m in self.models
        ]
        return -self.lr * torch.stack(per_model).sum(0).cpu()

    def harm(self, queries: Examples, normalize: str, weights: Tensor | None = None) -> Tensor:
        posterior, total = self.posterior, None
        queries = posterior.examples(queries, "queries")
        for model in self.models:
            grads = torch.cat(
                [g for _, g in per_example_grads(model, posterior.loss, queries, posterior.passes.chunking.chunk_bytes)]
            )
            if normalize == "cosine":
                grads = grads / grads.norm(dim=1, keepdim=True).clamp_min(1e-30)
            directions = grads.T if weights is None else grads.T @ weights.to(grads)

            def products(chunk: Data, model: nn.Module = model, directions: Tensor = directions) -> Tensor:
                return gradient_products(
                    model, posterior.loss, chunk, directions, posterior.passes.chunking.chunk_bytes, normalize != "none"
                )

            values = -self.lr * torch.cat(over_chunks(posterior.train, posterior.passes.rows, products, "tracin"))
            total = values.double().cpu() if total is None else total + values.double().cpu()
        assert total is not None
        return total


@SCORERS.register("tracin")
def tracin(posterior: Posterior, query: QueryHalf, *, normalize: str = "none", aggregate: str = "sum") -> Tensor:
    """``r(z) = Σ_q h(z, q)`` with TracIn's ``h`` over the posterior's checkpoints (the training record's,
    kept by ``train_model``), larger = more harmful; ``normalize="cosine"`` is GAS. Normalised and aggregated
    per failure as :mod:`remedy.identify.attribution` describes. Each checkpoint costs one forward-mode pass over
    D for the plain sum, one per-example-gradient pass otherwise."""
    return attribute(TracInPairs(posterior), query.failures, normalize, aggregate)
