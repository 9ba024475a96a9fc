"""``chainrule demo``: a Keras-style MLP learns the 8x8 handwritten digits that ship
inside the package.

The whole run reads like a Keras script::

    model = cr.Sequential([cr.Input((64,)),
                           layers.Dense(64, activation="relu"),
                           layers.Dense(10, activation="softmax")])
    model.compile(optimizer=Adam(0.003), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=30, validation_data=(x_test, y_test))

and under it, every step is chainrule's own: the forward pass records a
graph, the loss's ``backward`` fills each weight's ``.grad``, Adam updates.
"""
import os
import time

from ._plotting import pyplot

NAME = "digits"
SUMMARY = "a Keras-style MLP learns the bundled 8x8 digits (progress bar, accuracy, a plot)"
DATA = None

EPOCHS, QUICK_EPOCHS = 30, 3


def _split(x, y, test_fraction, rng):
    """A shuffled train/test split (the same for a given seed)."""
    order = rng.permutation(len(x))
    n_test = round(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def build_model(learning_rate=0.003):
    """64 pixels -> 64 ReLU units -> 10 class probabilities."""
    import chainrule as cr
    from chainrule import layers
    model = cr.Sequential([
        cr.Input((64,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=cr.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def examples_to_show(y_true, y_pred, count=40):
    """Indices of the first test images, with up to 8 later mistakes appended."""
    import numpy as np
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    shown = list(range(min(count - 8, len(y_true))))
    wrong = [int(i) for i in np.flatnonzero(y_true != y_pred) if i >= len(shown)]
    return shown + wrong[:8]


def save_training_figure(history, images, labels, predictions, path, cmap="gray_r",
                         class_names=None):
    """One PNG: the loss curve on the left, test images with predictions on the right.

    Shared by the digits and MNIST demos. Returns ``[path]``, or ``[]`` (with a
    note) when matplotlib is not installed.
    """
    plt = pyplot()
    if plt is None:
        return []
    from chainrule import viz
    show = examples_to_show(labels, predictions)
    fig = plt.figure(figsize=(13, 5.2))
    left, right = fig.subfigures(1, 2, width_ratios=[1, 1.25])
    viz.plot_history(history, ax=left.subplots())
    left.suptitle("loss and accuracy per epoch")
    viz.image_grid(images[show], labels=labels[show], predictions=predictions[show], ncols=8,
                   fig=right, cmap=cmap, class_names=class_names)
    right.suptitle("test images: prediction (true label when wrong, in red)")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"saved the loss curve and test predictions to {path}")
    return [path]


def run(quick=False, seed=0, out_dir=".", data_path=None):
    """Train, evaluate and plot; returns ``{"test_accuracy", "final_loss", "seconds", "pngs"}``.

    ``data_path`` is unused: the digits ship inside the package.
    """
    import numpy as np

    import chainrule as cr
    from chainrule.datasets import load_digits

    cr.set_seed(seed)
    rng = np.random.default_rng(seed)
    x, y = load_digits()
    x = (x / 16.0).astype(np.float32)            # pixels 0..16 -> 0..1
    x_train, y_train, x_test, y_test = _split(x, y, 0.2, rng)
    epochs = QUICK_EPOCHS if quick else EPOCHS
    print(f"digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels, "
          f"10 classes")
    print(f"model: 64 -> Dense 64 (relu) -> Dense 10 (softmax); Adam, lr 0.003, "
          f"batches of 32, {epochs} epochs")

    model = build_model()
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=1,
                        validation_data=(x_test, y_test))
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=len(x_test))
    y_pred = model.predict(x_test, batch_size=len(x_test)).argmax(axis=1)
    n_wrong = int((y_pred != y_test).sum())
    print(f"trained in {seconds:.1f}s; test loss {test_loss:.4f}")
    print(f"final test accuracy: {test_accuracy:.3f} ({len(y_test) - n_wrong} of "
          f"{len(y_test)} test digits right)")
    pngs = save_training_figure(history, x_test.reshape(-1, 8, 8), y_test, y_pred,
                                os.path.join(out_dir, "digits_mlp.png"))
    return {"test_accuracy": float(test_accuracy), "test_loss": float(test_loss),
            "final_loss": float(history.history["loss"][-1]), "seconds": seconds,
            "pngs": pngs}
