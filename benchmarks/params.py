"""What choosing the last layer (``--params``) saves and costs on the demo: the diagnosis's time and the run's peak
memory, against detection of the flipped labels and the removal value, beside every parameter on the same seeds.

    python benchmarks/params.py --dataset mnist --last 'classifier.*' --seeds 0-2 --threads 1 --work runs/params
    python benchmarks/params.py --table --work runs/params

Each run is ``remedy demo`` in a process of its own (its peak resident memory from GNU time); the table gives
the mean and 95 % t-interval over seeds of each measure, and the paired difference last layer − every parameter.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from scipy import stats

from remedy.cli import _seed_range as parse_seeds


def run(dataset: str, seed: int, params: str | None, threads: int, out: Path) -> dict:
    """One demo run (resumed from ``out/summary.json``) with its peak resident memory in MiB."""
    summary = out / "summary.json"
    if not summary.is_file():
        command = [
            "/usr/bin/time", "-f", "peak-kib %M", sys.executable, "-m", "remedy", "demo", "--dataset", dataset,
            "--seed", str(seed), "--out", str(out), "--threads", str(threads),
            *(["--params", params] if params else []),
        ]  # fmt: skip
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        peak = next(line for line in reversed(done.stderr.splitlines()) if line.startswith("peak-kib "))
        found = json.loads(summary.read_text())
        found["peak_mib"] = int(peak.split()[1]) / 1024
        summary.write_text(json.dumps(found))
    return json.loads(summary.read_text())


def measures(summary: dict) -> dict[str, float | None]:
    removal = summary.get("removal", {})
    return {
        "identify epochs": summary["identify"].get("epochs"),
        "peak MiB": summary.get("peak_mib"),
        "detection AUC": summary.get("detection", {}).get("auc"),
        "removal value": removal.get("value"),
        "share of the oracle's": removal.get("share"),
    }


def interval(values: list[float]) -> str:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.3g}"
    half = float(stats.t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / len(values) ** 0.5
    return f"{mean:.3g} [{mean - half:.3g}, {mean + half:.3g}]"


def table(work: Path) -> None:
    rows: dict[str, dict[int, dict]] = {}
    for path in sorted(work.glob("*/seed-*/summary.json")):
        rows.setdefault(path.parent.parent.name, {})[int(path.parent.name.split("-")[1])] = measures(
            json.loads(path.read_text())
        )
    names = sorted(rows)
    print("| measure | " + " | ".join(names) + " | last − all (paired) |")
    print("|---|" + "---|" * (len(names) + 1))
    seeds = sorted(set.intersection(*(set(rows[n]) for n in names)))
    for key in measures({"identify": {}}):
        cells = []
        for name in names:
            values = [rows[name][s][key] for s in seeds if rows[name][s][key] is not None]
            cells.append(interval(values) if values else "—")
        pairs = [
            rows["last"][s][key] - rows["all"][s][key]
            for s in seeds
            if rows["last"][s][key] is not None and rows["all"][s][key] is not None
        ]
        print(f"| {key} | " + " | ".join(cells) + f" | {interval(pairs) if pairs else '—'} |")
    print(f"\nSeeds: {', '.join(map(str, seeds))}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--last", default="classifier.*", help="the last layer's parameters, as --params takes them")
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("runs/params"))
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args()
    if args.table:
        table(args.work)
        return
    for seed in parse_seeds(args.seeds) or []:
        for name, params in (("all", None), ("last", args.last)):
            run(args.dataset, seed, params, args.threads, args.work / name / f"seed-{seed}")
            print(f"{name} seed {seed} done", flush=True)


if __name__ == "__main__":
    main()
