from __future__ import annotations

import copy

import pytest
import torch

import remedy
from remedy.evaluate import detection_curve
from remedy.identify.scores import COLUMN
from remedy.treat.relabel import corrected_labels
from remedy.update import EWC, laplace_penalty


def test_ewc_influence_ranks_planted_flips_first(problem: dict) -> None:
    scores = remedy.identify(problem["posterior"], problem["split"], "ewc-influence")
    mask = problem["mask"]
    curve = detection_curve(scores.values, mask)
    assert curve.auc > 0.85 > curve.random_auc + 0.3
    assert float((scores.values[mask] > 0).double().mean()) > 0.9  # planted flips are causes: r(z) > 0
    assert float(scores.values[mask].mean()) > 5 * float(scores.values[~mask].mean().abs())


def test_laplace_penalty_matches_its_formula(problem: dict) -> None:
    posterior = problem["posterior"]
    moved = posterior.copy_model()
    with torch.no_grad():
        for p in moved.parameters():
            p.add_(0.1 * torch.randn_like(p))
    delta = torch.cat(
        [(a - b).reshape(-1) for a, b in zip(moved.parameters(), posterior.model.parameters(), strict=True)]
    )
    expected = 0.5 * posterior.n * (posterior.curvatures.fisher() * delta**2).sum() + 0.5 * 3.0 * (delta**2).sum()
    torch.testing.assert_close(laplace_penalty(posterior, moved, prior_precision=3.0), expected)


def test_a_stronger_penalty_keeps_the_update_closer(problem: dict) -> None:
    posterior, failures = problem["posterior"], problem["split"]
    theta = torch.cat([p.detach().reshape(-1) for p in posterior.model.parameters()])

    def distance(scale: float) -> float:
        model = posterior.insert(failures.query.fit, EWC(scale), failures.query.val).model
        return float((torch.cat([p.detach().reshape(-1) for p in model.parameters()]) - theta).norm())

    assert distance(100.0) < 0.5 * distance(1.0 / len(failures.query.fit))


@pytest.mark.parametrize("method", ["ewc-deletion", "finetune", "retrain", "newton", "puma", "relabel"])
def test_treatments_never_mutate_their_input(problem: dict, method: str) -> None:
    user_model = problem["model"]
    before_user = copy.deepcopy(user_model.state_dict())
    posterior = problem["posterior"]
    before_posterior = copy.deepcopy(posterior.model.state_dict())
    causes = torch.nonzero(problem["mask"]).flatten()
    repaired = remedy.repair(posterior, causes, method, guard=problem["split"].query.guard, delta=1.0).model
    assert repaired is not user_model and repaired is not posterior.model
    for before, after in ((before_user, user_model.state_dict()), (before_posterior, posterior.model.state_dict())):
        assert all(torch.equal(before[k], after[k]) for k in before)
    changed = any(
        not torch.equal(a, b) for a, b in zip(repaired.state_dict().values(), before_user.values(), strict=True)
    )
    assert changed


def test_removing_the_planted_flips_repairs_failures(problem: dict) -> None:
    causes = torch.nonzero(problem["mask"]).flatten()
    for method in ("finetune", "retrain"):
        repaired = remedy.repair(problem["posterior"], causes, method, guard=problem["split"].query.guard).model
        accuracy = remedy.evaluate(repaired, problem["split"])["accuracy"]
        assert accuracy["held_out_failures"] > 0.3 and accuracy["remaining"] > 0.9


def test_relabelling_corrects_planted_flips(problem: dict) -> None:
    causes = torch.nonzero(problem["mask"]).flatten()
    labels = corrected_labels(problem["posterior"], causes, "model", folds=3, seed=0)
    assert torch.equal(labels, 1 - problem["posterior"].train.y[causes])  # two classes: the other one
    repaired = remedy.repair(problem["posterior"], causes, "relabel", guard=problem["split"].query.guard).model
    assert remedy.evaluate(repaired, problem["split"])["accuracy"]["held_out_failures"] > 0.3


def test_ewc_influence_per_mode_scores_every_mode(problem: dict) -> None:
    failures = problem["split"]
    scores = remedy.identify(problem["posterior"], failures, "ewc-influence", per="mode", aggregate="class-max")
    assert scores.values.shape == (len(problem["train"]),) and bool(torch.isfinite(scores.values).all())
    assert detection_curve(scores.values, problem["mask"]).auc > 0.75


def test_scores_round_trip(problem: dict, tmp_path) -> None:
    scores = remedy.identify(problem["posterior"], problem["split"], "finetune-influence")
    path = scores.save(tmp_path / "scores.csv", corrupted=problem["mask"].int())
    loaded = remedy.Scores.load(path)
    torch.testing.assert_close(loaded.values, scores.values)
    assert list(scores.to_frame(corrupted=problem["mask"].int()).columns) == ["index", "corrupted", COLUMN]
    assert "larger = more harmful" in path.read_text().splitlines()[0]
    top = int(scores.ranking()[0])
    assert "larger = more harmful" in repr(scores) and f"[{top}," in repr(scores)


def test_scores_load_a_plain_score_column(tmp_path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("index,score\n1,0.5\n0,2.0\n")
    assert remedy.Scores.load(path).values.tolist() == [2.0, 0.5]


@pytest.mark.parametrize("method", ["finetune-failures", "finetune-failures-removed"])
def test_learning_from_the_failures_fixes_held_out_failures(problem: dict, method: str) -> None:
    posterior, split = problem["posterior"], problem["split"]
    causes = torch.nonzero(problem["mask"]).flatten()
    before = remedy.evaluate(posterior.model, split)["accuracy"]
    result = remedy.repair(posterior, causes, method, guard=split.query.guard)
    after = remedy.evaluate(result.model, split)["accuracy"]
    assert after["held_out_failures"] > 0.2 and after["net"] > before["net"]  # the failures' lesson generalises
    # the guard and its back-off score the repair on the guard's examples it did not fit on
    from remedy.evaluate import accuracy
    from remedy.treat.finetune_failures import guard_failures

    fitted = guard_failures(posterior, split.query.guard, 0)
    unfitted = [i for i, x in enumerate(split.query.guard.x) if not (fitted.x == x).all(dim=1).any()]
    rest = split.query.guard[torch.tensor(unfitted)]
    assert len(rest) == len(split.query.guard) - len(fitted)
    assert result.guard_before == accuracy(posterior.model, rest) and result.guard_after == accuracy(result.model, rest)
    assert result.guard_after != accuracy(result.model, split.query.guard)
