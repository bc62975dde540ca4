"""Harmless input noise (Tanno et al. §4.1, Fig. 4a): salt-and-pepper noise on 30 % of the training images of classes
1, 6, 7 and 9, labels unchanged. Noisy images of the right class are not what makes the model fail; a scorer that
ranks them first (as one that ranks by loss would) wastes the removal budget. For every scorer: the noisy share of
its top causes and along its ranking, then the held-out effect of removing its top causes with the default treatment,
beside removing every noisy image, nothing, and a random set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from remedy.data import Corruption, DatasetSplit, salt_and_pepper
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.experiments.studies import (
    CLASSES,
    FRACTION,
    corrupted_study,
    corruption_run,
    dataset_for,
    left_out,
)
from remedy.experiments.study_report import resumed, study_result, tables

AMOUNT = 0.5
"""The fraction of a noisy image's pixels set to black or white."""

EVERY = "every noisy image"


def corrupt(data: DatasetSplit, seed: int) -> Corruption:
    """Salt-and-pepper on :data:`FRACTION` of each of :data:`CLASSES`' training images, in the images' own black
    and white (their smallest and largest value after the mean is subtracted)."""
    x = data.train.x
    return salt_and_pepper(x, data.train.y, list(CLASSES), FRACTION, AMOUNT, seed, float(x.min()), float(x.max()))


def study(seed: int, quick: bool, dataset: str) -> dict[str, Any]:
    """One seed: every scorer's ranking against the noisy images, and the removal of its top causes."""
    made = corrupted_study(seed, quick, corrupt, dataset, record=not quick)
    return {"seed": seed} | corruption_run(made, quick, EVERY)


@EXPERIMENTS.register("input-noise")
def input_noise(
    seed: int,
    quick: bool,
    *,
    work: Path | None = None,
    seeds: list[int] | None = None,
    settings: list[str] | None = None,
) -> Result:
    dataset = dataset_for(quick, settings)
    seeds = seeds or list(range(seed, seed + (1 if quick else 3)))
    runs = [resumed(work, f"input-noise-{dataset}", s, quick, lambda s, q: study(s, q, dataset)) for s in seeds]
    chosen = {"seeds": seeds, "dataset": dataset, "amount": AMOUNT, "fraction": FRACTION, "classes": list(CLASSES)}
    chosen |= {"top": runs[0]["top"], "left_out": left_out(quick, dataset)}
    return study_result(
        f"Harmless input noise: salt-and-pepper on 30 % of classes 1, 6, 7, 9 ({dataset})",
        tables(runs) | {"runs": runs, "settings": chosen},
        (
            f"Salt-and-pepper noise ({AMOUNT:.0%} of the pixels black or white) on {FRACTION:.0%} of the training "
            "images of classes 1, 6, 7 and 9, labels unchanged; θ̂ trained on them with the benchmarks' recipe; the "
            "query: its failures of those classes in the query half. Every scorer ranks the training set: the noisy "
            "share of its top causes and its detection curve. Its top causes are then removed by the default "
            "treatment and measured on the held-out half beside nothing removed, every noisy image removed and a "
            "random set of the same size. The paper's claim: EWC-influence avoids the harmless noise and still "
            "repairs the failures best."
        ),
        "noisy",
        EVERY,
    )
