"""Influence fidelity (SPEC §6): leave-one-out and PBRF ground truths, estimators' predictions of them, agreement
metrics and the five-term gap (Bae et al. 2022)."""

from remedy.fidelity.agreement import GAP_TERMS, TRUTHS, correlations, detection_area, gap_terms, lds, summarise
from remedy.fidelity.estimates import Estimate, ewc_changes, influence, predicted_changes
from remedy.fidelity.optimise import GradientDescent, Trainer, minimise, penalised_loss
from remedy.fidelity.responses import Responses

__all__ = [
    "GAP_TERMS",
    "TRUTHS",
    "Estimate",
    "GradientDescent",
    "Responses",
    "Trainer",
    "correlations",
    "detection_area",
    "ewc_changes",
    "gap_terms",
    "influence",
    "lds",
    "minimise",
    "penalised_loss",
    "predicted_changes",
    "summarise",
]
