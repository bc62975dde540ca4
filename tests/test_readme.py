"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path


def test_readme_example_runs(capsys) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert len(snippet.strip().splitlines()) <= 15
    exec(compile(snippet, "README.md", "exec"), {})
    assert "holdout" in capsys.readouterr().out
