"""Cost of one curvature-vector product on the MNIST CNN, against a training pass over the same images.

    python benchmarks/products.py --images 500

Medians of 3 runs, untrained CNN (the cost does not depend on the weights).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch.func import jvp, vjp

from remedy.curvature import GaussNewton, Hessian
from remedy.data import load_dataset
from remedy.models import build_model
from remedy.task import cross_entropy


def median_seconds(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=500)
    args = parser.parse_args()
    data = load_dataset("mnist").train[: args.images]
    model = build_model("cnn", (1, 28, 28), 10, 0).eval()
    params = list(model.parameters())
    v = torch.randn(sum(p.numel() for p in params))
    ggn = GaussNewton(model, cross_entropy, data)

    def training_pass() -> None:
        model.zero_grad()
        cross_entropy(model(data.x), data.y).mean().backward()

    def forward(theta: torch.Tensor) -> torch.Tensor:
        return ggn.f(theta, data.x)

    def ggn_autograd() -> torch.Tensor:
        logits = model(data.x)
        u = torch.zeros_like(logits, requires_grad=True)
        jt_u = torch.autograd.grad(logits, params, u, create_graph=True)
        dot = sum((g * w.view_as(g)).sum() for g, w in zip(jt_u, v.split([p.numel() for p in params]), strict=True))
        jv = torch.autograd.grad(dot, u)[0]
        p = torch.softmax(logits.detach(), -1)
        return torch.cat(
            [g.reshape(-1) for g in torch.autograd.grad(logits, params, p * jv - p * (p * jv).sum(-1, keepdim=True))]
        )

    logits, pullback = vjp(forward, ggn.f.theta)
    rows = {
        "training forward + backward": training_pass,
        "hessian product (torch.func)": lambda: Hessian(model, cross_entropy, data).matvec(v),
        "ggn product (torch.func)": lambda: ggn.matvec(v),
        "ggn product (autograd, double vjp)": ggn_autograd,
        "  of which: forward with vjp": lambda: vjp(forward, ggn.f.theta),
        "  of which: forward-mode jvp": lambda: jvp(forward, (ggn.f.theta,), (v,)),
        "  of which: pullback": lambda: pullback(torch.ones_like(logits)),
    }
    print(f"{args.images} images, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for label, fn in rows.items():
        print(f"| {label} | {median_seconds(fn):.2f} s |")


if __name__ == "__main__":
    main()
