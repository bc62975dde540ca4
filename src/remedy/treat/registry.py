"""The treatment registry. A treatment maps ``(posterior, causes, guard, **options)`` to a new model; ``guard`` is
the data that early-stops or line-searches it. The posterior's model (and the caller's) is never modified."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from remedy.registry import Registry

Treatment = Callable[..., nn.Module]

TREATMENTS: Registry[Treatment] = Registry("treatment")
