"""Shape ops: they move numbers around without changing them.

So each derivative moves the gradient back: a reshape's gradient is reshaped
back, a transpose's is transposed back, a broadcast's is summed back.
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from ..errors import ShapeError
from ..rules import PER_CALL, ArrayGrads, TensorGrads, declare
from ..tensor import Tensor, as_tensor, record
from ..typing import Axis, TensorLike

__all__ = [
    "reshape", "transpose", "swapaxes", "expand_dims", "squeeze", "flatten",
    "broadcast_to", "sum_to", "concatenate", "stack", "pad",
]


def normalize_axes(axis: Axis, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple, negatives allowed) as a sorted tuple.

    Args:
        axis: None (all axes), an int or a sequence of ints; negatives count from the end.
        ndim: the number of dimensions of the tensor.
        op: the op's name, for error messages.

    Returns:
        The axes, non-negative and sorted.
    """
    if axis is None:
        return tuple(range(ndim))
    # (mypy does not know that int is a numbers.Integral)
    axes: tuple[int, ...] = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)  # type: ignore[assignment,arg-type]
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor with "
                             f"{ndim} dimension(s); use -{max(ndim, 1)}..{max(ndim, 1) - 1}")
        out.append(a % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: axis {axis} repeats an axis")
    return tuple(sorted(out))


def reshape(x: TensorLike, *shape: Any) -> Tensor:
    """Same numbers, new shape (one dimension may be -1).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        *shape: the new sizes, or one sequence of them (one may be -1).

    Returns:
        A new tensor of the new shape.
    """
    x = as_tensor(x)
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
        shape = tuple(shape[0])
    try:
        data = x.data.reshape(shape)
    except ValueError:
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.size} elements) into {tuple(shape)}; the number of "
                         f"elements must stay the same") from None
    return record(RESHAPE, data, (x,))


def d_reshape(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return reshape(g, x.shape)


def d_reshape_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                     x: np.ndarray) -> ArrayGrads:
    return g.reshape(x.shape)


RESHAPE = declare(reshape, forward="reshape(x)", derivative="g reshaped back to x's shape",
                  vjp=d_reshape, array_vjp=d_reshape_arrays)


def flatten(x: TensorLike, start_axis: int = 0) -> Tensor:
    """Merge the axes from ``start_axis`` on into one.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        start_axis: the first axis merged.

    Returns:
        A new tensor.
    """
    x = as_tensor(x)
    return reshape(x, x.shape[:start_axis] + (-1,))


