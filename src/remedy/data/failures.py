"""The honest split of a test set: a query half whose failures identify causes and whose whole guards the
treatment, and a held-out half, never used, on which a repair is judged (SPEC §2: T_q, T_h, F_q, F_h)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from remedy.errors import RemedyError, check
from remedy.examples import Examples, ExamplesLike, as_examples
from remedy.seeds import stream
from remedy.task import check_eval_model

Mode = tuple[int, int]
"""A failure mode: (true class, predicted class)."""


@dataclass(frozen=True)
class Failures:
    """The test set T split by seed into a query half T_q and a held-out half T_h, and the model's failures.

    Attributes:
        query: F_q, the failures in T_q (of the selected modes): identification explains them; its
            ``val_fraction`` part (``query_val``) early-stops the updates that insert them.
        guard: T_q whole, failures and correct predictions: early-stops or line-searches every treatment.
        holdout: F_h, the failures in T_h (of the selected modes): only for evaluation.
        remaining: T_h ∖ F (the correct predictions in T_h): only for evaluation.
        held_out: T_h whole; accuracy on it is the unbiased **net**.
        query_predicted, holdout_predicted: the model's wrong predictions on F_q and F_h (their modes).
        *_index: positions in the test set the split came from.
    """

    query: Examples
    guard: Examples
    holdout: Examples
    remaining: Examples
    held_out: Examples
    query_predicted: Tensor
    holdout_predicted: Tensor
    query_index: Tensor
    guard_index: Tensor
    holdout_index: Tensor
    remaining_index: Tensor
    held_out_index: Tensor
    val_fraction: float = 0.1
    seed: int = 0

    @property
    def _n_val(self) -> int:
        return max(1, round(self.val_fraction * len(self.query))) if len(self.query) > 1 else 0

    @property
    def query_fit(self) -> Examples:
        """The part of F_q an update is fitted on."""
        return self.query[self._n_val :] if self._n_val else self.query

    @property
    def query_val(self) -> Examples:
        """The validation part of F_q, used only for early stopping."""
        return self.query[: self._n_val] if self._n_val else self.query

    def query_modes(self) -> list[Mode]:
        """The mode (true → predicted) of every failure in F_q, in order."""
        return [(int(t), int(p)) for t, p in zip(self.query.y.tolist(), self.query_predicted.tolist(), strict=True)]

    def modes(self) -> Counter[Mode]:
        """How many failures of each mode F_q and F_h hold together, most common first."""
        pairs = zip(
            torch.cat([self.query.y.cpu(), self.holdout.y.cpu()]).tolist(),
            torch.cat([self.query_predicted, self.holdout_predicted]).tolist(),
            strict=True,
        )
        return Counter((int(t), int(p)) for t, p in pairs)

    def mode_groups(self, min_size: int = 8) -> list[tuple[Mode | None, Tensor]]:
        """F_q grouped by failure mode: ``(mode, positions in F_q)`` for every mode with at least ``min_size``
        failures, most common first, then the rest pooled as ``(None, positions)`` if they are two or more."""
        modes = self.query_modes()
        counts = Counter(modes).most_common()
        groups: list[tuple[Mode | None, Tensor]] = []
        rest: list[int] = []
        for mode, count in counts:
            members = [i for i, m in enumerate(modes) if m == mode]
            if count >= min_size:
                groups.append((mode, torch.tensor(members)))
            else:
                rest += members
        if len(rest) >= 2:
            groups.append((None, torch.tensor(sorted(rest))))
        return groups

    @classmethod
    def from_query(
        cls, query: ExamplesLike, guard: ExamplesLike | None = None, seed: int = 0, val_fraction: float = 0.1
    ) -> Failures:
        """Failures known only as a query set (and optionally the data that guards a treatment); nothing is held
        out, so nothing can be evaluated honestly."""
        q = as_examples(query, "query")
        g = as_examples(guard, "guard") if guard is not None else q[torch.zeros(0, dtype=torch.long)]
        order = torch.randperm(len(q), generator=stream(seed, "query-order"))
        empty, none = q[torch.zeros(0, dtype=torch.long)], torch.zeros(0, dtype=torch.long)
        unknown = torch.full((len(q),), -1, dtype=torch.long)
        return cls(q[order], g, empty, empty, empty, unknown, none, order, none, none, none, none, val_fraction, seed)


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 1024) -> Tensor:
    """Predicted classes of ``model`` on ``x``, in batches (on the CPU)."""
    device = next(model.parameters()).device
    return torch.cat([model(x[i : i + batch_size].to(device)).argmax(-1).cpu() for i in range(0, len(x), batch_size)])


def parse_modes(spec: str) -> list[Mode]:
    """``"4->9,7->1"`` → ``[(4, 9), (7, 1)]`` (true class → predicted class)."""
    modes = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        try:
            true, predicted = (int(c) for c in item.split("->"))
        except ValueError as err:
            raise RemedyError(f"--failures: expected modes like '4->9', got {item!r}") from err
        check(true != predicted, "--failures", f"two different classes, got {item!r}")
        modes.append((true, predicted))
    check(bool(modes), "--failures", "at least one mode like '4->9'")
    return modes


def split_failures(
    model: nn.Module,
    test: ExamplesLike,
    seed: int = 0,
    query_fraction: float = 0.5,
    val_fraction: float = 0.1,
    modes: list[Mode] | None = None,
) -> Failures:
    """Split ``test`` by ``seed`` into T_q (``query_fraction`` of it) and T_h, and find the model's failures in
    each (only those of ``modes``, e.g. ``[(4, 9)]`` for true 4 predicted 9, if given). Deterministic given
    ``seed``. T_h is a random sample of the test distribution, so accuracy on it before and after a repair is
    an unbiased estimate of the repair's effect on test accuracy."""
    check_eval_model(model)
    data = as_examples(test, "test")
    check(0.0 < query_fraction < 1.0, "query_fraction", f"a fraction in (0, 1), got {query_fraction}")
    check(0.0 < val_fraction < 1.0, "val_fraction", f"a fraction in (0, 1), got {val_fraction}")
    predicted = predict(model, data.x)
    wrong = predicted != data.y.cpu()
    if modes is not None:
        selected = torch.zeros_like(wrong)
        for true, pred in modes:
            selected |= (data.y.cpu() == true) & (predicted == pred)
        check(bool(selected.any()), "--failures", f"modes the model fails on, found none of {modes}")
    else:
        selected = wrong
    order = torch.randperm(len(data), generator=stream(seed, "test-split"))
    n_query = round(query_fraction * len(data))
    halves = torch.zeros(len(data), dtype=torch.bool)
    halves[order[:n_query]] = True
    q = order[:n_query][selected[order[:n_query]]]  # F_q in a seeded random order
    h = torch.nonzero(~halves & selected).flatten()
    rest = torch.nonzero(~halves & ~wrong).flatten()
    held = torch.nonzero(~halves).flatten()
    guard = torch.sort(order[:n_query]).values
    if len(q) < 2 or len(h) < 1:
        raise RemedyError(
            f"failures: expected at least 2 misclassified test examples in the query half and 1 in the held-out "
            f"half, found {len(q)} and {len(h)}"
        )
    return Failures(
        data[q],
        data[guard],
        data[h],
        data[rest],
        data[held],
        predicted[q],
        predicted[h],
        q,
        guard,
        h,
        rest,
        held,
        val_fraction,
        seed,
    )
