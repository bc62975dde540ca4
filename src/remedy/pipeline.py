"""The demo: corrupt a built-in dataset, train, diagnose, repair and prove it — one call, one folder of evidence."""

from __future__ import annotations

import platform
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from remedy.curvature import InverseSettings
from remedy.data import Corruption, DatasetSplit, flip_labels, flip_uniform, load_dataset, pair_matrix, parse_pairs
from remedy.data.failures import Failures, predict, split_failures
from remedy.errors import check
from remedy.evaluate import detection_curve, evaluate
from remedy.identify import SCORERS, Scores, identify
from remedy.io import save_weights, to_jsonable, write_json
from remedy.models import build_model, train_model
from remedy.models.train import TrainConfig
from remedy.posterior import Posterior
from remedy.seeds import stream
from remedy.task import Examples
from remedy.treat import TREATMENTS, repair

DEFAULT_FLIPS = {"mnist": "1-7:0.3,4-9:0.3,3-5:0.3", "digits": "1-7:0.3,4-9:0.3,3-5:0.3"}
DEFAULT_FLIP_RATE = 0.2


@dataclass(frozen=True)
class DemoConfig:
    """Every setting of a demo run (all recorded in ``summary.json`` and the report).

    Attributes:
        dataset: a built-in dataset name (see ``remedy.data.DATASETS``).
        seed: drives the corruption, the initialisation, the failure split and every mini-batch order.
        flip: class pairs and probabilities, e.g. ``"1-7:0.3,4-9:0.3"``; default per dataset.
        flip_rate: uniform label flips at this rate instead of ``flip``.
        identify: scorer name; treat: treatment names, run in order.
        top_fraction: fraction of the training set, most harmful first, removed as the causes C.
        removal_fractions: the points of the removal curve (fine-tuning on D \\ C, beside random removal).
        model: ``cnn`` / ``mlp`` / ``logreg``; default ``cnn`` for images, ``mlp`` otherwise.
        quick: a smaller dataset and at most 15 epochs per fit, for trying things.
        inverse: the damped inverse curvature of the second-order methods (``linear-influence``, ``puma``,
            ``newton``); its seed is replaced by ``seed``.
        metric: for ``puma``: the metric of F_q whose harm is scored, and of the kept data that patching keeps.
    """

    dataset: str = "mnist"
    seed: int = 0
    flip: str | None = None
    flip_rate: float | None = None
    identify: str = "ewc-influence"
    treat: tuple[str, ...] = ("ewc-deletion", "finetune", "retrain")
    top_fraction: float = 0.05
    removal_fractions: tuple[float, ...] = (0.025, 0.05, 0.1)
    model: str | None = None
    quick: bool = False
    inverse: InverseSettings = field(default_factory=InverseSettings)
    metric: str = "loss"

    def shared(self) -> dict[str, Any]:
        """The run-wide settings a method receives when it declares them as options."""
        return {"seed": self.seed, "inverse": replace(self.inverse, seed=self.seed), "metric": self.metric}


@dataclass
class DemoRun:
    """Everything a report needs: the data, the scores, the models' numbers and the summary."""

    config: DemoConfig
    data: DatasetSplit
    corruption: Corruption
    failures: Failures
    scores: Scores
    causes: torch.Tensor
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


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def _random_causes(n: int, k: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=stream(seed, "random-causes"))[:k]


