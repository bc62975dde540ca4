"""Name → method registries: the CLI, the pipeline and the report pick methods by name.

A method registers itself when its module is imported (``@SCORERS.register("name")``), and every package
that holds methods imports all of its modules with :func:`import_all`, so a new method is one new file.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from remedy.errors import RemedyError

F = TypeVar("F", bound=Callable)


class Registry(Generic[F]):
    """A named collection of interchangeable methods of one kind (scorers, treatments, solvers, ...).

    The registry also records each method's keyword-only options, so that a misspelt option is a one-line
    error naming the method, and so that run-wide settings (the seed, the inverse curvature, the metric)
    reach exactly the methods that declare them (:meth:`accepted`).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, F] = {}
        self._options: dict[str, frozenset[str]] = {}
        self._traits: dict[str, dict[str, Any]] = {}

    def register(self, name: str, **traits: Any) -> Callable[[F], F]:
        """Register a method under ``name``, with ``traits`` that callers may ask about (:meth:`trait`)."""

        def add(fn: F) -> F:
            if name in self._items:
                raise RemedyError(f"{self.kind} {name!r}: already registered")
            self._items[name] = fn
            parameters = inspect.signature(fn).parameters.values()
            self._options[name] = frozenset(p.name for p in parameters if p.kind is p.KEYWORD_ONLY)
            self._traits[name] = traits
            return fn

        return add

    def get(self, name: str, argument: str | None = None) -> F:
        """The method registered as ``name``; otherwise a one-line error naming ``argument`` (the caller's parameter
        or flag; the registry's kind by default) and the known names."""
        if name not in self._items:
            where = argument or self.kind
            article = "an" if self.kind[0] in "aeiou" else "a"
            raise RemedyError(
                f"{where}: expected {article} {self.kind}, one of {', '.join(self.names())}, got {name!r}"
            )
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def trait(self, name: str, key: str, default: Any = None) -> Any:
        """A trait the named method was registered with, or ``default``."""
        self.get(name)
        return self._traits[name].get(key, default)

    def options(self, name: str) -> frozenset[str]:
        """The keyword-only options the named method takes."""
        self.get(name)
        return self._options[name]

    def check_options(self, name: str, options: Mapping[str, Any], argument: str | None = None) -> None:
        """Raise a one-line :class:`RemedyError` (naming ``argument`` when given) for an option the named method
        does not take."""
        unknown = sorted(set(options) - self.options(name))
        if unknown:
            known = ", ".join(sorted(self.options(name))) or "none"
            where = f"{argument}: " if argument else ""
            raise RemedyError(f"{where}{self.kind} {name}: unknown option {unknown[0]!r} (options: {known})")

    def accepted(self, name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The run-wide ``settings`` that the named method declares as options."""
        return {key: value for key, value in settings.items() if key in self.options(name)}


def import_all(package: str) -> None:
    """Import every module of ``package``, so that the methods they define register themselves."""
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{module.name}")
