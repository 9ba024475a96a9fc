"""chainrule.viz: the DOT graph (always), rendering with Graphviz (when there),
and the matplotlib figures, checked as PNGs."""
import shutil

import numpy as np
import pytest

import chainrule as cr
from chainrule import viz

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image as mpimg
import matplotlib.pyplot as plt


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _seeds_example():
    a = cr.tensor(2.0, requires_grad=True)
    b = cr.tensor(3.0, requires_grad=True)
    c = cr.tensor(4.0, requires_grad=True)
    a.name, b.name, c.name = "a", "b", "c"
    J = 3 * (a * b + c)
    J.backward(retain_graph=True)
    return J


def _label_of(dot, name):
    line = next(line for line in dot.splitlines() if f'label="{name}\\n' in line)
    return line


def test_draw_graph_shows_ops_values_and_gradients():
    dot = viz.draw_graph(_seeds_example())
    assert isinstance(dot, str) and dot.startswith("digraph")
    for op in ("multiply", "add"):
        assert f'label="{op}"' in dot
    # dJ/da = 3b = 9, dJ/db = 3a = 6, dJ/dc = 3 (the seeds' walkthrough).
    assert "value 2\\ngrad 9" in _label_of(dot, "a")
    assert "value 3\\ngrad 6" in _label_of(dot, "b")
    assert "value 4\\ngrad 3" in _label_of(dot, "c")
    assert "shape ()" in _label_of(dot, "a")
    # J = 3 * (2 * 3 + 4) = 30, and the constant 3 is drawn dashed.
    assert "value 30" in dot and "style=dashed" in dot
    # 5 tensors (a, b, c, 3, and three results) need edges into 3 op nodes.
    assert dot.count("->") == 2 + 2 + 2 + 3


def test_draw_graph_summarises_big_arrays():
    x = cr.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    dot = viz.draw_graph(loss)
    assert "shape (3, 4)" in dot
    assert "value mean 5.5, in [0, 11]" in dot
    assert "grad mean 11, in [0, 22]" in dot


def test_a_graph_freed_by_backward_says_how_to_keep_it():
    a = cr.tensor(2.0, requires_grad=True)
    J = 3 * a
    J.backward()
    assert "call backward(retain_graph=True)" in viz.draw_graph(J)


def test_save_writes_the_dot_text(tmp_path):
    dot = viz.draw_graph(_seeds_example())
    path = dot.save(tmp_path / "graph.dot")
    assert path.read_text() == dot


def test_render_without_graphviz_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"apt install graphviz.*brew install graphviz"):
        viz.draw_graph(_seeds_example()).render(tmp_path / "graph.svg")
    with pytest.raises(ValueError, match=r"use a \.svg, \.png or \.pdf name"):
        viz.draw_graph(_seeds_example()).render(tmp_path / "graph.txt")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_render_svg_with_graphviz(tmp_path):
    path = viz.draw_graph(_seeds_example()).render(tmp_path / "graph.svg")
    assert "<svg" in path.read_text() and "multiply" in path.read_text()


def _png_size(fig, tmp_path, name):
    path = tmp_path / name
    fig.savefig(path, dpi=80)
    image = mpimg.imread(path)
    return image.shape[1], image.shape[0]


def test_plot_history_from_a_real_fit(tmp_path):
    model = cr.Sequential([cr.Input((2,)), cr.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    history = model.fit(x, (x[:, 0] > 0).astype(np.float32), epochs=3, verbose=0,
                        validation_split=0.25)
    fig = viz.plot_history(history)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["loss", "val_loss"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), history.history["loss"])
    assert len(fig.axes) == 2                       # accuracy on a second axis
    width, height = _png_size(fig, tmp_path, "history.png")
    assert 300 <= width <= 2000 and 200 <= height <= 2000


def test_plot_history_into_given_axes_and_bad_input():
    fig, ax = plt.subplots()
    assert viz.plot_history({"loss": [3.0, 2.0, 1.5]}, ax=ax) is fig
    with pytest.raises(ValueError, match="a dict with a 'loss' list"):
        viz.plot_history([1, 2, 3])


def _color_at(fig, ax, x, y):
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())
    px, py = ax.transData.transform((x, y))
    return tuple(pixels[round(pixels.shape[0] - py), round(px)][:3])


@pytest.mark.parametrize("kind", ["labels", "probabilities", "scores", "columns"])
def test_decision_boundary_colours_each_side(kind):
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 0, 0, 1])

    def model(points):                                # class 1 below the diagonal
        margin = points[:, 0] - points[:, 1]
        return {"labels": (margin > 0).astype(int),
                "probabilities": 1 / (1 + np.exp(-10 * margin)),
                "scores": margin,
                "columns": np.stack([-margin, margin], axis=1)}[kind]

    fig = viz.plot_decision_boundary(model, X, y)
    ax = fig.axes[0]
    assert len(ax.get_legend().get_texts()) == 2    # one entry per class
    ax.get_legend().remove()                          # so it hides none of the colours
    below, above = _color_at(fig, ax, 0.7, 0.3), _color_at(fig, ax, 0.3, 0.7)
    assert below != above
    assert _color_at(fig, ax, 0.9, 0.5) == below and _color_at(fig, ax, 0.5, 0.9) == above


def test_decision_boundary_with_a_predict_method_and_bad_shapes():
    class Estimator:
        def predict(self, points):
            return (points[:, 0] > 0.5).astype(int)
    X = np.random.default_rng(0).uniform(size=(20, 2))
    fig = viz.plot_decision_boundary(Estimator(), X, (X[:, 0] > 0.5).astype(int))
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\), got \(20, 3\)"):
        viz.plot_decision_boundary(Estimator(), np.zeros((20, 3)), np.zeros(20))


def test_image_grid_marks_the_wrong_predictions(tmp_path):
    images = np.random.default_rng(0).integers(0, 17, (10, 8, 8))
    labels = np.arange(10)
    predictions = labels.copy()
    predictions[3] = 5
    fig = viz.image_grid(images, labels=labels, predictions=predictions, ncols=5)
    assert len(fig.axes) == 10
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[3] == "5 (3)" and titles[4] == "4"
    assert matplotlib.colors.to_hex(fig.axes[3].title.get_color()) == "#ff0000"
    assert matplotlib.colors.to_hex(fig.axes[4].title.get_color()) == "#000000"
    width, height = _png_size(fig, tmp_path, "grid.png")
    assert width > height > 100                     # 5 columns, 2 rows


def test_image_grid_colour_images_class_names_and_bad_shape():
    images = np.zeros((3, 32, 32, 3), np.uint8)
    fig = viz.image_grid(images, labels=np.array([6, 8, 6]), ncols=8,
                         class_names=["airplane", "automobile", "bird", "cat", "deer", "dog",
                                      "frog", "horse", "ship", "truck"])
    assert [ax.get_title() for ax in fig.axes] == ["frog", "ship", "frog"]
    with pytest.raises(ValueError, match=r"images must have shape .*got \(3, 5\)"):
        viz.image_grid(np.zeros((3, 5)))


def test_the_core_never_imports_viz():
    import subprocess
    import sys
    code = "import sys, chainrule; print('chainrule.viz' in sys.modules, 'matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.stdout.split() == ["False", "False"]
