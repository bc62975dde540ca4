"""The run report: one self-contained, escaped page rendered from a run's folder (``summary.json`` and
``report-data.safetensors``), so ``remedy report DIR`` can rebuild it at any time. The headline is the net
held-out change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from remedy.errors import check
from remedy.io import write_text
from remedy.report import plots, templates


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _points(value: float | None) -> str:
    """A change that is already in points."""
    return "—" if value is None else f"{value:+.2f}"


def _span(interval: list[float] | None) -> str:
    return "" if not interval else f"[{interval[0]:+.2f}, {interval[1]:+.2f}]"


def _secs(value: float) -> str:
    return f"{value:.1f} s"


def _caption(row: dict[str, Any]) -> str:
    true = f" t{row['true']}" if "true" in row else ""
    return f"g{row['given']}{true} {row['score']:+.2f}"


def figures(summary: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The report's figures (data URIs) from the summary and the saved inputs of the top causes."""
    shown: dict[str, Any] = {"modes": {}}
    if "detection" in summary:
        curves = summary["detection"]["curves"]
        first = next(iter(curves.values()))
        found = {name: curve["found"] for name, curve in curves.items()}
        shown["detection"] = plots.detection_plot(first["inspected"], found, first["oracle"])
    if "treatments" in summary:
        rows = {name: t for name, t in summary["treatments"].items()}
        rows |= {f"control: {name}": c for name, c in summary["controls"].items()}
        intervals = {name: tuple(row["interval"]) for name, row in rows.items()}
        shown["scoreboard"] = plots.net_change_plot({n: r["net_change"] for n, r in rows.items()}, intervals)
        if summary["count"]["guard_curve"]:
            shown["count"] = plots.count_plot(summary["count"]["guard_curve"], summary["count"]["chosen"])
    if "top" in data:
        shown["top"] = plots.image_grid(data["top"], [_caption(row) for row in summary["top_causes"]])
        for k, (mode, rows_) in enumerate(summary["mode_causes"].items()):
            shown["modes"][mode] = plots.image_grid(data[f"mode-{k}"], [_caption(row) for row in rows_])
    return shown


def write_report(out: str | Path) -> Path:
    """Render ``report.html`` in the run folder ``out`` (atomically) from its ``summary.json`` and
    ``report-data.safetensors``, and return its path."""
    from remedy import __version__

    out = Path(out)
    check(
        (out / "summary.json").is_file(),
        str(out),
        "a run folder with summary.json (from remedy demo, diagnose or repair)",
    )
    summary = json.loads((out / "summary.json").read_text())
    data_path = out / "report-data.safetensors"
    data = load_file(str(data_path)) if data_path.is_file() else {}
    main_name = next(iter(summary["treatments"])) if "treatments" in summary else None
    html = (
        templates()
        .get_template("report.html.j2")
        .render(
            s=summary,
            main=summary["treatments"][main_name] if main_name else None,
            main_name=main_name,
            plots=figures(summary, data),
            modes=list(summary["failure_modes"].items())[:10],
            settings=json.dumps(summary.get("settings", {}), indent=2),
            version=__version__,
            pct=_pct,
            num=_num,
            points=_points,
            span=_span,
            secs=_secs,
        )
    )
    return write_text(out / "report.html", html)
