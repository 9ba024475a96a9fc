"""The optimizer examples run: the custom training loop learns, the paths picture is drawn."""
import importlib.util
import os

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_custom_training_loop_lowers_the_loss():
    losses = load_example("custom_training_loop").main(quick=True, verbose=False)
    assert len(losses) == 5 and all(np.isfinite(losses))
    assert losses[-1] < 0.75 * losses[0], losses


def test_optimizer_paths_writes_a_png(tmp_path):
    plt_image = pytest.importorskip("matplotlib.image")
    out = tmp_path / "paths.png"
    finals = load_example("optimizer_paths").main(str(out), quick=True)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = plt_image.imread(str(out))
    assert image.ndim == 3 and image.shape[0] > 400 and image.shape[1] > 400
    assert image[..., :3].std() > 0.05                     # not a blank canvas
    assert len(finals) == 9 and all(np.all(np.isfinite(p)) for p in finals.values())
    assert list(tmp_path.iterdir()) == [out]               # no temporary file left behind
