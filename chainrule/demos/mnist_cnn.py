"""``chainrule demo mnist-cnn``: Keras' small convnet on MNIST.

Conv 32 (3x3, relu), max-pool 2, Conv 64 (3x3, relu), max-pool 2, flatten,
dropout 0.5, Dense 10 softmax; Adam (1e-3) on batches of 32 (Keras'
default), two epochs: about 98.7% test accuracy.
"""
NAME = "mnist-cnn"
SUMMARY = "Keras' small convnet learns MNIST in two epochs (~98.7% test accuracy)"
DATA = "MNIST: mnist.npz in Keras' layout (11 MB)"

EPOCHS, BATCH_SIZE = 2, 32
QUICK_TRAIN, QUICK_TEST = 256, 100           # convolutions cost more: fewer images for --quick


def build_model():
    """The convnet, compiled (channels-last input (28, 28, 1))."""
    import chainrule as cr
    from chainrule import layers
    model = cr.Sequential([
        cr.Input((28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run(quick=False, seed=0, out_dir=".", data_path=None):
    """Train the convnet on MNIST (``quick``: 256 images, one epoch) and report.

    Returns ``{"test_accuracy", "test_loss", "final_loss", "seconds", "pngs"}``.
    """
    import chainrule as cr

    from .mnist_mlp import load, train_and_report
    data = load(data_path, quick=quick, flat=False, quick_sizes=(QUICK_TRAIN, QUICK_TEST))    # DatasetNotFoundError if missing
    cr.set_seed(seed)
    model = build_model()
    return train_and_report("mnist_cnn", model, data, epochs=1 if quick else EPOCHS,
                            batch_size=BATCH_SIZE, out_dir=out_dir, quick=quick)
