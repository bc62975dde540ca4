"""What a scorer will cost, said before it runs: peak resident memory and time, from the parameter count P, the
training set's size N, the number of queries, the memory budget of one chunk (``--memory-mb``) and one measured
batch of the model. A dense matrix that cannot fit stops the run here, with one line, before any work.

Time is the scorer's cost in epochs of the same model (:data:`EPOCHS`, measured by ``remedy experiment speed`` and
the input-noise study) times the epoch's seconds (the training record's, or one timed batch scaled to N). Memory is
the process's resident size now, plus the largest of what the scorer holds at once: a chunk of per-example gradients
(at most ``--memory-mb``, never more than N·P floats) with the activations of one batch of examples (measured), the
gradient matrix when the cache keeps it, TRAK's projected features, and the dense curvature of the direct solver.
``benchmarks/estimate.py`` checks both against the measured peak on three tasks (``benchmarks/README.md``).
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from remedy.curvature.grads import BATCH_ROWS, per_example_grads
from remedy.curvature.inverse import DEFAULT_INVERSE
from remedy.curvature.kfac import layer_inputs
from remedy.curvature.operator import DENSE_LIMIT
from remedy.errors import check
from remedy.identify.registry import SCORERS
from remedy.inputs import logits
from remedy.posterior import Posterior

EPOCHS: dict[str, float] = {
    "random": 0.0,
    "self-loss": 1.3,
    "representer": 2.9,
    "finetune-influence": 5.2,
    "linear-influence": 9.0,
    "ewc-influence": 9.9,
    "cells": 16.3,
    "tracin": 16.7,
    "g-shapley": 17.1,
    "puma": 19.6,
    "trak": 21.7,
}
"""Identification cost in epochs of the same model: medians of ``remedy experiment speed --setting mnist-pairs``
(the demo's CNN, 3 runs)."""

GRADIENT_PASSES: dict[str, int] = {
    "linear-influence": 1,
    "ewc-influence": 1,
    "cells": 1,
    "tracin": 5,
    "puma": 1,
    "trak": 1,
}
"""Passes of per-example gradients over the training set within :data:`EPOCHS` (TracIn's: one per checkpoint). Their
time is measured on this model before the run (one batch), since a model vmap cannot trace computes them one example
at a time; the rest of the cost is epochs."""

PASS_EPOCHS = 1.4
"""What one per-example gradient pass cost in :data:`EPOCHS`' runs (the demo's CNN, vmapped: 1.4 epochs)."""

RECIPE_EPOCHS: dict[str, float] = {
    "sgd-influence": 13.4,
    "magic": 8.6,
    "cleanlab": 3.7,
    "adaptive": 3.1,
    "self-influence": 3.0,
    "dvrl": 2.0,
}
"""The scorers that retrain or replay the run, in multiples of the recipe's epochs (the input-noise study on digits:
SGD-influence's 803 epochs over a 60-epoch recipe is 13.4)."""

SHORTER = {
    "tmc-shapley": "permutations=K (default 200) bounds it",
    "g-shapley": "permutations=K shortens it",
    "sgd-influence": "a shorter recorded run shortens it",
    "magic": "a shorter recorded run shortens it",
    "cleanlab": "folds=K shortens it",
    "trak": "models=1 and a smaller dim shorten it",
}
"""For a scorer that will take long, which option shortens it."""

SHAPLEY_FIT_SECONDS = 0.27
"""TMC-Shapley's seconds per training example per permutation with ``learner=logistic``: one logistic-regression fit
per prefix until the truncation stops it (one permutation took 320 s on the quick digits' 898 examples)."""

STEP_SECONDS, VALIDATION_SECONDS = 5e-6, 3e-8
"""TMC-Shapley with the centroid learner: seconds per step of a permutation (one training example added), and per
validation example within a step (its distance to the moved centroid and its nearest class), fitted by
``benchmarks/centroid_steps.py`` on one idle core; the estimate is for every permutation of the budget, untruncated
(the truncation and the convergence test usually stop far sooner: 28-29 s a run on the MNIST demo,
docs/tanno-studies.md §4)."""

LONG = 120.0
"""Seconds of projected work above which the estimate says how to shorten it."""


@dataclass(frozen=True)
class Estimate:
    """A scorer's projected peak resident memory (MiB) and time (seconds; ``None`` when no cost is measured) on ``n``
    examples, ``p`` parameters and ``queries`` query examples."""

    method: str
    n: int
    p: int
    queries: int
    peak_mb: float
    seconds: float | None
    epochs: float | None
    parts: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"peak_mb": self.peak_mb, "seconds": self.seconds, "epochs": self.epochs, "parts_mb": self.parts}

    def line(self) -> str:
        held = max(self.parts, key=lambda k: self.parts[k])
        time_text = "time unknown" if self.seconds is None else f"about {_duration(self.seconds)}"
        if self.epochs is not None:
            time_text += f" ({self.epochs:.0f} epochs of this model)"
        text = (
            f"estimate: {self.method} on {self.n:,} examples × {self.p:,} parameters, "
            f"{self.queries} queries: about {self.peak_mb:,.0f} MiB at its peak ({held} the largest part), {time_text}"
        )
        if self.seconds is not None and self.seconds > LONG and self.method in SHORTER:
            text += f"; {SHORTER[self.method]}"
        return text


