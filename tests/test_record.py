"""The training record: every optimiser step kept on disk and streamed back, enough to replay the run exactly."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.errors import RemedyError
from remedy.models import MLP
from remedy.models.record import STEPS_PER_FILE, Trajectory
from remedy.models.train import validation_split
from remedy.task import cross_entropy


def flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.fixture(scope="module")
def run(flipped_logreg: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    train = flipped_logreg["train"]
    config = remedy.TrainConfig(optimizer="sgd", lr=0.1, batch_size=16, patience=3, max_epochs=8, record=True)
    folder = tmp_path_factory.mktemp("record")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        initial = MLP(2, 2, hidden=(8,))
    model, record = remedy.train_model(initial, train, config=config, seed=0, record_dir=folder)
    return {"model": model, "record": record, "initial": initial, "train": train, "config": config}


def test_the_trajectory_starts_at_the_initial_weights_and_ends_at_theta_hat(run: dict) -> None:
    trajectory = run["record"].trajectory
    assert isinstance(trajectory, Trajectory) and trajectory.steps > STEPS_PER_FILE  # several files
    assert torch.equal(trajectory.initial(), flat(run["initial"]))
    assert torch.equal(trajectory.final(), flat(run["model"]))  # the kept weights, bit for bit
    assert trajectory.steps <= int(trajectory.meta["recorded"])  # early stopping may undo the last steps
    assert trajectory.optimizer["name"] == "sgd" and trajectory.optimizer["lr"] == 0.1


def test_each_step_is_one_sgd_step_on_its_recorded_batch(run: dict) -> None:
    trajectory, train = run["record"].trajectory, run["train"]
    fit_part, val_part = validation_split(len(train), run["config"].val_fraction, 0)
    probe = MLP(2, 2, hidden=(8,))
    previous_after = None
    for step in trajectory:
        assert set(step.batch.tolist()) <= set(fit_part.tolist())  # training-set indices, never the validation part
        if previous_after is not None:
            assert torch.equal(step.before, previous_after)
        torch.nn.utils.vector_to_parameters(step.before.clone(), probe.parameters())
        probe.train()
        loss = cross_entropy(probe(train.x[step.batch]), train.y[step.batch]).mean()
        grads = torch.autograd.grad(loss, list(probe.parameters()))
        replayed = step.before - step.lr * torch.cat([g.reshape(-1) for g in grads])
        torch.testing.assert_close(replayed, step.after, rtol=0, atol=1e-6)
        previous_after = step.after
    assert not set(val_part.tolist()) & {int(i) for b in trajectory.batches() for i in b}


def test_steps_stream_backwards_and_find_the_examples_they_used(run: dict) -> None:
    trajectory = run["record"].trajectory
    forward = [s.index for s in trajectory.iterate()]
    backward = [s.index for s in trajectory.iterate(reverse=True)]
    assert backward == forward[::-1] == list(range(trajectory.steps))[::-1]
    example = int(trajectory[3].batch[0])
    used = trajectory.steps_with(torch.tensor([example]))
    assert 3 in used and all(example in trajectory.batches()[t].tolist() for t in used)
    fit_part, _ = validation_split(len(run["train"]), run["config"].val_fraction, 0)
    batches, per_epoch = trajectory.batches(), -(-len(fit_part) // run["config"].batch_size)
    assert len(batches) % per_epoch == 0  # whole epochs: every epoch sees each fitted example exactly once
    for first in range(0, len(batches), per_epoch):
        epoch = torch.cat(batches[first : first + per_epoch])
        assert sorted(epoch.tolist()) == sorted(fit_part.tolist())
    per_step = trajectory.bytes_per_step
    n_params = trajectory.n_params
    assert 4 * n_params <= per_step <= 4 * n_params + 8 * 16 + 8 + 400  # parameters, batch, lr, file headers


def test_a_method_that_needs_the_trajectory_says_how_to_get_it(flipped_logreg: dict) -> None:
    record = remedy.TrainingRecord()
    with pytest.raises(RemedyError) as err:
        record.require(("trajectory",), "--treat amnesiac")
    assert str(err.value).startswith("--treat amnesiac: needs a training record with every optimiser step")
    assert "TrainConfig(record=True)" in str(err.value) and "\n" not in str(err.value)


def test_the_demo_records_what_any_of_its_methods_needs() -> None:
    from remedy.pipeline import DemoConfig

    assert DemoConfig().needs() == set()
    assert DemoConfig(compare=("sgd-influence",)).needs() == {"trajectory"}  # a compared scorer, not only the default
    assert DemoConfig(peers=("self-loss",), treat=("finetune", "amnesiac")).needs() == {"trajectory"}
    assert DemoConfig(treat=("sisa",)).needs() == {"shards"}  # the demo trains a SISA ensemble for it
    with pytest.raises(RemedyError, match=r"^--treat: expected methods that read one model's recorded run and sisa"):
        DemoConfig(identify="sgd-influence", treat=("sisa",)).check()


def test_the_demo_trains_the_sisa_ensemble_sisa_needs() -> None:
    from remedy.models.sisa import SHARDS, ShardEnsemble
    from remedy.pipeline import DemoConfig, demo_task

    task, about = demo_task(DemoConfig(dataset="digits", quick=True, model="logreg", treat=("sisa",)))
    assert isinstance(task.model, ShardEnsemble) and len(task.model.members) == SHARDS
    assert task.record.shards is not None and about["train"].shards == SHARDS


def test_dropout_is_seeded_so_training_is_deterministic(flipped_logreg: dict) -> None:
    train = flipped_logreg["train"]

    def noisy() -> torch.nn.Module:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return torch.nn.Sequential(
                torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(16, 2)
            )

    config = remedy.TrainConfig(max_epochs=2)
    a, _ = remedy.train_model(noisy(), train, config=config, seed=1)
    torch.manual_seed(1234)  # the caller's global generator must not matter
    b, _ = remedy.train_model(noisy(), train, config=config, seed=1)
    assert torch.equal(flat(a), flat(b))
