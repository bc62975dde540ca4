"""Tables and figures of Tanno et al.'s corruption studies over seeds: every scorer's share of the corrupted images
among its top causes and its detection curve, and every removal's held-out effect, as means with 95 % intervals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from remedy.experiments.base import Result
from remedy.experiments.studies import mean_curve, over
from remedy.io import to_jsonable, write_json
from remedy.report import plots


def resumed(work: Path | None, name: str, seed: int, quick: bool, run: Callable[[int, bool], dict]) -> dict:
    """``run(seed, quick)``, or its result saved in ``work`` by an earlier run of the same study."""
    path = work / f"{name}-{seed}{'-quick' if quick else ''}.json" if work is not None else None
    if path is not None and path.is_file():
        return json.loads(path.read_text())
    result = to_jsonable(run(seed, quick))
    if path is not None:
        write_json(path, result)
    return result


def tables(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Over seeds: per scorer, the corrupted share of its top causes, its detection area and cost in epochs; per
    removal, the net change on T_h, its difference from nothing removed, the held-out failures fixed and the correct
    predictions broken (each a mean with its 95 % t-interval over seeds)."""
    scorers = {
        label: {
            "top_share": over(runs, lambda r, label=label: r["scorers"][label]["top_share"]),
            "auc": over(runs, lambda r, label=label: r["scorers"][label]["auc"]),
            "epochs": over(runs, lambda r, label=label: r["scorers"][label]["epochs"]),
        }
        for label in runs[0]["scorers"]
    }
    removal = {
        label: {
            key: over(runs, lambda r, label=label, key=key: r["removal"][label][key])
            for key in ("net_change", "fixed", "broken")
        }
        | {"minus_nothing": over(runs, lambda r, label=label: r["removal"][label]["minus_nothing"]["mean"])}
        for label in runs[0]["removal"]
    }
    return {"scorers": scorers, "removal": removal}


def figures(runs: list[dict[str, Any]], corrupted: str) -> list[tuple[str, str]]:
    """The mean detection curve of every scorer, and every removal's net change with its interval over seeds."""
    curves = {label: mean_curve([r["scorers"][label]["curve"] for r in runs]) for label in runs[0]["scorers"]}
    first = next(iter(curves.values()))
    table = tables(runs)["removal"]
    means = {label: row["net_change"]["mean"] for label, row in table.items()}
    intervals = {label: tuple(row["net_change"]["interval"]) for label, row in table.items()}
    oracle = [min(1.0, x / max(first["inspected"][-1], 1e-9)) for x in first["inspected"]]
    return [
        (
            plots.detection_plot(first["inspected"], {k: c["found"] for k, c in curves.items()}, oracle),
            f"Fraction of the {corrupted} images found against the fraction of the training set inspected, mean "
            "over seeds (the diagonal grey line is not the oracle: every image is inspected at the end).",
        ),
        (
            plots.net_change_plot(means, intervals),
            "Net change of held-out accuracy after removing each set (points), mean and 95 % interval over seeds.",
        ),
    ]


def findings(summary: dict[str, Any], corrupted: str, every: str) -> list[str]:
    """One line per scorer: the corrupted share of its top causes and its removal's net change beside removing every
    corrupted image."""
    lines = []
    removal = summary["removal"]
    for label, row in summary["scorers"].items():
        net = removal[label]["net_change"]
        lines.append(
            f"{label}: {100 * row['top_share']['mean']:.0f} % {corrupted} among its top causes; removing them "
            f"{net['mean']:+.2f} [{net['interval'][0]:+.2f}, {net['interval'][1]:+.2f}] points "
            f"(minus nothing removed {removal[label]['minus_nothing']['mean']:+.2f})"
        )
    best = removal[every]["net_change"]
    lines.append(f"{every}: {best['mean']:+.2f} [{best['interval'][0]:+.2f}, {best['interval'][1]:+.2f}] points")
    lines += [f"{name} not run on this dataset: {why}" for name, why in summary["settings"].get("left_out", {}).items()]
    return lines


def study_result(title: str, summary: dict[str, Any], description: str, corrupted: str, every: str) -> Result:
    runs = summary["runs"]
    return Result(
        title=title,
        summary=summary,
        description=description,
        figures=figures(runs, corrupted),
        findings=findings(summary, corrupted, every),
    )
