"""The two update rules the MLP estimators need, used until
``chainrule.optimizers`` provides ``SGD`` and ``Adam``.

They follow the same interface as Keras 3 optimizers
(``apply_gradients(zip(grads, variables))`` updates ``variable.data`` in
place; ``learning_rate`` is a settable float), and the same formulas, which
are also scikit-learn's:

SGD:   v ← μ·v − lr·g;   p ← p + v            (Nesterov: p ← p + μ·v − lr·g)
Adam:  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
       lr_t = lr·√(1−β2^t)/(1−β1^t);   p ← p − lr_t·m/(√v + ε)
"""
import numpy as np


class SGD:
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self._velocities = None

    def apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        if self._velocities is None:
            self._velocities = [np.zeros_like(v.data) for _, v in pairs]
        lr, mu = self.learning_rate, self.momentum
        for (g, var), vel in zip(pairs, self._velocities):
            g = g.data if hasattr(g, "data") else g
            vel *= mu
            vel -= lr * g
            if self.nesterov:
                var.data += mu * vel - lr * g
            else:
                var.data += vel


class Adam:
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.learning_rate = float(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.iterations = 0
        self._m = self._v = None

    def apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        if self._m is None:
            self._m = [np.zeros_like(v.data) for _, v in pairs]
            self._v = [np.zeros_like(v.data) for _, v in pairs]
        self.iterations += 1
        b1, b2, t = self.beta_1, self.beta_2, self.iterations
        lr_t = self.learning_rate * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for (g, var), m, v in zip(pairs, self._m, self._v):
            g = g.data if hasattr(g, "data") else g
            m += (1 - b1) * (g - m)
            v += (1 - b2) * (g * g - v)
            var.data -= (lr_t * m) / (np.sqrt(v) + self.epsilon)


def make_sgd(learning_rate, momentum, nesterov):
    """chainrule.optimizers.SGD when it exists, else the rule above."""
    from .. import optimizers
    cls = getattr(optimizers, "SGD", SGD)
    return cls(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov)


def make_adam(learning_rate, beta_1, beta_2, epsilon):
    """chainrule.optimizers.Adam when it exists, else the rule above."""
    from .. import optimizers
    cls = getattr(optimizers, "Adam", Adam)
    return cls(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
