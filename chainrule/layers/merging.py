"""The elementwise merges beside ``Add`` and ``Concatenate`` (``core.py``):
``Multiply``, ``Subtract``, ``Average``, ``Maximum``, ``Minimum``, and ``Dot``,
as Keras 3 ``keras/src/layers/merging/``. Each takes a list of tensors.

>>> import chainrule as cr
>>> from chainrule import layers
>>> a, b = cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0, 5.0]])
>>> layers.Subtract()([a, b])
tensor([[-2., -3.]])
>>> layers.Dot(axes=1)([a, b])                # one dot product per sample
tensor([[13.]])
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

import numpy as np

from .. import graph, ops
from ..errors import ShapeError
from ..masks import get_keras_mask, set_keras_mask
from ..tensor import Tensor
from ..typing import Shape
from .core import _Merge

__all__ = ["Average", "Dot", "Maximum", "Minimum", "Multiply", "Subtract"]


class _Elementwise(_Merge):
    """A merge of same-rank inputs whose sizes agree or are 1 (they broadcast),
    as Keras' ``Merge._compute_elemwise_op_output_shape``."""

    _exactly: int | None = None          # Subtract takes exactly two inputs
    _merge: Callable[[list[Tensor]], Tensor]      # each subclass defines it

    def build(self, input_shape: Sequence[Shape]) -> None:
        super().build(input_shape)
        self._check_shapes(input_shape)

    def _check_shapes(self, shapes: Sequence[Shape]) -> None:
        name = type(self).__name__
        if self._exactly is not None and len(shapes) != self._exactly:
            raise ValueError(f"{name} layer '{self.name}' must be called on a list of exactly "
                             f"{self._exactly} inputs, got {len(shapes)}")
        ndim = len(shapes[0])
        for s in shapes[1:]:
            if len(s) != ndim or any(a != b and None not in (a, b) and 1 not in (a, b)
                                     for a, b in zip(s[1:], shapes[0][1:])):
                raise ShapeError(f"{name} layer '{self.name}': the inputs must have the same "
                                 f"shape (sizes of 1 broadcast), got "
                                 f"{', '.join(map(str, shapes))}")

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        """Merge the inputs elementwise.

        Args:
            inputs: a list of tensors of the same shape (sizes of 1 broadcast).

        Returns:
            The merged tensor.
        """
        self._check_shapes([tuple(x.shape) for x in inputs])
        return self._merge(list(inputs))

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        out = list(input_shape[0])
        for s in input_shape[1:]:
            out = [b if a == 1 else a for a, b in zip(out, s)]
        return tuple(out)


class Multiply(_Elementwise):
    """The elementwise product of a list of inputs: ``Multiply()([a, b])``.

    Masked entries count as 1; when every input has a mask, the output is 0
    where all masks are False and carries their OR (Keras 3 ``multiply.py``).

    Example:

    >>> Multiply()([cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0, 4.0]])])
    tensor([[3., 8.]])
    """

    def _merge(self, xs: list[Tensor]) -> Tensor:
        masks = [_spread(get_keras_mask(x), x) for x in xs]
        out: Any = None
        for x, mask in zip(xs, masks):
            if mask is not None:
                x = ops.where(mask, x, 1.0)
            out = x if out is None else out * x
        if all(m is not None for m in masks):
            either, steps = _either(masks)
            out = ops.where(either, out, 0.0)
            set_keras_mask(out, steps)
        return out


class Subtract(_Elementwise):
    """``a - b`` for exactly two inputs: ``Subtract()([a, b])``."""

    _exactly = 2

    def _merge(self, xs: list[Tensor]) -> Tensor:
        return xs[0] - xs[1]


class Average(_Elementwise):
    """The elementwise mean of a list of inputs, (a + b + ...) / n.

    Example:

    >>> Average()([cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0, 4.0]])])
    tensor([[2., 3.]])
    """

    def _merge(self, xs: list[Tensor]) -> Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out / len(xs)


class Maximum(_Elementwise):
    """The elementwise maximum of a list of inputs (masked entries left out,
    Keras 3 ``base_merge.py`` ``_apply_merge_op_and_or_mask``).

    Example:

    >>> Maximum()([cr.tensor([[1.0, 5.0]]), cr.tensor([[3.0, 4.0]])])
    tensor([[3., 5.]])
    """

    def _merge(self, xs: list[Tensor]) -> Tensor:
        return _op_and_or_mask(ops.maximum, xs)


class Minimum(_Elementwise):
    """The elementwise minimum of a list of inputs (masked entries left out).

    Example:

    >>> Minimum()([cr.tensor([[1.0, 5.0]]), cr.tensor([[3.0, 4.0]])])
    tensor([[1., 4.]])
    """

    def _merge(self, xs: list[Tensor]) -> Tensor:
        return _op_and_or_mask(ops.minimum, xs)


# The masks' NumPy runs outside any op: graph.replayed makes a compiled step
# (cr.jit) compute it again for each batch.
@graph.replayed
def _spread(mask: Any, x: Tensor) -> np.ndarray | None:
    """A (batch, steps) mask broadcast over ``x``'s trailing axis, or None."""
    if mask is None:
        return None
    mask = np.asarray(mask, bool)
    return np.broadcast_to(mask[..., None], x.shape) if mask.ndim < x.ndim else mask


