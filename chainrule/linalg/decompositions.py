"""Matrix decompositions with gradients: cholesky, qr, eigh, svd, lu.

The forward of each is LAPACK (NumPy/SciPy), or one of the readable teaching
algorithms of :mod:`chainrule.linalg.reference` when ``method=`` names one.
The backward rule is written right below, from the literature, with
chainrule ops (so it is differentiable again):

- Cholesky: Murray, "Differentiation of the Cholesky decomposition", 2016.
- QR: Walter & Lehmann 2018; the form used by TensorFlow and PyTorch.
- eigh: Giles 2008, §3.1.
- SVD: Townsend, "Differentiating the singular value decomposition", 2016.
- LU: de Hoog, Anderssen & Lukas 2011; the form used by PyTorch.

Notation: Ā is the gradient of the loss with respect to A, ᵀ transposes the
last two axes, ∘ multiplies entrywise, tril/triu keep a triangle.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import scipy.linalg

from ..graph import is_grad_enabled
from ..ops import concatenate, where
from ..rules import PER_CALL, declare
from ..tensor import Tensor, record
from ..typing import TensorLike
from . import reference
from ._util import (
    as_float_tensor,
    check_matrix,
    diag_embed,
    eye_like,
    mT,
    record_many,
    tril,
    triu,
)
from .solvers import solve_triangular

__all__ = ["cholesky", "eigh", "lu", "qr", "svd"]

QRResult = namedtuple("QRResult", ["Q", "R"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
LUResult = namedtuple("LUResult", ["P", "L", "U"])


def _right_solve_upper(X: Tensor, R: Tensor) -> Tensor:
    """X R⁻ᵀ for an upper-triangular R, as a triangular solve: (R⁻¹ Xᵀ)ᵀ."""
    return mT(solve_triangular(R, mT(X), lower=False))


# --------------------------------------------------------------------------
# Cholesky
# --------------------------------------------------------------------------
def cholesky(A: TensorLike, upper: bool = False) -> Tensor:
    """The lower-triangular L with A = L Lᵀ, for a symmetric positive-definite A.

    ``upper=True`` returns U = Lᵀ instead (A = Uᵀ U). The gradient is taken
    over symmetric matrices (it is symmetric), the standard convention:

        Φ = L⁻ᵀ · ½(P + Pᵀ - diag P) · L⁻¹   with   P = tril(Lᵀ L̄).

    Args:
        A: symmetric positive-definite matrices (..., n, n).
        upper: return U = Lᵀ instead of L.

    Returns:
        L (or U), shaped as A.

    >>> cholesky(cr.tensor([[4., 2.], [2., 5.]]))
    tensor([[2., 0.],
            [1., 2.]])
    """
    A = as_float_tensor(A)
    check_matrix(A, "cholesky", square=True)
    asym = np.abs(A.data - np.swapaxes(A.data, -1, -2)).max(initial=0.0)
    scale = np.abs(A.data).max(initial=0.0)
    if asym > np.sqrt(np.finfo(A.dtype).eps) * max(scale, 1.0):
        raise np.linalg.LinAlgError(
            f"cholesky: the matrix is not symmetric (max |A - Aᵀ| = {asym:.3g}); Cholesky "
            f"needs a symmetric positive-definite matrix, e.g. (A + Aᵀ)/2 or Aᵀ A")
    try:
        data = np.linalg.cholesky(A.data)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(
            "cholesky: the matrix is not positive definite (a pivot was zero or negative, "
            "so it has an eigenvalue <= 0); Cholesky needs a symmetric positive-definite "
            "matrix. Add a small multiple of the identity (A + eps·I), or use eigh or "
            "lu for indefinite matrices") from None
    L = record(CHOLESKY, data, (A,), d_cholesky)
    return mT(L) if upper else L


def d_cholesky(g: Tensor, L: Tensor, A: Tensor) -> Tensor:
    """The vjp of ``cholesky`` (Murray 2016, the formula in its docstring).

    Args:
        g: the gradient reaching L.
        L: cholesky's output.
        A: its input.

    Returns:
        Ā (symmetric).
    """
    P = tril(mT(L) @ g)
    P = 0.5 * (P + mT(tril(P, -1)))             # ½(P + Pᵀ - diag P): symmetric
    X = solve_triangular(mT(L), P, lower=False)  # L⁻ᵀ P
    return mT(solve_triangular(mT(L), mT(X), lower=False))  # (L⁻ᵀ Xᵀ)ᵀ = X L⁻¹


# --------------------------------------------------------------------------
# QR
# --------------------------------------------------------------------------
_QR_METHODS = {
    "householder": reference.householder_qr,
    "gram-schmidt": reference.gram_schmidt,
    "modified-gram-schmidt": reference.modified_gram_schmidt,
}


def qr(A: TensorLike, method: str = "lapack") -> QRResult:
    """The reduced QR decomposition A = Q R: Q (m, k) with orthonormal columns,
    R (k, n) upper triangular, k = min(m, n).

    ``method``: 'lapack' (default, Householder in LAPACK, batched), or one of
    the teaching algorithms 'householder', 'gram-schmidt',
    'modified-gram-schmidt' (2-D only; Gram-Schmidt needs m >= n).
    Returns a named tuple ``(Q, R)``.

    Backward (m >= n, needs R invertible, i.e. A of full column rank):

        M = Qᵀ Q̄ - Q̄ᵀ Q + R R̄ᵀ - R̄ Rᵀ,
        Ā = Q (R̄ + tril(M) R⁻ᵀ) + (Q̄ - Q Qᵀ Q̄) R⁻ᵀ.

    For m < n, A = [X | Y] with X square: X = Q U is the case above (with Q̄
    getting Y V̄ᵀ added) and Ȳ = Q V̄, where R = [U | V].

    Args:
        A: matrices (..., m, n) (2-D for the teaching methods).
        method: ``"lapack"``, ``"householder"``, ``"gram-schmidt"`` or
            ``"modified-gram-schmidt"``.

    Returns:
        ``QRResult(Q, R)``.

    Example:

    >>> Q, R = qr(cr.tensor([[3., 1.], [4., 2.]]))
    >>> np.allclose((Q @ R).numpy(), [[3, 1], [4, 2]])
    True
    """
    A = as_float_tensor(A)
    check_matrix(A, "qr")
    if method == "lapack":
        q, r = np.linalg.qr(A.data, mode="reduced")
    elif method in _QR_METHODS:
        check_matrix(A, f"qr(method={method!r})", batched=False)
        q, r = _QR_METHODS[method](A.data)
    else:
        raise ValueError(f"qr: method must be 'lapack', 'householder', 'gram-schmidt' or "
                         f"'modified-gram-schmidt', got {method!r}")
    return QRResult(*record_many(QR, [q, r], (A,), d_qr))


def d_qr(grads: tuple[Tensor, ...], outs: tuple[Tensor, ...], A: Tensor) -> tuple[Tensor]:
    """The vjp of ``qr`` (the formula in its docstring).

    Args:
        grads: the gradients reaching ``(Q, R)``.
        outs: qr's outputs ``(Q, R)``.
        A: its input.

    Returns:
        ``(Ā,)``.
    """
    gQ, gR = grads
    Q, R = outs
    m, n = A.shape[-2:]
    if m >= n:
        return (_qr_grad_tall(Q, R, gQ, gR),)
    # Wide: A = [X | Y], R = [U | V], X = Q U, Y = Q V.
    Y, U = A[..., :, m:], R[..., :, :m]
    gU, gV = gR[..., :, :m], gR[..., :, m:]
    gX = _qr_grad_tall(Q, U, gQ + Y @ mT(gV), gU)
    return (concatenate([gX, Q @ gV], axis=-1),)


def _qr_grad_tall(Q: Tensor, R: Tensor, gQ: Tensor, gR: Tensor) -> Tensor:
    QtgQ = mT(Q) @ gQ
    RgRt = R @ mT(gR)
    M = tril(QtgQ - mT(QtgQ) + RgRt - mT(RgRt))
    return Q @ (gR + _right_solve_upper(M, R)) + _right_solve_upper(gQ - Q @ QtgQ, R)


# --------------------------------------------------------------------------
# Symmetric eigendecomposition
# --------------------------------------------------------------------------
def eigh(A: TensorLike) -> EighResult:
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric A:
    A = V diag(w) Vᵀ. Only the lower triangle is read (as NumPy).

    Returns a named tuple ``(eigenvalues, eigenvectors)``. Each eigenvector is
    defined up to its sign, so a loss should not depend on the signs (use the
    eigenvalues, V diag(w) Vᵀ, projections v vᵀ...). Backward (distinct
    eigenvalues), symmetrised:

        Ā = V (diag(w̄) + F ∘ (Vᵀ V̄)) Vᵀ,   F_ij = 1 / (w_j - w_i), F_ii = 0.

    Args:
        A: symmetric matrices (..., n, n).

    Returns:
        ``EighResult(eigenvalues, eigenvectors)``: (..., n) and (..., n, n).

    Example:

    >>> eigh(cr.tensor([[2., 1.], [1., 2.]])).eigenvalues
    tensor([1., 3.])
    """
    A = as_float_tensor(A)
    check_matrix(A, "eigh", square=True)
    w, v = np.linalg.eigh(A.data)
    return EighResult(*record_many(EIGH, [w, v], (A,), d_eigh))


