"""The default demo (`chainrule demo`) as a script you can read and change.

    python examples/digits.py

A Keras-style multilayer perceptron learns the 8x8 handwritten digits that
ship inside chainrule: about 98% test accuracy in a few seconds.
"""
import numpy as np

import chainrule as cr
from chainrule import layers
from chainrule.datasets import load_digits

cr.set_seed(0)
x, y = load_digits()                               # (1797, 64) pixels 0..16, labels 0..9
x = (x / 16.0).astype(np.float32)                  # scale to 0..1
order = np.random.default_rng(0).permutation(len(x))
test, train = order[:360], order[360:]             # hold out 20% to test on

model = cr.Sequential([
    cr.Input((64,)),
    layers.Dense(64, activation="relu"),           # relu(x @ W1 + b1)
    layers.Dense(10, activation="softmax"),        # softmax(h @ W2 + b2): 10 probabilities
])
model.compile(optimizer=cr.optimizers.Adam(learning_rate=0.003),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()

history = model.fit(x[train], y[train], batch_size=32, epochs=30,
                    validation_data=(x[test], y[test]))
loss, accuracy = model.evaluate(x[test], y[test])
print(f"test accuracy: {accuracy:.3f}")

predictions = model.predict(x[test]).argmax(axis=1)
wrong = np.flatnonzero(predictions != y[test])
print(f"{len(wrong)} mistakes; the first ones (predicted, true):",
      [(int(predictions[i]), int(y[test][i])) for i in wrong[:5]])

try:                                               # the plots need matplotlib (chainrule[viz])
    from chainrule import viz
    viz.plot_history(history).savefig("digits_history.png")
    viz.image_grid(x[test][wrong].reshape(-1, 8, 8), labels=y[test][wrong],
                   predictions=predictions[wrong], cmap="gray_r").savefig("digits_mistakes.png")
    print("saved digits_history.png and digits_mistakes.png")
except ImportError:
    print("(install chainrule[viz] to save the plots)")
