"""The failure split of a test set (Tanno et al. §4): F = misclassified, F_q / F_h, and T \\ F."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from remedy.errors import RemedyError, check
from remedy.seeds import stream
from remedy.task import Examples, ExamplesLike, as_examples, check_eval_model


@dataclass(frozen=True)
class Failures:
    """F_q (``query``: identifies causes; its ``val_fraction`` part early-stops updates), F_h (``holdout``) and T \\ F.

    ``*_index`` hold positions in the test set the split came from.
    """

    query: Examples
    holdout: Examples
    remaining: Examples
    query_index: Tensor
    holdout_index: Tensor
    remaining_index: Tensor
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

    @classmethod
    def from_query(cls, query: ExamplesLike, seed: int = 0, val_fraction: float = 0.1) -> Failures:
        """Failures known only as a query set (no holdout or remaining set to evaluate on)."""
        q = as_examples(query, "query")
        order = torch.randperm(len(q), generator=stream(seed, "query-order"))
        empty = q[torch.zeros(0, dtype=torch.long)]
        none = torch.zeros(0, dtype=torch.long)
        return cls(q[order], empty, empty, order, none, none, val_fraction, seed)


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 1024) -> Tensor:
    """Predicted classes of ``model`` on ``x``, in batches."""
    device = next(model.parameters()).device
    return torch.cat([model(x[i : i + batch_size].to(device)).argmax(-1).cpu() for i in range(0, len(x), batch_size)])


def split_failures(
    model: nn.Module, test: ExamplesLike, seed: int = 0, query_fraction: float = 0.5, val_fraction: float = 0.1
) -> Failures:
    """Split ``test`` into the misclassified set F (shuffled by ``seed``, then ``query_fraction`` to F_q, the
    rest to F_h) and the correctly classified remainder T \\ F. Deterministic given ``seed``."""
    check_eval_model(model)
    data = as_examples(test, "test")
    check(0.0 < query_fraction < 1.0, "query_fraction", f"a fraction in (0, 1), got {query_fraction}")
    check(0.0 < val_fraction < 1.0, "val_fraction", f"a fraction in (0, 1), got {val_fraction}")
    wrong = predict(model, data.x) != data.y
    failed = torch.nonzero(wrong).flatten()
    if len(failed) < 2:
        raise RemedyError(f"failures: expected at least 2 misclassified test examples, found {len(failed)}")
    failed = failed[torch.randperm(len(failed), generator=stream(seed, "failure-split"))]
    n_query = min(len(failed) - 1, max(1, round(query_fraction * len(failed))))
    q, h = failed[:n_query], failed[n_query:]
    rest = torch.nonzero(~wrong).flatten()
    return Failures(data[q], data[h], data[rest], q, h, rest, val_fraction, seed)
