"""The training recipe: one frozen settings object shared by training, fine-tuning and every EWC update."""

from __future__ import annotations

from dataclasses import dataclass

from remedy.errors import check

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and early-stopping settings shared by training, fine-tuning and the EWC updates.

    Attributes:
        lr: the learning rate.
        batch_size: mini-batch size.
        max_epochs: upper bound on epochs.
        patience: checks without validation improvement before stopping.
        val_fraction: fraction of the training set held out for early stopping when training from scratch.
        check_every: measure the early-stopping criterion every this many steps (``None``: once per epoch).
        checkpoints: keep up to this many evenly spaced states of the trajectory that led to the kept weights
            (for TracIn; 0 keeps none).
        optimizer: ``adam`` (Tanno et al.'s recipe) or ``sgd`` (plain mini-batch SGD with ``momentum``).
        momentum: SGD's momentum (0: plain SGD, the setting SGD-influence is exact for).
        early_stopping: stop after ``patience`` checks without improvement and restore the best weights
            (``False``: run all ``max_epochs``, the fixed schedule).
        average: with a fixed schedule, return the mean of the iterates over this last fraction of the run
            (Polyak–Ruppert / stochastic weight averaging, four snapshots per epoch); 0 returns the last iterate.
        record: keep every optimiser step (mini-batch, learning rate, parameters) in a
            :class:`~remedy.models.record.Trajectory` on disk, for the methods that replay or undo the run (with
            ``average``, the trajectory also says which iterates θ̂ averages).
        shards, slices: train ``shards`` models on disjoint shards of the training set, each in ``slices``
            stages with a checkpoint after each (SISA, Bourtoule et al.), and answer with their mean probability;
            1 and 1 train one model.
        sd_regularizer: λ of Thudi et al.'s standard-deviation loss, ``λ · std(logits) / classes`` added to every
            example's loss while training: it keeps the weights' change small, which keeps the first-order
            unrolled estimate of an example's contribution (the ``unrolling`` treatment) accurate. 0: off.
    """

    lr: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 100
    patience: int = 5
    val_fraction: float = 0.1
    check_every: int | None = None
    checkpoints: int = 5
    optimizer: str = "adam"
    momentum: float = 0.0
    early_stopping: bool = True
    average: float = 0.0
    record: bool = False
    shards: int = 1
    slices: int = 1
    sd_regularizer: float = 0.0

    def __post_init__(self) -> None:
        check(self.lr > 0, "lr", f"a positive learning rate, got {self.lr}")
        check(self.batch_size >= 1, "batch_size", f"a positive batch size, got {self.batch_size}")
        check(self.max_epochs >= 1, "max_epochs", f"at least one epoch, got {self.max_epochs}")
        check(self.patience >= 1, "patience", f"at least one check, got {self.patience}")
        check(self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        check(0.0 <= self.momentum < 1.0, "momentum", f"a momentum in [0, 1), got {self.momentum}")
        check(0.0 <= self.average < 1.0, "average", f"a fraction of the run in [0, 1), got {self.average}")
        check(not (self.average and self.early_stopping), "average", "a fixed schedule (early_stopping=False)")
        check(
            self.shards >= 1 and self.slices >= 1,
            "shards",
            f"at least 1 shard and slice, got {self.shards}, {self.slices}",
        )
        check(not (self.record and self.shards * self.slices > 1), "record", "one model to record (shards=slices=1)")
        check(self.sd_regularizer >= 0, "sd_regularizer", f"a non-negative weight, got {self.sd_regularizer}")


RECIPE = TrainConfig(max_epochs=60, early_stopping=False, average=0.5)
"""How the demo and the benchmarks train θ̂: Adam at 10⁻³ for a fixed 60 epochs on every training example, returning
the mean of the iterates over the last 30 (four snapshots per epoch). An early-stopped θ̂ is a model that more of
its own training improves: the repair's 20 more averaged epochs then gain about 2 points whatever is removed, and
hide what the removal did (``docs/causes.md``). Sixty averaged epochs was chosen on the selection seeds as a θ̂ that
the same fine-tuning with nothing removed no longer improves on average."""

QUICK_RECIPE = TrainConfig(max_epochs=15, early_stopping=False, average=0.5)
""":data:`RECIPE` shortened for ``--quick`` runs."""
