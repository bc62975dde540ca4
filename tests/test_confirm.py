"""``benchmarks/confirm.py``'s block for a compared scorer: its set minus each row is the per-seed difference of net
changes, averaged over seeds, so the numbers docs/causes.md quotes from it are what the summaries hold."""

import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
spec = importlib.util.spec_from_file_location("confirm", BENCHMARKS / "confirm.py")
assert spec is not None and spec.loader is not None
confirm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(confirm)


def _seed(seed: int, default: float, nothing: float, oracle: float, trak: float) -> dict:
    return {
        "seed": seed,
        "count": {"chosen": 75},
        "causes_corrupted": 0.8,
        "treatments": {"finetune": {"net_change": default}},
        "controls": {"no-removal": {"net_change": nothing}, "oracle": {"net_change": oracle}},
        "scorers": {"trak": {"net_change": trak, "causes_corrupted": 0.9}},
    }


def test_a_compared_scorer_is_set_against_every_row_on_the_same_seed():
    runs = {"mnist-pairs": [_seed(0, 1.0, 2.0, 4.0, 3.0), _seed(1, 2.0, 1.0, 4.0, 2.0)]}
    lines = confirm.compared(runs)
    row = next(line for line in lines if line.startswith("| +2.50"))
    # minus default: (3 − 1, 2 − 2) → +1.00; minus no-removal: (+1, +1) → +1.00 exactly; oracle share (0.75, 0.5)
    assert row.split(" | ")[1].startswith("+1.00 [")
    assert row.split(" | ")[2] == "+1.00 [+1.00, +1.00]"
    assert row.split(" | ")[3].startswith("-1.50 [")
    assert row.endswith("0.62 [-0.96, 2.21] |")  # 0.625 ± t(0.975, 1) · 0.177 / √2
    assert "  seed 1 count 75 corrupted 0.90 (default's 0.80) minus default +0.00, minus no-removal +1.00" in lines
    assert confirm.compared({"mnist-pairs": [{**runs["mnist-pairs"][0], "scorers": {}}]}) == []
