"""Methods named with their options in one string, as the command line and the settings take them:
``"finetune"``, ``"finetune[epochs=20,lr=0.0003]"``, ``"ewc-influence[per=mode,aggregate=class-max]"``."""

from __future__ import annotations

import json
import re
from typing import Any

from remedy.errors import RemedyError

_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?:\[(?P<options>.*)\])?$")


def parse_value(text: str) -> Any:
    """A JSON value when ``text`` parses as one (numbers, booleans, null, quoted strings), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_options(pairs: list[str], argument: str) -> dict[str, Any]:
    """``["per=mode", "lam=0.01"]`` → ``{"per": "mode", "lam": 0.01}``; a pair without ``=`` is an error naming
    ``argument``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise RemedyError(f"{argument}: expected KEY=VALUE, got {pair!r}")
        options[key.strip()] = parse_value(value.strip())
    return options


def parse_method(spec: str, argument: str) -> tuple[str, dict[str, Any]]:
    """``"name"`` or ``"name[key=value,...]"`` → ``(name, options)``; anything else is an error naming ``argument``."""
    match = _SPEC.match(spec.strip())
    if match is None:
        raise RemedyError(f"{argument}: expected NAME or NAME[KEY=VALUE,...], got {spec!r}")
    text = match.group("options")
    pairs = [part for part in text.split(",") if part.strip()] if text else []
    return match.group("name"), parse_options(pairs, argument)
