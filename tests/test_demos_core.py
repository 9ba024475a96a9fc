"""The digits and MNIST demos in quick mode: what they print, what they return,
and the PNG each writes (it opens, with a sensible size). MNIST runs on a tiny
fake mnist.npz; the real-data runs are slow tests."""
import builtins
import os

import numpy as np
import pytest

from chainrule.datasets import DatasetNotFoundError
from chainrule.demos import digits_mlp, mnist_cnn, mnist_mlp

SHARED_MNIST = "/work/shared/data/mnist.npz"


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)


@pytest.fixture
def fake_mnist(tmp_path):
    """60 training and 20 test 'digits': a bright square whose position is the label."""
    rng = np.random.default_rng(0)

    def make(n):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for image, label in zip(images, labels):
            image[2 * label:2 * label + 6, 4:12] = 255
        return images, labels
    (x_train, y_train), (x_test, y_test) = make(60), make(20)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def _check_png(path, min_width=400, min_height=200):
    import matplotlib.image as mpimg
    assert os.path.isfile(path)
    image = mpimg.imread(path)
    height, width = image.shape[:2]
    assert min_width <= width <= 3000 and min_height <= height <= 3000
    assert image.std() > 0.01                         # not a blank canvas


def test_digits_quick_prints_trains_and_plots(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    result = digits_mlp.run(quick=True, seed=0, out_dir=str(tmp_path))
    out = capsys.readouterr().out
    assert "1438 training and 359 test images" in out
    assert "Epoch 3/3" in out                        # the progress bar's epochs
    assert f"final test accuracy: {result['test_accuracy']:.3f}" in out
    assert result["test_accuracy"] > 0.85            # 3 epochs already learn most digits
    assert result["pngs"] == [os.path.join(str(tmp_path), "digits_mlp.png")]
    _check_png(result["pngs"][0])


def test_digits_without_matplotlib_still_runs(capsys, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = digits_mlp.run(quick=True, seed=0, out_dir=str(tmp_path))
    assert result["pngs"] == [] and not os.listdir(tmp_path)
    assert "(install chainrule[viz] to save the plots)" in capsys.readouterr().out


def test_digits_is_reproducible_by_seed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(digits_mlp, "save_training_figure", lambda *args, **kwargs: [])
    first = digits_mlp.run(quick=True, seed=3, out_dir=str(tmp_path))
    again = digits_mlp.run(quick=True, seed=3, out_dir=str(tmp_path))
    assert first["final_loss"] == again["final_loss"]
    assert digits_mlp.run(quick=True, seed=4, out_dir=str(tmp_path))["final_loss"] != \
        first["final_loss"]


@pytest.mark.parametrize("demo, png", [(mnist_mlp, "mnist_mlp.png"), (mnist_cnn, "mnist_cnn.png")])
def test_mnist_demos_quick_on_a_tiny_file(demo, png, fake_mnist, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "plots"
    result = demo.run(quick=True, seed=0, out_dir=str(out_dir), data_path=str(fake_mnist))
    out = capsys.readouterr().out
    assert "MNIST: 60 training and 20 test images of 28x28 pixels" in out
    assert "Total params" in out                      # the model summary
    assert f"final test accuracy: {result['test_accuracy']:.4f}" in out
    assert 0 <= result["test_accuracy"] <= 1 and np.isfinite(result["final_loss"])
    assert result["pngs"] == [os.path.join(str(out_dir), png)]
    _check_png(result["pngs"][0])


@pytest.mark.parametrize("demo", [mnist_mlp, mnist_cnn])
def test_mnist_demos_without_data_raise_the_dataset_error(demo, tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"(?s)mnist\.npz was not found.*Put mnist"):
        demo.run(quick=True, out_dir=str(tmp_path), data_path=str(tmp_path / "none"))
    assert not os.listdir(tmp_path)


def test_every_core_demo_follows_the_contract():
    for module, name in ((digits_mlp, "digits"), (mnist_mlp, "mnist-mlp"),
                         (mnist_cnn, "mnist-cnn")):
        assert module.NAME == name and module.SUMMARY
        assert (module.DATA is None) == (name == "digits")


@pytest.mark.slow
def test_full_digits_demo_reaches_95_percent(tmp_path, capsys):
    assert digits_mlp.run(quick=False, seed=0, out_dir=str(tmp_path))["test_accuracy"] >= 0.95


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(SHARED_MNIST), reason="no shared mnist.npz")
def test_full_mnist_mlp_demo_on_real_data(tmp_path, capsys):
    result = mnist_mlp.run(quick=False, seed=0, out_dir=str(tmp_path), data_path=SHARED_MNIST)
    assert result["test_accuracy"] >= 0.975
