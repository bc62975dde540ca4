"""Curvature at θ̂: per-example gradients and the empirical Fisher."""

from remedy.curvature.fisher import diagonal_fisher
from remedy.curvature.grads import DEFAULT_CHUNK_BYTES, chunk_size, flatten, per_example_grads, trainable

__all__ = ["DEFAULT_CHUNK_BYTES", "chunk_size", "diagonal_fisher", "flatten", "per_example_grads", "trainable"]
