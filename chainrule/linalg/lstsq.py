"""Least squares four ways: minimise ‖A x - b‖² over x.

- 'qr' (default): A = Q R, then R x = Qᵀ b by back substitution. Works with
  A itself, so it loses about cond(A)·eps of accuracy.
- 'normal': the normal equations Aᵀ A x = Aᵀ b. Simple and fast, but Aᵀ A
  has condition number cond(A)², so about twice the digits are lost.
- 'cholesky': the normal equations solved through Aᵀ A = L Lᵀ (two
  triangular solves): as fast, and as imprecise, as 'normal'.
- 'svd': A = U S Vᵀ, x = V S⁺ Uᵀ b, singular values below rcond·s_max
  dropped: the minimum-norm solution, also for rank-deficient A.

Each is composed of the differentiable functions of this package, so the
solution is differentiable with respect to A and b.
"""
from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np

from ..errors import ShapeError
from ..ops import reshape, where
from ..ops import sum as sum_
from ..tensor import Tensor
from ..typing import TensorLike
from ._util import as_float_tensor, check_matrix, mT
from .decompositions import cholesky, qr, svd
from .solvers import solve, solve_triangular

__all__ = ["LstsqResult", "PrecisionWarning", "lstsq"]


class PrecisionWarning(UserWarning):
    """A computation is about to lose more digits than it needs to."""


LstsqResult = namedtuple("LstsqResult", ["solution", "residuals", "rank", "singular_values", "cond"])
LstsqResult.__doc__ = """The result of :func:`lstsq`.

solution: the x of shape (n,) or (n, k) (a Tensor, differentiable);
residuals: ‖A x - b‖² per column, shape (1,) for a 1-D b or (k,), and empty
    when A is rank-deficient or not tall (m <= n), as NumPy (a Tensor);
rank: the numerical rank of A (singular values above rcond·s_max);
singular_values: those of A, descending (a NumPy array);
cond: the 2-norm condition number s_max / s_min (inf when singular)."""

METHODS = ("qr", "normal", "svd", "cholesky")


def lstsq(A: TensorLike, b: TensorLike, method: str = "qr",
          rcond: float | None = None) -> LstsqResult:
    """Least-squares solution of A x ≈ b, returned as a named tuple
    ``(solution, residuals, rank, singular_values, cond)`` like
    ``numpy.linalg.lstsq`` (plus ``cond``).

    A is (m, n); b is (m,) or (m, k). ``rcond`` (default eps·max(m, n), as
    NumPy) sets the numerical rank: singular values at or below
    rcond·s_max count as zero. With method 'normal' or 'cholesky' a
    :class:`PrecisionWarning` is issued when cond(A)²·eps > sqrt(eps), i.e.
    when the normal equations would lose more than half of the digits.

    Args:
        A: the matrix (m, n).
        b: the right-hand side (m,) or (m, k).
        method: ``"qr"`` (default), ``"normal"``, ``"cholesky"`` or ``"svd"``.
        rcond: singular values at or below ``rcond·s_max`` count as zero;
            None means eps·max(m, n).

    Returns:
        ``LstsqResult(solution, residuals, rank, singular_values, cond)``.

    >>> x = lstsq([[1., 0.], [1., 1.], [1., 2.]], [1., 2., 4.]).solution
    >>> x.numpy().round(4)                  # the best line through 3 points: 5/6 + 3/2 t
    array([0.8333, 1.5   ], dtype=float32)
    """
    if method not in METHODS:
        raise ValueError(f"lstsq: method must be one of {', '.join(map(repr, METHODS))}, "
                         f"got {method!r}")
    A, b = as_float_tensor(A), as_float_tensor(b)
    check_matrix(A, "lstsq", batched=False)
    m, n = A.shape
    if b.ndim not in (1, 2) or b.shape[0] != m:
        raise ShapeError(f"lstsq: b must have shape ({m},) or ({m}, k) to match the {m} rows "
                         f"of A (shape {A.shape}); got {b.shape}")
    dtype = np.result_type(A.dtype, b.dtype)
    eps = np.finfo(dtype).eps

    # Diagnostics from the singular values: they say how hard the problem is.
    s = np.linalg.svd(A.data, compute_uv=False)
    if rcond is None:
        rcond = eps * max(m, n)
    cutoff = rcond * (s[0] if s.size else 0.0)
    rank = int(np.sum(s > cutoff))
    cond = float(s[0] / s[-1]) if s.size and s[-1] > 0 else float("inf")

    if method in ("normal", "cholesky") and cond ** 2 * eps > np.sqrt(eps):
        warnings.warn(
            f"lstsq(method={method!r}): A has condition number {cond:.3g}, so the normal "
            f"equations (AᵀA has condition number {cond ** 2:.3g}) lose about "
            f"{np.log10(cond ** 2):.0f} significant digits ({dtype} carries about "
            f"{-np.log10(eps):.0f}); use method='qr' (or 'svd'), which works with A itself",
            PrecisionWarning, stacklevel=2)
    if method != "svd" and rank < n:
        raise np.linalg.LinAlgError(
            f"lstsq(method={method!r}): A (shape {A.shape}) has rank {rank} < {n} columns, "
            f"so the least-squares solution is not unique; use method='svd' for the "
            f"minimum-norm solution")

    if method == "qr":
        Q, R = qr(A)
        x = solve_triangular(R, mT(Q) @ b, lower=False)
    elif method == "normal":
        x = solve(mT(A) @ A, mT(A) @ b)
    elif method == "cholesky":
        L = cholesky(mT(A) @ A)
        y = solve_triangular(L, mT(A) @ b, lower=True)
        x = solve_triangular(mT(L), y, lower=False)
    else:
        U, S, Vh = svd(A)
        keep = S.data > cutoff
        # 1/s for the kept values, 0 for the others (1 stands in for them
        # first, so no infinity enters the graph).
        s_inv = where(keep, 1.0 / where(keep, S, 1.0), 0.0)
        Utb = mT(U) @ b
        x = mT(Vh) @ (s_inv * Utb if b.ndim == 1 else s_inv[:, None] * Utb)

    if rank == n and m > n:
        r = A @ x - b
        residuals = sum_(r * r, axis=0)
        if b.ndim == 1:
            residuals = reshape(residuals, (1,))
    else:
        residuals = Tensor(np.zeros((0,), dtype=x.dtype))
    return LstsqResult(x, residuals, rank, s, cond)
