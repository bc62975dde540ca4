"""DVRL (Yoon, Arik & Pfister 2020): a data-value estimator trained by reinforcement learning to pick the training
examples whose selection makes a predictor perform best on validation data."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import Tensor, nn
from tqdm.auto import tqdm

from remedy.data.split import QueryHalf
from remedy.errors import check
from remedy.examples import ExamplesLike
from remedy.identify.registry import SCORERS
from remedy.identify.representer import features, last_linear
from remedy.identify.shapley import predictor
from remedy.posterior import Posterior
from remedy.seeds import seeded, stream


def _accuracy(x: np.ndarray, y: np.ndarray, selected: np.ndarray, val_x: np.ndarray, val_y: np.ndarray) -> float:
    """The validation accuracy of the predictor DVRL rewards: logistic regression on the selected examples."""
    chosen = selected > 0
    return float((predictor(x[chosen], y[chosen]).predict(val_x) == val_y).mean())


@SCORERS.register("dvrl")
def dvrl(
    posterior: Posterior,
    query: QueryHalf,
    *,
    iterations: int = 300,
    batch: int = 512,
    hidden: int = 100,
    lr: float = 1e-3,
    epsilon: float = 0.1,
    beta: float = 1e3,
    window: int = 20,
    validation: ExamplesLike | None = None,
    seed: int = 0,
) -> Tensor:
    """``r(z) = −h_φ(z)``, larger = more harmful, with ``h_φ(z)`` DVRL's probability of selecting z (Yoon et al.
    2020, Algorithm 1). The estimator ``h_φ`` (an MLP on θ̂'s last-layer features, the one-hot label and the
    marginal ``|onehot(y) − p_val(x)|`` of a predictor fitted on the validation data) samples a selection
    ``s ~ Bernoulli(h_φ)`` of a mini-batch of ``batch`` training examples; a logistic-regression predictor is fitted
    on the selection and its validation accuracy, minus a moving-average baseline over ``window`` iterations, is the
    REINFORCE reward for ``log π(s)``; the ε-regulariser ``beta · [max(mean h − (1 − ε), 0) + max(ε − mean h, 0)]``
    keeps the estimator from selecting all or nothing. Validation data: the query half (T_q) unless ``validation``
    gives a clean set of your own. Cost: ``iterations`` predictor fits on a mini-batch each."""
    check(iterations >= 1 and batch >= 2, "iterations", "at least one iteration over batches of at least 2")
    check(0 <= epsilon < 0.5, "epsilon", f"a threshold in [0, 0.5), got {epsilon}")
    layer = last_linear(posterior.model, posterior.num_classes)
    val = posterior.examples(query.guard if validation is None else validation, "validation")
    train_x = features(posterior.model, layer, posterior.train)[:, :-1].float().cpu()
    val_x = features(posterior.model, layer, val)[:, :-1].float().cpu()
    mean, scale = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    train_x, val_x = (train_x - mean) / scale, (val_x - mean) / scale
    y, val_y = posterior.train.labels.cpu(), val.y.cpu()
    classes = posterior.num_classes
    reference = predictor(val_x.numpy(), val_y.numpy())
    probabilities = np.zeros((len(train_x), classes))
    if isinstance(reference, LogisticRegression):
        probabilities[:, reference.classes_] = reference.predict_proba(train_x.numpy())
    else:
        probabilities[:, reference.label] = 1.0
    onehot = nn.functional.one_hot(y, classes).float()
    inputs = torch.cat([train_x, onehot, (onehot - torch.as_tensor(probabilities).float()).abs()], 1)
    with seeded(seed, "dvrl-estimator"):
        estimator = nn.Sequential(
            nn.Linear(inputs.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )
    optimizer = torch.optim.Adam(estimator.parameters(), lr=lr)
    gen = stream(seed, "dvrl")
    x_np, y_np, vx, vy = train_x.numpy(), y.numpy(), val_x.numpy(), val_y.numpy()
    baseline = _accuracy(x_np, y_np, np.ones(len(y_np)), vx, vy)
    for _ in tqdm(range(iterations), desc="dvrl", disable=None, leave=False):
        rows = torch.randperm(len(y), generator=gen)[: min(batch, len(y))]
        p = torch.sigmoid(estimator(inputs[rows]))[:, 0]
        selection = torch.bernoulli(p.detach(), generator=gen)
        reward = _accuracy(x_np[rows], y_np[rows], selection.numpy(), vx, vy)
        log_prob = (selection * torch.log(p + 1e-8) + (1 - selection) * torch.log(1 - p + 1e-8)).sum()
        spread = torch.relu(p.mean() - (1 - epsilon)) + torch.relu(epsilon - p.mean())
        loss = -(reward - baseline) * log_prob + beta * spread
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        baseline = (window - 1) / window * baseline + reward / window
    with torch.no_grad():
        return -torch.sigmoid(estimator(inputs))[:, 0].double()
