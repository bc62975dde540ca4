"""The scoreboard measures what it says, and nothing that chooses ever sees the held-out half."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import remedy
from remedy.data.split import HeldOutHalf, Split, predict
from remedy.evaluate import accuracy
from remedy.evaluate.scoreboard import Trial, choose_count, controls, measure, removal_value, verdict
from remedy.identify import identify
from remedy.task import Task
from remedy.workflow import Problem, Settings, prove


def test_a_row_counts_every_held_out_example_by_hand(problem: dict) -> None:
    posterior, split = problem["posterior"], problem["split"]
    trial = Trial(posterior, split.query.guard, "finetune", {}, 0.01, (0, 1, 2))
    repairs = trial.all(torch.nonzero(problem["mask"]).flatten())
    row = measure(posterior, repairs, split).row
    held = split.held_out.examples
    was_right = predict(posterior.model, held.x) == held.y
    changes, fixed, broken = [], [], []
    for result in repairs:
        now_right = predict(result.model, held.x) == held.y
        changes.append(100 * (now_right.double().mean() - was_right.double().mean()).item())
        fixed.append(int((now_right & ~was_right).sum()))
        broken.append(int((~now_right & was_right).sum()))
    assert row["seeds"] == pytest.approx(changes) and row["net_change"] == pytest.approx(sum(changes) / 3)
    assert row["fixed"] == pytest.approx(sum(fixed) / 3) and row["broken"] == pytest.approx(sum(broken) / 3)
    assert row["interval"][0] < row["net_change"] < row["interval"][1]
    assert row["spread"] == pytest.approx(torch.tensor(changes).std().item())
    assert not row["returned_original"]


def test_controls_choose_on_the_guard_and_differ_by_their_rows(problem: dict) -> None:
    posterior, split = problem["posterior"], problem["split"]
    trial = Trial(posterior, split.query.guard, "finetune", {}, 0.01, (0, 1))
    main = measure(posterior, trial.all(torch.nonzero(problem["mask"]).flatten()), split)
    self_loss = -posterior.log_likelihood(posterior.train)
    rows = controls(trial, split, 20, {"self-loss": self_loss}, problem["mask"], 3, 0, [10, 20, 40])
    assert set(rows) == {"no-removal", "random", "random-chosen-count", "oracle", "self-loss"}
    assert rows["random"].changes.shape[0] == 3 and rows["no-removal"].changes.shape[0] == 2
    chosen = rows["random-chosen-count"].row
    order = torch.randperm(posterior.n, generator=remedy.seeds.stream(0, "random-causes-0"))
    guard_of = {k: accuracy(trial(order[:k], 0).model, split.query.guard) for k in (10, 20, 40)}  # from the models
    best = max(guard_of.values())
    assert chosen["n_causes"] == min(k for k, g in guard_of.items() if g == best)
    top = torch.argsort(self_loss, descending=True, stable=True)[:20]
    assert rows["self-loss"].changes.equal(measure(posterior, trial.all(top), split).changes)
    from remedy.evaluate.scoreboard import difference

    d = difference(main, rows["self-loss"], 0.95, 0)
    assert d["mean"] == pytest.approx(main.row["net_change"] - rows["self-loss"].row["net_change"])


def test_a_row_that_keeps_theta_hat_says_so_and_why(problem: dict) -> None:
    posterior, split = problem["posterior"], problem["split"]
    trial = Trial(posterior, split.query.guard, "newton", {"scale": 400.0}, 0.0)
    row = measure(posterior, trial.all(torch.nonzero(~problem["mask"]).flatten()[:100]), split).row
    assert row["returned_original"] and "back-off" in row["why"] and row["net_change"] == 0.0


def _scrambled(split: Split) -> Split:
    """The same split with every input and label of T_h replaced."""
    gen = torch.Generator().manual_seed(123)
    held = split.held_out

    def noise(data: remedy.Examples) -> remedy.Examples:
        return remedy.Examples(
            torch.randn(data.x.shape, generator=gen) * 5, torch.randint(0, 2, (len(data),), generator=gen)
        )

    other = HeldOutHalf(
        noise(held.examples),
        noise(held.failures),
        noise(held.remaining),
        held.predicted,
        held.index,
        held.failures_index,
        held.remaining_index,
    )
    return dataclasses.replace(split, held_out=other)


def test_changing_every_held_out_example_changes_no_choice(problem: dict) -> None:
    task = Task(problem["model"], problem["train"], problem["test"], record=problem["posterior"].record)
    settings = Settings(
        treat=("finetune", "newton"),
        peers=("self-loss",),
        treatment_seeds=2,
        random_draws=2,
        count_fractions=(0.05, 0.1),
    )
    summaries, models = [], []
    for split in (problem["split"], _scrambled(problem["split"])):
        posterior = remedy.Posterior(problem["model"], problem["train"], record=task.record)
        scores = identify(posterior, split, "puma")
        peers = {"self-loss": identify(posterior, split, "self-loss")}
        summary, repaired = prove(Problem(task, posterior, split), scores, settings, peers)
        summaries.append((scores.values, summary))
        models.append(repaired)
    (scores_a, a), (scores_b, b) = summaries
    assert torch.equal(scores_a, scores_b)
    assert a["count"]["chosen"] == b["count"]["chosen"] and a["count"]["guard_curve"] == b["count"]["guard_curve"]
    for part in ("treatments", "controls"):
        for name in a[part]:
            assert a[part][name]["guard"] == b[part][name]["guard"]  # every guard accuracy and back-off step
    for name, model in models[0].items():
        assert all(torch.equal(v, models[1][name].state_dict()[k]) for k, v in model.state_dict().items())
    assert a["treatments"]["finetune"]["net_change"] != b["treatments"]["finetune"]["net_change"]  # T_h did change


def test_the_removal_value_is_the_repair_minus_nothing_removed_beside_the_oracles(problem: dict) -> None:
    posterior, split = problem["posterior"], problem["split"]
    trial = Trial(posterior, split.query.guard, "finetune", {}, 0.01, (0, 1))
    flips = torch.nonzero(problem["mask"]).flatten()
    repair_row = measure(posterior, trial.all(flips[: len(flips) // 2]), split)
    nothing = measure(posterior, trial.all(torch.zeros(0, dtype=torch.long)), split)
    oracle = measure(posterior, trial.all(flips), split)
    found = removal_value(repair_row, nothing, oracle)
    assert found["value"] == pytest.approx(repair_row.row["net_change"] - nothing.row["net_change"])
    assert found["oracle_value"] == pytest.approx(oracle.row["net_change"] - nothing.row["net_change"])
    assert found["interval"][0] < found["value"] < found["interval"][1]
    if found["oracle_value"] > 0:
        assert found["share"] == pytest.approx(found["value"] / found["oracle_value"])
    assert removal_value(nothing, nothing)["value"] == 0.0 and "share" not in removal_value(nothing, nothing)


def test_the_count_curve_gives_each_candidate_an_interval_and_says_which_the_guard_tells_apart(problem: dict) -> None:
    posterior, split = problem["posterior"], problem["split"]
    trial = Trial(posterior, split.query.guard, "finetune", {}, 0.01, (0,))
    ranking = torch.argsort(problem["mask"].double(), descending=True, stable=True)
    chosen, curve = choose_count(trial, ranking, [5, 30, 200])
    guard = split.query.guard
    before = (predict(posterior.model, guard.x) == guard.y).double().mean()
    for point in curve:
        after = (predict(trial(ranking[: point["count"]]).model, guard.x) == guard.y).double().mean()
        assert point["change"] == pytest.approx(100 * float(after - before))
        assert point["interval"][0] <= point["change"] <= point["interval"][1]
        assert (point["told_apart"] is None) == (point["count"] == chosen)
        if point["told_apart"] is not None:
            lo, hi = point["minus_chosen"]["interval"]
            assert point["told_apart"] == (lo > 0 or hi < 0)
    assert max(curve, key=lambda p: (p["guard"], -p["count"]))["count"] == chosen


def test_the_headline_leads_with_the_removal_value_or_says_it_added_nothing() -> None:
    def diff(mean: float, lo: float, hi: float) -> dict:
        return {"mean": mean, "interval": [lo, hi]}

    main = {"net_change": 2.0, "interval": [1.0, 3.0], "n_causes": 300}
    added = {"value": 1.2, "interval": [0.4, 2.0], "oracle_value": 1.5, "share": 0.8}
    text, _ = verdict(main, {"no-removal": diff(1.2, 0.4, 2.0)}, added, "finetune")
    assert text.startswith("Removing the 300 causes added +1.20 points [+0.40, +2.00] beyond the same finetune")
    assert "0.80 of what removing every corrupted label adds" in text
    nothing = {"value": 0.1, "interval": [-0.3, 0.5], "oracle_value": None, "share": None}
    text, _ = verdict(main, {"no-removal": diff(0.1, -0.3, 0.5)}, nothing, "finetune")
    assert text.startswith("Removing the 300 causes added nothing that can be told apart from the same finetune")
    cost = {"value": -0.8, "interval": [-1.2, -0.4]}
    text, _ = verdict(main, {"no-removal": diff(-0.8, -1.2, -0.4)}, cost, "finetune")
    assert text.startswith("Removing the 300 causes cost -0.80 points")
    worse, ok = verdict({**main, "net_change": -2.0, "interval": [-3.0, -1.0]}, {}, added, "finetune")
    assert worse.startswith("The repair made the model worse") and "Removing the 300 causes added" in worse and not ok


def test_the_headline_leads_with_a_loss_and_says_beats_only_with_an_interval_above_zero() -> None:
    def diff(mean: float, lo: float, hi: float) -> dict:
        return {"mean": mean, "interval": [lo, hi]}

    worse, ok = verdict({"net_change": -2.0, "interval": [-3.0, -1.0]}, {"random": diff(5.0, 4.0, 6.0)})
    assert worse.startswith("The repair made the model worse") and not ok
    unsure, ok = verdict({"net_change": -0.5, "interval": [-2.0, 1.0]}, {"random": diff(5.0, 4.0, 6.0)})
    assert unsure.startswith("The repair lost held-out accuracy on the mean") and not ok
    controls = {"random": diff(1.0, 0.2, 1.8), "no-removal": diff(0.4, -0.3, 1.1), "oracle": diff(-2.0, -3.0, -1.0)}
    text, ok = verdict({"net_change": 1.5, "interval": [0.5, 2.5]}, controls)
    assert "it beats random by +1.00 [+0.20, +1.80]" in text and "cannot be told apart from no-removal" in text
    assert "oracle" not in text and not ok
    text, ok = verdict({"net_change": 1.5, "interval": [0.5, 2.5]}, {"random": diff(1.0, 0.2, 1.8)})
    assert ok and "cannot be told apart" not in text
