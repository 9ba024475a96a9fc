"""Vector and matrix norms, as ``numpy.linalg.norm`` (and ``torch.linalg.norm``)."""
from __future__ import annotations

import numbers
from typing import Union

import numpy as np

from ..ops import abs as abs_
from ..ops import max as max_
from ..ops import min as min_
from ..ops import reshape, transpose, where
from ..ops import sum as sum_
from ..ops.shaping import normalize_axes
from ..rules import PER_CALL, declare
from ..tensor import Tensor, record
from ..typing import Axis, TensorLike
from ._util import as_float_tensor
from .decompositions import svd

__all__ = ["norm"]

Ord = Union[int, float, str, None]     # 2, np.inf, "fro", "nuc"...


def _l2(x: Tensor, axes: tuple[int, ...], keepdims: bool) -> Tensor:
    """sqrt(Σ x²) over ``axes``.   Gradient x / ‖x‖, taken as 0 at x = 0 (a
    subgradient, as PyTorch), where the formula would divide by zero."""
    data = np.sqrt(np.sum(x.data * x.data, axis=axes, keepdims=keepdims))

    def d_l2(g: Tensor, out: Tensor, x: Tensor) -> Tensor:
        if not keepdims:
            shape = list(x.shape)
            for a in axes:
                shape[a] = 1
            g, out = reshape(g, shape), reshape(out, shape)
        zero = out.data == 0
        return g * x / where(zero, 1.0, out) * (~zero)
    return record(NORM, data, (x,), d_l2)


def norm(x: TensorLike, ord: Ord = None, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """The norm of a vector or matrix, with NumPy's arguments.

    - ``axis=None``: with ``ord=None`` the 2-norm of all entries (Frobenius
      for a matrix); otherwise ``x`` must be 1-D (vector norm) or 2-D
      (matrix norm).
    - ``axis=int``: vector norms along that axis; ``ord`` in {None, 2, 1,
      inf, -inf, 0, any p}: (Σ|x_i|^p)^(1/p), max|x_i|, min|x_i|, number of
      non-zeros.
    - ``axis=(r, c)``: matrix norms; ``ord`` in {None, 'fro', 'nuc', 1, -1,
      2, -2, inf, -inf}: Frobenius, sum of singular values, max/min column
      sum of |x|, largest/smallest singular value, max/min row sum.

    Args:
        x: a vector, a matrix or a stack of them.
        ord: the order (see above); None is the 2-norm or Frobenius.
        axis: None, one axis (vector norms) or a pair (matrix norms).
        keepdims: keep the reduced axes with size 1.

    Returns:
        The norms, with the reduced axes removed (or kept as 1).

    Example:

    >>> norm(cr.tensor([[3., 0.], [0., 4.]]), axis=1)         # one 2-norm per row
    tensor([3., 4.])

    >>> norm(cr.tensor([3., 4.]))
    tensor(5.)
    """
    x = as_float_tensor(x)
    if axis is None:
        if ord is None:
            return _l2(x, tuple(range(x.ndim)), keepdims)
        if x.ndim not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} without axis needs a 1-D or 2-D input, got "
                             f"shape {x.shape}; pass axis= (an int for vector norms, a pair "
                             f"for matrix norms)")
        axis = tuple(range(x.ndim))
    axis = (axis,) if isinstance(axis, (int, numbers.Integral)) else tuple(axis)
    # Each axis on its own: for a matrix norm the order says which are rows.
    axes = tuple(normalize_axes(a, x.ndim, "norm")[0] for a in axis)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError(f"norm: the two axes of a matrix norm must differ, got {axis}")
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"norm: axis must be None, an int or a pair of ints, got {axis}")


def _vector_norm(x: Tensor, ord: Ord, axes: tuple[int, ...], keepdims: bool) -> Tensor:
    if ord is None or ord == 2:
        return _l2(x, axes, keepdims)
    if ord == np.inf:
        return max_(abs_(x), axis=axes, keepdims=keepdims)
    if ord == -np.inf:
        return min_(abs_(x), axis=axes, keepdims=keepdims)
    if ord == 0:       # a count: no gradient
        return Tensor(np.sum(x.data != 0, axis=axes, keepdims=keepdims).astype(x.dtype))
    if ord == 1:
        return sum_(abs_(x), axis=axes, keepdims=keepdims)
    if isinstance(ord, numbers.Number) and not isinstance(ord, (bool, str)):
        return sum_(abs_(x) ** ord, axis=axes, keepdims=keepdims) ** (1.0 / ord)
    raise ValueError(f"norm: invalid ord {ord!r} for a vector norm; use None, 2, 1, inf, "
                     f"-inf, 0 or a number p")


def _matrix_norm(x: Tensor, ord: Ord, axes: tuple[int, ...], keepdims: bool) -> Tensor:
    r, c = axes
    if ord is None or ord == "fro":
        return _l2(x, axes, keepdims)
    if ord in (1, -1, np.inf, -np.inf):
        # 1: the largest column sum (sum over rows first); inf: the largest row sum.
        inner, outer = (r, c) if ord in (1, -1) else (c, r)
        sums = sum_(abs_(x), axis=inner, keepdims=True)
        pick = max_ if ord in (1, np.inf) else min_
        out = pick(sums, axis=outer, keepdims=True)
    elif ord in ("nuc", 2, -2):
        others = [a for a in range(x.ndim) if a not in axes]
        s = svd(transpose(x, others + [r, c])).S            # (..., k), descending
        out = (sum_(s, axis=-1) if ord == "nuc" else s[..., 0] if ord == 2 else s[..., -1])
        shape = [1 if a in axes else x.shape[a] for a in range(x.ndim)]
        out = reshape(out, shape)
    else:
        raise ValueError(f"norm: invalid ord {ord!r} for a matrix norm; use None, 'fro', "
                         f"'nuc', 1, -1, 2, -2, inf or -inf")
    if not keepdims:
        out = reshape(out, [x.shape[a] for a in range(x.ndim) if a not in axes])
    return out


NORM = declare(norm, forward="‖x‖", inputs="x", derivative="g·x/‖x‖ (0 at x = 0)",
               vjp=PER_CALL)
