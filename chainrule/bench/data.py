"""MNIST for the benchmarks: the real file when there is one, else synthetic.

The step timings do not depend on the pixel values, but real data keeps the
accuracies (scikit-learn section) meaningful; every section says which it used.
"""
from __future__ import annotations

import os

import numpy as np

SHARED = "/work/shared/data/mnist.npz"


def mnist_path():
    """``$CHAINRULE_DATA`` (the file or its folder), else the shared copy; None
    when neither exists. Never downloads: a benchmark must not hit the network."""
    places = []
    env = os.environ.get("CHAINRULE_DATA")
    if env:
        places.append(os.path.join(env, "mnist.npz") if os.path.isdir(env) else env)
    places.append(SHARED)
    return next((p for p in places if os.path.isfile(p)), None)


def mnist(n_train, n_test=0, seed=0):
    """``(x_train, y_train, x_test, y_test, source)``: float32 images in [0, 1]
    of shape (n, 28, 28) and int64 labels. ``source`` is "MNIST" or
    "synthetic (no mnist.npz found)"."""
    path = mnist_path()
    if path is not None:
        with np.load(path, allow_pickle=False) as f:
            xtr, ytr, xte, yte = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
        scale = np.float32(1 / 255)
        return (xtr[:n_train].astype(np.float32) * scale, ytr[:n_train].astype(np.int64),
                xte[:n_test].astype(np.float32) * scale, yte[:n_test].astype(np.int64), "MNIST")
    rng = np.random.default_rng(seed)
    make = lambda n: (rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n))
    (xtr, ytr), (xte, yte) = make(n_train), make(n_test)
    return xtr, ytr, xte, yte, "synthetic (no mnist.npz found)"
