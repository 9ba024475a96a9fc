"""The layers learn: small networks trained with a hand-written SGD loop
(no Model/fit, so only the layers and the engine are exercised)."""
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers
from chainrule.datasets import load_digits


def train(stack, x_train, y_train, epochs, lr, batch_size=32, momentum=0.0, seed=0):
    """Minibatch SGD (with momentum) on softmax cross-entropy; returns the forward function."""
    def forward(x, training=False):
        for layer in stack:
            x = layer(x, training=training)
        return x
    forward(x_train[:2])                                     # build
    params = [w for layer in stack for w in layer.trainable_weights]
    velocity = [np.zeros_like(w.data) for w in params]
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        for start in range(0, len(x_train), batch_size):
            batch = order[start:start + batch_size]
            logits = forward(x_train[batch], training=True)
            loss = -cr.log_softmax(logits)[np.arange(len(batch)), y_train[batch]].mean()
            for w in params:
                w.grad = None
            loss.backward()
            with cr.no_grad():
                for w, v in zip(params, velocity):
                    v *= momentum
                    v -= lr * w.grad.data
                    w += v
    return forward


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    X = (X / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    return X[:1400], y[:1400], X[1400:], y[1400:]


def accuracy(forward, x, y):
    return float((forward(x).numpy().argmax(1) == y).mean())


def test_small_convnet_learns_digits(digits):
    x_train, y_train, x_test, y_test = digits
    stack = [layers.Conv2D(8, 3, padding="same", activation="relu"),
             layers.BatchNormalization(), layers.MaxPooling2D(), layers.Flatten(),
             layers.Dropout(0.2), layers.Dense(10)]
    forward = train(stack, x_train.reshape(-1, 8, 8, 1), y_train, epochs=3, lr=0.1)
    assert accuracy(forward, x_test.reshape(-1, 8, 8, 1), y_test) > 0.85


@pytest.mark.parametrize("rnn, lr", [(layers.SimpleRNN, 0.1), (layers.LSTM, 0.5),
                                     (layers.GRU, 0.5)])
def test_recurrent_layers_learn_digits_row_by_row(digits, rnn, lr):
    # Each image read as a sequence of its 8 rows of 8 pixels.
    x_train, y_train, x_test, y_test = digits
    forward = train([rnn(32), layers.Dense(10)], x_train.reshape(-1, 8, 8), y_train,
                    epochs=5, lr=lr)
    assert accuracy(forward, x_test.reshape(-1, 8, 8), y_test) > 0.8


def test_embedding_bag_of_words_learns():
    # Label = whether token 1 appears in the sequence: Embedding + average pooling finds it.
    rng = np.random.default_rng(0)
    ids = rng.integers(2, 20, size=(600, 6))
    y = rng.integers(0, 2, size=600)
    ids[y == 1, rng.integers(0, 6, size=int(y.sum()))] = 1
    stack = [layers.Embedding(20, 8), layers.GlobalAveragePooling1D(), layers.Dense(2)]
    forward = train(stack, ids[:500], y[:500], epochs=10, lr=0.5)
    assert accuracy(forward, ids[500:], y[500:]) > 0.9


MNIST = "/work/shared/data/mnist.npz"


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(MNIST), reason="mnist.npz not available")
def test_convnet_on_mnist():
    with np.load(MNIST) as data:
        x_train, y_train = data["x_train"][:10000], data["y_train"][:10000]
        x_test, y_test = data["x_test"][:2000], data["y_test"][:2000]
    x_train = (x_train[..., None] / 255.0).astype(np.float32)
    x_test = (x_test[..., None] / 255.0).astype(np.float32)
    stack = [layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(),
             layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
             layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10)]
    forward = train(stack, x_train, y_train, epochs=1, lr=0.02, batch_size=32, momentum=0.9)
    assert accuracy(forward, x_test, y_test) > 0.9          # 0.924 measured
