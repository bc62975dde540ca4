"""Every registered scorer and treatment runs from the demo by name, with its defaults, on the quick setting — as a
new user would try it (``benchmarks/every_method.py`` times them; slow: about ten minutes in all on 2 cores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remedy.cli import main
from remedy.identify import SCORERS
from remedy.treat import TREATMENTS

METHODS = [("--identify", name) for name in SCORERS.names()] + [("--treat", name) for name in TREATMENTS.names()]


@pytest.mark.slow
@pytest.mark.parametrize("flag, name", METHODS, ids=[name for _, name in METHODS])
def test_every_method_runs_from_the_demo_by_name(flag: str, name: str, tmp_path: Path) -> None:
    flags = ["demo", "--quick", "--dataset", "digits", "--model", "mlp", flag, name, "--out", str(tmp_path)]
    assert main([*flags, "--threads", "2"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["identify"]["method"] == name if flag == "--identify" else name in summary["treatments"]
