"""Activation layers with arguments: ``ReLU``, ``Softmax``, ``ELU``, ``PReLU``,
as Keras 3 ``keras/src/layers/activations/``. (``Activation`` and
``LeakyReLU`` live in ``core.py``.)

>>> import chainrule as cr
>>> from chainrule import layers
>>> layers.ReLU(max_value=1.0)(cr.tensor([-1.0, 0.5, 3.0]))
tensor([0. , 0.5, 1. ])
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import graph, initializers, ops, regularizers
from ..errors import ShapeError
from ..masks import mask_array
from ..tensor import Tensor
from ..typing import Shape
from .base import InputSpec, Layer

__all__ = ["ELU", "PReLU", "ReLU", "Softmax"]


def _number(layer: str, arg: str, value: Any, allow_none: bool = False) -> Any:
    """A real number >= 0 (or None where allowed), else a ValueError naming it."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"{layer}: {arg} must be a number >= 0"
                         f"{' or None' if allow_none else ''}, got {value!r}")
    return float(value)


class ReLU(Layer):
    """Rectified linear unit with a cap, a slope below and a threshold.

    As Keras 3 ``keras/src/activations/activations.py`` ``ReLU.static_call``::

        f(x) = max_value                         for x >= max_value
        f(x) = x                                 for threshold < x < max_value
        f(x) = negative_slope · (x - threshold)  otherwise

    Args:
        max_value: float >= 0 or None (no cap).
        negative_slope: float >= 0, the slope below the threshold.
        threshold: float >= 0, values at or below it are cut off.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Example:

    >>> ReLU(negative_slope=0.1, threshold=1.0)(cr.tensor([0.0, 2.0]))
    tensor([-0.1,  2. ])
    """

    supports_masking = True

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_value = _number("ReLU", "max_value", max_value, allow_none=True)
        self.negative_slope = _number("ReLU", "negative_slope", negative_slope)
        self.threshold = _number("ReLU", "threshold", threshold)

    def call(self, x: Tensor) -> Tensor:
        """Apply the function to ``x``.

        Args:
            x: the input tensor.

        Returns:
            A tensor of ``x``'s shape.
        """
        if self.negative_slope and self.max_value is None and self.threshold == 0:
            return ops.leaky_relu(x, alpha=self.negative_slope)
        negative_part = ops.relu(self.threshold - x) if self.negative_slope else None
        y = ops.where(ops.greater(x, self.threshold), x, 0.0) if self.threshold else ops.relu(x)
        if self.max_value is not None:
            y = ops.clip(y, 0.0, self.max_value)
        if negative_part is not None:
            y = y - self.negative_slope * negative_part
        return y

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


class Softmax(Layer):
    """``exp(x) / Σ exp(x)`` along ``axis`` (an int or a list of ints).

    ``layer(x, mask=m)``: entries where the mask (broadcastable to x) is False
    get a large negative score (-1e9) before the softmax and 0 after, as Keras 3
    ``keras/src/layers/activations/softmax.py``.

    Args:
        axis: an int or a list of ints: the axes the probabilities sum to 1 over.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> Softmax()(cr.tensor([[0.0, 0.0]]))
    tensor([[0.5, 0.5]])
    """

    supports_masking = True

    def __init__(self, axis: int | list[int] | tuple[int, ...] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if not axes or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool)
                               for a in axes):
            raise TypeError(f"Softmax: axis must be an int or a list of ints, got {axis!r}")
        self.axis = [int(a) for a in axis] if isinstance(axis, (list, tuple)) else int(axis)

    def call(self, x: Tensor, mask: Any = None) -> Tensor:
        """The softmax of ``x`` along ``axis``, masked entries 0.

        Args:
            x: the input tensor.
            mask: booleans broadcastable to ``x`` (False: left out), or None.

        Returns:
            A tensor of ``x``'s shape.
        """
        if mask is not None:
            mask = _softmax_mask(self.name, mask, x.shape)
            x = ops.where(mask, x, -1e9)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if len(axes) > 1:
            out = ops.exp(x - ops.logsumexp(x, axis=tuple(axes), keepdims=True))
        else:
            out = ops.softmax(x, axis=axes[0])
        if mask is not None:
            out = ops.where(mask, out, 0.0)
        return out

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