def run_demo(config: DemoConfig, out: str | Path) -> DemoRun:
    """Run corrupt → train → split failures → identify → repair (each treatment) → evaluate, and write
    ``summary.json``, ``scores.csv``, ``original.safetensors`` and one ``<treatment>.safetensors`` per
    repaired model into ``out``."""
    SCORERS.get(config.identify)
    for name in config.treat:
        TREATMENTS.get(name)
    check(0.0 < config.top_fraction < 1.0, "--top-fraction", f"a fraction in (0, 1), got {config.top_fraction}")
    out = Path(out)
    data = load_dataset(config.dataset, quick=config.quick)
    corruption = corrupt(data, config)
    check(corruption.n_corrupted > 0, "--flip", "a corruption that changes at least one training label")
    train = Examples(corruption.x, corruption.y)
    train_config = TrainConfig(max_epochs=15 if config.quick else 100)
    arch = config.model or ("cnn" if data.is_image else "mlp")
    initial = build_model(arch, tuple(train.x.shape[1:]), data.num_classes, config.seed)
    (model, train_log), train_seconds = _timed(train_model, initial, train, config=train_config, seed=config.seed)
    save_weights(out / "original.safetensors", model)
    failures = split_failures(model, data.test, seed=config.seed)
    posterior = Posterior(
        model,
        train,
        config=train_config,
        init=lambda s: build_model(arch, tuple(train.x.shape[1:]), data.num_classes, s),
    )
    fisher_seconds = _timed(posterior.fisher)[1]
    scores = identify(posterior, failures, config.identify, **SCORERS.accepted(config.identify, config.shared()))
    k = max(1, round(config.top_fraction * posterior.n))
    causes = scores.top(k)

    treatments = {}
    for name in tqdm(config.treat, desc="treatments", disable=None, leave=False):
        options = TREATMENTS.accepted(name, config.shared())
        repaired, seconds = _timed(repair, posterior, causes, name, guard=failures.query_val, **options)
        treatments[name] = {"seconds": seconds, "accuracy": evaluate(repaired, failures), "options": options}
        save_weights(out / f"{name}.safetensors", repaired)
    removed: dict[tuple[str, int], dict[str, float | None]] = {}
    if "finetune" in treatments:
        removed[("identified", k)] = treatments["finetune"]["accuracy"]

    def finetuned_without(kind: str, count: int) -> dict[str, float | None]:
        """Accuracy after fine-tuning on D minus ``count`` examples chosen by ``kind`` (computed once)."""
        if (kind, count) not in removed:
            chosen = scores.top(count) if kind == "identified" else _random_causes(posterior.n, count, config.seed)
            removed[(kind, count)] = evaluate(
                repair(posterior, chosen, "finetune", guard=failures.query_val, seed=config.seed), failures
            )
        return removed[(kind, count)]

    corrupted_idx = torch.nonzero(corruption.mask).flatten()
    references = {
        "random-removal": finetuned_without("random", k),
        "oracle-removal": evaluate(
            repair(posterior, corrupted_idx, "finetune", guard=failures.query_val, seed=config.seed), failures
        ),
    }
    removal = []
    for fraction in tqdm(config.removal_fractions, desc="removal curve", disable=None, leave=False):
        kf = max(1, round(fraction * posterior.n))
        removal.append(
            {
                "fraction": fraction,
                "identified": finetuned_without("identified", kf),
                "random": finetuned_without("random", kf),
            }
        )
    curve = detection_curve(scores.values, corruption.mask)
    failed_y = torch.cat([failures.query.y, failures.holdout.y])
    failed_pred = predict(model, torch.cat([failures.query.x, failures.holdout.x]))
    confusions = Counter(f"{int(t)} → {int(p)}" for t, p in zip(failed_y, failed_pred, strict=True))
    scores.save(
        out / "scores.csv", given_label=corruption.y, true_label=corruption.true_y, corrupted=corruption.mask.int()
    )
    summary = {
        "dataset": data.name,
        "n_train": posterior.n,
        "n_test": len(data.test),
        "n_corrupted": corruption.n_corrupted,
        "seed": config.seed,
        "model": arch,
        "train_epoch_seconds": train_log.epoch_seconds,
        "train_seconds": train_seconds,
        "train_epochs": train_log.epochs,
        "fisher_seconds": fisher_seconds,
        "n_failures": {
            "query": len(failures.query),
            "holdout": len(failures.holdout),
            "remaining": len(failures.remaining),
        },
        "failure_confusions": dict(confusions.most_common()),
        "identify": {
            "method": scores.method,
            "seconds": scores.seconds,
            "n_causes": k,
            "n_positive": len(scores.positive()),
            "options": scores.options,
        },
        "accuracy_before": evaluate(model, failures),
        "treatments": treatments,
        "references": references,
        "removal_curve": removal,
        "detection": {
            "auc": curve.auc,
            "random_auc": curve.random_auc,
            "oracle_auc": curve.oracle_auc,
            "found_at_10pct": curve.found_at(0.1),
            "causes_precision": float(corruption.mask[causes].double().mean()),
        },
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
    return DemoRun(config, data, corruption, failures, scores, causes, summary, points)
