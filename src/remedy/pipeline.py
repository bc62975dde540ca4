"""The demo: corrupt a built-in dataset, train, diagnose, repair and prove it against honest controls — one call,
one folder of evidence."""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from remedy.data import Corruption, DatasetSplit, flip_labels, flip_uniform, load_dataset, pair_matrix, parse_pairs
from remedy.data.failures import parse_modes, split_failures
from remedy.errors import check
from remedy.examples import Examples
from remedy.identify import SCORERS, identify
from remedy.models import build_model, train_model
from remedy.models.train import TrainConfig
from remedy.posterior import Posterior
from remedy.workflow import Evidence, Settings, diagnose, prove, write_outputs

DEFAULT_FLIPS = {"mnist": "1-7:0.3,4-9:0.3,3-5:0.3", "digits": "1-7:0.3,4-9:0.3,3-5:0.3"}
DEFAULT_FLIP_RATE = 0.2


@dataclass(frozen=True)
class DemoConfig(Settings):
    """Every setting of a demo run (all recorded in ``summary.json`` and the report): the workflow's
    :class:`~remedy.workflow.Settings` and the built-in problem.

    Attributes:
        dataset: a built-in dataset name (see ``remedy.data.DATASETS``).
        flip: class pairs and probabilities, e.g. ``"1-7:0.3,4-9:0.3"``; default per dataset.
        flip_rate: uniform label flips at this rate instead of ``flip``.
        model: ``cnn`` / ``mlp`` / ``logreg``; default ``cnn`` for images, ``mlp`` otherwise.
        quick: a smaller dataset and at most 15 epochs per fit, for trying things.
        device: where the model and the training data live (``cuda`` for a GPU); every pass runs there.
    """

    treat: tuple[str, ...] = ("finetune", "relabel", "ewc-deletion", "retrain")
    peers: tuple[str, ...] = ("cleanlab", "self-loss")
    dataset: str = "mnist"
    flip: str | None = None
    flip_rate: float | None = None
    model: str | None = None
    quick: bool = False
    device: str = "cpu"


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
    config.check()
    check(
        config.device == "cpu" or (config.device.startswith("cuda") and torch.cuda.is_available()),
        "--device",
        f"cpu, or cuda on a machine with a GPU, got {config.device!r}",
    )


def run_demo(config: DemoConfig, out: str | Path) -> Evidence:
    """Run corrupt → train → split the test set → identify → choose the count on the guard → repair (each
    treatment) → controls → evaluate on the held-out half, and write the evidence into ``out``: ``summary.json``,
    ``scores.csv``, ``report-data.safetensors``, ``original.safetensors`` and one ``<treatment>.safetensors`` per
    repaired model (``remedy report`` renders them)."""
    _check(config)
    data = load_dataset(config.dataset, quick=config.quick)
    corruption = corrupt(data, config)
    check(corruption.n_corrupted > 0, "--flip", "a corruption that changes at least one training label")
    train = Examples(corruption.x, corruption.y)
    train_config = TrainConfig(max_epochs=15 if config.quick else 100)
    arch = config.model or ("cnn" if data.is_image else "mlp")
    shape = tuple(train.x.shape[1:])
    initial = build_model(arch, shape, data.num_classes, config.seed).to(config.device)
    model, train_log = train_model(initial, train, config=train_config, seed=config.seed)
    modes = parse_modes(config.failures) if config.failures else None
    failures = split_failures(model, data.test, seed=config.seed, modes=modes)
    posterior = Posterior(
        model,
        train,
        config=train_config,
        init=lambda s: build_model(arch, shape, data.num_classes, s).to(config.device),
        checkpoints=train_log.checkpoints,
    )
    peers = {
        name: identify(posterior, failures, name, **SCORERS.accepted(name, config.shared())) for name in config.peers
    }
    mask = corruption.mask
    found = diagnose(
        posterior,
        failures,
        config.identify,
        config.scorer_options(),
        corrupted=mask,
        true_labels=corruption.true_y,
        peers=peers,
    )
    repaired, models = prove(posterior, failures, found.scores, config, peers, mask)
    found.summary["identify"]["epochs"] = found.scores.seconds / train_log.epoch_seconds
    found.summary = (
        repaired
        | found.summary
        | {
            "dataset": data.name,
            "n_test": len(data.test),
            "n_corrupted": corruption.n_corrupted,
            "seed": config.seed,
            "model": arch,
            "train_epoch_seconds": train_log.epoch_seconds,
            "train_epochs": train_log.epochs,
            "settings": {
                **asdict(replace(config, treat=list(config.treat), peers=list(config.peers))),
                "train": asdict(train_config),
            },
            "environment": {
                "torch": torch.__version__,
                "python": platform.python_version(),
                "threads": torch.get_num_threads(),
            },
        }
    )
    found.models = {"original": model, **models}
    columns = {"given_label": corruption.y, "true_label": corruption.true_y, "corrupted": mask.int()}
    write_outputs(Path(out), found, columns)
    return found


__all__ = ["DemoConfig", "corrupt", "run_demo"]
