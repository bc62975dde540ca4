"""Update strategies for editing the posterior (SPEC §3's rows): each can insert or delete data."""

from remedy.update.base import Fitted, Update, average_models, refit
from remedy.update.ewc import EWC, laplace_penalty
from remedy.update.finetune import FineTune

__all__ = ["EWC", "FineTune", "Fitted", "Update", "average_models", "laplace_penalty", "refit"]
