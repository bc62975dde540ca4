"""PUMA blog Fig. 7: remove one handwriting style (a K-means cluster) of the digit 4 from an MNIST CNN."""

from __future__ import annotations

import torch
from sklearn.cluster import KMeans

from remedy.curvature import InverseSettings
from remedy.data import load_dataset
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.experiments.common import fit, patch_numbers, predict
from remedy.metrics import Error, PerExampleLoss
from remedy.models import build_model
from remedy.models.config import TrainConfig
from remedy.posterior import Posterior
from remedy.puma import patch
from remedy.report import plots
from remedy.seeds import derive, stream

DIGIT, STYLES, REFERENCE = 4, 3, 256
INVERSE = InverseSettings("ekfac", "closed-form", damping=0.01)


@EXPERIMENTS.register("puma-mnist-style")
def puma_mnist_style(seed: int, quick: bool) -> Result:
    data = load_dataset("mnist", quick)
    train, test = data.train, data.test
    config = TrainConfig(max_epochs=15) if quick else TrainConfig()
    model = fit(lambda: build_model("cnn", (1, 28, 28), 10, seed), train, config, seed)
    fours = torch.nonzero(train.y == DIGIT).flatten()
    kmeans = KMeans(STYLES, n_init=10, random_state=derive(seed, "styles") % 2**32).fit(
        train.x[fours].flatten(1).numpy()
    )
    clusters = torch.as_tensor(kmeans.labels_)
    style = int(torch.bincount(clusters, minlength=STYLES).argmin())  # the rarest style
    causes = fours[clusters == style]
    test_fours = torch.nonzero(test.y == DIGIT).flatten()
    in_style = torch.zeros(len(test), dtype=torch.bool)
    in_style[test_fours[torch.as_tensor(kmeans.predict(test.x[test_fours].flatten(1).numpy())) == style]] = True
    other_fours, other_digits = ~in_style & (test.y == DIGIT), test.y != DIGIT
    kept = torch.ones(len(train), dtype=torch.bool)
    kept[causes] = False
    kept_index = torch.nonzero(kept).flatten()
    sample = kept_index[torch.randperm(len(kept_index), generator=stream(seed, "reference"))[:REFERENCE]]
    posterior = Posterior(model, train)
    preserve, guard = PerExampleLoss(train[sample]), Error(train[kept])
    cap = 100.0 / len(train)
    puma = patch(posterior, causes, preserve, guard=guard, delta=0.01, max_step=cap, inverse=INVERSE)
    naive = patch(posterior, causes, preserve, guard=guard, delta=0.01, max_step=cap, compensate=False, inverse=INVERSE)
    retrained = fit(lambda: build_model("cnn", (1, 28, 28), 10, seed), train[kept], config, seed)
    before = predict(model, test)

    def numbers(m: torch.nn.Module) -> dict[str, float]:
        after = predict(m, test)

        def change(mask: torch.Tensor) -> float:
            return float((after[mask] == test.y[mask]).double().mean() - (before[mask] == test.y[mask]).double().mean())

        return {
            "style_changed_fraction": float((after[in_style] != before[in_style]).double().mean()),
            "other_accuracy_change": change(~in_style),
            "other_fours_accuracy_change": change(other_fours),
            "other_digits_accuracy_change": change(other_digits),
            "style_accuracy": float((after[in_style] == DIGIT).double().mean()),
        }

    result = numbers(puma.model)
    summary = {
        "style_changed_fraction": result["style_changed_fraction"],
        "other_accuracy_change": result["other_accuracy_change"],
        "puma": result | patch_numbers(puma),
        "naive": numbers(naive.model) | patch_numbers(naive),
        "retrain": numbers(retrained),
        "style_accuracy_before": float((before[in_style] == DIGIT).double().mean()),
        "n_removed": len(causes),
        "n_style_test": int(in_style.sum()),
        "n_other_fours_test": int(other_fours.sum()),
        "settings": {
            "styles": STYLES,
            "style": style,
            "reference": REFERENCE,
            "max_step": cap,
            "inverse": INVERSE.to_dict(),
        },
    }
    shown = torch.nonzero(in_style).flatten()[:16]
    captions = [f"{int(before[i])}→{int(predict(puma.model, test[i : i + 1])[0])}" for i in shown]
    return Result(
        title="PUMA: removing one handwriting style of the digit 4 (MNIST-3000 CNN)",
        summary=summary,
        description=(
            f"The {len(fours)} training 4s are clustered into {STYLES} styles by K-means on pixels; the rarest style "
            f"({len(causes)} images) is removed from the trained CNN by one PUMA patch (EK-FAC curvature), keeping "
            f"the per-example losses of {REFERENCE} other training images to first order and the error on all kept "
            "training images within δ = 0.01. Test 4s are assigned to the nearest style centre. Naive removal "
            "(λ = 0) and retraining without the style are measured beside it."
        ),
        figures=[
            (plots.image_grid(train.x[causes[:16]], ["removed"] * min(16, len(causes))), "The removed style."),
            (plots.image_grid(test.x[shown], captions), "Test images of that style: prediction before → after."),
        ],
    )
