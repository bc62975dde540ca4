"""Direct references the tests compare remedy's vectorised computations with."""

import torch
from torch import nn

from remedy.examples import Examples
from remedy.task import cross_entropy


def loop_grads(model: nn.Module, data: Examples) -> torch.Tensor:
    """Per-example cross-entropy gradients ``[N, P]`` by a plain loop over examples and ``backward``."""
    rows = []
    for i in range(len(data)):
        model.zero_grad()
        cross_entropy(model(data.x[i : i + 1]), data.y[i : i + 1]).sum().backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    return torch.stack(rows)
