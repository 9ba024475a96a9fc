"""Small datasets shipped inside the package, returned as scikit-learn's
``return_X_y=True`` does."""
from importlib import resources

import numpy as np

__all__ = ["load_digits"]


def _data_file(name):
    return resources.files(__package__).joinpath("data", name)


def load_digits():
    """The UCI 8x8 handwritten digits (1797 images, classes 0-9).

    Returns ``(X, y)``: ``X`` float64 of shape (1797, 64) with values 0..16
    (as ``sklearn.datasets.load_digits``), ``y`` int64 of shape (1797,).
    """
    with _data_file("digits.npz").open("rb") as f, np.load(f, allow_pickle=False) as z:
        images, labels = z["x"], z["y"]
    return images.reshape(len(images), -1).astype(np.float64), labels.astype(np.int64)
