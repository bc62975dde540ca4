"""remedy: find the training data behind a classifier's failures, erase its influence, and prove the repair.

One entry point per verb::

    posterior = remedy.Posterior(model, train)            # θ̂ + data + likelihood + curvature
    failures = remedy.split_failures(model, test, seed=0)  # F_q, F_h, T \\ F
    scores = remedy.identify(posterior, failures, "ewc-influence")   # larger = more harmful
    repaired = remedy.repair(posterior, scores.top(fraction=0.15), failures, "ewc-deletion")
    remedy.evaluate(repaired, failures)                    # accuracy on query / holdout / remaining
"""

from remedy.data.failures import Failures, split_failures
from remedy.errors import RemedyError
from remedy.evaluate import detection_curve, evaluate
from remedy.identify import SCORERS, Scores, identify
from remedy.models.train import TrainConfig, train_model
from remedy.posterior import Posterior
from remedy.task import Examples, cross_entropy
from remedy.treat import TREATMENTS, repair

__version__ = "0.1.0"

__all__ = [
    "SCORERS",
    "TREATMENTS",
    "Examples",
    "Failures",
    "Posterior",
    "RemedyError",
    "Scores",
    "TrainConfig",
    "cross_entropy",
    "detection_curve",
    "evaluate",
    "identify",
    "repair",
    "split_failures",
    "train_model",
]
