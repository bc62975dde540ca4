"""The demo: corrupt a built-in dataset, train, diagnose, repair and prove it against honest controls — one call,
one folder of evidence."""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from remedy.curvature import InverseSettings
from remedy.data import Corruption, DatasetSplit, flip_labels, flip_uniform, load_dataset, pair_matrix, parse_pairs
from remedy.data.failures import Failures, parse_modes, split_failures
from remedy.errors import check
from remedy.evaluate import detection_curve, evaluate
from remedy.evaluate.scoreboard import Trial, choose_count, controls, count_curve, outcome, verdict
from remedy.identify import SCORERS, Scores, identify
from remedy.io import save_weights, to_jsonable, write_json
from remedy.models import build_model, train_model
from remedy.models.train import TrainConfig
from remedy.posterior import Posterior
from remedy.seeds import stream
from remedy.task import Examples
from remedy.treat import DEFAULT_DELTA, TREATMENTS

DEFAULT_FLIPS = {"mnist": "1-7:0.3,4-9:0.3,3-5:0.3", "digits": "1-7:0.3,4-9:0.3,3-5:0.3"}
DEFAULT_FLIP_RATE = 0.2
PEERS = ("cleanlab", "self-loss")
"""The scorers a user would pick instead; their top sets are treated as controls."""


@dataclass(frozen=True)
class DemoConfig:
    """Every setting of a demo run (all recorded in ``summary.json`` and the report).

    Attributes:
        dataset: a built-in dataset name (see ``remedy.data.DATASETS``).
        seed: drives the corruption, the initialisation, the test split and every mini-batch order.
        flip: class pairs and probabilities, e.g. ``"1-7:0.3,4-9:0.3"``; default per dataset.
        flip_rate: uniform label flips at this rate instead of ``flip``.
        failures: only these failure modes, e.g. ``"4->9,7->1"`` (true → predicted); default all failures.
        identify: scorer name; identify_options: its own options (e.g. ``{"per": "mode"}``).
        treat: treatment names; the first is the one the count is chosen for and the controls are run with.
        top_fraction: treat this fraction of the training set, most harmful first; ``None`` (default) chooses
            the count among ``count_fractions`` on the guard (the query half of the test set).
        count_fractions: the candidate counts, as fractions of the training set.
        random_draws: random sets of causes the random control averages over.
        delta: a treatment may cost this much accuracy on the guard before it backs off.
        model: ``cnn`` / ``mlp`` / ``logreg``; default ``cnn`` for images, ``mlp`` otherwise.
        quick: a smaller dataset and at most 15 epochs per fit, for trying things.
        inverse: the damped inverse curvature of the second-order methods; its seed is replaced by ``seed``.
        metric: for ``puma``: the metric of F_q whose harm is scored, and of the kept data that patching keeps.
    """

    dataset: str = "mnist"
    seed: int = 0
    flip: str | None = None
    flip_rate: float | None = None
    failures: str | None = None
    identify: str = "puma"
    identify_options: dict[str, Any] = field(default_factory=lambda: {"target": "guard"})
    treat: tuple[str, ...] = ("finetune", "relabel", "ewc-deletion", "retrain")
    top_fraction: float | None = None
    count_fractions: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.2)
    random_draws: int = 3
    delta: float = DEFAULT_DELTA
    model: str | None = None
    quick: bool = False
    inverse: InverseSettings = field(default_factory=InverseSettings)
    metric: str = "loss"

    def shared(self) -> dict[str, Any]:
        """The run-wide settings a method receives when it declares them as options."""
        return {"seed": self.seed, "inverse": replace(self.inverse, seed=self.seed), "metric": self.metric}


@dataclass
class DemoRun:
    """Everything a report needs: the data, the scores, the causes, the per-mode causes and the summary."""

    config: DemoConfig
    data: DatasetSplit
    corruption: Corruption
    failures: Failures
    scores: Scores
    peers: dict[str, Scores]
    causes: torch.Tensor
    mode_causes: dict[str, torch.Tensor]
    summary: dict[str, Any]
    curve_points: dict[str, list[float]]


