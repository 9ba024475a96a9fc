"""Adam and its AMSGrad variant (Keras 3)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import LearningRateLike, Optimizer, check_range


class Adam(Optimizer):
    """Adam: adaptive moment estimation (Kingma & Ba, 2014), as Keras 3 does it.

    At step ``t`` (1, 2, ...)::

        m = m + (g - m) * (1 - beta_1)            # = beta_1 m + (1 - beta_1) g
        v = v + (g² - v) * (1 - beta_2)
        v_hat = max(v_hat, v)                     # amsgrad only; then v := v_hat
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        w = w - alpha * m / (sqrt(v) + epsilon)

    Keras folds the bias corrections into ``alpha``, so ``epsilon`` is added to
    the *uncorrected* ``sqrt(v)`` (the paper's "epsilon hat").

    Args:
        learning_rate: float >= 0 or a schedule. Defaults to 0.001.
        beta_1: decay rates of the moment estimates, in [0, 1).
        beta_2: decay rates of the moment estimates, in [0, 1).
        epsilon: small constant for numerical stability. Defaults to 1e-7.
        amsgrad: use the running maximum of ``v`` (Reddi et al., 2018).
        name: the optimizer's name.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm`` (see ``Optimizer``).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = cr.optimizers.Adam(learning_rate=0.5)
    >>> _ = opt.apply_gradients([(cr.tensor([1.0, -6.0]), w)])
    >>> w.numpy().round(4)        # the first step moves each weight by about lr
    array([0.5, 2.5], dtype=float32)
    """

    def __init__(self, learning_rate: LearningRateLike = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
                 name: str = "adam", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, 0, 1, high_open=True)
        self.beta_2 = check_range("beta_2", beta_2, 0, 1, high_open=True)
        self.epsilon = check_range("epsilon", epsilon, 0)
        self.amsgrad = bool(amsgrad)

    def _build_slots(self, value):
        slots = {"momentum": np.zeros_like(value), "velocity": np.zeros_like(value)}
        if self.amsgrad:
            slots["velocity_hat"] = np.zeros_like(value)
        return slots

    def _update_step(self, grad, value, slots, lr):
        t = self.iterations + 1
        m, v = slots["momentum"], slots["velocity"]
        alpha = lr * np.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        # The formulas above, in place with one scratch array (kept across
        # steps): Adam runs on every weight at every step, and each temporary
        # costs a weight-sized allocation and a pass over memory.
        scratch = self._scratch_like(value)
        np.subtract(grad, m, out=scratch)
        scratch *= 1 - self.beta_1
        m += scratch
        np.square(grad, out=scratch)
        scratch -= v
        scratch *= 1 - self.beta_2
        v += scratch
        if self.amsgrad:
            v_hat = slots["velocity_hat"]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        np.sqrt(v, out=scratch)
        scratch += self.epsilon
        np.divide(m, scratch, out=scratch)
        scratch *= alpha
        value -= scratch

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}
