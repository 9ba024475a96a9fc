"""Rich display in Jupyter: tensors, models and graphs show themselves as HTML,
and under a real ipykernel (driven by nbclient) ``fit``'s progress bar is one
display per epoch updated in place, not one line per batch.
"""
import re
import shutil
import textwrap

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers, viz
from chainrule.models import notebook_display


# ---------------------------------------------------------------- tensors


def test_tensor_html_shows_shape_dtype_grad_state_and_values():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    out = (a * a).sum()
    view = out._repr_html_()
    assert "shape ()" in view and "float32" in view and "made by sum" in view
    out.backward()
    view = a._repr_html_()
    assert "shape (2,)" in view and "leaf, requires_grad" in view and ".grad filled" in view
    assert "[1., 2.]" in view
    assert "constant (no grad)" in cr.tensor([1, 2])._repr_html_()
    assert "int64" in cr.tensor([1, 2])._repr_html_()


def test_big_tensor_previews_its_corners_and_names_its_shape():
    x = cr.tensor(np.arange(20000, dtype=np.float64).reshape(100, 200))
    view = x._repr_html_()
    assert "shape (100, 200)" in view and "float64" in view
    assert "..." in view and "1.9999e+04" in view             # the last value, elided middle
    assert len(view) < 2000
    text = repr(x)
    assert "..." in text and "shape=(100, 200)" in text       # elided values: say the shape
    assert "shape=" not in repr(cr.tensor([1.0, 2.0]))       # small ones read as PyTorch's


# ---------------------------------------------------------------- models


def test_model_html_is_its_summary_table():
    model = cr.Sequential([cr.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2)])
    printed = []
    model.summary(print_fn=printed.append)
    view = model._repr_html_()
    assert view.startswith("<pre>") and view.endswith("</pre>")
    for line in printed:
        assert line.replace('"', "&quot;") in view
    assert "Total params: 23" in view                  # (4*3 + 3) + (3*2 + 2)


def test_unbuilt_model_falls_back_to_its_repr():
    assert cr.Sequential([layers.Dense(3)])._repr_html_() is None


# ---------------------------------------------------------------- graphs


def _graph():
    a = cr.Tensor(2.0, requires_grad=True, name="a")
    b = cr.Tensor(3.0, requires_grad=True, name="b")
    c = cr.Tensor(4.0, requires_grad=True, name="c")
    J = 3 * (a * b + c)
    J.backward(retain_graph=True)
    return viz.draw_graph(J)


def test_draw_graph_stays_dot_text_and_lists_its_nodes_inputs_first():
    graph = _graph()
    assert isinstance(graph, str) and str(graph).startswith("digraph chainrule {")
    nodes = graph.nodes()
    by_name = {n["label"][0]: n for n in nodes}
    # dJ/da = 3b = 9, dJ/db = 3a = 6, dJ/dc = 3: the chain rule by hand.
    assert "grad 9" in by_name["a"]["label"] and "grad 6" in by_name["b"]["label"]
    assert "grad 3" in by_name["c"]["label"]
    seen = set()
    for node in nodes:                                 # every input comes before its user
        assert set(node["inputs"]) <= seen, node
        seen.add(node["id"])
    assert [n["op"] for n in nodes if n["op"]] == ["multiply", "add", "multiply"]
    assert "value 30" in nodes[-1]["label"]            # J = 3(2*3 + 4)


def test_graph_reads_as_dot_text_in_plain_ipython():
    pretty = pytest.importorskip("IPython.lib.pretty").pretty
    graph = _graph()
    assert pretty(graph) == str(graph)            # not the quoted repr of a str


