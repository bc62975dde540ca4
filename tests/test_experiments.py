"""The experiment commands: listed, run end to end, and their summary.json keys in the order the issues ask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remedy.cli import main

LEADING_KEYS = {
    "puma-radial": ["removed_agreement_with_retrain", "other_accuracy_change", "naive_other_accuracy_change"],
    "puma-mnist-style": ["style_changed_fraction", "other_accuracy_change"],
    "puma-calibration": ["ece_before", "ece_after", "metric_change_bound", "metric_change_measured"],
    "puma-mislabel": ["detection"],
    "fidelity-logreg": ["correlation", "gap_terms"],
    "fidelity-mnist": ["correlation", "gap_terms"],
    "fidelity-sweep": ["correlation", "gap_terms"],
    "causes": ["default", "scorers", "treatments"],
    "treatment-noise": ["treatments"],
    "treatment-tradeoff": ["sweeps"],
    "unlearning": ["treatments", "retrain"],
    "attribution": ["models"],
}
ESTIMATORS = {"cg", "lissa", "ekfac", "ewc-influence"}


def test_list_names_every_experiment(capsys) -> None:
    assert main(["experiment", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in LEADING_KEYS)


def _run(name: str, tmp_path: Path) -> dict:
    assert main(["experiment", name, "--out", str(tmp_path), "--quick"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary)[: len(LEADING_KEYS[name])] == LEADING_KEYS[name]
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64,") >= 1
    return summary


@pytest.mark.slow
def test_puma_radial(tmp_path: Path) -> None:
    summary = _run("puma-radial", tmp_path)
    assert summary["puma"]["step"] > 0  # a patch was applied (step 0 keeps θ̂, and the guard trivially holds)
    assert summary["removed_agreement_with_retrain"] > summary["original_removed_agreement_with_retrain"]


@pytest.mark.slow
def test_puma_calibration(tmp_path: Path) -> None:
    summary = _run("puma-calibration", tmp_path)
    assert summary["puma"]["step"] > 0
    assert summary["ece_after"] < summary["ece_before"]


@pytest.mark.slow
def test_fidelity_mnist(tmp_path: Path) -> None:
    summary = _run("fidelity-mnist", tmp_path)
    assert set(summary["correlation"]) == ESTIMATORS
    assert list(summary["gap_terms"]) == ["warm_start", "proximity", "non_convergence", "linearization", "solver"]
    assert summary["n_points_dropped"] < summary["n_points"]
    cg = summary["correlation"]["cg"]  # Bae et al.: influence tracks the PBRF far better than LOO
    assert cg["pbrf"]["pearson"] > 0.5 and cg["pbrf"]["pearson"] > cg["loo"]["pearson"] + 0.3


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "puma-mislabel",
        "puma-mnist-style",
        "fidelity-logreg",
        "fidelity-sweep",
        "causes",
        "treatment-noise",
        "treatment-tradeoff",
        "unlearning",
        "attribution",
    ],
)
def test_long_experiments(name: str, tmp_path: Path) -> None:
    summary = _run(name, tmp_path)
    if name == "puma-mislabel":
        assert summary["detection"]["puma (validation loss)"] > summary["detection"]["random"] + 0.2
    if name == "puma-mnist-style":
        assert (
            summary["puma"]["step"] > 0
            and summary["style_changed_fraction"] > summary["naive"]["style_changed_fraction"]
        )
    if name == "fidelity-logreg":
        assert summary["correlation"]["exact"]["pbrf"]["spearman"] >= 0.99
    if name == "fidelity-sweep":
        assert len(summary["grid"]) == 9
    if name == "unlearning":
        keys = {"agreement_with_retrain", "kl_to_retrain", "mia_auc", "tow", "epochs", "accuracy"}
        assert all(keys <= set(row) for row in summary["treatments"].values())
        assert set(summary["retrain"]) >= {"mia_auc", "epochs", "accuracy"}
    if name == "attribution":
        assert set(summary["models"]) == {"logreg", "mlp"}
        assert all({"lds", "detection_auc", "epochs"} <= set(row) for row in summary["models"]["mlp"].values())
        mlp = summary["models"]["mlp"]
        assert all("detection_self_auc" in mlp[row] for row in ("linear-influence", "tracin", "representer", "trak"))
        # an ensemble of ten TRAK members ranks better than one (full protocol: 0.336 against about 0.1)
        assert 0.0 < mlp["trak"]["lds"] < mlp["trak[models=10]"]["lds"] <= 1.0


def test_unknown_experiment_is_one_line(capsys) -> None:
    assert main(["experiment", "nonsense", "--out", "unused"]) == 2
    assert capsys.readouterr().err.strip().startswith("remedy: error: experiment: expected an experiment, one of")
