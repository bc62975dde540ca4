"""The HTML report of an experiment: its prose, its numbers as tables, its figures; one self-contained page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from remedy.experiments.base import Result
from remedy.io import write_text
from remedy.report import templates


def _rows(summary: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten the numbers of ``summary`` into ``(key.path, value)`` rows (lists and long dicts are left out)."""
    rows: list[tuple[str, str]] = []
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _rows(value, f"{name}.")
        elif isinstance(value, bool) or value is None or isinstance(value, str):
            rows.append((name, str(value)))
        elif isinstance(value, float):
            rows.append((name, f"{value:.4g}"))
        elif isinstance(value, int):
            rows.append((name, str(value)))
    return rows


def write_experiment_report(name: str, result: Result, out: str | Path) -> Path:
    """Render ``report.html`` for a finished experiment into ``out`` (atomically) and return its path."""
    from remedy import __version__

    html = (
        templates()
        .get_template("experiment.html.j2")
        .render(
            name=name,
            r=result,
            rows=_rows({k: v for k, v in result.summary.items() if k != "settings"}),
            settings=json.dumps(result.summary.get("settings", {}), indent=2),
            version=__version__,
        )
    )
    return write_text(Path(out) / "report.html", html)