def transpose(x: TensorLike, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes (``axes=None`` reverses them).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axes: the new order of the axes (None: reversed).

    Returns:
        A new tensor.
    """
    x = as_tensor(x)
    if axes is None:
        axes = tuple(range(x.ndim - 1, -1, -1))
    ndim = x.ndim
    axes = tuple(int(a) for a in axes)
    if len(axes) != ndim or any(not -ndim <= a < ndim for a in axes) or \
            len({a % ndim for a in axes}) != ndim:
        raise ShapeError(f"transpose: axes {axes} are not a permutation of the "
                         f"{ndim} axes of a tensor of shape {x.shape}")
    axes = tuple(a % ndim for a in axes)

    inverse = [0] * ndim
    for position, axis in enumerate(axes):
        inverse[axis] = position

    def d_transpose(g, out, x):
        return transpose(g, inverse)

    def d_transpose_arrays(needs, g, out, x):
        return g.transpose(inverse)
    return record(TRANSPOSE, x.data.transpose(axes), (x,), d_transpose, d_transpose_arrays)


TRANSPOSE = declare(transpose, forward="xᵀ", inputs="x", derivative="gᵀ (the inverse permutation)",
                    vjp=PER_CALL, array_vjp=PER_CALL)


def swapaxes(x: TensorLike, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis1: one axis.
        axis2: the other.

    Returns:
        A new tensor.
    """
    x = as_tensor(x)
    try:
        data = x.data.swapaxes(axis1, axis2)
    except ValueError:
        raise ShapeError(f"swapaxes: axes {axis1} and {axis2} do not both exist in a "
                         f"tensor of shape {x.shape}") from None

    def d_swapaxes(g, out, x):
        return swapaxes(g, axis1, axis2)

    def d_swapaxes_arrays(needs, g, out, x):
        return g.swapaxes(axis1, axis2)
    return record(SWAPAXES, data, (x,), d_swapaxes, d_swapaxes_arrays)


SWAPAXES = declare(swapaxes, forward="swapaxes(x)", inputs="x",
                   derivative="g with the same two axes exchanged back",
                   vjp=PER_CALL, array_vjp=PER_CALL)


def expand_dims(x: TensorLike, axis: int | Sequence[int]) -> Tensor:
    """Insert a length-1 axis at ``axis``.   Gradient: reshaped back.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: where the new axis (or axes) go.

    Returns:
        A new tensor.
    """
    x = as_tensor(x)
    return reshape(x, np.expand_dims(x.data, axis).shape)


def squeeze(x: TensorLike, axis: Axis = None) -> Tensor:
    """Remove length-1 axes (all, or those in ``axis``).   Gradient: reshaped back.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the length-1 axes to remove (None: all of them).

    Returns:
        A new tensor.
    """
    x = as_tensor(x)
    if axis is not None:
        for a in normalize_axes(axis, x.ndim, "squeeze"):
            if x.shape[a] != 1:
                raise ShapeError(f"squeeze: axis {a} of shape {x.shape} has length "
                                 f"{x.shape[a]}, not 1")
    return reshape(x, np.squeeze(x.data, axis).shape)


def broadcast_to(x: TensorLike, shape: Sequence[int]) -> Tensor:
    """Repeat along length-1 axes to ``shape``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        shape: the target shape (NumPy's broadcasting rules).

    Returns:
        A new tensor of ``shape``.
    """
    x = as_tensor(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        data = np.broadcast_to(x.data, shape)
    except ValueError:
        raise ShapeError(f"broadcast_to: a tensor of shape {x.shape} cannot be "
                         f"broadcast to {shape}") from None
    return record(BROADCAST_TO, data, (x,))


def d_broadcast_to(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return sum_to(g, x.shape)


BROADCAST_TO = declare(broadcast_to, forward="broadcast(x)", derivative="sum_to(g, x's shape)",
                       vjp=d_broadcast_to)


def sum_to(x: TensorLike, shape: Sequence[int]) -> Tensor:
    """Sum over the axes that broadcasting to ``x.shape`` from ``shape`` added.

    The inverse of broadcast_to, and the one place where every op's gradient
    is reduced back to its input's shape.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        shape: the shape that was broadcast to ``x.shape``.

    Returns:
        A new tensor of ``shape``.
    """
    x = as_tensor(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != x.shape[lead + i] for i, n in enumerate(shape)):
        raise ShapeError(f"sum_to: a tensor of shape {x.shape} cannot be summed down to "
                         f"{shape}; {shape} must broadcast to {x.shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    data = x.data.sum(axis=axes, keepdims=True)
    if lead:
        data = data.reshape(shape)
    return record(SUM_TO, data, (x,))


def d_sum_to(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return broadcast_to(g, x.shape)


SUM_TO = declare(sum_to, forward="sum_to(x)", derivative="g broadcast back to x's shape",
                 vjp=d_sum_to)


def concatenate(tensors: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis.

    Args:
        tensors: the tensors, of equal shape but along ``axis``.
        axis: the axis to join along.

    Returns:
        A new tensor.
    """
    parts = [as_tensor(t) for t in tensors]
    if not parts:
        raise ValueError("concatenate needs at least one tensor")
    try:
        data = np.concatenate([t.data for t in parts], axis=axis)
    except ValueError as e:
        shapes = ", ".join(str(t.shape) for t in parts)
        raise ShapeError(f"concatenate along axis {axis}: shapes {shapes} must match "
                         f"in every other axis ({e})") from None
    axis = axis % data.ndim
    bounds = np.cumsum([0] + [t.shape[axis] for t in parts])

    def d_concatenate(g, out, *tensors):
        index = [slice(None)] * g.ndim
        grads = []
        for t, start, stop in zip(tensors, bounds[:-1], bounds[1:]):
            index[axis] = slice(int(start), int(stop))
            grads.append(g[tuple(index)] if t.requires_grad else None)
        return tuple(grads)
    return record(CONCATENATE, data, tuple(parts), d_concatenate)


CONCATENATE = declare(concatenate, forward="concatenate(x)", inputs="x",
                      derivative="g sliced back into the pieces", vjp=PER_CALL)


def stack(tensors: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new axis.

    Args:
        tensors: the tensors, all of one shape.
        axis: where the new axis goes.

    Returns:
        A new tensor with one more axis.
    """
    parts = [as_tensor(t) for t in tensors]
    shapes = {t.shape for t in parts}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all parts must have the same shape; got "
                         f"{', '.join(str(t.shape) for t in parts)}")
    return concatenate([expand_dims(t, axis) for t in parts], axis=axis)


def pad(x: TensorLike, pad_width: Any, value: float = 0) -> Tensor:
    """Pad with a constant, NumPy's width format ``((before, after), ...)``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        pad_width: NumPy's format: ``((before, after), ...)`` per axis, or one pair or int
            for all.
        value: the constant padded with.

    Returns:
        A new, larger tensor.
    """
    x = as_tensor(x)
    width = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    if (width < 0).any():
        raise ValueError(f"pad: widths must be >= 0, got {pad_width}")
    data = np.pad(x.data, width, mode="constant", constant_values=value)
    inner = tuple(slice(int(b), int(b) + n) for (b, _), n in zip(width, x.shape))

    def d_pad(g, out, x):
        return g[inner]
    return record(PAD, data, (x,), d_pad)


PAD = declare(pad, forward="pad(x)", inputs="x", derivative="g with the padding cut away",
              vjp=PER_CALL)
