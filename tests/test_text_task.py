"""A HuggingFace text classifier (``examples/text_task.py``, the ``remedy[hf]`` extra) through the API and the command
line: dict batches, per-example gradients of a model vmap cannot trace, scores that find the swapped labels, and
diagnose → repair → report. Skipped without ``transformers``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

import remedy
from remedy.cli import main
from remedy.curvature.grads import per_example_grads

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import text_task  # noqa: E402

SMALL = {"n_train": 300, "n_test": 400, "epochs": 15}


@pytest.fixture(scope="module")
def task() -> remedy.Task:
    return text_task.build(**SMALL)


def test_gradients_of_dict_batches_equal_autograd_one_by_one(task: remedy.Task) -> None:
    posterior = remedy.Posterior(task.model, task.train, record=task.record)
    rows = posterior.train.take(torch.arange(3))
    with pytest.warns(UserWarning, match="one example at a time"):
        found = torch.cat([g for _, g in per_example_grads(posterior.model, posterior.loss, rows)])
    params = [p for p in task.model.parameters() if p.requires_grad]
    for i in range(3):
        out = task.model(**{k: v[i : i + 1] for k, v in rows.x.items()}).logits
        loss = torch.nn.functional.cross_entropy(out, rows.y[i : i + 1])
        grads = torch.autograd.grad(loss, params, allow_unused=True)  # the pooler's bias may be unused: zeros
        pairs = zip(grads, params, strict=True)
        expected = torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in pairs])
        torch.testing.assert_close(found[i], expected, rtol=1e-4, atol=1e-6)


def test_scores_find_the_swapped_labels(task: remedy.Task) -> None:
    posterior = remedy.Posterior(task.model, task.train, record=task.record)
    split = remedy.split_test(task.model, task.test, seed=0)
    assert task.corrupted is not None
    base = float(task.corrupted.float().mean())
    k = int(task.corrupted.sum())
    for method in ("ewc-influence", "self-loss"):
        top = remedy.identify(posterior, split, method).ranking()[:k]
        assert float(task.corrupted[top].float().mean()) > 1.5 * base, method


def test_diagnose_repair_report_from_the_command_line(tmp_path: Path) -> None:
    spec = tmp_path / "small_text.py"
    spec.write_text(
        f"import sys\nsys.path.insert(0, {str(EXAMPLES)!r})\nimport text_task\n\n\n"
        f"def build():\n    return text_task.build(**{SMALL!r})\n"
    )
    diagnosis, repaired = tmp_path / "diag", tmp_path / "repair"
    main(["diagnose", "--task", f"{spec}:build", "--identify", "ewc-influence", "--out", str(diagnosis)])
    main(
        [
            "repair", "--task", f"{spec}:build", "--causes", str(diagnosis / "scores.csv"), "--treat", "finetune",
            "--top-fraction", "0.1", "--treatment-seeds", "1", "--out", str(repaired),
        ]
    )  # fmt: skip
    summary = json.loads((repaired / "summary.json").read_text())
    assert summary["treatments"]["finetune"]["n_causes"] == 30 and "headline" in summary
    main(["report", str(repaired)])
    assert (repaired / "report.html").is_file()