def d_eigh(grads: tuple[Tensor, ...], outs: tuple[Tensor, ...], A: Tensor) -> tuple[Tensor]:
    """The vjp of ``eigh`` (Giles 2008, the formula in its docstring).

    Args:
        grads: the gradients reaching ``(eigenvalues, eigenvectors)``.
        outs: eigh's outputs.
        A: its input.

    Returns:
        ``(Ā,)``, symmetrised.
    """
    gw, gV = grads
    w, V = outs
    gaps = w[..., None, :] - w[..., :, None]                 # w_j - w_i
    F = _safe_reciprocal(gaps)
    inner = diag_embed(gw) + F * (mT(V) @ gV)
    gA = V @ inner @ mT(V)
    return (0.5 * (gA + mT(gA)),)


def _safe_reciprocal(x: Tensor) -> Tensor:
    """1/x off the diagonal, 0 on it (and where x is exactly 0: repeated values,
    where the eigenvector/singular-vector gradient is undefined)."""
    zero = (x.data == 0) | eye_like(x).astype(bool)
    return where(zero, 0.0, 1.0 / where(zero, 1.0, x))


# --------------------------------------------------------------------------
# Singular value decomposition
# --------------------------------------------------------------------------
def svd(A: TensorLike, full_matrices: bool = False) -> SVDResult:
    """The reduced SVD A = U diag(S) Vh: U (m, k), S (k,) descending, Vh (k, n).

    Returns a named tuple ``(U, S, Vh)``. Singular vectors are defined up to a
    common sign of u_i and v_i, so a loss should not depend on it (use S,
    U diag(S) Vh, |U|...). Backward (Townsend 2016; distinct, non-zero
    singular values), with V = Vhᵀ, E_ij = s_j² - s_i²:

        Ā = U [ ((UᵀŪ - ŪᵀU)/E) S + S ((VᵀV̄ - V̄ᵀV)/E) + diag(S̄) ] Vᵀ
            + (I - UUᵀ) Ū S⁻¹ Vᵀ + U S⁻¹ V̄ᵀ (I - VVᵀ).

    Args:
        A: matrices (..., m, n).
        full_matrices: must be False (only the reduced SVD is offered).

    Returns:
        ``SVDResult(U, S, Vh)``.

    Example:

    >>> svd(cr.tensor([[3., 0.], [0., -2.]])).S
    tensor([3., 2.])
    """
    if full_matrices:
        raise ValueError("svd: only the reduced SVD (full_matrices=False) is available; "
                         "the extra columns of a full U or V are not unique, so they have "
                         "no gradient")
    A = as_float_tensor(A)
    check_matrix(A, "svd")
    u, s, vh = np.linalg.svd(A.data, full_matrices=False)
    return SVDResult(*record_many(SVD, [u, s, vh], (A,), d_svd))


