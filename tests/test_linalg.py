"""chainrule.linalg: values against LAPACK, gradients against finite
differences (cr.gradcheck, float64) and PyTorch, least squares on the seeds'
diabetes table and on an ill-conditioned Vandermonde fit, the reference
algorithms against LAPACK, and errors that say what is wrong."""
import warnings

import numpy as np
import pytest
import scipy.linalg

import chainrule as cr
from chainrule import linalg as L
from chainrule.datasets import load_diabetes
from chainrule.linalg import reference


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def well_conditioned(n, batch=(), seed=0):
    return randn(*batch, n, n, seed=seed) + 3 * n ** 0.5 * np.eye(n)


def sym(X):
    return 0.5 * (X + X.mT)


def spd(X):
    return X @ X.mT + X.shape[-1] * np.eye(X.shape[-1], dtype=X.dtype)


# --------------------------------------------------------------------------
# Values against NumPy/SciPy
# --------------------------------------------------------------------------
def test_values_match_lapack():
    A, B, b = well_conditioned(4), randn(4, 2, seed=1), randn(4, seed=2)
    np.testing.assert_allclose(L.solve(A, B).numpy(), np.linalg.solve(A, B), rtol=1e-12)
    np.testing.assert_allclose(L.solve(A, b).numpy(), np.linalg.solve(A, b), rtol=1e-12)
    assert L.solve(A, b).shape == (4,)
    np.testing.assert_allclose(L.inv(A).numpy(), np.linalg.inv(A), rtol=1e-12)
    np.testing.assert_allclose(L.det(A).numpy(), np.linalg.det(A), rtol=1e-12)
    sign, logdet = L.slogdet(-A)
    np.testing.assert_allclose([sign.item(), logdet.item()], np.linalg.slogdet(-A), rtol=1e-12)
    T = np.tril(A)
    np.testing.assert_allclose(L.solve_triangular(T + np.triu(randn(4, 4), 1), B).numpy(),
                               scipy.linalg.solve_triangular(T, B, lower=True), rtol=1e-12)
    S = spd(randn(4, 4))
    np.testing.assert_allclose(L.cholesky(S).numpy(), np.linalg.cholesky(S), rtol=1e-12)
    np.testing.assert_allclose(L.cholesky(S, upper=True).numpy(), np.linalg.cholesky(S).T)


@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (3, 5), (2, 5, 3)])
def test_decompositions_reconstruct(shape):
    A = randn(*shape)
    Q, R = L.qr(A)
    np.testing.assert_allclose(Q.numpy() @ R.numpy(), A, atol=1e-12)
    np.testing.assert_allclose(R.numpy(), np.triu(R.numpy()))
    k = min(shape[-2:])
    np.testing.assert_allclose(Q.numpy().swapaxes(-1, -2) @ Q.numpy(), np.broadcast_to(np.eye(k), shape[:-2] + (k, k)), atol=1e-12)
    U, S, Vh = L.svd(A)
    assert U.shape == shape[:-1] + (k,) and S.shape == shape[:-2] + (k,)
    np.testing.assert_allclose((U.numpy() * S.numpy()[..., None, :]) @ Vh.numpy(), A, atol=1e-12)
    np.testing.assert_allclose(S.numpy(), np.linalg.svd(A, compute_uv=False), rtol=1e-12)
    P, Lo, Up = L.lu(A)
    np.testing.assert_allclose(P.numpy() @ Lo.numpy() @ Up.numpy(), A, atol=1e-12)


def test_eigh_values_and_vectors():
    A = sym(randn(2, 5, 5))
    w, V = L.eigh(A)
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(A), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(A @ V.numpy(), V.numpy() * w.numpy()[..., None, :], atol=1e-12)


def test_float32_stays_float32_and_float64_stays_float64():
    A32 = well_conditioned(3).astype(np.float32)
    for f in (L.inv, L.det, lambda A: L.qr(A).R, lambda A: L.svd(A).S, lambda A: L.eigh(sym(A))[0],
              lambda A: L.cholesky(spd(A)), lambda A: L.lu(A).U, L.norm,
              lambda A: L.lstsq(A, A[:, 0]).solution):
        assert f(cr.tensor(A32)).dtype == np.float32
        assert f(cr.tensor(A32.astype(np.float64))).dtype == np.float64


