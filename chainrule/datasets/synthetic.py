"""Toy data made on the spot (nothing to download)."""
from __future__ import annotations

import numpy as np

__all__ = ["make_income_debt"]

# The seeds' perceptron lecture: approve (+1) when 2*income - debt - 30000 > 0.
INCOME_DEBT_WEIGHTS = np.array([2.0, -1.0])
INCOME_DEBT_BIAS = -30000.0


def make_income_debt(n: int = 100, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """The perceptron's toy data: ``n`` applicants with an income and a debt.

    ``X`` is float64 of shape (n, 2), income and debt each uniform in
    [0, 100000]; ``y`` is int64 in {-1, +1}, the side of the true line

        y = sign(2 * income - debt - 30000)      (0, which has probability 0, counts as +1)

    so a perceptron can learn it exactly. The true weights and bias are
    ``INCOME_DEBT_WEIGHTS`` and ``INCOME_DEBT_BIAS`` in this module.

    Args:
        n: how many applicants (a positive int).
        seed: seeds NumPy's generator; None draws fresh data each call.

    Returns:
        ``(X, y)``: float64 (n, 2) and int64 (n,) in {-1, +1}.

    >>> X, y = make_income_debt(5, seed=0)
    >>> X.shape, sorted(set(y.tolist()) | {-1, 1})
    ((5, 2), [-1, 1])
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"make_income_debt: n must be a positive integer number of "
                         f"samples, got {n!r}")
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 100000.0, size=(n, 2))
    score = X @ INCOME_DEBT_WEIGHTS + INCOME_DEBT_BIAS
    y = np.where(score >= 0, 1, -1).astype(np.int64)
    return X, y
