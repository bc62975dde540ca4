"""The demo: a built-in dataset with label noise, turned into a :class:`~remedy.task.Task` (corrupt, train) and run
through the one pipeline of :mod:`remedy.workflow` — one call, one folder of evidence."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from remedy.data import Corruption, DatasetSplit, flip_labels, flip_uniform, load_dataset, pair_matrix, parse_pairs
from remedy.data.catalog import DATASETS
from remedy.errors import check
from remedy.examples import Examples
from remedy.identify import SCORERS
from remedy.methods import parse_method
from remedy.models import ARCHITECTURES, build_model, train_model
from remedy.models.config import QUICK_RECIPE, RECIPE
from remedy.models.sisa import SHARDS, SLICES
from remedy.params import choose
from remedy.settings import Settings
from remedy.task import Task
from remedy.treat import TREATMENTS
from remedy.workflow import Evidence, run, write_outputs

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
        partition: draw the dataset's train/test partition with this seed (``None``: the fixed one every run shares);
            a study's confirmation seeds set it, so that no image they hold out was held out when the defaults
            were chosen.
        device: where the model and the training data live (``cuda`` for a GPU); every pass runs there.
    """

    dataset: str = "mnist"
    flip: str | None = None
    flip_rate: float | None = None
    model: str | None = None
    quick: bool = False
    partition: int | None = None
    device: str = "cpu"

    def check(self) -> None:
        """Every setting checked before any work (Settings' checks, then the problem's)."""
        check(self.dataset in DATASETS, "--dataset", f"one of {', '.join(DATASETS)}, got {self.dataset!r}")
        check(self.flip is None or self.flip_rate is None, "--flip-rate", "either --flip or --flip-rate, not both")
        if self.flip is not None:
            parse_pairs(self.flip)
        if self.flip_rate is not None:
            check(0.0 < self.flip_rate <= 1.0, "--flip-rate", f"a fraction in (0, 1], got {self.flip_rate}")
        check(self.model is None or self.model in ARCHITECTURES, "--model", f"one of {', '.join(ARCHITECTURES)}")
        check(
            self.device == "cpu" or (self.device.startswith("cuda") and torch.cuda.is_available()),
            "--device",
            f"cpu, or cuda on a machine with a GPU, got {self.device!r}",
        )
        super().check()
        check(
            not {"shards", "trajectory"} <= self.needs(),
            "--treat",
            "methods that read one model's recorded run and sisa's sharded ensemble in separate runs",
        )

    def needs(self) -> set[str]:
        """The parts of the training record that the chosen methods need (what training must keep)."""
        scorers = (*self.peers, *self.compare)
        specs = [("scorer", self.identify), *(("scorer", parse_method(p, "--peer")[0]) for p in scorers)]
        specs += [("treatment", parse_method(t, "--treat")[0]) for t in self.treat]
        needs: set[str] = set()
        for kind, name in specs:
            registry = SCORERS if kind == "scorer" else TREATMENTS
            needs |= set(registry.trait(name, "needs", ()))
        return needs


def corrupt(data: DatasetSplit, config: DemoConfig) -> Corruption:
    """Apply the configured label noise to the training set."""
    x, y = data.train.x, data.train.y
    if config.flip_rate is not None:
        return flip_uniform(x, y, config.flip_rate, data.num_classes, config.seed)
    spec = config.flip or DEFAULT_FLIPS.get(data.name)
    if spec is None:
        return flip_uniform(x, y, DEFAULT_FLIP_RATE, data.num_classes, config.seed)
    return flip_labels(x, y, pair_matrix(parse_pairs(spec), data.num_classes), config.seed)


def demo_task(config: DemoConfig, record_dir: Path | None = None) -> tuple[Task, dict[str, Any]]:
    """The demo's problem as a task: the dataset with its label noise, and a model trained on it with the record
    the chosen methods need (kept in ``record_dir``); with what the summary says about it."""
    data = load_dataset(config.dataset, quick=config.quick, partition=config.partition)
    corruption = corrupt(data, config)
    check(corruption.n_corrupted > 0, "--flip", "a corruption that changes at least one training label")
    train = Examples(corruption.x, corruption.y)
    recipe = QUICK_RECIPE if config.quick else RECIPE
    needs = config.needs()
    sharded = {"shards": SHARDS, "slices": SLICES} if "shards" in needs else {}
    train_config = replace(recipe, record="trajectory" in needs, **sharded)
    arch = config.model or ("cnn" if data.is_image else "mlp")
    shape = tuple(train.x.shape[1:])
    initial = build_model(arch, shape, data.num_classes, config.seed).to(config.device)
    choose(copy.deepcopy(initial), config.params)  # a pattern that matches nothing stops before training
    model, record = train_model(initial, train, config=train_config, seed=config.seed, record_dir=record_dir)
    record.init = lambda s: build_model(arch, shape, data.num_classes, s).to(config.device)
    task = Task(
        model,
        train,
        data.test,
        record=record,
        corrupted=corruption.mask,
        true_labels=corruption.true_y,
        name=f"{data.name} with {corruption.n_corrupted} corrupted labels",
    )
    about = {
        "dataset": data.name,
        "n_test": len(data.test),
        "n_corrupted": corruption.n_corrupted,
        "seed": config.seed,
        "partition": config.partition,
        "model": arch,
        "train_epoch_seconds": record.epoch_seconds,
        "train_epochs": record.epochs,
        "train": train_config,
    }
    return task, about


def run_demo(config: DemoConfig, out: str | Path | None = None) -> Evidence:
    """Corrupt → train → split the test set → identify → choose the count on the guard → repair (each treatment,
    with every treatment seed) → controls → evaluate on the held-out half; with ``out``, write the evidence there:
    ``summary.json``, ``scores.csv``, ``report-data.safetensors``, ``original.safetensors`` and one
    ``<treatment>.safetensors`` per repaired model (``remedy report`` renders them)."""
    config.check()
    task, about = demo_task(config, Path(out) / "record" if out is not None else None)
    evidence = run(task, config)
    evidence.summary |= about
    evidence.summary["identify"]["epochs"] = evidence.scores.seconds / about["train_epoch_seconds"]
    if out is not None:
        corrupted = torch.as_tensor(task.corrupted)
        assert task.true_labels is not None
        columns = {"given_label": task.train.y, "true_label": task.true_labels, "corrupted": corrupted.int()}
        write_outputs(Path(out), evidence, columns)
    return evidence


__all__ = ["DemoConfig", "corrupt", "demo_task", "run_demo"]
