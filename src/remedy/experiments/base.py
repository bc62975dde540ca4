"""The experiment contract: a named study that returns its numbers and figures; the runner writes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from remedy.errors import check
from remedy.registry import Registry


@dataclass
class Result:
    """What an experiment found: ``summary`` (JSON, its leading keys fixed by the issue that asked for it),
    figures as data URIs with captions, and prose for the report."""

    title: str
    summary: dict[str, Any]
    description: str = ""
    figures: list[tuple[str, str]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


Experiment = Callable[..., Result]
"""``experiment(seed, quick) -> Result``; a long one may also take ``*, work: Path``, a folder of the run's own where
it keeps finished parts, so that running it again resumes instead of starting over."""

EXPERIMENTS: Registry[Experiment] = Registry("experiment")


def one_setting(settings: list[str] | None, choices: tuple[str, ...], default: str) -> str:
    """The one setting ``--setting`` names for a study that runs one at a time (``default`` when none)."""
    check(
        settings is None or (len(settings) == 1 and settings[0] in choices),
        "--setting",
        f"one of {', '.join(choices)} for this study",
    )
    return settings[0] if settings else default
