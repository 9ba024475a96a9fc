"""GradientTape breadth and custom gradients (issue 22), written from the
examples of TensorFlow's guides "Introduction to gradients and automatic
differentiation" and "Advanced automatic differentiation"."""
import numpy as np
import pytest

import chainrule as cr


def scalar(v):
    return cr.tensor(v, dtype="float64")


# --------------------------------------------------------------------------
# stop_recording, reset, two tapes over the same operations
# --------------------------------------------------------------------------
def test_stop_recording():
    x, y = scalar(2.0), scalar(3.0)
    with cr.GradientTape() as t:
        t.watch([x, y])
        x_sq = x * x
        with t.stop_recording():
            y_sq = y * y
        z = x_sq + y_sq
    grad = t.gradient(z, {"x": x, "y": y})
    assert float(grad["x"]) == 4.0
    assert grad["y"] is None


def test_stop_recording_outside_the_block_is_an_error():
    tape = cr.GradientTape()
    with pytest.raises(RuntimeError, match="not recording"):
        with tape.stop_recording():
            pass


def test_reset_forgets_what_was_recorded():
    x = scalar(2.0)
    with cr.GradientTape() as t:
        t.watch(x)
        loss = x * x                 # forgotten by the reset
        t.reset()
        t.watch(x)
        loss = loss + 3 * x
    assert float(t.gradient(loss, x)) == 3.0


def test_two_tapes_each_compute_their_gradient_from_the_same_operations():
    x0, x1 = scalar(0.0), scalar(0.0)
    with cr.GradientTape() as tape0, cr.GradientTape() as tape1:
        tape0.watch(x0)
        tape1.watch(x1)
        y0 = cr.sin(x0)
        y1 = cr.sigmoid(x1)
        ys = cr.sum(y0 + y1)
    assert float(tape0.gradient(ys, x0)) == pytest.approx(1.0)     # cos(0)
    assert float(tape1.gradient(ys, x1)) == pytest.approx(0.25)    # σ(0)(1 - σ(0))


def test_a_non_persistent_tape_still_answers_once():
    x = scalar(3.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="only once"):
        tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="only once"):
        tape.jacobian(y, x)


# --------------------------------------------------------------------------
# Jacobians
# --------------------------------------------------------------------------
def _finite_difference_jacobian(f, x, eps=1e-6):
    out = f(x)
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        jac[(...,) + idx] = (f(x + step) - f(x - step)) / (2 * eps)
    return jac


def test_jacobian_of_a_dense_layer_with_respect_to_its_kernel():
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((7, 5)))
    layer = cr.layers.Dense(10, activation="sigmoid", dtype="float64")
    with cr.GradientTape(persistent=True) as tape:
        y = layer(x)
    j = tape.jacobian(y, layer.kernel)
    assert j.shape == (7, 10, 5, 10)
    bias = layer.bias.numpy()
    want = cr.jacobian(lambda k: cr.sigmoid(x @ k + bias))(layer.kernel.numpy())
    np.testing.assert_allclose(j.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)
    fd = _finite_difference_jacobian(
        lambda k: 1 / (1 + np.exp(-(x.numpy() @ k + bias))), layer.kernel.numpy())
    np.testing.assert_allclose(j.numpy(), fd, rtol=1e-5, atol=1e-8)


