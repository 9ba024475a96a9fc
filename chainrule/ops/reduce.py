"""Reductions: sum, mean, var, std, max, min, argmax, logsumexp.

A reduction's derivative spreads the gradient back over the axes it
reduced: evenly for a sum (each input counted once), divided by n for a
mean, only onto the winning entries for max/min.
"""
import math

import numpy as np

from ..graph import STATE
from ..tensor import Tensor, as_tensor, record
from .elementwise import exp, sqrt
from .shape import broadcast_to, normalize_axes, reshape

__all__ = ["sum", "mean", "var", "std", "max", "min", "argmax", "argmin", "logsumexp"]


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def expand_back(g, shape, axes, keepdims):
    """Broadcast a reduced gradient back to the input's ``shape``."""
    if not STATE.grad_enabled:
        # An ordinary backward: a NumPy broadcast view, no graph to record.
        gd = g.data
        if gd.size == 1:                 # a full reduction: one value everywhere
            full = np.empty(shape, dtype=gd.dtype)
            full.fill(gd.reshape(()))    # (np.full is a Python function: 3x slower here)
            return Tensor._wrap(full)
        if not keepdims:
            gd = gd.reshape(_kept_shape(shape, axes))
        return Tensor._wrap(np.broadcast_to(gd, shape))
    if not keepdims and g.ndim:      # a 0-d gradient broadcasts as it is
        g = reshape(g, _kept_shape(shape, axes))
    return broadcast_to(g, shape)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    """Sum over ``axis``.      d/dx_i = 1 for every summed entry"""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "sum")
    data = np.add.reduce(x.data, axis=axes, keepdims=keepdims)

    def d_sum(g, out, x):
        return expand_back(g, x.shape, axes, keepdims)
    return record("sum", data, (x,), d_sum)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``.     d/dx_i = 1/n"""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    count = math.prod(x.shape[a] for a in axes)
    data = np.true_divide(np.add.reduce(x.data, axis=axes, keepdims=keepdims), count)

    def d_mean(g, out, x):
        if not STATE.grad_enabled:
            return expand_back(Tensor._wrap(g.data / g.data.dtype.type(count)), x.shape, axes,
                               keepdims)
        return expand_back(g / count, x.shape, axes, keepdims)
    return record("mean", data, (x,), d_mean)


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance (``ddof=0`` as NumPy), built from mean, subtract and sum."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "var")
    count = math.prod(x.shape[a] for a in axes)
    centered = x - mean(x, axes, keepdims=True)
    return sum(centered * centered, axes, keepdims) / (count - ddof)


def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation, sqrt(var)."""
    return sqrt(var(x, axis, keepdims, ddof))


def _extreme(name, reducer, x, axis, keepdims):
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
    return record(name, data, (x,), d_extreme)


def max(x, axis=None, keepdims=False):  # noqa: A001
    """Largest value over ``axis`` (values only; see argmax).   d/dx = 1 at the max"""
    return _extreme("max", np.max, x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    """Smallest value over ``axis``.   d/dx = 1 at the min"""
    return _extreme("min", np.min, x, axis, keepdims)


def argmax(x, axis=None, keepdims=False):
    """Index of the largest value (int64, no gradient)."""
    x = as_tensor(x)
    return Tensor._wrap(np.argmax(x.data, axis=axis, keepdims=keepdims))


def argmin(x, axis=None, keepdims=False):
    """Index of the smallest value (int64, no gradient)."""
    x = as_tensor(x)
    return Tensor._wrap(np.argmin(x.data, axis=axis, keepdims=keepdims))


def logsumexp(x, axis=None, keepdims=False):
    """log(Σ e^x) computed without overflow.   d/dx = e^(x - out) = softmax(x)"""
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
    return record("logsumexp", data, (x,), d_logsumexp)
