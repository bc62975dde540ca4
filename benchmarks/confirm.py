"""The confirmation of the frozen defaults on fresh seeds, at the cost a 2-core machine allows: the shipped pipeline
(``remedy demo``'s, through :func:`remedy.experiments.causes.config_for`) with the default treatment, its controls and
both peers (self-loss, cleanlab), without the extra scorers and treatments the full ``remedy experiment causes`` adds.

    python benchmarks/confirm.py --setting mnist-pairs --seeds 5-14 --work runs/confirm/work
    python benchmarks/confirm.py --table --work runs/confirm/work   # docs/causes.md's confirmation block, from them

``--compare`` treats further scorers' top sets at the default's count; ``--identify`` runs a candidate scorer as the
pipeline's own (its count chosen on T_q by its order), with the same controls.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from remedy.experiments.causes import SETTINGS, config_for
from remedy.experiments.causes_report import over_seeds, removal_over_seeds, tables
from remedy.io import to_jsonable, write_json
from remedy.pipeline import run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=SETTINGS)
    parser.add_argument("--seeds", help="A-B, inclusive (B-A: backwards)")
    parser.add_argument("--work", type=Path, required=True, help="the causes experiment's work folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--table", action="store_true", help="print the tables of every seed saved in --work")
    parser.add_argument(
        "--treat", nargs="+", default=["finetune"], help="treatments at the chosen count; the first gets the controls"
    )
    parser.add_argument("--identify", help="the pipeline's scorer instead of the default (a candidate's own pipeline)")
    parser.add_argument(
        "--compare", nargs="+", default=[], help="further scorers, each top set treated at the chosen count (seed 0)"
    )
    parser.add_argument("--peers", nargs="+", help="the peers a user would pick instead (default: the benchmark's)")
    parser.add_argument(
        "--partition", action="store_true", help="each seed also draws the dataset's train/test partition (fresh seeds)"
    )
    args = parser.parse_args()
    if args.table:
        print(markdown(saved(args.work)))
        return
    if args.setting is None or args.seeds is None:
        parser.error("--setting and --seeds are required to run seeds (or --table to print the saved ones)")
    torch.set_num_threads(args.threads)
    first, last = (int(s) for s in args.seeds.split("-"))
    step = 1 if last >= first else -1  # B-A runs the same seeds backwards: a second process meets the first midway
    args.work.mkdir(parents=True, exist_ok=True)
    for seed in range(first, last + step, step):
        path = args.work / f"{args.setting}-{seed}.json"
        claim = path.with_suffix(".running")
        if path.is_file() or claim.exists():
            continue
        claim.touch()
        config = replace(
            config_for(SETTINGS[args.setting], seed, quick=False), compare=tuple(args.compare), treat=tuple(args.treat)
        )
        if args.identify:
            config = replace(config, identify=args.identify)
        if args.partition:
            config = replace(config, partition=seed)
        if args.peers:
            config = replace(config, peers=tuple(args.peers))
        summary = run_demo(config).summary
        summary.get("detection", {}).pop("curves", None)
        write_json(path, to_jsonable(summary))
        claim.unlink()
        print(f"{args.setting} {seed}: {summary['headline']}", flush=True)


def saved(work: Path) -> dict[str, list[dict[str, Any]]]:
    """Every finished seed in ``work``, per setting, in seed order."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in work.glob("*.json"):
        match = re.fullmatch(r"(.+)-(\d+)", path.stem)
        if match and match[1] in SETTINGS:
            found.setdefault(match[1], []).append(json.loads(path.read_text()))
    return {name: sorted(found[name], key=lambda s: s["seed"]) for name in SETTINGS if name in found}


def signed(value: float, interval: list[float] | None = None) -> str:
    return f"{value:+.2f}" + (f" [{interval[0]:+.2f}, {interval[1]:+.2f}]" if interval else "")


def cost(epochs: list[float]) -> str:
    """A scorer's cost over seeds (one scoring run on each seed's model, in that run's training epochs)."""
    return f"{statistics.median(epochs):.1f} [{min(epochs):.1f}, {max(epochs):.1f}]"


