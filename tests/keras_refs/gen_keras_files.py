"""Make the real Keras 3 model files that tests/test_keras_files.py loads.

Run once with real Keras (keras==3.15.1, torch==2.13.0 CPU):

    KERAS_BACKEND=torch python tests/keras_refs/gen_keras_files.py

For each architecture it writes ``keras_<name>.keras`` (Keras' own
``model.save``, after a few training steps so that the weights, the
BatchNormalization statistics and the optimizer state are not their
initial values) and ``keras_<name>.npz`` holding the inputs (``x`` or
``x0``, ``x1``...) and Keras' predictions on them (``y`` or ``y0``, ``y1``...), plus
``keras_mlp.weights.h5`` from Keras' ``save_weights``.
The files are committed, so the tests need no Keras.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def mlp(rng):
    model = keras.Sequential([
        keras.Input((8,), name="features"),
        layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-4)),
        layers.Dense(12, activation="tanh"),
        layers.Dense(3, activation="softmax"),
    ], name="mlp")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x = rng.normal(size=(64, 8)).astype("float32")
    y = rng.integers(0, 3, size=64)
    return model, [x], y


def convnet(rng):
    model = keras.Sequential([
        keras.Input((10, 10, 2), name="image"),
        layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(),
        layers.Dropout(0.25),
        layers.Conv2D(6, (2, 3), strides=(1, 2), padding="valid"),
        layers.LeakyReLU(negative_slope=0.1),
        layers.AveragePooling2D(pool_size=2, padding="same"),
        layers.Flatten(),
        layers.Dense(5, activation="softmax"),
    ], name="convnet")
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.normal(size=(48, 10, 10, 2)).astype("float32")
    y = rng.integers(0, 5, size=48)
    return model, [x], y


def lstm_text(rng):
    ids = keras.Input((7,), dtype="int32", name="tokens")
    h = layers.Embedding(30, 8)(ids)
    h = layers.LSTM(6, return_sequences=True)(h)
    h = layers.LSTM(5)(h)
    out = layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(ids, out, name="lstm_text")
    model.compile(optimizer=keras.optimizers.RMSprop(1e-2), loss="binary_crossentropy")
    x = rng.integers(0, 30, size=(40, 7)).astype("int32")
    y = rng.integers(0, 2, size=(40, 1)).astype("float32")
    return model, [x], y


def gru_rnn(rng):
    model = keras.Sequential([
        keras.Input((6, 3), name="sequence"),
        layers.GRU(5, return_sequences=True),
        layers.SimpleRNN(4, return_sequences=True),
        layers.GlobalAveragePooling1D(),
        layers.Dense(2),
    ], name="gru_rnn")
    model.compile(optimizer="adam", loss="mse")
    x = rng.normal(size=(32, 6, 3)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    return model, [x], y


def two_inputs(rng):
    a = keras.Input((4,), name="left")
    b = keras.Input((3,), name="right")
    shared = layers.Dense(6, activation="relu", name="shared")
    ha = shared(layers.Dense(4, name="pre_a")(a))
    hb = shared(layers.Dense(4, name="pre_b")(b))
    merged = layers.Concatenate()([ha, hb])
    summed = layers.Add()([ha, hb])
    h = layers.Concatenate()([merged, summed])
    out_class = layers.Dense(3, activation="softmax", name="label")(h)
    out_value = layers.Dense(1, name="score")(layers.Activation("elu")(summed))
    model = keras.Model([a, b], [out_class, out_value], name="two_inputs")
    model.compile(optimizer=keras.optimizers.Adam(5e-3),
                  loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
    xa = rng.normal(size=(40, 4)).astype("float32")
    xb = rng.normal(size=(40, 3)).astype("float32")
    y = [rng.integers(0, 3, size=40), rng.normal(size=(40, 1)).astype("float32")]
    return model, [xa, xb], y


def nested(rng):
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu"),
                              layers.Dense(3)], name="block")
    head_in = keras.Input((3,), name="head_in")
    head = keras.Model(head_in, layers.Dense(2, name="head_dense")(head_in), name="head")
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    out = head(layers.Add()([inner(a), inner(b)]))       # a shared nested Sequential
    model = keras.Model([a, b], out, name="nested")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    xs = [rng.normal(size=(40, 4)).astype("float32") for _ in range(2)]
    return model, xs, rng.normal(size=(40, 2)).astype("float32")


ARCHITECTURES = {"mlp": mlp, "convnet": convnet, "lstm_text": lstm_text,
                 "gru_rnn": gru_rnn, "two_inputs": two_inputs, "nested": nested}


def main():
    assert keras.__version__ == "3.15.1", keras.__version__
    assert keras.backend.backend() == "torch", keras.backend.backend()
    for index, (name, make) in enumerate(ARCHITECTURES.items()):
        keras.utils.set_random_seed(100 + index)
        rng = np.random.default_rng(200 + index)
        model, xs, y = make(rng)
        train_x = xs if len(xs) > 1 else xs[0]
        model.fit(train_x, y, epochs=2, batch_size=16, verbose=0)
        test_xs = [x[:9] for x in xs]
        pred = model.predict(test_xs if len(xs) > 1 else test_xs[0], verbose=0)
        preds = pred if isinstance(pred, list) else [pred]
        arrays = {}
        for i, x in enumerate(test_xs):
            arrays["x" if len(xs) == 1 else f"x{i}"] = x
        for i, p in enumerate(preds):
            arrays["y" if len(preds) == 1 else f"y{i}"] = np.asarray(p)
        model.save(os.path.join(HERE, f"keras_{name}.keras"))
        if name == "mlp":               # Keras' weights-only file, too
            model.save_weights(os.path.join(HERE, "keras_mlp.weights.h5"))
        if name != "convnet":          # (Dropout draws random masks while training)
            # One more step of training on a fixed batch, after saving: a loader
            # that restored the optimizer state and the compile config takes
            # the same step and then predicts these numbers.
            step_x = [x[9:25] for x in xs]
            step_y = [t[9:25] for t in y] if isinstance(y, list) else y[9:25]
            model.fit(step_x if len(xs) > 1 else step_x[0], step_y, batch_size=16, epochs=1,
                      shuffle=False, verbose=0)
            after = model.predict(test_xs if len(xs) > 1 else test_xs[0], verbose=0)
            for i, p in enumerate(after if isinstance(after, list) else [after]):
                arrays["after_step" if len(preds) == 1 else f"after_step{i}"] = np.asarray(p)
            for i, x in enumerate(step_x):
                arrays["step_x" if len(xs) == 1 else f"step_x{i}"] = x
            for i, t in enumerate(step_y if isinstance(step_y, list) else [step_y]):
                arrays["step_y" if len(preds) == 1 else f"step_y{i}"] = np.asarray(t)
        np.savez(os.path.join(HERE, f"keras_{name}.npz"), **arrays)
        size = os.path.getsize(os.path.join(HERE, f"keras_{name}.keras"))
        print(f"{name}: {size / 1024:.1f} KB", file=sys.stderr)
    lambda_model()
    compile_objects()


def compile_objects():
    """Loss and metrics given as objects (their configs carry arguments such as
    from_logits and ignore_class): the loaded model evaluates to Keras' numbers."""
    keras.utils.set_random_seed(300)
    rng = np.random.default_rng(301)
    model = keras.Sequential([keras.Input((5,), name="x"), layers.Dense(4)], name="objects")
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(), "accuracy"])
    x = rng.normal(size=(20, 5)).astype("float32")
    y = rng.integers(0, 4, size=20)
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)
    model.save(os.path.join(HERE, "keras_compile_objects.keras"))
    results = model.evaluate(x, y, batch_size=20, verbose=0, return_dict=True)
    np.savez(os.path.join(HERE, "keras_compile_objects.npz"), x=x, y=y,
             **{name: np.asarray(value) for name, value in results.items()})


def lambda_model():
    """A model with a Python lambda: loading it must be refused in safe mode."""
    inputs = keras.Input((3,), name="x")
    outputs = layers.Lambda(lambda t: t * 2.0, name="double")(layers.Dense(2)(inputs))
    model = keras.Model(inputs, outputs, name="with_lambda")
    model.save(os.path.join(HERE, "keras_lambda.keras"))


if __name__ == "__main__":
    main()
