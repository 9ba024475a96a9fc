"""``chainrule demo lstsq``: least squares on the diabetes data, normal equations vs QR.

Linear regression ŷ = α + β₁x₁ + … + β₁₀x₁₀ minimizes ‖y - Aβ‖² with A the
data plus a column of ones. The seeds solve it two ways:

* the normal equations AᵀA β = Aᵀy (from Aᵀ(y - Aβ) = 0), the naive way;
* QR: A = QR, so QRβ = y, Rβ = Qᵀy, solved by back-substitution.

On the diabetes data both give the seeds' table (152.1, -10.0, -239.8, …).
But forming AᵀA squares the condition number: cond(AᵀA) = cond(A)². On a
Vandermonde matrix (fitting a polynomial) cond(A) grows fast with the
degree, and the normal equations lose about twice as many digits as QR:
the demo fits polynomials whose true coefficients are all 1 and prints the
error of each method (``chainrule.linalg.lstsq`` warns with a
``PrecisionWarning`` when the normal equations would lose more than half
of the digits).
"""
from ._plotting import pyplot, save_figure

NAME = "lstsq"
SUMMARY = "least squares on diabetes: normal equations vs QR, then where the normal equations fail"
DATA = None

FEATURES = ["age", "sex", "bmi", "map", "tc", "ldl", "hdl", "tch", "ltg", "glu"]
DEGREES, QUICK_DEGREES = (3, 5, 7, 9, 11, 13), (3, 7, 11)
POINTS = 50


def vandermonde_errors(degree, points=POINTS):
    """Fit 1 + t + t² + … + t^degree at ``points`` points of [0, 1] both ways.

    Returns ``(cond(A), relative error normal, relative error QR, warned)``.
    """
    import warnings

    import numpy as np

    from chainrule import linalg
    t = np.linspace(0.0, 1.0, points)
    A = np.vander(t, degree + 1, increasing=True)
    truth = np.ones(degree + 1)
    b = A @ truth
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.PrecisionWarning)
        normal = linalg.lstsq(A, b, method="normal")
    qr = linalg.lstsq(A, b, method="qr")

    def error(result):
        return float(np.linalg.norm(result.solution.numpy() - truth) / np.linalg.norm(truth))

    warned = any(issubclass(w.category, linalg.PrecisionWarning) for w in caught)
    return float(qr.cond), error(normal), error(qr), warned


def _plot(rows, out_dir):
    plt = pyplot()
    if plt is None:
        return []
    import numpy as np
    degrees = [r["degree"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    ax.semilogy(degrees, [r["error_normal"] for r in rows], "o-", label="normal equations")
    ax.semilogy(degrees, [r["error_qr"] for r in rows], "s-", label="QR")
    ax.semilogy(degrees, [r["cond"] * np.finfo(float).eps for r in rows], ":",
                color="gray", label="cond(A)·eps")
    ax.semilogy(degrees, [r["cond"] ** 2 * np.finfo(float).eps for r in rows], "--",
                color="gray", label="cond(A)²·eps")
    ax.set(xlabel="polynomial degree (Vandermonde columns - 1)",
           ylabel="relative error of the coefficients",
           title="least squares: the normal equations square the condition number")
    ax.legend(fontsize=8)
    path = save_figure(fig, out_dir, "lstsq.png")
    print(f"saved the error against the degree to {path}")
    return [path]


def run(quick=False, seed=0, out_dir=".", data_path=None):
    """Returns ``{"coefficients_normal", "coefficients_qr", "vandermonde": [rows], "pngs"}``.
    ``seed`` and ``data_path`` are unused (no randomness; diabetes ships with the package)."""
    import warnings

    import numpy as np

    from chainrule import linalg
    from chainrule.datasets import load_diabetes

    X, y = load_diabetes()
    A = np.hstack([np.ones((len(X), 1)), X])
    print(f"diabetes: {len(X)} patients, 10 standardized features, target = disease "
          f"progression after one year; A = [1 | X] is {A.shape[0]}x{A.shape[1]}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.PrecisionWarning)   # well conditioned here
        normal = linalg.lstsq(A, y, method="normal")
    qr = linalg.lstsq(A, y, method="qr")
    beta_n, beta_q = normal.solution.numpy(), qr.solution.numpy()
    print(f"cond(A) = {qr.cond:.1f}, so cond(AᵀA) = {qr.cond ** 2:.0f}: mild, both methods agree")
    print(f"{'coefficient':>12s} {'normal eq.':>12s} {'QR':>12s} {'difference':>11s}")
    for name, bn, bq in zip(["intercept", *FEATURES], beta_n, beta_q):
        print(f"{name:>12s} {bn:12.1f} {bq:12.1f} {abs(bn - bq):11.1e}")
    residual = float(np.linalg.norm(A @ beta_q - y))
    print(f"residual ‖y - Aβ‖ = {residual:.1f}")

    print()
    print(f"Polynomial fits on {POINTS} points of [0, 1], true coefficients all 1 "
          f"(A = Vandermonde, float64):")
    print(f"{'degree':>6s} {'cond(A)':>10s} {'error normal':>13s} {'error QR':>10s}  warning")
    rows = []
    for degree in (QUICK_DEGREES if quick else DEGREES):
        cond, err_n, err_q, warned = vandermonde_errors(degree)
        rows.append({"degree": degree, "cond": cond, "error_normal": err_n, "error_qr": err_q,
                     "warned": warned})
        print(f"{degree:6d} {cond:10.2e} {err_n:13.2e} {err_q:10.2e}  "
              f"{'PrecisionWarning' if warned else '-'}")
    worst = rows[-1]
    print(f"at degree {worst['degree']} the normal equations are "
          f"{worst['error_normal'] / worst['error_qr']:.0e} times less accurate than QR: "
          f"they solve with cond(A)² ≈ {worst['cond'] ** 2:.0e}")
    pngs = _plot(rows, out_dir)
    return {"coefficients_normal": beta_n, "coefficients_qr": beta_q, "residual": residual,
            "vandermonde": rows, "pngs": pngs}
