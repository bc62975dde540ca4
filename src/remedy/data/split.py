"""The honest split of a test set T into a query half T_q and a held-out half T_h (SPEC §2), as two types: a
:class:`QueryHalf` (T_q and its failures F_q), the only part that scorers, count rules and treatments ever receive,
and a :class:`HeldOutHalf` (T_h, its failures F_h and its correct predictions), which only evaluation reads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from remedy import inputs
from remedy.errors import RemedyError, check
from remedy.examples import Examples, ExamplesLike, as_examples
from remedy.inputs import Inputs, logits
from remedy.seeds import stream
from remedy.task import check_eval_model

Mode = tuple[int, int]
"""A failure mode: (true class, predicted class)."""


@dataclass(frozen=True)
class QueryHalf:
    """T_q and its failures F_q: everything a diagnosis or a treatment may look at.

    Attributes:
        failures: F_q, the failures in T_q (of the selected modes), in a seeded random order: identification
            explains them; its first ``val_fraction`` (:attr:`val`) early-stops the updates that insert them.
        guard: T_q whole, failures and correct predictions: early-stops, line-searches and backs off every
            treatment, and chooses how many causes to treat.
        predicted: the model's (wrong) predictions on F_q, for their failure modes (−1 when unknown).
        index, guard_index: positions in the test set F_q and T_q came from.
    """

    failures: Examples
    guard: Examples
    predicted: Tensor
    index: Tensor
    guard_index: Tensor
    val_fraction: float = 0.1
    seed: int = 0

    @property
    def _n_val(self) -> int:
        return max(1, round(self.val_fraction * len(self.failures))) if len(self.failures) > 1 else 0

    @property
    def fit(self) -> Examples:
        """The part of F_q an update is fitted on."""
        return self.failures[self._n_val :] if self._n_val else self.failures

    @property
    def val(self) -> Examples:
        """The validation part of F_q, used only for early stopping."""
        return self.failures[: self._n_val] if self._n_val else self.failures

    def modes(self) -> list[Mode]:
        """The mode (true → predicted) of every failure in F_q, in order."""
        return [(int(t), int(p)) for t, p in zip(self.failures.y.tolist(), self.predicted.tolist(), strict=True)]

    def mode_groups(self, min_size: int = 8) -> list[tuple[Mode | None, Tensor]]:
        """F_q grouped by failure mode: ``(mode, positions in F_q)`` for every mode with at least ``min_size``
        failures, most common first, then the rest pooled as ``(None, positions)`` if they are two or more."""
        modes = self.modes()
        groups: list[tuple[Mode | None, Tensor]] = []
        rest: list[int] = []
        for mode, count in Counter(modes).most_common():
            members = [i for i, m in enumerate(modes) if m == mode]
            if count >= min_size:
                groups.append((mode, torch.tensor(members)))
            else:
                rest += members
        if len(rest) >= 2:
            groups.append((None, torch.tensor(sorted(rest))))
        return groups

    def subset(self, positions: Tensor) -> QueryHalf:
        """The same half with only the failures at ``positions`` of F_q (e.g. one failure mode)."""
        positions = positions.cpu()
        return QueryHalf(
            self.failures[positions.to(self.failures.y.device)],
            self.guard,
            self.predicted[positions],
            self.index[positions],
            self.guard_index,
            self.val_fraction,
            self.seed,
        )

    @classmethod
    def of(
        cls, failures: ExamplesLike, guard: ExamplesLike | None = None, seed: int = 0, val_fraction: float = 0.1
    ) -> QueryHalf:
        """A query half from failures known only as a set (and, optionally, the data that guard a treatment:
        by default the failures themselves)."""
        q = as_examples(failures, "failures")
        g = as_examples(guard, "guard") if guard is not None else q
        order = torch.randperm(len(q), generator=stream(seed, "query-order"))
        unknown = torch.full((len(q),), -1, dtype=torch.long)
        return cls(q[order], g, unknown, order, torch.arange(len(g)), val_fraction, seed)


@dataclass(frozen=True)
class HeldOutHalf:
    """T_h: the half of the test set that nothing chooses with; a repair is judged on it.

    Attributes:
        examples: T_h whole; accuracy on it is the unbiased **net**.
        failures: F_h, the failures in T_h (of the selected modes).
        remaining: T_h ∖ F, the correct predictions in T_h.
        predicted: the model's (wrong) predictions on F_h.
        index, failures_index, remaining_index: positions in the test set.
    """

    examples: Examples
    failures: Examples
    remaining: Examples
    predicted: Tensor
    index: Tensor
    failures_index: Tensor
    remaining_index: Tensor


@dataclass(frozen=True)
class Split:
    """The test set split by ``seed`` into its :class:`QueryHalf` and its :class:`HeldOutHalf`."""

    query: QueryHalf
    held_out: HeldOutHalf
    seed: int = 0

    def modes(self) -> Counter[Mode]:
        """How many failures of each mode F_q and F_h hold together, most common first (for the report)."""
        true = torch.cat([self.query.failures.y.cpu(), self.held_out.failures.y.cpu()]).tolist()
        predicted = torch.cat([self.query.predicted, self.held_out.predicted]).tolist()
        return Counter((int(t), int(p)) for t, p in zip(true, predicted, strict=True))


@torch.no_grad()
def predict(model: nn.Module, x: Inputs, batch_size: int = 1024) -> Tensor:
    """Predicted classes of ``model`` on the inputs ``x``, in batches (on the CPU)."""
    device = next(model.parameters()).device
    return torch.cat(
        [
            logits(model, inputs.apply(x, lambda t, i=i: t[i : i + batch_size].to(device))).argmax(-1).cpu()
            for i in range(0, inputs.rows(x), batch_size)
        ]
    )


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


def split_test(
    model: nn.Module,
    test: ExamplesLike,
    seed: int = 0,
    query_fraction: float = 0.5,
    val_fraction: float = 0.1,
    modes: list[Mode] | None = None,
) -> Split:
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
    query = QueryHalf(data[q], data[guard], predicted[q], q, guard, val_fraction, seed)
    held_out = HeldOutHalf(data[held], data[h], data[rest], predicted[h], held, h, rest)
    return Split(query, held_out, seed)
