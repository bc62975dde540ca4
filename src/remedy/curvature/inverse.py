"""Which damped inverse a second-order method applies: one frozen, validated settings object.

Every second-order method in remedy (linear influence, PUMA, self-influence, Newton removal, the fidelity
estimates) applies ``(C + δI)⁻¹`` for a curvature C of the training objective at θ̂. ``InverseSettings`` says
which C, which solver, which δ, on which training examples and with which solver options; it is saved into
every ``summary.json``. ``Posterior.inverse(settings)`` builds the :class:`DampedInverse` once and keeps it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from remedy.curvature.backends import CURVATURES
from remedy.curvature.operator import Curvature
from remedy.curvature.solvers import SOLVERS, DampedInverse
from remedy.errors import check


@dataclass(frozen=True)
class InverseSettings:
    """The damped inverse ``(C + δI)⁻¹`` of a curvature C of ``J(θ) = mean loss + λ/2 ‖θ‖²`` at θ̂.

    Attributes:
        curvature: the back-end C (``--curvature``): ``ekfac`` (default: factorised once, then every inverse
            product is closed-form, so per-failure and per-example uses stay cheap), ``ggn`` (PSD, what influence
            functions stand on), ``hessian``, ``fisher``, ``fisher-diag`` or ``kfac``.
        solver: how the inverse is applied (``--solver``): ``closed-form`` (default; ekfac, kfac, fisher-diag),
            ``cg``, ``direct`` (small models), ``lissa`` or ``arnoldi``.
        damping: δ ≥ 0 added to C's diagonal (``--damping``).
        examples: estimate C on this many training examples drawn with ``seed`` instead of all N
            (``--curvature-examples``); each product or factor pass then costs that fraction of an epoch.
        seed: draws those examples and the randomness of stochastic solvers (LiSSA's mini-batches, Arnoldi's
            start), each from its own stream.
        options: the solver's own settings: cg ``tol``, ``max_iter``; lissa ``depth``, ``scale``, ``repeats``,
            ``batch_size``; arnoldi ``rank``, ``iterations``.
    """

    curvature: str = "ekfac"
    solver: str = "closed-form"
    damping: float = 1e-3
    examples: int | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        CURVATURES.get(self.curvature, "curvature")
        SOLVERS.get(self.solver, "solver")
        check(math.isfinite(self.damping) and self.damping >= 0, "damping", f"a damping >= 0, got {self.damping}")
        check(
            self.examples is None or self.examples > 0,
            "examples",
            f"a positive number of examples, got {self.examples}",
        )
        check("seed" not in self.options, "options", "solver options without 'seed' (it is InverseSettings.seed)")
        SOLVERS.check_options(self.solver, self.options)
        object.__setattr__(self, "options", dict(self.options))

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values (the form saved in ``summary.json``)."""
        return asdict(self)

    def key(self) -> str:
        """A stable text key: equal settings give equal keys."""
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    def build(self, curvature: Curvature) -> DampedInverse:
        """The damped inverse of ``curvature`` (already built on the right examples) with these settings."""
        return SOLVERS.get(self.solver)(curvature, self.damping, seed=self.seed, **self.options)


DEFAULT_INVERSE = InverseSettings()
"""EK-FAC in closed form, damping 1e-3, all training examples. On the MNIST CNN a full-data GGN product costs about
four training epochs, so CG's up to 100 products per solve are only for small models or a few directions."""
