"""Scans and orderings: cumsum, sort, top_k.

``cumsum``'s gradient is the running sum taken from the other end
(reversed cumsum of g). ``sort`` and ``top_k`` only move entries, so each
entry's gradient goes back to where it came from; their integer outputs
(``top_k``'s indices) are plain tensors that carry no gradient, as in
PyTorch and Keras.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..errors import ShapeError
from ..rules import PER_CALL, declare
from ..tensor import Tensor, as_tensor, record
from ..typing import DTypeLike, TensorLike
from .index import scatter_add
from .rearrange import flip
from .shaping import normalize_axes, reshape

__all__ = ["cumsum", "sort", "top_k"]


def cumsum(x: TensorLike, axis: int | None = None, dtype: DTypeLike | None = None) -> Tensor:
    """Running sum along ``axis`` (of the flattened tensor when None), as
    ``np.cumsum`` / ``keras.ops.cumsum``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis summed along (None: the flattened tensor).
        dtype: cast ``x`` to this dtype first.

    Returns:
        A new tensor.

    >>> cr.cumsum(cr.tensor([1.0, 2.0, 3.0])).numpy()
    array([1., 3., 6.], dtype=float32)
    """
    x = as_tensor(x)
    if dtype is not None and np.dtype(dtype) != x.dtype:
        from .elementwise import astype
        x = astype(x, dtype)
    if axis is None:
        source, ax = x.data.reshape(-1), 0
    else:
        source, ax = x.data, normalize_axes(axis, x.ndim, "cumsum")[0]
    data = np.cumsum(source, axis=ax, dtype=source.dtype)

    def d_cumsum(g, out, x):
        return reshape(flip(cumsum(flip(g, ax), ax), ax), x.shape)

    def d_cumsum_arrays(needs, g, out, x):
        # Σ over j >= i of g_j: the cumsum of the reversed gradient, reversed.
        return np.flip(np.cumsum(np.flip(g, ax), axis=ax), ax).reshape(x.shape)
    return record(CUMSUM, data, (x,), d_cumsum, d_cumsum_arrays)


CUMSUM = declare(cumsum, forward="cumsum(x)", inputs="x",
                 derivative="reversed cumsum of g (Σ_{j≥i} g_j)", vjp=PER_CALL,
                 array_vjp=PER_CALL)


def _along(indices, axis):
    """An index tuple that picks ``indices`` along ``axis`` (take_along_axis)."""
    grids = np.ogrid[tuple(slice(n) for n in indices.shape)]
    return tuple(indices if a == axis else grids[a] for a in range(indices.ndim))


def sort(x: TensorLike, axis: int | None = -1) -> Tensor:
    """``x`` sorted in ascending order along ``axis`` (stable, as ``np.sort``).

    Gradient: each entry's gradient goes back to the position it came from.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis sorted along (None: the flattened tensor).

    Returns:
        A new tensor.
    """
    x = as_tensor(x)
    (ax,) = normalize_axes(axis, x.ndim, "sort")
    order = np.argsort(x.data, axis=ax, kind="stable")
    index = _along(order, ax)
    data = x.data[index]

    def d_sort(g, out, x):
        return scatter_add(g, index, x.shape)

    def d_sort_arrays(needs, g, out, x):
        dx = np.empty_like(g)
        dx[index] = g                  # a permutation: every position written once
        return dx
    return record(SORT, data, (x,), d_sort, d_sort_arrays)


SORT = declare(sort, forward="sort(x)", inputs="x",
               derivative="g put back where each entry came from", vjp=PER_CALL,
               array_vjp=PER_CALL)


def top_k(x: TensorLike, k: int, sorted: bool = True) -> tuple[Tensor, Tensor]:  # noqa: A002  (Keras' and PyTorch's name)
    """The ``k`` largest entries along the last axis and their positions:
    ``(values, indices)``, largest first (as ``keras.ops.top_k``,
    ``torch.topk``; ties go to the lower index). ``indices`` is an int32
    tensor without gradient. ``sorted=False`` is accepted and still returns
    them in order.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        k: how many entries.
        sorted: accepted for compatibility; the entries always come in order.

    Returns:
        ``(values, indices)``, each of shape ``x.shape[:-1] + (k,)``.
    """
    x = as_tensor(x)
    if x.ndim == 0:
        raise ShapeError("top_k: needs at least one axis, got a scalar")
    n = x.shape[-1]
    if not isinstance(k, numbers.Integral) or not 0 <= k <= n:
        raise ValueError(f"top_k: k must be an int in [0, {n}] (the size of the last "
                         f"axis), got {k!r}")
    order = np.argsort(-x.data, axis=-1, kind="stable")[..., :k]
    index = _along(order, x.ndim - 1)
    data = x.data[index]

    def d_top_k(g, out, x):
        return scatter_add(g, index, x.shape)

    def d_top_k_arrays(needs, g, out, x):
        dx = np.zeros(x.shape, g.dtype)
        dx[index] = g                  # distinct positions: a plain assignment
        return dx
    values = record(TOP_K, data, (x,), d_top_k, d_top_k_arrays)
    return values, Tensor._wrap(order.astype(np.int32))


TOP_K = declare(top_k, forward="top_k(x)", inputs="x",
                derivative="g at the k positions picked, 0 elsewhere", vjp=PER_CALL,
                array_vjp=PER_CALL)
