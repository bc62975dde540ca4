"""Update strategies for editing the posterior (SPEC §3's rows): each can insert or delete data."""

from remedy.update.ewc import EWC
from remedy.update.finetune import FineTune

__all__ = ["EWC", "FineTune"]
