"""``remedy diagnose`` and ``remedy repair`` on a user's task: the workflow of :mod:`remedy.workflow` on the
model, data and training recipe the task gives, with the run's settings saved beside its results."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from remedy.data.failures import Failures, parse_modes, split_failures
from remedy.errors import check
from remedy.identify import SCORERS, Scores, identify
from remedy.models.fit import TrainConfig
from remedy.posterior import Posterior
from remedy.task import Task
from remedy.workflow import Evidence, Settings, describe, diagnose, prove, write_outputs


@dataclass(frozen=True)
class TaskRun(Settings):
    """The settings of ``remedy diagnose`` / ``remedy repair`` on a task (saved in ``summary.json``): the
    workflow's :class:`~remedy.workflow.Settings` (repair must use the diagnosis's seed, so that it splits the
    test set the same way; the command line reads it from the diagnosis's ``summary.json``) and:

    Attributes:
        cache: a folder for the Fisher and per-chunk results: a killed run resumes from it.
        chunk_mb: the memory for one chunk of per-example work (MiB); streamed batches of inputs get a quarter.
    """

    cache: Path | None = None
    chunk_mb: int = 256


def _problem(task: Task, run: TaskRun) -> tuple[Posterior, Failures]:
    posterior = Posterior(
        task.model,
        task.train,
        task.loss,
        config=task.config or TrainConfig(),
        weight_decay=task.weight_decay,
        init=task.init,
        checkpoints=task.checkpoints,
        cache_dir=run.cache,
        chunk_bytes=run.chunk_mb * 2**20,
    )
    modes = parse_modes(run.failures) if run.failures else None
    return posterior, split_failures(task.model, task.test, seed=run.seed, modes=modes)


def _settings(task: Task, run: TaskRun) -> dict[str, Any]:
    settings = asdict(replace(run, treat=list(run.treat), peers=list(run.peers), cache=str(run.cache)))
    environment = {"torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads()}
    return {"task": task.name, "settings": settings, "environment": environment}


def diagnose_task(task: Task, run: TaskRun, out: Path) -> Evidence:
    """Score the task's training set against the failures of its test set's query half and write the evidence
    (``summary.json``, ``scores.csv`` with ``index`` and ``score``, ``report-data.safetensors``) into ``out``."""
    run.check()
    posterior, failures = _problem(task, run)
    corrupted = None if task.corrupted is None else torch.as_tensor(task.corrupted).bool().cpu()
    found = diagnose(posterior, failures, run.identify, run.scorer_options(), corrupted=corrupted)
    found.summary |= _settings(task, run)
    write_outputs(out, found)
    return found


def repair_task(task: Task, run: TaskRun, causes: Path, out: Path) -> Evidence:
    """Treat the top causes of ``causes`` (a diagnosis's ``scores.csv``) and prove it: the scoreboard on the
    held-out half against no removal, random removal and the peers, written into ``out``."""
    run.check()
    posterior, failures = _problem(task, run)
    scores = Scores.load(causes, method=_diagnosed_by(causes))
    check(len(scores) == posterior.n, "--causes", f"one score per training example ({posterior.n}), got {len(scores)}")
    peers = {name: identify(posterior, failures, name, **SCORERS.accepted(name, run.shared())) for name in run.peers}
    corrupted = None if task.corrupted is None else torch.as_tensor(task.corrupted).bool().cpu()
    repaired, models = prove(posterior, failures, scores, run, peers, corrupted)
    summary = repaired | describe(posterior, failures, scores) | _settings(task, run)
    evidence = Evidence(summary, scores, models={"original": posterior.model, **models})
    write_outputs(out, evidence)
    return evidence


def _diagnosed_by(causes: Path) -> str:
    """The scorer named in the diagnosis's ``summary.json`` beside ``causes``, if there is one."""
    summary = causes.parent / "summary.json"
    if summary.is_file():
        return str(json.loads(summary.read_text()).get("identify", {}).get("method", "loaded"))
    return "loaded"
