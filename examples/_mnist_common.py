"""Shared by the MNIST examples: find the data, time the epochs."""
import argparse
import os
import time

import chainrule as cr
from chainrule.datasets import mnist

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(REPO, "..", "shared", "data")


def parse_args(description, epochs=2, batch_size=128):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", help="mnist.npz or its folder (default: $CHAINRULE_DATA, "
                        "then ../shared/data next to the repository, then ~/.chainrule/datasets)")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    return parser.parse_args()


def load(path):
    if path is None and not os.environ.get("CHAINRULE_DATA") and os.path.isdir(SHARED_DATA):
        path = SHARED_DATA
    return mnist.load_data(path)


class EpochTimer(cr.callbacks.Callback):
    """Seconds per epoch (wall clock)."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
