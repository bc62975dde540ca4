"""KFAC and EK-FAC (George et al. 2018) for ``nn.Linear`` and ``nn.Conv2d`` layers, on the empirical Fisher.

For a layer with (bias-augmented) inputs ``a`` and output gradients ``g``, the Fisher block of its
weight ``[out, in(+1)]`` is approximated by ``S ⊗ A`` with ``A = E[a aᵀ]`` and ``S = E[g gᵀ]`` (for a
convolution, ``a`` are the unfolded patches and ``A`` averages over positions while ``S`` sums over
them). EK-FAC keeps the eigenbases ``Q_S, Q_A`` but refits the eigenvalues to the per-example
gradients: ``Λ*_{ij} = E[(Q_Sᵀ G_n Q_A)²_{ij}]``, which makes the diagonal in that basis exact.
Parameters outside Linear/Conv2d layers use the diagonal empirical Fisher (with a warning).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from remedy.chunks import CHUNK_ROWS, sum_over_chunks
from remedy.curvature.fisher import diagonal_fisher
from remedy.curvature.operator import Curvature, as_matrix
from remedy.examples import Data
from remedy.inputs import logits
from remedy.task import LossFn


@dataclass
class _Block:
    module: nn.Module
    weight: slice
    bias: slice | None
    shape: tuple[int, int]  # [out, in(+1)]
    a_factor: Tensor | None = None
    s_factor: Tensor | None = None
    q_a: Tensor | None = None
    q_s: Tensor | None = None
    values: Tensor | None = None  # [out, in(+1)]: EK-FAC eigenvalues, or λ_S λ_Aᵀ for KFAC


def layer_inputs(module: nn.Module, x: Tensor) -> Tensor:
    """``[B, L, in(+1)]`` layer inputs (unfolded patches for a convolution), with a column of ones for the bias."""
    if isinstance(module, nn.Conv2d):
        x = nnf.unfold(x, module.kernel_size, module.dilation, module.padding, module.stride).transpose(1, 2)
    else:
        x = x.reshape(x.shape[0], -1, x.shape[-1])
    if module.bias is not None:
        x = torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)
    return x


def _outputs(module: nn.Module, g: Tensor) -> Tensor:
    """``[B, L, out]`` output gradients."""
    if isinstance(module, nn.Conv2d):
        return g.flatten(2).transpose(1, 2)
    return g.reshape(g.shape[0], -1, g.shape[-1])


class KFAC(Curvature):
    """Kronecker-factored empirical Fisher; ``eigen_corrected=True`` gives EK-FAC. Solves in closed form."""

    name = "kfac"

    def __init__(
        self,
        model: nn.Module,
        loss: LossFn,
        data: Data,
        weight_decay: float = 0.0,
        eigen_corrected: bool = False,
        batch_size: int = 256,
    ) -> None:
        self.eigen_corrected = eigen_corrected
        self.name = "ekfac" if eigen_corrected else "kfac"
        self.weight_decay = weight_decay
        params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        offsets, start = {}, 0
        for name, p in params:
            offsets[name] = slice(start, start + p.numel())
            start += p.numel()
        self.n_params = start
        self.device, self.dtype = params[0][1].device, params[0][1].dtype
        self.blocks: list[_Block] = []
        covered = set()
        for prefix, module in model.named_modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)) and module.weight.requires_grad:
                w = f"{prefix}.weight" if prefix else "weight"
                b = f"{prefix}.bias" if prefix else "bias"
                has_bias = module.bias is not None and module.bias.requires_grad
                out = module.weight.shape[0]
                self.blocks.append(
                    _Block(
                        module, offsets[w], offsets[b] if has_bias else None, (out, module.weight[0].numel() + has_bias)
                    )
                )
                covered.update({w, b} if has_bias else {w})
        rest = [name for name, _ in params if name not in covered]
        self.rest = torch.zeros(self.n_params, dtype=torch.bool, device=self.device)
        if rest:
            warnings.warn(
                f"{self.name}: {', '.join(rest)} are not in Linear/Conv2d layers; using the diagonal Fisher there",
                stacklevel=3,
            )
            for name in rest:
                self.rest[offsets[name]] = True
        self.diagonal = diagonal_fisher(model, loss, data) + weight_decay if rest else None
        self._fit(model, loss, data, batch_size)

    def _passes(
        self, model: nn.Module, loss: LossFn, data: Data, batch_size: int
    ) -> Iterator[list[tuple[Tensor, Tensor]]]:
        """Yield, per mini-batch, ``[(a, g)]`` per block: inputs and per-example output gradients."""
        store: dict[int, list[Tensor]] = {}

        def forward_hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            store[id(module)] = [layer_inputs(module, inputs[0].detach())]
            output.register_hook(lambda grad, m=module: store[id(m)].append(_outputs(m, grad.detach())))

        handles = [block.module.register_forward_hook(forward_hook) for block in self.blocks]
        try:
            for part in data.batches(batch_size):
                part = part.to(self.device)
                model.zero_grad(set_to_none=True)
                loss(
                    logits(model, part.x), part.y
                ).sum().backward()  # per-example output gradients: examples are independent
                yield [(store[id(b.module)][0], store[id(b.module)][1]) for b in self.blocks]
        finally:
            for handle in handles:
                handle.remove()
            model.zero_grad(set_to_none=True)

    def _fit(self, model: nn.Module, loss: LossFn, data: Data, batch_size: int) -> None:
        """Two passes over ``data`` in chunks (sharded across processes, summed in chunk order): the Kronecker
        factors, then (EK-FAC) the eigenvalues refitted to the per-example gradients in the factors' eigenbases."""
        n, rows = len(data), CHUNK_ROWS

        def factors(chunk: Data) -> tuple[Tensor, ...]:
            a_sums = [torch.zeros(b.shape[1], b.shape[1], dtype=torch.float64, device=self.device) for b in self.blocks]
            s_sums = [torch.zeros(b.shape[0], b.shape[0], dtype=torch.float64, device=self.device) for b in self.blocks]
            for pairs in self._passes(model, loss, chunk, batch_size):
                for j, (a, g) in enumerate(pairs):
                    positions = a.shape[1]
                    a, g = a.flatten(0, 1), g.flatten(0, 1)  # batch products in the model's precision, sums in float64
                    a_sums[j] += (a.T @ a).double() / positions
                    s_sums[j] += (g.T @ g).double()
            return (*a_sums, *s_sums)

        sums = sum_over_chunks(data, rows, factors, f"{self.name} factors")
        for j, block in enumerate(self.blocks):
            block.a_factor = sums[j].to(self.device) / n
            block.s_factor = sums[len(self.blocks) + j].to(self.device) / n
            lam_a, block.q_a = torch.linalg.eigh(block.a_factor)
            lam_s, block.q_s = torch.linalg.eigh(block.s_factor)
            block.values = torch.outer(lam_s.clamp_min(0), lam_a.clamp_min(0))
        if not self.eigen_corrected:
            return

        def eigenvalues(chunk: Data) -> tuple[Tensor, ...]:
            values = [torch.zeros_like(b.values) for b in self.blocks]
            for pairs in self._passes(model, loss, chunk, batch_size):
                for j, (block, (a, g)) in enumerate(zip(self.blocks, pairs, strict=True)):
                    q_s, q_a = block.q_s.to(g.dtype), block.q_a.to(a.dtype)
                    positions, out, width = a.shape[1], g.shape[2], a.shape[2]
                    if positions * (out * out + width * width) < out * width * (out + width):
                        rotated = torch.einsum("blo,bli->boi", g @ q_s, a @ q_a)  # few positions: rotate a and g
                    else:
                        rotated = q_s.T @ torch.einsum("blo,bli->boi", g, a) @ q_a  # many: form G_n, then rotate
                    values[j] += rotated.square().sum(0).double()
            return tuple(values)

        corrected = sum_over_chunks(data, rows, eigenvalues, "ekfac eigenvalues")
        for j, block in enumerate(self.blocks):
            block.values = corrected[j].to(self.device) / n

    def _blocks_of(self, v: Tensor, block: _Block) -> Tensor:
        """The block's ``[out, in(+1), k]`` slice of ``v [P, k]``."""
        out, width = block.shape
        w = v[block.weight].reshape(out, width - (block.bias is not None), -1)
        return torch.cat([w, v[block.bias][:, None, :]], dim=1) if block.bias is not None else w

    def _apply(self, v: Tensor, spectrum: Callable[[Tensor], Tensor], diagonal: Callable[[Tensor], Tensor]) -> Tensor:
        """Scale ``v`` by ``spectrum(values)`` in each block's Kronecker eigenbasis and by ``diagonal(d)`` elsewhere."""
        v, single = as_matrix(v)
        out = torch.zeros_like(v)
        for block in self.blocks:
            x = self._blocks_of(v, block).double()
            rotated = torch.einsum("op,oik,iq->pqk", block.q_s, x, block.q_a)
            back = torch.einsum("op,pqk,iq->oik", block.q_s, rotated * spectrum(block.values)[..., None], block.q_a).to(
                v.dtype
            )
            if block.bias is not None:
                out[block.bias] = back[:, -1, :]
                back = back[:, :-1, :]
            out[block.weight] = back.reshape(-1, v.shape[1])
        if self.diagonal is not None:
            out[self.rest] = diagonal(self.diagonal[self.rest, None]) * v[self.rest]
        return out.squeeze(1) if single else out

    def matvec(self, v: Tensor) -> Tensor:
        """``(S ⊗ A + weight_decay·I) v`` (EK-FAC: with the refitted eigenvalues)."""
        wd = self.weight_decay
        return self._apply(v, lambda values: values + wd, lambda d: d)

    def solve(self, v: Tensor, damping: float) -> Tensor:
        """``(C + damping·I)⁻¹ v`` in the Kronecker eigenbasis."""
        wd = self.weight_decay
        return self._apply(v, lambda values: 1.0 / (values + wd + damping), lambda d: 1.0 / (d + damping))
