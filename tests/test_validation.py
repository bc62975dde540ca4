from __future__ import annotations

import pytest
import torch

import remedy
from remedy.errors import RemedyError
from remedy.models import MLP


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.fixture()
def model() -> torch.nn.Module:
    return MLP(3, 2, hidden=(4,)).eval()


def test_nan_inputs(model: torch.nn.Module) -> None:
    x = torch.randn(5, 3)
    x[2, 1] = float("nan")
    with pytest.raises(RemedyError) as err:
        remedy.Posterior(model, (x, torch.zeros(5, dtype=torch.long)))
    assert one_line(err).startswith("train: expected finite inputs")


def test_labels_out_of_range(model: torch.nn.Module) -> None:
    with pytest.raises(RemedyError) as err:
        remedy.Posterior(model, (torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1])))
    assert one_line(err) == "train: expected labels in [0, 1], found 0..2"


def test_mismatched_lengths(model: torch.nn.Module) -> None:
    with pytest.raises(RemedyError) as err:
        remedy.split_test(model, (torch.randn(5, 3), torch.zeros(4, dtype=torch.long)))
    assert one_line(err) == "test: expected x and y of the same length, got 5 and 4"


def test_empty_failure_set(model: torch.nn.Module) -> None:
    posterior = remedy.Posterior(model, (torch.randn(6, 3), torch.tensor([0, 1] * 3)))
    nothing = (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.raises(RemedyError) as err:
        remedy.QueryHalf.of(nothing)
    assert one_line(err) == "failures: expected at least one example, got an empty set"
    empty, none = remedy.Examples(*nothing), torch.zeros(0, dtype=torch.long)
    with pytest.raises(RemedyError) as err:
        remedy.identify(posterior, remedy.QueryHalf(empty, empty, none, none, none))
    assert one_line(err).startswith("query: expected a non-empty failure set")


def test_train_mode_model_and_bad_causes(model: torch.nn.Module) -> None:
    with pytest.raises(RemedyError, match=r"^model: expected a model in eval mode"):
        remedy.Posterior(model.train(), (torch.randn(4, 3), torch.zeros(4, dtype=torch.long)))
    posterior = remedy.Posterior(model.eval(), (torch.randn(4, 3), torch.zeros(4, dtype=torch.long)))
    with pytest.raises(RemedyError, match=r"^causes: expected indices in \[0, 3\]"):
        posterior.causes(torch.tensor([0, 9]))
    with pytest.raises(RemedyError, match=r"^method: expected a treatment, one of"):
        remedy.repair(posterior, torch.tensor([0]), "nope", guard=(torch.randn(3, 3), torch.zeros(3, dtype=torch.long)))
    with pytest.raises(RemedyError, match=r"^method: expected a scorer, one of"):
        remedy.identify(posterior, remedy.QueryHalf.of((torch.randn(3, 3), torch.zeros(3, dtype=torch.long))), "nope")
