"""Treatments answer to a guard: they back off when they would break it, and fine-tuning that stops on the guard's
error never loses accuracy on it."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.errors import RemedyWarning
from remedy.evaluate import accuracy


def test_the_guard_backs_off_a_treatment_that_would_break_it(problem: dict) -> None:
    posterior, guard = problem["posterior"], problem["split"].query.guard
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
    posterior, guard = problem["posterior"], problem["split"].query.guard
    clean = torch.nonzero(~problem["mask"]).flatten()[:150]
    result = remedy.repair(posterior, clean, "finetune", guard=guard, early_stop=True, stop_on="error")
    assert result.guard_after >= result.guard_before and result.warning is None


def test_a_treatment_given_the_same_seed_twice_gives_the_same_model(problem: dict) -> None:
    posterior, guard = problem["posterior"], problem["split"].query.guard
    causes = torch.nonzero(problem["mask"]).flatten()
    models = [remedy.repair(posterior, causes, "finetune", guard=guard, seed=s).model for s in (3, 3, 4)]
    states = [m.state_dict() for m in models]
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert any(not torch.equal(states[0][k], states[2][k]) for k in states[0])  # another seed, another model
