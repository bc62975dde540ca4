"""Diagnose → repair → prove: the one pipeline behind ``remedy demo``, ``remedy diagnose|repair`` and the causes
benchmark, so that the benchmark can never measure a pipeline other than the one shipped.

:func:`setup` builds the problem from a :class:`~remedy.task.Task` (the posterior, the test split, the processes'
agreement); :func:`diagnose` scores the training set with the scorer and its peers and describes the failures;
:func:`prove` chooses how many causes to treat on the guard, treats them with every treatment seed, and measures the
treatment against its controls on the held-out half; :func:`run` does all three; :func:`write_outputs` writes the
evidence (``summary.json``, ``scores.csv``, ``scores.json``, ``report-data.safetensors``, weights) that ``remedy
report`` renders.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from remedy.cache import fingerprint
from remedy.chunks import agree, world
from remedy.data.split import QueryHalf, Split, parse_modes, split_test
from remedy.estimate import estimate
from remedy.evaluate import detection_curve, evaluate
from remedy.evaluate.directions import directed
from remedy.evaluate.scoreboard import (
    Trial,
    choose_count,
    controls,
    difference,
    held_out_curve,
    measure,
    random_ranking,
    removal_value,
    verdict,
)
from remedy.examples import as_examples
from remedy.identify import Scores, identify
from remedy.identify.scores import SIGN
from remedy.io import atomic_write, save_weights, to_jsonable, write_json
from remedy.models.crossval import probabilities
from remedy.passes import Chunking
from remedy.posterior import Posterior
from remedy.settings import Settings
from remedy.task import Task

TOP = 16
"""Causes shown in the report (with images for image data)."""


@dataclass
class Problem:
    """What every step works on: the task, its posterior and its test split."""

    task: Task
    posterior: Posterior
    split: Split

    @property
    def corrupted(self) -> Tensor | None:
        corrupted = self.task.corrupted
        return None if corrupted is None else torch.as_tensor(corrupted).bool().cpu()


@dataclass
class Evidence:
    """What a run found: the summary (JSON), the scores, the tensors the report draws (inputs of the top causes) and
    the repaired models to save."""

    summary: dict[str, Any]
    scores: Scores
    report_data: dict[str, Tensor] = field(default_factory=dict)
    models: dict[str, nn.Module] = field(default_factory=dict)


def fingerprints(problem: Problem) -> dict[str, str]:
    """Short hashes of the model, the training set and the test set: what ties scores to the data they rank, and
    what every process of a sharded run must share."""
    passes, split = problem.posterior.passes, problem.split
    test = as_examples(problem.task.test, "test")
    return {
        "model": passes.key.get("model") or fingerprint(problem.posterior.model),
        "train": passes.key.get("data") or fingerprint(problem.posterior.train),
        "test": fingerprint(test),
        "seed": str(split.seed),
    }


def posterior_of(task: Task, params: tuple[str, ...], chunking: Chunking | None) -> Posterior:
    """The posterior of ``task`` (its model, data, loss, weight decay and record) on the parameters ``params``."""
    return Posterior(
        task.model,
        task.train,
        task.loss,
        weight_decay=task.weight_decay,
        record=task.record,
        chunking=chunking,
        params=params,
    )


def setup(task: Task, settings: Settings, chunking: Chunking | None = None) -> Problem:
    """The posterior of ``task`` and its test split by ``settings.seed``; under ``torchrun`` the processes check that
    they hold the same model, training set and test set, and stop with one line naming what differs."""
    posterior = posterior_of(task, settings.params or task.params, chunking)
    settings.allow_params(posterior.params)
    settings.require(posterior.record)
    modes = parse_modes(settings.failures) if settings.failures else None
    problem = Problem(task, posterior, split_test(task.model, task.test, seed=settings.seed, modes=modes))
    if world()[1] > 1:
        agree(fingerprints(problem))
    return problem


def score_peers(problem: Problem, settings: Settings) -> dict[str, Scores]:
    """Every peer's (and compared scorer's) scores, each on a posterior of its own with the run's memory budget but
    not its cache, so that its wall time includes everything it needs."""
    chunking = replace(problem.posterior.passes.chunking, cache_dir=None)
    peers = {}
    for spec in (*settings.peers, *settings.compare):
        name, options = settings.scorer_options(spec)
        own = posterior_of(problem.task, problem.posterior.params, chunking)
        peers[spec] = identify(own, problem.split.query, name, **options)
    return peers


def _curve(values: Tensor, corrupted: Tensor, points: int = 400) -> dict[str, list[float]]:
    """The detection curve, thinned to at most ``points`` points for the report."""
    curve = detection_curve(values, corrupted)
    keep = torch.linspace(0, len(values) - 1, min(points, len(values))).round().long()
    return {
        "inspected": curve.inspected[keep].tolist(),
        "found": curve.found[keep].tolist(),
        "oracle": curve.oracle[keep].tolist(),
    }


def diagnose(
    problem: Problem, settings: Settings, peers: Mapping[str, Scores] | None = None, modes: int = 3
) -> Evidence:
    """Score every training example with the settings' scorer; describe the split, the failure modes, the top causes
    (overall and for each of the ``modes`` most common failure modes alone) and, when the task knows its corrupted
    examples, the detection curve beside the ``peers``'."""
    posterior, query = problem.posterior, problem.split.query
    method, options = settings.scorer_options()
    groups = [(mode, members) for mode, members in query.mode_groups()[:modes] if mode is not None and len(members) > 1]
    cost = estimate(posterior, method, len(query.failures), options, runs=1 + len(groups), guard=len(query.guard))
    if world()[0] == 0:
        print(f"remedy: {cost.line()}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    scores = identify(posterior, query, method, **options)
    mode_causes: dict[str, list[int]] = {}
    for mode, members in groups:
        only = query.subset(members)
        values = identify(
            posterior, QueryHalf.of(only.failures, guard=only.failures, seed=query.seed), method, **options
        ).values
        mode_causes[f"{mode[0]} → {mode[1]}"] = torch.argsort(values, descending=True, stable=True)[: TOP // 2].tolist()
    summary = describe(problem, scores, mode_causes)
    summary["identify"]["estimate"] = cost.to_dict() | {"seconds_measured": time.perf_counter() - start}
    corrupted = problem.corrupted
    if corrupted is not None and bool(corrupted.any()):
        curve = detection_curve(scores.values, corrupted)
        summary["detection"] = {
            "auc": curve.auc,
            "random_auc": curve.random_auc,
            "oracle_auc": curve.oracle_auc,
            "found_at_10pct": curve.found_at(0.1),
            "curves": {method: _curve(scores.values, corrupted)},
        }
    for name, peer in (peers or {}).items():
        entry = {"seconds": peer.seconds}
        if corrupted is not None and bool(corrupted.any()):
            summary["detection"]["curves"][name] = _curve(peer.values, corrupted)
            entry["detection_auc"] = detection_curve(peer.values, corrupted).auc
        summary.setdefault("peers", {})[name] = entry
    data: dict[str, Tensor] = {}
    top = scores.ranking()[:TOP]
    first = posterior.train.take(top[:1]).x
    if isinstance(first, Tensor) and first.ndim == 4:  # images: keep the inputs the report shows
        data["top"] = posterior.train.take(top).x.cpu()
        for k, idx in enumerate(mode_causes.values()):
            data[f"mode-{k}"] = posterior.train.take(torch.tensor(idx)).x.cpu()
    return Evidence(summary, scores, data)


def describe(problem: Problem, scores: Scores, mode_causes: Mapping[str, list[int]] | None = None) -> dict[str, Any]:
    """The summary of a diagnosis: the scorer, the split, the failure modes, the top causes (with their given
    and, when known, true labels) and the top causes of single modes."""
    posterior, split, task = problem.posterior, problem.split, problem.task
    labels = posterior.train.labels.cpu()
    corrupted = problem.corrupted

    def row(i: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"index": i, "score": float(scores.values[i]), "given": int(labels[i])}
        if task.true_labels is not None:
            entry["true"] = int(task.true_labels[i])
        if corrupted is not None:
            entry["corrupted"] = bool(corrupted[i])
        return entry

    return {
        "identify": {
            "method": scores.method,
            "seconds": scores.seconds,
            "options": scores.options,
            "sign": SIGN,
            **({"estimated_count": scores.count} if scores.count is not None else {}),
            **({"details": scores.details} if scores.details else {}),
        },
        "n_train": posterior.n,
        "parameters": {
            "patterns": list(posterior.params),
            "acted_on": sum(p.numel() for p in posterior.model.parameters() if p.requires_grad),
            "total": sum(p.numel() for p in posterior.model.parameters()),
        },
        "split": {
            "query_half": len(split.query.guard),
            "held_out_half": len(split.held_out.examples),
            "query_failures": len(split.query.failures),
            "held_out_failures": len(split.held_out.failures),
            "held_out_correct": len(split.held_out.remaining),
        },
        "failure_modes": {f"{t} → {p}": n for (t, p), n in split.modes().most_common()},
        "top_causes": [row(int(i)) for i in scores.ranking()[:TOP]],
        "mode_causes": {mode: [row(i) for i in idx] for mode, idx in (mode_causes or {}).items()},
    }


def count_candidates(settings: Settings, n: int, estimated: int | None) -> list[int]:
    """The counts the guard chooses among: the settings' fractions of the training set, and the count the scorer
    estimated itself (a set-aware scorer's), when it gave one."""
    counts = {max(1, round(f * n)) for f in settings.count_fractions}
    if estimated is not None and 1 <= estimated < n:
        counts.add(estimated)
    return sorted(counts)


def train_predictions(posterior: Posterior) -> Tensor:
    """θ̂'s predicted class for every training example (the direction each cause pulls)."""
    return probabilities(posterior.model, posterior.train).argmax(1)


def prove(
    problem: Problem, scores: Scores, settings: Settings, peers: Mapping[str, Scores]
) -> tuple[dict[str, Any], dict[str, nn.Module]]:
    """Treat the top of ``scores`` with each of ``settings.treat`` and every treatment seed (the count chosen on the
    guard among the candidate counts unless ``top_fraction`` is given) and run the first treatment's controls (no
    removal, random draws, random with its count chosen the same way, the ``peers``' top sets, the corrupted examples
    when known); returns the summary's repair part (headline, accuracy before, treatments, controls with their
    paired differences from the repair, count) and the repaired models (the first treatment seed's)."""
    posterior, split, level, corrupted = problem.posterior, problem.split, settings.level, problem.corrupted
    guard = split.query.guard
    before = evaluate(posterior.model, split)["accuracy"]
    first, *others = settings.treat
    main, options = settings.treatment(first)
    trial = Trial(posterior, guard, main, options, settings.delta, settings.seeds())
    ranking = scores.ranking()
    candidates = count_candidates(settings, posterior.n, scores.count)
    if settings.top_fraction is None:
        k, guard_curve = choose_count(trial, ranking, candidates, level, split.seed)
    else:
        k, guard_curve = max(1, round(settings.top_fraction * posterior.n)), []
    rows = {first: measure(posterior, trial.all(ranking[:k]), split, level)}
    rows[first].row["options"] = dict(options)
    models = {first: trial(ranking[:k]).model}
    for spec in others:
        name, own = settings.treatment(spec)
        other = Trial(posterior, guard, name, own, settings.delta, settings.seeds())
        rows[spec] = measure(posterior, other.all(ranking[:k]), split, level)
        rows[spec].row["options"] = dict(own)
        models[spec] = other(ranking[:k]).model
    chosen_among = candidates if settings.top_fraction is None else ()
    peer_values = {name: peers[name].values for name in settings.peers}
    control_rows = controls(
        trial, split, k, peer_values, corrupted, settings.random_draws, settings.seed, chosen_among, level
    )
    for control in control_rows.values():
        control.row["difference"] = difference(rows[first], control, level, split.seed)
    differences = {name: control.row["difference"] for name, control in control_rows.items()}
    nothing, oracle = control_rows["no-removal"], control_rows.get("oracle")
    removal = removal_value(rows[first], nothing, oracle, level, split.seed)
    headline, beats = verdict(rows[first].row, differences, removal, main)
    compared = {}
    for name in settings.compare:
        top = torch.argsort(peers[name].values, descending=True, stable=True)[:k]
        row = measure(posterior, [trial(top, trial.seeds[0])], split, level)
        compared[name] = row.row | {
            "difference": difference(rows[first], row, level, split.seed),
            "removal": removal_value(row, nothing, oracle, level, split.seed),
        }
    curve = []
    if settings.top_fraction is None:
        rankings = {scores.method: ranking, "random": random_ranking(posterior.n, settings.seed)}
        curve = held_out_curve(trial, split, rankings, candidates, level)
    summary = {
        "headline": headline,
        "removal": removal,
        "beats_controls": beats,
        "accuracy_before": before,
        "treatments": {name: row.row for name, row in rows.items()},
        "controls": {name: row.row for name, row in control_rows.items()},
        "count": {
            "chosen": k,
            "rule": "most accurate on the guard" if settings.top_fraction is None else "top_fraction",
            "estimated": scores.count,
            "guard_curve": guard_curve,
            "told_apart": all(point["told_apart"] is not False for point in guard_curve),
            "held_out_curve": curve,
        },
        "directions": directed(posterior.train.labels, train_predictions(posterior), ranking[:k], split.query.modes()),
        "treatment_seeds": list(trial.seeds),
    }
    if compared:
        summary["scorers"] = compared
    if corrupted is not None:
        summary["causes_corrupted"] = float(corrupted[ranking[:k]].double().mean())
        for name, peer in peers.items():
            top = torch.argsort(peer.values, descending=True, stable=True)[:k]
            row = summary["controls"][name] if name in settings.peers else summary["scorers"][name]
            row["causes_corrupted"] = float(corrupted[top].double().mean())
    return summary, models


def environment() -> dict[str, Any]:
    """Where a run ran: versions and threads."""
    return {"torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads()}


def run(task: Task, settings: Settings, chunking: Chunking | None = None) -> Evidence:
    """Diagnose → repair → prove on ``task``: what ``remedy demo`` and the causes benchmark both run."""
    settings.check()
    problem = setup(task, settings, chunking)
    start = time.perf_counter()
    peers = score_peers(problem, settings)
    found = diagnose(problem, settings, peers)
    repaired, models = prove(problem, found.scores, settings, peers)
    found.summary = (
        repaired
        | found.summary
        | {
            "settings": settings.to_dict(),
            "fingerprints": fingerprints(problem),
            "environment": environment(),
            "seconds": time.perf_counter() - start,
        }
    )
    found.models = {"original": problem.posterior.model, **models}
    return found


def write_outputs(out: Path, evidence: Evidence, columns: Mapping[str, Tensor] | None = None) -> None:
    """Write ``summary.json``, ``scores.csv`` (``index``, the ``columns``, ``score``) with ``scores.json`` (what the
    scores rank: the fingerprints and the seed a repair must match), ``report-data.safetensors`` and
    ``<name>.safetensors`` for every model, each atomically, from the first process only."""
    if world()[0] != 0:
        return
    out = Path(out)
    summary = to_jsonable(evidence.summary)
    write_json(out / "summary.json", summary)
    evidence.scores.save(out / "scores.csv", **dict(columns or {}))
    if "fingerprints" in summary:
        write_json(out / "scores.json", {"method": evidence.scores.method, **summary["fingerprints"]})
    tensors = {key: value.contiguous() for key, value in evidence.report_data.items()}
    atomic_write(out / "report-data.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    for name, model in evidence.models.items():
        save_weights(out / f"{name}.safetensors", model)
