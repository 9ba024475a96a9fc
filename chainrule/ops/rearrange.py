"""Ops that move, copy or mask entries without arithmetic: flip, roll, tile,
repeat, tril, triu (NumPy's meanings, as ``keras.ops`` and ``torch``).

Each gradient puts every output entry's gradient back where that entry came
from: a flip or roll undone, the copies of tile/repeat summed, the masked-out
triangle zero.
"""
from __future__ import annotations

import numbers

from typing import Sequence

import numpy as np

from ..errors import ShapeError
from ..rules import PER_CALL, declare
from ..tensor import Tensor, as_tensor, record
from ..typing import Axis, TensorLike
from .index import scatter_add
from .reduce import sum as reduce_sum
from .shaping import normalize_axes, reshape

__all__ = ["flip", "roll", "tile", "repeat", "tril", "triu"]


# --------------------------------------------------------------------------
# flip and roll: a permutation of the entries, undone by the gradient
# --------------------------------------------------------------------------
def flip(x: TensorLike, axis: Axis = None) -> Tensor:
    """``x`` reversed along ``axis`` (every axis when None).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis or axes reversed (None: all).

    Returns:
        A new tensor.
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "flip")
    data = np.flip(x.data, axes).copy()

    def d_flip(g, out, x):
        return flip(g, axes)

    def d_flip_arrays(needs, g, out, x):
        return np.flip(g, axes).copy()
    return record(FLIP, data, (x,), d_flip, d_flip_arrays)


FLIP = declare(flip, forward="flip(x)", inputs="x", derivative="flip(g)",
               vjp=PER_CALL, array_vjp=PER_CALL)


def roll(x: TensorLike, shift: int | Sequence[int], axis: Axis = None) -> Tensor:
    """Entries shifted by ``shift`` along ``axis``, wrapping around (the
    flattened array when ``axis`` is None), as ``np.roll``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        shift: how far (one per axis when ``axis`` is a sequence).
        axis: the axis or axes (None: the flattened tensor).

    Returns:
        A new tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    data = np.roll(x.data, shift, axis)
    back = (-np.asarray(shift)).tolist()

    def d_roll(g, out, x):
        return roll(g, back, axis)

    def d_roll_arrays(needs, g, out, x):
        return np.roll(g, back, axis)
    return record(ROLL, data, (x,), d_roll, d_roll_arrays)


ROLL = declare(roll, forward="roll(x, shift)", inputs="x", derivative="roll(g, -shift)",
               vjp=PER_CALL, array_vjp=PER_CALL)


# --------------------------------------------------------------------------
# tile and repeat: copies, whose gradients are summed
# --------------------------------------------------------------------------
def tile(x: TensorLike, repeats: int | Sequence[int]) -> Tensor:
    """``x`` repeated ``repeats`` times along each axis (``np.tile``).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        repeats: how many copies along each axis.

    Returns:
        A new tensor.
    """
    x = as_tensor(x)
    # (mypy does not know that int is a numbers.Integral)
    reps: tuple[int, ...] = (repeats,) if isinstance(repeats, numbers.Integral) else tuple(int(r) for r in repeats)  # type: ignore[assignment,union-attr]
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: repeats must be >= 0, got {repeats!r}")
    data = np.tile(x.data, reps)
    ndim = max(len(reps), x.ndim)
    reps = (1,) * (ndim - len(reps)) + reps
    sizes = (1,) * (ndim - x.ndim) + x.shape
    # The output as (r0, n0, r1, n1, ...): the copies sit on the even axes.
    split = tuple(v for pair in zip(reps, sizes) for v in pair)
    copy_axes = tuple(range(0, 2 * ndim, 2))

    def d_tile(g, out, x):
        return reshape(reduce_sum(reshape(g, split), axis=copy_axes), x.shape)

    def d_tile_arrays(needs, g, out, x):
        return g.reshape(split).sum(axis=copy_axes).reshape(x.shape)
    return record(TILE, data, (x,), d_tile, d_tile_arrays)


TILE = declare(tile, forward="tile(x, reps)", inputs="x", derivative="Σ of g over the copies",
               vjp=PER_CALL, array_vjp=PER_CALL)


