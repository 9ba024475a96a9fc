"""The seeds' perceptron: approve a loan from income and debt.

    python examples/perceptron.py

f(x) = sign(w·x + b); visit each applicant, and on a mistake move the line
towards them: w += η·y·x, b += 10⁵·η·y (η = 10⁻⁵). `chainrule demo
perceptron` also plots the lines and trains a rescaled version to 100%.
"""
import numpy as np

from chainrule.datasets import make_income_debt

X, y = make_income_debt(100, seed=0)     # the true rule: 2·income - debt - 30000 > 0
w, b, eta = np.zeros(2), 0.0, 1e-5
for i in range(len(X)):
    if np.sign(X[i] @ w + b) != y[i]:    # a mistake: move the line
        w = w + eta * y[i] * X[i]
        b = b + 1e5 * eta * y[i]
    accuracy = np.mean(np.sign(X @ w + b) == y)
    print(f"iteration {i + 1:3d}: w = ({w[0]:+.3f}, {w[1]:+.3f}), b = {b:+.0f}, "
          f"accuracy {accuracy:.2f}")
print(f"learned line: {w[0]:.3f}·income {w[1]:+.3f}·debt {b:+.0f} = 0 "
      f"(true: 2·income - debt - 30000 = 0)")
