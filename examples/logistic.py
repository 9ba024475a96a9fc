"""Logistic regression with the seeds' gradient: dL/dw = (φ - y)·x.

    python examples/logistic.py

One sigmoid neuron on iris petals (versicolor 0, virginica 1). The gradient
derived by hand is checked against autodiff, then used for gradient descent.
`chainrule demo logistic` also trains it Keras-style and plots the boundary.
"""
import numpy as np

import chainrule as cr
from chainrule.demos.logistic import load_data

X, y = load_data()                        # (100, 2) standardized petals, y in {0, 1}
w, b, lr = np.zeros(2), 0.0, 0.5


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


for step in range(300):
    phi = sigmoid(X @ w + b)
    grad_w, grad_b = X.T @ (phi - y) / len(y), np.mean(phi - y)   # the seeds' formula
    w, b = w - lr * grad_w, b - lr * grad_b

# The same gradient from the engine, with nothing derived by hand:
w_t = cr.tensor(w, requires_grad=True)
b_t = cr.tensor(b, requires_grad=True)
phi_t = cr.sigmoid(cr.tensor(X) @ w_t + b_t)
loss = -cr.mean(cr.tensor(y) * cr.log(phi_t) + (1 - cr.tensor(y)) * cr.log(1 - phi_t))
loss.backward()
phi = sigmoid(X @ w + b)
print(f"hand gradient {X.T @ (phi - y) / len(y)}, autodiff {w_t.grad.numpy()}")
print(f"w = {w}, b = {b:.3f}, loss {loss.item():.4f}, "
      f"accuracy {np.mean((phi > 0.5) == (y == 1)):.2f}")
