"""Reductions: sum, mean, var, std, max, min, argmax, logsumexp.

A reduction's derivative spreads the gradient back over the axes it
reduced: evenly for a sum (each input counted once), divided by n for a
mean, only onto the winning entries for max/min.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from ..rules import PER_CALL, ArrayGrads, Rule, TensorGrads, declare
from ..tensor import Tensor, as_tensor, record
from ..typing import Axis, DTypeLike, TensorLike
from .elementwise import exp, maximum, sqrt, where
from .shaping import broadcast_to, expand_dims, normalize_axes, reshape, transpose

__all__ = ["sum", "mean", "var", "std", "max", "min", "argmax", "argmin", "logsumexp", "l2_loss", "prod", "clip_by_norm"]


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def expand_back(g: Tensor, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Tensor:
    """Broadcast a reduced gradient back to the input's ``shape``.

    Args:
        g: the gradient of the reduction's output.
        shape: the input's shape.
        axes: the reduced axes (normalized, non-negative).
        keepdims: whether the reduction kept them.

    Returns:
        ``g`` broadcast to ``shape`` (differentiable).
    """
    if not keepdims and g.ndim:      # a 0-d gradient broadcasts as it is
        g = reshape(g, _kept_shape(shape, axes))
    return broadcast_to(g, shape)


def expand_back_array(g: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...],
                      keepdims: bool) -> np.ndarray:
    """``expand_back`` on arrays: a broadcast view, or one filled array for a
    full reduction.

    Args:
        g: the gradient of the reduction's output.
        shape: the input's shape.
        axes: the reduced axes (normalized, non-negative).
        keepdims: whether the reduction kept them.

    Returns:
        An array of ``shape`` (possibly a read-only broadcast view).
    """
    if g.size == 1:
        full = np.empty(shape, dtype=g.dtype)
        # (np.full is a Python-level function: slower here; fill() with a NumPy
        # scalar leaves small blocks behind that tracemalloc sees grow)
        np.copyto(full, g)
        return full
    if not keepdims:
        g = g.reshape(_kept_shape(shape, axes))
    return np.broadcast_to(g, shape)


def sum(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis or axes to reduce (None: all of them).
        keepdims: keep the reduced axes, with length 1.

    Returns:
        The sum, a new tensor.
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "sum")
    # (NumPy's stubs have no overload of ufunc.reduce for keepdims: bool)
    data = np.add.reduce(x.data, axis=axes, keepdims=keepdims)  # type: ignore[call-overload]

    def d_sum(g, out, x):
        return expand_back(g, x.shape, axes, keepdims)

    def d_sum_arrays(needs, g, out, x):
        return expand_back_array(g, x.shape, axes, keepdims)
    return record(SUM, data, (x,), d_sum, d_sum_arrays)


def _sum_replay(x: Any, axis: Axis = None, keepdims: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    axes = normalize_axes(axis, np.ndim(x), "sum")
    return lambda xd: np.add.reduce(xd, axis=axes, keepdims=keepdims)  # type: ignore[call-overload]


SUM = declare(sum, forward="sum(x)", inputs="x", derivative="g · 1, for every summed entry of x",
              vjp=PER_CALL, array_vjp=PER_CALL, replay=_sum_replay)


def mean(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis or axes to reduce (None: all of them).
        keepdims: keep the reduced axes, with length 1.

    Returns:
        The mean, a new tensor.
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    count = math.prod(x.shape[a] for a in axes)
    data = _mean_of(x.data, axes, keepdims, count)

    def d_mean(g, out, x):
        return expand_back(g / count, x.shape, axes, keepdims)

    def d_mean_arrays(needs, g, out, x):
        return expand_back_array(g / g.dtype.type(count), x.shape, axes, keepdims)
    return record(MEAN, data, (x,), d_mean, d_mean_arrays)


def _mean_of(xd: np.ndarray, axes: tuple[int, ...], keepdims: bool, count: int) -> np.ndarray:
    return np.true_divide(np.add.reduce(xd, axis=axes, keepdims=keepdims), count)  # type: ignore[call-overload]


def _mean_replay(x: Any, axis: Axis = None, keepdims: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    shape = np.shape(x)
    axes = normalize_axes(axis, len(shape), "mean")
    count = math.prod(shape[a] for a in axes)
    return lambda xd: _mean_of(xd, axes, keepdims, count)


MEAN = declare(mean, forward="mean(x)", inputs="x", derivative="g · 1/n, for every entry of x",
               vjp=PER_CALL, array_vjp=PER_CALL, replay=_mean_replay)


def var(x: TensorLike, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance (``ddof=0`` as NumPy), built from mean, subtract and sum.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis or axes to reduce (None: all of them).
        keepdims: keep the reduced axes, with length 1.
        ddof: delta degrees of freedom: the sum of squares is divided by n - ddof.

    Returns:
        The variance, a new tensor.
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "var")
    count = math.prod(x.shape[a] for a in axes)
    centered = x - mean(x, axes, keepdims=True)
    return sum(centered * centered, axes, keepdims) / (count - ddof)


def std(x: TensorLike, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Standard deviation, sqrt(var).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis or axes to reduce (None: all of them).
        keepdims: keep the reduced axes, with length 1.
        ddof: delta degrees of freedom: the sum of squares is divided by n - ddof.

    Returns:
        The standard deviation, a new tensor.
    """
    return sqrt(var(x, axis, keepdims, ddof))


