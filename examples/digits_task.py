"""A worked remedy task: scikit-learn's digits with a fifth of the training labels flipped, and the small MLP
trained on them. ``remedy diagnose --task examples/digits_task.py:build --out runs/digits`` finds the causes."""

import torch

import remedy
from remedy.data import flip_uniform, load_dataset
from remedy.models import build_model


def build() -> remedy.Task:
    data = load_dataset("digits")  # any model, training set (tensors or a Dataset) and test set will do
    noisy = flip_uniform(data.train.x, data.train.y, rate=0.2, num_classes=10, seed=0)
    model, record = remedy.train_model(build_model("mlp", (1, 8, 8), 10, seed=0), (noisy.x, noisy.y), seed=0)
    train = torch.utils.data.TensorDataset(noisy.x, noisy.y)  # read in batches, never copied whole
    return remedy.Task(model, train, data.test, record=record, corrupted=noisy.mask, name="digits")
