"""Labelled data in memory (:class:`Examples`) or streamed from a ``Dataset`` (:class:`Streamed`), and their
validation. Every pass over a training set goes through ``data.batches(size)``; updates draw mini-batches with
``data.take(indices)``; ``data.subset(indices)`` is a view (D ∖ C, a curvature sample, a fold)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from remedy import inputs
from remedy.errors import RemedyError, check
from remedy.inputs import Inputs


@dataclass(frozen=True)
class Examples:
    """A labelled set ``{(x_i, y_i)}`` held in memory: inputs ``x`` (a tensor, or a dict or tuple of tensors:
    :mod:`remedy.inputs`) and labels ``y [N]``, aligned along the first dimension."""

    x: Inputs
    y: Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __getitem__(self, index: Tensor | slice) -> Examples:
        return Examples(inputs.apply(self.x, lambda t: t[index]), self.y[index])

    def to(self, device: torch.device | str) -> Examples:
        return Examples(inputs.apply(self.x, lambda t: t.to(device)), self.y.to(device))

    @property
    def labels(self) -> Tensor:
        """The labels ``[N]``."""
        return self.y

    def batches(self, size: int) -> Iterator[Examples]:
        """Consecutive batches of at most ``size`` examples, in order."""
        for start in range(0, len(self), size):
            yield self[start : start + size]

    def take(self, index: Tensor) -> Examples:
        """The examples at ``index``, as tensors."""
        return self[index.to(self.y.device)]

    def subset(self, index: Tensor) -> Examples:
        """The examples at ``index`` (for tensors, the same as :meth:`take`)."""
        return self.take(index)

    def relabelled(self, labels: Tensor) -> Examples:
        """The same inputs with the labels ``labels``."""
        return Examples(self.x, labels.to(self.y.device))


def _collate(items: Sequence[object]) -> Examples:
    pairs = [inputs.split_item(item) for item in items]
    x = inputs.stack([p[0] for p in pairs])
    if isinstance(x, Tensor) and not x.is_floating_point():
        x = x.float()  # one input tensor is a feature array; dict and tuple inputs keep their dtypes (token ids)
    return Examples(x, torch.as_tensor([int(p[1]) for p in pairs]))


def _finite(x: Inputs) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in inputs.leaves(x) if t.is_floating_point())


@dataclass(frozen=True)
class Streamed:
    """A map-style ``Dataset`` of ``(x, y)`` pairs (or the other items :func:`remedy.inputs.split_item` reads), read
    through a ``DataLoader`` in batches (with ``workers``
    loader processes): the whole set is never one tensor, and no batch of inputs exceeds ``batch_bytes`` (a
    pass that asks for larger batches gets smaller ones). ``index`` selects and orders the examples seen (a
    subset shares the dataset); ``override`` replaces labels (relabelling). Inputs are checked for NaN/Inf batch
    by batch as they are read.
    """

    dataset: Dataset
    index: Tensor
    name: str = "train"
    workers: int = 0
    override: Tensor | None = None
    batch_bytes: int = 32 * 2**20
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def rows(self, size: int) -> int:
        """The batch size used when ``size`` is asked for: at most ``batch_bytes`` of inputs, at least one row."""
        if "example_bytes" not in self._cache:
            x = inputs.split_item(self.dataset[int(self.index[0])])[0]
            sizes = [torch.as_tensor(t).numel() * max(torch.as_tensor(t).element_size(), 4) for t in inputs.leaves(x)]
            self._cache["example_bytes"] = max(1, sum(sizes))
        return max(1, min(size, self.batch_bytes // self._cache["example_bytes"]))

    def __len__(self) -> int:
        return len(self.index)

    def _checked(self, batch: Examples, positions: Tensor) -> Examples:
        check(_finite(batch.x), self.name, "finite inputs, found NaN or Inf in x")
        return batch if self.override is None else Examples(batch.x, self.override[positions])

    def batches(self, size: int) -> Iterator[Examples]:
        size = self.rows(size)
        loader = DataLoader(
            Subset(self.dataset, self.index.tolist()),
            batch_size=size,
            shuffle=False,
            num_workers=self.workers,
            collate_fn=_collate,
        )
        for start, batch in zip(range(0, len(self), size), loader, strict=True):
            yield self._checked(batch, torch.arange(start, start + len(batch)))

    def take(self, index: Tensor) -> Examples:
        index = index.cpu()
        return self._checked(_collate([self.dataset[int(self.index[i])] for i in index]), index)

    def subset(self, index: Tensor) -> Streamed:
        index = index.cpu()
        override = None if self.override is None else self.override[index]
        return replace(self, index=self.index[index], override=override, _cache={})

    def relabelled(self, labels: Tensor) -> Streamed:
        return replace(self, override=labels.cpu(), _cache={})

    @property
    def labels(self) -> Tensor:
        """The labels ``[N]``: the overriding ones, the dataset's ``targets`` attribute, or one pass over it."""
        if self.override is not None:
            return self.override
        if "labels" not in self._cache:
            targets = getattr(self.dataset, "targets", None)
            columns = getattr(self.dataset, "column_names", None) or ()  # a HuggingFace Dataset's label column
            key = next((k for k in inputs.LABEL_KEYS if k in columns), None)
            if targets is None and key is not None:
                targets = self.dataset[key]  # type: ignore[index]
            if targets is not None and len(targets) == len(self.dataset):  # type: ignore[arg-type]
                self._cache["labels"] = torch.as_tensor(targets).long()[self.index]
            else:  # one pass, item by item: no batch of inputs is ever stacked for it
                items = (inputs.split_item(self.dataset[int(i)])[1] for i in self.index)
                self._cache["labels"] = torch.tensor([int(label) for label in items])
        return self._cache["labels"]


