"""Markdown tables of Tanno et al.'s remaining studies (docs/tanno-studies.md) from the summaries the experiments wrote.

    python benchmarks/studies_tables.py input-noise runs/experiments/input-noise-digits/summary.json
    python benchmarks/studies_tables.py poisoning runs/experiments/poisoning-digits/summary.json
    python benchmarks/studies_tables.py sample-efficiency runs/experiments/sample-efficiency-digits/summary.json
    python benchmarks/studies_tables.py speed runs/experiments/speed-mnist/summary.json \
        runs/experiments/speed-mnist-costly/summary.json

Every number is a mean with its 95 % t-interval over seeds, as the summaries hold them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def span(cell: dict[str, Any] | None, scale: float = 1.0, digits: int = 2) -> str:
    if cell is None:
        return "—"
    lo, hi = (scale * v for v in cell["interval"])
    return f"{scale * cell['mean']:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def count(cell: dict[str, Any]) -> str:
    lo, hi = cell["interval"]
    return f"{cell['mean']:.1f} [{lo:.1f}, {hi:.1f}]"


def share(cell: dict[str, Any]) -> str:
    lo, hi = cell["interval"]
    return f"{cell['mean']:.2f} [{lo:.2f}, {hi:.2f}]"


def corruption(summary: dict[str, Any]) -> None:
    """Per scorer: the corrupted share of its top third, the detection area, epochs, and its removal beside the
    controls (net change and minus nothing, points on T_h)."""
    removal = summary["removal"]
    print(
        "| scorer | corrupted share of its top third | detection AUC | epochs | F_h fixed | T_h∖F broken | net change "
        "| minus nothing |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows = sorted(summary["scorers"].items(), key=lambda item: -item[1]["top_share"]["mean"])
    for label, row in rows:
        net = removal[label]
        print(
            f"| {label} | {share(row['top_share'])} | {share(row['auc'])} | {row['epochs']['mean']:.0f} | "
            f"{count(net['fixed'])} | {count(net['broken'])} | {span(net['net_change'])} | "
            f"{span(net['minus_nothing'])} |"
        )
    for label in removal:
        if label not in summary["scorers"]:
            net = removal[label]
            print(
                f"| *{label}* | | | | {count(net['fixed'])} | {count(net['broken'])} | {span(net['net_change'])} | "
                f"{span(net['minus_nothing'])} |"
            )


def sample_efficiency(summary: dict[str, Any]) -> None:
    """Per scorer and size: precision and recall of what it calls harmful, that set removed (net change and removal
    value), and the pipeline's chosen count removed: held-out failures fixed, correct predictions broken, net
    change and removal value (nothing removed: its net change, first)."""
    print(f"Nothing removed (the same fine-tuning): net change {span(summary['nothing'])} points.\n")
    print(
        "| scorer | F_q share | called harmful | precision | recall | harmful removed: net change | − nothing | "
        "chosen removed: fixed | broken | net change | − nothing |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for scorer, rows in summary["scorers"].items():
        for row in rows:
            print(
                f"| {scorer} | {row['size']:.0%} | {row['harmful']['mean']:.0f} | "
                f"{share(row['precision']) if row['precision'] else '—'} | "
                f"{share(row['recall']) if row['recall'] else '—'} | {span(row['removed_harmful_net_change'])} | "
                f"{span(row['removed_harmful_minus_nothing'])} | "
                f"{count(row['removed_chosen_fixed'])} | {count(row['removed_chosen_broken'])} | "
                f"{span(row['removed_chosen_net_change'])} | {span(row['removed_chosen_minus_nothing'])} |"
            )


def speed(summaries: list[dict[str, Any]]) -> None:
    """Every timed scorer's median epochs (runs), peak memory and ratio to EWC-influence timed in the same run, beside
    the paper's ratio; several summaries (runs of ``--scorers``, each with EWC-influence) give one table, each row in
    its own run's epochs."""
    paper_ratio: dict[str, str] = {}
    for name, row in summaries[0]["paper"].items():  # "linear-influence (GD)" and "(SA)" share a row
        base, _, variant = name.partition(" ")
        paper_ratio[base] = " / ".join(
            filter(None, [paper_ratio.get(base, ""), f"{row['ratio']:.2f} {variant}".strip()])
        )
    rows = {}
    for run, summary in enumerate(summaries, 1):
        ewc = summary["epochs"]["ewc-influence"]["median"]
        for name, row in summary["epochs"].items():
            if name not in rows or name != "ewc-influence":
                rows[name] = row | {"ratio": row["median"] / ewc, "run": run, "epoch": summary["epoch_seconds"]}
    several = len(summaries) > 1
    print(
        "| scorer | epochs, median of 3 (runs) | peak RSS MB | × EWC-influence | paper (K80) × EWC-influence |"
        + (" run (s per epoch) |" if several else "")
    )
    print("|---|---|---|---|---|" + ("---|" if several else ""))
    for name, row in sorted(rows.items(), key=lambda item: item[1]["median"]):
        runs = ", ".join(f"{e:.1f}" for e in row["runs"])
        print(
            f"| {name} | {row['median']:.1f} ({runs}) | {row['peak_rss_mb']:.0f} | {row['ratio']:.1f} | "
            f"{paper_ratio.get(name, '')} |" + (f" {row['run']} ({row['epoch']:.2f}) |" if several else "")
        )
    timed = set(rows)
    for name, why in summaries[0]["run"]["left_out"].items():
        if name not in timed:
            print(f"\n{name} not timed: {why}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", choices=("input-noise", "poisoning", "sample-efficiency", "speed"))
    parser.add_argument("summary", type=Path, nargs="+", help="summary.json (speed: one per run, merged)")
    args = parser.parse_args()
    summaries = [json.loads(path.read_text()) for path in args.summary]
    summary = summaries[0]
    if args.study == "sample-efficiency":
        sample_efficiency(summary)
    elif args.study == "speed":
        speed(summaries)
    else:
        corruption(summary)


if __name__ == "__main__":
    main()