def test_jacobian_keeps_the_structure_of_the_sources_and_says_none_when_unconnected():
    x, w, unused = scalar(2.0), cr.tensor([1.0, 2.0, 3.0]), scalar(1.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch([x, w, unused])
        y = w * x
    jac = tape.jacobian(y, {"x": x, "w": w, "u": unused})
    np.testing.assert_allclose(jac["x"].numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(jac["w"].numpy(), 2.0 * np.eye(3))
    assert jac["u"] is None
    zero = tape.jacobian(y, unused, unconnected_gradients="zero")
    np.testing.assert_array_equal(zero.numpy(), np.zeros(3))


def test_batch_jacobian_equals_the_diagonal_blocks_of_the_full_jacobian():
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.standard_normal((7, 5)))
    layer1 = cr.layers.Dense(8, activation="elu", dtype="float64")
    layer2 = cr.layers.Dense(6, activation="elu", dtype="float64")
    with cr.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
        tape.watch(x)
        y = layer2(layer1(x))
    jb = tape.batch_jacobian(y, x)
    assert jb.shape == (7, 6, 5)
    full = tape.jacobian(y, x).numpy()                 # (7, 6, 7, 5)
    blocks = np.stack([full[i, :, i, :] for i in range(7)])
    np.testing.assert_allclose(jb.numpy(), blocks, rtol=1e-12, atol=1e-14)
    # and against finite differences, sample by sample
    def sample(row):
        return layer2(layer1(cr.tensor(row[None]))).numpy()[0]
    for i in (0, 4):
        fd = _finite_difference_jacobian(sample, x.numpy()[i])
        np.testing.assert_allclose(jb.numpy()[i], fd, rtol=1e-5, atol=1e-8)


def test_batch_jacobian_needs_a_shared_batch_dimension():
    x = cr.tensor(np.ones((3, 2)))
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.sum(x, axis=0)
    with pytest.raises(ValueError, match="same first"):
        tape.batch_jacobian(y, x)


def test_jacobian_inside_an_outer_tape_is_differentiable():
    x = scalar(1.5)
    with cr.GradientTape() as outer:
        outer.watch(x)
        with cr.GradientTape() as inner:
            inner.watch(x)
            y = x ** 3
        j = inner.jacobian(y, x)          # 3x²
    assert float(j) == pytest.approx(6.75)
    assert float(outer.gradient(j, x)) == pytest.approx(9.0)     # 6x


# --------------------------------------------------------------------------
# custom_gradient
# --------------------------------------------------------------------------
@cr.custom_gradient
def log1pexp(x):
    e = cr.exp(x)

    def grad_fn(upstream):
        return upstream * (1 - 1 / (1 + e))
    return cr.log(1 + e), grad_fn


def naive_log1pexp(x):
    return cr.log(1 + cr.exp(x))


def _three_faces(f, value):
    x = cr.tensor(value, requires_grad=True)
    f(x).backward()
    by_backward = float(x.grad)
    by_grad = float(cr.grad(f)(cr.tensor(value)))
    s = cr.tensor(value)
    with cr.GradientTape() as tape:
        tape.watch(s)
        y = f(s)
    return by_backward, by_grad, float(tape.gradient(y, s))


def test_log1pexp_has_a_stable_gradient_at_100_through_all_three_faces():
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(_three_faces(naive_log1pexp, 100.0)).all()   # inf/inf without it
        assert _three_faces(log1pexp, 100.0) == (1.0, 1.0, 1.0)
    assert _three_faces(log1pexp, 0.0) == (0.5, 0.5, 0.5)


def test_a_custom_gradient_is_differentiable_again():
    # d²/dx² log(1 + e^x) = σ(x)(1 - σ(x)): 0.25 at 0; grad_fn reads e = exp(x)
    assert float(cr.grad(cr.grad(log1pexp))(cr.tensor(0.0))) == pytest.approx(0.25)
    x = cr.tensor(1.0)
    s = 1 / (1 + np.exp(-1.0))
    assert float(cr.hessian(log1pexp)(x)) == pytest.approx(s * (1 - s))


@cr.custom_gradient
def clip_gradients(y):
    def backward(dy):
        return cr.clip_by_norm(dy, 0.5)
    return y, backward


def test_gradient_clipping_identity():
    v = scalar(2.0)
    with cr.GradientTape() as tape:
        tape.watch(v)
        output = clip_gradients(v * v)
    np.testing.assert_allclose(output.numpy(), 4.0)
    assert float(tape.gradient(output, v)) == 2.0     # the upstream 1 clipped to 0.5, times 2v
    assert _three_faces(lambda x: clip_gradients(x * x), 2.0) == (2.0, 2.0, 2.0)


def test_custom_gradient_with_two_arguments_and_bad_grad_functions():
    @cr.custom_gradient
    def product(a, b):
        return a * b, lambda g: (g * b, g * a)
    a, b = cr.tensor(2.0, requires_grad=True), cr.tensor(5.0, requires_grad=True)
    product(a, b).backward()
    assert (float(a.grad), float(b.grad)) == (5.0, 2.0)

    @cr.custom_gradient
    def wrong_count(a, b):
        return a * b, lambda g: g
    with pytest.raises(ValueError, match="returned 1 gradient.*2 tensor argument"):
        cr.grad(wrong_count, argnums=(0, 1))(cr.tensor(1.0), cr.tensor(2.0))

    @cr.custom_gradient
    def no_grad_fn(a):
        return a * 2
    with pytest.raises(TypeError, match=r"must return \(value, grad_fn\)"):
        no_grad_fn(cr.tensor(1.0))


# --------------------------------------------------------------------------
# cr.ops names are callables
# --------------------------------------------------------------------------
def test_ops_shape_is_a_function():
    assert cr.ops.shape(cr.zeros(2, 3)) == (2, 3)
