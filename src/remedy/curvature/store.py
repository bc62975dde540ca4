"""The curvatures of the training objective at θ̂ and their damped inverses, each built once per posterior."""

from __future__ import annotations

from torch import Tensor

from remedy.curvature.backends import build_curvature
from remedy.curvature.empirical_fisher import DiagonalFisher
from remedy.curvature.fisher import diagonal_fisher
from remedy.curvature.functional import random_subset
from remedy.curvature.inverse import InverseSettings
from remedy.curvature.operator import Curvature
from remedy.curvature.solvers import DampedInverse
from remedy.errors import check
from remedy.passes import TrainPasses
from remedy.seeds import stream


class Curvatures:
    """``J(θ) = mean loss + λ/2 ‖θ‖²``'s curvatures at θ̂ on the passes' training set: the diagonal Fisher (saved in
    the passes' cache), any back-end by name, and the damped inverses that :class:`InverseSettings` describe."""

    def __init__(self, passes: TrainPasses, weight_decay: float) -> None:
        self.passes, self.weight_decay = passes, weight_decay
        self._fisher: Tensor | None = None
        self._curvatures: dict[str, Curvature] = {}
        self._inverses: dict[str, DampedInverse] = {}

    def fisher(self) -> Tensor:
        """The diagonal empirical Fisher ``F̂`` at θ̂ on D, flat ``[P]`` (computed once)."""
        if self._fisher is None:
            p = self.passes
            store = p.store("fisher-chunks", {})
            compute = lambda: diagonal_fisher(p.model, p.loss, p.train, p.chunking.chunk_bytes, store)  # noqa: E731
            self._fisher = p.cached("fisher-diag", compute)
        return self._fisher

    def set_fisher(self, diagonal: Tensor) -> None:
        """Use ``diagonal`` ``[P]`` as the diagonal Fisher from now on (e.g. a true Fisher computed elsewhere);
        curvatures and inverses built from the old one are dropped."""
        size = self.passes.theta.numel()
        check(diagonal.shape == (size,), "diagonal", f"a flat vector of {size} entries")
        check(bool(diagonal.isfinite().all()) and bool((diagonal >= 0).all()), "diagonal", "finite entries >= 0")
        self._fisher = diagonal.to(self.passes.device)
        self._curvatures.pop("fisher-diag", None)
        self._inverses = {k: v for k, v in self._inverses.items() if '"fisher-diag"' not in k}

    def get(self, name: str = "ggn", examples: int | None = None, seed: int = 0) -> Curvature:
        """The named curvature (:data:`remedy.curvature.CURVATURES`) at θ̂, built once and reused; on ``examples``
        training examples drawn with ``seed`` (their own stream) instead of all N if given."""
        check(examples is None or examples > 0, "curvature_examples", f"a positive number of examples, got {examples}")
        train = self.passes.train
        subset = examples is not None and examples < len(train)
        key = f"{name}/{examples}/{seed}" if subset else name
        if key not in self._curvatures:
            if name == "fisher-diag" and not subset:  # the diagonal already held (and cached on disk)
                self._curvatures[key] = DiagonalFisher(self.fisher(), self.weight_decay)
            else:
                data = random_subset(train, examples, stream(seed, "curvature-examples")) if subset else train
                model, loss = self.passes.model, self.passes.loss
                self._curvatures[key] = build_curvature(name, model, loss, data, self.weight_decay)
        return self._curvatures[key]

    def inverse(self, settings: InverseSettings) -> DampedInverse:
        """The damped inverse ``(C + δI)⁻¹`` that ``settings`` describe, built once (with its factorisation) and
        reused by every later method that asks for the same settings."""
        check(isinstance(settings, InverseSettings), "inverse", "a remedy.curvature.InverseSettings")
        key = settings.key()
        if key not in self._inverses:
            self._inverses[key] = settings.build(self.get(settings.curvature, settings.examples, settings.seed))
        return self._inverses[key]
