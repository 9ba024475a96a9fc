"""Reference numbers for sample_weight and class_weight in fit/evaluate (issue 16):
what real Keras 3 trains to, in a deterministic setup (known initial
weights, SGD, no shuffling, a last batch smaller than the others).

Run with keras==3.15.1, KERAS_BACKEND=torch, torch==2.13.0:

    KERAS_BACKEND=torch python tests/keras_refs/gen_sample_weight.py

Writes tests/keras_refs/sample_weight.npz: the data (``x``, ``y``,
``y_reg``, ``sw``, ``val_sw``), the initial weights ``init/<i>`` and
``init_reg/<i>``, and for each case ``<case>/history/<key>`` (one value per
epoch), ``<case>/weights/<i>`` (after training) and ``<case>/evaluate/<key>``.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

assert keras.__version__ == "3.15.1", keras.__version__
assert keras.backend.backend() == "torch"

rng = np.random.default_rng(1616)
N, EPOCHS, BATCH = 30, 3, 8          # batches of 8, 8, 8 and 6
x = rng.normal(size=(N, 4)).astype("float32")
y = rng.integers(0, 3, N).astype("int64")
y_reg = (x @ np.array([[0.5], [-1.0], [0.25], [2.0]], "float32") + 0.1).astype("float32")
sw = rng.uniform(0.0, 2.0, N).astype("float32")
sw[[3, 11, 20]] = 0.0
val_sw = rng.uniform(0.5, 1.5, N).astype("float32")
CLASS_WEIGHT = {0: 1.0, 1: 2.5, 2: 0.5}


def classifier():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"),
                              keras.layers.Dense(3, activation="softmax")])
    return model


def regressor():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])


init = [rng.normal(0, 0.5, w.shape).astype("float32") for w in classifier().get_weights()]
init_reg = [rng.normal(0, 0.5, w.shape).astype("float32") for w in regressor().get_weights()]
out = {"x": x, "y": y, "y_reg": y_reg, "sw": sw, "val_sw": val_sw}
out.update({f"init/{i}": w for i, w in enumerate(init)})
out.update({f"init_reg/{i}": w for i, w in enumerate(init_reg)})


def record(case, model, history, evaluation):
    for key, values in history.history.items():
        out[f"{case}/history/{key}"] = np.array(values, dtype="float64")
    for i, w in enumerate(model.get_weights()):
        out[f"{case}/weights/{i}"] = w
    for key, value in evaluation.items():
        out[f"{case}/evaluate/{key}"] = np.array(value, dtype="float64")


# 1. sample_weight with a classifier; accuracy both plain and weighted.
model = classifier()
model.set_weights(init)
model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
              metrics=["accuracy"], weighted_metrics=["accuracy"])
history = model.fit(x, y, sample_weight=sw, batch_size=BATCH, epochs=EPOCHS, shuffle=False,
                    verbose=0, validation_data=(x, y, val_sw))
record("sample_weight", model, history,
       model.evaluate(x, y, sample_weight=val_sw, batch_size=BATCH, verbose=0,
                      return_dict=True))

# 2. class_weight with the same classifier.
model = classifier()
model.set_weights(init)
model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x, y, class_weight=CLASS_WEIGHT, batch_size=BATCH, epochs=EPOCHS,
                    shuffle=False, verbose=0)
record("class_weight", model, history,
       model.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True))

# 3. sample_weight with mean squared error on a (N, 1) output, weights as (N, 1).
model = regressor()
model.set_weights(init_reg)
model.compile(keras.optimizers.SGD(0.05), "mse", metrics=["mae"], weighted_metrics=["mae"])
history = model.fit(x, y_reg, sample_weight=sw[:, None], batch_size=BATCH, epochs=EPOCHS,
                    shuffle=False, verbose=0)
record("regression", model, history,
       model.evaluate(x, y_reg, sample_weight=sw, batch_size=BATCH, verbose=0,
                      return_dict=True))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample_weight.npz")
np.savez(path, **out)
print("wrote", path, "with", len(out), "arrays:",
      sorted(k for k in out if "/history/" in k or "/evaluate/" in k))
