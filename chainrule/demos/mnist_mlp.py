"""``chainrule demo mnist-mlp``: Keras' classic 784-512-512-10 perceptron on MNIST.

Adam, batches of 128, two epochs: the first at learning rate 1e-3, the second
at 3e-4 (a ``LearningRateScheduler`` step decay, which takes the step noise out
of the final weights). About 97.6-97.9% test accuracy.
"""
import os

NAME = "mnist-mlp"
SUMMARY = "Keras' 784-512-512-10 MLP learns MNIST in two epochs (~97.7% test accuracy)"
DATA = "MNIST: mnist.npz in Keras' layout (11 MB)"

EPOCHS, BATCH_SIZE = 2, 128
QUICK_TRAIN, QUICK_TEST = 1000, 200          # the first images, for --quick


def build_model():
    """The classic MLP, compiled: Dense 512 relu, Dense 512 relu, Dense 10 softmax."""
    import chainrule as cr
    from chainrule import layers
    model = cr.Sequential([
        cr.Input((784,)),
        layers.Dense(512, activation="relu"),
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def schedule(epoch, lr):
    """Learning rate per epoch: 1e-3, then 3e-4."""
    return 1e-3 if epoch == 0 else 3e-4


def load(data_path=None, quick=False, flat=True, quick_sizes=(QUICK_TRAIN, QUICK_TEST)):
    """MNIST as float32 in [0, 1]: (N, 784) when ``flat``, else (N, 28, 28, 1).

    ``quick`` keeps only the first ``quick_sizes`` (train, test) images.
    """
    import numpy as np

    from chainrule.datasets import mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data(data_path)
    if quick:
        n_train, n_test = quick_sizes
        x_train, y_train = x_train[:n_train], y_train[:n_train]
        x_test, y_test = x_test[:n_test], y_test[:n_test]
    shape = (-1, 784) if flat else (-1, 28, 28, 1)
    x_train = x_train.reshape(shape).astype(np.float32) / 255
    x_test = x_test.reshape(shape).astype(np.float32) / 255
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))


def train_and_report(name, model, data, epochs, batch_size, out_dir, callbacks=(), quick=False):
    """Fit, evaluate, print the numbers a learner reads, save the PNG; the demo's result."""
    import time

    from .digits_mlp import save_training_figure
    (x_train, y_train), (x_test, y_test) = data
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images of 28x28 pixels"
          + (" (--quick: a small part)" if quick else ""))
    model.summary()
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=1,
                        callbacks=list(callbacks))
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=500)
    y_pred = model.predict(x_test, batch_size=500).argmax(axis=1)
    print(f"trained {epochs} epoch(s) in {seconds:.1f}s; test loss {test_loss:.4f}")
    print(f"final test accuracy: {test_accuracy:.4f} "
          f"({int((y_pred == y_test).sum())} of {len(y_test)} test digits right)")
    pngs = save_training_figure(history, x_test.reshape(-1, 28, 28), y_test, y_pred,
                                os.path.join(out_dir, f"{name}.png"))
    return {"test_accuracy": float(test_accuracy), "test_loss": float(test_loss),
            "final_loss": float(history.history["loss"][-1]), "seconds": seconds,
            "pngs": pngs}


def run(quick=False, seed=0, out_dir=".", data_path=None):
    """Train the MLP on MNIST (``quick``: 1000 images, one epoch) and report.

    Returns ``{"test_accuracy", "test_loss", "final_loss", "seconds", "pngs"}``.
    """
    import chainrule as cr
    data = load(data_path, quick=quick, flat=True)     # DatasetNotFoundError if missing
    cr.set_seed(seed)
    model = build_model()
    decay = cr.callbacks.LearningRateScheduler(schedule)
    return train_and_report("mnist_mlp", model, data, epochs=1 if quick else EPOCHS,
                            batch_size=BATCH_SIZE, out_dir=out_dir, callbacks=[decay],
                            quick=quick)
