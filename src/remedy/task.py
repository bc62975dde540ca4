"""The user contract: the per-example loss, the model's checks, and the task a user hands to the command line.

remedy works with a classifier ``model(x) -> logits`` and a per-example negative log-likelihood
``loss(logits, y) -> [B]`` (cross-entropy by default), so that ``log p(z | θ) = -loss(model(x), y)`` for every
example ``z = (x, y)``. Data are :class:`~remedy.examples.Examples` or :class:`~remedy.examples.Streamed`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch.nn.functional as nnf
from torch import Tensor, nn

from remedy.errors import RemedyError, check
from remedy.inputs import Forward

if TYPE_CHECKING:
    from remedy.models.record import TrainingRecord

LossFn = Callable[[Tensor, Tensor], Tensor]
"""Per-example negative log-likelihood: ``loss(logits [B, C], y [B]) -> [B]``."""


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Per-example softmax cross-entropy, ``-log p(y | x, θ)``."""
    return nnf.cross_entropy(logits, y, reduction="none")


def check_eval_model(model: nn.Module, name: str = "model") -> None:
    """Reject models in train mode: scores and repairs are defined at a fixed θ̂ with deterministic outputs."""
    check(isinstance(model, nn.Module), name, f"a torch.nn.Module, got {type(model).__name__}")
    check(not model.training, name, "a model in eval mode (call model.eval() first)")
    check(any(p.requires_grad for p in model.parameters()), name, "a model with trainable parameters")


@dataclass
class Task:
    """Your problem, as the command line takes it: ``remedy diagnose --task mypkg.mytask:build``, where
    ``build()`` returns a ``Task`` or, in its simplest form, a tuple ``(model, train, test)``. Under ``torchrun``
    every process calls ``build()``: it must return the same model in each (train it deterministically, or load
    it; ``--weights FILE`` loads saved weights into what it returns), and the processes stop if they differ.

    Attributes:
        model: the trained classifier, in eval mode (never modified).
        train: the training set: tensors ``(x, y)`` or a ``Dataset`` of ``(x, y)`` pairs (read in batches).
        test: the test set, split by seed into a query half and a held-out half (:func:`remedy.split_test`).
        loss: the per-example loss the model was trained with (cross-entropy by default).
        weight_decay: the L2 coefficient of the training objective, if any.
        record: how the model was trained (:class:`remedy.TrainingRecord`, what ``remedy.train_model`` returns): the
            recipe that fine-tuning, cross-fitting and retraining follow, the checkpoints TracIn reads and, when
            kept, every optimiser step. Default: remedy's recipe, no checkpoints.
        corrupted: a boolean mask of training examples known to be wrong, when you know it (an experiment):
            it adds the detection curve and the oracle control.
        true_labels: the correct labels, when known (shown beside the given ones).
        name: what the report calls the task.
        params: glob patterns over the model's parameter names that scores, curvature and treatments act on, e.g.
            ``("classifier.*",)`` for the last layer (:mod:`remedy.params`); empty: every trainable parameter.
            ``--params`` replaces it.
        forward: how a batch's inputs reach the model, ``forward(model, inputs)`` → logits (or ``.logits``), for a
            model that takes them otherwise than as a tensor, a dict of keyword arguments or a tuple of positional
            ones (:mod:`remedy.inputs`); every pass calls it. From Python: ``with remedy.inputs.calling(forward):``.
    """

    model: nn.Module
    train: Any
    test: Any
    loss: LossFn = cross_entropy
    weight_decay: float = 0.0
    record: TrainingRecord | None = None
    corrupted: Tensor | None = None
    true_labels: Tensor | None = None
    name: str = "task"
    params: tuple[str, ...] = ()
    forward: Forward | None = None


def as_task(built: object, name: str = "task") -> Task:
    """A :class:`Task` from what a task function returned: a ``Task`` or ``(model, train, test)``."""
    if isinstance(built, Task):
        return built
    if isinstance(built, tuple) and len(built) == 3:
        return Task(*built, name=name)
    raise RemedyError(
        f"--task: expected a function returning a remedy.Task or (model, train, test), got {type(built).__name__}"
    )


def load_task(spec: str, weights: str | Path | None = None) -> Task:
    """``"package.module:function"`` or ``"path/to/file.py:function"`` → the :class:`Task` the function returns,
    with the safetensors ``weights`` loaded into its model when given. Modules are looked up from the current folder
    too, as ``python -m`` would."""
    module_name, sep, function = spec.partition(":")
    check(bool(sep and module_name and function), "--task", f"'module:function' or 'file.py:function', got {spec!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            check(path.is_file(), "--task", f"an existing Python file, found nothing at {path}")
            loader_spec = importlib.util.spec_from_file_location(path.stem, path)
            assert loader_spec is not None and loader_spec.loader is not None
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            if str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(module_name)
    except ImportError as err:
        raise RemedyError(f"--task: expected an importable module, could not import {module_name!r} ({err})") from err
    build = getattr(module, function, None)
    check(callable(build), "--task", f"a function {function!r} in {module_name}")
    task = as_task(build(), name=f"{module_name}:{function}")
    if weights is not None:
        from remedy.io import load_weights

        try:
            load_weights(weights, task.model)
        except (RuntimeError, OSError, ValueError) as err:
            raise RemedyError(f"--weights: expected safetensors weights of the task's model ({err})") from err
    return task
