"""The honest scoreboard of a repair: its net effect on the held-out half of the test set, beside the same
treatment without the diagnosis (no removal, random choices, the peers' choices) and with perfect knowledge
(the oracle), all measured in the same run (SPEC §1, "Prove it")."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from remedy.data.failures import Failures
from remedy.errors import check
from remedy.evaluate.accuracy import evaluate
from remedy.posterior import Posterior
from remedy.seeds import stream
from remedy.treat import Repair, repair


def outcome(result: Repair, failures: Failures, net_before: float) -> dict[str, Any]:
    """A repair's row of the scoreboard: ``accuracy`` (query, holdout, remaining, net), ``fixed``, ``broken``,
    ``net_change`` (net minus the original's, in accuracy), the guard's accuracy before/after, the back-off step,
    any warning, and the seconds it took."""
    row = evaluate(result.model, failures)
    return row | {
        "net_change": row["accuracy"]["net"] - net_before,
        "n_causes": result.n_causes,
        "guard": {"before": result.guard_before, "after": result.guard_after, "step": result.step},
        "warning": result.warning,
        "seconds": result.seconds,
    }


@dataclass(frozen=True)
class Trial:
    """One treatment with its options, applied to sets of causes under the split's guard. Each set of causes is
    treated once: choosing the count, the controls and the count curve ask for some sets more than once (the
    chosen count's set; the first random draw's prefix), and get the repair already made."""

    posterior: Posterior
    failures: Failures
    method: str
    options: Mapping[str, Any]
    delta: float
    done: dict[bytes, Repair] = field(default_factory=dict, repr=False, compare=False)

    def __call__(self, causes: Tensor) -> Repair:
        key = causes.detach().to("cpu", torch.long).numpy().tobytes()
        if key not in self.done:
            self.done[key] = repair(
                self.posterior, causes, self.method, guard=self.failures.guard, delta=self.delta, **self.options
            )
        return self.done[key]


def choose_count(trial: Trial, ranking: Tensor, candidates: Sequence[int]) -> tuple[int, list[dict[str, Any]]]:
    """The number of top-ranked causes to treat, chosen on the guard: the candidate whose repair is most accurate
    on the guard (T_q), the smaller count on a tie. Returns it and the guard accuracy of every candidate (the
    repairs stay in ``trial``). T_h is never looked at."""
    check(len(candidates) > 0 and min(candidates) > 0, "counts", "at least one positive count")
    guards = {k: trial(ranking[:k]).guard_after for k in sorted(set(candidates))}
    best = max(guards, key=lambda k: (guards[k], -k))
    return best, [{"count": k, "guard": g} for k, g in guards.items()]


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of several draws' rows, with the spread (sample standard deviation) of the net change."""
    changes = [row["net_change"] for row in rows]
    mean = {
        key: statistics.fmean(row["accuracy"][key] for row in rows)
        for key in ("query", "holdout", "remaining", "net")
        if all(row["accuracy"][key] is not None for row in rows)
    }
    return {
        "accuracy": mean,
        "fixed": statistics.fmean(row["fixed"] for row in rows),
        "broken": statistics.fmean(row["broken"] for row in rows),
        "net_change": statistics.fmean(changes),
        "spread": statistics.stdev(changes) if len(changes) > 1 else 0.0,
        "draws": [row["net_change"] for row in rows],
        "n_causes": rows[0]["n_causes"],
    }


def random_ranking(n: int, seed: int, draw: int = 0) -> Tensor:
    """The ``draw``-th random order of the ``n`` training examples (its prefixes are the random control's sets)."""
    return torch.randperm(n, generator=stream(seed, f"random-causes-{draw}"))


def controls(
    trial: Trial,
    count: int,
    net_before: float,
    peers: Mapping[str, Tensor],
    corrupted: Tensor | None = None,
    draws: int = 3,
    seed: int = 0,
    candidates: Sequence[int] = (),
) -> dict[str, dict[str, Any]]:
    """The same treatment on other sets of causes: ``no-removal`` (none), ``random`` (``draws`` sets of ``count``
    examples, mean and spread), every peer's top ``count`` (``peers``: name → scores, e.g. cleanlab and
    self-loss), and the ``oracle`` (exactly the ``corrupted`` examples, when known).

    With ``candidates`` (the counts the diagnosis chose ``count`` among), also ``random-chosen-count``: the first
    random order with its count chosen on the guard among the same candidates. Choosing the best of several
    repairs on the guard is itself worth something on T_h; this control gets the same choice without the
    diagnosis, so a scorer beats it only by ranking better."""
    n = trial.posterior.n
    rows: dict[str, dict[str, Any]] = {
        "no-removal": outcome(trial(torch.zeros(0, dtype=torch.long)), trial.failures, net_before)
    }
    randoms = [outcome(trial(random_ranking(n, seed, d)[:count]), trial.failures, net_before) for d in range(draws)]
    rows["random"] = _summary(randoms)
    if candidates:
        order = random_ranking(n, seed)
        chosen, guard_curve = choose_count(trial, order, candidates)
        rows["random-chosen-count"] = outcome(trial(order[:chosen]), trial.failures, net_before) | {
            "guard_curve": guard_curve
        }
    if corrupted is not None and bool(corrupted.any()):
        rows["oracle"] = outcome(trial(torch.nonzero(corrupted).flatten()), trial.failures, net_before)
    for name, values in peers.items():
        ranking = torch.argsort(values, descending=True, stable=True)
        rows[name] = outcome(trial(ranking[:count]), trial.failures, net_before)
    return rows


def count_curve(
    trial: Trial,
    rankings: Mapping[str, Tensor],
    counts: Sequence[int],
    net_before: float,
) -> list[dict[str, Any]]:
    """The net change on T_h as a function of the number of causes treated, for each ranking (the scorer's and
    the controls'); repairs ``trial`` already made are not made again."""
    rows = []
    for k in counts:
        row: dict[str, Any] = {"count": k}
        for name, ranking in rankings.items():
            row[name] = outcome(trial(ranking[:k]), trial.failures, net_before)["net_change"]
        rows.append(row)
    return rows


def verdict(net_change: float, rows: Mapping[str, Mapping[str, Any]]) -> tuple[str, bool]:
    """One sentence for the report's headline, and whether the repair beat every non-oracle control. A repair
    that loses accuracy, or gains less than a control, is said to be no repair."""
    beaten = {name: row["net_change"] for name, row in rows.items() if name != "oracle"}
    losers = [name for name, change in beaten.items() if change >= net_change]
    points = f"{100 * net_change:+.2f} points"
    if net_change < 0:
        return f"The repair made the model worse on held-out data ({points}): do not use it.", False
    if losers:
        names = ", ".join(losers)
        return (
            f"The repair changed held-out accuracy by {points} but did not beat {names}: "
            "the diagnosis added nothing here.",
            False,
        )
    return f"The repair changed held-out accuracy by {points} and beat every control ({', '.join(beaten)}).", True
