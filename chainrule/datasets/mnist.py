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
import numpy as np

from ._files import find_file

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


def load_data(path=None, download=None):
    """``((x_train, y_train), (x_test, y_test))`` as uint8 arrays, as Keras returns them.

    Raises ``chainrule.datasets.DatasetNotFoundError`` (a ``FileNotFoundError``)
    listing every place looked at, and where to put the file, when it is
    nowhere and cannot be downloaded.
    """
    place = find_file(FILENAME, path, sha256=SHA256, url=URL, download=download)
    with np.load(place, allow_pickle=False) as data:
        missing = [k for k in _KEYS if k not in data.files]
        if missing:
            raise ValueError(f"'{place}' is not an MNIST file in Keras' layout: it has "
                             f"no {', '.join(missing)} (keys: {data.files})")
        return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
