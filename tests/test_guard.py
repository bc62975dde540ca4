"""Treatments answer to a guard, and the scoreboard's arithmetic adds up."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.errors import RemedyWarning
from remedy.evaluate import accuracy, evaluate
from remedy.evaluate.scoreboard import Trial, choose_count, controls, outcome, random_ranking, verdict


def test_the_guard_backs_off_a_treatment_that_would_break_it(problem: dict) -> None:
    posterior, guard = problem["posterior"], problem["failures"].guard
    causes = torch.nonzero(~problem["mask"]).flatten()[:100]  # removing 100 clean examples, 40 times over: a wreck
    wreck = remedy.repair(posterior, causes, "newton", guard=guard, delta=float("inf"), scale=40.0)
    before = accuracy(posterior.model, guard)
    assert wreck.step == 1.0 and before - accuracy(wreck.model, guard) > 0.05  # the premise: it breaks the guard
    with pytest.warns(RemedyWarning, match="backed off|unchanged"):
        guarded = remedy.repair(posterior, causes, "newton", guard=guard, delta=0.01, scale=40.0)
    assert guarded.step < 1.0 and guarded.warning
    assert before - accuracy(guarded.model, guard) <= 0.01
    assert guarded.guard_after == pytest.approx(accuracy(guarded.model, guard))


def test_fine_tuning_never_loses_guard_accuracy_when_it_stops_on_the_error(problem: dict) -> None:
    posterior, guard = problem["posterior"], problem["failures"].guard
    clean = torch.nonzero(~problem["mask"]).flatten()[:150]
    result = remedy.repair(posterior, clean, "finetune", guard=guard, stop_on="error")
    assert result.guard_after >= result.guard_before and result.warning is None


def test_scoreboard_arithmetic(problem: dict) -> None:
    posterior, failures = problem["posterior"], problem["failures"]
    before = evaluate(posterior.model, failures)
    assert before["fixed"] == 0 and before["broken"] == 0 and before["accuracy"]["holdout"] == 0.0
    trial = Trial(posterior, failures, "finetune", {"seed": 0}, 0.01)
    result = trial(torch.nonzero(problem["mask"]).flatten())
    row = outcome(result, failures, before["accuracy"]["net"])
    held, remaining = len(failures.held_out), len(failures.remaining)
    assert row["fixed"] + remaining - row["broken"] == round(row["accuracy"]["net"] * held)  # every T_h example counted
    assert row["net_change"] == pytest.approx((row["fixed"] - row["broken"]) / held)
    assert row["fixed"] == round(row["accuracy"]["holdout"] * len(failures.holdout))
    rows = controls(
        trial,
        20,
        before["accuracy"]["net"],
        {"self-loss": -posterior.log_likelihood(posterior.train)},
        problem["mask"],
        draws=3,
        seed=0,
        candidates=[10, 20, 40],
    )
    assert set(rows) == {"no-removal", "random", "random-chosen-count", "oracle", "self-loss"}
    assert rows["random"]["net_change"] == pytest.approx(sum(rows["random"]["draws"]) / 3)
    chosen = rows["random-chosen-count"]  # the first random order, its count chosen on the guard like the diagnosis's
    guards = {row["count"]: row["guard"] for row in chosen["guard_curve"]}
    assert set(guards) == {10, 20, 40} and guards[chosen["n_causes"]] == max(guards.values())
    assert chosen["guard"]["after"] == guards[chosen["n_causes"]]
    # each set treated once: nothing, 3 random draws, the first random order's top 10 and 40 (its top 20 is draw 0),
    # the oracle's set (treated above) and self-loss's top 20
    assert len(trial.done) == 1 + 3 + 2 + 1 + 1
    first = random_ranking(posterior.n, 0)
    assert (
        chosen["net_change"]
        == outcome(trial(first[: chosen["n_causes"]]), failures, before["accuracy"]["net"])["net_change"]
    )
    assert rows["oracle"]["n_causes"] == int(problem["mask"].sum()) and rows["no-removal"]["n_causes"] == 0
    text, beats = verdict(-0.01, rows)
    assert not beats and "worse" in text


def test_the_count_is_chosen_on_the_guard_alone(problem: dict) -> None:
    posterior, failures = problem["posterior"], problem["failures"]
    trial = Trial(posterior, failures, "finetune", {"seed": 0}, 0.01)
    ranking = torch.argsort(problem["mask"].double(), descending=True, stable=True)  # the flips first
    k, curve = choose_count(trial, ranking, [5, 30, 200])
    guards = {row["count"]: row["guard"] for row in curve}
    assert guards[k] == max(guards.values()) and set(guards) == {5, 30, 200}
    assert len(trial.done) == 3 and trial(ranking[:k]) is trial.done[ranking[:k].numpy().tobytes()]  # made once
