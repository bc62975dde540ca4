"""The linear datamodeling score (LDS, Park et al. 2023): how well an attribution predicts what retraining on random
subsets of the training set does to each query example."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from scipy.stats import spearmanr
from torch import Tensor, nn
from tqdm.auto import tqdm

from remedy.chunks import gather_chunks, world
from remedy.errors import check
from remedy.examples import Data, Examples
from remedy.inputs import logits
from remedy.io import atomic_write
from remedy.seeds import derive, stream

Measure = Callable[[nn.Module], Tensor]
"""``measure(model) -> [Q]``: one number per query example, e.g. its loss."""

Retrain = Callable[[Data, int], nn.Module]
"""``retrain(subset, seed) -> model``: a model trained from scratch on the subset with the given seed."""


def subset_masks(n: int, fraction: float, count: int, seed: int) -> Tensor:
    """``[count, n]`` boolean masks, each keeping a seeded random ``fraction`` of the ``n`` training examples."""
    check(0 < fraction < 1, "fraction", f"a fraction in (0, 1), got {fraction}")
    check(count >= 2, "count", f"at least 2 subsets, got {count}")
    size = max(1, round(fraction * n))
    masks = torch.zeros(count, n, dtype=torch.bool)
    for k in range(count):
        masks[k, torch.randperm(n, generator=stream(seed, f"lds-subset-{k}"))[:size]] = True
    return masks


def retrain_subsets(
    retrain: Retrain, measure: Measure, train: Data, masks: Tensor, seed: int, work: Path | None = None
) -> Tensor:
    """``[K, Q]``: ``measure`` of a model retrained on each subset (``masks [K, N]``). Under ``torchrun`` the subsets
    are dealt to the processes; with ``work``, each subset's measurements are saved as they finish and read back when
    the same run is started again (it resumes)."""
    rank, size = world()
    results: dict[int, Tensor] = {}
    mine = range(rank, len(masks), size)
    for k in tqdm(mine, desc="retraining subsets", disable=None if rank == 0 else True, leave=False):
        path = work / f"subset-{k:04d}.safetensors" if work is not None else None
        if path is not None and path.is_file():
            results[k] = load_file(str(path))["measure"]
            continue
        indices = torch.nonzero(masks[k]).flatten()
        model = retrain(train.subset(indices), derive(seed, f"lds-model-{k}") % 2**31)
        results[k] = measure(model.eval()).detach().double().cpu()
        if path is not None:
            value = results[k]
            atomic_write(path, lambda tmp, value=value: save_file({"measure": value.contiguous()}, str(tmp)))
    return torch.stack(gather_chunks(results))  # type: ignore[arg-type]


def lds(scores: Tensor, masks: Tensor, measurements: Tensor) -> float:
    """The linear datamodeling score: for each query example q, the Spearman correlation over the subsets S between
    the attribution's prediction ``Σ_{i ∈ S} h(z_i, q)`` and the measurement after retraining on S, averaged over
    the queries. ``scores [N, Q]`` in remedy's convention, ``h(z, q)`` larger = z more harmful to q (its presence
    raises q's loss), so with the loss as the measurement a good attribution has a positive LDS; a scorer without
    per-query scores gives ``[N]``, used for every query."""
    check(masks.dtype == torch.bool and masks.shape[1] == scores.shape[0], "masks", "[K, N] boolean masks")
    scores = scores[:, None].expand(-1, measurements.shape[1]) if scores.ndim == 1 else scores
    check(scores.shape[1] == measurements.shape[1], "scores", "one column per query example")
    predicted = masks.double() @ scores.double()  # [K, Q]
    rho = []
    for q in range(measurements.shape[1]):
        if predicted[:, q].std() == 0 or measurements[:, q].std() == 0:
            rho.append(0.0)
            continue
        rho.append(float(spearmanr(predicted[:, q].numpy(), measurements[:, q].double().numpy()).statistic))
    return float(np.mean(rho))


class Datamodels:
    """Models retrained on ``count`` random ``fraction``-subsets of the training set (in parallel processes under
    ``torchrun``, resumable from ``work``) and their ``measure`` of every query example: computed once, then any
    number of attributions is scored against them with :meth:`lds`."""

    def __init__(
        self,
        retrain: Retrain,
        measure: Measure,
        train: Data,
        fraction: float = 0.5,
        count: int = 100,
        seed: int = 0,
        work: Path | None = None,
    ) -> None:
        self.masks = subset_masks(len(train), fraction, count, seed)
        self.measurements = retrain_subsets(retrain, measure, train, self.masks, seed, work)

    def lds(self, scores: Tensor) -> float:
        """:func:`lds` of ``scores`` (``[N, Q]`` or ``[N]``, larger = more harmful) against these retrainings."""
        return lds(scores, self.masks, self.measurements)


def query_losses(queries: Examples, loss: Callable[[Tensor, Tensor], Tensor]) -> Measure:
    """The measurement the public benchmarks use: every query example's loss."""

    @torch.no_grad()
    def measure(model: nn.Module) -> Tensor:
        device = next(model.parameters()).device
        return loss(logits(model, queries.to(device).x), queries.y.to(device)).cpu()

    return measure
