"""The datasets that ship inside the package match the shared CSVs and
scikit-learn's loaders (return_X_y=True)."""
import csv
import os

import numpy as np
import pytest

from chainrule.datasets import load_diabetes, load_digits, load_iris

SHARED = "/work/shared/data"


def _read_csv(name):
    path = os.path.join(SHARED, name)
    if not os.path.exists(path):
        pytest.skip(f"{path} not available")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_diabetes_shapes_and_scaling():
    X, y = load_diabetes()
    assert X.shape == (442, 10) and y.shape == (442,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    # "scaled": every column is centred with a sum of squares of 1.
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose((X ** 2).sum(axis=0), 1, rtol=1e-10)
    assert y.min() == 25 and y.max() == 346


def test_diabetes_equals_the_shared_csv():
    header, rows = _read_csv("diabetes.csv")
    assert header[-1] == "target"
    data = np.array([[float(v) for v in r] for r in rows])
    X, y = load_diabetes()
    np.testing.assert_array_equal(X, data[:, :10])
    np.testing.assert_array_equal(y, data[:, 10])


def test_diabetes_equals_sklearn():
    datasets = pytest.importorskip("sklearn.datasets")
    Xs, ys = datasets.load_diabetes(return_X_y=True)
    X, y = load_diabetes()
    np.testing.assert_array_equal(X, Xs)
    np.testing.assert_array_equal(y, ys)


def test_iris_shapes_labels_and_csv():
    X, y = load_iris()
    assert X.shape == (150, 4) and X.dtype == np.float64
    assert y.shape == (150,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50, 50, 50]
    _, rows = _read_csv("iris.csv")
    species = ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(X, np.array([[float(v) for v in r[:4]] for r in rows]))
    np.testing.assert_array_equal(y, [species.index(r[4]) for r in rows])


def test_iris_equals_sklearn():
    datasets = pytest.importorskip("sklearn.datasets")
    Xs, ys = datasets.load_iris(return_X_y=True)
    X, y = load_iris()
    np.testing.assert_array_equal(X, Xs)
    np.testing.assert_array_equal(y, ys)


def test_digits_still_loads():
    X, y = load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)


def test_loaders_return_fresh_arrays():
    X1, _ = load_iris()
    X1[0, 0] = -1.0
    X2, _ = load_iris()
    assert X2[0, 0] == 5.1
