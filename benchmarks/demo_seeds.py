"""Run the MNIST demo over several seeds and print its key numbers as a Markdown table.

    python benchmarks/demo_seeds.py --seeds 0 1 2 --out runs/seeds

Each seed's full evidence (report.html, summary.json, ...) lands in ``<out>/seed<N>``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from remedy.pipeline import DemoConfig, run_demo
from remedy.report.html import write_report


def fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/seeds"))
    args = parser.parse_args()
    summaries = []
    for seed in args.seeds:
        run = run_demo(DemoConfig(seed=seed), args.out / f"seed{seed}")
        write_report(run, args.out / f"seed{seed}")
        summaries.append(run.summary)
    print(f"seeds {args.seeds}; one training epoch {fmt([s['train_epoch_seconds'] for s in summaries])} s\n")
    print("| detection | " + " | ".join(f"seed {s['seed']}" for s in summaries) + " |")
    print("|---|" + "---|" * len(summaries))
    for key in ("auc", "random_auc", "oracle_auc", "found_at_10pct", "causes_precision"):
        print(f"| {key} | " + " | ".join(f"{s['detection'][key]:.3f}" for s in summaries) + " |")
    print("\n| model (top 5 % removed) | F_q | F_h | T \\ F | seconds |")
    print("|---|---|---|---|---|")
    rows = ["ewc-deletion", "finetune", "retrain", "random-removal", "oracle-removal"]
    for name in rows:
        accs = [
            s["treatments"][name]["accuracy"] if name in s["treatments"] else s["references"][name] for s in summaries
        ]
        secs = [s["treatments"][name]["seconds"] for s in summaries] if name in summaries[0]["treatments"] else []
        cells = [fmt([a[p] for a in accs]) for p in ("query", "holdout", "remaining")]
        print(f"| {name} | " + " | ".join(cells) + f" | {fmt(secs) if secs else ''} |")
    print("\n| fraction removed | identified: F_h | identified: T \\ F | random: F_h | random: T \\ F |")
    print("|---|---|---|---|---|")
    for i, point in enumerate(summaries[0]["removal_curve"]):
        cells = [
            fmt([s["removal_curve"][i][kind][part] for s in summaries])
            for kind in ("identified", "random")
            for part in ("holdout", "remaining")
        ]
        print(f"| {point['fraction']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