def d_svd(grads: tuple[Tensor, ...], outs: tuple[Tensor, ...], A: Tensor) -> tuple[Tensor]:
    """The vjp of ``svd`` (Townsend 2016, the formula in its docstring).

    Args:
        grads: the gradients reaching ``(U, S, Vh)``.
        outs: svd's outputs.
        A: its input.

    Returns:
        ``(Ā,)``.
    """
    gU, gS, gVh = grads
    U, S, Vh = outs
    V, gV = mT(Vh), mT(gVh)
    F = _safe_reciprocal(S[..., None, :] ** 2 - S[..., :, None] ** 2)   # 1 / (s_j² - s_i²)
    UtgU, VtgV = mT(U) @ gU, mT(V) @ gV
    col_s, row_s = S[..., None, :], S[..., :, None]          # X * col_s = X S, row_s * X = S X
    inner = (F * (UtgU - mT(UtgU))) * col_s + row_s * (F * (VtgV - mT(VtgV))) + diag_embed(gS)
    gA = U @ inner @ Vh
    m, n = A.shape[-2:]
    k = S.shape[-1]
    if m > k:   # the part of Ū outside the span of U
        gA = gA + ((gU - U @ UtgU) / col_s) @ Vh
    if n > k:   # the part of V̄ outside the span of V
        gA = gA + U @ mT((gV - V @ VtgV) / col_s)
    return (gA,)


