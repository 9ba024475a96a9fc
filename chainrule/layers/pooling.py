"""Pooling layers over channels-last images (and sequences, globally).

>>> import chainrule as cr
>>> cr.layers.MaxPooling2D()(cr.ones(2, 28, 28, 8)).shape
(2, 14, 14, 8)
>>> cr.layers.GlobalAveragePooling2D()(cr.ones(2, 7, 7, 8)).shape
(2, 8)
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import graph, ops
from ..errors import ShapeError
from ..masks import mask_array
from ..tensor import Tensor
from ..typing import Shape
from .base import InputSpec, Layer
from .conv import (
    check_channels_last,
    conv_output_size,
    normalize_padding,
    normalize_pair,
)
from .core import check_positive_int

__all__ = [
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "MaxPooling1D",
    "MaxPooling2D",
]


class _Pooling2D(Layer):
    _op: Any = None      # the chainrule pooling op (a staticmethod in each subclass)

    def __init__(self, pool_size: int | Sequence[int] = (2, 2),
                 strides: int | Sequence[int] | None = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        name = type(self).__name__
        self.pool_size = normalize_pair(name, "pool_size", pool_size)
        # strides=None means windows side by side, as in Keras.
        self.strides = self.pool_size if strides is None else normalize_pair(name, "strides", strides)
        self.padding = normalize_padding(name, padding)
        check_channels_last(name, data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, x: Tensor) -> Tensor:
        """Pool each window.

        Args:
            x: images, ``(batch, height, width, channels)``.

        Returns:
            The pooled images.
        """
        return type(self)._op(x, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        batch, h, w, c = input_shape
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        return (batch, conv_output_size(h, kh, sh, self.padding),
                conv_output_size(w, kw, sw, self.padding), c)


class MaxPooling2D(_Pooling2D):
    """The largest value of each ``pool_size`` window (Keras' ``MaxPooling2D``).

    Args:
        pool_size: int or (ph, pw), the window. Defaults to (2, 2).
        strides: int, (sh, sw) or None (the default: windows side by side,
            strides = pool_size).
        padding: ``"valid"`` (the default) or ``"same"`` (TensorFlow's padding).
        data_format: only ``"channels_last"`` (or None) is supported.
        **kwargs: ``name``, ``dtype`` (see ``Layer``).

    Input shape: ``(batch, height, width, channels)``; output shape
    ``(batch, height // ph, width // pw, channels)`` with the defaults.

    Example:

    >>> x = cr.tensor(np.arange(16.0).reshape(1, 4, 4, 1))
    >>> MaxPooling2D()(x).numpy()[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    _op = staticmethod(ops.max_pool2d)


class AveragePooling2D(_Pooling2D):
    """The mean of each ``pool_size`` window (with 'same', padding is not counted).

    Args:
        pool_size: int or (ph, pw), the window. Defaults to (2, 2).
        strides: int, (sh, sw) or None (windows side by side).
        padding: ``"valid"`` or ``"same"``.
        data_format: only ``"channels_last"`` (or None) is supported.
        **kwargs: ``name``, ``dtype`` (see ``Layer``).

    Example:

    >>> x = cr.tensor(np.arange(16.0).reshape(1, 4, 4, 1))
    >>> AveragePooling2D()(x).numpy()[0, :, :, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    _op = staticmethod(ops.avg_pool2d)


class _Pooling1D(Layer):
    """Pooling over (batch, steps, channels): the 2-D op on a one-pixel-high image."""
    _op: Any = None

    def __init__(self, pool_size: int | Sequence[int] = 2,
                 strides: int | Sequence[int] | None = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        name = type(self).__name__
        self.pool_size = _single(name, "pool_size", pool_size)
        self.strides = self.pool_size if strides is None else _single(name, "strides", strides)
        self.padding = normalize_padding(name, padding)
        check_channels_last(name, data_format)
        self.input_spec = InputSpec(ndim=3)

    def call(self, x: Tensor) -> Tensor:
        """Pool each window of steps.

        Args:
            x: sequences, ``(batch, steps, channels)``.

        Returns:
            The pooled sequences.
        """
        n, steps, channels = x.shape
        y = type(self)._op(ops.reshape(x, (n, 1, steps, channels)), (1, self.pool_size[0]),
                           (1, self.strides[0]), self.padding)
        return ops.reshape(y, (n, y.shape[2], channels))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        batch, steps, c = input_shape
        return (batch, conv_output_size(steps, self.pool_size[0], self.strides[0], self.padding),
                c)


def _single(layer_name: str, arg: str, value: Any) -> tuple[int]:
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return (check_positive_int(layer_name, arg, value),)


class MaxPooling1D(_Pooling1D):
    """The largest value of each ``pool_size`` window of steps (Keras'
    ``MaxPooling1D``; ``strides`` defaults to ``pool_size``).

    Args:
        pool_size: int, the window's length. Defaults to 2.
        strides: int or None (windows side by side).
        padding: ``"valid"`` or ``"same"``.
        data_format: only ``"channels_last"`` (or None) is supported.
        **kwargs: ``name``, ``dtype`` (see ``Layer``).

    Example:

    >>> MaxPooling1D()(cr.ones(2, 10, 3)).shape
    (2, 5, 3)
    """
    _op = staticmethod(ops.max_pool2d)


class AveragePooling1D(_Pooling1D):
    """The mean of each ``pool_size`` window of steps (Keras' ``AveragePooling1D``;
    with ``"same"`` the padding is not counted, as Keras on TensorFlow and JAX.
    Keras 3.15.1 on torch pads an uneven 'same' by repeating the edge step
    instead, which differs when a window holds more than one padded step).

    Args:
        pool_size: int, the window's length. Defaults to 2.
        strides: int or None (windows side by side).
        padding: ``"valid"`` or ``"same"``.
        data_format: only ``"channels_last"`` (or None) is supported.
        **kwargs: ``name``, ``dtype`` (see ``Layer``).

    Example:

    >>> AveragePooling1D()(cr.tensor([[[1.0], [3.0], [5.0], [7.0]]])).numpy()[0, :, 0]
    array([2., 6.], dtype=float32)
    """
    _op = staticmethod(ops.avg_pool2d)


class _GlobalPooling(Layer):
    _ndim = 4           # (batch, h, w, c); 3 for (batch, steps, features)
    _reduce: Any = None

    def __init__(self, data_format: str | None = None, keepdims: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_channels_last(type(self).__name__, data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self._ndim)

    def call(self, x: Tensor) -> Tensor:
        """Reduce every axis but the batch and the channels.

        Args:
            x: the input, channels last.

        Returns:
            A tensor of shape ``(batch, channels)`` (with size-1 axes kept under ``keepdims``).
        """
        axes = tuple(range(1, self._ndim - 1))       # every axis but batch and channels
        return type(self)._reduce(x, axis=axes, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.keepdims:
            return (input_shape[0],) + (1,) * (self._ndim - 2) + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width: (batch, h, w, c) -> (batch, c).

    Args:
        data_format: only ``"channels_last"`` (or None) is supported.
        keepdims: keep the reduced axes with size 1.
        **kwargs: ``name``, ``dtype`` (see ``Layer``).

    Example:

    >>> GlobalAveragePooling2D()(cr.ones(2, 5, 5, 3)).shape
    (2, 3)
    """
    _reduce = staticmethod(ops.mean)


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over height and width: (batch, h, w, c) -> (batch, c).

    Args:
        data_format: only ``"channels_last"`` (or None) is supported.
        keepdims: keep the reduced axes with size 1.
        **kwargs: ``name``, ``dtype`` (see ``Layer``).

    Example:

    >>> GlobalMaxPooling2D(keepdims=True)(cr.ones(2, 5, 5, 3)).shape
    (2, 1, 1, 3)
    """
    _reduce = staticmethod(ops.max)


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps: (batch, steps, features) -> (batch, features).

    With a mask (``Embedding(mask_zero=True)``, ``Masking``) the mean is over
    the unmasked steps only, Σ mask·x / Σ mask, and the output carries no
    mask (as Keras 3 ``keras/src/layers/pooling/global_average_pooling1d.py``).

    Args:
        data_format: only ``"channels_last"`` (or None) is supported.
        keepdims: keep the reduced axes with size 1.
        **kwargs: ``name``, ``dtype`` (see ``Layer``).

    Example:

    >>> x = cr.tensor([[[1.0], [3.0], [100.0]]])
    >>> GlobalAveragePooling1D()(x, mask=np.array([[True, True, False]]))
    tensor([[2.]])
    """
    _ndim = 3
    _reduce = staticmethod(ops.mean)
    supports_masking = True

    def call(self, x: Tensor, mask: Any = None) -> Tensor:
        """The mean over the (unmasked) steps.

        Args:
            x: sequences, ``(batch, steps, features)``.
            mask: booleans ``(batch, steps)`` (False: left out), or None.

        Returns:
            A tensor of shape ``(batch, features)``.
        """
        if mask is None:
            return super().call(x)
        keep, count = _kept_steps(self.name, mask, tuple(x.shape[:2]), self.keepdims, x.dtype)
        total = ops.sum(ops.where(keep, x, 0.0), axis=1, keepdims=self.keepdims)
        return total / Tensor._wrap(count)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        """No mask: the steps are gone.

        Args:
            inputs: the input.
            mask: its mask (consumed here).
        """
        return None


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over the steps: (batch, steps, features) -> (batch, features).

    Args:
        data_format: only ``"channels_last"`` (or None) is supported.
        keepdims: keep the reduced axes with size 1.
        **kwargs: ``name``, ``dtype`` (see ``Layer``).

    Example:

    >>> GlobalMaxPooling1D()(cr.tensor([[[1.0, 4.0], [3.0, 2.0]]]))
    tensor([[3., 4.]])
    """
    _ndim = 3
    _reduce = staticmethod(ops.max)


@graph.replayed          # a compiled step (cr.jit) computes it again for each batch's mask
def _kept_steps(name: str, mask: Any, steps: tuple[int, ...], keepdims: bool,
                dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """A (batch, steps) mask as (batch, steps, 1) booleans, and the count of
    kept steps per sample in ``dtype``."""
    mask = mask_array(mask)
    if mask.shape != steps:
        raise ShapeError(f"GlobalAveragePooling1D layer '{name}': the mask must have "
                         f"shape (batch, steps) = {steps}, got {mask.shape}")
    keep = mask.astype(bool)[:, :, None]
    return keep, keep.sum(axis=1, keepdims=keepdims).astype(dtype)

