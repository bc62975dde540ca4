"""The training record: how θ̂ was trained, for the methods that need the training run itself.

A :class:`TrainingRecord` holds the recipe (the :class:`~remedy.models.fit.TrainConfig`, the run's seed, how to
build a fresh model), the checkpoints TracIn sums over and, when training was asked to keep it
(``TrainConfig(record=True)``), the :class:`Trajectory`: every optimiser step's mini-batch (as indices into the
training set), learning rate and the parameters before it, on disk as safetensors chunks and streamed back step by
step. SGD-influence replays it, Amnesiac ML subtracts its updates, Unrolling SGD sums a point's gradients along it.

A method that needs part of the record declares it when it registers (``needs=("trajectory",)``), and
:meth:`TrainingRecord.require` stops with one line that says what is missing and how to get it.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from remedy.errors import RemedyError
from remedy.io import atomic_write, write_json
from remedy.models.config import TrainConfig

STEPS_PER_FILE = 64
"""Optimiser steps per safetensors file of a trajectory: the unit written while training and read back."""

PARTS = {
    "checkpoints": "checkpoints along the run (TrainConfig(checkpoints=K), kept by train_model)",
    "trajectory": "every optimiser step (TrainConfig(record=True))",
    "shards": "sharded, sliced training (TrainConfig(shards=S, slices=R))",
}
"""The parts of a training record a method can need, and how each is obtained."""


@dataclass(frozen=True)
class Step:
    """One optimiser step: ``after = before + update`` where the update was computed on ``batch``.

    Attributes:
        index: the step's position in the run (0 = the first step from the initial parameters).
        batch: the training-set indices of its mini-batch.
        lr: the learning rate it used.
        before, after: the flat trainable parameters before and after it (float32, on the CPU).
    """

    index: int
    batch: Tensor
    lr: float
    before: Tensor
    after: Tensor

    @property
    def update(self) -> Tensor:
        """``after − before`` in float64 (exact: float32 differences are representable)."""
        return self.after.double() - self.before.double()


class Trajectory:
    """Every optimiser step of one training run, read from ``folder`` chunk by chunk.

    Only the steps up to θ̂ count (:attr:`steps`): early stopping restores the best weights, so the steps taken
    after them changed nothing that was kept. ``folder/meta.json`` holds the optimiser, the training-set size and
    the step counts; ``folder/steps-<k>.safetensors`` holds steps ``[64k, 64k + 64)``.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        meta_path = self.folder / "meta.json"
        if not meta_path.is_file():
            raise RemedyError(f"trajectory: expected a folder written by remedy's trainer, found no {meta_path}")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        self.steps: int = int(self.meta["steps"])
        self.n_params: int = int(self.meta["n_params"])
        self.n_train: int = int(self.meta["n_train"])
        self.optimizer: dict[str, Any] = dict(self.meta["optimizer"])
        self.averaged: list[int] | None = self.meta.get("averaged")
        """θ̂ is the mean of the iterates after these step counts (weight averaging); ``None``: the last iterate."""

    def __len__(self) -> int:
        return self.steps

    @property
    def bytes_per_step(self) -> int:
        """Disk bytes one step takes (parameters, batch indices and learning rate), measured on the files."""
        files = sorted(self.folder.glob("steps-*.safetensors"))
        total = sum(f.stat().st_size for f in files) + (self.folder / "final.safetensors").stat().st_size
        return total // max(1, int(self.meta["recorded"]))

    def _file(self, k: int) -> dict[str, Tensor]:
        return load_file(str(self.folder / f"steps-{k:06d}.safetensors"))

    def final(self) -> Tensor:
        """The flat parameters after the last step that counts (θ̂ itself unless the run averaged its iterates)."""
        if self.steps == 0:
            return self.initial()
        return self[self.steps - 1].after

    def theta_hat(self) -> Tensor:
        """θ̂'s flat parameters: the last counted iterate, or the mean of the averaged ones (float64)."""
        if not self.averaged:
            return self.final().double()
        wanted = set(self.averaged)
        total = torch.zeros(self.n_params, dtype=torch.float64)
        for step in self.iterate(min(wanted) - 1):
            if step.index + 1 in wanted:
                total += step.after.double()
        return total / len(wanted)

    def initial(self) -> Tensor:
        """The flat parameters before the first step."""
        if int(self.meta["recorded"]) == 0:
            return load_file(str(self.folder / "final.safetensors"))["params"]
        return self._file(0)["params"][0]

    def __getitem__(self, t: int) -> Step:
        if not 0 <= t < self.steps:
            raise IndexError(f"step {t} of a trajectory with {self.steps} steps")
        return next(self.iterate(t, t + 1))

    def __iter__(self) -> Iterator[Step]:
        return self.iterate()

    def iterate(self, start: int = 0, stop: int | None = None, reverse: bool = False) -> Iterator[Step]:
        """The steps ``[start, stop)`` in order (or last first with ``reverse``), one file in memory at a time."""
        stop = self.steps if stop is None else min(stop, self.steps)
        if start >= stop:
            return
        files = range(start // STEPS_PER_FILE, (stop - 1) // STEPS_PER_FILE + 1)
        recorded = int(self.meta["recorded"])
        for k in reversed(files) if reverse else files:
            chunk = self._file(k)
            after_last = (
                self._file(k + 1)["params"][0]
                if (k + 1) * STEPS_PER_FILE < recorded
                else load_file(str(self.folder / "final.safetensors"))["params"]
            )
            params, batches, lrs = chunk["params"], chunk["batches"], chunk["lr"]
            first = k * STEPS_PER_FILE
            rows = range(max(start, first) - first, min(stop, first + len(params)) - first)
            for r in reversed(rows) if reverse else rows:
                after = params[r + 1] if r + 1 < len(params) else after_last
                batch = batches[r]
                yield Step(first + r, batch[batch >= 0], float(lrs[r]), params[r], after)

    def batches(self) -> list[Tensor]:
        """Every counted step's mini-batch indices, in order (without the parameters)."""
        out: list[Tensor] = []
        for k in range(-(-self.steps // STEPS_PER_FILE)):
            batches = load_file(str(self.folder / f"steps-{k:06d}.safetensors"))["batches"]
            out += [b[b >= 0] for b in batches[: self.steps - k * STEPS_PER_FILE]]
        return out

    def steps_with(self, indices: Tensor) -> list[int]:
        """The counted steps whose mini-batch held at least one of the training ``indices``."""
        wanted = torch.as_tensor(indices).long().cpu()
        return [t for t, batch in enumerate(self.batches()) if bool(torch.isin(batch, wanted).any())]


class TrajectoryWriter:
    """What the trainer calls while it trains: :meth:`step` before each optimiser step, :meth:`finish` at the end.
    Steps are buffered and written :data:`STEPS_PER_FILE` at a time, each file atomically."""

    def __init__(self, folder: str | Path, n_train: int, optimizer: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob("steps-*.safetensors"):
            stale.unlink()
        self.n_train, self.optimizer = n_train, optimizer
        self._params: list[Tensor] = []
        self._batches: list[Tensor] = []
        self._lrs: list[float] = []
        self.recorded = 0

    def step(self, batch: Tensor, lr: float, before: Tensor) -> None:
        """Record a step about to be taken on the training-set indices ``batch`` from the flat parameters ``before``."""
        self._params.append(before.detach().to("cpu", torch.float32, copy=True))
        self._batches.append(batch.detach().cpu().long())
        self._lrs.append(float(lr))
        self.recorded += 1
        if len(self._params) == STEPS_PER_FILE:
            self._flush()

    def _flush(self) -> None:
        if not self._params:
            return
        width = max(len(b) for b in self._batches)
        batches = torch.full((len(self._batches), width), -1, dtype=torch.long)
        for row, batch in enumerate(self._batches):
            batches[row, : len(batch)] = batch
        tensors = {
            "params": torch.stack(self._params),
            "batches": batches,
            "lr": torch.tensor(self._lrs, dtype=torch.float64),
        }
        k = (self.recorded - 1) // STEPS_PER_FILE
        path = self.folder / f"steps-{k:06d}.safetensors"
        atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))
        self._params, self._batches, self._lrs = [], [], []

    def finish(self, after_last: Tensor, steps: int, averaged: Sequence[int] | None = None) -> Trajectory:
        """Write the parameters after the last recorded step and the metadata; ``steps`` of the recorded steps lead
        to θ̂ (the rest were undone by early stopping); ``averaged``: θ̂ is the mean of the iterates after these
        step counts (weight averaging), not the last one."""
        self._flush()
        final = {"params": after_last.detach().to("cpu", torch.float32, copy=True)}
        atomic_write(self.folder / "final.safetensors", lambda tmp: save_file(final, str(tmp)))
        meta = {
            "steps": steps,
            "recorded": self.recorded,
            "n_params": int(after_last.numel()),
            "n_train": self.n_train,
            "optimizer": self.optimizer,
            "averaged": list(averaged) if averaged else None,
        }
        write_json(self.folder / "meta.json", meta)
        return Trajectory(self.folder)


@dataclass
class Shards:
    """Sharded, sliced training (SISA, Bourtoule et al. 2021): which shard and slice every training example went to,
    and each shard model's checkpoint after each slice (``folder/shard-<k>-slice-<r>.safetensors``).

    Shard k's model is trained in stages: stage r continues from the checkpoint of stage r − 1 on slices
    ``0 … r`` of the shard. Unlearning an example of slice r of shard k retrains that shard from stage r on.
    """

    folder: Path
    shard: Tensor
    slice: Tensor
    n_shards: int
    n_slices: int
    seeds: list[list[int]]
    stage_epochs: list[list[float]]

    def members(self, k: int, upto: int) -> Tensor:
        """The training indices of shard ``k``'s slices ``0 … upto``."""
        return torch.nonzero((self.shard == k) & (self.slice <= upto)).flatten()

    def checkpoint(self, k: int, r: int) -> dict[str, Tensor]:
        """Shard ``k``'s model state after stage ``r``."""
        return load_file(str(self.folder / f"shard-{k}-slice-{r}.safetensors"))

    def save(self, k: int, r: int, state: dict[str, Tensor]) -> None:
        cpu = {key: value.detach().to("cpu").contiguous().clone() for key, value in state.items()}
        atomic_write(self.folder / f"shard-{k}-slice-{r}.safetensors", lambda tmp: save_file(cpu, str(tmp)))


def temporary_folder(prefix: str = "remedy-record-") -> Path:
    """A new folder removed when the interpreter exits: where a trajectory goes when no folder is given."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@dataclass
class TrainingRecord:
    """How θ̂ was trained: what retraining, fine-tuning and the trajectory methods read.

    Attributes:
        config: the training recipe (optimiser, batch size, early stopping) that fine-tuning, cross-fitting and
            retraining follow.
        seed: the seed θ̂ was trained with.
        init: ``init(seed)`` builds a freshly initialised model (default: a copy of the model with every
            submodule's ``reset_parameters()`` called under the seed).
        checkpoints: state dicts along the run, oldest first, the last being θ̂ (what TracIn sums over).
        trajectory: every optimiser step, when training kept it (``TrainConfig(record=True)``).
        shards: the shards, slices and per-slice checkpoints of sharded training (``TrainConfig(shards=S)``).
        epochs, epoch_seconds: how long training ran (passes over the data) and one pass's wall time.
    """

    config: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    init: Callable[[int], nn.Module] | None = None
    checkpoints: Sequence[dict[str, Tensor]] = ()
    trajectory: Trajectory | None = None
    shards: Shards | None = None
    epochs: float | None = None
    epoch_seconds: float | None = None

    def has(self, part: str) -> bool:
        """Whether the record holds ``part`` (one of :data:`PARTS`)."""
        if part not in PARTS:
            raise RemedyError(f"record: expected one of {', '.join(PARTS)}, got {part!r}")
        if part == "checkpoints":
            return bool(self.checkpoints)
        return (self.trajectory if part == "trajectory" else self.shards) is not None

    def require(self, parts: Sequence[str], method: str) -> None:
        """Stop with one line naming ``method`` and how to record what it needs, unless the record has ``parts``."""
        for part in parts:
            if not self.has(part):
                raise RemedyError(
                    f"{method}: needs a training record with {PARTS[part]}; the model was trained without it "
                    "(remedy demo records it when a method needs it)"
                )
