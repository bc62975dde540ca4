"""Any batch structure (:mod:`remedy.inputs`): a model that takes a dict or a tuple of inputs gets the same
gradients, scores and repairs as the same model on one tensor; a dataset of dict items streams like one of pairs; a
model that branches on its inputs' values (which vmap cannot trace) gets the same per-example gradients one by one."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

import remedy
from remedy import inputs
from remedy.curvature.grads import per_example_grads
from remedy.examples import as_data
from remedy.task import cross_entropy


class Halves(nn.Module):
    """``model`` on its input split in two: ``forward(a, b)`` (a tuple) or ``forward(a=…, b=…)`` (a dict), returning
    HuggingFace-style outputs with ``.logits``."""

    def __init__(self, model: nn.Module, dict_output: bool = False) -> None:
        super().__init__()
        self.model, self.dict_output = model, dict_output

    def forward(self, a: Tensor, b: Tensor) -> object:
        out = self.model(torch.cat([a, b], 1))
        return {"logits": out} if self.dict_output else type("Output", (), {"logits": out})()


def _split(x: Tensor) -> tuple[Tensor, Tensor]:
    return x[:, :1], x[:, 1:]


class DictItems(Dataset):
    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        a, b = _split(self.x[i : i + 1])
        return {"a": a[0], "b": b[0], "labels": self.y[i]}


@pytest.mark.parametrize("form", ["dict", "tuple", "streamed dict items"])
def test_structured_inputs_give_the_scores_and_repair_of_one_tensor(flipped_logreg: dict, form: str) -> None:
    model, train, test = flipped_logreg["model"], flipped_logreg["train"], flipped_logreg["test"]
    wrapped = Halves(model, dict_output=form == "dict").eval()
    a, b = _split(train.x)
    structured = {
        "dict": ({"a": a, "b": b}, train.y),
        "tuple": ((a, b), train.y),
        "streamed dict items": DictItems(train.x, train.y),
    }[form]
    ta, tb = _split(test.x)
    test_structured = ({"a": ta, "b": tb}, test.y) if form != "tuple" else ((ta, tb), test.y)
    record = remedy.TrainingRecord(remedy.TrainConfig(lr=0.05, max_epochs=3))
    plain = remedy.Posterior(model, train, record=record)
    other = remedy.Posterior(wrapped, structured, record=record)
    split, other_split = remedy.split_test(model, test, seed=0), remedy.split_test(wrapped, test_structured, seed=0)
    assert torch.equal(split.query.index, other_split.query.index)
    for method in ("ewc-influence", "trak", "self-loss"):
        expected, found = remedy.identify(plain, split, method), remedy.identify(other, other_split, method)
        torch.testing.assert_close(found.values, expected.values, rtol=1e-4, atol=1e-6)
    causes = remedy.identify(plain, split, "ewc-influence").ranking()[:20]
    fixed = remedy.repair(plain, causes, "finetune", guard=split.query.guard, seed=0)
    other_fixed = remedy.repair(other, causes, "finetune", guard=other_split.query.guard, seed=0)
    for p, q in zip(fixed.model.parameters(), other_fixed.model.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-6)


class Branching(nn.Module):
    """A linear model that checks its mask's values in Python, as HuggingFace's attention masks do."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        if bool(mask.all()):  # data-dependent control flow: vmap cannot trace it
            return self.linear(features)
        return self.linear(features * mask)


def test_a_model_vmap_cannot_trace_gets_per_example_gradients_one_by_one() -> None:
    torch.manual_seed(0)
    model = Branching().eval()
    x, mask = torch.randn(6, 3), torch.ones(6, 3)
    mask[1, 2] = 0
    y = torch.tensor([0, 1, 1, 0, 1, 0])
    data = as_data(({"features": x, "mask": mask}, y), "train")
    with pytest.warns(UserWarning, match="one example at a time"):
        found = torch.cat([g for _, g in per_example_grads(model, cross_entropy, data)])
    for i in range(6):
        loss = cross_entropy(model(x[i : i + 1], mask[i : i + 1]), y[i : i + 1]).sum()
        expected = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(model.parameters()))])
        torch.testing.assert_close(found[i], expected)


