"""PUMA (SPEC §5): data valuation for any differentiable metric, and metric-preserving model patching."""

from remedy.puma.compensation import compensation_weights
from remedy.puma.patch import Patch, patch
from remedy.puma.valuation import metric_directions, valuation

__all__ = ["Patch", "compensation_weights", "metric_directions", "patch", "valuation"]
