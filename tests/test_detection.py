from __future__ import annotations

import pytest
import torch

from remedy.evaluate import detection_curve


def test_curve_by_hand() -> None:
    scores = torch.tensor([0.9, 0.1, 0.5, 0.7])
    corrupted = torch.tensor([True, False, False, True])
    curve = detection_curve(scores, corrupted)
    # inspection order: 0 (c), 3 (c), 2, 1
    assert curve.found.tolist() == [0.5, 1.0, 1.0, 1.0]
    assert curve.auc == pytest.approx(0.875) and curve.oracle_auc == pytest.approx(0.875)
    assert curve.random_auc == pytest.approx(0.625)
    assert curve.found_at(0.25) == 0.5


def test_random_scores_average_to_the_random_area() -> None:
    gen = torch.Generator().manual_seed(0)
    corrupted = torch.rand(2000, generator=gen) < 0.2
    areas = [detection_curve(torch.rand(2000, generator=gen), corrupted).auc for _ in range(20)]
    assert abs(sum(areas) / len(areas) - 0.5) < 0.02
