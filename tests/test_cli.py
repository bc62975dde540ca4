from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from remedy.cli import main
from remedy.identify.scores import COLUMN
from remedy.io import load_weights
from remedy.models import build_model


def test_demo_writes_the_whole_evidence(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    args = ["demo", "--dataset", "moons", "--quick", "--out", str(out), "--seed", "1", "--peer", "cleanlab"]
    assert main([*args, "--peer", "self-loss"]) == 0
    printed = capsys.readouterr().out
    assert str((out / "report.html").resolve()) in printed
    summary = json.loads((out / "summary.json").read_text())
    accuracy = {"query_failures", "held_out_failures", "remaining", "net"}
    assert set(summary["accuracy_before"]) == accuracy
    assert set(summary["treatments"]) == {"finetune"}
    for row in [*summary["treatments"].values(), *summary["controls"].values()]:
        assert set(row["accuracy"]) == accuracy
        assert {"fixed", "broken", "net_change", "interval", "spread", "returned_original"} <= set(row)
        assert row["interval"][0] <= row["net_change"] <= row["interval"][1]
    for row in summary["controls"].values():
        assert set(row["difference"]) == {"mean", "interval"}
        repaired = summary["treatments"]["finetune"]["net_change"]
        assert row["difference"]["mean"] == pytest.approx(repaired - row["net_change"], abs=1e-9)
    assert all(t["seconds"] > 0 for t in summary["treatments"].values())
    assert set(summary["controls"]) == {
        "no-removal",
        "random",
        "random-chosen-count",
        "oracle",
        "cleanlab",
        "self-loss",
    }
    assert len(summary["controls"]["random"]["seeds"]) == 3 and len(summary["treatment_seeds"]) == 2
    assert summary["headline"] in printed and summary["count"]["chosen"] in [
        row["count"] for row in summary["count"]["guard_curve"]
    ]
    assert set(summary["detection"]) >= {"auc", "random_auc", "oracle_auc", "found_at_10pct"}
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns) == ["index", "given_label", "true_label", "corrupted", COLUMN]
    assert len(scores) == summary["n_train"] and scores["corrupted"].sum() == summary["n_corrupted"]
    assert load_file(str(out / "finetune.safetensors"))
    original = build_model("mlp", (2,), 2, seed=99)
    load_weights(out / "original.safetensors", original)  # the trained model comes back exactly
    assert all(
        torch.equal(v, load_file(str(out / "original.safetensors"))[k]) for k, v in original.state_dict().items()
    )
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "<script" not in html and summary["headline"] in html
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_methods_by_name_and_bad_input_is_one_line(tmp_path: Path, capsys) -> None:
    run = ["demo", "--dataset", "wine", "--quick", "--out", str(tmp_path)]
    bad = subprocess.run([sys.executable, "-m", "remedy", *run, "--flip", "1-9:0.3"], capture_output=True, text=True)
    assert bad.returncode == 2  # the installed command: exit status 2 and one line on stderr, before any work
    assert bad.stderr.strip() == "remedy: error: --flip: expected classes in [0, 2], got 1-9"
    assert main([*run, "--identify", "no-such-scorer"]) == 2
    assert capsys.readouterr().err.strip().startswith("remedy: error: --identify: expected a scorer")
    chosen = ["--identify", "finetune-influence", "--treat", "finetune", "--flip-rate", "0.2", "--top-fraction", "0.1"]
    assert main([*run, *chosen, "--treatment-seeds", "1"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["identify"]["method"] == "finetune-influence" and list(summary["treatments"]) == ["finetune"]


def test_second_order_methods_by_name(tmp_path: Path) -> None:
    args = ["demo", "--dataset", "wine", "--quick", "--out", str(tmp_path), "--identify", "linear-influence"]
    args += ["--curvature", "ggn", "--identify-option", "normalize=cosine", "--identify-option", "aggregate=class-max"]
    args += ["--top-fraction", "0.05", "--treatment-seeds", "1", "--model", "logreg"]
    assert main([*args, "--solver", "arnoldi", "--treat", "newton", "--damping", "0.01"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    expected = {"curvature": "ggn", "solver": "arnoldi", "damping": 0.01, "examples": None, "seed": 0, "options": {}}
    assert summary["identify"]["options"]["inverse"] == expected
    assert summary["identify"]["options"]["normalize"] == "cosine"
    assert summary["settings"]["inverse"] == expected


def test_puma_by_name_with_a_metric(tmp_path: Path) -> None:
    """``--metric`` is the harm the scorer values; the PUMA treatment's preserved metric and tolerance are its own."""
    treat = "puma[preserve=per-example-loss,tolerance=0.02]"
    args = ["demo", "--dataset", "wine", "--quick", "--out", str(tmp_path), "--identify", "puma", "--treat", treat]
    assert main([*args, "--metric", "ece", "--model", "logreg", "--solver", "direct", "--damping", "0.01"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["identify"]["method"] == "puma" and summary["identify"]["options"]["metric"] == "ece"
    options = summary["treatments"][treat]["options"]
    assert options["preserve"] == "per-example-loss" and options["tolerance"] == 0.02 and "metric" not in options
    assert main([*args, "--metric", "nonsense"]) == 2
