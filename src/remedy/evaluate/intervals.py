"""Intervals on held-out changes that cover both sources of noise: the test sample and the treatment's own seeds.

A row of the scoreboard is a treatment applied ``S`` times with different treatment seeds; its per-example changes
on the held-out half T_h form a matrix ``a [S, n]`` (1: example fixed, −1: broken, 0: unchanged). The estimate is
the mean change ``ā = mean_{s,i} a_{s,i}``. Two things would move it on a rerun: another sample of test examples
and other treatment seeds. Its variance is estimated as the sum of

- the **test-sample** part: the variance of ``mean_i ā_i`` (``ā_i`` = example i's change averaged over seeds) under a
  paired bootstrap over the examples of T_h (the same resampled examples for every row, so differences are paired);
- the **treatment** part: ``(s² − MS_res / n) / S``, with ``s`` the standard deviation of the per-seed mean
  changes and ``MS_res`` the residual mean square of the two-way layout (seeds × examples): the per-seed means vary
  also because every seed redraws each example's own noise, which the test part already counts. With the seed
  effect ``v_s``, the example effect ``u_i`` and the noise ``w_{s,i}``, the two parts add up to ``Var(ā) =
  σ_u²/n + σ_v²/S + σ_w²/(nS)`` without double counting. With one seed there is no treatment part: the interval
  then covers the test sample alone, and says less than it seems for a treatment with randomness.

The interval is ``ā ± t_ν · √(variance)`` with ν from Satterthwaite's formula for a sum of mean squares (``n − 1``
degrees of freedom for the test part, ``S − 1`` and ``(S − 1)(n − 1)`` for the two terms of the treatment part), so
that a handful of seeds widens it as it should. The treatment part is left unclipped (clipping it at zero biases the
total and undercovers when the seeds matter). The difference between two rows (the repair minus a control) is the
same construction on ``ā_i − b̄_i`` with both rows' treatment parts added. ``tests/test_intervals.py`` checks the
coverage on simulated problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy import stats
from torch import Tensor

from remedy.errors import check
from remedy.seeds import stream

BOOTSTRAP = 2000
"""Bootstrap resamples of the test examples."""


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided interval at ``level``, and the parts of its variance."""

    mean: float
    lo: float
    hi: float
    level: float
    test_sd: float
    seed_sd: float

    def scaled(self, factor: float) -> Interval:
        """The same interval in other units (e.g. ×100 for points of accuracy)."""
        return Interval(
            self.mean * factor,
            self.lo * factor,
            self.hi * factor,
            self.level,
            self.test_sd * abs(factor),
            self.seed_sd * abs(factor),
        )

    @property
    def excludes_zero(self) -> bool:
        return self.lo > 0 or self.hi < 0


def _parts(changes: Tensor) -> tuple[Tensor, list[tuple[float, int]]]:
    """Per-example means over seeds, and the treatment part of the variance as terms ``(value, degrees of freedom)``:
    ``s²/S`` and ``−MS_res/(nS)`` (none for one seed)."""
    check(
        changes.ndim == 2 and changes.shape[0] >= 1 and changes.shape[1] >= 2, "changes", "a [seeds, examples] matrix"
    )
    a = changes.double()
    seeds, n = a.shape
    per_example = a.mean(0)
    if seeds == 1:
        return per_example, []
    per_seed = a.mean(1)
    residual = a - per_seed[:, None] - per_example[None, :] + a.mean()
    ms_residual = float(residual.square().sum()) / ((seeds - 1) * (n - 1))
    return per_example, [
        (float(per_seed.var(unbiased=True)) / seeds, seeds - 1),
        (-ms_residual / (n * seeds), (seeds - 1) * (n - 1)),
    ]


def _interval(per_example: Tensor, seed_terms: list[tuple[float, int]], level: float, seed: int) -> Interval:
    """The interval from the bootstrap variance of the mean of ``per_example`` plus the seed terms, with
    Satterthwaite's degrees of freedom for the sum of the terms."""
    n = len(per_example)
    resamples = torch.randint(0, n, (BOOTSTRAP, n), generator=stream(seed, "bootstrap"))
    test_var = float(per_example[resamples].mean(1).var(unbiased=True))
    seed_var = sum(value for value, _ in seed_terms)
    total = test_var + seed_var
    mean = float(per_example.mean())
    if total <= 0:
        return Interval(mean, mean, mean, level, 0.0, 0.0)
    denominator = test_var**2 / (n - 1) + sum(value**2 / dof for value, dof in seed_terms)
    dof = total**2 / denominator
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * total**0.5
    return Interval(mean, mean - half, mean + half, level, test_var**0.5, max(seed_var, 0.0) ** 0.5)


def change_interval(changes: Tensor, level: float = 0.95, seed: int = 0) -> Interval:
    """The mean of ``changes [S, n]`` (S treatment seeds × n held-out examples) with its interval (module doc)."""
    check(0 < level < 1, "level", f"a coverage in (0, 1), got {level}")
    per_example, terms = _parts(changes)
    return _interval(per_example, terms, level, seed)


def difference_interval(a: Tensor, b: Tensor, level: float = 0.95, seed: int = 0) -> Interval:
    """``mean(a) − mean(b)`` for two rows measured on the same held-out examples (``[Sa, n]`` and ``[Sb, n]``, paired
    by example), with its interval: the paired bootstrap of the per-example differences plus both rows' seed parts.
    It equals the difference of the two rows' means exactly."""
    check(a.shape[1] == b.shape[1], "changes", f"rows on the same examples, got {a.shape[1]} and {b.shape[1]}")
    check(0 < level < 1, "level", f"a coverage in (0, 1), got {level}")
    mean_a, terms_a = _parts(a)
    mean_b, terms_b = _parts(b)
    return _interval(mean_a - mean_b, terms_a + terms_b, level, seed)
