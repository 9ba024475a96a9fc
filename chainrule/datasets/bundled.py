"""Small datasets shipped inside the package, returned as scikit-learn's
``return_X_y=True`` does."""
from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from importlib.abc import Traversable

__all__ = ["load_diabetes", "load_digits", "load_iris"]


def _data_file(name: str) -> Traversable:
    return resources.files(__package__).joinpath("data").joinpath(name)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The UCI 8x8 handwritten digits (1797 images, classes 0-9).

    Returns ``(X, y)``: ``X`` float64 of shape (1797, 64) with values 0..16
    (as ``sklearn.datasets.load_digits``), ``y`` int64 of shape (1797,).

    Returns:
        ``(X, y)``: the flattened images and their digits.

    Example:

    >>> X, y = load_digits()
    >>> X.shape, int(X.max()), sorted(set(y.tolist())) == list(range(10))
    ((1797, 64), 16, True)
    """
    with _data_file("digits.npz").open("rb") as f, np.load(f, allow_pickle=False) as z:
        images, labels = z["x"], z["y"]
    return images.reshape(len(images), -1).astype(np.float64), labels.astype(np.int64)


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """Fisher's iris flowers (150 samples, 4 measurements in cm, 3 species).

    Returns ``(X, y)``: ``X`` float64 of shape (150, 4) (sepal length, sepal
    width, petal length, petal width), ``y`` int64 of shape (150,) with 0 =
    setosa, 1 = versicolor, 2 = virginica, 50 each, as
    ``sklearn.datasets.load_iris(return_X_y=True)``.

    Returns:
        ``(X, y)``: the measurements and the species.

    Example:

    >>> X, y = load_iris()
    >>> X.shape, np.bincount(y).tolist()
    ((150, 4), [50, 50, 50])
    """
    with _data_file("iris.npz").open("rb") as f, np.load(f, allow_pickle=False) as z:
        features, labels = z["x"], z["y"]
    return features.astype(np.float64), labels.astype(np.int64)


def load_diabetes() -> tuple[np.ndarray, np.ndarray]:
    """The diabetes regression data of Efron et al. (442 patients, 10 features).

    Returns ``(X, y)`` as ``sklearn.datasets.load_diabetes(return_X_y=True)``:
    ``X`` float64 of shape (442, 10) (age, sex, bmi, bp, s1..s6), each column
    mean-centred and scaled to a sum of squares of 1; ``y`` float64 of shape
    (442,), disease progression one year after baseline (25..346).

    Returns:
        ``(X, y)``: the features and the target.

    >>> X, y = load_diabetes()
    >>> X.shape, y.shape
    ((442, 10), (442,))
    """
    with _data_file("diabetes.npz").open("rb") as f, np.load(f, allow_pickle=False) as z:
        features, target = z["x"], z["y"]
    return features.astype(np.float64), target.astype(np.float64)