# --------------------------------------------------------------------------
# LU with partial pivoting
# --------------------------------------------------------------------------
def lu(A: TensorLike, method: str = "lapack") -> LUResult:
    """A = P L U with partial pivoting (as ``scipy.linalg.lu``): P a
    permutation, L (m, k) unit lower triangular, U (k, n) upper triangular.

    ``method``: 'lapack' (default, batched) or 'doolittle' (the readable
    elimination of :func:`chainrule.linalg.reference.lu_partial_pivoting`).
    Returns a named tuple ``(P, L, U)``; P is a constant.

    Differentiable for square A with U invertible (P is piecewise constant):

        Ā = P L⁻ᵀ [ tril(Lᵀ L̄, -1) + triu(Ū Uᵀ) ] U⁻ᵀ.

    Args:
        A: matrices (..., m, n) (square for a gradient; 2-D for ``"doolittle"``).
        method: ``"lapack"`` or ``"doolittle"``.

    Returns:
        ``LUResult(P, L, U)``.

    Example:

    >>> P, L, U = lu(cr.tensor([[1., 2.], [3., 4.]]))
    >>> np.allclose((P @ L @ U).numpy(), [[1, 2], [3, 4]])
    True
    """
    A = as_float_tensor(A)
    check_matrix(A, "lu")
    if method == "lapack":
        p, l_, u = scipy.linalg.lu(A.data)
    elif method == "doolittle":
        check_matrix(A, "lu(method='doolittle')", batched=False)
        p, l_, u = reference.lu_partial_pivoting(A.data)
    else:
        raise ValueError(f"lu: method must be 'lapack' or 'doolittle', got {method!r}")
    m, n = A.shape[-2:]
    if m != n and A.requires_grad and is_grad_enabled():
        raise ValueError(f"lu: gradients are available for square matrices only; A has "
                         f"shape {A.shape}. Use lu(A.detach()) for the factors alone, or qr "
                         f"for a differentiable factorization of a rectangular matrix")
    P = Tensor(p.astype(A.dtype))

    def d_lu(grads: tuple[Tensor, ...], outs: tuple[Tensor, ...], A: Tensor) -> tuple[Tensor]:
        gL, gU = grads
        L, U = outs
        M = tril(mT(L) @ gL, -1) + triu(gU @ mT(U))
        X = solve_triangular(mT(L), M, lower=False)             # L⁻ᵀ M
        return (P @ _right_solve_upper(X, U),)                  # P (L⁻ᵀ M U⁻ᵀ)
    L, U = record_many(LU, [l_.astype(A.dtype), u.astype(A.dtype)], (A,), d_lu)
    return LUResult(P, L, U)


# The factorizations' adjoints are the functions d_* above (Murray 2016 for
# Cholesky, Walter & Lehmann / Seeger et al. for QR, Giles 2008 for eigh and SVD).
CHOLESKY = declare(cholesky, forward="chol(A)", inputs="A",
                   derivative="Φ(Lᵀ g) solved through L (d_cholesky)", vjp=PER_CALL)
QR = declare(qr, forward="qr(A)", inputs="A", derivative="d_qr(gQ, gR)", vjp=PER_CALL)
EIGH = declare(eigh, forward="eigh(A)", inputs="A", derivative="d_eigh(gw, gV)", vjp=PER_CALL)
SVD = declare(svd, forward="svd(A)", inputs="A", derivative="d_svd(gU, gS, gVᴴ)", vjp=PER_CALL)
LU = declare(lu, forward="lu(A)", inputs="A", derivative="d_lu(gL, gU)", vjp=PER_CALL)
