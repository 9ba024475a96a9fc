"""The engine: three faces of one traversal, accumulation, graph lifetime,
higher order, jacobian/hessian, no_grad, detect_anomaly, stability, training."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from helpers import faces_gradients


def _t(a, requires_grad=False):
    return cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# --------------------------------------------------------------------------
# The three faces
# --------------------------------------------------------------------------
def two_input_fn(a, b):
    return cr.softmax(cr.tanh(a @ b), axis=-1) * cr.sigmoid(b).sum() + a.mean()


def test_three_faces_agree_with_each_other_and_with_the_analytic_gradient(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    w = rng.standard_normal((3, 2))
    via_backward, via_grad, via_tape = faces_gradients(two_input_fn, [a, b], w)
    for gb, gg, gt in zip(via_backward, via_grad, via_tape):
        np.testing.assert_allclose(gb.numpy(), gg.numpy(), rtol=1e-12)
        np.testing.assert_allclose(gt.numpy(), gg.numpy(), rtol=1e-12)
    # and one small function against a hand-written derivative
    x = rng.standard_normal(5)
    want = np.cos(x) * 2 * np.sin(x)   # d/dx sin(x)^2
    f = lambda t: (cr.sin(t) ** 2).sum()  # noqa: E731
    np.testing.assert_allclose(cr.grad(f)(x).numpy(), want, rtol=1e-12)
    leaf = _t(x, True)
    f(leaf).backward()
    np.testing.assert_allclose(leaf.grad.numpy(), want, rtol=1e-12)
    src = _t(x)
    with cr.GradientTape() as tape:
        tape.watch(src)
        y = f(src)
    np.testing.assert_allclose(tape.gradient(y, src).numpy(), want, rtol=1e-12)


def test_readme_example():
    a = cr.tensor(2.0, requires_grad=True)
    b = cr.tensor(3.0, requires_grad=True)
    J = 3 * (a * b + 4)
    J.backward()
    assert a.grad.item() == 9.0 and b.grad.item() == 6.0


# --------------------------------------------------------------------------
# .backward(): accumulation, unused leaves, retain_graph, retain_grad
# --------------------------------------------------------------------------
def test_backward_accumulates_into_grad():
    x = _t([1.0, 2.0], True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 4])
    (3 * x).sum().backward()                 # a second graph adds on
    np.testing.assert_array_equal(x.grad.numpy(), [5, 7])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 4])


def test_backward_leaves_grad_none_for_unused_leaves():
    x, unused = _t([1.0, 2.0], True), _t([3.0], True)
    (x * 2).sum().backward()
    assert unused.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])


def test_backward_grad_keeps_leaf_dtype_and_shape():
    x = cr.tensor([[1.0, 2.0, 3.0]], requires_grad=True)   # float32, (1, 3)
    b = cr.tensor(2.0, requires_grad=True)                  # 0-d
    (x * cr.ones(4, 1) + b).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == (1, 3)
    np.testing.assert_array_equal(x.grad.numpy(), [[4, 4, 4]])
    assert b.grad.shape == () and b.grad.item() == 12


def test_second_backward_without_retain_graph_raises():
    x = _t([1.0, 2.0], True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward_which_accumulates():
    x = _t([1.0, 2.0], True)
    y = (x * x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * np.array([1.0, 4.0]))


def test_backward_with_explicit_gradient_for_a_non_scalar():
    x = _t([1.0, 2.0, 3.0], True)
    y = x * x
    y.backward(cr.tensor([1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2, 0, 12])
    with pytest.raises(ValueError):
        (x * 2).backward(cr.tensor([1.0, 2.0]))


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="requires_grad|require grad"):
        cr.tensor([1.0]).sum().backward()


def test_retain_grad_on_non_leaf():
    x = _t([1.0, 2.0], True)
    h = x * 3
    h.retain_grad()
    other = x + 1                       # a non-leaf without retain_grad
    y = (h * h).sum() + other.sum()
    y.backward()
    np.testing.assert_array_equal(h.grad.numpy(), 2 * h.numpy())
    assert other.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), 18 * x.numpy() + 1)
    assert not h.is_leaf and x.is_leaf


def test_leaf_grad_does_not_alias_a_retained_grad():
    x = _t([1.0, 2.0], True)
    h = x + 1
    h.retain_grad()
    (h * _t([3.0, 4.0])).sum().backward()
    with cr.no_grad():
        x.grad *= 0
    np.testing.assert_array_equal(h.grad.numpy(), [3, 4])


def test_gradients_from_grad_and_tape_are_writable():
    g = cr.grad(lambda t: t.sum())(np.array([1.0, 2.0]))
    w = _t([1.0, 2.0], True)
    with cr.GradientTape() as tape:
        y = w.sum()
    gw = tape.gradient(y, w)
    with cr.no_grad():
        g *= 0.5
        gw *= 0.5
    np.testing.assert_array_equal(g.numpy(), [0.5, 0.5])
    np.testing.assert_array_equal(gw.numpy(), [0.5, 0.5])


def test_first_order_gradient_records_no_graph_but_create_graph_does():
    x = _t([1.0, 2.0], True)
    (x ** 3).sum().backward()
    assert not x.grad.requires_grad and x.grad.is_leaf
    g = cr.grad(lambda t: (t ** 3).sum())(np.array([1.0, 2.0]))
    assert not g.requires_grad
    x.grad = None
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad


# --------------------------------------------------------------------------
# Graph shapes: diamonds, fan-out, depth
# --------------------------------------------------------------------------
def test_diamond_graph():
    a = _t(1.5, True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_shared_subexpression_gets_all_its_gradients():
    a = _t(3.0, True)
    b = a * a          # used twice below
    c = b * a + b      # a^3 + a^2  -> 3a^2 + 2a
    c.backward()
    assert a.grad.item() == pytest.approx(3 * 9 + 2 * 3)


def test_a_100000_deep_chain_needs_no_recursion():
    x = _t(1.0, True)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    assert x.grad.item() == pytest.approx(1.00001 ** 100_000, rel=1e-9)
    # the same depth through cr.grad
    def f(t):
        for _ in range(100_000):
            t = t + 1.0
        return t
    assert cr.grad(f)(2.0).item() == 1.0


# --------------------------------------------------------------------------
# no_grad and friends
# --------------------------------------------------------------------------
def test_no_grad_records_nothing():
    x = _t([1.0, 2.0], True)
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2 + 1
        with cr.enable_grad():
            z = x * 2
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad
    with cr.set_grad_enabled(False):
        assert not (x * x).requires_grad

    @cr.no_grad()
    def infer(t):
        return t * t
    assert not infer(x).requires_grad
    assert cr.is_grad_enabled()


def test_set_grad_enabled_as_a_function():
    try:
        cr.set_grad_enabled(False)
        assert not cr.is_grad_enabled()
        cr.set_grad_enabled(True)
        assert cr.is_grad_enabled()
    finally:
        with cr.set_grad_enabled(True):
            pass


def test_no_grad_restores_state_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with cr.no_grad():
            1 / 0
    assert cr.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = _t([1.0, 2.0], True)
    y = (x * x).detach() * x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 4])


def test_grad_and_tape_work_under_no_grad():
    with cr.no_grad():
        g = cr.grad(lambda t: (t * t).sum())(np.array([1.0, 3.0]))
        x = _t(2.0)
        with cr.GradientTape() as tape:
            tape.watch(x)
            y = x * x * x
        dx = tape.gradient(y, x)
    np.testing.assert_array_equal(g.numpy(), [2, 6])
    assert dx.item() == 12


# --------------------------------------------------------------------------
# detect_anomaly
# --------------------------------------------------------------------------
def test_detect_anomaly_forward_names_the_op():
    x = _t([0.0, 1.0], True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with cr.detect_anomaly():
            with pytest.raises(FloatingPointError, match="log"):
                cr.log(x)
        y = cr.log(x)       # without it: no error, -inf comes out
    assert np.isneginf(y.numpy()[0])


def test_detect_anomaly_raises_in_backward():
    x = _t([0.0, 1.0], True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = cr.sqrt(x).sum()          # forward is finite
        with cr.detect_anomaly():
            with pytest.raises(FloatingPointError):
                y.backward()


def test_detect_anomaly_backward_names_the_op():
    x = _t([0.0, 1.0], True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = cr.sqrt(x).sum()
        with cr.detect_anomaly():
            with pytest.raises(FloatingPointError) as info:
                y.backward()
    msg = str(info.value)
    assert "sqrt" in msg and "backward" in msg, msg


def test_detect_anomaly_accepts_max_pool_same_padding():
    x = cr.randn(1, 5, 5, 1, requires_grad=True)
    with cr.detect_anomaly():
        y = cr.max_pool2d(x, 2, padding="same")
        y.sum().backward()
    assert np.isfinite(y.numpy()).all()


def test_detect_anomaly_is_quiet_on_finite_graphs():
    x = _t([0.5, 1.0], True)
    with cr.detect_anomaly():
        cr.log(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 1.0])


# --------------------------------------------------------------------------
# GradientTape
# --------------------------------------------------------------------------
def test_tape_non_persistent_answers_once():
    x = _t(3.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert tape.gradient(y, x).item() == 6
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_tape_persistent_answers_many_times():
    x = _t(3.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * x
    assert tape.gradient(y, x).item() == 6
    assert tape.gradient(z, x).item() == 27
    assert tape.gradient(z, x).item() == 27


def test_tape_watches_requires_grad_tensors_and_watch_sets_it():
    w = _t([1.0, 2.0], True)
    x = _t([3.0, 4.0])
    assert not x.requires_grad
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = (w * x).sum()
    assert x.requires_grad
    np.testing.assert_array_equal(tape.gradient(y, w).numpy(), [3, 4])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1, 2])


def test_tape_unconnected_source_gives_none():
    x, other = _t(2.0), _t(5.0)
    with cr.GradientTape() as tape:
        tape.watch([x, other])
        y = x * x
    gx, gother = tape.gradient(y, [x, other])
    assert gx.item() == 4
    assert gother is None


def test_tape_watch_accessed_variables_false_watches_only_watched():
    w = _t([1.0, 2.0], True)
    x = _t([3.0, 4.0])
    with cr.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        y = (w * x).sum()
    gw, gx = tape.gradient(y, [w, x])
    np.testing.assert_array_equal(gx.numpy(), [1, 2])
    assert gw is None


def test_tape_gradient_of_a_source_itself_and_of_a_constant():
    x = _t(2.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        c = _t(3.0) * 2
    assert tape.gradient(x, x).item() == 1.0
    assert tape.gradient(c, x) is None


def test_tape_dict_and_list_sources_and_non_scalar_target():
    a, b = _t([1.0, 2.0], True), _t(3.0, True)
    with cr.GradientTape(persistent=True) as tape:
        y = a * b                      # non-scalar: summed, as TensorFlow
    g = tape.gradient(y, {"a": a, "b": b})
    assert set(g) == {"a", "b"}
    np.testing.assert_array_equal(g["a"].numpy(), [3, 3])
    assert g["b"].item() == 3
    ga, gb = tape.gradient(y, [a, b])
    np.testing.assert_array_equal(ga.numpy(), [3, 3])
    assert gb.item() == 3
    weighted = tape.gradient(y, a, output_gradients=cr.tensor([1.0, -2.0]))
    np.testing.assert_array_equal(weighted.numpy(), [3, -6])


@pytest.mark.parametrize("inside", [False, True])
def test_nested_tapes_give_second_derivatives(inside):
    x = _t(2.0)
    with cr.GradientTape() as outer:
        outer.watch(x)
        with cr.GradientTape() as inner:
            inner.watch(x)
            y = x ** 3
            if inside:
                dy = inner.gradient(y, x)
        if not inside:
            dy = inner.gradient(y, x)
    d2y = outer.gradient(dy, x)
    assert dy.item() == pytest.approx(12.0)
    assert d2y.item() == pytest.approx(12.0)     # 6x


# --------------------------------------------------------------------------
# cr.grad, value_and_grad
# --------------------------------------------------------------------------
def f3(x, y, z):
    return (x * x * y).sum() + 0 * z.sum()


def test_grad_argnums_int_and_tuple():
    x, y, z = np.array([1.0, 2.0]), np.array(3.0), np.array([5.0])
    gx = cr.grad(f3)(x, y, z)
    np.testing.assert_array_equal(gx.numpy(), [6, 12])
    gy = cr.grad(f3, argnums=1)(x, y, z)
    assert gy.item() == 5
    gx2, gy2 = cr.grad(f3, argnums=(0, 1))(x, y, z)
    np.testing.assert_array_equal(gx2.numpy(), [6, 12])
    assert gy2.item() == 5


def test_grad_unused_argument_gives_zeros():
    g_unused = cr.grad(lambda a, b: (a * 2).sum(), argnums=1)(_t([1.0]), np.array([[1.0, 2.0]]))
    assert g_unused.shape == (1, 2)
    np.testing.assert_array_equal(g_unused.numpy(), [[0, 0]])
    ga, gb = cr.grad(lambda a, b: (a * 2).sum(), argnums=(0, 1))(np.array([1.0]), np.array([[1.0, 2.0]]))
    np.testing.assert_array_equal(ga.numpy(), [2])
    np.testing.assert_array_equal(gb.numpy(), [[0, 0]])


def test_grad_has_aux():
    def f(x):
        y = x * x
        return y.sum(), {"y": y}
    g, aux = cr.grad(f, has_aux=True)(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g.numpy(), [2, 4])
    np.testing.assert_array_equal(aux["y"].numpy(), [1, 4])
    (val, aux2), g2 = cr.value_and_grad(f, has_aux=True)(np.array([3.0]))
    assert val.item() == 9 and g2.item() == 6 and aux2["y"].item() == 9


def test_grad_non_scalar_output_raises():
    with pytest.raises(ValueError, match="single number|scalar|shape"):
        cr.grad(lambda x: x * 2)(np.array([1.0, 2.0]))


def test_grad_accepts_python_floats_and_rejects_int_arrays():
    g = cr.grad(lambda x: x ** 3)(2.0)
    assert g.item() == pytest.approx(12.0) and g.dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        cr.grad(lambda x: (x ** 3).sum())(np.array([1, 2]))


def test_grad_rejects_python_int():
    with pytest.raises(TypeError):
        cr.grad(lambda x: x ** 3)(2)


def test_grad_does_not_touch_dot_grad():
    w = _t([1.0, 2.0], True)
    g = cr.grad(lambda t: (t * t).sum())(w)
    np.testing.assert_array_equal(g.numpy(), [2, 4])
    assert w.grad is None


def test_value_and_grad():
    val, g = cr.value_and_grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    assert val.item() == 5
    assert not val.requires_grad
    np.testing.assert_array_equal(g.numpy(), [2, 4])
    val, (ga, gb) = cr.value_and_grad(lambda a, b: (a * b).sum(), argnums=(0, 1))(
        np.array([2.0]), np.array([3.0]))
    assert val.item() == 6 and ga.item() == 3 and gb.item() == 2


def test_nested_grad():
    d2 = cr.grad(cr.grad(lambda x: x ** 3))
    d3 = cr.grad(d2)
    assert d2(2.0).item() == pytest.approx(12.0)    # 6x
    assert d3(2.0).item() == pytest.approx(6.0)
    assert cr.grad(cr.grad(lambda x: cr.sin(x)))(0.5).item() == pytest.approx(-np.sin(0.5), rel=1e-6)


# --------------------------------------------------------------------------
# jacobian, hessian
# --------------------------------------------------------------------------
def test_jacobian_of_a_vector_function(rng):
    A = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)
    J = cr.jacobian(lambda t: cr.tanh(_t(A) @ t))(x)
    want = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    assert J.shape == (3, 4)
    np.testing.assert_allclose(J.numpy(), want, rtol=1e-10)


def test_jacobian_shapes_and_argnums(rng):
    X = rng.standard_normal((2, 3))
    J = cr.jacobian(lambda t: t * 2)(X)
    assert J.shape == (2, 3, 2, 3)
    np.testing.assert_array_equal(J.numpy().reshape(6, 6), 2 * np.eye(6))
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    Ja, Jb = cr.jacobian(lambda u, v: u * v, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(Ja.numpy(), np.diag(b))
    np.testing.assert_allclose(Jb.numpy(), np.diag(a))


def test_hessian_of_quadratic_form(rng):
    A = rng.standard_normal((3, 3))
    x = rng.standard_normal(3)
    H = cr.hessian(lambda t: t @ (_t(A) @ t))(x)
    np.testing.assert_allclose(H.numpy(), A + A.T, rtol=1e-10, atol=1e-12)


def test_hessian_of_sum_of_cubes(rng):
    x = rng.standard_normal(4)
    H = cr.hessian(lambda t: (t ** 3).sum())(x)
    np.testing.assert_allclose(H.numpy(), np.diag(6 * x), rtol=1e-10, atol=1e-12)


def test_hessian_of_logsumexp(rng):
    x = rng.standard_normal(4)
    p = np.exp(x) / np.exp(x).sum()
    H = cr.hessian(lambda t: cr.logsumexp(t))(x)
    np.testing.assert_allclose(H.numpy(), np.diag(p) - np.outer(p, p), rtol=1e-8, atol=1e-12)


def test_hessian_of_a_matrix_argument_and_third_derivatives(rng):
    X = rng.standard_normal((2, 2))
    H = cr.hessian(lambda t: (t ** 3).sum())(X)
    assert H.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(H.numpy().reshape(4, 4), np.diag(6 * X.ravel()), rtol=1e-10, atol=1e-12)
    d3 = cr.grad(cr.grad(cr.grad(lambda t: cr.sin(t))))
    assert d3(0.5).item() == pytest.approx(-np.cos(0.5), rel=1e-6)
    T = cr.jacobian(cr.hessian(lambda t: (t ** 4).sum()))(np.array([1.0, 2.0]))
    want = np.zeros((2, 2, 2))
    want[0, 0, 0], want[1, 1, 1] = 24 * 1, 24 * 2
    np.testing.assert_allclose(T.numpy(), want, rtol=1e-10)


def test_hessian_of_a_linear_function_is_zero(rng):
    H = cr.hessian(lambda t: (t * 3).sum())(rng.standard_normal(3))
    np.testing.assert_array_equal(H.numpy(), np.zeros((3, 3)))


# --------------------------------------------------------------------------
# Second order through the ops, two ways
# --------------------------------------------------------------------------
_r = np.random.default_rng(42)
_W = _r.standard_normal((4, 3))
_K = _r.standard_normal((2, 2, 2, 2))
SECOND_ORDER = [
    ("matmul", (2, 4), lambda x: (cr.tanh(x @ _t(_W)) ** 2).sum()),
    ("tanh", (5,), lambda x: cr.tanh(x).sum()),
    ("sigmoid", (5,), lambda x: cr.sigmoid(x).sum()),
    ("softmax", (2, 4), lambda x: (cr.softmax(x, axis=-1) * _t(np.arange(8.0).reshape(2, 4))).sum()),
    ("log_softmax", (2, 4), lambda x: (cr.log_softmax(x, axis=0) ** 2).sum()),
    ("logsumexp", (2, 3), lambda x: cr.logsumexp(x, axis=1).sum()),
    ("conv2d", (1, 4, 4, 2), lambda x: (cr.conv2d(x, _t(_K), padding="same") ** 2).sum()),
    ("conv2d-stride2", (1, 5, 5, 2), lambda x: cr.tanh(cr.conv2d(x, _t(_K), stride=2)).sum()),
    ("max_pool2d", (1, 4, 4, 1), lambda x: (cr.max_pool2d(x, 2) ** 2).sum()),
    ("max_pool2d-same", (1, 5, 5, 1), lambda x: (cr.max_pool2d(x, 2, padding="same") ** 3).sum()),
    ("avg_pool2d", (1, 4, 4, 1), lambda x: (cr.avg_pool2d(x, 2, stride=1) ** 2).sum()),
    ("exp-log", (4,), lambda x: cr.log(cr.exp(x) + 1).sum()),
    ("divide-sqrt", (4,), lambda x: (1 / cr.sqrt(x * x + 1)).sum()),
    ("power", (4,), lambda x: ((x * x + 1) ** 1.5).sum()),
    ("elu-softplus", (6,), lambda x: (cr.elu(x) ** 2 + cr.softplus(x) ** 2).sum()),
    ("var-std", (2, 3), lambda x: cr.var(x, axis=1).sum() * cr.std(x)),
    ("getitem", (4, 3), lambda x: (x[[0, 0, 2]] ** 3).sum() + (x[1:, None, ::2] ** 2).sum()),
    ("einsum", (3, 3), lambda x: cr.einsum("ij,jk,ki->", x, x, x)),
    ("where-maximum", (5,), lambda x: (cr.where(x > 0, x ** 3, x ** 2) + cr.maximum(x, 0.1) ** 2).sum()),
    ("concatenate-pad", (2, 2), lambda x: (cr.pad(cr.concatenate([x, x * x], axis=1), 1) ** 2).sum()),
    ("max-mean", (3, 4), lambda x: (cr.max(x, axis=1) ** 2).sum() + (cr.mean(x, axis=0) ** 2).sum()),
    ("relu-abs-leaky", (6,), lambda x: (cr.relu(x) ** 2 + cr.abs(x) ** 3 + cr.leaky_relu(x, 0.2) ** 2).sum()),
    ("clip-minimum", (6,), lambda x: (cr.clip(x, -0.9, 1.0) ** 2 * cr.minimum(x, 0.3)).sum()),
    ("sin-cos", (4,), lambda x: (cr.sin(x) * cr.cos(x * 2)).sum()),
    ("scatter_add-take", (4,), lambda x: (cr.scatter_add(x ** 2, np.array([0, 0, 1, 2]), (3,)) ** 2).sum()
     + (cr.take(x, [3, 3]) ** 3).sum()),
    ("broadcast-sum_to", (3,), lambda x: (cr.sum_to(cr.broadcast_to(x, (2, 3)) ** 2, (1, 3)) ** 2).sum()),
    ("stack-transpose", (2, 3), lambda x: ((cr.stack([x, x * x], axis=-1).transpose((2, 0, 1))) ** 2).sum()),
]


@pytest.mark.parametrize("name,shape,f", SECOND_ORDER, ids=[s[0] for s in SECOND_ORDER])
def test_second_order_gradcheck(name, shape, f):
    x = np.random.default_rng(7).uniform(0.2, 1.5, size=shape) * np.where(
        np.arange(np.prod(shape)).reshape(shape) % 3 == 1, -1, 1)
    assert cr.gradcheck(lambda t: cr.grad(f)(t), x, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("name,shape,f", SECOND_ORDER, ids=[s[0] for s in SECOND_ORDER])
def test_second_order_create_graph_gives_hessian_vector_products(name, shape, f):
    rng = np.random.default_rng(8)
    x = rng.uniform(0.2, 1.5, size=shape) * np.where(
        np.arange(np.prod(shape)).reshape(shape) % 3 == 1, -1, 1)
    v = rng.standard_normal(shape)
    leaf = _t(x, True)
    f(leaf).backward(create_graph=True)
    g = leaf.grad
    assert g.requires_grad
    leaf.grad = None
    (g * _t(v)).sum().backward()
    hv = leaf.grad.numpy()
    # central differences of the first derivative along v
    eps = 1e-6
    gp = cr.grad(f)(x + eps * v).numpy()
    gm = cr.grad(f)(x - eps * v).numpy()
    np.testing.assert_allclose(hv, (gp - gm) / (2 * eps), rtol=1e-4, atol=1e-5)


def test_second_order_mixed_partials_through_conv2d(rng):
    x = rng.standard_normal((1, 4, 4, 2))
    w = rng.standard_normal((3, 3, 2, 2))
    f = lambda a, k: cr.tanh(cr.conv2d(a, k, padding="same")).sum()  # noqa: E731
    assert cr.gradcheck(lambda a, k: cr.grad(f, argnums=1)(a, k), x, w)
    assert cr.gradcheck(lambda a, k: cr.grad(f, argnums=0)(a, k), x, w)


def test_gradcheck_catches_a_wrong_derivative():
    from chainrule.tensor import record

    def bad_exp(x):
        return record("bad_exp", np.exp(x.numpy()), (x,), lambda g, out, x: g * x)
    with pytest.raises(cr.GradcheckError, match="differ"):
        cr.gradcheck(lambda t: bad_exp(t), np.array([0.5, 1.0]))
    assert issubclass(cr.GradcheckError, AssertionError)


# --------------------------------------------------------------------------
# Numerical stability at +-1000
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stability_at_plus_minus_1000(dtype):
    x = np.array([1000.0, -1000.0])
    w = np.array([0.7, -1.3])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # no overflow, no invalid
        cases = [
            # fn, exact value, exact gradient of sum(fn(x) * w)
            (cr.softmax, [1.0, 0.0], [0.0, 0.0]),
            (cr.log_softmax, [0.0, -2000.0], [w[0] - w.sum(), w[1]]),
            (cr.sigmoid, [1.0, 0.0], [0.0, 0.0]),
            (cr.softplus, [1000.0, 0.0], [w[0], 0.0]),
            (cr.tanh, [1.0, -1.0], [0.0, 0.0]),
        ]
        for fn, value, grad in cases:
            t = cr.tensor(x, dtype=dtype, requires_grad=True)
            y = fn(t)
            assert y.dtype == np.dtype(dtype)
            np.testing.assert_allclose(y.numpy(), value, rtol=1e-6, atol=0, err_msg=fn.__name__)
            (y * cr.tensor(w, dtype=dtype)).sum().backward()
            assert np.isfinite(t.grad.numpy()).all(), fn.__name__
            np.testing.assert_allclose(t.grad.numpy(), grad, rtol=1e-6, atol=1e-6, err_msg=fn.__name__)

        t = cr.tensor(x, dtype=dtype, requires_grad=True)
        y = cr.logsumexp(t)
        assert y.item() == pytest.approx(1000.0, rel=1e-7)
        y.backward()
        np.testing.assert_allclose(t.grad.numpy(), [1.0, 0.0], atol=1e-7)

        t = cr.tensor([1000.0, 1000.0], dtype=dtype, requires_grad=True)
        y = cr.logsumexp(t)
        assert y.item() == pytest.approx(1000.0 + np.log(2), rel=1e-7)
        y.backward()
        # exp(x - out) with out rounded to float32 near 1000 (ulp 6e-5): as torch
        np.testing.assert_allclose(t.grad.numpy(), [0.5, 0.5], rtol=1e-4 if dtype == "float32" else 1e-12)

        t = cr.tensor([[-1000.0, -1001.0, -1002.0]], dtype=dtype, requires_grad=True)
        y = cr.log_softmax(t, axis=1)
        p = np.exp([0.0, -1.0, -2.0]) / np.exp([0.0, -1.0, -2.0]).sum()
        np.testing.assert_allclose(y.numpy()[0], np.log(p), rtol=1e-5)
        np.testing.assert_allclose(cr.softmax(t, axis=1).numpy()[0], p, rtol=1e-5)


def test_masked_softmax_with_minus_inf_has_finite_gradients():
    x = np.array([[0.5, -np.inf, 1.0], [-np.inf, 2.0, -np.inf]])
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    p = np.exp(np.array([0.5, 1.0]))
    p = p / p.sum()
    for fn in (cr.softmax, cr.log_softmax):
        t = cr.tensor(x, requires_grad=True)
        y = fn(t, axis=1)
        (cr.where(np.isfinite(x), y, 0.0) * cr.tensor(w)).sum().backward()
        assert np.isfinite(t.grad.numpy()).all(), fn.__name__
        np.testing.assert_array_equal(t.grad.numpy()[:, 1][0], 0.0)
    sm = cr.softmax(cr.tensor(x), axis=1).numpy()
    np.testing.assert_allclose(sm[0], [p[0], 0, p[1]], rtol=1e-12)
    np.testing.assert_array_equal(sm[1], [0, 1, 0])
    t = cr.tensor(x[0], requires_grad=True)
    cr.logsumexp(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), [p[0], 0, p[1]], rtol=1e-12)


# --------------------------------------------------------------------------
# Training: a 2-8-1 network fits XOR with hand-written gradient descent
# --------------------------------------------------------------------------
def test_two_layer_network_fits_xor():
    rng = np.random.default_rng(0)
    X = _t([[0, 0], [0, 1], [1, 0], [1, 1]])
    Y = _t([[0], [1], [1], [0]])
    W1 = _t(rng.normal(0, 1, (2, 8)), True)
    b1 = _t(np.zeros(8), True)
    W2 = _t(rng.normal(0, 1, (8, 1)), True)
    b2 = _t(np.zeros(1), True)
    params = [W1, b1, W2, b2]
    ids = [id(p) for p in params]
    first = None
    for _ in range(500):
        p = cr.sigmoid(cr.tanh(X @ W1 + b1) @ W2 + b2)
        loss = ((p - Y) ** 2).mean()
        first = loss.item() if first is None else first
        for q in params:
            q.grad = None
        loss.backward()
        with cr.no_grad():
            for q in params:
                q -= 2.0 * q.grad
    assert [id(q) for q in params] == ids          # updated in place
    assert all(q.requires_grad and q.is_leaf for q in params)
    assert loss.item() < 0.05 < first
    np.testing.assert_array_equal(p.numpy().round().ravel(), [0, 1, 1, 0])


def test_slice_gradients_add_into_one_buffer_without_touching_shared_arrays():
    # Indexing's backward adds each slice's gradient in place into one buffer
    # per input (graph.IndexedGrad); a gradient array shared with another
    # input (a + b hands both the same one) must be copied, not written into.
    a = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = cr.tensor(np.ones((2, 3)), requires_grad=True)
    loss = (a + b).sum() + 5 * a[0].sum() + 2 * a[:, 1].sum() + a[[1, 1, 0], [2, 2, 0]].sum()
    loss.backward()
    expected = np.ones((2, 3))
    expected[0] += 5
    expected[:, 1] += 2
    expected[1, 2] += 2
    expected[0, 0] += 1
    np.testing.assert_array_equal(a.grad.numpy(), expected)
    np.testing.assert_array_equal(b.grad.numpy(), np.ones((2, 3)))


def test_a_loop_over_time_steps_gets_the_same_gradient_both_ways():
    # First order: slices go back through IndexedGrad; with create_graph
    # through the differentiable scatter_add. Both must agree (and be right).
    from chainrule.autodiff import gradients
    x = cr.tensor(np.random.default_rng(0).standard_normal((4, 7, 3)), requires_grad=True)
    w = cr.tensor(np.random.default_rng(1).standard_normal(3))
    plain = cr.grad(lambda x: _loop(x, w))(x)
    (recorded,) = gradients(_loop(x, w), [x], create_graph=True)
    np.testing.assert_allclose(plain.numpy(), recorded.data, rtol=1e-12)
    assert cr.gradcheck(lambda x: _loop(x, w), x)


def _loop(x, w):
    h = 0.0
    for t in range(x.shape[1]):
        h = cr.tanh(h + x[:, t] @ w)
    return h.sum()
