"""Which direction of each confusion the causes pull, beside which direction the failures go: a set of causes that
takes one direction of a confused pair and leaves the other repairs only half of it (``docs/causes.md``).

A training example labelled b that θ̂ predicts as a pulls examples of a toward b: it is a cause in the direction
a → b, the failure mode (true a, predicted b) it can explain. Examples θ̂ predicts as labelled pull no direction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch
from torch import Tensor

LEAN = 0.8
"""A pair's causes lean one way when at least this share of them pull one direction …"""

GAP = 0.3
"""… and that share exceeds the failures' share of the same direction by at least this much."""

MIN_CAUSES = 10
"""Pairs with fewer directed causes than this are not judged."""


def directions(
    labels: Tensor, predicted: Tensor, causes: Tensor, failures: Sequence[tuple[int, int]]
) -> list[dict[str, object]]:
    """For every unordered pair {a, b} of classes that the ``failures`` (true, predicted) confuse: the failures in
    each direction and the ``causes`` (training indices; ``labels`` given, ``predicted`` by θ̂) pulling each
    direction, most failures first. Directions are written ``"a → b"`` (true a predicted b)."""
    failed = Counter((int(t), int(p)) for t, p in failures)
    pulled = Counter(
        (int(predicted[i]), int(labels[i])) for i in causes.tolist() if int(predicted[i]) != int(labels[i])
    )
    pairs = sorted({tuple(sorted(mode)) for mode in failed}, key=lambda p: -(failed[p] + failed[p[::-1]]))
    rows = []
    for a, b in pairs:
        rows.append(
            {
                "pair": f"{a} ↔ {b}",
                "failures": {f"{a} → {b}": failed[(a, b)], f"{b} → {a}": failed[(b, a)]},
                "causes": {f"{a} → {b}": pulled[(a, b)], f"{b} → {a}": pulled[(b, a)]},
            }
        )
    return rows


def leaning(rows: Sequence[dict[str, object]]) -> list[str]:
    """One warning per pair whose causes lean one way (at least :data:`LEAN` of its directed causes, and
    :data:`GAP` more than that direction's share of its failures), naming the direction left behind."""
    warnings = []
    for row in rows:
        causes, failures = row["causes"], row["failures"]
        assert isinstance(causes, dict) and isinstance(failures, dict)
        total, failed = sum(causes.values()), sum(failures.values())
        if total < MIN_CAUSES or failed == 0:
            continue
        (one, other) = causes
        for first, second in ((one, other), (other, one)):
            share, failure_share = causes[first] / total, failures[first] / failed
            if share >= LEAN and share - failure_share >= GAP:
                warnings.append(
                    f"the causes of {row['pair']} lean one way: {causes[first]} of {total} pull {first} "
                    f"({100 * share:.0f} %), while {100 * failure_share:.0f} % of its failures are {first}; "
                    f"the {failures[second]} {second} failures have {causes[second]} causes chosen"
                )
    return warnings


def directed(labels: Tensor, predicted: Tensor, causes: Tensor, failures: Sequence[tuple[int, int]]) -> dict:
    """:func:`directions` and :func:`leaning` together, as ``summary.json`` keeps them."""
    rows = directions(labels.cpu(), predicted.cpu(), torch.as_tensor(causes).cpu(), failures)
    return {"pairs": rows, "warnings": leaning(rows)}