def repeat(x: TensorLike, repeats: int | Sequence[int], axis: int | None = None) -> Tensor:
    """Each entry repeated ``repeats`` times along ``axis`` (``np.repeat``;
    the flattened array when ``axis`` is None). ``repeats``: an int, or one
    count per entry along ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        repeats: how many times each entry (one count, or one per entry along ``axis``).
        axis: the axis (None: the flattened tensor).

    Returns:
        A new tensor.
    """
    x = as_tensor(x)
    counts = np.asarray(repeats.data if isinstance(repeats, Tensor) else repeats)
    if counts.dtype.kind not in "iu" or (counts < 0).any():
        raise ValueError(f"repeat: repeats must be non-negative integers, got {repeats!r}")
    source = x.data.reshape(-1) if axis is None else x.data
    ax = 0 if axis is None else normalize_axes(axis, x.ndim, "repeat")[0]
    try:
        data = np.repeat(source, counts, axis=ax)
    except ValueError:
        raise ShapeError(f"repeat: {counts.size} counts for an axis of size "
                         f"{source.shape[ax]}; give one int or one count per entry") from None
    flat_shape = source.shape
    if counts.ndim == 0 or counts.size == 1:
        # The same count r everywhere: the copies sit on a new axis after
        # ``ax``, (..., n, r, ...), and one sum puts them back.
        split = flat_shape[:ax + 1] + (int(counts.reshape(())),) + flat_shape[ax + 1:]

        def d_repeat(g, out, x):
            return reshape(reduce_sum(reshape(g, split), axis=ax + 1), x.shape)

        def d_repeat_arrays(needs, g, out, x):
            return g.reshape(split).sum(axis=ax + 1).reshape(x.shape)
        return record(REPEAT, data, (x,), d_repeat, d_repeat_arrays)
    # Which input entry each output entry copies, along the axis.
    origin = np.repeat(np.arange(source.shape[ax]), counts)
    index = (slice(None),) * ax + (origin,)

    def d_repeat_counts(g, out, x):
        return reshape(scatter_add(g, index, flat_shape), x.shape)

    def d_repeat_counts_arrays(needs, g, out, x):
        dx = np.zeros(flat_shape, g.dtype)
        np.add.at(dx, index, g)
        return dx.reshape(x.shape)
    return record(REPEAT, data, (x,), d_repeat_counts, d_repeat_counts_arrays)


REPEAT = declare(repeat, forward="repeat(x, n)", inputs="x",
                 derivative="Σ of g over each entry's copies", vjp=PER_CALL, array_vjp=PER_CALL)


# --------------------------------------------------------------------------
# tril and triu: a fixed mask on the last two axes
# --------------------------------------------------------------------------
def tril(x: TensorLike, k: int = 0) -> Tensor:
    """The lower triangle of the last two axes: entries above diagonal ``k`` set to 0.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        k: the diagonal (0 the main one, > 0 above it).

    Returns:
        A new tensor of ``x``'s shape.
    """
    x = _check_matrix(x, "tril")

    def d_tril(g, out, x):
        return tril(g, k)

    def d_tril_arrays(needs, g, out, x):
        return np.tril(g, k)
    return record(TRIL, np.tril(x.data, k), (x,), d_tril, d_tril_arrays)


def triu(x: TensorLike, k: int = 0) -> Tensor:
    """The upper triangle of the last two axes: entries below diagonal ``k`` set to 0.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        k: the diagonal (0 the main one, > 0 above it).

    Returns:
        A new tensor of ``x``'s shape.
    """
    x = _check_matrix(x, "triu")

    def d_triu(g, out, x):
        return triu(g, k)

    def d_triu_arrays(needs, g, out, x):
        return np.triu(g, k)
    return record(TRIU, np.triu(x.data, k), (x,), d_triu, d_triu_arrays)


def _check_matrix(x: TensorLike, op: str) -> Tensor:
    x = as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"{op}: needs at least 2 dimensions (a matrix), got shape {x.shape}")
    return x


TRIL = declare(tril, forward="tril(x, k)", inputs="x", derivative="tril(g, k)",
               vjp=PER_CALL, array_vjp=PER_CALL)
TRIU = declare(triu, forward="triu(x, k)", inputs="x", derivative="triu(g, k)",
               vjp=PER_CALL, array_vjp=PER_CALL)
