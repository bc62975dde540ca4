"""The metric contract: a criterion ``M(θ)`` of the model on a dataset, smooth for gradients, exact for reports.

Convention: every metric is *lower is better* (loss, calibration error, a fairness gap, error), so a
training example with ``ψ(z) < 0`` — removing it lowers ``M`` — is harmful to ``M``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import jacrev, vjp, vmap

from remedy.curvature.functional import FunctionalModel
from remedy.curvature.grads import BATCH_ROWS
from remedy.errors import check
from remedy.examples import Examples, as_examples
from remedy.inputs import logits

Where = Tensor | Callable[[Tensor, Tensor], Tensor] | None
"""A slice of a dataset: a boolean mask, a predicate ``(x, y) -> mask``, or ``None`` for all of it."""


def select(data: Examples, where: Where, name: str = "where") -> Examples:
    """The examples of ``data`` in the slice ``where`` (validated: a mask of the right length, not empty)."""
    if where is None:
        return data
    mask = where(data.x, data.y) if callable(where) else torch.as_tensor(where)
    check(
        mask.dtype == torch.bool and mask.shape == (len(data),),
        name,
        f"a boolean mask of length {len(data)} (or a predicate returning one), got {mask.dtype} {tuple(mask.shape)}",
    )
    check(bool(mask.any()), name, "a slice with at least one example, got none")
    return data[mask.to(data.y.device)]


class Metric(ABC):
    """A criterion ``M(θ)``, ``[m]`` values (``m = 1`` for a scalar one), lower is better."""

    name = "metric"

    @abstractmethod
    def value(self, model: nn.Module) -> Tensor:
        """The smooth ``M`` at ``model``'s parameters (no gradient), ``[m]``."""

    @abstractmethod
    def measure(self, model: nn.Module) -> Tensor:
        """The exact ``M`` (binned ECE, accuracy, ...) at ``model``'s parameters, ``[m]``."""

    @abstractmethod
    def jacobian(self, model: nn.Module) -> Tensor:
        """``∂M/∂θ`` of the smooth ``M``, ``[m, P]`` over the trainable parameters in
        :func:`~remedy.curvature.trainable` order."""


class DataMetric(Metric):
    """``M(θ) = smooth(f(θ, x), y)`` on ``data`` (or the slice ``where`` of it).

    Subclasses give ``smooth`` (differentiable in the logits, used for ``∇M``) and may give ``exact`` (the
    non-smooth quantity a person reports); by default the two coincide.
    """

    def __init__(self, data: Examples | tuple[Tensor, Tensor], where: Where = None) -> None:
        self.data = select(as_examples(data, f"{self.name} data"), where)

    @abstractmethod
    def smooth(self, logits: Tensor, y: Tensor) -> Tensor:
        """The differentiable criterion from the logits of ``data``."""

    def exact(self, logits: Tensor, y: Tensor) -> Tensor:
        """The reported criterion from the logits of ``data``."""
        return self.smooth(logits, y)

    def _eval(self, model: nn.Module, fn: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
        device = next(model.parameters()).device
        with torch.no_grad():
            return fn(logits(model, self.data.to(device).x), self.data.y.to(device)).reshape(-1)

    def value(self, model: nn.Module) -> Tensor:
        return self._eval(model, self.smooth)

    def measure(self, model: nn.Module) -> Tensor:
        return self._eval(model, self.exact)

    def jacobian(self, model: nn.Module, rows: int = BATCH_ROWS) -> Tensor:
        """``∂M/∂θ = Σ_chunks (∂M/∂Z_chunk) ∂Z_chunk/∂θ`` by the chain rule through the logits Z: the logits and
        ``∂M/∂Z [m, n, C]`` first (no model in the graph), then one vector-Jacobian product of the model per chunk of
        ``rows`` examples for the rows of M that chunk touches, so that memory holds one chunk's activations, never
        the whole set's."""
        f = FunctionalModel(model)
        data = self.data.to(f.theta.device)
        with torch.no_grad():
            z = torch.cat([f(f.theta, part.x) for part in data.batches(rows)])
        outer = jacrev(lambda z: self.smooth(z, data.y).reshape(-1))(z)  # [m, n, C]
        out = torch.zeros(outer.shape[0], f.theta.numel(), dtype=f.theta.dtype, device=f.theta.device)
        for start in range(0, len(data), rows):
            part, cotangents = data[start : start + rows], outer[:, start : start + rows]
            touched = torch.nonzero(cotangents.flatten(1).abs().sum(1)).flatten()
            if len(touched) == 0:
                continue
            _, pull = vjp(lambda theta, x=part.x: f(theta, x), f.theta)
            for first in range(0, len(touched), rows):
                index = touched[first : first + rows]
                out[index] += vmap(lambda u, pull=pull: pull(u)[0])(cotangents[index])
        return out.detach()


class Stack(Metric):
    """Several metrics as one vector-valued ``M`` (their values concatenated)."""

    name = "stack"

    def __init__(self, metrics: list[Metric]) -> None:
        check(len(metrics) > 0, "metrics", "at least one metric")
        self.metrics = metrics

    def value(self, model: nn.Module) -> Tensor:
        return torch.cat([m.value(model) for m in self.metrics])

    def measure(self, model: nn.Module) -> Tensor:
        return torch.cat([m.measure(model) for m in self.metrics])

    def jacobian(self, model: nn.Module) -> Tensor:
        return torch.cat([m.jacobian(model) for m in self.metrics])


class Custom(DataMetric):
    """The user's own criterion: ``fn(logits, y) -> scalar or [m]`` (and optionally an exact counterpart)."""

    def __init__(
        self,
        fn: Callable[[Tensor, Tensor], Tensor],
        data: Examples | tuple[Tensor, Tensor],
        where: Where = None,
        exact: Callable[[Tensor, Tensor], Tensor] | None = None,
        name: str = "custom",
    ) -> None:
        check(callable(fn), "fn", "a callable (logits, y) -> tensor")
        self.name = name
        super().__init__(data, where)
        self.fn, self.exact_fn = fn, exact

    def smooth(self, logits: Tensor, y: Tensor) -> Tensor:
        return self.fn(logits, y)

    def exact(self, logits: Tensor, y: Tensor) -> Tensor:
        return (self.exact_fn or self.fn)(logits, y)
