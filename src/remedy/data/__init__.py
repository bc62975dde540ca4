"""Loaders, corruptions with ground-truth masks, and the split of a test set into its query and held-out halves."""

from remedy.data.catalog import DATASETS, DatasetSplit, load_dataset, stratified_split
from remedy.data.corrupt import (
    Corruption,
    fgsm,
    fgsm_poison,
    flip_labels,
    flip_uniform,
    gaussian_noise,
    pair_matrix,
    parse_pairs,
    salt_and_pepper,
)
from remedy.data.idx import load_idx_pair, read_idx
from remedy.data.mnist import load_mnist
from remedy.data.split import HeldOutHalf, QueryHalf, Split, predict, split_test

__all__ = [
    "DATASETS",
    "Corruption",
    "DatasetSplit",
    "HeldOutHalf",
    "QueryHalf",
    "Split",
    "fgsm",
    "fgsm_poison",
    "flip_labels",
    "flip_uniform",
    "gaussian_noise",
    "load_dataset",
    "load_idx_pair",
    "load_mnist",
    "pair_matrix",
    "parse_pairs",
    "predict",
    "read_idx",
    "salt_and_pepper",
    "split_test",
    "stratified_split",
]
