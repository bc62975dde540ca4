"""The README's Python examples run as written, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path


def test_readme_example_runs(capsys) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    snippets = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(snippets) == 3 and all(len(s.strip().splitlines()) <= 15 for s in snippets)
    namespace: dict = {}
    for snippet in snippets:
        exec(compile(snippet, "README.md", "exec"), namespace)
    assert "held_out_failures" in capsys.readouterr().out
    task = namespace["build"]()  # the task snippet: your model and data, as the command line takes them
    assert len(task.train) == len(task.corrupted) and not task.model.training
    fix = namespace["fix"]
    assert fix.step > 0 and fix.n_nonzero > 0  # a patch was applied, with compensation (step 0 would keep θ̂)
