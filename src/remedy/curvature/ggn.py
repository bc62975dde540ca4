"""Generalised Gauss-Newton products ``Jᵀ H_out J v``: one forward pass in dual numbers gives the logits and ``J v``
together, one backward pass from the logits gives ``Jᵀ (H_out J v)``; no explicit J."""

from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwad
from torch import Tensor, nn
from torch.func import grad, jvp, vjp, vmap

from remedy.chunks import CHUNK_ROWS, sum_over_chunks
from remedy.curvature.functional import DataCurvature
from remedy.examples import Data, Examples
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

    def dense(self, columns: int = 256) -> Tensor:
        """The explicit ``[P, P]`` GGN. For softmax regression (cross-entropy on the logits of one ``nn.Linear`` that
        holds every trainable parameter) in closed form, ``G = (1/N) Σ_i (diag(p_i) − p_i p_iᵀ) ⊗ x̃_i x̃_iᵀ + λI``
        with ``x̃_i = [x_i, 1]``: one ``[D+1, D+1]`` Gram matrix per pair of classes (``C²/2`` Gram
        matrices instead of ``P = C(D+1)`` column products); for every other model from the products."""
        layer = _logit_layer(self.f.model, self.f.names) if self.loss is cross_entropy else None
        if layer is None or not _is_logits(self.f.model, layer, self.data):
            return super().dense(columns)
        total = sum_over_chunks(self.data, CHUNK_ROWS, lambda c: _softmax_gram(self.f.model, layer, c), "ggn dense")
        matrix = _theta_order(total, layer.bias is not None) / len(self.data)
        matrix.diagonal().add_(self.weight_decay)
        return 0.5 * (matrix + matrix.T)

    def _column_product(self, part: Examples, u: Tensor) -> Tensor:
        theta = self.f.theta.detach().requires_grad_()
        with torch.enable_grad():  # also inside a caller's no_grad block
            with fwad.dual_level():
                logits, ju = fwad.unpack_dual(self.f(fwad.make_dual(theta, u), part.x))
            h = vmap(self._output_hvp)(logits.detach(), part.y, ju.detach())
            return torch.autograd.grad(logits, theta, h)[0]


def _logit_layer(model: nn.Module, names: list[str]) -> nn.Linear | None:
    """The ``nn.Linear`` that holds every trainable parameter of ``model`` (weight first), if there is one."""
    for prefix, module in model.named_modules():
        if isinstance(module, nn.Linear):
            own = [f"{prefix}.{n}" if prefix else n for n, p in module.named_parameters() if p.requires_grad]
            if own == names and own[0].endswith("weight"):
                return module
    return None


def _inputs(model: nn.Module, layer: nn.Linear, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The layer's inputs, its outputs and the model's outputs on ``x``."""
    seen: dict[str, Tensor] = {}

    def hook(_: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
        seen["in"], seen["out"] = args[0], out

    handle = layer.register_forward_hook(hook)
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        handle.remove()
    return seen["in"], seen["out"], logits


def _is_logits(model: nn.Module, layer: nn.Linear, data: Data) -> bool:
    """Whether the layer's output is the model's output (nothing after it), checked on the first examples."""
    part = data.take(torch.arange(min(8, len(data)))).to(layer.weight.device)
    inputs, out, logits = _inputs(model, layer, part.x)
    return inputs.ndim == 2 and out.shape == logits.shape and torch.equal(out, logits)


def _softmax_gram(model: nn.Module, layer: nn.Linear, chunk: Data) -> Tensor:
    """``Σ_i A_i[c, d] x̃_i x̃_iᵀ`` as ``[C, D+1, C, D+1]`` over the chunk, ``A_i = diag(p_i) − p_i p_iᵀ``."""
    part = chunk.take(torch.arange(len(chunk))).to(layer.weight.device)
    inputs, _, logits = _inputs(model, layer, part.x)
    x = torch.cat([inputs, torch.ones_like(inputs[:, :1])], 1)
    p = torch.softmax(logits, -1)
    a = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    classes, width = p.shape[1], x.shape[1]
    out = x.new_zeros(classes, width, classes, width)
    for c in range(classes):
        for d in range(c, classes):
            out[c, :, d] = x.T @ (a[:, c, d, None] * x)
            if d != c:
                out[d, :, c] = out[c, :, d].T
    return out


def _theta_order(gram: Tensor, bias: bool) -> Tensor:
    """``[C, D+1, C, D+1]`` rearranged to the flat parameter order: the weight ``[C, D]`` row by row, then the bias."""
    classes, width = gram.shape[0], gram.shape[1] - 1
    ww = gram[:, :width, :, :width].reshape(classes * width, classes * width)
    if not bias:
        return ww
    wb = gram[:, :width, :, width].reshape(classes * width, classes)
    bb = gram[:, width, :, width]
    return torch.cat([torch.cat([ww, wb], 1), torch.cat([wb.T, bb], 1)], 0)
