"""Keras 3's answers for tests/test_freezing.py (issue 22: recursive ``trainable``).

Run once with real Keras (keras==3.15.1, torch==2.13.0 CPU):

    KERAS_BACKEND=torch python tests/keras_refs/gen_freezing.py

A base model (Dense, BatchNormalization, Dense) sits inside a functional
model with a Dense head, as in the Keras guide "Transfer learning &
fine-tuning". Three stages, each recorded:

1. ``model.trainable = False`` (frozen through the outer model);
2. then ``head.trainable = True`` (one layer unfrozen, the outer model still frozen);
3. ``model.trainable = True; base.trainable = False`` then one base layer
   unfrozen, compiled with SGD(0.1) and mean squared error, one
   ``train_on_batch`` step.

For each stage it writes the ``trainable`` flag of every layer and the
trainable / non-trainable weight lists (as ``layer/weight`` names) of the
model, the base and each layer; for stage 3 the weights before and after
the step and the step's loss. Written to ``freezing.npz``.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def build():
    base = keras.Sequential([
        keras.Input((4,)),
        layers.Dense(5, activation="relu", name="b_dense1"),
        layers.BatchNormalization(name="b_bn"),
        layers.Dense(3, activation="tanh", name="b_dense2"),
    ], name="base")
    inputs = keras.Input((4,))
    outputs = layers.Dense(1, name="head")(base(inputs))
    return keras.Model(inputs, outputs, name="outer"), base


def weight_names(model, base):
    owner = {}
    for layer in base.layers + [model.get_layer("head")]:
        for w in layer.weights:
            owner[id(w)] = f"{layer.name}/{w.name}"
    return owner


def record(model, base):
    owner = weight_names(model, base)
    named = {"outer": model, "base": base, **{l.name: l for l in base.layers},
             "head": model.get_layer("head")}
    return {
        "trainable": {name: bool(layer.trainable) for name, layer in named.items()},
        "trainable_weights": {name: [owner[id(w)] for w in layer.trainable_weights]
                              for name, layer in named.items()},
        "non_trainable_weights": {name: [owner[id(w)] for w in layer.non_trainable_weights]
                                  for name, layer in named.items()},
    }


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model, base = build()
    # Move the BatchNormalization statistics away from 0/1 so that "unchanged" means something.
    bn = base.get_layer("b_bn")
    bn.moving_mean.assign(rng.normal(size=5).astype("float32"))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=5).astype("float32"))
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    owner = weight_names(model, base)
    order = [owner[id(w)] for w in model.weights]

    stages = []
    model.trainable = False
    stages.append(record(model, base))
    model.get_layer("head").trainable = True
    stages.append(record(model, base))
    model.trainable = True
    base.trainable = False
    base.get_layer("b_dense2").trainable = True
    stages.append(record(model, base))

    before = [w.numpy() for w in model.weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    loss = model.train_on_batch(x, y)
    after = [w.numpy() for w in model.weights]

    arrays = {"x": x, "y": y, "loss": np.float32(loss),
              "stages": np.array(json.dumps(stages)), "order": np.array(order)}
    for i, (b, a) in enumerate(zip(before, after)):
        arrays[f"before_{i}"] = b
        arrays[f"after_{i}"] = a
    np.savez(os.path.join(HERE, "freezing.npz"), **arrays)
    print(json.dumps(stages, indent=1))
    print("order", order, "loss", loss)


if __name__ == "__main__":
    main()