def test_norm_matches_numpy():
    x = randn(3, 4, 5)
    for ord_, axis in [(None, None), (None, 1), (2, -1), (1, 0), (np.inf, 2), (-np.inf, 1),
                       (0, 1), (3, 1), (None, (0, 2)), ("fro", (1, 2)), ("nuc", (0, 1)),
                       (1, (2, 0)), (-1, (0, 2)), (2, (1, 2)), (-2, (1, 2)), (np.inf, (2, 1)),
                       (-np.inf, (0, 1))]:
        for keepdims in (False, True):
            np.testing.assert_allclose(L.norm(x, ord_, axis, keepdims).numpy(),
                                       np.linalg.norm(x, ord_, axis, keepdims), rtol=1e-12,
                                       err_msg=f"ord={ord_} axis={axis}")
    np.testing.assert_allclose(L.norm(x[0], "nuc").numpy(), np.linalg.norm(x[0], "nuc"))
    np.testing.assert_allclose(L.norm(x[0, 0], 1).numpy(), np.linalg.norm(x[0, 0], 1))


def test_norm_gradient_at_zero_is_zero():
    x = cr.zeros(3, dtype="float64", requires_grad=True)
    L.norm(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)


# --------------------------------------------------------------------------
# Gradients: finite differences
# --------------------------------------------------------------------------
# Losses that do not depend on the sign of each eigenvector / singular pair.
def _usv(r):
    return (r.U * r.S[..., None, :]) @ r.Vh


def _eigen_projection(X):
    V = L.eigh(sym(X)).eigenvectors
    return V[..., :2] @ V[..., :2].mT


def _eigen_square(X):
    w, V = L.eigh(sym(X))
    return (V * w[None, :] ** 2) @ V.mT


def _abs_singular_vectors_tall(A):
    r = L.svd(A)
    return r.U.abs().sum(0) + r.Vh.abs().sum(0)[:3]


def _abs_singular_vectors_wide(A):
    r = L.svd(A)
    return r.U.abs().sum() * r.Vh.abs()


def _rank2_approximation(A):
    r = L.svd(A)
    return (r.U[:, :2] * r.S[:2]) @ r.Vh[:2]


def _lu_factors(A):
    r = L.lu(A)
    return r.L * 3 + r.U


