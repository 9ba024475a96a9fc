"""Adadelta (Keras 3)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import LearningRateLike, Optimizer, check_range


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012): steps scaled by the ratio of two running RMS.

    Each step, with ``rms(x) = sqrt(x + epsilon)``::

        acc_g = rho * acc_g + (1 - rho) * g²
        delta = -rms(acc_delta) / rms(acc_g) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta²
        w = w + lr * delta

    Args:
        learning_rate: float >= 0 or a schedule. Defaults to 0.001 (the paper's
            form is 1.0).
        rho: decay rate, in [0, 1). Defaults to 0.95.
        epsilon: small constant for numerical stability. Defaults to 1e-7.
        name: the optimizer's name.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm`` (see ``Optimizer``).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = cr.optimizers.Adadelta(learning_rate=0.5)
    >>> _ = opt.apply_gradients([(cr.tensor([1.0, 6.0]), w)])
    >>> w.numpy().round(4)
    array([0.9993, 1.9993], dtype=float32)
    """

    def __init__(self, learning_rate: LearningRateLike = 0.001, rho: float = 0.95,
                 epsilon: float = 1e-7, name: str = "adadelta", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = check_range("rho", rho, 0, 1, high_open=True)
        self.epsilon = check_range("epsilon", epsilon, 0)

    def _build_slots(self, value):
        return {"accumulated_grad": np.zeros_like(value),
                "accumulated_delta_var": np.zeros_like(value)}

    def _update_step(self, grad, value, slots, lr):
        rho, eps = self.rho, self.epsilon
        acc_g, acc_delta = slots["accumulated_grad"], slots["accumulated_delta_var"]
        acc_g[...] = rho * acc_g + (1 - rho) * np.square(grad)
        delta = -np.sqrt(acc_delta + eps) / np.sqrt(acc_g + eps) * grad
        acc_delta[...] = rho * acc_delta + (1 - rho) * np.square(delta)
        value += lr * delta

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
