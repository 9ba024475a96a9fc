"""``Masking``: skip the time steps whose features all equal ``mask_value``.

A mask is a boolean ``(batch, steps)`` array, True for a real step and False
for padding; it travels with a layer's output tensor (``chainrule.masks``)
and the layers after it read it, as Keras 3 does with ``_keras_mask``:
recurrent layers carry their state over masked steps, ``Bidirectional``,
``TimeDistributed``, ``GlobalAveragePooling1D`` and ``MultiHeadAttention``
leave them out, and a compiled loss averages over the unmasked steps only.
``Embedding(mask_zero=True)`` makes one too.

>>> import numpy as np
>>> import chainrule as cr
>>> from chainrule.masks import get_keras_mask
>>> x = np.array([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]], "float32")
>>> y = cr.layers.Masking(mask_value=0.0)(x)
>>> get_keras_mask(y)
array([[ True, False,  True]])
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import graph, ops
from ..masks import set_keras_mask
from ..tensor import Tensor
from ..typing import Shape
from .base import Layer

__all__ = ["Masking"]


class Masking(Layer):
    """Masks every time step whose features all equal ``mask_value``.

    As Keras 3 ``keras/src/layers/core/masking.py``: the mask is
    ``any(x != mask_value, axis=-1)``, and the output is the input with the
    masked steps set to 0.

    Args:
        mask_value: the padding value (default 0.0).
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Input shape: ``(batch, steps, features)`` (any rank >= 2; the last axis
    holds the features). Output shape: the same.

    Example:

    >>> model = cr.Sequential([cr.Input((3, 2)), Masking(0.0), cr.layers.LSTM(4)])
    >>> model(np.zeros((1, 3, 2), "float32")).shape
    (1, 4)
    """

    supports_masking = True
    mask_value: float

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, numbers.Real):
            raise TypeError(f"Masking: mask_value must be a number, got {mask_value!r}")
        self.mask_value = float(mask_value)

    def compute_mask(self, inputs: Any, mask: Any = None) -> np.ndarray:
        """The mask of the steps whose features are not all ``mask_value``.

        Args:
            inputs: the input, ``(batch, steps, features)``.
            mask: the incoming mask (ignored).

        Returns:
            ``any(x != mask_value, axis=-1)``, a boolean array.
        """
        data = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        return np.any(data != self.mask_value, axis=-1)

    def call(self, x: Tensor) -> Tensor:
        """Zero the masked steps and attach the mask.

        Args:
            x: the input, ``(batch, steps, features)``.

        Returns:
            ``x`` with the masked steps set to 0, carrying the mask.
        """
        keep, steps = _kept_steps(x, self.mask_value)
        out = ops.where(keep, x, 0.0)
        set_keras_mask(out, steps)
        return out

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


@graph.replayed          # a compiled step computes the mask again for each batch
def _kept_steps(x: Tensor, mask_value: Any) -> tuple[np.ndarray, np.ndarray]:
    """The steps with a feature other than ``mask_value``: as (batch, steps, 1)
    for ``where``, and as (batch, steps) for the mask."""
    keep = np.any(x.data != mask_value, axis=-1, keepdims=True)
    return keep, keep[..., 0]

