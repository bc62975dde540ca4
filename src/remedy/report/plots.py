"""Matplotlib figures rendered to base64 PNG so the report is one self-contained file."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn


def to_data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def found_curve(scores: Tensor, corrupted: Tensor) -> list[float]:
    """The fraction of ``corrupted`` found as the training set is inspected by decreasing score."""
    order = torch.argsort(scores.cpu(), descending=True, stable=True)
    return (torch.cumsum(corrupted.cpu()[order].double(), 0) / corrupted.sum()).tolist()


def detection_plot(inspected: list[float], curves: dict[str, list[float]], oracle: list[float]) -> str:
    """Fraction of the corrupted examples found against the fraction inspected, one line per ranking."""
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    for name, found in curves.items():
        ax.plot(inspected, found, label=name, lw=2 if name == next(iter(curves)) else 1.2)
    ax.plot(inspected, oracle, "--", label="oracle", color="grey")
    ax.plot([0, 1], [0, 1], ":", label="random", color="black")
    ax.set(
        xlabel="fraction of training data inspected", ylabel="fraction of corrupted found", xlim=(0, 1), ylim=(0, 1.02)
    )
    ax.legend(loc="lower right", fontsize=8)
    return to_data_uri(fig)


def net_change_plot(rows: dict[str, float], intervals: dict[str, tuple[float, float]]) -> str:
    """Net change of held-out accuracy (points) per treatment and control, with each row's interval."""
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(rows) + 1.0))
    names = list(rows)[::-1]
    values = [rows[n] for n in names]
    lo = [rows[n] - intervals.get(n, (rows[n], rows[n]))[0] for n in names]
    hi = [intervals.get(n, (rows[n], rows[n]))[1] - rows[n] for n in names]
    colours = ["#2a7" if v > 0 else "#c33" for v in values]
    ax.barh(names, values, xerr=[lo, hi], color=colours, capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set(xlabel="net change in held-out accuracy (points), 95 % interval")
    fig.tight_layout()
    return to_data_uri(fig)


def count_plot(curve: list[dict[str, Any]], chosen: int) -> str:
    """The change of accuracy on the guard (the query half T_q) from θ̂, in points with its 95 % interval, against
    the number of causes treated: what the count was chosen on (summaries without intervals: the accuracy, in %)."""
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    counts = [row["count"] for row in curve]
    if all("interval" in row for row in curve):
        change = [row["change"] for row in curve]
        lo = [c - row["interval"][0] for c, row in zip(change, curve, strict=True)]
        hi = [row["interval"][1] - c for c, row in zip(change, curve, strict=True)]
        ax.errorbar(counts, change, yerr=[lo, hi], marker="o", ms=3, capsize=3)
        ax.axhline(0, color="grey", lw=0.6)
        label = "guard accuracy change from θ̂ (points, 95 %)"
    else:
        ax.plot(counts, [100 * row["guard"] for row in curve], marker="o", ms=3)
        label = "guard accuracy (%)"
    ax.axvline(chosen, color="grey", lw=0.8, ls="--")
    ax.set(xscale="log", xlabel="training examples treated (top of the ranking)", ylabel=label)
    return to_data_uri(fig)


def lines_plot(x: list[float], curves: dict[str, list[float]], xlabel: str, ylabel: str) -> str:
    """One line per name over the same ``x`` (missing values as NaN leave gaps)."""
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for name, values in curves.items():
        ax.plot(x, values, marker="o", ms=3, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, xscale="log")
    ax.legend(fontsize=7)
    return to_data_uri(fig)


def image_grid(images: Tensor, captions: list[str], columns: int = 8) -> str:
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.15, rows * 1.35))
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        ax.imshow(image[0].cpu().numpy(), cmap="gray")
        ax.set_title(caption, fontsize=7)
    fig.tight_layout()
    return to_data_uri(fig)


def scatter_plot(x: Tensor, scores: Tensor, corrupted: Tensor) -> str:
    fig, ax = plt.subplots(figsize=(4.8, 4.0))
    points = ax.scatter(x[:, 0], x[:, 1], c=scores.numpy(), cmap="coolwarm", s=10)
    ax.scatter(x[corrupted, 0], x[corrupted, 1], facecolors="none", edgecolors="black", s=28, lw=0.6, label="corrupted")
    fig.colorbar(points, ax=ax, label="score (larger = more harmful)")
    ax.legend(loc="upper right")
    return to_data_uri(fig)


def decision_regions(models: dict[str, nn.Module], x: Tensor, y: Tensor, marked: Tensor) -> str:
    """One panel per model: its predicted class over the plane, the training points, ``marked`` ones as ×."""
    lo, hi = x.min(0).values - 0.3, x.max(0).values + 0.3
    gx, gy = torch.meshgrid(torch.linspace(lo[0], hi[0], 200), torch.linspace(lo[1], hi[1], 200), indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    fig, axes = plt.subplots(1, len(models), figsize=(3.3 * len(models), 3.3), squeeze=False)
    for ax, (name, model) in zip(axes[0], models.items(), strict=True):
        with torch.no_grad():
            regions = model(grid.to(next(model.parameters()).dtype)).argmax(1).reshape(gx.shape)
        ax.contourf(gx.numpy(), gy.numpy(), regions.numpy(), levels=[-0.5, 0.5, 1.5], cmap="coolwarm", alpha=0.25)
        keep = ~marked
        ax.scatter(x[keep, 0], x[keep, 1], c=y[keep].numpy(), cmap="coolwarm", s=5)
        ax.scatter(x[marked, 0], x[marked, 1], c="black", marker="x", s=18, lw=0.8)
        ax.set(title=name, xticks=[], yticks=[])
    fig.tight_layout()
    return to_data_uri(fig)


def reliability_diagram(panels: dict[str, dict[str, list[float]]]) -> str:
    """Accuracy against confidence per bin (from :func:`remedy.metrics.reliability`), one panel per model."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4), squeeze=False)
    for ax, (name, rows) in zip(axes[0], panels.items(), strict=True):
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.bar(rows["confidence"], rows["accuracy"], width=0.05, alpha=0.7, edgecolor="black")
        ax.set(title=name, xlabel="confidence", ylabel="accuracy", xlim=(0.4, 1.02), ylim=(0, 1.02))
    fig.tight_layout()
    return to_data_uri(fig)


def detection_curves(curves: dict[str, tuple[Tensor, Tensor]], title: str = "") -> str:
    """Fraction found against fraction inspected, one line per scorer (``(inspected, found)`` each)."""
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    for name, (inspected, found) in curves.items():
        ax.plot(inspected.numpy(), found.numpy(), label=name, lw=1.6, ls=":" if name == "random" else "-")
    ax.set(xlabel="fraction of training data inspected", ylabel="fraction of mislabelled found", title=title)
    ax.set(xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower right", fontsize=8)
    return to_data_uri(fig)
