"""The cost estimate said before a diagnosis: a dense matrix that cannot fit stops the run before any work, the
memory parts follow N, P and ``--memory-mb``, the time follows the measured epoch, and the command line prints it and
saves it beside the measured time."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import remedy
from remedy import estimate as estimate_module
from remedy.cli import main
from remedy.curvature import InverseSettings
from remedy.estimate import EPOCHS, PASS_EPOCHS, RECIPE_EPOCHS, estimate
from remedy.models import MLP
from remedy.passes import Chunking


@pytest.fixture(scope="module")
def wide(flipped_logreg: dict) -> remedy.Posterior:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MLP(2, 2, hidden=(200, 60)).eval()  # 12,782 parameters: more than a dense curvature takes
    record = remedy.TrainingRecord(remedy.TrainConfig(max_epochs=7), epoch_seconds=0.5)
    return remedy.Posterior(model, flipped_logreg["train"], record=record)


def test_a_dense_curvature_that_cannot_be_formed_stops_before_any_work(wide: remedy.Posterior) -> None:
    with pytest.raises(remedy.RemedyError, match="--solver: expected cg, lissa or arnoldi for 12,782 parameters"):
        estimate(wide, "linear-influence", 10, {"inverse": InverseSettings(solver="direct")})
    assert estimate(wide, "linear-influence", 10, {"inverse": InverseSettings()}).peak_mb > 0


def test_memory_parts_follow_n_p_and_the_chunk_budget(wide: remedy.Posterior) -> None:
    n, p = wide.n, wide.theta().numel()
    matrix_mb = n * p * 4 / 2**20
    small = replace(wide.passes.chunking, chunk_bytes=2**20)
    wide.passes.chunking = small
    cost = estimate(wide, "ewc-influence", 10)
    activations = cost.parts["a chunk of gradients"] - 1.0
    assert 0 <= activations < 100
    wide.passes.chunking = Chunking(chunk_bytes=2**30)  # the chunk is never more than the whole matrix
    assert estimate(wide, "ewc-influence", 10).parts["a chunk of gradients"] == pytest.approx(
        matrix_mb + activations, abs=20
    )
    wide.passes.chunking = Chunking(chunk_bytes=2**20, cache_dir="unused")
    kept = estimate(wide, "trak", 10).parts
    assert kept["the kept gradient matrix"] == pytest.approx(matrix_mb + activations, abs=20)
    assert kept["TRAK's features"] == pytest.approx(
        (2 * 2**20 + n * 1024 * 8 + 1024**2 * 8) / 2**20 + activations, abs=20
    )
    wide.passes.chunking = small


def test_time_is_the_scorers_epochs_and_gradient_passes_at_the_measured_speeds(
    wide: remedy.Posterior, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert estimate(wide, "finetune-influence", 10, runs=3).seconds == pytest.approx(
        3 * EPOCHS["finetune-influence"] * 0.5
    )
    monkeypatch.setattr(estimate_module, "_probe", lambda posterior: (0.01, 0.0))  # 10 ms per example's gradient
    cost = estimate(wide, "ewc-influence", 10, runs=3)
    assert cost.seconds == pytest.approx(3 * ((EPOCHS["ewc-influence"] - PASS_EPOCHS) * 0.5 + wide.n * 0.01))
    recipe = estimate(wide, "sgd-influence", 10)
    assert recipe.epochs == pytest.approx(RECIPE_EPOCHS["sgd-influence"] * 7)
    line = estimate(wide, "tmc-shapley", 10, {"permutations": 200, "learner": "logistic"}).line()
    assert "permutations=K (default 200) bounds it" in line


def test_the_command_line_says_the_estimate_before_work_and_saves_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "diag"
    main(["diagnose", "--task", "examples/digits_task.py:build", "--identify", "self-loss", "--out", str(out)])
    err = capsys.readouterr().err
    assert "remedy: estimate: self-loss on " in err and "MiB at its peak" in err
    saved = json.loads((out / "summary.json").read_text())["identify"]["estimate"]
    assert saved["peak_mb"] > 0 and saved["seconds_measured"] > 0