def test_graph_shows_a_table_without_graphviz(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    graph = _graph()
    assert graph._repr_svg_() is None
    table = graph._repr_html_()
    assert table.startswith("<table>") and "install Graphviz" in table
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    assert len(rows) == 1 + len(graph.nodes())          # header + one per tensor
    assert "multiply(" in table and "add(" in table


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_draws_itself_as_svg_with_graphviz():
    graph = _graph()
    svg = graph._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "multiply" in svg
    assert graph._repr_html_() is None                 # notebooks rank HTML above SVG


# ---------------------------------------------------------------- in a real kernel


KERNEL_CELLS = [
    """
    import time
    import numpy as np
    import chainrule as cr
    from chainrule import layers, viz
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = cr.Sequential([cr.Input((4,)), layers.Dense(8, activation="relu"),
                           layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class Slow(cr.callbacks.Callback):      # batches slow enough for several redraws
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.03)
    """,
    "history = model.fit(x, y, epochs=2, batch_size=8, verbose=1, callbacks=[Slow()])",
    "model",
    "viz.plot_history(history)",
    "cr.tensor([1.0, 2.0], requires_grad=True)",
]


@pytest.fixture(scope="module")
def kernel_run():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

    class Recording(nbclient.NotebookClient):
        """nbclient's client, keeping every message the kernel sends about each cell."""
        messages = []

        def process_message(self, msg, cell, cell_index):
            self.messages.append((cell_index, msg["msg_type"], msg["content"]))
            return super().process_message(msg, cell, cell_index)

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c))
                                               for c in KERNEL_CELLS])
    client = Recording(notebook, timeout=120, kernel_name="python3")
    client.execute()
    return notebook, Recording.messages


def test_fit_progress_is_one_display_per_epoch_updated_in_place(kernel_run):
    notebook, messages = kernel_run
    fit_cell = 1
    shown = [c for i, t, c in messages if i == fit_cell and t == "display_data"]
    updates = [c for i, t, c in messages if i == fit_cell and t == "update_display_data"]
    ids = [c["transient"]["display_id"] for c in shown]
    assert len(ids) == 2 and len(set(ids)) == 2, "one progress display per epoch"
    assert len(updates) >= 4, f"the bar should redraw during each epoch, got {len(updates)}"
    assert {c["transient"]["display_id"] for c in updates} == set(ids)
    # The text stream carries the epoch headers only: no line per batch, no \r.
    streamed = "".join(c["text"] for i, t, c in messages if i == fit_cell and t == "stream")
    assert streamed.count("\n") == 2 and "Epoch 1/2" in streamed and "Epoch 2/2" in streamed
    assert "\r" not in streamed
    # What the saved notebook keeps: the headers and each epoch's final bar.
    finals = [o["data"]["text/plain"] for o in notebook.cells[fit_cell].outputs
              if o["output_type"] == "display_data"]
    assert len(finals) == 2
    for text in finals:
        assert text.startswith("20/20 [==============================]"), text
        assert "loss:" in text and "accuracy:" in text and "ETA" not in text


def test_model_displays_its_summary_in_the_kernel(kernel_run):
    notebook, _ = kernel_run
    result = [o for o in notebook.cells[2].outputs if o["output_type"] == "execute_result"]
    assert "Total params: 58" in result[0]["data"]["text/html"]    # (4*8 + 8) + (8*2 + 2)


def test_plot_history_shows_once_in_the_kernel(kernel_run):
    notebook, _ = kernel_run
    images = [o for o in notebook.cells[3].outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, [o["output_type"] for o in notebook.cells[3].outputs]


def test_tensor_displays_as_html_in_the_kernel(kernel_run):
    notebook, _ = kernel_run
    data = notebook.cells[4].outputs[0]["data"]
    assert "shape (2,)" in data["text/html"] and "requires_grad" in data["text/html"]
    assert data["text/plain"] == "tensor([1., 2.], requires_grad=True)"


def test_live_line_is_only_for_a_notebook_cell():
    import io
    assert notebook_display.in_notebook() is False       # pytest is not a kernel
    assert notebook_display.live_line() is None
    assert notebook_display.live_line(io.StringIO()) is None