def treatments(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every treatment's net change at the default's causes and its paired difference from the default treatment
    (mean [95 % t-interval over seeds], from :func:`tables`); nothing when only the default ran."""
    lines: list[str] = []
    for name, rows in tables(runs)["treatments"].items():
        if len(rows) < 2:
            continue
        lines += [f"### {name}: every treatment at the default's causes, points over seeds", ""]
        lines += ["| treatment | net change | minus the default treatment | returned θ̂ |", "|---|---|---|---|"]
        for i, (t, row) in enumerate(rows.items()):
            net, diff = row["net_change"], row["minus_default"]
            difference = "—" if i == 0 else signed(diff["mean"], diff["interval"])
            kept = f"{row['returned_original']} of {len(runs[name])} seeds"
            lines.append(f"| {t} | {signed(net['mean'], net['interval'])} | {difference} | {kept} |")
        lines.append("")
    return lines


def compared(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every ``--compare`` scorer's set (treated at the default's count) minus the default's and each control's net
    change on the same seed, mean [95 % t-interval over seeds], its share of the oracle's gain, and per seed its count,
    corrupted share and difference from the default; nothing when no scorer was compared."""
    lines: list[str] = []
    for name, seeds in runs.items():
        controls = list(seeds[0]["controls"])
        for scorer in seeds[0]["scorers"]:
            net = [s["scorers"][scorer]["net_change"] for s in seeds]
            default = [next(iter(s["treatments"].values()))["net_change"] for s in seeds]
            rows = {"default": default} | {c: [s["controls"][c]["net_change"] for s in seeds] for c in controls}
            cells = []
            for other in rows.values():
                diff = over_seeds([n - o for n, o in zip(net, other, strict=True)])
                cells.append(signed(diff["mean"], diff["interval"]))
            share = over_seeds([n / o for n, o in zip(net, rows["oracle"], strict=True)])
            lines += [f"### {name}: {scorer}'s set minus each row on the same seed, mean [95 % t-interval over seeds]"]
            lines += ["", f"| net change | {' | '.join(f'minus {r}' for r in rows)} | share of the oracle |"]
            lines += ["|---" * (len(rows) + 2) + "|"]
            own = over_seeds(net)
            lines += [
                f"| {signed(own['mean'], own['interval'])} | {' | '.join(cells)} | "
                f"{share['mean']:.2f} [{share['interval'][0]:.2f}, {share['interval'][1]:.2f}] |",
                "",
                "```",
            ]
            for s, d in zip(seeds, default, strict=True):
                mine = s["scorers"][scorer]
                lines.append(
                    f"  seed {s['seed']} count {s['count']['chosen']} corrupted {mine['causes_corrupted']:.2f} "
                    f"(default's {s['causes_corrupted']:.2f}) minus default {mine['net_change'] - d:+.2f}, "
                    f"minus no-removal {mine['net_change'] - s['controls']['no-removal']['net_change']:+.2f}"
                )
            lines += ["```", ""]
    return lines


def removal(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The removal value per setting (the repair minus the same treatment with nothing removed, paired on the same
    held-out half) over seeds, the oracle's and the share, for the default and every compared scorer's set at the
    default's count; the nothing-removed control's own net change beside it."""
    lines = ["### Removal value: the repair minus the same treatment with nothing removed, points over seeds", ""]
    lines += ["| setting | causes | removal value | oracle's | share | nothing removed: net change |"]
    lines += ["|---|---|---|---|---|---|"]
    for name, seeds in runs.items():
        if not all("removal" in s for s in seeds):
            continue
        nothing = over_seeds([s["controls"]["no-removal"]["net_change"] for s in seeds])
        rows = {f"{seeds[0]['identify']['method']} (default)": [s["removal"] for s in seeds]}
        for scorer in seeds[0].get("scorers", {}):
            rows[f"{scorer}'s top k"] = [s["scorers"][scorer]["removal"] for s in seeds]
        for label, values in rows.items():
            found = removal_over_seeds(values)
            oracle = found.get("oracle_value")
            share = found.get("share")
            lines.append(
                f"| {name} | {label} | {signed(found['value']['mean'], found['value']['interval'])} | "
                f"{signed(oracle['mean'], oracle['interval']) if oracle else '—'} | "
                f"{'—' if share is None else f'{share:.2f}'} | {signed(nothing['mean'], nothing['interval'])} |"
            )
    return [*lines, ""]


def markdown(runs: dict[str, list[dict[str, Any]]]) -> str:
    """The confirmation block of ``docs/causes.md``: net changes and paired differences over seeds (mean and 95 %
    t-interval), every seed's own intervals, and each scorer's detection and corrupted share."""
    table = tables(runs)["default"]
    controls = list(next(iter(runs.values()))[0]["controls"])
    lines = [
        *removal(runs),
        "### Net change on T_h, points: mean [95 % t-interval over seeds]",
        "",
        f"| setting (seeds) | default | {' | '.join(controls)} | share of the oracle | seeds beating every control |",
        "|---" * (len(controls) + 4) + "|",
    ]
    for name, row in table.items():
        cells = [signed(row["controls"][c]["mean"], row["controls"][c]["interval"]) for c in controls]
        default = signed(row["net_change"]["mean"], row["net_change"]["interval"])
        seeds = ", ".join(str(s) for s in row["seeds"])
        lines.append(
            f"| {name} ({seeds}) | **{default}** | {' | '.join(cells)} | {row['share_of_oracle']:.2f} | "
            f"{row['seeds_beating_every_control']} of {len(row['seeds'])} |"
        )
    lines += ["", "### Paired differences, the default minus each control: mean [95 % t-interval over seeds]", ""]
    lines += [f"| setting | {' | '.join(f'default − {c}' for c in controls)} |", "|---" * (len(controls) + 1) + "|"]
    for name, row in table.items():
        cells = [signed(row["differences"][c]["mean"], row["differences"][c]["interval"]) for c in controls]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines += ["", "### Per seed: the default's net change [its interval], then each paired difference [its interval]"]
    lines += ["", "```"]
    for name, seeds in runs.items():
        row = table[name]
        counts = [s["count"]["chosen"] for s in seeds]
        lines.append(f"{name} counts {counts} spread mean {row['spread']['mean']:.2f} n_held_out {row['n_held_out']}")
        for s in seeds:
            main = next(iter(s["treatments"].values()))
            diffs = " ".join(
                f"{c} {signed(s['controls'][c]['difference']['mean'], s['controls'][c]['difference']['interval'])}"
                for c in controls
            )
            lines.append(f"  seed {s['seed']} {signed(main['net_change'], main['interval'])} | {diffs}")
    lines += ["```", ""]
    lines += treatments(runs)
    lines += compared(runs)
    lines += ["### Detection and the corrupted share of each scorer's causes at the chosen count", ""]
    lines += [
        "| setting | scorer | detection area | corrupted share | net change | the default minus it | "
        "cost, epochs: median "
        "[min, max] over seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, scorers in tables(runs)["scorers"].items():
        for label, row in scorers.items():
            diff = signed(row["difference"]["mean"], row["difference"]["interval"]) if "difference" in row else "—"
            lines.append(
                f"| {name} | {label} | {row['detection_auc']['mean']:.3f} | {row['causes_corrupted']['mean']:.3f} | "
                f"{signed(row['net_change']['mean'], row['net_change']['interval'])} | {diff} | "
                f"{cost(row['epochs']['values'])} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
