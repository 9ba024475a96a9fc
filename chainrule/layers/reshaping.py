"""Layers that resize sequences and images without weights: UpSampling1D/2D,
ZeroPadding1D/2D, Cropping1D/2D (Keras 3's names, arguments and defaults,
``keras/src/layers/reshaping/``), channels-last.

>>> import chainrule as cr
>>> cr.layers.UpSampling2D()(cr.ones(1, 3, 4, 2)).shape
(1, 6, 8, 2)
>>> cr.layers.ZeroPadding2D(((1, 0), (2, 1)))(cr.ones(1, 3, 4, 2)).shape
(1, 4, 7, 2)
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from .. import ops
from ..errors import ShapeError
from ..tensor import Tensor
from ..typing import Shape
from .base import InputSpec, Layer
from .conv import check_channels_last

__all__ = ["Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "ZeroPadding1D",
           "ZeroPadding2D"]


def _int(layer: str, arg: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{layer}: {arg} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _pair(layer: str, arg: str, value: Any, minimum: int) -> tuple[int, ...]:
    """An int or a pair of ints, as a pair."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{layer}: {arg} must be an int or a pair of ints, got {value!r}")
    return tuple(_int(layer, arg, v, minimum) for v in value)


def _pairs(layer: str, arg: str, value: Any) -> tuple[tuple[int, ...], ...]:
    """Keras' 2-D padding/cropping: an int, (rows, cols) symmetric, or
    ((top, bottom), (left, right))."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{layer}: {arg} must be an int, a pair of ints or a pair of "
                         f"pairs ((top, bottom), (left, right)), got {value!r}")
    return tuple(_pair(layer, arg, v, 0) for v in value)


def _size(n: int | None, change: int) -> int | None:
    return None if n is None else n + change


# --------------------------------------------------------------------------
# UpSampling
# --------------------------------------------------------------------------
class UpSampling1D(Layer):
    """Each step repeated ``size`` times: (batch, steps, features) ->
    (batch, steps·size, features).

    Args:
        size: int >= 1, how many times each step is repeated.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> UpSampling1D(2)(cr.tensor([[[1.0], [2.0]]])).numpy()[0, :, 0]
    array([1., 1., 2., 2.], dtype=float32)
    """

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = _int("UpSampling1D", "size", size, 1)
        self.input_spec = InputSpec(ndim=3)

    def call(self, x: Tensor) -> Tensor:
        """Repeat each step ``size`` times.

        Args:
            x: the input, ``(batch, steps, features)``.

        Returns:
            A tensor of shape ``(batch, steps·size, features)``.
        """
        return ops.repeat(x, self.size, axis=1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        b, steps, c = input_shape
        return (b, None if steps is None else steps * self.size, c)


def _bilinear_matrix(n_in: int, n_out: int, dtype: Any) -> np.ndarray:
    """(n_out, n_in) weights of linear interpolation with half-pixel centres
    (source = (o + ½)·n_in/n_out - ½, clamped at the edges), as
    ``torch.nn.functional.interpolate(align_corners=False)`` and Keras'
    ``ops.image.resize(..., "bilinear")`` upsample."""
    src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in), dtype)
    np.add.at(m, (np.arange(n_out), lo), 1 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


class UpSampling2D(Layer):
    """Images enlarged ``size = (rows, cols)`` times: ``"nearest"`` repeats
    each pixel, ``"bilinear"`` interpolates linearly along each axis (half-pixel
    centres). (batch, h, w, c) -> (batch, h·rows, w·cols, c).

    Args:
        size: int or (rows, cols), each >= 1.
        data_format: only ``"channels_last"`` (or None) is supported.
        interpolation: ``"nearest"`` or ``"bilinear"``.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> UpSampling2D((2, 3), interpolation="bilinear")(cr.ones(1, 4, 4, 2)).shape
    (1, 8, 12, 2)
    """

    def __init__(self, size: int | Sequence[int] = (2, 2), data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = _pair("UpSampling2D", "size", size, 1)
        check_channels_last("UpSampling2D", data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', "
                             f"got {interpolation!r}")
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=4)

    def call(self, x: Tensor) -> Tensor:
        """Enlarge the images.

        Args:
            x: images, ``(batch, h, w, c)``.

        Returns:
            A tensor of shape ``(batch, h·rows, w·cols, c)``.
        """
        rows, cols = self.size
        if self.interpolation == "nearest":
            return ops.repeat(ops.repeat(x, rows, axis=1), cols, axis=2)
        n, h, w, c = x.shape
        along_h = Tensor._wrap(_bilinear_matrix(h, h * rows, x.dtype))    # (H', H)
        along_w = Tensor._wrap(_bilinear_matrix(w, w * cols, x.dtype))    # (W', W)
        y = ops.matmul(along_h, ops.reshape(x, (n, h, w * c)))           # (N, H', W·C)
        y = ops.transpose(ops.reshape(y, (n, h * rows, w, c)), (0, 1, 3, 2))
        y = ops.matmul(y, ops.transpose(along_w))                          # (N, H', C, W')
        return ops.transpose(y, (0, 1, 3, 2))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        b, h, w, c = input_shape
        return (b, None if h is None else h * self.size[0],
                None if w is None else w * self.size[1], c)


# --------------------------------------------------------------------------
# ZeroPadding and Cropping
# --------------------------------------------------------------------------
class ZeroPadding1D(Layer):
    """Zeros added at the start and end of the steps axis: ``padding`` an int
    (both ends) or (start, end).

    Args:
        padding: int, or (start, end): how many zero steps to add.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> ZeroPadding1D((1, 2))(cr.tensor([[[5.0]]])).numpy()[0, :, 0]
    array([0., 5., 0., 0.], dtype=float32)
    """

    def __init__(self, padding: int | Sequence[int] = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = _pair("ZeroPadding1D", "padding", padding, 0)
        self.input_spec = InputSpec(ndim=3)

    def call(self, x: Tensor) -> Tensor:
        """Add the zero steps.

        Args:
            x: the input, ``(batch, steps, features)``.

        Returns:
            The padded tensor.
        """
        return ops.pad(x, ((0, 0), self.padding, (0, 0)))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        b, steps, c = input_shape
        return (b, _size(steps, sum(self.padding)), c)


class ZeroPadding2D(Layer):
    """Rows and columns of zeros around images: ``padding`` an int, (rows,
    cols) or ((top, bottom), (left, right)).

    Args:
        padding: int, (rows, cols) or ((top, bottom), (left, right)).
        data_format: only ``"channels_last"`` (or None) is supported.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> ZeroPadding2D(1)(cr.ones(1, 3, 3, 2)).shape
    (1, 5, 5, 2)
    """

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = _pairs("ZeroPadding2D", "padding", padding)
        check_channels_last("ZeroPadding2D", data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, x: Tensor) -> Tensor:
        """Add the rows and columns of zeros.

        Args:
            x: images, ``(batch, h, w, c)``.

        Returns:
            The padded images.
        """
        return ops.pad(x, ((0, 0), self.padding[0], self.padding[1], (0, 0)))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        b, h, w, c = input_shape
        return (b, _size(h, sum(self.padding[0])), _size(w, sum(self.padding[1])), c)


def _check_crop(layer: Layer, size: int | None, crop: Sequence[int], axis: int,
                shape: Shape) -> None:
    if size is not None and sum(crop) >= size:
        raise ShapeError(f"{type(layer).__name__} layer '{layer.name}': cropping {crop} "
                         f"leaves nothing of axis {axis} (size {size}, input shape {shape}); "
                         f"the two crops must sum to less than {size}")


class Cropping1D(Layer):
    """Steps removed from the start and end: ``cropping`` an int or (start, end).

    Args:
        cropping: int, or (start, end): how many steps to remove.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> Cropping1D((1, 2))(cr.tensor([[[1.0], [2.0], [3.0], [4.0]]])).numpy()[0, :, 0]
    array([2.], dtype=float32)
    """

    def __init__(self, cropping: int | Sequence[int] = (1, 1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cropping = _pair("Cropping1D", "cropping", cropping, 0)
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape: Shape) -> None:
        _check_crop(self, input_shape[1], self.cropping, 1, input_shape)

    def call(self, x: Tensor) -> Tensor:
        """Remove the steps at both ends.

        Args:
            x: the input, ``(batch, steps, features)``.

        Returns:
            The cropped tensor.
        """
        start, end = self.cropping
        return x[:, start:x.shape[1] - end, :]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        b, steps, c = input_shape
        return (b, _size(steps, -sum(self.cropping)), c)


class Cropping2D(Layer):
    """Rows and columns removed from the edges: ``cropping`` an int, (rows,
    cols) or ((top, bottom), (left, right)).

    Args:
        cropping: int, (rows, cols) or ((top, bottom), (left, right)).
        data_format: only ``"channels_last"`` (or None) is supported.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> Cropping2D(((1, 1), (2, 0)))(cr.ones(1, 5, 6, 3)).shape
    (1, 3, 4, 3)
    """

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cropping = _pairs("Cropping2D", "cropping", cropping)
        check_channels_last("Cropping2D", data_format)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape: Shape) -> None:
        _check_crop(self, input_shape[1], self.cropping[0], 1, input_shape)
        _check_crop(self, input_shape[2], self.cropping[1], 2, input_shape)

    def call(self, x: Tensor) -> Tensor:
        """Remove the rows and columns at the edges.

        Args:
            x: images, ``(batch, h, w, c)``.

        Returns:
            The cropped images.
        """
        (top, bottom), (left, right) = self.cropping
        return x[:, top:x.shape[1] - bottom, left:x.shape[2] - right, :]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        b, h, w, c = input_shape
        return (b, _size(h, -sum(self.cropping[0])), _size(w, -sum(self.cropping[1])), c)
