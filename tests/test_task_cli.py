"""Your own task from the command line: diagnose, repair and report on the worked example, a run killed midway
that resumes to the same scores, and several processes that give the same scores as one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from remedy.cli import main
from remedy.identify import DEFAULT_SCORER
from remedy.identify.scores import COLUMN

ROOT = Path(__file__).parents[1]
EXAMPLE = f"{ROOT / 'examples' / 'digits_task.py'}:build"

SLOW_TASK = """
import time, torch
import remedy
from remedy.data import flip_uniform, load_dataset
from remedy.models import build_model

class Slow(torch.utils.data.Dataset):  # a dataset read from a slow disk
    def __init__(self, x, y): self.x, self.y = x, y
    def __len__(self): return len(self.y)
    def __getitem__(self, i):
        time.sleep(0.001)
        return self.x[i], int(self.y[i])

def build():
    data = load_dataset("digits")
    noisy = flip_uniform(data.train.x, data.train.y, rate=0.2, num_classes=10, seed=0)
    model, _ = remedy.train_model(build_model("mlp", (1, 8, 8), 10, seed=0), (noisy.x, noisy.y), seed=0)
    return model, Slow(noisy.x, noisy.y), data.test
"""


def test_diagnose_repair_report_on_the_worked_example(tmp_path: Path, capsys) -> None:
    diagnosis, repaired = tmp_path / "diagnosis", tmp_path / "repair"
    assert main(["diagnose", "--task", EXAMPLE, "--out", str(diagnosis)]) == 0
    assert "remedy: estimate: cells on 898 examples" in capsys.readouterr().err  # said before the work
    scores = pd.read_csv(diagnosis / "scores.csv")
    assert list(scores.columns) == ["index", COLUMN] and len(scores) == 898
    summary = json.loads((diagnosis / "summary.json").read_text())
    assert summary["identify"]["method"] == DEFAULT_SCORER and summary["detection"]["auc"] > 0.6  # mask given
    args = ["repair", "--task", EXAMPLE, "--causes", str(diagnosis / "scores.csv"), "--out", str(repaired)]
    assert main([*args, "--seed", "1"]) == 2  # another split would put the diagnosis's query half into T_h
    assert capsys.readouterr().err.strip().startswith("remedy: error: --seed: expected the diagnosis's seed 0")
    made = json.loads((diagnosis / "scores.json").read_text())
    (diagnosis / "scores.json").write_text(json.dumps(made | {"train": "another training set"}))
    assert main([*args, "--top-fraction", "0.1"]) == 2 and not repaired.exists()
    assert "--causes: expected scores of this task's model" in capsys.readouterr().err
    (diagnosis / "scores.json").write_text(json.dumps(made))
    assert main([*args, "--top-fraction", "0.1"]) == 0
    summary = json.loads((repaired / "summary.json").read_text())
    assert summary["settings"]["seed"] == 0 and summary["count"]["chosen"] == 90  # the diagnosis's split
    assert set(summary["controls"]) == {"no-removal", "random", "oracle", "self-loss"}
    assert (repaired / "finetune.safetensors").is_file()
    (repaired / "report.html").unlink()
    assert main(["report", str(repaired)]) == 0 and summary["headline"] in (repaired / "report.html").read_text()


def test_outputs_are_readable_by_the_group_when_the_umask_allows(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        assert main(["diagnose", "--task", EXAMPLE, "--out", str(tmp_path)]) == 0
    finally:
        os.umask(old)
    for name in ("scores.csv", "summary.json", "report.html", "report-data.safetensors"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


def _diagnose(task: Path, out: Path, *launcher: str) -> list[str]:
    command = [*launcher] if launcher else [sys.executable, "-m", "remedy"]
    return [  # PUMA: its per-example gradients are the chunked, resumable pass this kills
        *command,
        *("diagnose", "--task", f"{task}:build", "--out", str(out), "--identify", "puma"),
        *("--threads", "1", "--memory-mb", "4"),
    ]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    folder = tmp_path_factory.mktemp("slow")
    task = folder / "slow_task.py"
    task.write_text(SLOW_TASK)
    subprocess.run(_diagnose(task, folder / "whole"), check=True, capture_output=True)
    return task, (folder / "whole" / "scores.csv").read_bytes()


@pytest.mark.parametrize("signal_", [signal.SIGKILL, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_a_killed_run_resumes_to_the_same_scores(
    tmp_path: Path, uninterrupted: tuple[Path, bytes], signal_: signal.Signals
) -> None:
    task, whole = uninterrupted
    process = subprocess.Popen(
        _diagnose(task, tmp_path / "killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((tmp_path / "killed").glob("cache/*/0*.safetensors"))) < 3:
        time.sleep(0.02)
    process.send_signal(signal_)
    process.wait(timeout=60)
    saved = len(list((tmp_path / "killed").glob("cache/*/0*.safetensors")))
    assert process.returncode != 0 and 3 <= saved < 23  # killed while scoring: some of the 23 chunks done
    assert not (tmp_path / "killed" / "scores.csv").exists()
    subprocess.run(_diagnose(task, tmp_path / "killed"), check=True, capture_output=True)
    assert (tmp_path / "killed" / "scores.csv").read_bytes() == whole


DISAGREEING_TASK = """
import os, torch
from remedy.data import load_dataset
from remedy.models import build_model

def build():  # a different model in every process: what a build() that trains nondeterministically returns
    data = load_dataset("digits", quick=True)
    model = build_model("mlp", (1, 8, 8), 10, seed=int(os.environ.get("RANK", "0"))).eval()
    return model, data.train, data.test
"""


def test_processes_that_hold_different_models_stop_with_one_line(tmp_path: Path) -> None:
    task = tmp_path / "disagreeing.py"
    task.write_text(DISAGREEING_TASK)
    torchrun = Path(sys.executable).parent / "torchrun"
    run = subprocess.run(
        _diagnose(task, tmp_path / "out", str(torchrun), "--nproc-per-node", "2", "-m", "remedy"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("remedy: error:")]
    assert errors and all("process 1's model differ from process 0's" in line for line in errors), run.stderr
    assert not (tmp_path / "out" / "scores.csv").exists()


@pytest.mark.slow  # tests/test_chunks.py checks two processes' results bit for bit in the default suite
def test_two_processes_give_the_scores_of_one(tmp_path: Path) -> None:
    torchrun = Path(sys.executable).parent / "torchrun"
    launcher = (str(torchrun), "--nproc-per-node", "2", "-m", "remedy")
    subprocess.run(_diagnose(Path(EXAMPLE.split(":")[0]), tmp_path / "one"), check=True, capture_output=True)
    subprocess.run(_diagnose(Path(EXAMPLE.split(":")[0]), tmp_path / "two", *launcher), check=True, capture_output=True)
    assert (tmp_path / "two" / "scores.csv").read_bytes() == (tmp_path / "one" / "scores.csv").read_bytes()
