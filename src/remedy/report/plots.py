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


def detection_plot(points: dict[str, list[float]], method: str) -> str:
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    x = points["inspected"]
    ax.plot(x, points["found"], label=method, lw=2)
    ax.plot(x, points["oracle"], "--", label="oracle", color="grey")
    ax.plot([0, 1], [0, 1], ":", label="random", color="black")
    ax.set(
        xlabel="fraction of training data inspected", ylabel="fraction of corrupted found", xlim=(0, 1), ylim=(0, 1.02)
    )
    ax.legend(loc="lower right")
    return to_data_uri(fig)


def accuracy_plot(rows: dict[str, dict[str, float | None]]) -> str:
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    names = list(rows)
    parts = ("query", "holdout", "remaining")
    width = 0.8 / len(parts)
    for j, part in enumerate(parts):
        values = [rows[name][part] or 0.0 for name in names]
        ax.bar([i + j * width for i in range(len(names))], values, width, label=part)
    ax.set_xticks([i + width for i in range(len(names))], names, rotation=20, ha="right")
    ax.set(ylabel="accuracy", ylim=(0, 1.05))
    ax.legend(ncol=3, loc="upper center", bbox_to_anchor=(0.5, 1.18))
    return to_data_uri(fig)


def removal_plot(removal: list[dict[str, Any]]) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.2))
    fractions = [row["fraction"] for row in removal]
    for ax, part in zip(axes, ("holdout", "remaining"), strict=True):
        for key, style in (("identified", "-o"), ("random", ":s")):
            ax.plot(fractions, [row[key][part] for row in removal], style, label=f"{key} removal")
        ax.set(xlabel="fraction of training data removed", ylabel=f"accuracy on {part}", title=part)
    axes[0].legend()
    fig.tight_layout()
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
