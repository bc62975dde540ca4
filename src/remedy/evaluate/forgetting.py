"""How close an unlearned model comes to the model retrained without the forgotten data: prediction agreement, KL
divergence, membership-inference attacks on the forgotten examples, and the tug-of-war summary."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.svm import SVC
from torch import Tensor, nn

from remedy.errors import check
from remedy.examples import Data
from remedy.inputs import logits
from remedy.seeds import stream
from remedy.task import LossFn, cross_entropy


@torch.no_grad()
def log_probabilities(model: nn.Module, data: Data, batch_size: int = 1024) -> Tensor:
    """``log softmax(model(x))`` for every example of ``data``, ``[n, C]`` float64 on the CPU."""
    device = next(model.parameters()).device
    parts = [torch.log_softmax(logits(model, b.to(device).x).double(), -1).cpu() for b in data.batches(batch_size)]
    return torch.cat(parts)


def agreement(model: nn.Module, reference: nn.Module, data: Data) -> float:
    """The fraction of ``data`` on which the two models predict the same class."""
    return float(
        (log_probabilities(model, data).argmax(1) == log_probabilities(reference, data).argmax(1)).double().mean()
    )


def kl_divergence(model: nn.Module, reference: nn.Module, data: Data) -> float:
    """The mean over ``data`` of ``KL(p_reference ‖ p_model)``: how much the model's predictive distribution differs
    from the reference's (0 when equal)."""
    p, q = log_probabilities(reference, data), log_probabilities(model, data)
    return float((p.exp() * (p - q)).sum(1).mean())


def loss_attack_auc(model: nn.Module, members: Data, others: Data, loss: LossFn = cross_entropy) -> float:
    """The area under the ROC curve of the loss-threshold membership attack (Yeom et al. 2018): the lower an
    example's loss, the likelier it was trained on. 0.5: ``members`` look like ``others``; above 0.5: the model
    still remembers them."""
    scores = []
    for data in (members, others):
        logp = log_probabilities(model, data)
        scores.append(-loss(logp, data.labels.cpu()).numpy())
    truth = np.r_[np.ones(len(scores[0])), np.zeros(len(scores[1]))]
    return float(roc_auc_score(truth, np.r_[scores[0], scores[1]]))


def _confidence(model: nn.Module, data: Data) -> np.ndarray:
    """The attack's features: the probability of the given label and the prediction's entropy."""
    logp = log_probabilities(model, data)
    true = logp.gather(1, data.labels.cpu()[:, None]).exp()[:, 0]
    entropy = -(logp.exp() * logp).sum(1)
    return torch.stack([true, entropy], 1).numpy()


def svc_attack(model: nn.Module, kept: Data, unseen: Data, forgotten: Data, seed: int = 0, size: int = 1000) -> float:
    """The confidence-based SVC attack of the unlearning literature (Song & Mittal 2021, as Jia et al. 2023 use it):
    an SVC learns to tell the model's kept training examples (members) from unseen test examples by the probability
    of the given label and the entropy of the prediction (up to ``size`` of each, drawn with ``seed``), then
    classifies the forgotten examples; returns the share it calls members (the retrained model gives the value a
    model that never saw them has)."""
    check(len(kept) >= 2 and len(unseen) >= 2, "data", "at least 2 kept and 2 unseen examples to train the attack")
    gen = stream(seed, "svc-attack")
    take = min(size, len(kept), len(unseen))
    kept = kept.subset(torch.randperm(len(kept), generator=gen)[:take])
    unseen = unseen.subset(torch.randperm(len(unseen), generator=gen)[:take])
    features = np.r_[_confidence(model, kept), _confidence(model, unseen)]
    labels = np.r_[np.ones(take), np.zeros(take)]
    attack = SVC(C=3, gamma="auto", kernel="rbf").fit(features, labels)
    return float(attack.predict(_confidence(model, forgotten)).mean())


def tug_of_war(accuracy: dict[str, float], retrained: dict[str, float]) -> float:
    """``Π_{s ∈ forgotten, kept, test} (1 − |acc_s − acc_s(retrained)|)`` (Zhao et al. 2024): 1 when the model's
    accuracies match the retrained model's on all three sets."""
    return float(np.prod([1 - abs(accuracy[k] - retrained[k]) for k in ("forgotten", "kept", "test")]))