def _op_and_or_mask(op: Callable[[Tensor, Tensor], Tensor], xs: list[Tensor]) -> Tensor:
    """Fold ``op`` over the inputs, a masked entry replaced by the other side,
    and OR the masks (None as soon as one input has none), as Keras 3."""
    out: Any = None
    out_mask: np.ndarray | None = None
    for x in xs:
        mask = _spread(get_keras_mask(x), x)
        if out is None:
            out, out_mask = x, mask
            continue
        if mask is not None:
            x = ops.where(mask, x, out)
        if out_mask is not None:
            out = ops.where(out_mask, out, x)
        out_mask = _either([out_mask, mask])[0] if mask is not None and \
            out_mask is not None else None
        out = op(out, x)
    if out_mask is not None:
        set_keras_mask(out, _any_last(out_mask))
    return out


@graph.replayed
def _either(masks: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The masks ORed, and that as a (batch, steps) mask (any over the last axis)."""
    either = np.logical_or.reduce(masks)
    return either, either.any(axis=-1)


@graph.replayed
def _any_last(mask: np.ndarray) -> np.ndarray:
    return mask.any(axis=-1)  # type: ignore[return-value]  # (NumPy's stubs: bool or array)


class Dot(_Merge):
    """Dot products between the samples of two tensors, along ``axes``.

    As Keras 3 ``keras/src/layers/merging/dot.py`` (``batch_dot``): for inputs
    of shapes (batch, n) and (batch, n) and ``axes=1`` the output is
    (batch, 1); in general the output's shape is the first input's without
    its axis, then the second's without batch and its axis. With
    ``normalize=True`` each sample is first L2-normalized along its axis,
    x·min(1/√Σx², 1/ε) with ε = 1e-7 (Keras' ``ops.normalize``), so the
    output is the cosine similarity.

    Args:
        axes: int, or a pair (axis of the first input, axis of the second);
            never the batch axis 0.
        normalize: L2-normalize before the product.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Example:

    >>> x = cr.tensor(np.arange(10.0).reshape(1, 5, 2))
    >>> y = cr.tensor(np.arange(10.0, 20.0).reshape(1, 2, 5))
    >>> Dot(axes=(1, 2))([x, y]).shape
    (1, 2, 2)
    """

    def __init__(self, axes: int | list[int] | tuple[int, int], normalize: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pair = axes if isinstance(axes, (list, tuple)) else None
        if pair is None and (isinstance(axes, bool) or not isinstance(axes, numbers.Integral)):
            raise TypeError(f"Dot: axes must be an int or a pair of ints, got {axes!r}")
        if pair is not None and (len(pair) != 2 or not all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in pair)):
            raise ValueError(f"Dot: axes must be an int or a pair of two ints, got {axes!r}")
        self.axes = [int(a) for a in pair] if pair is not None else int(axes)
        self.normalize = bool(normalize)

    def _axes_for(self, shapes: Sequence[Shape]) -> list[int]:
        pair = self.axes if isinstance(self.axes, list) else [self.axes, self.axes]
        axes = [a % len(s) if a < 0 else a for a, s in zip(pair, shapes)]
        if 0 in axes or any(a >= len(s) for a, s in zip(axes, shapes)):
            raise ValueError(f"Dot layer '{self.name}': axes {self.axes} do not fit inputs of "
                             f"shapes {shapes[0]} and {shapes[1]} (axis 0, the batch, cannot "
                             f"be used)")
        return axes

    def build(self, input_shape: Sequence[Shape]) -> None:
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"Dot layer '{self.name}' must be called on a list of exactly 2 "
                             f"inputs, got {len(input_shape)}")
        self._check(input_shape)

    def _check(self, shapes: Sequence[Shape]) -> tuple[int, int]:
        a0, a1 = self._axes_for(shapes)
        d0, d1 = shapes[0][a0], shapes[1][a1]
        if d0 is not None and d1 is not None and d0 != d1:
            raise ShapeError(f"Dot layer '{self.name}': axis {a0} of the first input has size "
                             f"{d0} but axis {a1} of the second has size {d1}; they must "
                             f"match (shapes {shapes[0]} and {shapes[1]})")
        return a0, a1

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        """The sample-wise dot products of the two inputs along ``axes``.

        Args:
            inputs: two tensors ``[x, y]``.

        Returns:
            The dot products, one per sample.
        """
        x, y = inputs
        a0, a1 = self._check([tuple(x.shape), tuple(y.shape)])
        if self.normalize:
            x, y = _l2_normalize(x, a0), _l2_normalize(y, a1)
        # contract x's axis a0 with y's axis a1 sample by sample (batch_dot)
        x = ops.moveaxis(x, a0, -1)                       # (b, ..., n)
        y = ops.moveaxis(y, a1, 1)                        # (b, n, ...)
        x_mid, y_rest = x.shape[1:-1], y.shape[2:]
        x3 = ops.reshape(x, (x.shape[0], -1, x.shape[-1]))
        y3 = ops.reshape(y, (y.shape[0], y.shape[1], -1))
        out = ops.matmul(x3, y3)                          # (b, prod(x_mid), prod(y_rest))
        shape = (out.shape[0],) + tuple(x_mid) + tuple(y_rest)
        if len(shape) == 1:
            shape = shape + (1,)                          # (batch,) becomes (batch, 1)
        return ops.reshape(out, shape)

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        a0, a1 = self._axes_for(input_shape)
        first = [d for i, d in enumerate(input_shape[0]) if i != a0]
        second = [d for i, d in enumerate(input_shape[1]) if i not in (0, a1)]
        out = first + second
        return tuple(out + [1] if len(out) == 1 else out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        """No mask: a dot product has none.

        Args:
            inputs: the two inputs.
            mask: their masks (dropped: the output has no steps to mask).
        """
        return None


def _l2_normalize(x: Tensor, axis: int, epsilon: float = 1e-7) -> Tensor:
    inv_norm = ops.minimum(1.0 / ops.sqrt(ops.sum(x * x, axis=axis, keepdims=True)),
                           1.0 / epsilon)
    return x * inv_norm
