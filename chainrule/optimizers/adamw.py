"""AdamW: Adam with decoupled weight decay (Keras 3)."""
from __future__ import annotations

from typing import Any

from .adam import Adam
from .base import LearningRateLike


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Before each Adam step (see ``Adam``), every variable shrinks::

        w = w - weight_decay * lr * w

    which the base class does for any optimizer given ``weight_decay``; AdamW
    only makes it the default (0.004) and requires it.

    Args:
        learning_rate: float >= 0 or a schedule. Defaults to 0.001.
        weight_decay: float >= 0. Defaults to 0.004.
        beta_1: as ``Adam``.
        beta_2: as ``Adam``.
        epsilon: as ``Adam``.
        amsgrad: as ``Adam``.
        name: the optimizer's name.
        **kwargs: ``clipnorm``, ``clipvalue``, ``global_clipnorm``.

    >>> import chainrule as cr
    >>> w = cr.tensor([2.0], requires_grad=True)
    >>> opt = cr.optimizers.AdamW(learning_rate=1.0, weight_decay=0.004)
    >>> _ = opt.apply_gradients([(cr.tensor([0.0]), w)])   # no gradient: decay only
    >>> w
    tensor([1.992], requires_grad=True)
    """

    def __init__(self, learning_rate: LearningRateLike = 0.001, weight_decay: float = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, name: str = "adamw", **kwargs: Any) -> None:
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay, name=name,
                         **kwargs)