def corrupt(data: DatasetSplit, config: DemoConfig) -> Corruption:
    """Apply the configured label noise to the training set."""
    x, y = data.train.x, data.train.y
    if config.flip_rate is not None:
        check(config.flip is None, "--flip-rate", "either --flip or --flip-rate, not both")
        return flip_uniform(x, y, config.flip_rate, data.num_classes, config.seed)
    spec = config.flip or DEFAULT_FLIPS.get(data.name)
    if spec is None:
        return flip_uniform(x, y, DEFAULT_FLIP_RATE, data.num_classes, config.seed)
    return flip_labels(x, y, pair_matrix(parse_pairs(spec), data.num_classes), config.seed)


def _check(config: DemoConfig) -> None:
    SCORERS.get(config.identify)
    SCORERS.check_options(
        config.identify, {**config.identify_options, **SCORERS.accepted(config.identify, config.shared())}
    )
    check(len(config.treat) > 0, "--treat", "at least one treatment")
    for name in config.treat:
        TREATMENTS.get(name)
    if config.top_fraction is not None:
        check(0.0 < config.top_fraction < 1.0, "--top-fraction", f"a fraction in (0, 1), got {config.top_fraction}")
    check(all(0 < f < 1 for f in config.count_fractions), "count_fractions", "fractions in (0, 1)")
    check(config.random_draws >= 2, "random_draws", f"at least 2 draws for a spread, got {config.random_draws}")


