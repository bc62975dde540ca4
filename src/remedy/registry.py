"""Name → function registries: the CLI, the pipeline and the report pick methods by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from remedy.errors import RemedyError

F = TypeVar("F", bound=Callable)


class Registry(Generic[F]):
    """A named collection of interchangeable methods of one kind (scorers, treatments, ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, F] = {}

    def register(self, name: str) -> Callable[[F], F]:
        def add(fn: F) -> F:
            if name in self._items:
                raise RemedyError(f"{self.kind} {name!r}: already registered")
            self._items[name] = fn
            return fn

        return add

    def get(self, name: str) -> F:
        if name not in self._items:
            raise RemedyError(f"{self.kind}: expected one of {', '.join(self.names())}, got {name!r}")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)
