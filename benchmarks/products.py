"""Cost of one curvature-vector product over the whole MNIST training set, in training epochs of the same CNN, and
of the two other passes identification makes over it (forward-mode scoring, log-likelihoods) at remedy's batch
size and at their former ones.

    python benchmarks/products.py --runs 3

One epoch is measured in the same run (a short training of the demo's CNN on the same 3,000 images); each row is
the median of ``--runs`` runs, divided by it.
"""

from __future__ import annotations

import argparse

import torch
from timing import median_seconds
from torch.func import jvp, vjp, vmap

from remedy.curvature import BATCH_ROWS, GaussNewton, Hessian, directional_derivatives
from remedy.data import load_dataset
from remedy.examples import Examples
from remedy.models import build_model, train_model
from remedy.models.config import TrainConfig
from remedy.posterior import Posterior
from remedy.task import cross_entropy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("mnist")
    train = Examples(data.train.x, data.train.y)
    _, log = train_model(build_model("cnn", (1, 28, 28), 10, 0), train, config=TrainConfig(max_epochs=3), seed=0)
    model = build_model("cnn", (1, 28, 28), 10, 0).eval()
    ggn = GaussNewton(model, cross_entropy, train)
    v = torch.randn(ggn.n_params)

    def training_pass() -> None:
        for part in train.batches(ggn.chunk):
            model.zero_grad()
            cross_entropy(model(part.x), part.y).mean().backward()

    def ggn_jvp_after_vjp() -> torch.Tensor:  # the implementation before: the forward pass twice
        total = torch.zeros_like(v)
        for part in train.batches(ggn.chunk):
            logits, pullback = vjp(lambda t: ggn.f(t, part.x), ggn.f.theta)  # noqa: B023
            ju = jvp(lambda t: ggn.f(t, part.x), (ggn.f.theta,), (v,))[1]  # noqa: B023
            total += pullback(vmap(ggn._output_hvp)(logits.detach(), part.y, ju))[0]
        return total

    rows = {
        f"forward + backward over the data (batches of {ggn.chunk})": training_pass,
        "GGN product (remedy: dual-number forward, one backward)": lambda: ggn.matvec(v),
        "GGN product (jvp after vjp: two forward passes)": ggn_jvp_after_vjp,
        "Hessian product (jvp of grad)": lambda: Hessian(model, cross_entropy, train).matvec(v),
    }
    posterior = Posterior(model, train)
    for batch in (BATCH_ROWS, 1024):  # 1,024: the scoring pass's batch before
        rows[f"forward-mode scoring pass, one direction (batches of {batch})"] = lambda b=batch: (
            directional_derivatives(model, cross_entropy, train, v[:, None], batch_size=b)
        )
    for batch in (BATCH_ROWS, 256):  # 256: the log-likelihood pass's batch before
        rows[f"log-likelihoods, no autograd (batches of {batch})"] = lambda b=batch: posterior.log_likelihood(
            posterior.train, model, batch_size=b
        )
    print(
        f"{len(train)} images, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"one training epoch {log.epoch_seconds:.2f} s"
    )
    print("| computation | seconds | × epoch |\n|---|---|---|")
    for label, fn in rows.items():
        fn()  # warm-up
        seconds = median_seconds(fn, args.runs)
        print(f"| {label} | {seconds:.2f} | {seconds / log.epoch_seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
