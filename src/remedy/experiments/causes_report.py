"""The causes benchmark's tables (means and spreads over seeds) and figures, from its per-seed runs."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from remedy.pipeline import DemoConfig
from remedy.report import plots

MAIN = DemoConfig().treat[0]
"""The treatment the default pipeline and every scorer's row use."""

Stat = Callable[[list[float]], dict[str, float]]


def _net(rows: list[dict[str, Any]]) -> list[float]:
    return [100 * row["net_change"] for row in rows]


def tables(runs: dict[str, list[dict[str, Any]]], stat: Stat) -> dict[str, Any]:
    """Means and spreads over seeds, per setting, in points of held-out accuracy: ``default`` (the default
    pipeline against its controls and the oracle, with its share of the oracle's gain and its worst seed),
    ``scorers`` (detection, corrupted share of the causes, fixed / broken / net with the main treatment, time in
    epochs) and ``relabel`` (the same count relabelled instead of removed)."""
    out: dict[str, Any] = {"default": {}, "scorers": {}, "relabel": {}}
    for name, seeds in runs.items():
        default = _net([r["scorers"]["default"][MAIN] for r in seeds])
        control = {c: _net([r["controls"][c] for r in seeds]) for c in seeds[0]["controls"]}
        peers = {p: _net([r["scorers"][p][MAIN] for r in seeds]) for p in ("cleanlab", "self-loss")}
        oracle = statistics.fmean(control["oracle"])
        competitors = [v for c, v in control.items() if c != "oracle"] + list(peers.values())
        beaten = [all(d > other[i] for other in competitors) for i, d in enumerate(default)]
        out["default"][name] = {
            "net_change": stat(default),
            "controls": {c: stat(v) for c, v in control.items()} | {p: stat(v) for p, v in peers.items()},
            "share_of_oracle": statistics.fmean(default) / oracle if oracle else None,
            "worst_seed": min(default),
            "seeds_beating_every_control": sum(beaten),
            "seeds": len(seeds),
            "count": stat([float(r["count"]) for r in seeds]),
            "n_held_out": seeds[0]["n_held_out"],
        }
        out["scorers"][name] = {
            label: {
                "detection_auc": stat([r["scorers"][label]["detection_auc"] for r in seeds]),
                "causes_corrupted": stat([r["scorers"][label]["causes_corrupted"] for r in seeds]),
                "net_change": stat(_net([r["scorers"][label][MAIN] for r in seeds])),
                "fixed": stat([float(r["scorers"][label][MAIN]["fixed"]) for r in seeds]),
                "broken": stat([float(r["scorers"][label][MAIN]["broken"]) for r in seeds]),
                "epochs": stat([r["scorers"][label]["epochs"] for r in seeds]),
            }
            for label in seeds[0]["scorers"]
            if MAIN in seeds[0]["scorers"][label]
        }
        out["relabel"][name] = {
            label: stat(_net([r["scorers"][label]["relabel"] for r in seeds]))
            for label in seeds[0]["scorers"]
            if "relabel" in seeds[0]["scorers"][label]
        }
    return out


def figures(runs: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str]]:
    """Per setting: mean net change (± sd over seeds) of every scorer's treated top-k and of the controls."""
    shown = []
    for name, seeds in runs.items():
        rows: dict[str, list[float]] = {
            label: _net([r["scorers"][label][MAIN] for r in seeds])
            for label in seeds[0]["scorers"]
            if MAIN in seeds[0]["scorers"][label]
        }
        rows |= {f"control: {c}": _net([r["controls"][c] for r in seeds]) for c in seeds[0]["controls"]}
        means = {label: statistics.fmean(v) / 100 for label, v in rows.items()}
        spreads = {label: (statistics.stdev(v) if len(v) > 1 else 0.0) / 100 for label, v in rows.items()}
        caption = f"{name}: net change in held-out accuracy (points), mean ± sd over {len(seeds)} seeds, {MAIN}."
        shown.append((plots.net_change_plot(means, spreads), caption))
    return shown
