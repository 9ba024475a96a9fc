"""Adamax (Keras 3)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import LearningRateLike, Optimizer, check_range


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2014, section 7.1): Adam with the infinity norm.

    At step ``t`` (1, 2, ...)::

        m = m + (g - m) * (1 - beta_1)
        u = max(beta_2 * u, |g|)
        w = w - lr * m / ((1 - beta_1^t) * (u + epsilon))

    Args:
        learning_rate: float >= 0 or a schedule. Defaults to 0.001.
        beta_1: decay rates, in [0, 1). Defaults 0.9 and 0.999.
        beta_2: decay rates, in [0, 1). Defaults 0.9 and 0.999.
        epsilon: small constant for numerical stability. Defaults to 1e-7.
        name: the optimizer's name.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm`` (see ``Optimizer``).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = cr.optimizers.Adamax(learning_rate=0.5)
    >>> _ = opt.apply_gradients([(cr.tensor([1.0, 6.0]), w)])
    >>> w.numpy().round(4)
    array([0.5, 1.5], dtype=float32)
    """

    def __init__(self, learning_rate: LearningRateLike = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, name: str = "adamax",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, 0, 1, high_open=True)
        self.beta_2 = check_range("beta_2", beta_2, 0, 1, high_open=True)
        self.epsilon = check_range("epsilon", epsilon, 0)

    def _build_slots(self, value):
        return {"momentum": np.zeros_like(value), "norm": np.zeros_like(value)}

    def _update_step(self, grad, value, slots, lr):
        t = self.iterations + 1
        m, u = slots["momentum"], slots["norm"]
        m += (grad - m) * (1 - self.beta_1)
        np.maximum(self.beta_2 * u, np.abs(grad), out=u)
        value -= lr * m / ((1 - self.beta_1 ** t) * (u + self.epsilon))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
