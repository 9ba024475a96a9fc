"""Adagrad (Keras 3)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import LearningRateLike, Optimizer, check_range


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011): per-coordinate steps shrink with the sum of g².

    Each step (``epsilon`` inside the square root, as Keras)::

        acc = acc + g²                   # acc starts at initial_accumulator_value
        w = w - lr * g / sqrt(acc + epsilon)

    Args:
        learning_rate: float >= 0 or a schedule. Defaults to 0.001 (the paper's
            form is 1.0).
        initial_accumulator_value: starting value of ``acc``, >= 0. Defaults to 0.1.
        epsilon: small constant for numerical stability. Defaults to 1e-7.
        name: the optimizer's name.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm`` (see ``Optimizer``).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optimizers.Adagrad(learning_rate=0.5)
    >>> _ = opt.apply_gradients([(cr.tensor([1.0]), w)])   # 1 - 0.5 / sqrt(1.1)
    >>> round(float(w[0]), 4)
    0.5233
    """

    def __init__(self, learning_rate: LearningRateLike = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 name: str = "adagrad", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = check_range("initial_accumulator_value",
                                                     initial_accumulator_value, 0)
        self.epsilon = check_range("epsilon", epsilon, 0)

    def _build_slots(self, value):
        return {"accumulator": np.full_like(value, self.initial_accumulator_value)}

    def _update_step(self, grad, value, slots, lr):
        acc = slots["accumulator"]
        acc += np.square(grad)
        value -= lr * grad / np.sqrt(acc + self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