GRADCHECK_CASES = {
    "solve": (lambda A, B: L.solve(A, B), [well_conditioned(4), randn(4, 2)]),
    "solve vector": (lambda A, b: L.solve(A, b), [well_conditioned(4), randn(4)]),
    "solve batched": (lambda A, B: L.solve(A, B), [well_conditioned(3, (2,)), randn(2, 3, 2)]),
    "solve_triangular lower": (lambda A, B: L.solve_triangular(A, B),
                               [np.tril(well_conditioned(4)), randn(4, 3)]),
    "solve_triangular upper": (lambda A, B: L.solve_triangular(A, B, lower=False),
                               [np.triu(well_conditioned(4)), randn(4)]),
    "inv": (L.inv, [well_conditioned(4, (2,))]),
    "det": (L.det, [randn(2, 3, 3)]),
    "slogdet": (lambda A: L.slogdet(A).logabsdet, [randn(3, 3)]),
    "cholesky": (lambda X: L.cholesky(spd(X)), [randn(4, 4)]),
    "cholesky upper batched": (lambda X: L.cholesky(spd(X), upper=True), [randn(2, 3, 3)]),
    "qr tall": (lambda A: L.qr(A).Q * 2 + L.qr(A).R.sum(), [randn(5, 3)]),
    "qr square batched": (lambda A: L.qr(A).R, [randn(2, 3, 3)]),
    "qr wide Q": (lambda A: L.qr(A).Q, [randn(3, 5)]),
    "qr wide R": (lambda A: L.qr(A).R, [randn(3, 5)]),
    "qr householder": (lambda A: L.qr(A, method="householder").Q, [randn(5, 3)]),
    "qr modified-gram-schmidt": (lambda A: L.qr(A, method="modified-gram-schmidt").R,
                                 [randn(5, 3)]),
    "eigh eigenvalues": (lambda X: L.eigh(sym(X)).eigenvalues, [randn(2, 4, 4)]),
    "eigh projections": (_eigen_projection,
                         [randn(4, 4)]),
    "eigh V diag(w) Vt": (_eigen_square,
                          [randn(4, 4)]),
    "svd singular values": (lambda A: L.svd(A).S, [randn(5, 3)]),
    "svd |U| |V| tall": (_abs_singular_vectors_tall,
                         [randn(5, 3)]),
    "svd |U| |V| wide": (_abs_singular_vectors_wide,
                         [randn(3, 5)]),
    "svd U S V partial": (_rank2_approximation,
                          [randn(2, 4, 3)[0]]),
    "svd reconstruct batched": (lambda A: _usv(L.svd(A)), [randn(2, 4, 3)]),
    "lu": (_lu_factors, [randn(4, 4)]),
    "lu doolittle": (lambda A: L.lu(A, method="doolittle").L, [randn(4, 4)]),
    "norm default": (L.norm, [randn(3, 4)]),
    "norm p=3 axis": (lambda x: L.norm(x, 3, axis=0), [randn(3, 4)]),
    "norm inf": (lambda x: L.norm(x, np.inf, axis=1), [randn(3, 4)]),
    "norm nuc": (lambda x: L.norm(x, "nuc"), [randn(3, 4)]),
    "norm 2 (matrix)": (lambda x: L.norm(x, 2, axis=(0, 2)), [randn(3, 2, 4)]),
    "norm 1 (matrix)": (lambda x: L.norm(x, 1, axis=(1, 0), keepdims=True), [randn(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck(name):
    f, inputs = GRADCHECK_CASES[name]
    assert cr.gradcheck(f, *inputs)


@pytest.mark.parametrize("method", ["qr", "normal", "cholesky", "svd"])
def test_lstsq_gradcheck(method):
    A, b, B = randn(6, 3), randn(6, seed=1), randn(6, 2, seed=2)
    assert cr.gradcheck(lambda A, b: L.lstsq(A, b, method=method).solution, A, b)
    assert cr.gradcheck(lambda A, B: L.lstsq(A, B, method=method).residuals, A, B)


def test_second_derivatives_through_the_backward_rules():
    # The vjps are written with chainrule ops, so they can be differentiated again.
    def grad_of(f):
        return lambda A: cr.grad(lambda A: f(A).sum())(A)
    assert cr.gradcheck(grad_of(L.inv), well_conditioned(3))
    assert cr.gradcheck(grad_of(L.det), randn(3, 3))
    assert cr.gradcheck(grad_of(lambda X: L.cholesky(spd(X))), randn(3, 3))
    assert cr.gradcheck(grad_of(lambda A: L.qr(A).R), randn(4, 3))
    assert cr.gradcheck(grad_of(lambda A: L.svd(A).S ** 2), randn(4, 3))
    # ∂ log|det A| / ∂A_ij = (A⁻¹)_ji, so ∂²/∂A_ij ∂A_kl = -(A⁻¹)_jk (A⁻¹)_li.
    A = well_conditioned(3)
    hess = cr.hessian(lambda A: L.slogdet(A).logabsdet)(cr.tensor(A)).numpy()
    Ai = np.linalg.inv(A)
    np.testing.assert_allclose(hess, -np.einsum("jk,li->ijkl", Ai, Ai), rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------
# Gradients: PyTorch as a second oracle
# --------------------------------------------------------------------------
def _torch_cases(torch):
    tl = torch.linalg

    def tsym(X):
        return 0.5 * (X + X.mT)

    def tspd(X):
        return X @ X.mT + X.shape[-1] * torch.eye(X.shape[-1], dtype=X.dtype)
    return [
        (lambda A, B: L.solve(A, B), lambda A, B: tl.solve(A, B),
         [well_conditioned(4), randn(4, 2)]),
        (L.inv, tl.inv, [well_conditioned(4)]),
        (L.det, tl.det, [randn(2, 3, 3)]),
        (lambda A: L.slogdet(A)[1], lambda A: tl.slogdet(A)[1], [randn(3, 3)]),
        (lambda A: L.solve_triangular(A, A[:, :2] * 2, lower=False),
         lambda A: tl.solve_triangular(A, A[:, :2] * 2, upper=True),
         [np.triu(well_conditioned(3))]),
        (lambda X: L.cholesky(spd(X)), lambda X: tl.cholesky(tspd(X)), [randn(4, 4)]),
        (lambda A: L.qr(A)[0] + 0, lambda A: tl.qr(A)[0], [randn(5, 3)]),
        (lambda A: L.qr(A)[1] + 0, lambda A: tl.qr(A)[1], [randn(3, 5)]),
        (lambda X: L.eigh(sym(X))[0], lambda X: tl.eigh(tsym(X))[0], [randn(4, 4)]),
        (lambda X: L.eigh(sym(X))[1].abs(), lambda X: tl.eigh(tsym(X))[1].abs(), [randn(4, 4)]),
        (lambda A: L.svd(A)[1], lambda A: tl.svd(A, full_matrices=False)[1], [randn(5, 3)]),
        (lambda A: L.svd(A)[0].abs(), lambda A: tl.svd(A, full_matrices=False)[0].abs(),
         [randn(5, 3)]),
        (lambda A: L.svd(A)[2].abs(), lambda A: tl.svd(A, full_matrices=False)[2].abs(),
         [randn(3, 5)]),
        (lambda A: L.lu(A)[1] + L.lu(A)[2], lambda A: sum(tl.lu(A)[1:]), [randn(4, 4)]),
        (lambda x: L.norm(x, "nuc"), lambda x: tl.norm(x, "nuc"), [randn(3, 4)]),
        (lambda x: L.norm(x, 3, axis=1), lambda x: tl.norm(x, 3, dim=1), [randn(3, 4)]),
        (lambda A, b: L.lstsq(A, b).solution,
         lambda A, b: tl.lstsq(A, b[:, None]).solution[:, 0], [randn(6, 3), randn(6)]),
    ]


def test_values_and_gradients_match_torch():
    torch = pytest.importorskip("torch")
    for i, (f_cr, f_torch, inputs) in enumerate(_torch_cases(torch)):
        ours = [cr.tensor(x, requires_grad=True) for x in inputs]
        theirs = [torch.tensor(x, requires_grad=True) for x in inputs]
        out, ref = f_cr(*ours), f_torch(*theirs)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=f"value of case {i}")
        v = randn(*out.shape, seed=100 + i)
        (out * v).sum().backward()
        (ref * torch.tensor(v)).sum().backward()
        for a, t in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-9,
                                       err_msg=f"gradient of case {i}")


# --------------------------------------------------------------------------
# Least squares
# --------------------------------------------------------------------------
DIABETES = [152.1, -10.0, -239.8, 519.8, 324.4, -792.2, 476.7, 101.0, 177.1, 751.3, 67.6]


@pytest.mark.parametrize("method", ["qr", "normal", "cholesky", "svd"])
def test_diabetes_table_every_method(method):
    X, y = load_diabetes()
    A = np.hstack([np.ones((len(X), 1)), X])          # the intercept column
    with warnings.catch_warnings():
        warnings.simplefilter("error", L.PrecisionWarning)   # well conditioned: no warning
        result = L.lstsq(A, y, method=method)
    np.testing.assert_array_equal(np.round(result.solution.numpy(), 1), DIABETES)
    reference_fit = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(result.solution.numpy(), reference_fit[0], rtol=1e-9)
    np.testing.assert_allclose(result.residuals.numpy(), reference_fit[1], rtol=1e-9)
    assert result.rank == 11
    np.testing.assert_allclose(result.singular_values, reference_fit[3], rtol=1e-12)
    assert 100 < result.cond < 1000


def test_diabetes_in_float32():
    X, y = load_diabetes()
    A = np.hstack([np.ones((len(X), 1)), X]).astype(np.float32)
    x = L.lstsq(A, y.astype(np.float32)).solution
    assert x.dtype == np.float32
    np.testing.assert_allclose(x.numpy(), DIABETES, atol=0.06)


def _vandermonde_problem(degree=12, points=50):
    t = np.linspace(0.0, 1.0, points)
    V = np.vander(t, degree + 1, increasing=True)      # columns 1, t, t², ..., t¹²
    coefficients = np.ones(degree + 1)
    return V, V @ coefficients, coefficients


def test_vandermonde_normal_equations_lose_digits_that_qr_keeps():
    V, b, c = _vandermonde_problem()

    def relative_error(x):
        return np.linalg.norm(x.numpy() - c) / np.linalg.norm(c)
    qr_fit = L.lstsq(V, b, method="qr")
    assert 1e8 < qr_fit.cond < 1e10                  # cond(V) ≈ 7e8, so cond(VᵀV) ≈ 5e17 > 1/eps
    with pytest.warns(L.PrecisionWarning, match=r"method='qr'"):
        normal_fit = L.lstsq(V, b, method="normal")
    qr_error, normal_error = relative_error(qr_fit.solution), relative_error(normal_fit.solution)
    svd_error = relative_error(L.lstsq(V, b, method="svd").solution)
    # QR loses about cond·eps ≈ 1e-7 (measured 1.3e-8); the normal equations lose every digit.
    assert qr_error < 1e-6
    assert svd_error < 1e-6
    assert normal_error > 1e-2
    assert normal_error > 1e5 * qr_error
    # The normal-equation solution still fits the data (the residual is small):
    # it is the coefficients that are wrong, which is what the lost digits mean.
    assert np.linalg.norm(V @ normal_fit.solution.numpy() - b) < 1e-6 * np.linalg.norm(b)


def test_precision_warning_threshold():
    assert issubclass(L.PrecisionWarning, UserWarning)
    eps = np.finfo(np.float64).eps
    # cond(A)² · eps > sqrt(eps)  <=>  cond > eps^(-1/4) ≈ 8192 in float64.
    A = np.diag([1.0, 1.0 / 5000])                       # cond 5000: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", L.PrecisionWarning)
        L.lstsq(A, np.ones(2), method="normal")
    assert 5000 < eps ** -0.25 < 20000
    with pytest.warns(L.PrecisionWarning, match="condition number 2e"):
        L.lstsq(np.diag([1.0, 1.0 / 20000]), np.ones(2), method="normal")
    V, b, _ = _vandermonde_problem(degree=6)             # cond ≈ 2e4: Cholesky works, but warns
    with pytest.warns(L.PrecisionWarning, match="cholesky"):
        L.lstsq(V, b, method="cholesky")
    with warnings.catch_warnings():                      # QR never warns
        warnings.simplefilter("error", L.PrecisionWarning)
        L.lstsq(V, b, method="qr")


def test_float32_warns_sooner():
    A = np.diag([1.0, 1.0 / 100]).astype(np.float32)    # cond 100 > float32's threshold ≈ 54
    with pytest.warns(L.PrecisionWarning, match="float32"):
        L.lstsq(A, np.ones(2, np.float32), method="normal")


def test_lstsq_matches_numpy_multiple_right_hand_sides_and_wide():
    A, B = randn(7, 3), randn(7, 2, seed=1)
    expected = np.linalg.lstsq(A, B, rcond=None)
    for method in ("qr", "normal", "cholesky", "svd"):
        result = L.lstsq(A, B, method=method)
        np.testing.assert_allclose(result.solution.numpy(), expected[0], rtol=1e-10)
        np.testing.assert_allclose(result.residuals.numpy(), expected[1], rtol=1e-10)
    wide, rhs = randn(2, 4), randn(2)
    result = L.lstsq(wide, rhs, method="svd")            # minimum-norm solution
    np.testing.assert_allclose(result.solution.numpy(), np.linalg.pinv(wide) @ rhs, rtol=1e-10)
    assert result.residuals.shape == (0,) and result.rank == 2


def test_lstsq_rank_deficient():
    A = randn(6, 3)
    A[:, 2] = A[:, 0] + A[:, 1]                         # rank 2
    b = randn(6, seed=1)
    result = L.lstsq(A, b, method="svd")
    assert result.rank == 2 and result.cond > 1e12
    np.testing.assert_allclose(result.solution.numpy(), np.linalg.lstsq(A, b, rcond=None)[0],
                               rtol=1e-8)
    assert result.residuals.shape == (0,)               # as NumPy, for rank < n
    with pytest.raises(np.linalg.LinAlgError, match=r"rank 2 < 3 columns.*method='svd'"):
        L.lstsq(A, b, method="qr")


@pytest.mark.parametrize("method", ["qr", "normal", "cholesky", "svd"])
def test_least_squares_layer_learns_through_lstsq(method):
    # A(θ) = A0 + 0.3 (θ₀ A1 + θ₁ A2); learn θ by gradient descent so that the
    # least-squares solution x(θ) = argmin ‖A(θ) x - b‖ hits a target that
    # θ* = (0.5, -0.3) reaches. Every step differentiates through lstsq.
    A0, b = randn(20, 3, seed=1), randn(20, seed=4)
    basis = cr.tensor(0.3 * np.stack([randn(20, 3, seed=2), randn(20, 3, seed=3)]))

    def layer(theta):
        A = cr.tensor(A0) + cr.einsum("k,kij->ij", theta, basis)
        return L.lstsq(A, b, method=method).solution
    with cr.no_grad():
        target = layer(cr.tensor([0.5, -0.3], dtype="float64")).numpy()
    theta = cr.zeros(2, dtype="float64", requires_grad=True)
    losses = []
    for _ in range(60):
        theta.grad = None
        loss = ((layer(theta) - target) ** 2).sum()
        loss.backward()
        losses.append(loss.item())
        with cr.no_grad():
            theta -= 20.0 * theta.grad
    assert losses[-1] < 1e-12 * losses[0]
    np.testing.assert_allclose(theta.numpy(), [0.5, -0.3], atol=1e-6)


# --------------------------------------------------------------------------
# Reference algorithms against LAPACK
# --------------------------------------------------------------------------
def _sign_fixed(Q, R):
    """Make R's diagonal positive (QR is unique up to these signs)."""
    d = np.sign(np.diag(R))
    d[d == 0] = 1
    return Q * d, R * d[:, None]


@pytest.mark.parametrize("method", ["householder", "gram-schmidt", "modified-gram-schmidt"])
@pytest.mark.parametrize("shape", [(6, 4), (4, 4)])
def test_reference_qr_agrees_with_lapack(method, shape):
    A = randn(*shape)
    Q, R = L.qr(A, method=method)
    Qr, Rr = _sign_fixed(*np.linalg.qr(A))
    Q, R = _sign_fixed(Q.numpy(), R.numpy())
    np.testing.assert_allclose(Q, Qr, atol=1e-12)
    np.testing.assert_allclose(R, Rr, atol=1e-12)


def test_householder_wide_and_same_signs_as_lapack():
    A = randn(3, 5)
    Q, R = reference.householder_qr(A)
    Qr, Rr = np.linalg.qr(A)
    np.testing.assert_allclose(Q, Qr, atol=1e-12)         # same sign choice as LAPACK
    np.testing.assert_allclose(R, Rr, atol=1e-12)


def test_modified_gram_schmidt_keeps_orthogonality_classical_loses():
    V, _, _ = _vandermonde_problem(degree=10, points=30)
    lost = {}
    for name, algorithm in [("classical", reference.gram_schmidt),
                            ("modified", reference.modified_gram_schmidt),
                            ("householder", reference.householder_qr)]:
        Q, R = algorithm(V)
        np.testing.assert_allclose(Q @ R, V, atol=1e-12)
        lost[name] = np.linalg.norm(Q.T @ Q - np.eye(Q.shape[1]))
    # Trefethen & Bau lecture 9: classical ≫ modified (≈ cond·eps) ≫ Householder (≈ eps).
    assert lost["classical"] > 1e-2
    assert lost["modified"] < 1e-3 and lost["classical"] > 100 * lost["modified"]
    assert lost["householder"] < 1e-13


@pytest.mark.parametrize("shape", [(5, 5), (6, 4), (4, 6)])
def test_reference_lu_agrees_with_scipy(shape):
    A = randn(*shape)
    P, Lo, U = reference.lu_partial_pivoting(A)
    Ps, Ls, Us = scipy.linalg.lu(A)
    np.testing.assert_allclose(P, Ps)
    np.testing.assert_allclose(Lo, Ls, atol=1e-12)
    np.testing.assert_allclose(U, Us, atol=1e-12)
    assert np.abs(Lo).max() <= 1.0                      # partial pivoting bounds the multipliers
    P2, L2, U2 = L.lu(A, method="doolittle")
    np.testing.assert_allclose(P2.numpy() @ L2.numpy() @ U2.numpy(), A, atol=1e-12)


def test_substitutions_and_power_iteration():
    A = well_conditioned(5)
    b = randn(5, seed=1)
    np.testing.assert_allclose(reference.forward_substitution(np.tril(A), b),
                               np.linalg.solve(np.tril(A), b), rtol=1e-12)
    np.testing.assert_allclose(reference.back_substitution(np.triu(A), b),
                               np.linalg.solve(np.triu(A), b), rtol=1e-12)
    S = spd(randn(6, 6))
    value, vector = reference.power_iteration(S, seed=0, tol=1e-14)
    w, V = np.linalg.eigh(S)
    assert value == pytest.approx(w[-1], rel=1e-10)
    assert abs(vector @ V[:, -1]) == pytest.approx(1.0, abs=1e-6)


# --------------------------------------------------------------------------
# Errors that say what is wrong
# --------------------------------------------------------------------------
def test_errors_name_the_problem():
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        L.cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(np.linalg.LinAlgError, match="not symmetric"):
        L.cholesky(np.array([[2.0, 1.0], [0.0, 2.0]]))
    with pytest.raises(np.linalg.LinAlgError, match="singular.*lstsq"):
        L.solve(np.ones((2, 2)), np.ones(2))
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        L.inv(np.zeros((3, 3)))
    with pytest.raises(np.linalg.LinAlgError, match="zero on its diagonal"):
        L.solve_triangular(np.zeros((2, 2)), np.ones(2))
    with pytest.raises(cr.ShapeError, match=r"square matrix, got shape \(2, 3\)"):
        L.inv(np.ones((2, 3)))
    with pytest.raises(cr.ShapeError, match=r"\(\.\.\., m, n\), got shape \(3,\)"):
        L.qr(np.ones(3))
    with pytest.raises(cr.ShapeError, match="b needs 3 entries"):
        L.solve(np.eye(3), np.ones(4))
    with pytest.raises(cr.ShapeError, match=r"b must have shape \(4,\) or \(4, k\)"):
        L.lstsq(np.ones((4, 2)), np.ones(3))
    with pytest.raises(ValueError, match="method must be one of 'qr', 'normal'"):
        L.lstsq(np.ones((4, 2)), np.ones(4), method="magic")
    with pytest.raises(ValueError, match="'householder', 'gram-schmidt'"):
        L.qr(np.ones((3, 2)), method="givens")
    with pytest.raises(ValueError, match="m >= n"):
        L.qr(np.ones((2, 3)), method="gram-schmidt")
    with pytest.raises(np.linalg.LinAlgError, match="column 1 .*full column rank"):
        reference.modified_gram_schmidt(np.ones((3, 2)))
    with pytest.raises(ValueError, match="full_matrices=False"):
        L.svd(np.ones((3, 2)), full_matrices=True)
    with pytest.raises(ValueError, match="square matrices only"):
        L.lu(cr.tensor(np.ones((3, 2)), requires_grad=True))
    assert L.lu(np.ones((3, 2))).U.shape == (2, 2)          # no gradient asked: fine
    with pytest.raises(ValueError, match="invalid ord 'nuc' for a vector"):
        L.norm(np.ones(3), "nuc")


# --------------------------------------------------------------------------
# The examples in the docstrings run
# --------------------------------------------------------------------------
@pytest.mark.parametrize("module", ["chainrule.linalg", "chainrule.linalg.solvers",
                                    "chainrule.linalg.decompositions", "chainrule.linalg.lstsq",
                                    "chainrule.linalg.norms", "chainrule.linalg.nmf",
                                    "chainrule.linalg.conv_matrix", "chainrule.linalg.reference"])
def test_docstring_examples(module):
    import doctest
    import importlib
    import sys
    importlib.import_module(module)
    result = doctest.testmod(sys.modules[module], extraglobs={"cr": cr, "np": np})
    assert result.attempted > 0 and result.failed == 0
