"""``cr.utils.plot_model`` / ``model_to_dot`` (Keras 3's ``keras.utils`` names),
used by the Keras guides (issue 16)."""
import shutil

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers
from chainrule.models import model_plot


def _residual():
    inputs = cr.Input((4,), name="x")
    h = layers.Dense(3, name="h", activation="relu")(inputs)
    out = layers.add([h, layers.Dense(3, name="g")(inputs)], name="sum")
    return cr.Model(inputs, out, name="residual")


def test_model_to_dot_has_one_box_per_layer_and_the_connections():
    text = cr.utils.model_to_dot(_residual(), show_shapes=True, show_layer_names=True,
                                 show_layer_activations=True, show_trainable=True,
                                 show_dtype=True, rankdir="LR")
    for name in ("x", "h", "g", "sum"):
        assert f'"{name}" [label=' in text
    edges = sorted(line.strip() for line in text.splitlines() if "->" in line)
    assert edges == ['"g" -> "sum";', '"h" -> "sum";', '"x" -> "g";', '"x" -> "h";']
    assert "Output shape: (None, 3)" in text and "rankdir=LR" in text
    assert "Activation: relu" in text and "Trainable: yes" in text
    assert "Output dtype: float32" in text


def test_sequential_is_a_chain_and_subclassed_models_are_refused():
    seq = cr.Sequential([cr.Input((3,)), layers.Dense(2, name="a"), layers.Dense(1, name="b")])
    text = cr.utils.model_to_dot(seq)
    assert '"a" -> "b";' in text and text.count("->") == 2
    with pytest.raises(ValueError, match="not built"):
        cr.utils.model_to_dot(cr.Sequential([layers.Dense(2)]))

    class Sub(cr.Model):
        def call(self, x):
            return x
    with pytest.raises(ValueError, match="subclassed"):
        cr.utils.plot_model(Sub(), "x.png")
    with pytest.raises(ValueError, match="rankdir"):
        cr.utils.model_to_dot(seq, rankdir="BT")


def test_dot_file_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(model_plot.shutil, "which", lambda name: None)
    path = tmp_path / "model.dot"
    assert cr.utils.plot_model(_residual(), str(path)) is None
    assert path.read_text().startswith('digraph "residual"')
    with pytest.raises(ImportError, match="Graphviz"):
        cr.utils.plot_model(_residual(), str(tmp_path / "model.png"))
    assert not (tmp_path / "model.png").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_png_is_drawn(tmp_path):
    path = tmp_path / "model.png"
    cr.utils.plot_model(_residual(), str(path), show_shapes=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["model.png"]     # no temp file left
