"""The causes benchmark's tables (means over seeds with 95 % intervals) and figures, from its per-seed summaries."""

from __future__ import annotations

import statistics
from typing import Any

from scipy import stats

from remedy.report import plots


def over_seeds(values: list[float], level: float = 0.95) -> dict[str, Any]:
    """Mean, sd and the ``level`` t-interval of the mean over seeds (each seed an independent replicate: its own
    training run, split and treatment seeds), and the per-seed values."""
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1)) * sd / len(values) ** 0.5 if len(values) > 1 else 0.0
    return {"mean": mean, "sd": sd, "interval": [mean - half, mean + half], "values": values}


def removal_over_seeds(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The removal value (a repair minus the same treatment with nothing removed) over seeds: its mean and t-interval,
    the oracle's, and the share, the ratio of the two means (stable where one seed's oracle value is near zero)."""
    value = over_seeds([row["value"] for row in rows])
    out: dict[str, Any] = {"value": value}
    if all(row.get("oracle_value") is not None for row in rows):
        oracle = over_seeds([row["oracle_value"] for row in rows])
        out |= {"oracle_value": oracle, "share": value["mean"] / oracle["mean"] if oracle["mean"] > 0 else None}
    return out


def _rows(seeds: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    names = list(seeds[0][key])
    return {name: [s[key][name] for s in seeds] for name in names}


def tables(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per setting, in points of held-out accuracy: ``default`` (the default pipeline's net change, every control's
    own net change and its paired difference from the default, the share of the oracle's gain, the worst seed, on
    how many seeds the default's own interval beat every non-oracle control), ``scorers`` (every peer's detection
    area, corrupted share of its causes, net change and time in epochs) and ``treatments`` (every treatment's net
    change at the default's causes, that minus the default treatment's on the same seed, and on how many seeds it
    returned θ̂ unchanged)."""
    out: dict[str, Any] = {"default": {}, "scorers": {}, "treatments": {}}
    for name, seeds in runs.items():
        treatments = _rows(seeds, "treatments")
        main = next(iter(treatments))
        default = [row["net_change"] for row in treatments[main]]
        controls = _rows(seeds, "controls")
        oracle = statistics.fmean(row["net_change"] for row in controls["oracle"]) if "oracle" in controls else None
        beaten = [
            all(c["difference"]["interval"][0] > 0 for n, c in s["controls"].items() if n != "oracle") for s in seeds
        ]
        out["default"][name] = {
            "net_change": over_seeds(default),
            "controls": {c: over_seeds([row["net_change"] for row in rows]) for c, rows in controls.items()},
            "differences": {c: over_seeds([row["difference"]["mean"] for row in rows]) for c, rows in controls.items()},
            "share_of_oracle": statistics.fmean(default) / oracle if oracle else None,
            "worst_seed": min(default),
            "seeds_beating_every_control": sum(beaten),
            "seeds": [s["seed"] for s in seeds],
            "count": over_seeds([float(s["count"]["chosen"]) for s in seeds]),
            "spread": over_seeds([row["spread"] for row in treatments[main]]),
            "n_held_out": seeds[0]["split"]["held_out_half"],
        }
        if all("removal" in s for s in seeds):
            out["default"][name]["removal"] = removal_over_seeds([s["removal"] for s in seeds])
        peers = list(seeds[0].get("peers", {}))

        def row(s: dict[str, Any], label: str) -> dict[str, Any]:
            return s["controls"][label] if label in s["controls"] else s["scorers"][label]

        out["scorers"][name] = {
            label: {
                "detection_auc": over_seeds([s["peers"][label].get("detection_auc", float("nan")) for s in seeds]),
                "causes_corrupted": over_seeds([row(s, label)["causes_corrupted"] for s in seeds]),
                "net_change": over_seeds([row(s, label)["net_change"] for s in seeds]),
                "difference": over_seeds([row(s, label)["difference"]["mean"] for s in seeds]),
                "epochs": over_seeds([s["peers"][label]["seconds"] / s["train_epoch_seconds"] for s in seeds]),
            }
            for label in peers
        } | {
            f"{seeds[0]['identify']['method']} (default)": {
                "detection_auc": over_seeds([s["detection"]["auc"] for s in seeds]),
                "causes_corrupted": over_seeds([s["causes_corrupted"] for s in seeds]),
                "net_change": over_seeds(default),
                "epochs": over_seeds([s["identify"]["epochs"] for s in seeds]),
            }
        }
        out["treatments"][name] = {
            t: {
                "net_change": over_seeds([row["net_change"] for row in rows]),
                "minus_default": over_seeds([row["net_change"] - d for row, d in zip(rows, default, strict=True)]),
                "returned_original": sum(bool(row.get("returned_original")) for row in rows),
                "spread": over_seeds([row["spread"] for row in rows]),
                "seconds": over_seeds([row["seconds"] for row in rows]),
            }
            for t, rows in treatments.items()
        }
    return out


def figures(runs: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str]]:
    """Per setting: the mean net change of the default, its controls and every treatment, with 95 % intervals over
    seeds."""
    shown = []
    summary = tables(runs)
    for name, seeds in runs.items():
        table = summary["default"][name]
        rows = {"default": table["net_change"]}
        rows |= {f"treatment: {t}": v["net_change"] for t, v in summary["treatments"][name].items()}
        rows |= {f"control: {c}": v for c, v in table["controls"].items()}
        means = {label: v["mean"] for label, v in rows.items()}
        intervals = {label: tuple(v["interval"]) for label, v in rows.items()}
        caption = f"{name}: net change in held-out accuracy (points), mean and 95 % interval over {len(seeds)} seeds."
        shown.append((plots.net_change_plot(means, intervals), caption))
    return shown
