"""The speed table (Tanno et al. App. B.2, Table 1): the total identification time of every registered scorer on the
demo's task, in training epochs of the same model measured in the same run (median of 3 runs), beside the paper's K80
seconds as ratios to its fastest method, and each scorer's peak resident memory while it ran."""

from __future__ import annotations

import os
import resource
import statistics
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from remedy.experiments.base import EXPERIMENTS, Result, one_setting
from remedy.experiments.causes import SETTINGS, config_for
from remedy.experiments.studies import left_out
from remedy.identify import SCORERS, identify
from remedy.pipeline import demo_task
from remedy.workflow import setup

PAPER_SECONDS = {
    "ewc-influence": 9.8,
    "linear-influence (GD)": 11.2,
    "linear-influence (SA)": 16.4,
    "sgd-influence": 185.0,
}
"""Tanno et al.'s Table 1, MNIST, seconds on one K80 GPU."""

QUICK_SCORERS = ("ewc-influence", "linear-influence", "puma", "self-loss")

DATASET = {"mnist-pairs": "mnist", "digits-pairs": "digits"}
"""Each setting's dataset, whose :data:`~remedy.experiments.studies.COSTLY` scorers a full run leaves out."""

SETTINGS_RUN = tuple(DATASET)
"""``--setting``: the demo's task on MNIST (the default) or on scikit-learn's digits."""


class PeakMemory:
    """The largest resident set size of this process while the block runs (sampled every 20 ms from
    ``/proc/self/statm``; elsewhere the process's lifetime peak from ``getrusage``), and the size before it."""

    def __enter__(self) -> PeakMemory:
        self.before = self.peak = _resident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _resident())

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _resident())


def _resident() -> int:
    """This process's resident set size in bytes."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def study(seed: int, quick: bool, runs: int, setting: str, only: list[str] | None = None) -> dict[str, Any]:
    """Every scorer on the demo's problem in ``setting`` (those costly on its dataset left out; the
    :data:`QUICK_SCORERS` for ``--quick``), or ``only`` these, ``runs`` times each, in the same process as the
    training whose epoch is the unit."""
    skip = left_out(quick, DATASET[setting], only)
    names = only or (list(QUICK_SCORERS) if quick else [n for n in SCORERS.names() if n not in skip])
    config = replace(config_for(SETTINGS[setting], seed, quick), compare=(), peers=())
    task, about = demo_task(replace(config, compare=tuple(names)))
    problem = setup(task, config)
    epoch = about["train_epoch_seconds"]
    rows: dict[str, Any] = {}
    for name in names:
        method, options = config.scorer_options(name)
        seconds, peaks = [], []
        for _ in range(runs):
            fresh = setup(task, config).posterior  # nothing cached from an earlier run
            with PeakMemory() as memory:
                start = time.perf_counter()
                identify(fresh, problem.split.query, method, **options)
                seconds.append(time.perf_counter() - start)
            peaks.append(memory.peak - memory.before)
        epochs = [s / epoch for s in seconds]
        rows[name] = {
            "median": statistics.median(epochs),
            "runs": epochs,
            "seconds": seconds,
            "peak_rss_mb": max(peaks) / 2**20,
        }
    return {
        "epoch_seconds": epoch,
        "epochs": rows,
        "dataset": about["dataset"],
        "n_train": problem.posterior.n,
        "left_out": skip,
    }


@EXPERIMENTS.register("speed")
def speed(
    seed: int,
    quick: bool,
    *,
    work: Path | None = None,
    settings: list[str] | None = None,
    scorers: list[str] | None = None,
) -> Result:
    setting = one_setting(settings, SETTINGS_RUN, "digits-pairs" if quick else "mnist-pairs")
    found = study(seed, quick, 1 if quick else 3, setting, scorers)
    fastest = min(PAPER_SECONDS.values())
    paper = {name: {"seconds": s, "ratio": s / fastest} for name, s in PAPER_SECONDS.items()}
    ewc = found["epochs"].get("ewc-influence", {}).get("median")
    findings = [
        f"{name}: {row['median']:.1f} epochs (runs {', '.join(f'{e:.1f}' for e in row['runs'])}), "
        f"{row['peak_rss_mb']:.0f} MB peak" + (f", {row['median'] / ewc:.1f}× EWC-influence" if ewc else "")
        for name, row in sorted(found["epochs"].items(), key=lambda item: item[1]["median"])
    ] + [f"{name} not timed here: {why}" for name, why in found["left_out"].items()]
    return Result(
        title=f"Speed: every scorer's identification time in training epochs ({setting})",
        summary={"epochs": found["epochs"], "paper": paper, "epoch_seconds": found["epoch_seconds"], "run": found},
        description=(
            f"Every registered scorer on the demo's problem ({found['dataset']}, {found['n_train']} training images), "
            f"{1 if quick else 3} runs each on a fresh posterior (nothing cached between runs), in epochs of the "
            f"model's own training measured in the same run ({found['epoch_seconds']:.2f} s), with the peak resident "
            "memory above the process's size before the run. Tanno et al.'s Table 1 (MNIST, K80 seconds) as ratios to "
            "its fastest method is in summary.json (paper): EWC-influence 1, linear influence 1.14 (GD) and 1.67 (SA), "
            "SGD-influence 18.9."
        ),
        findings=findings,
    )
