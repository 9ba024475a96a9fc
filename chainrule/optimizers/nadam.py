"""Nadam: Adam with Nesterov momentum (Keras 3)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import LearningRateLike, Optimizer, check_range


class Nadam(Optimizer):
    """Nadam (Dozat, 2015) with Keras' momentum schedule.

    At step ``t`` (1, 2, ...), with ``u_t = beta_1 (1 - 0.5 * 0.96^t)`` and the
    running product ``U_t = u_1 u_2 ... u_t`` (kept across steps)::

        m = m + (g - m) * (1 - beta_1)
        v = v + (g² - v) * (1 - beta_2)
        m_hat = u_{t+1} m / (1 - U_t u_{t+1}) + (1 - u_t) g / (1 - U_t)
        v_hat = v / (1 - beta_2^t)
        w = w - lr * m_hat / (sqrt(v_hat) + epsilon)

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
    >>> opt = cr.optimizers.Nadam(learning_rate=0.5)
    >>> _ = opt.apply_gradients([(cr.tensor([1.0, 6.0]), w)])
    >>> w.numpy().round(4)
    array([0.4686, 1.4686], dtype=float32)
    """

    def __init__(self, learning_rate: LearningRateLike = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, name: str = "nadam",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, 0, 1, high_open=True)
        self.beta_2 = check_range("beta_2", beta_2, 0, 1, high_open=True)
        self.epsilon = check_range("epsilon", epsilon, 0)
        self._globals["u_product"] = np.array(1.0)     # U_t, shared by all variables

    def _u(self, t):
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _before_updates(self):
        # U_t = U_{t-1} * u_t, once per step
        self._globals["u_product"] = self._globals["u_product"] * self._u(self.iterations + 1)

    def _update_step(self, grad, value, slots, lr):
        t = self.iterations + 1
        u_t, u_next = self._u(t), self._u(t + 1)
        u_product = float(self._globals["u_product"])
        m, v = slots["momentum"], slots["velocity"]
        m += (grad - m) * (1 - self.beta_1)
        v += (np.square(grad) - v) * (1 - self.beta_2)
        m_hat = u_next * m / (1 - u_product * u_next) + (1 - u_t) * grad / (1 - u_product)
        v_hat = v / (1 - self.beta_2 ** t)
        value -= lr * m_hat / (np.sqrt(v_hat) + self.epsilon)

    def _build_slots(self, value):
        return {"momentum": np.zeros_like(value), "velocity": np.zeros_like(value)}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
