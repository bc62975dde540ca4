"""The demo's HTML report: one self-contained, escaped page."""

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


def _secs(value: float) -> str:
    return f"{value:.1f} s"


def write_report(run: DemoRun, out: str | Path) -> Path:
    """Render ``report.html`` for a finished demo run into ``out`` (atomically) and return its path."""
    from remedy import __version__

    s = run.summary
    scores, corruption = run.scores, run.corruption
    ranking = scores.ranking()
    figures = {
        "detection": plots.detection_plot(run.curve_points, scores.method),
        "accuracy": plots.accuracy_plot(
            {
                "before": s["accuracy_before"],
                **{k: v["accuracy"] for k, v in s["treatments"].items()},
                **s["references"],
            }
        ),
        "removal": plots.removal_plot(s["removal_curve"]),
    }

    def caption(i: int) -> str:
        return f"g{int(corruption.y[i])} t{int(corruption.true_y[i])} {float(scores.values[i]):+.2f}"

    x = run.data.train.x
    if x.ndim == 4:
        for key, idx in (("top", ranking[:16]), ("bottom", ranking.flip(0)[:16])):
            figures[key] = plots.image_grid(x[idx], [caption(int(i)) for i in idx])
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
            plots=figures,
            confusions=list(s["failure_confusions"].items())[:10],
            top_rows=top_rows,
            settings=json.dumps(s["settings"], indent=2),
            version=__version__,
            pct=_pct,
            num=_num,
            secs=_secs,
        )
    )
    return write_text(Path(out) / "report.html", html)
