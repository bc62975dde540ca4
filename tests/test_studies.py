"""Tanno et al.'s remaining studies (input noise, poisoning, sample efficiency, speed): each --quick run end to end,
and the pieces whose answer is known."""

from __future__ import annotations

import json
from pathlib import Path

import torch

import remedy
from remedy.cli import main
from remedy.data import load_dataset
from remedy.experiments.sample_efficiency import SIZES, cut
from remedy.models import build_model, train_model
from remedy.models.config import QUICK_RECIPE

STUDIES = {"input-noise": ["scorers", "removal"], "poisoning": ["scorers", "removal"], "sample-efficiency": ["scorers"]}


def _run(name: str, tmp_path: Path, *extra: str) -> dict:
    assert main(["experiment", name, "--out", str(tmp_path), "--quick", "--threads", "2", *extra]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64,") >= 1 or name == "speed"
    return summary


def test_every_study_is_listed(capsys) -> None:
    assert main(["experiment", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in [*STUDIES, "speed"])


def test_input_noise_and_poisoning_rank_every_scorer_and_remove_beside_their_controls(tmp_path: Path) -> None:
    for name, every in (("input-noise", "every noisy image"), ("poisoning", "all the poison")):
        summary = _run(name, tmp_path / name)
        assert list(summary)[:2] == STUDIES[name]
        run = summary["runs"][0]
        assert {"nothing", every, "random"} <= set(run["removal"]) and set(run["scorers"]) <= set(run["removal"])
        shares = {label: row["top_share"] for label, row in run["scorers"].items()}
        assert all(0.0 <= share <= 1.0 for share in shares.values())
        base_rate = run["n_corrupted"] / 898
        assert abs(shares["random"] - base_rate) < 0.1  # a random third holds about the base rate
        nothing = run["removal"]["nothing"]["net_change"]
        for row in run["removal"].values():  # each paired difference is its row's net change minus nothing's
            assert abs(row["minus_nothing"]["mean"] - (row["net_change"] - nothing)) < 1e-9


def test_sample_efficiency_measures_every_size(tmp_path: Path) -> None:
    summary = _run("sample-efficiency", tmp_path)
    for rows in summary["scorers"].values():
        assert [row["size"] for row in rows] == list(SIZES) and len(SIZES) >= 5
        assert all(row["removed_chosen_minus_nothing"] is not None for row in rows)
        for row in rows:  # the removal value is the chosen count's net change minus nothing's, beside fixed and broken
            value = row["removed_chosen_net_change"]["mean"] - summary["nothing"]["mean"]
            assert abs(value - row["removed_chosen_minus_nothing"]["mean"]) < 1e-9
            assert row["removed_chosen_fixed"]["mean"] >= 0 and row["removed_chosen_broken"]["mean"] >= 0


def test_a_cut_query_keeps_that_share_of_the_failures_and_of_the_correct_predictions() -> None:
    data = load_dataset("digits")
    model, _ = train_model(build_model("mlp", (1, 8, 8), 10, 0), data.train, config=QUICK_RECIPE, seed=0)
    query = remedy.split_test(model, data.test, seed=0).query
    failed = torch.isin(query.guard_index, query.index)
    for size in (0.1, 0.5, 1.0):
        shown = cut(query, size)
        assert len(shown.failures) == max(2, round(size * len(query.failures)))
        assert torch.equal(shown.index, query.index[: len(shown.failures)])
        correct = len(shown.guard) - len(shown.failures)
        assert correct == round(size * int((~failed).sum()))
        assert bool(torch.isin(shown.index, shown.guard_index).all())
        assert torch.equal(shown.guard.y, query.guard.y[torch.isin(query.guard_index, shown.guard_index)])


def test_the_speed_table_counts_epochs_of_an_epoch_measured_in_the_same_run(tmp_path: Path) -> None:
    summary = _run("speed", tmp_path)
    epoch = summary["epoch_seconds"]
    assert epoch > 0 and summary["run"]["epoch_seconds"] == epoch
    for row in summary["epochs"].values():
        assert row["runs"] == [s / epoch for s in row["seconds"]] and row["peak_rss_mb"] >= 0
    assert summary["paper"]["sgd-influence"]["ratio"] == 185.0 / 9.8
    only = _run("speed", tmp_path / "only", "--scorers", "random,self-loss")
    assert set(only["epochs"]) == {"random", "self-loss"} and only["run"]["left_out"]["trak"] == "not in --scorers"


def test_scorers_outside_the_registry_or_for_a_study_without_scorers_are_one_line(capsys) -> None:
    assert main(["experiment", "speed", "--scorers", "ewc-influence,nope", "--out", "unused"]) == 2
    assert capsys.readouterr().err.strip().endswith("not nope")
    assert main(["experiment", "unlearning", "--scorers", "random", "--out", "unused"]) == 2
    assert capsys.readouterr().err.strip() == (
        "remedy: error: --scorers: expected an experiment that runs every scorer, not unlearning"
    )


def test_a_full_run_names_what_it_leaves_out_and_a_wrong_setting_is_one_line(capsys) -> None:
    from remedy.experiments.studies import left_out, scorers

    on_mnist = scorers(False, "mnist")
    assert {"magic", "sgd-influence"}.isdisjoint(on_mnist) and {"ewc-influence", "cells", "tmc-shapley"} <= set(
        on_mnist
    )
    assert left_out(False, "mnist", ["cells"])["magic"] == left_out(False, "mnist")["magic"]  # why, even when asked
    assert left_out(False, "mnist", ["cells"])["trak"] == "not in --scorers"
    assert all("epochs" in why or "minutes" in why for why in left_out(False, "mnist").values())
    assert not left_out(False, "digits") and not left_out(True, "mnist")
    assert set(scorers(False, "digits")) == set(remedy.SCORERS.names())
    assert main(["experiment", "input-noise", "--setting", "cifar10", "--out", "unused"]) == 2
    assert capsys.readouterr().err.strip() == "remedy: error: --setting: expected one of mnist, digits for this study"


def test_sample_efficiency_computes_only_the_scorers_a_seed_has_not_saved(tmp_path: Path, monkeypatch) -> None:
    from remedy.experiments import sample_efficiency as module

    asked: list[list[str]] = []

    def fake(seed: int, quick: bool, name: str, names: list[str]) -> dict:
        asked.append(list(names))
        if names == ["dvrl"]:  # another process saves this seed's magic meanwhile
            other = json.loads((tmp_path / "sample-efficiency-digits-pairs-3.json").read_text())
            other["scorers"]["magic"] = [{"size": 1.0, "harmful": 0}]
            (tmp_path / "sample-efficiency-digits-pairs-3.json").write_text(json.dumps(other))
        return {"seed": seed, "nothing": 1.5, "scorers": {n: [{"size": 1.0, "harmful": len(n)}] for n in names}}

    monkeypatch.setattr(module, "study", fake)
    first = module.saved(tmp_path, "digits-pairs", 3, False, ["random", "cells"])
    again = module.saved(tmp_path, "digits-pairs", 3, False, ["cells", "self-loss"])
    assert asked == [["random", "cells"], ["self-loss"]]  # cells came from the saved run
    assert list(again["scorers"]) == ["cells", "self-loss"] and again["scorers"]["cells"] == first["scorers"]["cells"]
    saved = json.loads((tmp_path / "sample-efficiency-digits-pairs-3.json").read_text())
    assert set(saved["scorers"]) == {"random", "cells", "self-loss"} and saved["nothing"] == 1.5
    assert module.saved(tmp_path, "digits-pairs", 3, False, ["random"])["scorers"] == {
        "random": first["scorers"]["random"]
    }
    assert len(asked) == 2
