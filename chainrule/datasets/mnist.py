"""MNIST handwritten digits from a local ``mnist.npz`` (Keras' file layout).

>>> from chainrule.datasets import mnist
>>> (x_train, y_train), (x_test, y_test) = mnist.load_data()   # doctest: +SKIP
>>> x_train.shape, x_train.dtype                                 # doctest: +SKIP
((60000, 28, 28), dtype('uint8'))

No download happens here: the file is looked for, in order, at ``path``
(the file itself or the folder holding it), at ``$CHAINRULE_DATA`` (file or
folder) and in the cache ``~/.chainrule/datasets/mnist.npz``.
"""
import os

import numpy as np

__all__ = ["load_data"]

FILENAME = "mnist.npz"
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _candidates(path):
    places = []
    for where in (path, os.environ.get("CHAINRULE_DATA")):
        if where:
            where = os.path.expanduser(os.fspath(where))
            places.append(os.path.join(where, FILENAME) if os.path.isdir(where) else where)
    places.append(os.path.join(os.path.expanduser("~"), ".chainrule", "datasets", FILENAME))
    return places


def load_data(path=None):
    """``((x_train, y_train), (x_test, y_test))`` as uint8 arrays, as Keras returns them.

    Raises ``FileNotFoundError`` listing every place looked at when the file
    is in none of them.
    """
    places = _candidates(path)
    for place in places:
        if os.path.isfile(place):
            with np.load(place, allow_pickle=False) as data:
                missing = [k for k in _KEYS if k not in data.files]
                if missing:
                    raise ValueError(f"'{place}' is not an MNIST file in Keras' layout: it has "
                                     f"no {', '.join(missing)} (keys: {data.files})")
                return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
    raise FileNotFoundError(
        "mnist.npz was not found; looked at: " + ", ".join(places) + ". Put Keras' "
        "mnist.npz (keys x_train, y_train, x_test, y_test) at one of these places: pass "
        "load_data(path='/folder/or/mnist.npz'), set CHAINRULE_DATA to its folder, or copy "
        f"it to {places[-1]}.")
