"""Indexing: ``x[index]`` and its mirror image, scattering a gradient back.

``getitem`` picks entries; its derivative puts the gradient back where the
entries came from, adding where an index repeats (``x[[0, 0]]`` sends two
gradients to ``x[0]``). That "put back" is itself an op, ``scatter_add``,
whose derivative is ``getitem`` again: the pair differentiate each other.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import IndexedGrad
from ..rules import PER_CALL, declare
from ..tensor import Tensor, as_tensor, record
from ..typing import TensorLike

__all__ = ["getitem", "scatter_add", "take"]


def _normalize_index(index):
    """Tensors become arrays; boolean masks become integer positions."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for part in index:
        if isinstance(part, Tensor):
            part = part.data
        if isinstance(part, list):
            part = np.asarray(part)
        if isinstance(part, np.ndarray) and part.dtype == bool:
            out.extend(np.nonzero(part))
            continue
        if isinstance(part, np.ndarray) and part.dtype.kind not in "iu":
            raise IndexError(f"tensor indices must be integers or booleans, got {part.dtype}")
        out.append(part)
    return tuple(out)


def _is_basic(index):
    """Basic indexing (ints, slices, None, ...) never repeats an element."""
    return not any(isinstance(p, np.ndarray) and p.ndim > 0 for p in index)


def getitem(x: TensorLike, index: Any) -> Tensor:
    """``x[index]`` with slices, ints, None, ..., integer arrays and masks.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        index: what ``numpy.ndarray.__getitem__`` takes (tensors allowed for arrays and
            masks).

    Returns:
        A new tensor of the selected entries.
    """
    x = as_tensor(x)
    index = _normalize_index(index)
    try:
        data = x.data[index]
    except IndexError as e:
        raise IndexError(f"index {index} does not fit a tensor of shape {x.shape}: {e}") from None

    def d_getitem(g, out, x):
        return scatter_add(g, index, x.shape)

    def d_getitem_arrays(needs, g, out, x):
        return IndexedGrad(index, g, _is_basic(index))   # added in place by the traversal
    return record(GETITEM, np.asarray(data), (x,), d_getitem, d_getitem_arrays)


GETITEM = declare(getitem, forward="x[i]", inputs="x",
                  derivative="g scattered back to the entries at i (added where i repeats)",
                  vjp=PER_CALL, array_vjp=PER_CALL)


def scatter_add(values: TensorLike, index: Any, shape: Sequence[int]) -> Tensor:
    """A zero tensor of ``shape`` with ``values`` added at ``index``.

    Args:
        values: the values to add.
        index: where they go, as for ``getitem``.
        shape: the shape of the result.

    Returns:
        A new tensor of ``shape``.
    """
    values = as_tensor(values)
    index = _normalize_index(index)
    data = np.zeros(shape, dtype=values.dtype)
    if _is_basic(index):
        data[index] = values.data
    else:
        np.add.at(data, index, values.data)

    def d_scatter_add(g, out, values):
        return getitem(g, index)
    return record(SCATTER_ADD, data, (values,), d_scatter_add)


SCATTER_ADD = declare(scatter_add, forward="scatter_add(v)", inputs="v", derivative="g[i]",
                      vjp=PER_CALL)


def take(x: TensorLike, indices: TensorLike, axis: int | None = None) -> Tensor:
    """Entries of ``x`` at integer ``indices`` along ``axis`` (flattened if None).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        indices: integer positions.
        axis: the axis they index (None: the flattened tensor).

    Returns:
        A new tensor.
    """
    x = as_tensor(x)
    indices = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if axis is None:
        from .shaping import reshape
        return getitem(reshape(x, -1), indices)
    axis = axis % x.ndim
    return getitem(x, (slice(None),) * axis + (indices,))
