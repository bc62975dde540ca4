"""The treatment trade-off (Tanno et al. Fig. 5): EWC-deletion over γ and Newton removal over its step, top 15 % causes,
accuracy on the held-out failures against accuracy on the held-out correct predictions."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from tqdm.auto import tqdm

from remedy.evaluate import evaluate
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.experiments.causes import SETTINGS, config_for
from remedy.identify import identify
from remedy.io import write_json
from remedy.pipeline import demo_task
from remedy.report.plots import to_data_uri
from remedy.treat import repair
from remedy.workflow import setup

FRACTION = 0.15
"""The causes removed: the default scorer's top 15 % of the training set (Tanno et al. §4.3)."""

SWEEPS = {
    "ewc-deletion": ("gamma", (0.01, 0.02, 0.03, 0.04, 0.05)),
    "newton": ("scale", (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)),
}
"""Each treatment's swept option and its values (γ as in the paper's App. C; Newton's step as a fraction of the full
one: on the demo's CNN a quarter of the full step already leaves the model at chance, so the sweep reaches down)."""

REFERENCE = "finetune"


def study(seed: int, quick: bool, work: Path | None) -> dict[str, Any]:
    """One seed of the demo's setting: every point of both sweeps and fine-tuning, without the guard's back-off (the
    raw trade-off), measured on the held-out half."""
    path = work / f"tradeoff-{seed}{'-quick' if quick else ''}.json" if work else None
    if path is not None and path.is_file():
        return json.loads(path.read_text())
    config = config_for(SETTINGS["digits-pairs" if quick else "mnist-pairs"], seed, quick)
    task, _ = demo_task(config)
    problem = setup(task, config)
    posterior, split = problem.posterior, problem.split
    causes = identify(posterior, split.query).ranking()[: round(FRACTION * posterior.n)]
    before = evaluate(posterior.model, split)["accuracy"]

    def point(method: str, **options: Any) -> dict[str, float]:
        model = repair(posterior, causes, method, guard=split.query.guard, delta=float("inf"), **options).model
        accuracy = evaluate(model, split)["accuracy"]
        return {
            "held_out_failures": accuracy["held_out_failures"],
            "remaining": accuracy["remaining"],
            "net_change": 100 * (accuracy["net"] - before["net"]),
        }

    points: dict[str, Any] = {}
    for method, (option, values) in tqdm(SWEEPS.items(), desc=f"tradeoff {seed}", disable=None, leave=False):
        points[method] = [point(method, **{option: v}) | {option: v} for v in values]
    points[REFERENCE] = [point(REFERENCE)]
    result = {"points": points, "n_causes": len(causes)}
    if path is not None:
        write_json(path, result)
    return result


def plot(runs: list[dict[str, Any]]) -> str:
    """Held-out failures fixed against held-out correct predictions kept, one line per sweep (mean over seeds)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    for method in runs[0]["points"]:
        rows = [run["points"][method] for run in runs]
        x = [100 * statistics.fmean(r[i]["remaining"] for r in rows) for i in range(len(rows[0]))]
        y = [100 * statistics.fmean(r[i]["held_out_failures"] for r in rows) for i in range(len(rows[0]))]
        nets = [statistics.fmean(r[i]["net_change"] for r in rows) for i in range(len(rows[0]))]
        ax.plot(x, y, marker="o", label=method)
        for xi, yi, net in zip(x, y, nets, strict=True):
            ax.annotate(f"{net:+.1f}", (xi, yi), fontsize=7, textcoords="offset points", xytext=(3, 3))
    ax.set(xlabel="accuracy on T_h ∖ F (%)", ylabel="accuracy on F_h (%)")
    ax.legend(fontsize=8)
    return to_data_uri(fig)


@EXPERIMENTS.register("treatment-tradeoff")
def treatment_tradeoff(seed: int, quick: bool, *, work: Path | None = None, seeds: list[int] | None = None) -> Result:
    seeds = seeds or list(range(seed, seed + (1 if quick else 3)))
    runs = [study(s, quick, work) for s in seeds]
    table: dict[str, Any] = {}
    for method in runs[0]["points"]:
        rows = [run["points"][method] for run in runs]
        table[method] = [
            {key: statistics.fmean(float(r[i][key]) for r in rows) for key in rows[0][i]} for i in range(len(rows[0]))
        ]
    return Result(
        title="Treatment trade-off: EWC-deletion against Newton removal, top 15 % causes",
        summary={"sweeps": table, "runs": runs, "settings": {"seeds": seeds, "fraction": FRACTION}},
        description=(
            f"The default scorer's top {FRACTION:.0%} of the training set on the demo's setting is removed by "
            "EWC-deletion at each γ and by Newton removal at each step size (no back-off, so the raw trade-off shows), "
            "beside fine-tuning on D ∖ C. Each point: accuracy on the held-out failures F_h against accuracy on the "
            "held-out correct predictions T_h ∖ F, mean over seeds, labelled with its net change in points."
        ),
        figures=[(plot(runs), "F_h accuracy against T_h ∖ F accuracy; labels: net change (points).")],
    )
