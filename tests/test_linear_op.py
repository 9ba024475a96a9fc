"""The fused ``linear`` op (``x @ kernel + bias`` as one node) and its use by Dense.

Values and first derivatives of every input rank are in the every-op table of
``test_ops.py``; here: PyTorch as an oracle, second derivatives through the
differentiable path, dtypes, the shape errors, and Dense recording one node.
"""
import numpy as np
import pytest

import chainrule as cr


def _inputs(x_shape, n_in=3, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(x_shape), rng.standard_normal((n_in, n_out)),
            rng.standard_normal(n_out))


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3), (3,)])
def test_matches_torch_linear(x_shape):
    torch = pytest.importorskip("torch")
    x, w, b = _inputs(x_shape)
    xs = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = cr.linear(*xs)
    weights = np.random.default_rng(1).standard_normal(out.shape)
    (out * cr.tensor(weights)).sum().backward()

    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    tout = torch.nn.functional.linear(ts[0], ts[1].T, ts[2])   # torch's weight is (out, in)
    (tout * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12)
    for mine, theirs in zip(xs, ts):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_same_gradients_as_matmul_plus_add():
    x, w, b = _inputs((6, 3))
    fused = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    plain = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    cr.tanh(cr.linear(*fused)).sum().backward()
    cr.tanh(plain[0] @ plain[1] + plain[2]).sum().backward()
    for f, p in zip(fused, plain):
        np.testing.assert_allclose(f.grad.numpy(), p.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 2, 3), (3,)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_second_derivatives(x_shape, use_bias):
    """create_graph takes the differentiable path of the vjp: the gradient of a
    function of the gradient is checked against finite differences."""
    x, w, b = _inputs(x_shape)

    def grad_norm(x, w, *b):
        grads = cr.grad(lambda *args: cr.tanh(cr.linear(*args)).sum(),
                        argnums=tuple(range(2 + len(b))))(x, w, *b)
        return sum((g * g).sum() for g in grads)

    inputs = [cr.tensor(x), cr.tensor(w)] + ([cr.tensor(b)] if use_bias else [])
    assert cr.gradcheck(grad_norm, *inputs)


def test_dtypes():
    x, w, b = (a.astype(np.float32) for a in _inputs((4, 3)))
    assert cr.linear(cr.tensor(x), cr.tensor(w), cr.tensor(b)).dtype == np.float32
    # float64 data through float32 weights: promoted as x @ W + b would be,
    # and each weight's gradient comes back in its own dtype
    wt, bt = cr.tensor(w, requires_grad=True), cr.tensor(b, requires_grad=True)
    out = cr.linear(cr.tensor(x.astype(np.float64)), wt, bt)
    assert out.dtype == np.float64
    out.sum().backward()
    assert wt.grad.dtype == np.float32 and bt.grad.dtype == np.float32
    np.testing.assert_allclose(bt.grad.numpy(), np.full(2, 4.0))


def test_does_not_modify_its_inputs():
    x, w, b = _inputs((4, 3))
    copies = [a.copy() for a in (x, w, b)]
    cr.linear(cr.tensor(x), cr.tensor(w), cr.tensor(b))
    for a, c in zip((x, w, b), copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("x_shape,w_shape,b_shape,match", [
    ((4, 3), (3, 2, 1), (2,), r"kernel must be a matrix of shape \(in, out\), got shape \(3, 2, 1\)"),
    ((4, 5), (3, 2), (2,), r"last axis of x \(shape \(4, 5\)\) must equal the first axis of the kernel \(shape \(3, 2\)\)"),
    ((), (3, 2), (2,), r"last axis of x \(shape \(\)\)"),
    ((4, 3), (3, 2), (1, 2), r"bias must have shape \(2,\), one value per output, got shape \(1, 2\)"),
    ((4, 3), (3, 2), (3,), r"bias must have shape \(2,\)"),
])
def test_shape_errors(x_shape, w_shape, b_shape, match):
    with pytest.raises(cr.ShapeError, match=match):
        cr.linear(cr.ones(*x_shape), cr.ones(*w_shape), cr.ones(*b_shape))


@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_records_one_linear_node(use_bias):
    layer = cr.layers.Dense(2, use_bias=use_bias)
    x = cr.tensor(np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32))
    y = layer(x)
    assert y._node.op == "linear"
    assert len(y._node.inputs) == (3 if use_bias else 2)
    expected = x.numpy() @ layer.kernel.numpy() + (layer.bias.numpy() if use_bias else 0)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)


def test_dense_activation_applied_after_the_bias():
    layer = cr.layers.Dense(3, activation="relu", bias_initializer="ones")
    x = cr.tensor(-np.ones((4, 2), np.float32))
    y = layer(x)
    assert y._node.op == "relu" and y._node.inputs[0]._node.op == "linear"
    np.testing.assert_allclose(
        y.numpy(), np.maximum(x.numpy() @ layer.kernel.numpy() + 1, 0), rtol=1e-6)