def _extreme(rule: Rule, reducer: Callable[..., Any], x: TensorLike, axis: Axis,
             keepdims: bool) -> Tensor:
    name = rule.name
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, name)
    if x.size == 0:
        raise ValueError(f"{name} of an empty tensor (shape {x.shape}) has no value")
    kept = reducer(x.data, axis=axes, keepdims=True)
    data = kept if keepdims else kept.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def d_extreme(g, out, x):
        # The gradient goes to the entries equal to the result, split evenly
        # between ties (as PyTorch's amax/amin).
        winners = x.data == kept
        # Without ties (the usual case; one count over the whole mask tells)
        # the share is the mask itself.
        if np.count_nonzero(winners) == kept.size:
            share = winners.astype(g.dtype)
        else:
            share = (winners / winners.sum(axis=axes, keepdims=True)).astype(g.dtype)
        return expand_back(g, x.shape, axes, keepdims) * Tensor._wrap(share)
    return record(rule, data, (x,), d_extreme)


def max(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Largest value over ``axis`` (values only; see argmax).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis or axes to reduce (None: all of them).
        keepdims: keep the reduced axes, with length 1.

    Returns:
        The largest values, a new tensor.
    """
    return _extreme(MAX, np.max, x, axis, keepdims)


MAX = declare(max, forward="max(x)", inputs="x",
              derivative="g at the largest entries (split evenly between ties)", vjp=PER_CALL)


def min(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Smallest value over ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis or axes to reduce (None: all of them).
        keepdims: keep the reduced axes, with length 1.

    Returns:
        The smallest values, a new tensor.
    """
    return _extreme(MIN, np.min, x, axis, keepdims)


MIN = declare(min, forward="min(x)", inputs="x",
              derivative="g at the smallest entries (split evenly between ties)", vjp=PER_CALL)


def argmax(x: TensorLike, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (int64, no gradient).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis to search (None: the flattened tensor).
        keepdims: keep the reduced axes, with length 1.

    Returns:
        An int64 tensor of indices.
    """
    x = as_tensor(x)
    return Tensor._wrap(np.argmax(x.data, axis=axis, keepdims=keepdims))


def argmin(x: TensorLike, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest value (int64, no gradient).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis to search (None: the flattened tensor).
        keepdims: keep the reduced axes, with length 1.

    Returns:
        An int64 tensor of indices.
    """
    x = as_tensor(x)
    return Tensor._wrap(np.argmin(x.data, axis=axis, keepdims=keepdims))


def logsumexp(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log(Σ e^x) computed without overflow.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis or axes to reduce (None: all of them).
        keepdims: keep the reduced axes, with length 1.

    Returns:
        A new tensor.
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    shift = np.max(x.data, axis=axes, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0)   # all -inf stays -inf
    with np.errstate(divide="ignore"):
        kept = np.log(np.sum(np.exp(x.data - shift), axis=axes, keepdims=True)) + shift
    data = kept if keepdims else kept.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def d_logsumexp(g, out, x):
        out_b = expand_back(out, x.shape, axes, keepdims)
        return expand_back(g, x.shape, axes, keepdims) * exp(x - out_b)
    return record(LOGSUMEXP, data, (x,), d_logsumexp)


LOGSUMEXP = declare(logsumexp, forward="logsumexp(x)", inputs="x",
                    derivative="g·e^(x - out) = g·softmax(x)", vjp=PER_CALL)


def l2_loss(x: TensorLike) -> Tensor:
    """½·Σ x², the L2 penalty of a weight (TensorFlow's ``tf.nn.l2_loss``), as
    one op: one dot product forward, one multiply backward.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A 0-d tensor of ``x``'s dtype.
    """
    x = as_tensor(x)
    flat = x.data.reshape(-1)
    return record(L2_LOSS, np.asarray(0.5 * np.dot(flat, flat), dtype=x.dtype), (x,))


def d_l2_loss(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g * x


def d_l2_loss_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                     x: np.ndarray) -> ArrayGrads:
    return g * x


L2_LOSS = declare(l2_loss, forward="½·Σ x²", derivative="x", elementwise=True,
                  vjp=d_l2_loss, array_vjp=d_l2_loss_arrays)


def prod(x: TensorLike, axis: Axis = None, keepdims: bool = False,
         dtype: DTypeLike | None = None) -> Tensor:
    """Product over ``axis`` (``dtype``: cast first, as ``keras.ops.prod``). The
    gradient of each entry is the product of the others (computed without
    dividing, so it is exact where entries are 0).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis or axes to reduce (None: all of them).
        keepdims: keep the reduced axes, with length 1.
        dtype: cast ``x`` to this dtype first.

    Returns:
        The product, a new tensor.
    """
    x = as_tensor(x)
    if dtype is not None:
        x = x.astype(dtype)
    axes = normalize_axes(axis, x.ndim, "prod")
    data = np.asarray(np.prod(x.data, axis=axes, keepdims=keepdims))
    kept = [a for a in range(x.ndim) if a not in axes]
    order = kept + list(axes)                  # the reduced axes last ...
    inverse = list(np.argsort(order))
    moved_shape = tuple(x.shape[a] for a in order)
    n = math.prod(x.shape[a] for a in axes)    # ... and folded into one of length n

    def d_prod(g, out, x):
        rows = reshape(transpose(x, order), moved_shape[:len(kept)] + (n,))
        eye = np.eye(n, dtype=bool)
        # others[..., i] = Π_j≠i x_j: the product of each row with x_i set to 1
        others = prod(where(eye, 1, expand_dims(rows, -2)), axis=-1)
        others = transpose(reshape(others, moved_shape), inverse)
        return expand_back(g, x.shape, axes, keepdims) * others

    def d_prod_arrays(needs, g, out, x):
        rows = np.transpose(x, order).reshape(moved_shape[:len(kept)] + (n,))
        before = np.ones_like(rows)               # Π of the entries before i ...
        np.cumprod(rows[..., :-1], axis=-1, out=before[..., 1:])
        after = np.ones_like(rows)                # ... times Π of those after it
        np.cumprod(rows[..., :0:-1], axis=-1, out=after[..., -2::-1])
        others = np.transpose((before * after).reshape(moved_shape), inverse)
        return expand_back_array(g, x.shape, axes, keepdims) * others
    return record(PROD, data, (x,), d_prod, d_prod_arrays)


PROD = declare(prod, forward="Π x", inputs="x", derivative="g · Π of the other entries",
               vjp=PER_CALL, array_vjp=PER_CALL)


def clip_by_norm(t: TensorLike, clip_norm: float, axes: Axis = None) -> Tensor:
    """``t`` scaled down so its L2 norm over ``axes`` is at most ``clip_norm``
    (TensorFlow's ``tf.clip_by_norm``): t·clip_norm / max(‖t‖, clip_norm).
    Built from differentiable ops; at t = 0 the norm is taken as 0 with a zero
    gradient, as TensorFlow does, instead of dividing by it.

    Args:
        t: a tensor, or anything ``cr.tensor`` takes.
        clip_norm: the largest norm allowed (>= 0).
        axes: the axes the norm is taken over (None: all).

    Returns:
        A tensor of ``t``'s shape.
    """
    t = as_tensor(t)
    if clip_norm < 0:
        raise ValueError(f"clip_by_norm: clip_norm must be >= 0, got {clip_norm}")
    squares = sum(t * t, axis=axes, keepdims=True)
    positive = squares.data > 0
    norm = where(positive, sqrt(where(positive, squares, 1)), squares)
    return t * clip_norm / maximum(norm, clip_norm)
