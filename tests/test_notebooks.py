"""The notebooks in notebooks/: each is what notebooks/make_notebooks.py writes
(so they never drift from docs/tour.md), the README links each, and each runs
top to bottom in a real Jupyter kernel (nbclient + ipykernel).

The backprop walkthrough runs by default (a second or two); the tour (whose
code tests/test_demos_seeds.py already runs), the MNIST and the ship-or-frog
notebooks train, so they are marked slow. MNIST is
read from ``$CHAINRULE_DATA`` or ``../shared/data`` when there; otherwise the
notebook runs on a stand-in in Keras' ``mnist.npz`` layout made from the
bundled 8x8 digits, scaled to 28x28 (real digit shapes, so it still learns).
Ship-or-frog is skipped without CIFAR-10, the GPT without Tiny Shakespeare.
"""
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SHARED_DATA = ROOT.parent / "shared" / "data"


def _maker():
    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def maker():
    pytest.importorskip("nbformat")
    return _maker()


def test_notebooks_are_what_make_notebooks_writes(maker):
    assert set(maker.NOTEBOOKS) == {p.name for p in NOTEBOOKS.glob("*.ipynb")}
    for name in maker.NOTEBOOKS:
        written = (NOTEBOOKS / name).read_text(encoding="utf-8")
        assert written == maker.render(name), (
            f"notebooks/{name} differs from what notebooks/make_notebooks.py writes: "
            "edit the script, then run it")


def test_tour_notebook_has_every_code_block_of_the_tour(maker):
    import re
    tour = (ROOT / "docs" / "tour.md").read_text(encoding="utf-8")
    blocks = [b.strip("\n") for b in re.findall(r"^```python\n(.*?)^```\n", tour, re.S | re.M)]
    cells = [source for kind, source in maker.tour_cells() if kind == "code"]
    assert blocks and cells == blocks


def test_readme_links_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS.glob("*.ipynb"):
        assert f"](notebooks/{path.name})" in readme, f"README does not link {path.name}"


def run_notebook(name, tmp_path, timeout=600):
    """Execute notebooks/NAME in a fresh kernel, in tmp_path; return the executed notebook."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    return notebook


def outputs(notebook, index, kind="text/plain"):
    """All the text cell ``index`` showed: its streams and its outputs' ``kind`` data."""
    texts = []
    for out in notebook.cells[index].outputs:
        texts.append(out.get("text", "") if out["output_type"] == "stream"
                     else out.get("data", {}).get(kind, ""))
    return "".join(texts)


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("CHAINRULE_OFFLINE", "1")          # never download in a test


@pytest.mark.slow      # its code cells are docs/tour.md's, which tests/test_demos_seeds.py runs
def test_tour_notebook_runs(tmp_path, offline):
    notebook = run_notebook("tour.ipynb", tmp_path)
    printed = "".join(outputs(notebook, i) for i in range(len(notebook.cells))
                      if notebook.cells[i].cell_type == "code")
    assert "tensor(9.) tensor(6.) tensor(3.)" in printed     # dJ/da = 3b, dJ/db = 3a, dJ/dc = 3
    assert "MLPClassifier test accuracy:" in printed


def test_backprop_notebook_runs_explains_and_draws(tmp_path, offline):
    notebook = run_notebook("backprop.ipynb", tmp_path)
    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    explained = outputs(notebook, code[1])
    assert "dJ/dv = dJ/dJ · ∂J/∂v = 1 · 3 = 3" in explained
    assert "{'a': 9.0, 'b': 6.0, 'c': 3.0}" in explained
    graph_cell = next(i for i in code if "draw_graph" in notebook.cells[i].source)
    shown = notebook.cells[graph_cell].outputs[0]["data"]
    assert "image/svg+xml" in shown or "<table>" in shown["text/html"]
    sigmoid = outputs(notebook, code[-1])
    by_hand, backward = sigmoid.splitlines()[1:3]
    assert by_hand.split("dL/dw = (phi - y)·x = ")[1].split(",")[0] == \
        backward.split("w.grad = ")[1].split(",")[0]


