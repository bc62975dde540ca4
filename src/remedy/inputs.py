"""What a batch's inputs may be, and how a model is called on them: one tensor ``x [B, …]``, a dict of tensors
(``{"input_ids": …, "attention_mask": …}``, passed as keyword arguments) or a tuple of tensors (passed as positional
arguments), every tensor with the batch as its first dimension. A model may return logits ``[B, C]``, an object with
a ``.logits`` attribute (HuggingFace's ``ModelOutput``) or a dict with a ``"logits"`` entry. Every pass of remedy
(gradients, forward-mode products, curvature, evaluation, treatments) calls the model through :func:`logits`.

A dataset item is ``(x, y)``, ``(x_1, …, x_k, y)`` or a dict whose ``"labels"`` (or ``"label"``) entry is the label
and whose other entries are the inputs (a HuggingFace ``datasets.Dataset`` with torch format): :func:`split_item`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

Inputs = Tensor | Mapping[str, Tensor] | tuple[Tensor, ...]
"""A batch's inputs: a tensor, a dict of tensors or a tuple of tensors, batch first."""

LABEL_KEYS = ("labels", "label")
"""The entries of a dict item that hold its label (the first found)."""


def apply(x: Inputs, fn: Callable[[Tensor], Tensor]) -> Inputs:
    """``fn`` applied to every tensor of ``x``, keeping its structure."""
    if isinstance(x, Mapping):
        return {k: fn(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return tuple(fn(v) for v in x)
    return fn(x)


def leaves(x: Inputs) -> list[Tensor]:
    """The tensors of ``x``."""
    if isinstance(x, Mapping):
        return list(x.values())
    if isinstance(x, (tuple, list)):
        return list(x)
    return [x]


def rows(x: Inputs) -> int:
    """The batch size: the first dimension of ``x``'s tensors."""
    return int(leaves(x)[0].shape[0])


def cat(parts: Sequence[Inputs]) -> Inputs:
    """Batches of inputs concatenated along the batch dimension."""
    first = parts[0]
    if isinstance(first, Mapping):
        return {k: torch.cat([p[k] for p in parts]) for k in first}  # type: ignore[index]
    if isinstance(first, (tuple, list)):
        return tuple(torch.cat([p[i] for p in parts]) for i in range(len(first)))  # type: ignore[index]
    return torch.cat(parts)  # type: ignore[arg-type]


def stack(items: Sequence[Any]) -> Inputs:
    """Single examples' inputs stacked into a batch (what a collate function does)."""
    first = items[0]
    if isinstance(first, Mapping):
        return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in first}
    if isinstance(first, (tuple, list)):
        return tuple(torch.stack([torch.as_tensor(it[i]) for it in items]) for i in range(len(first)))
    return torch.stack([torch.as_tensor(it) for it in items])


def split_item(item: Any) -> tuple[Any, Any]:
    """A dataset item → ``(inputs, label)``: ``(x, y)``, ``(x_1, …, x_k, y)``, or a dict with a label entry."""
    if isinstance(item, Mapping):
        key = next((k for k in LABEL_KEYS if k in item), None)
        if key is None:
            raise KeyError(f"a dict item needs a label entry ({' or '.join(LABEL_KEYS)}), found {sorted(item)}")
        return {k: v for k, v in item.items() if k != key}, item[key]
    if len(item) == 2:
        return item[0], item[1]
    return tuple(item[:-1]), item[-1]


def output_logits(out: Any) -> Tensor:
    """The logits in what a model returned: a tensor, ``out.logits`` or ``out["logits"]``."""
    if isinstance(out, Tensor):
        return out
    if isinstance(out, Mapping) and "logits" in out:
        return out["logits"]
    found = getattr(out, "logits", None)
    if isinstance(found, Tensor):
        return found
    raise TypeError(f"the model returned {type(out).__name__}; expected logits, or an object with .logits")


Forward = Callable[[nn.Module, Any], Any]
"""A task's own call of its model: ``forward(model, inputs)`` → logits (or ``.logits``, or ``{"logits": …}``)."""

_FORWARD: ContextVar[Forward | None] = ContextVar("remedy_forward", default=None)


@contextmanager
def calling(forward: Forward | None) -> Iterator[None]:
    """Within this block every pass calls the model as ``forward(model, inputs)`` (``Task.forward``; ``None``: the
    structural call of :func:`logits`). The command line enters it for the task's ``forward``."""
    token = _FORWARD.set(forward)
    try:
        yield
    finally:
        _FORWARD.reset(token)


class _Hooked(nn.Module):
    """``model`` called through ``forward``, as a module, so that ``functional_call`` can swap its parameters."""

    def __init__(self, model: nn.Module, forward: Forward) -> None:
        super().__init__()
        self.model, self.call = model, forward

    def forward(self, x: Any) -> Any:
        return self.call(self.model, x)


def logits(model: nn.Module, x: Inputs, state: tuple[dict[str, Tensor], ...] | None = None) -> Tensor:
    """``model``'s logits on the inputs ``x`` (keyword arguments for a dict, positional ones for a tuple, or the
    task's own ``forward`` within :func:`calling`); with ``state`` (parameters and buffers by name), the functional
    call ``torch.func.functional_call(model, state, …)``."""
    hook = _FORWARD.get()
    if hook is not None:
        if state is None:
            return output_logits(hook(model, x))
        renamed = {f"model.{name}": value for part in state for name, value in part.items()}
        return output_logits(functional_call(_Hooked(model, hook), renamed, (x,)))
    args, kwargs = ((), x) if isinstance(x, Mapping) else (tuple(x), {}) if isinstance(x, (tuple, list)) else ((x,), {})
    out = model(*args, **kwargs) if state is None else functional_call(model, state, args, dict(kwargs))
    return output_logits(out)


def per_example(fn: Callable[..., Any], in_dims: tuple[int | None, ...]) -> Callable[..., Any]:
    """``torch.func.vmap(fn, in_dims)``, or, for a model whose forward pass branches on its inputs' values (which
    vmap cannot trace: HuggingFace's attention masks), the same function computed one example at a time."""
    batched = vmap(fn, in_dims=in_dims)
    fallback: list[bool] = []

    def run(*args: Any) -> Any:
        if not fallback:
            try:
                return batched(*args)
            except RuntimeError as err:
                if "vmap" not in str(err):
                    raise
                warnings.warn(
                    "the model's forward pass branches on its inputs' values, which vmap cannot trace: per-example "
                    "quantities are computed one example at a time (slower, same values)",
                    stacklevel=2,
                )
                fallback.append(True)
        n = next(rows(a) for a, d in zip(args, in_dims, strict=True) if d is not None)
        outs = [
            fn(*(a if d is None else apply(a, lambda t, i=i: t[i]) for a, d in zip(args, in_dims, strict=True)))
            for i in range(n)
        ]
        first = outs[0]
        if isinstance(first, Mapping):
            return {k: torch.stack([o[k] for o in outs]) for k in first}
        if isinstance(first, tuple):
            return tuple(torch.stack([o[j] for o in outs]) for j in range(len(first)))
        return torch.stack(outs)

    return run
