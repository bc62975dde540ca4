"""Named experiments (``remedy experiment NAME``): each reproduces a study and writes summary.json + report.html."""

from __future__ import annotations

import time
from pathlib import Path

from remedy.errors import check
from remedy.experiments.base import EXPERIMENTS, Result
from remedy.io import write_json
from remedy.registry import import_all

import_all(__name__)


def run_experiment(
    name: str,
    out: str | Path,
    seed: int = 0,
    quick: bool = False,
    seeds: list[int] | None = None,
    settings: list[str] | None = None,
    scorers: list[str] | None = None,
) -> tuple[Result, Path]:
    """Run the named experiment and write ``summary.json`` and ``report.html`` into ``out``; ``seeds`` (for the
    experiments that repeat over seeds) replaces their default range, ``settings`` (for those that run several
    settings) their default ones, ``scorers`` (for those that run every scorer) the scorers they run."""
    from remedy.identify import SCORERS
    from remedy.report.experiment import write_experiment_report

    experiment = EXPERIMENTS.get(name, "experiment")
    check(seeds is None or "seeds" in EXPERIMENTS.options(name), "--seeds", f"an experiment that repeats, not {name}")
    check(
        settings is None or "settings" in EXPERIMENTS.options(name),
        "--setting",
        f"an experiment with several settings, not {name}",
    )
    check(
        scorers is None or "scorers" in EXPERIMENTS.options(name),
        "--scorers",
        f"an experiment that runs every scorer, not {name}",
    )
    unknown = [s for s in scorers or () if s not in SCORERS.names()]
    check(not unknown, "--scorers", f"registered scorers ({', '.join(SCORERS.names())}), not {', '.join(unknown)}")
    extra = (
        {"work": Path(out) / "work"}
        | ({"seeds": seeds} if seeds else {})
        | ({"settings": settings} if settings else {})
        | ({"scorers": scorers} if scorers else {})
    )
    start = time.perf_counter()
    result = experiment(seed, quick, **EXPERIMENTS.accepted(name, extra))
    result.summary["seconds"] = time.perf_counter() - start
    result.summary.setdefault("settings", {}).update(seed=seed, quick=quick, experiment=name)
    Path(out).mkdir(parents=True, exist_ok=True)
    write_json(Path(out) / "summary.json", result.summary)
    return result, write_experiment_report(name, result, out)


__all__ = ["EXPERIMENTS", "Result", "run_experiment"]
