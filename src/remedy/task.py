"""The user contract: labelled examples, the per-example loss, and input validation.

remedy works with a classifier ``model(x) -> logits`` and a per-example negative
log-likelihood ``loss(logits, y) -> [B]`` (cross-entropy by default), so that
``log p(z | θ) = -loss(model(x), y)`` for every example ``z = (x, y)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn
from torch.utils.data import Dataset

from remedy.errors import RemedyError, check

LossFn = Callable[[Tensor, Tensor], Tensor]
"""Per-example negative log-likelihood: ``loss(logits [B, C], y [B]) -> [B]``."""


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Per-example softmax cross-entropy, ``-log p(y | x, θ)``."""
    return nnf.cross_entropy(logits, y, reduction="none")


@dataclass(frozen=True)
class Examples:
    """A labelled set ``{(x_i, y_i)}`` held as two aligned tensors."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __getitem__(self, index: Tensor | slice) -> Examples:
        return Examples(self.x[index], self.y[index])

    def to(self, device: torch.device | str) -> Examples:
        return Examples(self.x.to(device), self.y.to(device))


ExamplesLike = Examples | tuple[Tensor, Tensor] | Sequence[Tensor] | Dataset


def as_examples(data: ExamplesLike, name: str, num_classes: int | None = None, allow_empty: bool = False) -> Examples:
    """Convert tensors ``(x, y)`` or a map-style ``Dataset`` of ``(x, y)`` pairs to validated :class:`Examples`.

    Raises :class:`RemedyError` naming ``name`` for mismatched lengths, NaN/Inf inputs,
    non-integer labels, labels outside ``[0, num_classes)`` and (unless allowed) empty sets.
    """
    if isinstance(data, Examples):
        x, y = data.x, data.y
    elif isinstance(data, (tuple, list)):
        check(len(data) == 2, name, "a pair (x, y) of tensors")
        x, y = torch.as_tensor(data[0]), torch.as_tensor(data[1])
    elif isinstance(data, Dataset):
        try:
            pairs = [data[i] for i in range(len(data))]  # type: ignore[arg-type]
        except TypeError as err:
            raise RemedyError(f"{name}: expected a map-style Dataset with len() of (x, y) pairs") from err
        check(len(pairs) > 0, name, "at least one example, got an empty Dataset")
        x = torch.stack([torch.as_tensor(p[0]) for p in pairs])
        y = torch.as_tensor([int(p[1]) for p in pairs])
    else:
        raise RemedyError(f"{name}: expected a pair (x, y) of tensors or a Dataset, got {type(data).__name__}")
    check(x.shape[0] == y.shape[0], name, f"x and y of the same length, got {x.shape[0]} and {y.shape[0]}")
    check(y.ndim == 1, name, f"labels y of shape [N], got {tuple(y.shape)}")
    check(allow_empty or len(y) > 0, name, "at least one example, got an empty set")
    check(not y.is_floating_point() and not y.is_complex(), name, f"integer class labels, got dtype {y.dtype}")
    if x.is_floating_point():
        check(bool(torch.isfinite(x).all()), name, "finite inputs, found NaN or Inf in x")
    else:
        x = x.float()
    y = y.long()
    if num_classes is not None and len(y) > 0:
        lo, hi = int(y.min()), int(y.max())
        check(lo >= 0 and hi < num_classes, name, f"labels in [0, {num_classes - 1}], found {lo}..{hi}")
    return Examples(x, y)


def check_eval_model(model: nn.Module, name: str = "model") -> None:
    """Reject models in train mode: scores and repairs are defined at a fixed θ̂ with deterministic outputs."""
    check(isinstance(model, nn.Module), name, f"a torch.nn.Module, got {type(model).__name__}")
    check(not model.training, name, "a model in eval mode (call model.eval() first)")
    check(any(p.requires_grad for p in model.parameters()), name, "a model with trainable parameters")
