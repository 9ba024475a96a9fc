"""Linear systems and determinants: solve, solve_triangular, inv, det, slogdet.

Each forward calls LAPACK (through NumPy/SciPy); its backward rule sits right
below it, written with chainrule ops (so it can be differentiated again).
The rules are the classic ones (Giles, "An extended collection of matrix
derivative results for forward and reverse mode AD", 2008):

    X = A⁻¹B        B̄ = A⁻ᵀX̄,            Ā = -B̄Xᵀ
    X = A⁻¹         Ā = -XᵀX̄Xᵀ
    d = det A       Ā = d̄ · d · A⁻ᵀ
    l = log|det A|  Ā = l̄ · A⁻ᵀ
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import scipy.linalg

from ..errors import ShapeError
from ..ops import reshape
from ..rules import PER_CALL, declare
from ..tensor import Tensor, record
from ..typing import TensorLike
from ._util import as_float_tensor, check_matrix, mT, tril, triu

__all__ = ["det", "inv", "slogdet", "solve", "solve_triangular"]

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


def _singular(op: str, what: str = "A") -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(
        f"{op}: {what} is singular (not invertible), so the system has no unique "
        f"solution; for a least-squares or minimum-norm answer use "
        f"chainrule.linalg.lstsq(A, b, method='svd')")


def _rhs(A: Tensor, B: Tensor, op: str) -> tuple[Tensor, bool]:
    """B as a matrix (n, k): NumPy's rule, a 1-D B is one right-hand side."""
    if B.ndim == 1:
        if B.shape[0] != A.shape[-1]:
            raise ShapeError(f"{op}: A has shape {A.shape} but b has shape {B.shape}; "
                             f"b needs {A.shape[-1]} entries (one per row of A)")
        return reshape(B, (-1, 1)), True
    if B.shape[-2] != A.shape[-2]:
        raise ShapeError(f"{op}: A has shape {A.shape} but B has shape {B.shape}; B needs "
                         f"{A.shape[-2]} rows (B.shape[-2] must equal A.shape[-2]); a 1-D b is "
                         f"taken as one right-hand side")
    return B, False


def solve(A: TensorLike, B: TensorLike) -> Tensor:
    """The solution X of A X = B for a square, invertible A (LU with pivoting).

    B is (..., n, k), or (n,) for a single right-hand side (NumPy's rule).
    Backward:  B̄ = A⁻ᵀ X̄ (one more solve, with Aᵀ),  Ā = -B̄ Xᵀ.

    Args:
        A: square matrices (..., n, n).
        B: right-hand sides (..., n, k), or (n,) for one.

    Returns:
        X, shaped as B.

    >>> x = solve(cr.tensor([[3., 1.], [1., 2.]]), cr.tensor([9., 8.]))
    >>> x
    tensor([2., 3.])
    """
    A, B = as_float_tensor(A), as_float_tensor(B)
    check_matrix(A, "solve", square=True)
    B, vector = _rhs(A, B, "solve")
    try:
        data = np.linalg.solve(A.data, B.data)
    except np.linalg.LinAlgError:
        raise _singular("solve") from None
    X = record(SOLVE, data, (A, B))
    return reshape(X, (-1,)) if vector else X


def d_solve(g: Tensor, X: Tensor, A: Tensor, B: Tensor) -> tuple[Tensor | None, Tensor | None]:
    """The vjp of ``solve``.

    Args:
        g: the gradient reaching X.
        X: solve's output.
        A: its matrix.
        B: its right-hand sides.

    Returns:
        ``(Ā, B̄)``, None for an input that needs no gradient.
    """
    gB = solve(mT(A), g)
    return (-(gB @ mT(X)) if A.requires_grad else None,
            gB if B.requires_grad else None)


def solve_triangular(A: TensorLike, B: TensorLike, lower: bool = True) -> Tensor:
    """The solution X of A X = B for a triangular A, by substitution.

    Only the triangle named by ``lower`` is read. Backward as ``solve``, with
    Ā kept in that triangle:  B̄ = A⁻ᵀ X̄ (a triangular solve with Aᵀ),
    Ā = tril(-B̄ Xᵀ) (or triu when ``lower=False``).

    Args:
        A: triangular matrices (..., n, n).
        B: right-hand sides (..., n, k), or (n,) for one.
        lower: True reads A's lower triangle, False its upper one.

    Returns:
        X, shaped as B.

    Example:

    >>> solve_triangular(cr.tensor([[2., 0.], [1., 1.]]), cr.tensor([4., 3.]))
    tensor([2., 1.])
    """
    A, B = as_float_tensor(A), as_float_tensor(B)
    check_matrix(A, "solve_triangular", square=True)
    B, vector = _rhs(A, B, "solve_triangular")
    try:
        data = scipy.linalg.solve_triangular(A.data, B.data, lower=lower)
    except np.linalg.LinAlgError:
        raise _singular("solve_triangular", "A (a zero on its diagonal)") from None

    def d_solve_triangular(g: Tensor, X: Tensor, A: Tensor,
                           B: Tensor) -> tuple[Tensor | None, Tensor | None]:
        gB = solve_triangular(mT(A), g, lower=not lower)
        gA: Tensor | None = None
        if A.requires_grad:
            gA = -(gB @ mT(X))
            gA = tril(gA) if lower else triu(gA)
        return gA, (gB if B.requires_grad else None)
    X = record(SOLVE_TRIANGULAR, data, (A, B), d_solve_triangular)
    return reshape(X, (-1,)) if vector else X


