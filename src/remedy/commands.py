"""``remedy diagnose`` and ``remedy repair`` on a user's task: the steps of :mod:`remedy.workflow` on the model,
data and training record the task gives, with the run's settings saved beside its results. A repair reads the
diagnosis's ``scores.json`` and refuses scores made on another training set, test set or split."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from remedy.errors import RemedyError, check
from remedy.identify import Scores
from remedy.passes import Chunking
from remedy.task import Task
from remedy.workflow import (
    Evidence,
    Settings,
    describe,
    diagnose,
    environment,
    fingerprints,
    prove,
    score_peers,
    setup,
    write_outputs,
)


@dataclass(frozen=True)
class TaskRun(Settings):
    """The settings of ``remedy diagnose`` / ``remedy repair`` on a task (saved in ``summary.json``): the
    workflow's :class:`~remedy.workflow.Settings` and:

    Attributes:
        cache: a folder for the Fisher and per-chunk results: a killed run resumes from it.
        chunk_mb: the memory for one chunk of per-example work (MiB); streamed batches of inputs get a quarter.
    """

    cache: Path | None = None
    chunk_mb: int = 256

    def check(self) -> None:
        check(self.chunk_mb >= 1, "--memory-mb", f"a positive number of MiB, got {self.chunk_mb}")
        super().check()

    def chunking(self) -> Chunking:
        return Chunking(chunk_bytes=self.chunk_mb * 2**20, cache_dir=self.cache)


def _summary(task: Task, run: TaskRun) -> dict[str, object]:
    return {"task": task.name, "settings": run.to_dict(), "environment": environment()}


def diagnose_task(task: Task, run: TaskRun, out: Path) -> Evidence:
    """Score the task's training set against the failures of its test set's query half and write the evidence
    (``summary.json``, ``scores.csv`` with ``index`` and ``score``, ``scores.json``, ``report-data.safetensors``)
    into ``out``."""
    run.check()
    problem = setup(task, run, run.chunking())
    found = diagnose(problem, run)
    found.summary |= _summary(task, run) | {"fingerprints": fingerprints(problem)}
    write_outputs(out, found)
    return found


def diagnosis(causes: Path) -> dict[str, str]:
    """What the diagnosis behind ``causes`` (a ``scores.csv``) ranked: its ``scores.json`` beside it."""
    path = causes.parent / "scores.json"
    check(causes.is_file(), "--causes", f"a diagnosis's scores.csv, found nothing at {causes}")
    check(
        path.is_file(), "--causes", f"a scores.csv written by remedy diagnose, with its scores.json beside it ({path})"
    )
    return json.loads(path.read_text())


def repair_task(task: Task, run: TaskRun, causes: Path, out: Path) -> Evidence:
    """Treat the top causes of ``causes`` (a diagnosis's ``scores.csv``) and prove it: the scoreboard on the
    held-out half against no removal, random removal and the peers, written into ``out``. The task's model,
    training set, test set and the split's seed must be the diagnosis's."""
    run.check()
    made = diagnosis(causes)
    problem = setup(task, run, run.chunking())
    now = fingerprints(problem)
    differ = [key for key in ("model", "train", "test", "seed") if made.get(key) != now[key]]
    if differ:
        raise RemedyError(
            f"--causes: expected scores of this task's model, training set, test set and seed, but its "
            f"{' and '.join(differ)} differ from the diagnosis's (repair with the diagnosis's task, weights and seed)"
        )
    scores = Scores.load(causes, method=made.get("method", "loaded"))
    peers = score_peers(problem, run)
    repaired, models = prove(problem, scores, run, peers)
    summary = repaired | describe(problem, scores) | _summary(task, run) | {"fingerprints": now}
    evidence = Evidence(summary, scores, models={"original": problem.posterior.model, **models})
    write_outputs(out, evidence)
    return evidence
