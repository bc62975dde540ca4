"""Data Shapley (Ghorbani & Zou 2019): truncated Monte Carlo (``tmc-shapley``) and Gradient Shapley (``g-shapley``)
over a utility of the query half, with the learner trained on θ̂'s last-layer features so that a utility costs
milliseconds instead of a training run."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from sklearn.linear_model import LogisticRegression
from torch import Tensor
from tqdm.auto import tqdm

from remedy.chunks import world
from remedy.data.split import QueryHalf
from remedy.errors import RemedyWarning, check
from remedy.identify.registry import SCORERS
from remedy.identify.representer import features, last_linear
from remedy.posterior import Posterior
from remedy.seeds import stream

LONG = 120.0
"""Seconds of projected Monte Carlo work above which the user is told how long it will take, before it does."""

Utility = Callable[[Tensor], float]
"""``U(indices)``: the performance of the learner trained on those training examples."""


@dataclass(frozen=True)
class Constant:
    """The predictor of a training set with one class: that class, everywhere."""

    label: int

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.label)


def predictor(x: np.ndarray, y: np.ndarray, C: float = 1.0) -> LogisticRegression | Constant:
    """Multinomial logistic regression (scikit-learn, L2 strength ``1/C``) on ``(x, y)``; a constant for one class."""
    present = np.unique(y)
    if len(present) < 2:
        return Constant(int(present[0]) if len(present) else 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny subsets
        return LogisticRegression(C=C, max_iter=200).fit(x, y)


@dataclass(frozen=True)
class FeatureUtility:
    """Accuracy on ``(val_x, val_y)`` of multinomial logistic regression (scikit-learn, L2 strength ``1/C``) fitted on
    a subset of ``(x, y)``; a subset with one class predicts it, the empty set scores chance (``1/classes``)."""

    x: np.ndarray
    y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    classes: int
    C: float = 1.0

    def __call__(self, indices: Tensor) -> float:
        if len(indices) == 0:
            return 1.0 / self.classes
        idx = indices.numpy()
        predicted = predictor(self.x[idx], self.y[idx], self.C).predict(self.val_x)
        return float((predicted == self.val_y).mean())


class CentroidUtility(FeatureUtility):
    """Accuracy on ``(val_x, val_y)`` of the nearest class centroid of a subset (each present class's mean feature,
    Euclidean distance); the empty set scores chance. With a class's sum ``S_c`` and count ``n_c``, the squared
    distance of ``v`` to its centroid is ``‖v‖² − 2 v·S_c / n_c + ‖S_c‖² / n_c²`` (``‖v‖²`` is the same for every
    class): :meth:`prefixes` keeps every ``v·S_c`` and ``‖S_c‖²`` as running sums along a permutation, so that a whole
    permutation costs one product of the training features with the validation features and, at each step, the
    nearest class of every validation example (``N × classes × |val|`` comparisons)."""

    def __call__(self, indices: Tensor) -> float:
        if len(indices) == 0:
            return 1.0 / self.classes
        idx = indices.numpy()
        onehot = np.eye(self.classes)[np.asarray(self.y)[idx]]
        sums, counts = onehot.T @ np.asarray(self.x, dtype=np.float64)[idx], onehot.sum(0)  # S_c, n_c
        with np.errstate(divide="ignore", invalid="ignore"):  # absent classes: made infinitely far below
            distance = ((sums**2).sum(1) / counts**2)[:, None] - 2 * (sums @ np.asarray(self.val_x).T) / counts[:, None]
        distance[counts == 0] = np.inf
        return float((distance.argmin(0) == np.asarray(self.val_y)).mean())

    def prefixes(self, order: Tensor, block: int = 256, enough: Callable[[float], bool] | None = None) -> Tensor:
        """The utility of ``order[:1]``, ``order[:2]``, …, up to the first prefix whose utility ``enough`` accepts
        (TMC's truncation) or the whole order: one step per example, in which only the added example's class moves
        (its ``v·S_c`` by the example's products with the validation features, computed ``block`` examples at a
        time, and its ``‖S_c‖²`` by ``2 S_c·x + ‖x‖²``)."""
        idx = order.numpy()
        x, labels = np.asarray(self.x, dtype=np.float64)[idx], np.asarray(self.y)[idx].astype(np.int64)
        val, val_y = np.asarray(self.val_x, dtype=np.float64), np.asarray(self.val_y)
        sums = np.zeros((self.classes, x.shape[1]))
        distance = np.full((self.classes, len(val)), np.inf)  # ‖S_c‖²/n_c² − 2 v·S_c/n_c; absent classes never win
        dots, squares, counts = np.zeros((self.classes, len(val))), np.zeros(self.classes), np.zeros(self.classes)
        out = np.empty(len(idx))
        for first in range(0, len(idx), block):
            products = x[first : first + block] @ val.T
            for k in range(first, min(first + block, len(idx))):
                c, row = labels[k], x[k]
                squares[c] += 2 * sums[c] @ row + row @ row
                sums[c] += row
                dots[c] += products[k - first]
                counts[c] += 1
                distance[c] = squares[c] / counts[c] ** 2 - 2 * dots[c] / counts[c]
                out[k] = (distance.argmin(0) == val_y).mean()
                if enough is not None and enough(float(out[k])):
                    return torch.from_numpy(out[: k + 1])
        return torch.from_numpy(out)


LEARNERS = {"centroid": CentroidUtility, "logistic": FeatureUtility}
"""The learners a utility may fit on a subset's features: the nearest class centroid (the default: a permutation
costs N steps over the validation set) or logistic regression (a scikit-learn fit per prefix: one permutation of the
quick digits' 898 examples took 320 s)."""


def feature_utility(
    posterior: Posterior, query: QueryHalf, C: float = 1.0, learner: str = "logistic"
) -> FeatureUtility:
    """A utility: accuracy on the query half of ``learner`` (:data:`LEARNERS`) fitted on θ̂'s last-layer inputs."""
    check(learner in LEARNERS, "learner", f"one of {', '.join(LEARNERS)}, got {learner!r}")
    layer = last_linear(posterior.model, posterior.num_classes)
    train = features(posterior.model, layer, posterior.train)[:, :-1].cpu().numpy()
    guard = posterior.examples(query.guard, "query")
    val = features(posterior.model, layer, guard)[:, :-1].cpu().numpy()
    return LEARNERS[learner](
        train, posterior.train.labels.cpu().numpy(), val, guard.y.cpu().numpy(), posterior.num_classes, C
    )


@dataclass
class MonteCarlo:
    """Values averaged over permutations, with each value's standard error."""

    values: Tensor
    stderr: Tensor
    permutations: int


def monte_carlo(
    n: int,
    permutations: int,
    one: Callable[[int], Tensor],
    converged: Callable[[list[Tensor]], bool] | None = None,
    name: str = "permutations",
) -> MonteCarlo:
    """Mean and standard error over permutations of ``one(k)`` (permutation k's ``[n]`` marginal contributions). Under
    ``torchrun`` the permutations are dealt to the processes round by round and every round's rows are gathered;
    ``converged(rows)`` may end the loop after any round. A progress bar counts the permutations, and when the
    first round says the whole budget will take more than :data:`LONG` seconds, a warning says how long and which
    option shortens it."""
    rank, size = world()
    rows: list[Tensor] = []
    bar = tqdm(total=permutations, desc=name, disable=None, leave=False)
    start = time.perf_counter()
    for first in range(0, permutations, size):
        mine = [one(first + rank)] if first + rank < permutations else []
        if first == 0:
            projected = (time.perf_counter() - start) * -(-permutations // size)
            if projected > LONG and rank == 0:
                warnings.warn(
                    f"{name}: one permutation took {time.perf_counter() - start:.1f} s; up to {permutations} take "
                    f"about {projected / 60:.0f} min (fewer if the values converge); permutations=K shortens it",
                    RemedyWarning,
                    stacklevel=2,
                )
        if size > 1:
            gathered: list[list[Tensor] | None] = [None] * size
            dist.all_gather_object(gathered, mine)
            mine = [row for part in gathered for row in (part or [])]
        rows += mine
        bar.update(len(mine))
        if converged is not None and converged(rows):
            break
    bar.close()
    stacked = torch.stack(rows)
    stderr = stacked.std(0) / len(rows) ** 0.5 if len(rows) > 1 else torch.full((n,), float("inf"))
    return MonteCarlo(stacked.mean(0), stderr, len(rows))


def tmc(
    utility: Utility,
    n: int,
    permutations: int,
    tolerance: float,
    seed: int,
    convergence: float = 0.05,
    min_permutations: int = 10,
) -> MonteCarlo:
    """Truncated Monte Carlo Shapley: for each seeded permutation π, add examples in π's order and credit each with
    ``U(π_{≤j}) − U(π_{<j})``; once ``|U(D) − U(π_{<j})| < tolerance · |U(D)|`` the rest of the permutation gets 0
    (truncation). Stops after ``permutations``, or earlier once the mean absolute relative change of the values over
    the last ``min_permutations`` permutations falls below ``convergence`` (the paper's criterion). Under
    ``torchrun`` the permutations are dealt to the processes (round by round) and gathered."""
    full = utility(torch.arange(n))

    def close(value: float) -> bool:
        return tolerance > 0 and abs(full - value) < tolerance * abs(full)

    def one(k: int) -> Tensor:
        order = torch.randperm(n, generator=stream(seed, f"tmc-{k}"))
        marginal = torch.zeros(n, dtype=torch.float64)
        previous = utility(order[:0])
        if isinstance(utility, CentroidUtility):  # the prefixes in one pass, ended where the loop below would stop
            if close(previous):
                return marginal
            values = torch.cat([torch.tensor([previous], dtype=torch.float64), utility.prefixes(order, enough=close)])
            marginal[order[: len(values) - 1]] = values[1:] - values[:-1]
            return marginal
        for j in range(n):
            if close(previous):
                break
            current = utility(order[: j + 1])
            marginal[order[j]] = current - previous
            previous = current
        return marginal

    means: list[Tensor] = []

    def converged(rows: list[Tensor]) -> bool:
        means.append(torch.stack(rows).mean(0))
        if len(means) <= min_permutations:
            return False
        old, new = means[-min_permutations - 1], means[-1]
        return float(((new - old).abs() / new.abs().clamp_min(1e-12)).mean()) < convergence

    return monte_carlo(n, permutations, one, converged, "tmc-shapley")


@SCORERS.register("tmc-shapley")
def tmc_shapley(
    posterior: Posterior,
    query: QueryHalf,
    *,
    permutations: int = 200,
    tolerance: float = 0.01,
    convergence: float = 0.05,
    learner: str = "centroid",
    C: float = 1.0,
    seed: int = 0,
) -> Tensor:
    """``r(z) = −φ(z)``, larger = more harmful, with φ the truncated Monte Carlo Data Shapley value (Ghorbani & Zou
    2019, Algorithm 1) of the utility ``U(S)`` = accuracy on the query half (T_q) of ``learner`` fitted on S's
    last-layer inputs under θ̂ (:func:`feature_utility`; any :data:`Utility` works with :func:`tmc`): the nearest
    class centroid by default, whose permutation costs one step per example over the query half, or ``logistic``
    regression (L2 strength ``1/C``), a scikit-learn fit per prefix and hours on a thousand examples. Cost: up to
    ``permutations`` permutations of N utilities, fewer with truncation (``tolerance``) and the convergence test."""
    check(permutations >= 1, "permutations", f"at least one permutation, got {permutations}")
    check(tolerance >= 0, "tolerance", f"a non-negative truncation tolerance, got {tolerance}")
    utility = feature_utility(posterior, query, C, learner)
    result = tmc(utility, posterior.n, permutations, tolerance, seed, convergence)
    return -result.values


def gradient_shapley(
    x: Tensor, y: Tensor, val_x: Tensor, val_y: Tensor, classes: int, permutations: int, lr: float, seed: int
) -> MonteCarlo:
    """Gradient Shapley: each permutation is one epoch of SGD with batch size 1 on softmax regression from zero
    weights; each example is credited with the change of validation accuracy its own step made."""
    n, d = x.shape
    xb = torch.cat([x, torch.ones(n, 1, dtype=x.dtype)], 1)
    vb = torch.cat([val_x, torch.ones(len(val_x), 1, dtype=x.dtype)], 1)

    def accuracy(w: Tensor) -> float:
        return float(((vb @ w).argmax(1) == val_y).double().mean())

    def one(k: int) -> Tensor:
        order = torch.randperm(n, generator=stream(seed, f"g-shapley-{k}"))
        w = torch.zeros(d + 1, classes, dtype=x.dtype)
        marginal = torch.zeros(n, dtype=torch.float64)
        previous = accuracy(w)  # zero weights predict the first class everywhere (argmax of ties), not 1/classes
        for i in order.tolist():
            p = torch.softmax(xb[i] @ w, -1)
            p[y[i]] -= 1.0
            w -= lr * xb[i][:, None] * p[None, :]
            current = accuracy(w)
            marginal[i] = current - previous
            previous = current
        return marginal

    return monte_carlo(n, permutations, one, name="g-shapley")


@SCORERS.register("g-shapley")
def g_shapley(
    posterior: Posterior,
    query: QueryHalf,
    *,
    permutations: int = 20,
    lr: float = 0.1,
    seed: int = 0,
) -> Tensor:
    """``r(z) = −φ_G(z)``, larger = more harmful, with φ_G Gradient Shapley (Ghorbani & Zou 2019 §4): the mean over
    ``permutations`` one-epoch SGD passes (batch size 1, softmax regression on θ̂'s last-layer inputs, learning rate
    ``lr``) of the change of accuracy on the query half that each example's own step made. Cost: ``permutations``
    epochs of single-example steps, each followed by one evaluation on T_q."""
    check(permutations >= 1, "permutations", f"at least one permutation, got {permutations}")
    utility = feature_utility(posterior, query)
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    x, val_x = as_tensor(utility.x), as_tensor(utility.val_x)
    scale = x.std(0).clamp_min(1e-6)
    result = gradient_shapley(
        (x - x.mean(0)) / scale,
        torch.as_tensor(utility.y),
        (val_x - x.mean(0)) / scale,
        torch.as_tensor(utility.val_y),
        utility.classes,
        permutations,
        lr,
        seed,
    )
    return -result.values
