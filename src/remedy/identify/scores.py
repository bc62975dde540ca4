"""The result of an identification: one score per training example, larger = more harmful."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from remedy.errors import check
from remedy.io import write_csv

SIGN = "larger = more harmful"
"""The sign convention of every score remedy writes."""

COLUMN = f"score ({SIGN})"
"""The score's column in ``scores.csv``: the header says which way it points."""


@dataclass(frozen=True)
class Selection:
    """What a set-aware scorer returns instead of a plain score vector: selection priorities whose descending order
    is the order the causes are chosen in (larger = chosen earlier = more harmful as a member of the set), the
    number of causes the method itself estimates, and what it found on the way (saved in ``summary.json``)."""

    values: Tensor
    count: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scores:
    """Per-training-example scores from ``method``; **a larger score means more harmful** to the target.

    Attributes:
        values: ``[N]`` scores, on the CPU.
        method: the registry name of the scorer.
        seconds: wall time of the identification.
        options: the settings it ran with.
        count: how many causes the method itself estimates there are (a set-aware scorer's
            :class:`Selection`); ``None`` when it does not say.
        details: what a set-aware scorer found on the way (e.g. its counts per confusion cell).
    """

    values: Tensor
    method: str
    seconds: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)
    count: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        top = ", ".join(str(int(i)) for i in self.ranking()[:5])
        return f"Scores(method={self.method!r}, n={len(self)}, {SIGN}, most harmful first: [{top}, …])"

    def ranking(self) -> Tensor:
        """Training indices from most to least harmful (ties keep index order)."""
        return torch.argsort(self.values, descending=True, stable=True)

    def top(self, k: int | None = None, fraction: float | None = None) -> Tensor:
        """The ``k`` most harmful indices, or the top ``fraction`` of the training set."""
        check((k is None) != (fraction is None), "top", "exactly one of k and fraction")
        if fraction is not None:
            check(0.0 < fraction <= 1.0, "fraction", f"a fraction in (0, 1], got {fraction}")
            k = max(1, round(fraction * len(self)))
        check(k is not None and 0 < k <= len(self), "k", f"a count in [1, {len(self)}], got {k}")
        return self.ranking()[:k]

    def positive(self) -> Tensor:
        """Indices with ``r(z) > 0`` (Tanno Algorithm 1's causes), most harmful first."""
        order = self.ranking()
        return order[self.values[order] > 0]

    def to_frame(self, **columns: Tensor) -> pd.DataFrame:
        """A table ``index, <columns…>, score (larger = more harmful)``, one row per training example in index
        order."""
        frame = pd.DataFrame({"index": range(len(self))})
        for name, column in columns.items():
            frame[name] = column.cpu().numpy()
        frame[COLUMN] = self.values.double().numpy()
        return frame

    def save(self, path: str | Path, **columns: Tensor) -> Path:
        """Write :meth:`to_frame` as CSV (atomically)."""
        return write_csv(path, self.to_frame(**columns))

    @classmethod
    def load(cls, path: str | Path, method: str = "loaded") -> Scores:
        """Scores from a CSV with an ``index`` column and a score column (``score (larger = more harmful)`` as
        remedy writes it, or ``score`` with the same sign)."""
        frame = pd.read_csv(path)
        column = next((c for c in (COLUMN, "score") if c in frame), None)
        check(column is not None and "index" in frame, str(path), f"a CSV with columns index and {COLUMN!r}")
        values = torch.tensor(frame.sort_values("index")[column].to_numpy(), dtype=torch.float64)
        return cls(values, method)
