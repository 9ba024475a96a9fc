"""Real MNIST (slow): the issue's accuracy targets after two epochs.

Run with ``python -m pytest -m slow tests/test_mnist.py``. The data are read
from ``$CHAINRULE_DATA`` or ``../shared/data/mnist.npz`` next to the
repository; the tests are skipped when the file is not there.
"""
import os
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import mnist

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
# The models under test are the examples' own, so the README's figures and
# these assertions are about the same networks.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "examples"))
import mnist_cnn
import mnist_mlp


@pytest.fixture(scope="module")
def data():
    try:
        return mnist.load_data(None if os.environ.get("CHAINRULE_DATA") else SHARED)
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.mark.slow
def test_mlp_reaches_97_5_percent_in_two_epochs(data):
    (x_train, y_train), (x_test, y_test) = data
    x_train = x_train.reshape(-1, 784).astype(np.float32) / 255
    x_test = x_test.reshape(-1, 784).astype(np.float32) / 255
    cr.set_seed(0)
    model = mnist_mlp.build_model()
    decay = cr.callbacks.LearningRateScheduler(mnist_mlp.schedule)
    history = model.fit(x_train, y_train, batch_size=128, epochs=2, verbose=0,
                        callbacks=[decay])
    assert history.history["loss"][1] < history.history["loss"][0]
    _, accuracy = model.evaluate(x_test, y_test, batch_size=1000)
    assert accuracy >= 0.975


@pytest.mark.slow
def test_convnet_reaches_98_5_percent_in_two_epochs(data):
    (x_train, y_train), (x_test, y_test) = data
    x_train = x_train[..., None].astype(np.float32) / 255
    x_test = x_test[..., None].astype(np.float32) / 255
    cr.set_seed(0)
    model = mnist_cnn.build_model()
    model.fit(x_train, y_train, batch_size=32, epochs=2, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, batch_size=500)
    assert accuracy >= 0.985


def _fake_mnist(path):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
             y_train=np.arange(6, dtype=np.uint8), x_test=np.zeros((2, 28, 28), np.uint8),
             y_test=np.array([3, 4], np.uint8))


def test_load_data_from_a_file_a_folder_or_the_environment(tmp_path, monkeypatch):
    _fake_mnist(tmp_path / "mnist.npz")
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    for where in (tmp_path / "mnist.npz", tmp_path, str(tmp_path)):
        (x_train, y_train), (_, y_test) = mnist.load_data(where)
        assert x_train.shape == (6, 28, 28) and list(y_test) == [3, 4]
        assert y_train.tolist() == list(range(6))
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    assert mnist.load_data()[0][1].tolist() == list(range(6))


def test_missing_mnist_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CHAINRULE_OFFLINE", "1")        # no download attempt in a test
    with pytest.raises(FileNotFoundError,
                       match=r"(?s)nowhere.*\.chainrule/datasets/mnist\.npz.*CHAINRULE_DATA"):
        mnist.load_data(tmp_path / "nowhere")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not an MNIST file"):
        mnist.load_data(tmp_path / "other.npz")


@pytest.mark.slow
def test_real_mnist_shapes(data):
    (x_train, y_train), (x_test, y_test) = data
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert set(np.unique(y_train)) == set(range(10))
