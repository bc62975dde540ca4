"""A HuggingFace text classifier with noisy labels, as remedy takes it (``pip install remedy[hf]``).

``remedy diagnose --task examples/text_task.py:build --out runs/text`` finds the causes. Everything is built here,
nothing downloaded: the texts are generated (no text corpus ships with scikit-learn or torch, and nothing can be
fetched at run time), the tokenizer is trained on them with ``tokenizers``, and the model is a small BERT sequence
classifier built from a config (about 300,000 parameters) and trained by remedy's recipe.

The texts: six topics, each with its own words; a sentence draws four to seven words of its topic, two to five
shared filler words and, one time in four, a word of another topic, so that the classes overlap a little. 30 % of
the training labels of two pairs of topics are swapped (sport ↔ weather, food ↔ music). A batch is a dict
``{"input_ids", "attention_mask"}`` that the model takes as keyword arguments; a dataset item is that dict with its
``"labels"`` entry, the form of a HuggingFace ``datasets.Dataset`` in torch format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch.utils.data import Dataset

import remedy
from remedy.models.config import TrainConfig
from remedy.seeds import stream

if TYPE_CHECKING:
    from tokenizers import Tokenizer

TOPICS = {
    "sport": "goal match team coach league score player season stadium referee cup final striker keeper win",
    "weather": "rain storm cloud sunny forecast wind snow cold humid thunder fog frost breeze heat drizzle",
    "food": "bread cheese soup recipe oven spicy salad dinner sauce bake flavor kitchen dessert pasta fresh",
    "music": "guitar song album concert drum melody singer band chorus lyrics piano tune rhythm jazz stage",
    "tech": "laptop software chip code server network cloud app battery screen data robot update device cable",
    "travel": "flight hotel beach passport train luggage tour island map journey airport visa cruise trip road",
}
FILLER = "the a of and to in is was it that for on with as this very today new some my our".split()
PAIRS = ((0, 1), (2, 3))
"""The topics whose labels are swapped (sport ↔ weather, food ↔ music)."""
LENGTH = 16
"""Tokens per text (padded or cut)."""


def texts(n: int, seed: int) -> tuple[list[str], torch.Tensor]:
    """``n`` generated texts and their topics."""
    g = stream(seed, "text-task")
    words = [t.split() for t in TOPICS.values()]

    def draw(pool: list[str], lo: int, hi: int) -> list[str]:
        count = int(torch.randint(lo, hi + 1, (1,), generator=g))
        return [pool[int(i)] for i in torch.randint(len(pool), (count,), generator=g)]

    out, labels = [], torch.randint(len(words), (n,), generator=g)
    for label in labels.tolist():
        picks = draw(words[label], 4, 7) + draw(FILLER, 2, 5)
        if torch.rand(1, generator=g) < 0.25:
            picks += draw(words[int(torch.randint(len(words), (1,), generator=g))], 1, 1)
        order = torch.randperm(len(picks), generator=g)
        out.append(" ".join(picks[int(i)] for i in order))
    return out, labels


def tokenizer(corpus: list[str]) -> Tokenizer:
    """A word-level tokenizer trained on ``corpus``, padding and cutting to :data:`LENGTH`."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # the optional extra remedy[hf]

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[CLS]"]))
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]", length=LENGTH)
    tok.enable_truncation(LENGTH)
    return tok


class TextSet(Dataset):
    """Tokenised texts as a map-style dataset of dicts ``{"input_ids", "attention_mask", "labels"}``."""

    def __init__(self, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> None:
        self.ids, self.mask, self.targets = ids, mask, labels

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "attention_mask": self.mask[i], "labels": self.targets[i]}


def encode(tok: Tokenizer, corpus: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention masks ``[n, LENGTH]``, each text led by ``[CLS]`` (what BERT's pooler reads)."""
    encoded = tok.encode_batch(["[CLS] " + t for t in corpus])
    return torch.tensor([e.ids for e in encoded]), torch.tensor([e.attention_mask for e in encoded])


def classifier(vocab: int, classes: int, seed: int) -> torch.nn.Module:
    """A small BERT sequence classifier from a config (no weights downloaded)."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=vocab,
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=256,
        max_position_embeddings=LENGTH,
        num_labels=classes,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        attn_implementation="eager",  # forward-mode AD (jvp) has no rule for SDPA attention on the CPU
    )
    torch.manual_seed(seed)
    return BertForSequenceClassification(config).eval()


def build(
    n_train: int = 2000, n_test: int = 1000, rate: float = 0.3, seed: int = 0, epochs: int = 20, record: bool = False
) -> remedy.Task:
    """The task: ``n_train`` texts with ``rate`` of two pairs of topics swapped, the classifier trained on them for
    ``epochs`` (averaging the second half's iterates, as the demo's recipe does) and, with ``record``, every optimiser
    step kept for the methods that replay the run (MAGIC, SGD-influence, amnesiac, unrolling)."""
    train_texts, true = texts(n_train, seed)
    test_texts, test_labels = texts(n_test, seed + 1000)
    tok = tokenizer(train_texts)
    noisy = true.clone()
    g = stream(seed, "text-flips")
    for a, b in PAIRS:
        for src, dst in ((a, b), (b, a)):
            members = torch.nonzero(true == src).flatten()
            chosen = members[torch.randperm(len(members), generator=g)[: round(rate * len(members))]]
            noisy[chosen] = dst
    ids, mask = encode(tok, train_texts)
    test_ids, test_mask = encode(tok, test_texts)
    model = classifier(tok.get_vocab_size(), len(TOPICS), seed)
    train = TextSet(ids, mask, noisy)
    config = TrainConfig(max_epochs=epochs, early_stopping=False, average=0.5, record=record)
    model, record = remedy.train_model(model, train, config=config, seed=seed)
    test = ({"input_ids": test_ids, "attention_mask": test_mask}, test_labels)
    return remedy.Task(
        model, train, test, record=record, corrupted=noisy != true, true_labels=true, name="text (BERT, 6 topics)"
    )
