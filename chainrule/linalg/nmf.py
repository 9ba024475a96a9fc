"""Non-negative matrix factorization by Lee & Seung's multiplicative updates.

X (m, n) ≥ 0 is approximated by W H with W (m, k) ≥ 0 and H (k, n) ≥ 0,
minimising the Frobenius error ‖X - W H‖. Each update multiplies every
entry by a ratio of non-negative numbers, so the factors stay non-negative
without any projection, and the error never increases (Lee & Seung,
"Algorithms for non-negative matrix factorization", NIPS 2000, theorem 1):

    H ← H ∘ (Wᵀ X) / (Wᵀ W H)        W ← W ∘ (X Hᵀ) / (W H Hᵀ)

For a term-document matrix, the columns of W are topics (weights of terms)
and the columns of H say how much of each topic a document holds.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..tensor import Tensor
from ..typing import TensorLike

__all__ = ["NMFResult", "nmf"]

NMFResult = namedtuple("NMFResult", ["W", "H", "errors"])
NMFResult.__doc__ = """The result of :func:`nmf`: the factors ``W`` (m, k) and
``H`` (k, n), and ``errors``, the Frobenius error ‖X - W H‖ at the start and
after each iteration (non-increasing)."""

_TINY = 1e-12     # keeps a ratio finite when a denominator is exactly zero


def nmf(X: TensorLike, k: int, max_iter: int = 200, seed: int | None = None,
        tol: float = 1e-6) -> NMFResult:
    """Factor a non-negative X (m, n) as W H with k non-negative components.

    Starts from uniform random factors scaled to the size of X (as
    scikit-learn's ``init='random'``) drawn with ``seed``, then applies the
    multiplicative updates until ``max_iter`` iterations or until one
    iteration lowers the error by less than ``tol`` times the initial error.
    Works in float64 on NumPy arrays (a Tensor is read, not differentiated).

    Args:
        X: the non-negative matrix (m, n).
        k: the number of components, 1..min(m, n).
        max_iter: the most multiplicative updates.
        seed: seeds the random starting factors.
        tol: stop once an iteration lowers the error by less than ``tol``
            times the initial error.

    Returns:
        ``NMFResult(W, H, errors)``.

    >>> X = np.array([[1., 0.], [0., 1.], [1., 1.]])
    >>> W, H, errors = nmf(X, 2, seed=0)
    >>> bool(W.min() >= 0 and H.min() >= 0 and np.all(np.diff(errors) <= 0))
    True
    """
    X = np.asarray(X.data if isinstance(X, Tensor) else X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"nmf: X must be a 2-D matrix (m, n), got shape {X.shape}")
    if X.size and X.min() < 0:
        raise ValueError(f"nmf: X must be non-negative; its smallest entry is {X.min():.4g}. "
                         f"Shift or clip the data, or use an SVD for signed data")
    if not (isinstance(k, (int, np.integer)) and 1 <= k <= min(X.shape)):
        raise ValueError(f"nmf: k (the number of components) must be an int between 1 and "
                         f"min(m, n) = {min(X.shape)}, got {k!r}")
    if max_iter < 0:
        raise ValueError(f"nmf: max_iter must be >= 0, got {max_iter}")

    rng = np.random.default_rng(seed)
    scale = np.sqrt(X.mean() / k)
    W = scale * rng.uniform(size=(X.shape[0], k))
    H = scale * rng.uniform(size=(k, X.shape[1]))
    errors = [np.linalg.norm(X - W @ H)]
    for _ in range(max_iter):
        H *= (W.T @ X) / (W.T @ W @ H + _TINY)
        W *= (X @ H.T) / (W @ (H @ H.T) + _TINY)
        errors.append(np.linalg.norm(X - W @ H))
        if errors[-2] - errors[-1] < tol * errors[0]:
            break
    return NMFResult(W, H, np.array(errors))
