"""Train a small network on the bundled digits using only the engine.

Everything a framework hides is written out: the forward pass, the loss,
``loss.backward()`` and the gradient-descent update with momentum.
"""
import time

import numpy as np

import chainrule as cr
from chainrule.datasets import load_digits


def _split(x, y, test_fraction, rng):
    order = rng.permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def _init_layer(fan_in, fan_out, rng):
    # Glorot uniform, as Keras' Dense.
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    w = cr.tensor(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32), requires_grad=True)
    b = cr.zeros(fan_out, requires_grad=True)
    return w, b


def forward(params, x):
    (w1, b1), (w2, b2) = params
    hidden = cr.relu(x @ w1 + b1)
    return hidden @ w2 + b2           # logits


def cross_entropy(logits, labels):
    log_probs = cr.log_softmax(logits, axis=-1)
    return -log_probs[np.arange(len(labels)), labels].mean()


def accuracy(params, x, y):
    with cr.no_grad():
        return float((forward(params, cr.tensor(x)).numpy().argmax(axis=1) == y).mean())


def run(quick=False, seed=0, out=print):
    rng = np.random.default_rng(seed)
    x, y = load_digits()
    x = (x / 16.0).astype(np.float32)
    x_train, y_train, x_test, y_test = _split(x, y, 0.2, rng)
    out(f"digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels, 10 classes")
    out("model: 64 -> 64 (relu) -> 10, softmax cross-entropy, SGD with momentum 0.9, lr 0.1")

    params = [_init_layer(64, 64, rng), _init_layer(64, 10, rng)]
    velocity = [np.zeros_like(p.data) for layer in params for p in layer]
    epochs, batch_size, lr, momentum = (3 if quick else 30), 32, 0.1, 0.9
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        losses = []
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = cross_entropy(forward(params, cr.tensor(x_train[idx])), y_train[idx])
            loss.backward()                                   # fills p.grad for every weight
            with cr.no_grad():
                for k, p in enumerate(p for layer in params for p in layer):
                    velocity[k] = momentum * velocity[k] - lr * p.grad.numpy()
                    p += velocity[k]
                    p.grad = None
            losses.append(loss.item())
        if epoch == 1 or epoch % 5 == 0 or epoch == epochs:
            out(f"epoch {epoch:3d}/{epochs}  loss {np.mean(losses):.4f}  "
                f"test accuracy {accuracy(params, x_test, y_test):.3f}  "
                f"({time.perf_counter() - start:.1f}s)")
    acc = accuracy(params, x_test, y_test)
    out(f"final test accuracy: {acc:.3f}")
    return {"test_accuracy": acc, "final_loss": float(np.mean(losses))}
