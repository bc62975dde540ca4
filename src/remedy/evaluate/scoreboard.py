"""The honest scoreboard of a repair: its net effect on the held-out half of the test set, with an interval that
covers the test sample and the treatment's own seeds, beside the same treatment without the diagnosis (no removal,
random choices, the peers' choices) and with perfect knowledge (the oracle), each control as a paired difference
from the repair (SPEC §1, "Prove it"). Every change is in points of accuracy (100 × fraction).

Only :func:`measure` reads the held-out half; a :class:`Trial` and the count rules see the guard alone.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from remedy.data.split import Split, predict
from remedy.evaluate.accuracy import evaluate
from remedy.evaluate.intervals import change_interval, difference_interval
from remedy.examples import Examples
from remedy.posterior import Posterior
from remedy.seeds import stream
from remedy.treat import Repair, repair
from remedy.treat.registry import TREATMENTS


@dataclass(frozen=True)
class Trial:
    """One treatment with its options under a guard, applied to sets of causes with each of its treatment ``seeds``
    (one seed for a treatment without randomness). Each (set, seed) is treated once: choosing the count, the
    controls and the count curve ask for some sets more than once, and get the repair already made."""

    posterior: Posterior
    guard: Examples
    method: str
    options: Mapping[str, Any]
    delta: float
    seeds: tuple[int, ...] = (0,)
    done: dict[tuple[bytes, int], Repair] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "seed" not in TREATMENTS.options(self.method):  # deterministic: one repair per set is all there is
            object.__setattr__(self, "seeds", self.seeds[:1])

    def __call__(self, causes: Tensor, seed: int | None = None) -> Repair:
        seed = self.seeds[0] if seed is None else seed
        key = (causes.detach().to("cpu", torch.long).numpy().tobytes(), seed)
        if key not in self.done:
            options = dict(self.options) | ({"seed": seed} if "seed" in TREATMENTS.options(self.method) else {})
            self.done[key] = repair(self.posterior, causes, self.method, guard=self.guard, delta=self.delta, **options)
        return self.done[key]

    def all(self, causes: Tensor) -> list[Repair]:
        """The repairs of ``causes`` with every treatment seed."""
        return [self(causes, seed) for seed in self.seeds]


@dataclass
class Row:
    """Repairs of one set of causes (or of several, for the random control) measured on the split: the summary row
    and the per-example changes ``[repairs, |T_h|]`` its intervals and paired differences come from."""

    row: dict[str, Any]
    changes: Tensor


def _unchanged(posterior: Posterior, result: Repair) -> bool:
    state = result.model.state_dict()
    return all(torch.equal(value, state[key]) for key, value in posterior.model.state_dict().items())


def measure(posterior: Posterior, repairs: Sequence[Repair], split: Split, level: float = 0.95) -> Row:
    """The scoreboard row of ``repairs`` (one per treatment seed, or per random draw): accuracies and counts averaged
    over them, ``net_change`` on T_h with its ``interval`` and ``spread`` (sd over the repairs), each repair's net
    change, the guard's accuracy and back-off steps, any warnings, and whether every repair ``returned_original``
    (θ̂ unchanged), with why."""
    held = split.held_out.examples
    before = predict(posterior.model, held.x) == held.y.cpu()
    changes = torch.stack([(predict(r.model, held.x) == held.y.cpu()).double() - before.double() for r in repairs])
    rows = [evaluate(r.model, split) for r in repairs]
    per = (100 * changes.mean(1)).tolist()
    interval = change_interval(changes, level, split.seed).scaled(100)
    unchanged = [_unchanged(posterior, r) for r in repairs]
    row: dict[str, Any] = {
        "accuracy": {
            key: None if rows[0]["accuracy"][key] is None else statistics.fmean(r["accuracy"][key] for r in rows)
            for key in rows[0]["accuracy"]
        },
        "fixed": statistics.fmean(r["fixed"] for r in rows),
        "broken": statistics.fmean(r["broken"] for r in rows),
        "net_change": interval.mean,
        "interval": [interval.lo, interval.hi],
        "spread": statistics.stdev(per) if len(per) > 1 else 0.0,
        "seeds": per,
        "n_causes": repairs[0].n_causes,
        "guard": {
            "before": repairs[0].guard_before,
            "after": statistics.fmean(r.guard_after for r in repairs),
            "steps": [r.step for r in repairs],
        },
        "warning": next((r.warning for r in repairs if r.warning), None),
        "returned_original": all(unchanged),
        "seconds": sum(r.seconds for r in repairs),
    }
    if all(unchanged):
        backed_off = all(r.step == 0 for r in repairs)
        row["why"] = (
            "every back-off toward θ̂ still lost more than δ on the guard, so θ̂ was kept"
            if backed_off
            else "the treatment's own stopping rule kept θ̂: no step of it did better on the guard than θ̂ itself"
        )
    return Row(row, changes)


def difference(repair_row: Row, control: Row, level: float, seed: int) -> dict[str, Any]:
    """The repair minus the control on the same held-out examples, in points, with its interval."""
    interval = difference_interval(repair_row.changes, control.changes, level, seed).scaled(100)
    return {"mean": interval.mean, "interval": [interval.lo, interval.hi]}


def removal_value(
    repair_row: Row, nothing: Row, oracle: Row | None = None, level: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """What removing the causes added: the repair minus the same treatment with ``nothing`` removed, on the same
    held-out examples (``value`` with its ``interval``, in points), beside the same for the ``oracle``'s set (every
    corrupted label, when known) and the ``share`` of it the repair reaches (``None`` when the oracle's removal value
    is not positive: there is nothing to share)."""
    value = difference(repair_row, nothing, level, seed)
    out: dict[str, Any] = {"value": value["mean"], "interval": value["interval"]}
    if oracle is not None:
        best = difference(oracle, nothing, level, seed)
        share = value["mean"] / best["mean"] if best["mean"] > 0 else None
        out |= {"oracle_value": best["mean"], "oracle_interval": best["interval"], "share": share}
    return out


def choose_count(
    trial: Trial, ranking: Tensor, candidates: Sequence[int], level: float = 0.95, seed: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """The number of top-ranked causes to treat, chosen on the guard alone: the candidate whose repair with the
    trial's first treatment seed is the most accurate on the guard, the smaller count on a tie. One seed per
    candidate keeps the choice cheap; what keeps it from picking noise is a treatment whose own spread is small
    (``docs/treatment-noise.md``). Returns the count and, for every candidate, its guard accuracy, its change from θ̂
    on the guard with an interval, and its paired difference from the chosen candidate (``told_apart`` when that
    interval excludes zero); the repairs stay in ``trial``."""
    counts = sorted(set(candidates))
    repairs = {k: trial(ranking[:k], trial.seeds[0]) for k in counts}
    guards = {k: r.guard_after for k, r in repairs.items()}
    best = max(guards, key=lambda k: (guards[k], -k))
    x, y = trial.guard.x, trial.guard.y.cpu()
    before = (predict(trial.posterior.model, x) == y).double()
    changes = {k: ((predict(r.model, x) == y).double() - before)[None] for k, r in repairs.items()}
    curve = []
    for k in counts:
        change = change_interval(changes[k], level, seed).scaled(100)
        versus = difference_interval(changes[k], changes[best], level, seed).scaled(100)
        curve.append(
            {
                "count": k,
                "guard": guards[k],
                "change": change.mean,
                "interval": [change.lo, change.hi],
                "minus_chosen": {"mean": versus.mean, "interval": [versus.lo, versus.hi]},
                "told_apart": None if k == best else versus.excludes_zero,
            }
        )
    return best, curve


def random_ranking(n: int, seed: int, draw: int = 0) -> Tensor:
    """The ``draw``-th random order of the ``n`` training examples (its prefixes are the random control's sets)."""
    return torch.randperm(n, generator=stream(seed, f"random-causes-{draw}"))


def controls(
    trial: Trial,
    split: Split,
    count: int,
    peers: Mapping[str, Tensor],
    corrupted: Tensor | None = None,
    draws: int = 3,
    seed: int = 0,
    candidates: Sequence[int] = (),
    level: float = 0.95,
) -> dict[str, Row]:
    """The same treatment on other sets of causes, each with the trial's treatment seeds: ``no-removal`` (none),
    ``random`` (``draws`` random sets of ``count``, each with the next treatment seed: its spread is the draws' and
    the seeds' together), every peer's top ``count`` (``peers``: name → scores), and the ``oracle`` (exactly the
    ``corrupted`` examples, when known).

    With ``candidates`` (the counts the diagnosis chose ``count`` among), also ``random-chosen-count``: the first
    random order with its count chosen on the guard among the same candidates. Choosing the best of several repairs
    on the guard is itself worth something on T_h; this control gets the same choice without the diagnosis, so a
    scorer beats it only by ranking better."""
    n, posterior = trial.posterior.n, trial.posterior
    rows = {"no-removal": measure(posterior, trial.all(torch.zeros(0, dtype=torch.long)), split, level)}
    randoms = [trial(random_ranking(n, seed, d)[:count], trial.seeds[d % len(trial.seeds)]) for d in range(draws)]
    rows["random"] = measure(posterior, randoms, split, level)
    if candidates:
        order = random_ranking(n, seed)
        chosen, guard_curve = choose_count(trial, order, candidates, level, seed)
        rows["random-chosen-count"] = measure(posterior, trial.all(order[:chosen]), split, level)
        rows["random-chosen-count"].row["guard_curve"] = guard_curve
    if corrupted is not None and bool(corrupted.any()):
        rows["oracle"] = measure(posterior, trial.all(torch.nonzero(corrupted).flatten()), split, level)
    for name, values in peers.items():
        ranking = torch.argsort(values, descending=True, stable=True)
        rows[name] = measure(posterior, trial.all(ranking[:count]), split, level)
    return rows


def held_out_curve(
    trial: Trial, split: Split, rankings: Mapping[str, Tensor], counts: Sequence[int], level: float = 0.95
) -> list[dict[str, Any]]:
    """The net change on T_h against the number of causes treated, for each ranking, with the first treatment seed
    (the repairs the count was chosen with, not made again): for evaluation only, never for choosing."""
    rows = []
    for k in counts:
        row: dict[str, Any] = {"count": k}
        for name, ranking in rankings.items():
            repaired = trial(ranking[:k], trial.seeds[0])
            row[name] = measure(trial.posterior, [repaired], split, level).row["net_change"]
        rows.append(row)
    return rows


def _points(value: float) -> str:
    return f"{value:+.2f}"


def _removal_sentence(removal: Mapping[str, Any], causes: int, treatment: str) -> str:
    """The removal value in words: what removing the causes added beyond the same treatment with nothing removed."""
    value, (lo, hi) = removal["value"], removal["interval"]
    span = f"{_points(value)} points [{_points(lo)}, {_points(hi)}]"
    baseline = f"the same {treatment} with nothing removed"
    if lo > 0:
        text = f"Removing the {causes} causes added {span} beyond {baseline}"
    elif hi < 0:
        text = f"Removing the {causes} causes cost {span} against {baseline}"
    else:
        text = f"Removing the {causes} causes added nothing that can be told apart from {baseline} ({span})"
    if removal.get("share") is not None:
        text += (
            f", {removal['share']:.2f} of what removing every corrupted label adds ({_points(removal['oracle_value'])})"
        )
    return text


def verdict(
    main: Mapping[str, Any],
    differences: Mapping[str, Mapping[str, Any]],
    removal: Mapping[str, Any] | None = None,
    treatment: str = "treatment",
) -> tuple[str, bool]:
    """The report's headline and whether the repair beat every non-oracle control with an interval above zero.

    A repair whose net change is negative leads the headline as a loss, whatever its controls did: "made the model
    worse" when its interval lies below zero, "lost … on the mean" when the interval also covers no change. Otherwise
    the headline leads with the ``removal`` value (:func:`removal_value`): what removing the causes added beyond
    the same ``treatment`` with nothing removed — or that it added nothing — then the net change and the controls."""
    lo, hi = main["interval"]
    change = f"{_points(main['net_change'])} points [{_points(lo)}, {_points(hi)}]"
    lead = [] if removal is None else [_removal_sentence(removal, main.get("n_causes", 0), treatment)]
    if main["net_change"] < 0:
        if hi < 0:
            loss = f"The repair made the model worse on held-out data ({change}): do not use it."
        else:
            loss = (
                f"The repair lost held-out accuracy on the mean ({change}; the interval also covers no change): "
                "do not use it."
            )
        return " ".join([loss, *(f"{sentence}." for sentence in lead)]), False
    beaten, tied, lost = [], [], []
    for name, d in differences.items():
        if name == "oracle":
            continue
        text = f"{name} by {_points(d['mean'])} [{_points(d['interval'][0])}, {_points(d['interval'][1])}]"
        (beaten if d["interval"][0] > 0 else lost if d["interval"][1] < 0 else tied).append((name, text))
    net = f"the repair changed held-out accuracy by {change}"
    parts = [*lead, net] if lead else [net[0].upper() + net[1:]]
    if beaten:
        parts.append("it beats " + ", ".join(t for _, t in beaten))
    if tied:
        parts.append("it cannot be told apart from " + ", ".join(n for n, _ in tied))
    if lost:
        parts.append("it loses to " + ", ".join(t for _, t in lost))
    return "; ".join(parts) + ".", not tied and not lost
