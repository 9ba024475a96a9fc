"""Stochastic gradient descent, with momentum and Nesterov momentum (Keras 3)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import LearningRateLike, Optimizer, check_range


class SGD(Optimizer):
    """Gradient descent (with momentum).

    Without momentum::

        w = w - lr * g

    With momentum::

        velocity = momentum * velocity - lr * g
        w = w + velocity

    With ``nesterov=True`` (the step looks ahead along the new velocity)::

        velocity = momentum * velocity - lr * g
        w = w + momentum * velocity - lr * g

    Args:
        learning_rate: float >= 0 or a schedule. Defaults to 0.01.
        momentum: float in [0, 1]; 0 is plain gradient descent.
        nesterov: whether to use Nesterov momentum.
        name: the optimizer's name.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm`` (see ``Optimizer``).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = cr.optimizers.SGD(learning_rate=0.5, momentum=0.9)
    >>> _ = opt.apply_gradients([(cr.tensor([1.0, -1.0]), w)])
    >>> w
    tensor([0.5, 2.5], requires_grad=True)
    """

    # Too few ufuncs per variable for the fused small-variable step to pay for
    # its copies (benchmarks/PROFILE.md, "Timing notes moved out of the code").
    _fuse_small = False

    def __init__(self, learning_rate: LearningRateLike = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, name: str = "SGD", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = check_range("momentum", momentum, 0, 1)
        self.nesterov = bool(nesterov)

    def _build_slots(self, value):
        return {"momentum": np.zeros_like(value)} if self.momentum != 0 else {}

    def _update_step(self, grad, value, slots, lr):
        if self.momentum == 0:
            value -= lr * grad
            return
        velocity = slots["momentum"]
        velocity *= self.momentum
        velocity -= lr * grad
        if self.nesterov:
            value += self.momentum * velocity - lr * grad
        else:
            value += velocity

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
