"""Write the notebooks of this folder from the cells below (and the tour from
``docs/tour.md``), so they are reviewed as code and never drift from the docs.

    python notebooks/make_notebooks.py          # rewrites notebooks/*.ipynb, without outputs

``tests/test_notebooks.py`` checks the committed notebooks are what this
script writes, and runs each of them top to bottom in a real Jupyter kernel.
"""
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def md(text):
    return ("markdown", text.strip("\n"))


def code(text):
    return ("code", text.strip("\n"))


def tour_cells():
    """docs/tour.md as cells: its prose as Markdown, each ```python block as code."""
    text = (ROOT / "docs" / "tour.md").read_text(encoding="utf-8")
    text = re.sub(r"\]\((architecture)\.md", r"](../docs/\1.md", text)
    cells = []
    for i, part in enumerate(re.split(r"^```python\n(.*?)^```\n", text, flags=re.S | re.M)):
        if part.strip():
            cells.append(code(part) if i % 2 else md(part))
    return cells


BACKPROP = [
    md("""
# Backpropagation by hand, then by chainrule: J = 3(a·b + c)

The computation graph of J = 3(a·b + c), for a = 2, b = 3, c = 4:

```
a ─┐
   ├─ u = a·b ─┐
b ─┘           ├─ v = u + c ── J = 3v
c ─────────────┘
```

Forward: u = 6, v = 10, J = 30. Backward, by the chain rule, from J to each input:
dJ/dv = 3, dJ/du = dJ/dv · ∂v/∂u = 3, dJ/dc = dJ/dv · ∂v/∂c = 3,
dJ/da = dJ/du · ∂u/∂a = 3b = 9, dJ/db = dJ/du · ∂u/∂b = 3a = 6.
"""),
    code("""
import chainrule as cr
from chainrule import viz

a = cr.tensor(2.0, dtype="float64", requires_grad=True)
b = cr.tensor(3.0, dtype="float64", requires_grad=True)
c = cr.tensor(4.0, dtype="float64", requires_grad=True)
u = a * b
v = u + c
J = 3 * v
J
"""),
    md("""
`cr.explain` prints each step of that backward pass from chainrule's own recorded
graph: the local derivative of every op, then the chain-rule product.
"""),
    code("""
grads = cr.explain(J, names={"a": a, "b": b, "c": c, "u": u, "v": v, "J": J})
grads
"""),
    md("""
`J.backward()` walks the same graph with the same derivatives and fills `.grad`
(`retain_graph=True` keeps the graph so we can draw it with its gradients).
"""),
    code("""
J.backward(retain_graph=True)
a.grad, b.grad, c.grad
"""),
    md("""
The graph itself: boxes are tensors (value and gradient), ellipses the ops. With
Graphviz installed (`apt install graphviz`, `brew install graphviz`) it is drawn;
without it, the notebook shows the same nodes as a table. `str(graph)` is the DOT text.
"""),
    code("""
for tensor, name in [(a, "a"), (b, "b"), (c, "c"), (u, "u"), (v, "v"), (J, "J")]:
    tensor.name = name                      # the names the drawing shows
graph = viz.draw_graph(J)
graph
"""),
    md("""
The same gradients as a function transformation (JAX's `grad`), and a tensor's
own view: its shape, dtype, whether a gradient flows, and its values.
"""),
    code("""
dJ = cr.grad(lambda a, b, c: 3 * (a * b + c), argnums=(0, 1, 2))
[float(g) for g in dJ(2.0, 3.0, 4.0)]
"""),
    code("""
a
"""),
    md("""
## One sigmoid neuron

z = w·x + b, φ = σ(z), L = -(y·log φ + (1 - y)·log(1 - φ)). By hand:
dL/dφ = (φ - y) / (φ(1 - φ)) and dφ/dz = φ(1 - φ), so dL/dz = φ - y and
dL/dw = (φ - y)·x. chainrule agrees:
"""),
    code("""
x, y = cr.tensor(1.5, dtype="float64"), cr.tensor(1.0, dtype="float64")
w = cr.tensor(0.8, dtype="float64", requires_grad=True)
bias = cr.tensor(-0.3, dtype="float64", requires_grad=True)
phi = cr.sigmoid(w * x + bias)
L = -(y * cr.log(phi) + (1 - y) * cr.log(1 - phi))
L.backward()
print(f"phi = {float(phi):.4f}")
print(f"by hand: dL/dw = (phi - y)·x = {float((phi - y) * x):.6f}, dL/db = phi - y = {float(phi - y):.6f}")
print(f"backward: w.grad = {float(w.grad):.6f}, b.grad = {float(bias.grad):.6f}")
"""),
]


