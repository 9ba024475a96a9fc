"""Small helpers shared by the linear-algebra functions.

Everything here is written with chainrule's own ops, so a backward rule that
uses it stays differentiable (second derivatives through a decomposition).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..errors import ShapeError
from ..ops import einsum, reshape, swapaxes
from ..rules import Rule
from ..tensor import DEFAULT_FLOAT, Tensor, as_tensor, record
from ..typing import TensorLike


def as_float_tensor(x: TensorLike) -> Tensor:
    """A Tensor of floats: float32 and float64 are kept, anything else becomes
    float32 (the house default)."""
    t: Tensor = as_tensor(x)
    if t.dtype.kind != "f":
        t = Tensor(t.data.astype(DEFAULT_FLOAT))
    return t


def check_matrix(x: Tensor, op: str, square: bool = False, batched: bool = True) -> None:
    """Raise a clear ShapeError unless ``x`` is a matrix (or a stack of them)."""
    if x.ndim < 2 or (not batched and x.ndim != 2):
        wanted = "a matrix (..., m, n)" if batched else "a 2-D matrix (m, n)"
        raise ShapeError(f"{op}: expected {wanted}, got shape {x.shape}"
                         + ("; a vector needs reshape(-1, 1) to be a column" if x.ndim == 1 else ""))
    if square and x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"{op}: expected a square matrix, got shape {x.shape} "
                         f"({x.shape[-2]} rows, {x.shape[-1]} columns)")


def mT(x: Tensor) -> Tensor:
    """The last two axes swapped: the (batched) matrix transpose."""
    return swapaxes(x, -1, -2)


def tril(x: Tensor, k: int = 0) -> Tensor:
    """The lower triangle (entries on and below the k-th diagonal), others 0."""
    n, m = x.shape[-2:]
    return x * np.tril(np.ones((n, m), dtype=x.dtype), k)


def triu(x: Tensor, k: int = 0) -> Tensor:
    """The upper triangle (entries on and above the k-th diagonal), others 0."""
    n, m = x.shape[-2:]
    return x * np.triu(np.ones((n, m), dtype=x.dtype), k)


def diagonal(x: Tensor) -> Tensor:
    """The diagonal of each matrix: (..., n, n) -> (..., n)."""
    return einsum("...ii->...i", x)


def diag_embed(v: Tensor) -> Tensor:
    """Vectors onto the diagonals of matrices: (..., n) -> (..., n, n)."""
    n = v.shape[-1]
    return einsum("...i,ij->...ij", v, np.eye(n, dtype=v.dtype))


def eye_like(x: Tensor) -> np.ndarray:
    return np.eye(x.shape[-1], dtype=x.dtype)


def record_many(rule: Rule, arrays: Sequence[np.ndarray], inputs: Sequence[Tensor],
                vjp: Callable[..., tuple[Tensor | None, ...]]) -> tuple[Tensor, ...]:
    """Record one op with several outputs.

    The outputs travel packed in one flat tensor and each one is a slice of it,
    so a gradient that reaches any output flows back into the packed tensor.
    Its vjp unpacks that gradient and calls ``vjp(grads, outs, *inputs)`` with
    one gradient per output (zeros for an output the loss does not use) and
    the outputs themselves as tensors (slices of the packed one, so the rule
    stays differentiable).
    """
    dtype = np.result_type(*arrays)
    shapes = [a.shape for a in arrays]
    bounds = np.cumsum([0] + [a.size for a in arrays])
    packed_data = np.concatenate([np.asarray(a, dtype=dtype).ravel() for a in arrays])

    def unpack(flat):
        return tuple(reshape(flat[int(lo):int(hi)], shape)
                     for lo, hi, shape in zip(bounds[:-1], bounds[1:], shapes))

    def d_packed(g, out, *ins):
        return vjp(unpack(g), unpack(out), *ins)

    packed = record(rule, packed_data, tuple(inputs), d_packed)
    return unpack(packed)
