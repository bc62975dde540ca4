"""The demo's HTML report: one self-contained, escaped page whose headline is the net held-out change."""

from __future__ import annotations

import json
from pathlib import Path

from remedy.io import write_text
from remedy.pipeline import DemoRun
from remedy.report import plots, templates


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _points(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.2f}"


def _secs(value: float) -> str:
    return f"{value:.1f} s"


def write_report(run: DemoRun, out: str | Path) -> Path:
    """Render ``report.html`` for a finished demo run into ``out`` (atomically) and return its path."""
    from remedy import __version__

    s = run.summary
    scores, corruption = run.scores, run.corruption
    ranking = scores.ranking()
    main_name = next(iter(s["treatments"]))
    rows = {name: t["net_change"] for name, t in s["treatments"].items()}
    rows |= {f"control: {name}": c["net_change"] for name, c in s["controls"].items()}
    spreads = {f"control: {name}": c["spread"] for name, c in s["controls"].items() if "spread" in c}
    curves = {scores.method: run.curve_points["found"]}
    curves |= {name: plots.found_curve(p.values, corruption.mask) for name, p in run.peers.items()}
    figures: dict = {
        "detection": plots.detection_plot(run.curve_points["inspected"], curves, run.curve_points["oracle"]),
        "scoreboard": plots.net_change_plot(rows, spreads),
        "count": plots.count_plot(s["count"]["net_curve"], s["count"]["chosen"]),
        "modes": {},
    }

    def caption(i: int) -> str:
        return f"g{int(corruption.y[i])} t{int(corruption.true_y[i])} {float(scores.values[i]):+.2f}"

    x = run.data.train.x
    if x.ndim == 4:
        figures["top"] = plots.image_grid(x[ranking[:16]], [caption(int(i)) for i in ranking[:16]])
        for mode, idx in run.mode_causes.items():
            figures["modes"][mode] = plots.image_grid(
                x[idx], [f"g{int(corruption.y[i])} t{int(corruption.true_y[i])}" for i in idx]
            )
    elif x.shape[1] == 2:
        figures["scatter"] = plots.scatter_plot(x, scores.values, corruption.mask)
    top_rows = [
        {
            "index": int(i),
            "given": int(corruption.y[i]),
            "true": int(corruption.true_y[i]),
            "corrupted": bool(corruption.mask[i]),
            "score": float(scores.values[i]),
        }
        for i in ranking[:20]
    ]
    html = (
        templates()
        .get_template("report.html.j2")
        .render(
            s=s,
            main=s["treatments"][main_name],
            main_name=main_name,
            plots=figures,
            modes=list(s["failure_modes"].items())[:10],
            top_rows=top_rows,
            settings=json.dumps(s["settings"], indent=2),
            version=__version__,
            pct=_pct,
            num=_num,
            points=_points,
            secs=_secs,
        )
    )
    return write_text(Path(out) / "report.html", html)