MNIST = [
    md("""
# A Keras-style model on MNIST

The script you would write with Keras 3, on chainrule: a multilayer perceptron
on a subset of MNIST (20,000 training images, 2 epochs: well under a minute on a laptop).
`mnist.load_data()` reads Keras' `mnist.npz` from `$CHAINRULE_DATA` or
`~/.chainrule/datasets`, or downloads it (11 MB) the first time.
"""),
    code("""
import numpy as np
import chainrule as cr
from chainrule import layers, viz
from chainrule.datasets import mnist

cr.set_seed(0)
(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train = x_train[:20000].reshape(-1, 784).astype("float32") / 255
y_train = y_train[:20000]
x_test = x_test[:2000].reshape(-1, 784).astype("float32") / 255
y_test = y_test[:2000]
x_train.shape, x_test.shape
"""),
    md("""
The model, as in Keras: a `Sequential` stack, compiled with an optimizer, a loss
and metrics. A model shows its `summary()` table as its notebook view.
"""),
    code("""
model = cr.Sequential([
    cr.Input((784,)),
    layers.Dense(128, activation="relu"),
    layers.Dropout(0.2),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model
"""),
    md("""
`fit` shows Keras' progress bar; in a notebook it is redrawn in place, one line per epoch.
"""),
    code("""
history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.1)
"""),
    code("""
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: {accuracy:.1%}")
"""),
    code("""
viz.plot_history(history)
"""),
    md("""
A few test digits with the model's answers (mistakes in red):
"""),
    code("""
predictions = model.predict(x_test[:24], verbose=0).argmax(axis=1)
viz.image_grid(x_test[:24].reshape(-1, 28, 28), labels=y_test[:24], predictions=predictions)
"""),
]


SHIP_OR_FROG = [
    md("""
# Ship or frog: a CNN, fooled by FGSM

A small CNN learns to tell CIFAR-10 ships from frogs; then the fast gradient sign
method (FGSM) changes every pixel value by at most 8/255 in the direction that
raises the loss, and the model changes its mind. This is `chainrule demo
ship-or-frog --quick` step by step: 300 training images, one epoch (under a minute).

It needs CIFAR-10: `cifar10_partial.npz` or the official python batches, in
`$CHAINRULE_DATA` or `~/.chainrule/datasets` (or downloaded, 163 MiB).
"""),
    code("""
import numpy as np
import chainrule as cr
from chainrule import attacks, viz
from chainrule.demos import ship_or_frog as demo

cr.set_seed(0)
(x_train, y_train), (x_test, y_test) = demo.load(quick=True)
print(f"{len(x_train)} training images ({y_train.sum()} ships), {len(x_test)} test images")
viz.image_grid(x_train[:16], labels=y_train[:16], class_names=["frog", "ship"])
"""),
    md("""
The network standardizes each colour channel, then Conv 16 (3x3, relu), flatten and
one logit for "ship". The attacks work on the pixels in [0, 1], before that step.
"""),
    code("""
model = demo.build_model(x_train)
history = model.fit(x_train, y_train, epochs=1, batch_size=demo.BATCH_SIZE)
p_test = demo.p_ship(model, x_test)
print(f"test accuracy: {np.mean((p_test > 0.5) == y_test):.1%}")
"""),
    md("""
FGSM: x_adv = clip(x + eps · sign(∇x loss), 0, 1), with eps = 8/255. On the test
ships, how many does the model now call frogs?
"""),
    code("""
ships = np.flatnonzero(y_test == 1)
ships_adv = attacks.fgsm(model, x_test[ships], y_test[ships], demo.EPS)
p_after = demo.p_ship(model, ships_adv)
fooled = (p_test[ships] > 0.5) & (p_after < 0.5)
print(f"{fooled.sum()} of {len(ships)} ships now say frog")
surest = ships[np.argmax(np.where(fooled, p_test[ships], -1))]
pick = np.flatnonzero(ships == surest)[0]
print(f"test image {surest}: P(ship) {p_test[surest]:.3f} -> {p_after[pick]:.3f}")
"""),
    md("""
The original, the perturbation (amplified so it can be seen; grey is unchanged)
and the adversarial image, which looks the same to us:
"""),
    code("""
delta = ships_adv[pick] - x_test[surest]
amplified = 0.5 + 0.5 * delta / (np.abs(delta).max() or 1.0)
viz.image_grid(np.stack([x_test[surest], amplified, ships_adv[pick]]),
               labels=["original", "perturbation", "adversarial"], ncols=3)
"""),
    md("""
Accuracy on the test images, clean and under attack (FGSM, and PGD: ten smaller steps):
"""),
    code("""
demo.robustness(model, x_test, y_test)
"""),
]


NOTEBOOKS = {
    "tour.ipynb": tour_cells,
    "backprop.ipynb": lambda: BACKPROP,
    "mnist_keras.ipynb": lambda: MNIST,
    "ship_or_frog.ipynb": lambda: SHIP_OR_FROG,
}


def notebook(cells):
    """An nbformat 4 notebook (cell ids numbered, so the file is the same every time)."""
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                  "name": "python3"},
                   "language_info": {"name": "python"}}
    for i, (kind, source) in enumerate(cells):
        cell = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(
            source)
        cell.id = f"cell-{i}"
        nb.cells.append(cell)
    return nb


def render(name):
    """The text of notebook ``name`` as this script writes it."""
    import nbformat
    return nbformat.writes(notebook(NOTEBOOKS[name]()), version=4) + "\n"


def main():
    for name in NOTEBOOKS:
        (HERE / name).write_text(render(name), encoding="utf-8")
        print(f"wrote notebooks/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
