"""Bae et al. 2022's sweep: how the estimators' agreement with LOO and with the PBRF, and the five gap terms, change
with the MLP's width and its training length on MNIST digits."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import tqdm

from remedy.experiments.base import EXPERIMENTS, Result
from remedy.experiments.fidelity_mnist import ESTIMATORS, Setting, study
from remedy.fidelity import GAP_TERMS
from remedy.report.plots import to_data_uri

WIDTHS, STEPS = (8, 16, 32), (30, 300, 3000)
BASE = Setting(per_class=50, points=20, measurements=5, seeds=1)
QUICK_WIDTHS, QUICK_STEPS = (4, 8, 16), (10, 30, 100)
QUICK = Setting(per_class=20, points=6, measurements=2, seeds=1)


def _mean(rows: list[dict[str, Any]], *path: str) -> float:
    values = []
    for row in rows:
        for key in path:
            row = row[key]
        values.append(row)
    return float(np.nanmean(values))


def _plot(grid: list[dict[str, Any]], widths: tuple[int, ...], steps: tuple[int, ...]) -> str:
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.8))
    for width in widths:
        rows = [r for r in grid if r["width"] == width]
        for ax, truth in zip(axes[:2], ("loo", "pbrf"), strict=True):
            ax.plot(steps, [r["correlation"]["cg"][truth]["pearson"] for r in rows], marker="o", label=f"width {width}")
    for ax, truth in zip(axes[:2], ("LOO", "PBRF"), strict=True):
        ax.set(xscale="log", xlabel="training steps", ylabel="Pearson", title=f"CG against {truth}", ylim=(-0.1, 1.05))
    axes[0].legend()
    labels = [f"w{r['width']}\n{r['steps']}" for r in grid]
    bottom = np.zeros(len(grid))
    for term in GAP_TERMS:
        sizes = np.array([r["gap_terms"][term] / r["loo_scale"] for r in grid])
        axes[2].bar(labels, sizes, bottom=bottom, label=term)
        bottom += sizes
    axes[2].set(ylabel="mean |term| / mean |LOO change|", title="the five gap terms (CG)")
    axes[2].tick_params(axis="x", labelsize=7)
    axes[2].legend(fontsize=7)
    return to_data_uri(fig)


@EXPERIMENTS.register("fidelity-sweep")
def fidelity_sweep(seed: int, quick: bool) -> Result:
    widths, steps, base = (QUICK_WIDTHS, QUICK_STEPS, QUICK) if quick else (WIDTHS, STEPS, BASE)
    grid = []
    for width, length in tqdm(list(itertools.product(widths, steps)), desc="settings", disable=None, leave=False):
        summary, _ = study(dataclasses.replace(base, width=width, steps=length), seed, ESTIMATORS)
        grid.append({"width": width, "steps": length} | summary)
    summary = {
        "correlation": {
            name: {
                truth: {stat: _mean(grid, "correlation", name, truth, stat) for stat in ("pearson", "spearman")}
                for truth in ("loo", "pbrf")
            }
            for name in ESTIMATORS
        },
        "gap_terms": {term: _mean(grid, "gap_terms", term) for term in GAP_TERMS},
        "loo_scale": _mean(grid, "loo_scale"),
        "grid": grid,
        "settings": {"dataset": "mnist", "widths": list(widths), "steps": list(steps)}
        | {key: value for key, value in vars(base).items() if key not in ("width", "steps")},
    }
    findings = [
        f"width {r['width']}, {r['steps']} steps ({r['n_params']:,} parameters, train objective "
        f"{r['train_objective']:.3f}, test accuracy {r['test_accuracy']:.3f}): CG's Pearson with LOO "
        f"{cg['loo']['pearson']:.2f}, with the PBRF {cg['pbrf']['pearson']:.2f}; "
        f"largest gap term {max(GAP_TERMS, key=lambda t: r['gap_terms'][t])}"
        for r in grid
        for cg in [r["correlation"]["cg"]]
    ]
    return Result(
        title="Influence fidelity across MLP width and training length (MNIST digits)",
        summary=summary,
        description=(
            f"The fidelity-mnist study at every width in {list(widths)} and training length in {list(steps)} "
            f"full-batch gradient-descent steps, on {10 * base.per_class} training digits, {base.points} removed "
            f"points and {base.measurements} misclassified test digits. The top-level correlations and gap terms "
            "are means over the settings; 'grid' in summary.json has each setting's own."
        ),
        figures=[(_plot(grid, widths, steps), "CG's agreement with LOO and the PBRF, and the gap terms per setting.")],
        findings=findings,
    )
