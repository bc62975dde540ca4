"""Diagnose → repair → prove on any posterior and test split: the steps the demo and the command line share.

:func:`diagnose` scores the training set and describes the failures; :func:`prove` chooses how many causes to
treat on the guard, treats them, and measures the treatment against its controls on the held-out half;
:func:`write_outputs` writes the evidence (``summary.json``, ``scores.csv``, ``report-data.safetensors``, weights)
that ``remedy report`` renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from remedy.chunks import world
from remedy.curvature import InverseSettings
from remedy.data.failures import Failures
from remedy.errors import check
from remedy.evaluate import detection_curve, evaluate
from remedy.evaluate.scoreboard import Trial, choose_count, controls, count_curve, outcome, random_ranking, verdict
from remedy.identify import SCORERS, Scores, identify
from remedy.io import atomic_write, save_weights, to_jsonable, write_json
from remedy.posterior import Posterior
from remedy.treat import DEFAULT_DELTA, TREATMENTS

TOP = 16
"""Causes shown in the report (with images for image data)."""


@dataclass(frozen=True)
class Settings:
    """The settings of diagnose → repair → prove, saved in every ``summary.json``.

    Attributes:
        seed: splits the test set into its query and held-out halves, and seeds every random choice.
        failures: only these failure modes, e.g. ``"4->9,7->1"`` (true → predicted); default all failures.
        identify: the scorer; identify_options: its own options (default: PUMA's valuation of the query half's
            loss, the benchmark's winner, see ``docs/causes.md``).
        inverse: the damped inverse curvature of the second-order methods; its seed is replaced by ``seed``.
        metric: for ``puma``: the metric whose harm is scored.
        treat: treatments; the first is the one the count is chosen for and the controls are run with.
        top_fraction: treat this fraction of the training set, most harmful first; ``None`` (default) chooses
            the count among ``count_fractions`` on the guard (the query half of the test set).
        count_fractions: the candidate counts, as fractions of the training set.
        peers: scorers a user would pick instead; their top sets are treated as controls.
        random_draws: random sets of causes the random control averages over.
        delta: a treatment may cost this much accuracy on the guard before it backs off.
    """

    seed: int = 0
    failures: str | None = None
    identify: str = "puma"
    identify_options: dict[str, Any] = field(default_factory=lambda: {"target": "guard"})
    inverse: InverseSettings = field(default_factory=InverseSettings)
    metric: str = "loss"
    treat: tuple[str, ...] = ("finetune",)
    top_fraction: float | None = None
    count_fractions: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.2)
    peers: tuple[str, ...] = ("self-loss",)
    random_draws: int = 3
    delta: float = DEFAULT_DELTA

    def shared(self) -> dict[str, Any]:
        """The run-wide settings a method receives when it declares them as options."""
        return {"seed": self.seed, "inverse": replace(self.inverse, seed=self.seed), "metric": self.metric}

    def scorer_options(self) -> dict[str, Any]:
        """The scorer's options: the run-wide ones it declares, then its own."""
        return {**SCORERS.accepted(self.identify, self.shared()), **self.identify_options}

    def check(self) -> None:
        """One-line errors for unknown methods or options and out-of-range settings."""
        SCORERS.check_options(self.identify, self.scorer_options())
        check(len(self.treat) > 0, "--treat", "at least one treatment")
        for name in self.treat:
            TREATMENTS.get(name)
        for name in self.peers:
            SCORERS.get(name)
        if self.top_fraction is not None:
            check(0.0 < self.top_fraction < 1.0, "--top-fraction", f"a fraction in (0, 1), got {self.top_fraction}")
        check(all(0 < f < 1 for f in self.count_fractions), "count_fractions", "fractions in (0, 1)")
        check(self.random_draws >= 2, "random_draws", f"at least 2 draws for a spread, got {self.random_draws}")


@dataclass
class Evidence:
    """What a run found: the summary (JSON), the tensors the report draws (inputs of the top causes), the scores
    and the repaired models to save."""

    summary: dict[str, Any]
    scores: Scores
    report_data: dict[str, Tensor] = field(default_factory=dict)
    models: dict[str, nn.Module] = field(default_factory=dict)


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
    posterior: Posterior,
    failures: Failures,
    method: str,
    options: Mapping[str, Any],
    *,
    corrupted: Tensor | None = None,
    true_labels: Tensor | None = None,
    peers: Mapping[str, Scores] | None = None,
    modes: int = 3,
) -> Evidence:
    """Score every training example with the named scorer; describe the split, the failure modes, the top causes
    (overall and for each of the ``modes`` most common failure modes alone) and, when the ``corrupted`` examples
    are known, the detection curve beside the ``peers``'."""
    scores = identify(posterior, failures, method, **options)
    top = scores.ranking()[:TOP]
    mode_causes: dict[str, list[int]] = {}
    for mode, members in failures.mode_groups()[:modes]:
        if mode is None or len(members) < 2:
            continue
        only = failures.query[members.to(failures.query.y.device)]
        values = identify(
            posterior, Failures.from_query(only, guard=only, seed=failures.seed), method, **options
        ).values
        mode_causes[f"{mode[0]} → {mode[1]}"] = torch.argsort(values, descending=True, stable=True)[: TOP // 2].tolist()
    summary = describe(posterior, failures, scores, mode_causes, corrupted, true_labels)
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
            summary["detection"]["curves"][name] = _curve(peer.values, corrupted)
            summary.setdefault("peers", {})[name] = {
                "seconds": peer.seconds,
                "detection_auc": detection_curve(peer.values, corrupted).auc,
            }
    data: dict[str, Tensor] = {}
    first = posterior.train.take(top[:1]).x
    if first.ndim == 4:  # images: keep the inputs the report shows
        data["top"] = posterior.train.take(top).x.cpu()
        for k, idx in enumerate(mode_causes.values()):
            data[f"mode-{k}"] = posterior.train.take(torch.tensor(idx)).x.cpu()
    return Evidence(summary, scores, data)


def describe(
    posterior: Posterior,
    failures: Failures,
    scores: Scores,
    mode_causes: Mapping[str, list[int]] | None = None,
    corrupted: Tensor | None = None,
    true_labels: Tensor | None = None,
) -> dict[str, Any]:
    """The summary of a diagnosis: the scorer, the split, the failure modes, the top causes (with their given
    and, when known, true labels) and the top causes of single modes."""
    labels = posterior.train.labels.cpu()

    def row(i: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"index": i, "score": float(scores.values[i]), "given": int(labels[i])}
        if true_labels is not None:
            entry["true"] = int(true_labels[i])
        if corrupted is not None:
            entry["corrupted"] = bool(corrupted[i])
        return entry

    return {
        "identify": {"method": scores.method, "seconds": scores.seconds, "options": scores.options},
        "n_train": posterior.n,
        "split": {
            "query_half": len(failures.guard),
            "held_out_half": len(failures.held_out),
            "query_failures": len(failures.query),
            "held_out_failures": len(failures.holdout),
            "held_out_correct": len(failures.remaining),
        },
        "failure_modes": {f"{t} → {p}": n for (t, p), n in failures.modes().most_common()},
        "top_causes": [row(int(i)) for i in scores.ranking()[:TOP]],
        "mode_causes": {mode: [row(i) for i in idx] for mode, idx in (mode_causes or {}).items()},
    }


def prove(
    posterior: Posterior,
    failures: Failures,
    scores: Scores,
    settings: Settings,
    peers: Mapping[str, Scores],
    corrupted: Tensor | None = None,
) -> tuple[dict[str, Any], dict[str, nn.Module]]:
    """Treat the top of ``scores`` with each of ``settings.treat`` (the count chosen on the guard among the
    candidate counts unless ``top_fraction`` is given) and the first treatment's controls (no removal, random
    draws, the ``peers``' top sets, the ``corrupted`` examples when known); returns the summary's repair part
    (headline, accuracy before, treatments, controls, count) and the repaired models."""
    shared, top_fraction, seed = settings.shared(), settings.top_fraction, settings.seed
    before = evaluate(posterior.model, failures)["accuracy"]
    net_before = before["net"]
    main, *others = settings.treat
    trial = Trial(posterior, failures, main, TREATMENTS.accepted(main, shared), settings.delta)
    ranking = scores.ranking()
    candidates = sorted({max(1, round(f * posterior.n)) for f in settings.count_fractions})
    if top_fraction is None:
        k, guard_curve = choose_count(trial, ranking, candidates)
    else:
        k, guard_curve = max(1, round(top_fraction * posterior.n)), []
    result = trial(ranking[:k])
    rows = {main: outcome(result, failures, net_before) | {"options": dict(trial.options)}}
    models = {main: result.model}
    for name in others:
        options = TREATMENTS.accepted(name, shared)
        other = Trial(posterior, failures, name, options, settings.delta)(ranking[:k])
        rows[name], models[name] = outcome(other, failures, net_before) | {"options": options}, other.model
    peer_values = {name: peer.values for name, peer in peers.items()}
    chosen_among = candidates if top_fraction is None else ()
    control_rows = controls(trial, k, net_before, peer_values, corrupted, settings.random_draws, seed, chosen_among)
    headline, beats = verdict(rows[main]["net_change"], control_rows)
    # the peers' rows at the chosen count are in controls
    rankings = {scores.method: ranking, "random": random_ranking(posterior.n, seed)}
    net_curve = count_curve(trial, rankings, candidates, net_before) if top_fraction is None else []
    summary = {
        "headline": headline,
        "beats_controls": beats,
        "accuracy_before": before,
        "treatments": rows,
        "controls": control_rows,
        "count": {
            "chosen": k,
            "rule": "best guard accuracy" if top_fraction is None else "top_fraction",
            "guard_curve": guard_curve,
            "net_curve": net_curve,
        },
    }
    if corrupted is not None:
        summary["causes_corrupted"] = float(corrupted[ranking[:k]].double().mean())
    return summary, models


def write_outputs(out: Path, evidence: Evidence, columns: Mapping[str, Tensor] | None = None) -> None:
    """Write ``summary.json``, ``scores.csv`` (``index``, the ``columns``, ``score``), ``report-data.safetensors``
    and ``<name>.safetensors`` for every model, each atomically, from the first process only."""
    if world()[0] != 0:
        return
    out = Path(out)
    write_json(out / "summary.json", to_jsonable(evidence.summary))
    evidence.scores.save(out / "scores.csv", **dict(columns or {}))
    tensors = {key: value.contiguous() for key, value in evidence.report_data.items()}
    atomic_write(out / "report-data.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    for name, model in evidence.models.items():
        save_weights(out / f"{name}.safetensors", model)