def run_demo(config: DemoConfig, out: str | Path) -> DemoRun:
    """Run corrupt → train → split the test set → identify → choose the count on the guard → repair (each
    treatment) → controls → evaluate on the held-out half, and write ``summary.json``, ``scores.csv``,
    ``original.safetensors`` and one ``<treatment>.safetensors`` per repaired model into ``out``."""
    _check(config)
    out = Path(out)
    data = load_dataset(config.dataset, quick=config.quick)
    corruption = corrupt(data, config)
    check(corruption.n_corrupted > 0, "--flip", "a corruption that changes at least one training label")
    train = Examples(corruption.x, corruption.y)
    train_config = TrainConfig(max_epochs=15 if config.quick else 100)
    arch = config.model or ("cnn" if data.is_image else "mlp")
    shape = tuple(train.x.shape[1:])
    initial = build_model(arch, shape, data.num_classes, config.seed)
    model, train_log = train_model(initial, train, config=train_config, seed=config.seed)
    save_weights(out / "original.safetensors", model)
    modes = parse_modes(config.failures) if config.failures else None
    failures = split_failures(model, data.test, seed=config.seed, modes=modes)
    posterior = Posterior(
        model,
        train,
        config=train_config,
        init=lambda s: build_model(arch, shape, data.num_classes, s),
        checkpoints=train_log.checkpoints,
    )
    shared = config.shared()
    options = {**SCORERS.accepted(config.identify, shared), **config.identify_options}
    scores = identify(posterior, failures, config.identify, **options)
    peers = {name: identify(posterior, failures, name, **SCORERS.accepted(name, shared)) for name in PEERS}
    before = evaluate(model, failures)
    net_before = before["accuracy"]["net"]
    main, *others = config.treat
    trial = Trial(posterior, failures, main, TREATMENTS.accepted(main, shared), config.delta)
    ranking = scores.ranking()
    candidates = sorted({max(1, round(f * posterior.n)) for f in config.count_fractions})
    if config.top_fraction is None:
        k, guard_curve, tried = choose_count(trial, ranking, candidates)
    else:
        k, guard_curve, tried = max(1, round(config.top_fraction * posterior.n)), [], {}
    causes = ranking[:k]
    main_repair = tried.get(k) or trial(causes)
    treatments = {main: outcome(main_repair, failures, net_before) | {"options": dict(trial.options)}}
    save_weights(out / f"{main}.safetensors", main_repair.model)
    for name in tqdm(others, desc="treatments", disable=None, leave=False):
        options_of = TREATMENTS.accepted(name, shared)
        other = Trial(posterior, failures, name, options_of, config.delta)(causes)
        treatments[name] = outcome(other, failures, net_before) | {"options": options_of}
        save_weights(out / f"{name}.safetensors", other.model)
    peer_values = {name: peer.values for name, peer in peers.items()}
    rows = controls(trial, k, net_before, peer_values, corruption.mask, config.random_draws, config.seed)
    headline, beats = verdict(treatments[main]["net_change"], rows)
    shuffled = torch.randperm(posterior.n, generator=stream(config.seed, "random-causes-0"))
    rankings = (
        {config.identify: ranking} | {name: peer.ranking() for name, peer in peers.items()} | {"random": shuffled}
    )
    curve_counts = candidates if config.top_fraction is None else sorted({*candidates, k})
    known = {(config.identify, c): r for c, r in tried.items()}
    net_curve = count_curve(trial, rankings, curve_counts, net_before, known)
    mode_causes = _mode_causes(posterior, failures, config, options)
    curve = detection_curve(scores.values, corruption.mask)
    scores.save(
        out / "scores.csv", given_label=corruption.y, true_label=corruption.true_y, corrupted=corruption.mask.int()
    )
    summary = {
        "headline": headline,
        "beats_controls": beats,
        "accuracy_before": before["accuracy"],
        "treatments": treatments,
        "controls": rows,
        "count": {
            "chosen": k,
            "rule": "best guard accuracy" if config.top_fraction is None else "top_fraction",
            "guard_curve": guard_curve,
            "net_curve": net_curve,
        },
        "identify": {
            "method": scores.method,
            "seconds": scores.seconds,
            "epochs": scores.seconds / train_log.epoch_seconds,
            "options": scores.options,
            "causes_corrupted": float(corruption.mask[causes].double().mean()),
        },
        "peers": {
            name: {"seconds": p.seconds, "detection_auc": detection_curve(p.values, corruption.mask).auc}
            for name, p in peers.items()
        },
        "detection": {
            "auc": curve.auc,
            "random_auc": curve.random_auc,
            "oracle_auc": curve.oracle_auc,
            "found_at_10pct": curve.found_at(0.1),
        },
        "dataset": data.name,
        "n_train": posterior.n,
        "n_test": len(data.test),
        "n_corrupted": corruption.n_corrupted,
        "seed": config.seed,
        "model": arch,
        "train_epoch_seconds": train_log.epoch_seconds,
        "train_epochs": train_log.epochs,
        "split": {
            "query_half": len(failures.guard),
            "held_out_half": len(failures.held_out),
            "query_failures": len(failures.query),
            "held_out_failures": len(failures.holdout),
            "held_out_correct": len(failures.remaining),
        },
        "failure_modes": {f"{t} → {p}": n for (t, p), n in failures.modes().most_common()},
        "settings": {**asdict(replace(config, treat=list(config.treat))), "train": asdict(train_config)},
        "environment": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "threads": torch.get_num_threads(),
        },
    }
    summary = to_jsonable(summary)
    write_json(out / "summary.json", summary)
    points = {"inspected": curve.inspected.tolist(), "found": curve.found.tolist(), "oracle": curve.oracle.tolist()}
    return DemoRun(config, data, corruption, failures, scores, peers, causes, mode_causes, summary, points)


def _mode_causes(
    posterior: Posterior, failures: Failures, config: DemoConfig, options: dict[str, Any], modes: int = 3
) -> dict[str, torch.Tensor]:
    """The most harmful training examples for each of the ``modes`` most common failure modes of F_q alone
    (the scorer run with that mode's failures as its whole target)."""
    found = {}
    for mode, members in failures.mode_groups()[:modes]:
        if mode is None or len(members) < 2:
            continue
        mode_failures = failures.query[members.to(failures.query.y.device)]
        only = Failures.from_query(mode_failures, guard=mode_failures, seed=config.seed)  # either target: the mode
        values = identify(posterior, only, config.identify, **options).values
        found[f"{mode[0]} → {mode[1]}"] = torch.argsort(values, descending=True, stable=True)[:8]
    return found


__all__ = ["DemoConfig", "DemoRun", "corrupt", "run_demo"]
