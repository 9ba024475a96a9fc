"""RMSprop, plain or centered, with optional momentum (Keras 3)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import LearningRateLike, Optimizer, check_range


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012): divide the gradient by a running RMS of its history.

    Each step (``epsilon`` inside the square root, as Keras)::

        v = rho * v + (1 - rho) * g²
        mg = rho * mg + (1 - rho) * g             # centered only
        denominator = v - mg² + epsilon  if centered  else  v + epsilon
        increment = lr * g / sqrt(denominator)
        m = momentum * m + increment              # when momentum > 0, then w -= m
        w = w - increment                         # when momentum == 0

    Args:
        learning_rate: float >= 0 or a schedule. Defaults to 0.001.
        rho: discount of the history, in [0, 1). Defaults to 0.9.
        momentum: in [0, 1]. Defaults to 0.
        epsilon: small constant for numerical stability. Defaults to 1e-7.
        centered: normalize by the estimated variance of the gradient rather
            than by its uncentered second moment.
        name: the optimizer's name.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm`` (see ``Optimizer``).

    >>> import chainrule as cr
    >>> w = cr.tensor(10.0, requires_grad=True)
    >>> opt = cr.optimizers.RMSprop(learning_rate=0.1)
    >>> _ = opt.minimize(lambda: w * w / 2, [w])     # d/dw = w
    >>> round(float(w), 5)
    9.68377
    """

    def __init__(self, learning_rate: LearningRateLike = 0.001, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False,
                 name: str = "rmsprop", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = check_range("rho", rho, 0, 1, high_open=True)
        self.momentum = check_range("momentum", momentum, 0, 1)
        self.epsilon = check_range("epsilon", epsilon, 0)
        self.centered = bool(centered)

    def _build_slots(self, value):
        slots = {"velocity": np.zeros_like(value)}
        if self.momentum > 0:
            slots["momentum"] = np.zeros_like(value)
        if self.centered:
            slots["average_gradient"] = np.zeros_like(value)
        return slots

    def _update_step(self, grad, value, slots, lr):
        rho = self.rho
        v = slots["velocity"]
        v[...] = rho * v + (1 - rho) * np.square(grad)
        if self.centered:
            mg = slots["average_gradient"]
            mg[...] = rho * mg + (1 - rho) * grad
            denominator = v - np.square(mg) + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = lr * grad / np.sqrt(denominator)
        if self.momentum > 0:
            m = slots["momentum"]
            m[...] = self.momentum * m + increment
            value -= m
        else:
            value -= increment

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
