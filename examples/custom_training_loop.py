"""A custom training loop in the style of the TensorFlow guides.

A small two-layer network learns y = sin(3x) + noise with plain weight
tensors, ``cr.GradientTape``, ``tape.gradient`` and
``optimizer.apply_gradients(zip(grads, variables))``.

    python examples/custom_training_loop.py [--quick]
"""
import argparse

import numpy as np

import chainrule as cr


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 1)).astype(np.float32)
    y = (np.sin(3 * x) + 0.05 * rng.normal(size=(n, 1))).astype(np.float32)
    return x, y


def main(quick=False, seed=0, verbose=True):
    """Train and return the list of per-epoch mean losses."""
    epochs, hidden, batch_size = (5, 16, 32) if quick else (60, 32, 32)
    x_train, y_train = make_data(256 if quick else 1024, seed)
    rng = np.random.default_rng(seed)

    # The model's variables: plain tensors that require gradients.
    w1 = cr.tensor(rng.normal(0, 1.0, size=(1, hidden)).astype(np.float32), requires_grad=True)
    b1 = cr.zeros(hidden, requires_grad=True)
    w2 = cr.tensor(rng.normal(0, 1 / np.sqrt(hidden), size=(hidden, 1)).astype(np.float32),
                   requires_grad=True)
    b2 = cr.zeros(1, requires_grad=True)
    variables = [w1, b1, w2, b2]

    def model(x):
        return cr.tanh(x @ w1 + b1) @ w2 + b2

    optimizer = cr.optimizers.Adam(learning_rate=0.02)

    history = []
    for epoch in range(epochs):
        order = rng.permutation(len(x_train))
        losses = []
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            x_batch, y_batch = cr.tensor(x_train[idx]), cr.tensor(y_train[idx])
            with cr.GradientTape() as tape:
                loss = cr.mean((model(x_batch) - y_batch) ** 2)
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables))
            losses.append(float(loss))
        history.append(float(np.mean(losses)))
        if verbose:
            print(f"epoch {epoch + 1:3d}  loss {history[-1]:.4f}  (step {optimizer.iterations})")
    return history


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few epochs only")
    main(quick=parser.parse_args().quick)
