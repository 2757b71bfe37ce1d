"""Data: CIFAR-10 downloaded and checked (download.py, cifar.py), train/validation splits, the batched
augmentations, corrupted test sets, and image files read for prediction."""

from .cifar import CifarArrays, load_cifar10

__all__ = ["CifarArrays", "load_cifar10"]