Data = Examples | Streamed
"""Labelled examples in memory or streamed from a ``Dataset``."""

ExamplesLike = Examples | Streamed | tuple[Tensor, Tensor] | Sequence[Tensor] | Dataset


def as_data(
    data: ExamplesLike, name: str, num_classes: int | None = None, allow_empty: bool = False, stream: bool = True
) -> Data:
    """Validate ``data``: tensors ``(x, y)`` become :class:`Examples`; a map-style ``Dataset`` of ``(x, y)`` pairs
    becomes :class:`Streamed` (read in batches, never copied whole) unless ``stream=False``.

    Raises :class:`RemedyError` naming ``name`` for mismatched lengths, NaN/Inf inputs, non-integer labels,
    labels outside ``[0, num_classes)`` and (unless allowed) empty sets. Streamed inputs are checked as they
    are read.
    """
    if isinstance(data, Streamed):
        streamed = data
    elif _map_style(data):
        try:
            n = len(data)  # type: ignore[arg-type]
        except TypeError as err:
            raise RemedyError(f"{name}: expected a map-style Dataset with len() of (x, y) pairs or dicts") from err
        check(n > 0 or allow_empty, name, "at least one example, got an empty Dataset")
        streamed = Streamed(data, torch.arange(n), name)
    else:
        return as_examples(data, name, num_classes, allow_empty)
    if not stream:
        return as_examples(Examples(*_materialise(streamed)), name, num_classes, allow_empty)
    labels = streamed.labels
    check(not labels.is_floating_point(), name, f"integer class labels, got dtype {labels.dtype}")
    if num_classes is not None and len(labels) > 0:
        lo, hi = int(labels.min()), int(labels.max())
        check(lo >= 0 and hi < num_classes, name, f"labels in [0, {num_classes - 1}], found {lo}..{hi}")
    return streamed


def _map_style(data: object) -> bool:
    """A torch ``Dataset``, or anything indexed by position with a length that is not a pair of tensors (a
    HuggingFace ``datasets.Dataset``)."""
    if isinstance(data, (Examples, Tensor, tuple, list, Mapping)):
        return False
    return isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__"))


def _materialise(data: Streamed) -> tuple[Tensor, Tensor]:
    parts = list(data.batches(1024))
    return inputs.cat([p.x for p in parts]), torch.cat([p.y for p in parts])


def as_examples(data: ExamplesLike, name: str, num_classes: int | None = None, allow_empty: bool = False) -> Examples:
    """Validated :class:`Examples` from tensors ``(x, y)``, ``Examples`` or a ``Dataset`` (read into memory; for
    evaluation sets and small data — :func:`as_data` streams a training set instead)."""
    if isinstance(data, Examples):
        x, y = data.x, data.y
    elif isinstance(data, (Streamed, Dataset)):
        return as_data(data, name, num_classes, allow_empty, stream=False)  # type: ignore[return-value]
    elif isinstance(data, (tuple, list)):
        check(len(data) == 2, name, "a pair (x, y) of tensors")
        x, y = data[0], torch.as_tensor(data[1])
        x = torch.as_tensor(x) if not isinstance(x, (Mapping, tuple, list)) else inputs.apply(x, torch.as_tensor)
    else:
        raise RemedyError(f"{name}: expected a pair (x, y) of tensors or a Dataset, got {type(data).__name__}")
    check(len(inputs.leaves(x)) > 0, name, "at least one input tensor in x")
    for t in inputs.leaves(x):
        check(t.shape[0] == y.shape[0], name, f"x and y of the same length, got {t.shape[0]} and {y.shape[0]}")
    check(y.ndim == 1, name, f"labels y of shape [N], got {tuple(y.shape)}")
    check(allow_empty or len(y) > 0, name, "at least one example, got an empty set")
    check(not y.is_floating_point() and not y.is_complex(), name, f"integer class labels, got dtype {y.dtype}")
    check(_finite(x), name, "finite inputs, found NaN or Inf in x")
    if isinstance(x, Tensor) and not x.is_floating_point():
        x = x.float()
    y = y.long()
    if num_classes is not None and len(y) > 0:
        lo, hi = int(y.min()), int(y.max())
        check(lo >= 0 and hi < num_classes, name, f"labels in [0, {num_classes - 1}], found {lo}..{hi}")
    return Examples(x, y)