def inv(A: TensorLike) -> Tensor:
    """The inverse of a square, invertible matrix.    Ā = -Xᵀ X̄ Xᵀ with X = A⁻¹.

    Solving (``solve``) is cheaper and more accurate than forming the inverse.

    Args:
        A: square matrices (..., n, n).

    Returns:
        A⁻¹, shaped as A.

    Example:

    >>> inv(cr.tensor([[2., 0.], [0., 4.]]))
    tensor([[0.5 , 0.  ],
            [0.  , 0.25]])
    """
    A = as_float_tensor(A)
    check_matrix(A, "inv", square=True)
    try:
        data = np.linalg.inv(A.data)
    except np.linalg.LinAlgError:
        raise _singular("inv") from None
    return record(INV, data, (A,))


def d_inv(g: Tensor, X: Tensor, A: Tensor) -> Tensor:
    """The vjp of ``inv``: ``-Xᵀ g Xᵀ``.

    Args:
        g: the gradient reaching X.
        X: inv's output, A⁻¹.
        A: its input.

    Returns:
        Ā.
    """
    Xt = mT(X)
    return -(Xt @ g @ Xt)


def det(A: TensorLike) -> Tensor:
    """The determinant of each square matrix (LU: the product of U's diagonal,
    times the sign of the row swaps).

    Backward (Jacobi's formula):  Ā = d̄ · det(A) · A⁻ᵀ. It needs A invertible.

    Args:
        A: square matrices (..., n, n).

    Returns:
        The determinants, shape (...).

    Example:

    >>> det(cr.tensor([[2., 1.], [1., 3.]]))
    tensor(5.)
    """
    A = as_float_tensor(A)
    check_matrix(A, "det", square=True)
    return record(DET, np.asarray(np.linalg.det(A.data)), (A,))


def d_det(g: Tensor, d: Tensor, A: Tensor) -> Tensor:
    """The vjp of ``det`` (Jacobi's formula): ``g · d · A⁻ᵀ``.

    Args:
        g: the gradient reaching d.
        d: det's output.
        A: its input.

    Returns:
        Ā.
    """
    scale = reshape(g * d, g.shape + (1, 1))
    return scale * mT(inv(A))


def slogdet(A: TensorLike) -> SlogdetResult:
    """(sign, log|det A|) of each square matrix, without overflow.

    Returns a named tuple ``(sign, logabsdet)`` as NumPy; ``sign`` is a constant
    (its derivative is zero almost everywhere).  Backward:  Ā = l̄ · A⁻ᵀ.

    Args:
        A: square matrices (..., n, n).

    Returns:
        ``SlogdetResult(sign, logabsdet)``, two Tensors of shape (...).

    Example:

    >>> slogdet(cr.tensor([[-2., 0.], [0., 3.]])).sign
    tensor(-1.)
    """
    A = as_float_tensor(A)
    check_matrix(A, "slogdet", square=True)
    sign, logabsdet = np.linalg.slogdet(A.data)

    def d_slogdet(g: Tensor, out: Tensor, A: Tensor) -> Tensor:
        return reshape(g, g.shape + (1, 1)) * mT(inv(A))
    return SlogdetResult(Tensor(np.asarray(sign)),
                         record(SLOGDET, np.asarray(logabsdet), (A,), d_slogdet))


SOLVE = declare(solve, forward="A⁻¹B", derivative=("-A⁻ᵀ g Xᵀ", "A⁻ᵀ g"), vjp=d_solve)
SOLVE_TRIANGULAR = declare(solve_triangular, forward="T⁻¹B", inputs="A B",
                           derivative=("-tri(A⁻ᵀ g Xᵀ)", "A⁻ᵀ g"), vjp=PER_CALL)
INV = declare(inv, forward="A⁻¹", derivative="-Xᵀ g Xᵀ", vjp=d_inv)
DET = declare(det, forward="det(A)", derivative="g·det(A)·A⁻ᵀ", vjp=d_det)
SLOGDET = declare(slogdet, forward="log|det(A)|", inputs="A", derivative="g·A⁻ᵀ", vjp=PER_CALL)