def _duration(seconds: float) -> str:
    return (
        f"{seconds:.0f} s"
        if seconds < 120
        else f"{seconds / 60:.0f} min"
        if seconds < 7200
        else f"{seconds / 3600:.1f} h"
    )


def resident_mb() -> float:
    """The process's resident set size now (Linux ``/proc``; elsewhere its peak so far), MiB."""
    statm = Path("/proc/self/statm")
    if statm.is_file():
        return int(statm.read_text().split()[1]) * resource.getpagesize() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


KFAC_ROWS = 256
"""Examples per batch of the Kronecker factors' passes (:class:`~remedy.curvature.kfac.KFAC`'s ``batch_size``)."""


def _layer_bytes(posterior: Posterior) -> int:
    """Bytes one example adds to a Kronecker-factor batch: every factored layer's inputs (unfolded patches for a
    convolution) twice (before and after the column of ones) and its output gradients, float32."""
    sizes: list[int] = []

    def hook(module: nn.Module, args: tuple[Tensor, ...], output: Tensor) -> None:
        sizes.append(2 * layer_inputs(module, args[0].detach()).numel() + output.numel())

    layers = [m for m in posterior.model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)) and m.weight.requires_grad]
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.no_grad():
            logits(posterior.model, posterior.train.take(torch.arange(1)).to(posterior.device).x)
    finally:
        for handle in handles:
            handle.remove()
    return 4 * sum(sizes)


def _probe(posterior: Posterior) -> tuple[float, float]:
    """One batch of per-example gradients: (seconds per example, MiB its activations and gradients added at peak)."""
    rows = posterior.train.take(torch.arange(min(BATCH_ROWS, posterior.n)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    now = resident_mb()
    start = time.perf_counter()
    for _ in per_example_grads(posterior.model, posterior.loss, rows, posterior.passes.chunking.chunk_bytes):
        pass
    seconds = (time.perf_counter() - start) / len(rows)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return seconds, max(0.0, after - max(before, now))


def estimate(
    posterior: Posterior,
    method: str,
    queries: int,
    options: dict[str, Any] | None = None,
    runs: int = 1,
    guard: int | None = None,
) -> Estimate:
    """The cost of scoring ``posterior``'s training set with ``method`` (its ``options``) against ``queries`` query
    examples, ``runs`` times (the diagnosis scores the whole query half and each common failure mode alone);
    ``guard``: the size of the whole query half, which the Shapley utilities score on (default ``queries``). Raises
    :class:`~remedy.errors.RemedyError` when the direct solver's dense curvature cannot be formed."""
    options = options or {}
    n, p = posterior.n, posterior.theta().numel()
    inverse = options.get("inverse", DEFAULT_INVERSE if "inverse" in SCORERS.options(method) else None)
    solver = getattr(inverse, "solver", None)  # the second-order scorers' InverseSettings
    check(
        solver != "direct" or p <= DENSE_LIMIT,
        "--solver",
        f"cg, lissa or arnoldi for {p:,} parameters: the direct solver's dense curvature needs {p * p * 8 / 2**30:.1f} "
        f"GiB and at most {DENSE_LIMIT:,} parameters",
    )
    base = resident_mb()
    per_example, activations = _probe(posterior)
    chunking = posterior.passes.chunking
    gradient_bytes = n * p * 4
    parts = {"a chunk of gradients": min(chunking.chunk_bytes, gradient_bytes) / 2**20 + activations}
    if chunking.cache_dir is not None and gradient_bytes <= chunking.cache_bytes:
        parts["the kept gradient matrix"] = gradient_bytes / 2**20 + activations
    if method in ("trak", "cells", "adaptive"):
        dim, models = int(options.get("dim", 1024)), int(options.get("models", 1))
        chunk = 2 * min(chunking.chunk_bytes, gradient_bytes)  # the chunk of margin gradients and its negation
        parts["TRAK's features"] = (chunk + n * dim * 8 * models + dim * dim * 8) / 2**20 + activations
    if solver == "direct":
        parts["the dense curvature"] = p * p * 8 * 2 / 2**20
    if getattr(inverse, "curvature", None) in ("ekfac", "kfac"):  # one batch of layer inputs and output gradients
        parts["the Kronecker factors' batch"] = (KFAC_ROWS * _layer_bytes(posterior)) / 2**20 + activations * 4
    epoch = posterior.record.epoch_seconds or per_example * n * 3  # a training step ≈ 3 forward passes' work
    passes = GRADIENT_PASSES.get(method, 0)
    if method in EPOCHS:
        epochs: float | None = max(0.0, EPOCHS[method] - PASS_EPOCHS * passes) + passes * n * per_example / epoch
    elif method in RECIPE_EPOCHS:
        epochs = RECIPE_EPOCHS[method] * posterior.record.config.max_epochs
    elif method == "tmc-shapley":
        permutations = int(options.get("permutations", 200))
        if options.get("learner", "centroid") == "logistic":
            epochs = permutations * n * SHAPLEY_FIT_SECONDS / epoch
        else:  # one step per training example, each over the validation set (the query half)
            epochs = permutations * n * (STEP_SECONDS + (guard or queries) * VALIDATION_SECONDS) / epoch
    else:
        epochs = None
    epochs = None if epochs is None else epochs * runs
    seconds = None if epochs is None else epochs * epoch
    return Estimate(method, n, p, queries, base + max(parts.values()), seconds, epochs, parts)
