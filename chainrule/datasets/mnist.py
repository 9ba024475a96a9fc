"""MNIST handwritten digits from ``mnist.npz`` (Keras' file layout).

>>> from chainrule.datasets import mnist
>>> (x_train, y_train), (x_test, y_test) = mnist.load_data()   # doctest: +SKIP
>>> x_train.shape, x_train.dtype                                 # doctest: +SKIP
((60000, 28, 28), dtype('uint8'))

The file is looked for by ``find_file``: at ``path`` (the file itself or the
folder holding it), at ``$CHAINRULE_DATA``, in the cache
``~/.chainrule/datasets/mnist.npz``, and last downloaded from Keras' address
(SHA-256 checked) unless ``download=False`` or ``$CHAINRULE_OFFLINE`` is set.
"""
from __future__ import annotations

import os

import numpy as np

from ._files import DatasetFileError, find_file, read_npz

__all__ = ["load_data"]

FILENAME = "mnist.npz"
URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = (
    # Keras' download
    "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    # the same arrays re-saved with savez_compressed (the project's shared copy)
    "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64",
)
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path: str | os.PathLike[str] | None = None,
              download: bool | None = None) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``((x_train, y_train), (x_test, y_test))`` as uint8 arrays, as Keras returns them.

    Raises ``chainrule.datasets.DatasetNotFoundError`` (a ``FileNotFoundError``)
    listing every place looked at, and where to put the file, when it is
    nowhere and cannot be downloaded.

    Args:
        path: the file itself or the folder holding it; None looks only in the
            usual places (``$CHAINRULE_DATA``, the cache).
        download: True/False, or None for "yes unless ``$CHAINRULE_OFFLINE`` is set".

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images (N, 28, 28), labels (N,).
    """
    place = find_file(FILENAME, path, sha256=SHA256, url=URL, download=download)
    arrays = read_npz(place, _KEYS, "an MNIST file in Keras' layout (mnist.npz)")
    for x_name, y_name, x, y in (("x_train", "y_train", *arrays[:2]),
                                 ("x_test", "y_test", *arrays[2:])):
        _check_split(place, x_name, y_name, x, y)
    x_train, y_train, x_test, y_test = arrays
    return (x_train, y_train), (x_test, y_test)


def _check_split(place, x_name, y_name, x, y):
    """Images (N, 28, 28) of values 0..255, labels (N,) of 0..9: anything else
    would be reshaped or cast into something that is not MNIST, silently."""
    if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype.kind not in "iuf":
        raise DatasetFileError(f"'{place}': {x_name} has shape {x.shape} and dtype {x.dtype}; "
                         f"MNIST images are (N, 28, 28) numbers")
    if y.ndim != 1 or len(y) != len(x) or y.dtype.kind not in "iu":
        raise DatasetFileError(f"'{place}': {y_name} has shape {y.shape} and dtype {y.dtype}; "
                         f"expected {len(x)} integer labels, one per image in {x_name}")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise DatasetFileError(f"'{place}': {x_name} holds values {x.min()}..{x.max()}; "
                         f"MNIST pixels are 0..255")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DatasetFileError(f"'{place}': {y_name} holds labels {y.min()}..{y.max()}; "
                         f"MNIST labels are 0..9")