def test_dict_items_need_a_label_entry() -> None:
    with pytest.raises(KeyError, match="labels or label"):
        inputs.split_item({"input_ids": torch.zeros(3)})
    x, y = inputs.split_item({"input_ids": torch.zeros(3), "label": 2})
    assert y == 2 and list(x) == ["input_ids"]


def test_inputs_of_different_lengths_are_one_line(flipped_logreg: dict) -> None:
    train = flipped_logreg["train"]
    a, b = _split(train.x)
    with pytest.raises(remedy.RemedyError, match="x and y of the same length"):
        as_data(({"a": a, "b": b[:-1]}, train.y), "train")


def test_a_huggingface_dataset_streams_like_the_tensors_it_holds(flipped_logreg: dict) -> None:
    datasets = pytest.importorskip("datasets")
    model, train = flipped_logreg["model"], flipped_logreg["train"]
    a, b = _split(train.x)
    table = {"a": a.tolist(), "b": b.tolist(), "label": train.y.tolist()}
    hf = datasets.Dataset.from_dict(table).with_format("torch")
    streamed = as_data(hf, "train")
    assert torch.equal(streamed.labels, train.y)  # read from its label column, not item by item
    record = remedy.TrainingRecord(remedy.TrainConfig(lr=0.05, max_epochs=3))
    plain = remedy.Posterior(model, train, record=record)
    other = remedy.Posterior(Halves(model).eval(), hf, record=record)
    test = flipped_logreg["test"]
    ta, tb = _split(test.x)
    split = remedy.split_test(model, test, seed=0)
    other_split = remedy.split_test(Halves(model).eval(), ({"a": ta, "b": tb}, test.y), seed=0)
    expected, found = (
        remedy.identify(plain, split, "ewc-influence"),
        remedy.identify(other, other_split, "ewc-influence"),
    )
    torch.testing.assert_close(found.values, expected.values, rtol=1e-4, atol=1e-6)


class Keyword(nn.Module):
    """A model that takes ``features=…``, which no dataset key names: the task's own ``forward`` feeds it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.inner = model

    def forward(self, features: Tensor) -> Tensor:
        return self.inner(features)


def _joined(model: nn.Module, x: dict[str, Tensor]) -> Tensor:
    return model(features=torch.cat([x["left"], x["right"]], 1))


def test_a_tasks_own_forward_reaches_the_functional_and_the_plain_passes(flipped_logreg: dict) -> None:
    model, train, test = flipped_logreg["model"], flipped_logreg["train"], flipped_logreg["test"]
    a, b = _split(train.x)
    ta, tb = _split(test.x)
    record = remedy.TrainingRecord(remedy.TrainConfig(lr=0.05, max_epochs=3))
    plain = remedy.Posterior(model, train, record=record)
    split = remedy.split_test(model, test, seed=0)
    expected = {m: remedy.identify(plain, split, m).values for m in ("ewc-influence", "trak", "linear-influence")}
    causes = expected["ewc-influence"].argsort(descending=True)[:20]
    fixed = remedy.repair(plain, causes, "finetune", guard=split.query.guard, seed=0)
    with inputs.calling(_joined):
        keyed = Keyword(model).eval()
        other = remedy.Posterior(keyed, ({"left": a, "right": b}, train.y), record=record)
        other_split = remedy.split_test(keyed, ({"left": ta, "right": tb}, test.y), seed=0)
        for method, values in expected.items():
            torch.testing.assert_close(remedy.identify(other, other_split, method).values, values, rtol=1e-4, atol=1e-6)
        other_fixed = remedy.repair(other, causes, "finetune", guard=other_split.query.guard, seed=0)
    for p, q in zip(fixed.model.parameters(), other_fixed.model.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-6)
    with pytest.raises(TypeError):  # outside the block the model is called structurally, and refuses the dict
        inputs.logits(keyed, {"left": ta, "right": tb})
