"""The curvature back-ends by name (``--curvature``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from remedy.curvature.empirical_fisher import DiagonalFisher, EmpiricalFisher
from remedy.curvature.ggn import GaussNewton
from remedy.curvature.hessian import Hessian
from remedy.curvature.kfac import KFAC
from remedy.curvature.operator import Curvature
from remedy.examples import Data
from remedy.registry import Registry
from remedy.task import LossFn

CURVATURES: Registry[Callable[..., Curvature]] = Registry("curvature")
CURVATURES.register("hessian")(Hessian)
CURVATURES.register("ggn")(GaussNewton)
CURVATURES.register("fisher")(EmpiricalFisher)
CURVATURES.register("fisher-diag")(DiagonalFisher.build)
CURVATURES.register("kfac")(KFAC)
CURVATURES.register("ekfac")(partial(KFAC, eigen_corrected=True))


def build_curvature(name: str, model: nn.Module, loss: LossFn, data: Data, weight_decay: float = 0.0) -> Curvature:
    """The named curvature of ``J(θ) = mean loss on data + weight_decay/2 ‖θ‖²`` at ``model``'s parameters."""
    return CURVATURES.get(name)(model, loss, data, weight_decay)
