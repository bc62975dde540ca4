"""Named experiments (``remedy experiment NAME``): each reproduces a study and writes summary.json + report.html."""

from __future__ import annotations

import time
from pathlib import Path

from remedy.experiments.base import EXPERIMENTS, Result
from remedy.io import write_json
from remedy.registry import import_all

import_all(__name__)


def run_experiment(name: str, out: str | Path, seed: int = 0, quick: bool = False) -> tuple[Result, Path]:
    """Run the named experiment and write ``summary.json`` and ``report.html`` into ``out``."""
    from remedy.report.experiment import write_experiment_report

    experiment = EXPERIMENTS.get(name)
    start = time.perf_counter()
    result = experiment(seed, quick, **EXPERIMENTS.accepted(name, {"work": Path(out) / "work"}))
    result.summary["seconds"] = time.perf_counter() - start
    result.summary.setdefault("settings", {}).update(seed=seed, quick=quick, experiment=name)
    Path(out).mkdir(parents=True, exist_ok=True)
    write_json(Path(out) / "summary.json", result.summary)
    return result, write_experiment_report(name, result, out)


__all__ = ["EXPERIMENTS", "Result", "run_experiment"]
