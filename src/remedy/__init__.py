"""remedy: find the training data behind a classifier's failures, erase its influence, and prove the repair.

One entry point per verb::

    model, record = remedy.train_model(net, train, seed=0)     # or your own trained model
    posterior = remedy.Posterior(model, train, record=record)  # θ̂ + data + likelihood + how it was trained
    split = remedy.split_test(model, test, seed=0)             # query half T_q / F_q, held-out half T_h / F_h
    scores = remedy.identify(posterior, split.query, "puma")   # larger = more harmful; sees only the query half
    fix = remedy.repair(posterior, scores.top(fraction=0.05), guard=split.query.guard)
    remedy.evaluate(fix.model, split)                          # fixed, broken, and the net on T_h
"""

from remedy.data.split import HeldOutHalf, QueryHalf, Split, split_test
from remedy.errors import RemedyError
from remedy.evaluate import detection_curve, evaluate
from remedy.examples import Examples
from remedy.identify import SCORERS, Scores, identify
from remedy.models.config import TrainConfig
from remedy.models.record import TrainingRecord
from remedy.models.train import train_model
from remedy.posterior import Posterior
from remedy.task import Task, cross_entropy, load_task
from remedy.treat import TREATMENTS, repair

__version__ = "0.2.0"

__all__ = [
    "SCORERS",
    "TREATMENTS",
    "Examples",
    "HeldOutHalf",
    "Posterior",
    "QueryHalf",
    "RemedyError",
    "Scores",
    "Split",
    "Task",
    "TrainConfig",
    "TrainingRecord",
    "cross_entropy",
    "detection_curve",
    "evaluate",
    "identify",
    "load_task",
    "repair",
    "split_test",
    "train_model",
]