def _mnist_stand_in(folder):
    """mnist.npz in Keras' layout from the bundled 8x8 digits, scaled to 28x28 (uint8)."""
    from chainrule.datasets import load_digits
    images, labels = load_digits()
    images = images.reshape(-1, 8, 8)
    big = np.kron(images, np.ones((3, 3)))                         # 24x24
    big = np.pad(big, ((0, 0), (2, 2), (2, 2)))                    # 28x28, as MNIST's margin
    big = (255 * big / big.max()).astype(np.uint8)
    reps = -(-22000 // len(big))
    x, y = np.tile(big, (reps, 1, 1))[:22000], np.tile(labels, reps)[:22000].astype(np.uint8)
    np.savez_compressed(folder / "mnist.npz", x_train=x[:20000], y_train=y[:20000],
                        x_test=x[20000:], y_test=y[20000:])
    return folder


@pytest.mark.slow
def test_mnist_notebook_runs(tmp_path, offline, monkeypatch):
    from chainrule.datasets import mnist
    place = os.environ.get("CHAINRULE_DATA") or str(SHARED_DATA)
    try:
        mnist.load_data(place, download=False)
        monkeypatch.setenv("CHAINRULE_DATA", place)
        floor = 0.9                                               # real MNIST, 2 epochs
    except FileNotFoundError:
        monkeypatch.setenv("CHAINRULE_DATA", str(_mnist_stand_in(tmp_path)))
        floor = 0.8                                               # the stand-in digits
    notebook = run_notebook("mnist_keras.ipynb", tmp_path)
    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    assert "Total params: 101,770" in outputs(notebook, code[1], "text/html")  # 784*128+128+1290
    evaluated = outputs(notebook, code[3])
    accuracy = float(evaluated.split("test accuracy: ")[1].split("%")[0]) / 100
    assert accuracy > floor, evaluated
    for cell in code[4:6]:                           # plot_history, image_grid: one picture each
        pictures = [o for o in notebook.cells[cell].outputs if "image/png" in o.get("data", {})]
        assert len(pictures) == 1, notebook.cells[cell].source


@pytest.mark.slow
def test_ship_or_frog_notebook_runs(tmp_path, offline, monkeypatch):
    from chainrule.datasets import cifar10
    place = os.environ.get("CHAINRULE_DATA") or str(SHARED_DATA)
    try:
        cifar10.load_data(place, download=False)
    except FileNotFoundError as e:
        pytest.skip(f"CIFAR-10 not found: {e}")
    monkeypatch.setenv("CHAINRULE_DATA", place)
    notebook = run_notebook("ship_or_frog.ipynb", tmp_path)
    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    trained = outputs(notebook, code[1])
    assert float(trained.split("test accuracy: ")[1].split("%")[0]) > 70
    attacked = outputs(notebook, code[2])
    assert "ships now say frog" in attacked and "P(ship)" in attacked
    robustness = outputs(notebook, code[-1])
    assert "'clean'" in robustness and "'fgsm'" in robustness and "'pgd'" in robustness


def _unigram_entropy(ids):
    """Nats per character of the best guess that ignores context: the
    characters' own frequencies."""
    p = np.bincount(ids) / len(ids)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


@pytest.mark.slow
def test_gpt_notebook_runs_learns_and_writes(tmp_path, offline, monkeypatch):
    from chainrule.datasets import shakespeare
    place = os.environ.get("CHAINRULE_DATA") or str(SHARED_DATA)
    try:
        text = shakespeare.load_data(place, download=False)
    except FileNotFoundError as e:
        pytest.skip(f"Tiny Shakespeare not found: {e}")
    monkeypatch.setenv("CHAINRULE_DATA", place)
    notebook = run_notebook("gpt.ipynb", tmp_path)
    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    printed = {i: outputs(notebook, i) for i in code}
    vocabulary, ids = shakespeare.encode(text)
    _, validation = shakespeare.split(ids)

    untrained = next(t for t in printed.values() if "loss before training" in t)
    before = float(untrained.split("loss before training: ")[1].split(" ")[0])
    assert abs(before - np.log(len(vocabulary))) < 0.1, untrained    # small weights: ~uniform

    causal = next(t for t in printed.values() if "positions 0..10 unchanged" in t)
    assert "unchanged: True" in causal and "changed: True" in causal.split("\n")[1]

    trained = next(t for t in printed.values() if "over the whole held-out text" in t)
    after = float(trained.split("held-out text: ")[1].split(" ")[0])
    # it has learned more than how often each character occurs
    assert after < _unigram_entropy(validation) < before, trained

    curve = next(i for i in code if "plt.subplots" in notebook.cells[i].source)
    pictures = [o for o in notebook.cells[curve].outputs if "image/png" in o.get("data", {})]
    assert len(pictures) == 1

    assert printed[code[-1]].endswith("\n")
    written = printed[code[-1]][:-1]                     # print's newline
    assert written.startswith("ROMEO:") and len(written) == len("ROMEO:") + 300
    assert set(written) <= set(vocabulary)
