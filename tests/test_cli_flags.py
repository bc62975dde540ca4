"""Every flag of every command, given a bad value, stops before any work with one line naming the flag."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from remedy.cli import main

ROOT = Path(__file__).parents[1]
TASK = f"{ROOT / 'examples' / 'digits_task.py'}:build"


@pytest.fixture(scope="module")
def diagnosis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished diagnosis of the worked example, for repair's flags."""
    out = tmp_path_factory.mktemp("diagnosis")
    assert main(["diagnose", "--task", TASK, "--out", str(out), "--identify", "self-loss"]) == 0
    return out


def _bad_values(tmp: Path, diagnosis: Path) -> list[tuple[str, list[str]]]:
    a_file = tmp / "file.txt"
    a_file.write_text("not a folder")
    demo = ["demo", "--dataset", "wine", "--quick", "--out", str(tmp / "demo")]
    diagnose = ["diagnose", "--task", TASK, "--out", str(tmp / "diagnose")]
    repair = ["repair", "--task", TASK, "--causes", str(diagnosis / "scores.csv"), "--out", str(tmp / "repair")]
    experiment = ["experiment", "causes", "--out", str(tmp / "experiment")]
    cases = [
        ("--out", [*demo, "--out", str(a_file)]),
        ("--seed", [*demo, "--seed", "one"]),
        ("--threads", [*demo, "--threads", "0"]),
        ("--dataset", [*demo, "--dataset", "cifar"]),
        ("--flip", [*demo, "--flip", "1-9:0.3"]),
        ("--flip-rate", [*demo, "--flip-rate", "2"]),
        ("--failures", [*demo, "--failures", "4-9"]),
        ("--identify", [*demo, "--identify", "no-such-method"]),
        ("--identify-option", [*demo, "--identify-option", "novalue"]),
        ("--identify-option", [*demo, "--identify-option", "nope=1"]),
        ("--curvature", [*demo, "--curvature", "nope"]),
        ("--solver", [*demo, "--solver", "nope"]),
        ("--damping", [*demo, "--damping", "-1"]),
        ("--curvature-examples", [*demo, "--curvature-examples", "0"]),
        ("--metric", [*demo, "--metric", "nope"]),
        ("--treat", [*demo, "--treat", "nope"]),
        ("--treat", [*demo, "--treat", "finetune[nope=1]"]),
        ("--treat", [*demo, "--treat", "finetune[epochs"]),
        ("--top-fraction", [*demo, "--top-fraction", "2"]),
        ("--delta", [*demo, "--delta", "-1"]),
        ("--treatment-seeds", [*demo, "--treatment-seeds", "0"]),
        ("--model", [*demo, "--model", "nope"]),
        ("--device", [*demo, "--device", "tpu"]),
        ("--task", ["diagnose", "--task", "no_such_module:build", "--out", str(tmp / "d")]),
        ("--task", ["diagnose", "--task", "nofunction", "--out", str(tmp / "d")]),
        ("--memory-mb", [*diagnose, "--memory-mb", "0"]),
        ("--cache", [*diagnose, "--cache", str(a_file)]),
        ("--weights", [*diagnose, "--weights", str(tmp / "missing.safetensors")]),
        ("--identify", [*diagnose, "--identify", "no-such-method"]),
        ("--causes", ["repair", "--task", TASK, "--causes", str(tmp / "none.csv"), "--out", str(tmp / "r")]),
        ("--peer", [*repair, "--peer", "no-such-method"]),
        ("--treat", [*repair, "--treat", "no-such-method"]),
        ("--seed", [*repair, "--seed", "7"]),
        ("experiment", ["experiment", "nonsense", "--out", str(tmp / "e")]),
        ("--seeds", [*experiment, "--seeds", "5-x"]),
        ("--seeds", ["experiment", "puma-radial", "--seeds", "1-2", "--out", str(tmp / "e")]),
        ("--threads", [*experiment, "--threads", "0"]),
    ]
    return cases


def test_every_flag_with_a_bad_value_is_one_line_before_any_work(
    tmp_path: Path, diagnosis: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for flag, argv in _bad_values(tmp_path, diagnosis):
        start = time.perf_counter()
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse's own checks (types, choices) exit instead of returning
            code = stop.code
        err = capsys.readouterr().err.strip()
        assert code == 2, (flag, argv, err)
        assert err.count("\n") == 0 and err.startswith(f"remedy: error: {flag}"), (flag, err)
        assert time.perf_counter() - start < 2.0, (flag, "did work before checking")
