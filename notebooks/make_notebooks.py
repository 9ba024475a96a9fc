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


GPT = [
    md("""
# A character-level GPT learns to write Shakespeare

A GPT is a stack of transformer blocks that reads a sequence of tokens and, at
every position, predicts the next one. Here the tokens are characters and the
text is Tiny Shakespeare (1.1 MB of the plays). `chainrule demo gpt` trains
nanoGPT's CPU model (4 blocks, width 128, 2,000 iterations: a validation loss
near 1.89 nats per character in a few minutes); this notebook builds the same
model smaller (2 blocks, width 64, context 32 characters: about 106,000
parameters) and trains it for 1,000 iterations, step by step, in under a minute.

It needs `tinyshakespeare.txt` in `$CHAINRULE_DATA` or `~/.chainrule/datasets`
(or downloads it, 1.1 MB, the first time).
"""),
    code("""
import inspect

import matplotlib.pyplot as plt
import numpy as np
import chainrule as cr
from chainrule.datasets import shakespeare
from chainrule.demos import gpt

# the demo's --quick model, on the whole text and for longer
config = {**gpt.QUICK, "characters": None, "iterations": 1000, "warmup_steps": 30}
{k: config[k] for k in ("depth", "heads", "width", "context", "batch_size", "iterations")}
"""),
    md("""
## Tokens

A character model's vocabulary is the distinct characters of the text, sorted;
each character becomes its index (`shakespeare.encode`). The last 10% of the
text is held out to measure how well the model predicts text it never trained on.
"""),
    code("""
vocabulary, train_ids, val_ids = gpt.load(characters=config["characters"])
print(f"{len(vocabulary)} distinct characters: {vocabulary!r}")
print(f"{len(train_ids):,} training and {len(val_ids):,} validation characters")
print(train_ids[:16], "=", repr(shakespeare.decode(train_ids[:16], vocabulary)))
"""),
    md("""
A training example is a window of `context` characters; its targets are the
same window shifted by one, so every position is asked for the character that
follows it:
"""),
    code("""
rng = np.random.default_rng(0)
x, y = gpt.random_batch(train_ids, config["batch_size"], config["context"], rng)
print("x", x.shape, repr(shakespeare.decode(x[0], vocabulary)))
print("y", y.shape, repr(shakespeare.decode(y[0], vocabulary)))
"""),
    md("""
## The model

- **Embeddings**: each id picks a learned vector of `width` numbers (the token
  embedding), and each position another (the position embedding); their sum
  is the *residual stream* `x`, one vector per position.
- **Blocks**, each updating the stream twice:
  `x = x + attention(layer_norm(x))`, then `x = x + mlp(layer_norm(x))`, where
  the MLP is Dense(4·width), GELU, Dense(width).
- **Causal self-attention**: every position compares its query with the keys
  of the positions and takes a softmax-weighted mix of their values. The
  causal mask sets the scores of *later* positions to -∞ before the softmax,
  so position t reads only positions 0..t: the model cannot peek at the
  character it must predict.
- **Logits**: a last layer norm, then the product with the token embedding
  transposed (weight tying), one score per character of the vocabulary.

Before training the weights are small (standard deviation 0.02), so the model
guesses nearly uniformly: its loss is close to ln(vocabulary size).
"""),
    code("""
model = gpt.build_model(len(vocabulary), config["depth"], config["heads"], config["width"],
                        config["context"], seed=0)
print(f"{sum(w.size for w in model.trainable_weights):,} parameters")
logits = model(x)
loss = cr.losses.softmax_cross_entropy(logits, y).mean()
print("logits", logits.shape)
print(f"loss before training: {float(loss):.3f} nats per character; "
      f"a uniform guess: ln {len(vocabulary)} = {np.log(len(vocabulary)):.3f}")
"""),
    md("""
The mask at work: change every character after position 10 and the predictions
at positions 0..10 do not move.
"""),
    code("""
changed = x.copy()
changed[:, 11:] = rng.integers(0, len(vocabulary), changed[:, 11:].shape)
before, after = model(x).data, model(changed).data
print("positions 0..10 unchanged:", np.allclose(before[:, :11], after[:, :11]))
print("positions 11.. changed:", not np.allclose(before[:, 11:], after[:, 11:]))
"""),
    md("""
## Training

One step: a random batch, the forward pass, the mean cross-entropy of the next
characters, `backward()`, and an AdamW update. The optimizer is nanoGPT's
(`gpt.make_optimizer`): the learning rate rises over the first steps and then
falls along a cosine, the gradients are clipped to global norm 1, and weight
decay applies to the matrices only.
"""),
    code("""
print(inspect.getsource(gpt.train_step))
"""),
    code("""
optimizer = gpt.make_optimizer(model, config)
eval_rng = np.random.default_rng(1)
losses, val_steps, val_losses = [], [], []
for step in range(1, config["iterations"] + 1):
    x, y = gpt.random_batch(train_ids, config["batch_size"], config["context"], rng)
    losses.append(gpt.train_step(model, optimizer, x, y))
    if step % 100 == 0:                      # an estimate on 64 random validation windows
        vx, vy = gpt.random_batch(val_ids, 64, config["context"], eval_rng)
        val_steps.append(step)
        val_losses.append(gpt.mean_loss(model, vx, vy))
        print(f"step {step:4d}: training batch {losses[-1]:.3f}, validation {val_losses[-1]:.3f}")
vx, vy = gpt.validation_windows(val_ids, config["context"])
val_loss = gpt.mean_loss(model, vx, vy)
print(f"validation loss over the whole held-out text: {val_loss:.3f} nats per character")
"""),
    code("""
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(np.arange(1, len(losses) + 1), losses, lw=0.6, alpha=0.6, label="training batch")
ax.plot(val_steps, val_losses, "o-", label="validation (estimate)")
ax.axhline(np.log(len(vocabulary)), ls=":", color="gray", label="uniform guess")
ax.set_xlabel("iteration")
ax.set_ylabel("cross-entropy (nats per character)")
ax.legend()
plt.show()
"""),
    md("""
## Writing

To write, the model reads a prompt, turns the logits of its last position into
probabilities (softmax, here at temperature 0.8: a little sharper), draws the
next character, appends it and repeats, always reading the last `context`
characters (`gpt.generate`). After a minute of training it has learned line
breaks, short common words and punctuation, not yet grammar; the full demo
(`chainrule demo gpt`) gets much further.
"""),
    code("""
prompt = "ROMEO:"
_, prompt_ids = shakespeare.encode(prompt, vocabulary)
written = gpt.generate(model, prompt_ids, 300, config["context"], np.random.default_rng(0),
                       temperature=0.8)
print(prompt + shakespeare.decode(written, vocabulary))
"""),
]


NOTEBOOKS = {
    "tour.ipynb": tour_cells,
    "backprop.ipynb": lambda: BACKPROP,
    "mnist_keras.ipynb": lambda: MNIST,
    "ship_or_frog.ipynb": lambda: SHIP_OR_FROG,
    "gpt.ipynb": lambda: GPT,
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
