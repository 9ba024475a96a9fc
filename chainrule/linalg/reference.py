"""Readable textbook algorithms, for learning and for checking LAPACK.

Plain NumPy on 2-D float arrays, one loop each, written to be read next to
a textbook (Trefethen & Bau, *Numerical Linear Algebra*, lectures 7-10, 20-21
and 27). They are slow and never the default: ``qr(A, method=...)`` and
``lu(A, method='doolittle')`` use them when asked, and the tests check them
against LAPACK.

>>> Q, R = modified_gram_schmidt(np.array([[1., 1.], [1., 2.], [1., 3.]]))
>>> np.allclose(Q @ R, [[1, 1], [1, 2], [1, 3]])
True
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..tensor import Tensor
from ..typing import TensorLike

__all__ = [
    "back_substitution",
    "forward_substitution",
    "gram_schmidt",
    "householder_qr",
    "lu_partial_pivoting",
    "modified_gram_schmidt",
    "power_iteration",
]

EigenPair = namedtuple("EigenPair", ["eigenvalue", "eigenvector"])


def _matrix(A: TensorLike, op: str) -> np.ndarray:
    """A float copy of A (a Tensor's values are read; nothing is differentiated)."""
    A = np.array(A.data if isinstance(A, Tensor) else A, copy=True)
    if A.dtype.kind != "f":
        A = A.astype(np.float64)
    if A.ndim != 2:
        raise ValueError(f"{op}: expected a 2-D matrix, got shape {A.shape}")
    return A


def householder_qr(A: TensorLike) -> tuple[np.ndarray, np.ndarray]:
    """Reduced QR by Householder reflections (Trefethen & Bau, algorithm 10.1).

    Column by column, the reflection H = I - 2 v vᵀ (|v| = 1) maps the part of
    the column on and below the diagonal onto a multiple of e₁, zeroing it
    below the diagonal. v = x + sign(x₁)|x| e₁ avoids cancellation (the same
    sign choice as LAPACK). Q is the product of the reflections applied to
    the first k columns of the identity.

    Args:
        A: a 2-D matrix (m, n) (array, list or Tensor; its values are read).

    Returns:
        ``(Q, R)``: Q (m, k) with orthonormal columns, R (k, n) upper
        triangular, k = min(m, n).

    Example:

    >>> Q, R = householder_qr(np.array([[3., 1.], [4., 2.]]))
    >>> np.allclose(Q @ R, [[3, 1], [4, 2]]), np.allclose(Q.T @ Q, np.eye(2))
    (True, True)
    """
    A = _matrix(A, "householder_qr")
    m, n = A.shape
    k = min(m, n)
    R = A.copy()
    reflectors: list[np.ndarray | None] = []
    for j in range(k):
        x = R[j:, j]
        if not np.any(x[1:]):               # nothing below the diagonal to zero (LAPACK: H = I)
            reflectors.append(None)
            continue
        v = x.copy()
        v[0] += (np.sign(x[0]) or 1.0) * np.linalg.norm(x)
        v /= np.linalg.norm(v)
        R[j:, j:] -= 2.0 * np.outer(v, v @ R[j:, j:])
        reflectors.append(v)
    Q = np.eye(m, k, dtype=A.dtype)
    for j in reversed(range(k)):            # Q = H₁ H₂ ... H_k [I; 0]
        v = reflectors[j]
        if v is not None:
            Q[j:, :] -= 2.0 * np.outer(v, v @ Q[j:, :])
    return Q, np.triu(R[:k, :])


def _check_tall(A: np.ndarray, op: str) -> None:
    m, n = A.shape
    if m < n:
        raise ValueError(f"{op}: needs at least as many rows as columns (m >= n), got "
                         f"shape {A.shape}; use householder_qr for a wide matrix")


def _dependent(op: str, j: int) -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(
        f"{op}: column {j} is (numerically) a combination of the previous ones, so it "
        f"has no new direction to normalize; the matrix does not have full column rank")


def gram_schmidt(A: TensorLike) -> tuple[np.ndarray, np.ndarray]:
    """Classical Gram-Schmidt (Trefethen & Bau, algorithm 7.1).

    q_j = (a_j - Σ_{i<j} (q_iᵀ a_j) q_i) / |...|: each column minus its
    projections onto the earlier q's, computed from the *original* column.
    Rounding makes the q's drift from orthogonal when A is ill-conditioned;
    the modified version below is the cure.

    Args:
        A: a 2-D matrix (m, n) with m >= n and full column rank.

    Returns:
        ``(Q, R)``: Q (m, n) with orthonormal columns, R (n, n) upper triangular.
    """
    A = _matrix(A, "gram_schmidt")
    _check_tall(A, "gram_schmidt")
    m, n = A.shape
    Q, R = np.zeros((m, n), A.dtype), np.zeros((n, n), A.dtype)
    for j in range(n):
        R[:j, j] = Q[:, :j].T @ A[:, j]
        v = A[:, j] - Q[:, :j] @ R[:j, j]
        R[j, j] = np.linalg.norm(v)
        if R[j, j] <= np.finfo(A.dtype).eps * np.linalg.norm(A[:, j]):
            raise _dependent("gram_schmidt", j)
        Q[:, j] = v / R[j, j]
    return Q, R


def modified_gram_schmidt(A: TensorLike) -> tuple[np.ndarray, np.ndarray]:
    """Modified Gram-Schmidt (Trefethen & Bau, algorithm 8.1).

    Same arithmetic as classical Gram-Schmidt in exact arithmetic, but each
    projection is subtracted from the *updated* remaining columns as soon as
    q_i is known, so rounding errors are projected away too.

    Args:
        A: a 2-D matrix (m, n) with m >= n and full column rank.

    Returns:
        ``(Q, R)``: Q (m, n) with orthonormal columns, R (n, n) upper triangular.
    """
    A = _matrix(A, "modified_gram_schmidt")
    _check_tall(A, "modified_gram_schmidt")
    m, n = A.shape
    V = A.copy()
    Q, R = np.zeros((m, n), A.dtype), np.zeros((n, n), A.dtype)
    for i in range(n):
        R[i, i] = np.linalg.norm(V[:, i])
        if R[i, i] <= np.finfo(A.dtype).eps * np.linalg.norm(A[:, i]):
            raise _dependent("modified_gram_schmidt", i)
        Q[:, i] = V[:, i] / R[i, i]
        R[i, i + 1:] = Q[:, i] @ V[:, i + 1:]
        V[:, i + 1:] -= np.outer(Q[:, i], R[i, i + 1:])
    return Q, R


def lu_partial_pivoting(A: TensorLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian elimination with partial pivoting (Doolittle form; Trefethen &
    Bau, algorithm 21.1): A = P L U as ``scipy.linalg.lu``.

    At step j the row with the largest |entry| in column j (on or below the
    diagonal) is swapped up as the pivot, so every multiplier l_ij = u_ij / u_jj
    has |l_ij| <= 1; the multiples of the pivot row are then subtracted from the
    rows below. L (m, k) is unit lower triangular, U (k, n) upper triangular.

    Args:
        A: a 2-D matrix (m, n).

    Returns:
        ``(P, L, U)``: the permutation (m, m), L (m, k), U (k, n), k = min(m, n).

    Example:

    >>> P, L, U = lu_partial_pivoting(np.array([[1., 2.], [3., 4.]]))
    >>> np.allclose(P @ L @ U, [[1, 2], [3, 4]]), float(L[1, 0])
    (True, 0.3333333333333333)
    """
    A = _matrix(A, "lu_partial_pivoting")
    m, n = A.shape
    k = min(m, n)
    U = A.copy()
    L = np.zeros((m, k), A.dtype)
    rows = np.arange(m)                      # rows[i] = which row of A is now row i
    for j in range(k):
        p = j + int(np.argmax(np.abs(U[j:, j])))
        if p != j:                           # swap rows j and p everywhere
            U[[j, p]] = U[[p, j]]
            L[[j, p], :j] = L[[p, j], :j]
            rows[[j, p]] = rows[[p, j]]
        L[j, j] = 1.0
        if U[j, j] != 0.0:                   # a zero pivot: the column is done already
            L[j + 1:, j] = U[j + 1:, j] / U[j, j]
            U[j + 1:, j:] -= np.outer(L[j + 1:, j], U[j, j:])
        U[j + 1:, j] = 0.0
    # A[rows] = L U, so A = P L U with P the permutation matrix taking row i to rows[i].
    P = np.eye(m, dtype=A.dtype)[rows].T
    return P, L, U[:k]


def forward_substitution(L: TensorLike, b: TensorLike) -> np.ndarray:
    """Solve L x = b for a lower-triangular L, first unknown first.

    Args:
        L: a lower-triangular matrix (n, n).
        b: the right-hand side (n,).

    Returns:
        x, shape (n,).

    Example:

    >>> forward_substitution(np.array([[2., 0.], [1., 1.]]), [4., 3.])
    array([2., 1.])
    """
    L, b = _matrix(L, "forward_substitution"), np.asarray(b, dtype=np.float64)
    x = np.zeros(len(b), dtype=np.result_type(L, b))
    for i in range(len(b)):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
    return x


def back_substitution(U: TensorLike, b: TensorLike) -> np.ndarray:
    """Solve U x = b for an upper-triangular U, last unknown first.

    Args:
        U: an upper-triangular matrix (n, n).
        b: the right-hand side (n,).

    Returns:
        x, shape (n,).
    """
    U, b = _matrix(U, "back_substitution"), np.asarray(b, dtype=np.float64)
    n = len(b)
    x = np.zeros(n, dtype=np.result_type(U, b))
    for i in reversed(range(n)):
        x[i] = (b[i] - U[i, i + 1:] @ x[i + 1:]) / U[i, i]
    return x


def power_iteration(A: TensorLike, num_iterations: int = 1000, tol: float = 1e-10,
                    seed: int | None = None) -> EigenPair:
    """The eigenvalue of largest magnitude and its eigenvector (Trefethen & Bau,
    algorithm 27.1).

    Repeatedly x ← A x / |A x|: the component along the leading eigenvector
    grows fastest (by |λ₁/λ₂| per step). The eigenvalue is the Rayleigh
    quotient xᵀ A x. Stops when it changes by less than ``tol`` (relative).
    Returns a named tuple ``(eigenvalue, eigenvector)`` (unit eigenvector).

    Args:
        A: a square matrix (n, n).
        num_iterations: the most steps taken.
        tol: the relative change of the eigenvalue estimate that stops it.
        seed: seeds the random starting vector.

    Returns:
        ``EigenPair(eigenvalue, eigenvector)``: a float and a unit vector (n,).

    Example:

    >>> round(power_iteration(np.diag([1., 3.]), seed=0).eigenvalue, 6)
    3.0
    """
    A = _matrix(A, "power_iteration")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"power_iteration: expected a square matrix, got shape {A.shape}")
    x = np.random.default_rng(seed).standard_normal(A.shape[0])
    x /= np.linalg.norm(x)
    eigenvalue = x @ A @ x
    for _ in range(num_iterations):
        y = A @ x
        norm_y = np.linalg.norm(y)
        if norm_y == 0.0:                    # x is in the null space: eigenvalue 0
            return EigenPair(0.0, x)
        x = y / norm_y
        previous, eigenvalue = eigenvalue, x @ A @ x
        if abs(eigenvalue - previous) <= tol * abs(eigenvalue):
            break
    return EigenPair(float(eigenvalue), x)
