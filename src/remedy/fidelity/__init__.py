"""Influence fidelity (SPEC §6): leave-one-out and PBRF ground truths, agreement metrics, the five-term gap."""

from remedy.fidelity.agreement import GAP_TERMS, correlations, gap_terms, lds
from remedy.fidelity.responses import Responses, minimise

__all__ = ["GAP_TERMS", "Responses", "correlations", "gap_terms", "lds", "minimise"]
