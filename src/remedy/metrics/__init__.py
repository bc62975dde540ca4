"""Differentiable criteria of a model on a dataset (lower is better), each with its exact counterpart.

Named ones build from a dataset with :func:`build_metric` (``--metric NAME``); any callable works
through :class:`Custom`, and :class:`Stack` makes several into one vector-valued metric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from remedy.examples import Examples
from remedy.metrics.base import Custom, DataMetric, Metric, Stack, Where, select
from remedy.metrics.calibration import ECE, ece, reliability
from remedy.metrics.fairness import FairnessGap
from remedy.metrics.loss import Error, Loss, PerExampleLoss
from remedy.registry import Registry

METRICS: Registry[Callable[..., Metric]] = Registry("metric")
METRICS.register("loss")(Loss)
METRICS.register("per-example-loss")(PerExampleLoss)
METRICS.register("error")(Error)
METRICS.register("ece")(ECE)


def build_metric(name: str, data: Examples, **options: Any) -> Metric:
    """The named metric (``METRICS.names()``) on ``data``."""
    return METRICS.get(name)(data, **options)


__all__ = [
    "ECE",
    "METRICS",
    "Custom",
    "DataMetric",
    "Error",
    "FairnessGap",
    "Loss",
    "Metric",
    "PerExampleLoss",
    "Stack",
    "Where",
    "build_metric",
    "ece",
    "reliability",
    "select",
]
