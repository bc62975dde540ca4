"""remedy: find the training data behind a classifier's failures, erase its influence, and prove the repair.

One entry point per verb::

    posterior = remedy.Posterior(model, train)             # θ̂ + data + likelihood + curvature
    failures = remedy.split_failures(model, test, seed=0)  # test halves T_q / T_h and their failures F_q / F_h
    scores = remedy.identify(posterior, failures, "puma", target="guard")  # larger = more harmful
    fix = remedy.repair(posterior, scores.top(fraction=0.05), "finetune", guard=failures.guard)
    remedy.evaluate(fix.model, failures)                   # fixed, broken, and the net on T_h
"""

from remedy.data.failures import Failures, split_failures
from remedy.errors import RemedyError
from remedy.evaluate import detection_curve, evaluate
from remedy.examples import Examples
from remedy.identify import SCORERS, Scores, identify
from remedy.models.train import TrainConfig, train_model
from remedy.posterior import Posterior
from remedy.task import Task, cross_entropy, load_task
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
    "Task",
    "TrainConfig",
    "cross_entropy",
    "detection_curve",
    "evaluate",
    "identify",
    "load_task",
    "repair",
    "split_failures",
    "train_model",
]
