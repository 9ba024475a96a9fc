"""Least squares on the diabetes data: normal equations vs QR (the seeds' table).

    python examples/lstsq.py

Normal equations: solve AᵀA β = Aᵀy. QR: A = QR, then Rβ = Qᵀy. Same answer
here; on an ill-conditioned Vandermonde matrix the normal equations lose
twice the digits (cond(AᵀA) = cond(A)²). `chainrule demo lstsq` shows a table.
"""
import warnings

import numpy as np

from chainrule import linalg
from chainrule.datasets import load_diabetes

X, y = load_diabetes()
A = np.hstack([np.ones((len(X), 1)), X])              # intercept column
beta_normal = linalg.lstsq(A, y, method="normal").solution.numpy()
beta_qr = linalg.lstsq(A, y, method="qr").solution.numpy()
for name, bn, bq in zip(["intercept", "age", "sex", "bmi", "map", "tc", "ldl", "hdl",
                         "tch", "ltg", "glu"], beta_normal, beta_qr):
    print(f"{name:>9s} {bn:8.1f} {bq:8.1f}")

t = np.linspace(0, 1, 50)
V = np.vander(t, 12, increasing=True)                 # degree 11: cond(V) ~ 1e8
truth = np.ones(12)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", linalg.PrecisionWarning)
    normal = linalg.lstsq(V, V @ truth, method="normal").solution.numpy()
qr = linalg.lstsq(V, V @ truth, method="qr").solution.numpy()
print(f"Vandermonde, degree 11: error normal {np.abs(normal - truth).max():.1e}, "
      f"QR {np.abs(qr - truth).max():.1e}")
