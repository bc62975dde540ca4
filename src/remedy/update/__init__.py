"""Update strategies for editing the posterior (SPEC §3's rows): each can insert or delete data."""

from remedy.update.base import Fitted, Update, refit
from remedy.update.ewc import EWC, laplace_penalty
from remedy.update.finetune import FineTune

__all__ = ["EWC", "FineTune", "Fitted", "Update", "laplace_penalty", "refit"]
