"""Generalised Gauss-Newton products ``Jᵀ H_out J v``: one forward pass in dual numbers gives the logits and ``J v``
together, one backward pass from the logits gives ``Jᵀ (H_out J v)``; no explicit J."""

from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwad
from torch import Tensor
from torch.func import grad, jvp, vjp, vmap

from remedy.curvature.functional import DataCurvature
from remedy.examples import Examples
from remedy.task import cross_entropy

COLUMNS = 32
"""Columns of ``V`` whose products share one forward pass: ``COLUMNS`` × the chunk's activations in memory."""


class GaussNewton(DataCurvature):
    """``G = (1/N) Σ_i J_iᵀ ∇²_o loss(o_i, y_i) J_i + weight_decay·I``, ``J_i = ∂f(θ̂, x_i)/∂θ``.

    Positive semi-definite for convex losses (cross-entropy, squared error), equal to the Hessian for
    linear models, and the curvature influence functions usually stand on (Bae et al. 2022).
    """

    name = "ggn"

    def _output_hvp(self, o: Tensor, y: Tensor, t: Tensor) -> Tensor:
        """``∇²_o loss(o, y) t`` for one example: ``(diag(p) − p pᵀ) t`` for softmax cross-entropy, else autograd."""
        if self.loss is cross_entropy:
            p = torch.softmax(o, -1)
            return p * t - p * (p * t).sum(-1, keepdim=True)
        return jvp(grad(lambda out: self.loss(out[None], y[None]).sum()), (o,), (t,))[1]

    def _chunk_products(self, part: Examples, v: Tensor) -> Tensor:
        """``Σ_{i∈part} J_iᵀ H_i J_i · v`` for the columns of ``v``.

        One column: a forward pass with the tangent (forward-mode AD) that also records the primal graph, then one
        backward pass from the logits — about 1.6 training epochs per product over the data, against 2.2 for
        ``jvp`` after ``vjp``, which runs the forward pass twice (``benchmarks/products.py``). Several columns:
        ``J V`` for :data:`COLUMNS` of them at once (``vmap`` over ``jvp``) and one batched backward pass
        (``vmap`` over the ``vjp``), which amortises the forward pass over the columns; a CG solve for many
        queries at once is a product with one column per query."""
        if v.shape[1] == 1:
            return self._column_product(part, v[:, 0])[:, None]
        logits, pullback = vjp(lambda t: self.f(t, part.x), self.f.theta.detach())
        out = []
        for block in v.split(COLUMNS, dim=1):
            ju = vmap(lambda u: jvp(lambda t: self.f(t, part.x), (self.f.theta.detach(),), (u,))[1], in_dims=1)(block)
            h = vmap(lambda j: vmap(self._output_hvp)(logits.detach(), part.y, j))(ju)
            out.append(vmap(lambda g: pullback(g)[0])(h).T)
        return torch.cat(out, 1)

    def _column_product(self, part: Examples, u: Tensor) -> Tensor:
        theta = self.f.theta.detach().requires_grad_()
        with torch.enable_grad():  # also inside a caller's no_grad block
            with fwad.dual_level():
                logits, ju = fwad.unpack_dual(self.f(fwad.make_dual(theta, u), part.x))
            h = vmap(self._output_hvp)(logits.detach(), part.y, ju.detach())
            return torch.autograd.grad(logits, theta, h)[0]
