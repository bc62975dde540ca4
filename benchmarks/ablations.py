"""The design checks of EWC-influence and EWC-deletion quoted in docs/causes.md, on the demo's seed-0 model.

    python benchmarks/ablations.py

Prints, for EWC-influence and its variants, the detection area and the corrupted fraction found after
inspecting 10 %; how the flip directions score; the treatments with accuracy-based early stopping;
and EWC-deletion's behaviour at the training learning rate and under the summed-likelihood weighting.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from remedy import Posterior, identify, repair, split_test
from remedy.curvature import per_example_grads
from remedy.data import load_dataset
from remedy.evaluate import detection_curve, evaluate
from remedy.examples import Examples
from remedy.identify.registry import posterior_edit_scores
from remedy.models import build_model, train_model
from remedy.pipeline import DemoConfig, corrupt
from remedy.task import cross_entropy
from remedy.update import EWC


def true_fisher(model: torch.nn.Module, train: Examples) -> torch.Tensor:
    """Diagonal Fisher with labels drawn from the model's own predictive distribution (in expectation)."""
    with torch.no_grad():
        probs = torch.softmax(model(train.x), -1)
    total = torch.zeros(sum(p.numel() for p in model.parameters()))
    for c in range(probs.shape[1]):
        for start, g in per_example_grads(model, cross_entropy, Examples(train.x, torch.full_like(train.y, c))):
            total += (probs[start : start + len(g), c : c + 1] * g.square()).sum(0)
    return total / len(train)


def main() -> None:
    data = load_dataset("mnist")
    corruption = corrupt(data, DemoConfig())
    train = Examples(corruption.x, corruption.y)
    model, _ = train_model(build_model("cnn", (1, 28, 28), 10, 0), train, seed=0)
    failures = split_test(model, data.test, seed=0)
    posterior = Posterior(model, train)
    mask = corruption.mask

    def report(label: str, values: torch.Tensor) -> None:
        curve = detection_curve(values, mask)
        print(f"{label:48} area {curve.auc:.3f}  found at 10 % {curve.found_at(0.1):.3f}")

    scores = identify(posterior, failures, "ewc-influence").values
    report("ewc-influence (eq. 10, penalty / |F|)", scores)
    report("EWC penalty against the mean NLL (scale 1)", posterior_edit_scores(posterior, failures, EWC(1.0)).cpu())
    for lam in (30.0, 300.0):
        report(
            f"ewc-influence, prior λ = {lam:g}",
            identify(posterior, failures, "ewc-influence", prior_precision=lam).values,
        )
    empirical = posterior.curvatures.fisher()
    posterior.curvatures.set_fisher(true_fisher(model, train))
    report("ewc-influence with the true Fisher", identify(posterior, failures, "ewc-influence").values)
    posterior.curvatures.set_fisher(empirical)
    report("finetune-influence", identify(posterior, failures, "finetune-influence").values)

    print("\nflip direction (true → given): share with r > 0 under ewc-influence")
    for a, b in ((1, 7), (7, 1), (4, 9), (9, 4), (3, 5), (5, 3)):
        chosen = mask & (corruption.true_y == a) & (corruption.y == b)
        print(f"  {a} → {b}: {int(chosen.sum())} examples, {float((scores[chosen] > 0).double().mean()):.2f}")

    causes = torch.argsort(scores, descending=True)[:150]
    print("\nearly stopping on F_q validation accuracy (stop_on='error'), top 5 %: query / holdout / remaining")
    for name in ("finetune", "ewc-deletion"):
        for stop_on in ("loss", "error"):
            print(
                f"  {name:13} {stop_on:5}",
                evaluate(repair(posterior, causes, name, guard=failures.query.val, stop_on=stop_on), failures),
            )

    print("\newc-deletion at the training learning rate, checked once per epoch: F_q validation loss per epoch")
    training_rate = replace(posterior.record.config, max_epochs=5, patience=10)
    ascent = EWC(2.0 / (0.03 * posterior.n), config=training_rate)  # ewc-deletion's γ = 0.03, at the training rate
    print("  ", [round(v, 3) for v in posterior.delete(causes, ascent, failures.query.val).log.history])
    print("\nthe same, penalty 2/(γN) weighed against the summed log-likelihood of C (= mean weighting / |C|)")
    for gamma in (0.01, 0.2):
        update = EWC(2.0 / (gamma * posterior.n) / len(causes), config=training_rate)
        print(
            f"   γ = {gamma}:", [round(v, 3) for v in posterior.delete(causes, update, failures.query.val).log.history]
        )


if __name__ == "__main__":
    main()