class ELU(Layer):
    """Exponential linear unit: x for x > 0, alpha·(exp(x) - 1) otherwise
    (Keras 3 ``keras/src/layers/activations/elu.py``).

    Args:
        alpha: the scale of the negative part.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> ELU(alpha=0.5)(cr.tensor([-1.0, 2.0])).numpy().round(4)
    array([-0.3161,  2.    ], dtype=float32)
    """

    supports_masking = True
    alpha: float

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise ValueError(f"ELU: alpha must be a number, got {alpha!r}")
        self.alpha = float(alpha)

    def call(self, x: Tensor) -> Tensor:
        """Apply the function to ``x``.

        Args:
            x: the input tensor.

        Returns:
            A tensor of ``x``'s shape.
        """
        return ops.elu(x, alpha=self.alpha)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


class PReLU(Layer):
    """Parametric ReLU: relu(x) - alpha·relu(-x), with a learned ``alpha``.

    As Keras 3 ``keras/src/layers/activations/prelu.py``: ``alpha`` has the
    input's shape without the batch, with size 1 on each of ``shared_axes``
    (counted with the batch as axis 0), and starts at zero.

    Args:
        alpha_initializer: how ``alpha`` starts (default ``"Zeros"``).
        alpha_regularizer: a penalty on ``alpha``, or None.
        alpha_constraint: accepted for Keras compatibility; must be None.
        shared_axes: int or list of ints, the axes along which ``alpha`` is shared
            (e.g. ``[1, 2]`` for one alpha per channel of an image).
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Example:

    >>> layer = PReLU(shared_axes=[1])
    >>> layer(cr.ones(2, 5, 3)).shape, layer.get_weights()[0].shape
    ((2, 5, 3), (1, 3))
    """

    supports_masking = True

    def __init__(self, alpha_initializer: initializers.InitializerLike = "Zeros",
                 alpha_regularizer: regularizers.RegularizerLike = None,
                 alpha_constraint: None = None,
                 shared_axes: int | list[int] | tuple[int, ...] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        if alpha_constraint is not None:
            raise NotImplementedError("PReLU: alpha_constraint is not supported; leave it None")
        self.alpha_constraint = None
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) and a >= 1
                       for a in axes):
                raise ValueError(f"PReLU: shared_axes must be ints >= 1 (axis 0 is the batch), "
                                 f"got {shared_axes!r}")
            self.shared_axes = [int(a) for a in axes]

    def build(self, input_shape: Shape) -> None:
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if axis >= len(input_shape):
                raise ShapeError(f"PReLU layer '{self.name}': shared axis {axis} does not "
                                 f"exist in input of shape {tuple(input_shape)}")
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ShapeError(f"PReLU layer '{self.name}': every axis not in shared_axes must "
                             f"be known, got input shape {tuple(input_shape)}")
        self.alpha = self.add_weight("alpha", tuple(shape), self.alpha_initializer,
                                     self.alpha_regularizer)
        axes = {i: input_shape[i] for i in range(1, len(input_shape))
                if i not in (self.shared_axes or [])}
        self.input_spec = InputSpec(ndim=len(input_shape), axes=axes)

    def call(self, x: Tensor) -> Tensor:
        """Apply the function to ``x``.

        Args:
            x: the input tensor.

        Returns:
            A tensor of ``x``'s shape.
        """
        return ops.relu(x) - self.alpha * ops.relu(-x)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


@graph.replayed          # a compiled step (cr.jit) computes it again for each batch's mask
def _softmax_mask(name: str, mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Softmax's mask as booleans broadcasting to the input's ``shape``."""
    mask = mask_array(mask)
    try:
        np.broadcast_shapes(mask.shape, shape)
        if mask.ndim > len(shape):
            raise ValueError
    except ValueError:
        raise ShapeError(f"Softmax layer '{name}': the mask of shape {mask.shape} "
                         f"must broadcast to the input's shape {shape}") from None
    return mask > 0.5 if mask.dtype != bool else mask

