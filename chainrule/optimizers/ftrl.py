"""FTRL-Proximal (Keras 3)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import LearningRateLike, Optimizer, check_range


class Ftrl(Optimizer):
    """Follow The Regularized Leader (McMahan et al., 2013), as Keras 3 does it.

    With ``p = -learning_rate_power``, ``l2 = l2_regularization_strength +
    beta / (2 lr)`` and the shrinkage ``s = l2_shrinkage_regularization_strength``::

        g_s = g + 2 s w                             # gradient with shrinkage
        n_new = n + g²                              # n starts at initial_accumulator_value
        z = z + g_s - (n_new^p - n^p) / lr * w
        quadratic = n_new^p / lr + 2 l2
        w = (clip(z, -l1, l1) - z) / quadratic      # 0 where |z| <= l1
        n = n_new

    Args:
        learning_rate: float >= 0 or a schedule. Defaults to 0.001.
        learning_rate_power: <= 0; how fast the per-coordinate rate decays
            (0 keeps it fixed). Defaults to -0.5.
        initial_accumulator_value: starting ``n``, >= 0. Defaults to 0.1.
        l1_regularization_strength: >= 0. Default 0.
        l2_regularization_strength: >= 0. Default 0.
        l2_shrinkage_regularization_strength: >= 0. Default 0.
        beta: the paper's beta. Defaults to 0.
        name: the optimizer's name.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm`` (see ``Optimizer``).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = cr.optimizers.Ftrl(learning_rate=0.5)
    >>> _ = opt.apply_gradients([(cr.tensor([1.0, 6.0]), w)])
    >>> w.numpy().round(4)
    array([0.2218, 1.3954], dtype=float32)
    """

    def __init__(self, learning_rate: LearningRateLike = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0,
                 l2_shrinkage_regularization_strength: float = 0.0, beta: float = 0.0,
                 name: str = "ftrl", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.learning_rate_power = check_range("learning_rate_power", learning_rate_power, high=0)
        self.initial_accumulator_value = check_range("initial_accumulator_value",
                                                     initial_accumulator_value, 0)
        self.l1_regularization_strength = check_range("l1_regularization_strength",
                                                      l1_regularization_strength, 0)
        self.l2_regularization_strength = check_range("l2_regularization_strength",
                                                      l2_regularization_strength, 0)
        self.l2_shrinkage_regularization_strength = check_range(
            "l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength, 0)
        self.beta = check_range("beta", beta, 0)

    def _build_slots(self, value):
        return {"accumulator": np.full_like(value, self.initial_accumulator_value),
                "linear": np.zeros_like(value)}

    def _update_step(self, grad, value, slots, lr):
        power = -self.learning_rate_power
        l1 = self.l1_regularization_strength
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        n, z = slots["accumulator"], slots["linear"]
        grad_shrunk = grad + 2 * self.l2_shrinkage_regularization_strength * value
        n_new = n + np.square(grad)
        z += grad_shrunk - (n_new ** power - n ** power) / lr * value
        quadratic = n_new ** power / lr + 2 * l2
        value[...] = (np.clip(z, -l1, l1) - z) / quadratic
        n[...] = n_new

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
