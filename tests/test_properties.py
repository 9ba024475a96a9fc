"""Property tests: random broadcastable shapes for the binary ops and random
axes for the reductions. Gradients must come back in each input's shape and
match finite differences."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra.numpy import mutually_broadcastable_shapes  # noqa: E402

import chainrule as cr  # noqa: E402

SETTINGS = settings(max_examples=25, deadline=None)
two_shapes = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
three_shapes = mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3)
seeds = st.integers(0, 2 ** 32 - 1)

BINARY = {
    "add": (cr.add, np.add, (-2, 2)),
    "subtract": (cr.subtract, np.subtract, (-2, 2)),
    "multiply": (cr.multiply, np.multiply, (-2, 2)),
    "divide": (cr.divide, np.divide, (0.5, 2)),
    "maximum": (cr.maximum, np.maximum, (-2, 2)),
    "minimum": (cr.minimum, np.minimum, (-2, 2)),
    "power": (cr.power, np.power, (0.5, 2)),      # positive base
}


def _check_grads_shapes(fn, arrays):
    """Gradients through .backward() have each input's shape and dtype."""
    leaves = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    w = np.random.default_rng(0).standard_normal(out.shape)
    (out * cr.tensor(w)).sum().backward()
    for leaf, a in zip(leaves, arrays):
        assert leaf.grad is not None
        assert leaf.grad.shape == a.shape
        assert leaf.grad.dtype == np.float64
    return [leaf.grad.numpy() for leaf in leaves]


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shapes=two_shapes, seed=seeds)
def test_binary_ops_broadcast_and_sum_gradients_back(name, shapes, seed):
    fn, ref, (low, high) = BINARY[name]
    rng = np.random.default_rng(seed)
    a, b = (rng.uniform(low, high, size=s) for s in shapes.input_shapes)
    out = fn(cr.tensor(a), cr.tensor(b))
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.numpy(), ref(a, b), rtol=1e-12)
    _check_grads_shapes(fn, [a, b])
    assert cr.gradcheck(fn, a, b)


@SETTINGS
@given(shapes=two_shapes, seed=seeds)
def test_add_and_multiply_gradients_are_the_broadcast_sums(shapes, seed):
    # d(sum(w * (a + b)))/da is w summed over the broadcast axes: check it directly.
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(s) for s in shapes.input_shapes)
    ga, gb = _check_grads_shapes(lambda x, y: x + y, [a, b])
    w = np.random.default_rng(0).standard_normal(shapes.result_shape)

    def reduce_to(g, shape):
        lead = g.ndim - len(shape)
        g = g.sum(axis=tuple(range(lead)))
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        return g.sum(axis=axes, keepdims=True).reshape(shape)
    np.testing.assert_allclose(ga, reduce_to(w, a.shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb, reduce_to(w, b.shape), rtol=1e-12, atol=1e-12)
    ga, gb = _check_grads_shapes(lambda x, y: x * y, [a, b])
    np.testing.assert_allclose(ga, reduce_to(w * np.broadcast_to(b, w.shape), a.shape), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb, reduce_to(w * np.broadcast_to(a, w.shape), b.shape), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(shapes=three_shapes, seed=seeds)
def test_where_broadcasts_all_three(shapes, seed):
    rng = np.random.default_rng(seed)
    cshape, xshape, yshape = shapes.input_shapes
    cond = rng.random(cshape) > 0.5
    x, y = rng.standard_normal(xshape), rng.standard_normal(yshape)
    fn = lambda a, b: cr.where(cond, a, b)  # noqa: E731
    out = fn(cr.tensor(x), cr.tensor(y))
    assert out.shape == shapes.result_shape
    np.testing.assert_array_equal(out.numpy(), np.where(cond, x, y))
    gx, gy = _check_grads_shapes(fn, [x, y])
    assert cr.gradcheck(fn, x, y)
    # each output entry sends its gradient to exactly one of x and y
    w = np.random.default_rng(0).standard_normal(shapes.result_shape)
    np.testing.assert_allclose(gx.sum() + gy.sum(), w.sum(), rtol=1e-10, atol=1e-10)


@st.composite
def shape_and_axes(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        picked = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in picked)   # some negative
    return shape, axis, draw(st.booleans())


def _logsumexp(x, axis=None, keepdims=False):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


REDUCTIONS = {
    "sum": (cr.sum, np.sum), "mean": (cr.mean, np.mean), "var": (cr.var, np.var), "std": (cr.std, np.std),
    "max": (cr.max, np.max), "min": (cr.min, np.min), "logsumexp": (cr.logsumexp, _logsumexp),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(spec=shape_and_axes(), seed=seeds)
def test_reductions_over_random_axes(name, spec, seed):
    shape, axis, keepdims = spec
    fn, ref = REDUCTIONS[name]
    x = np.random.default_rng(seed).standard_normal(shape)
    f = lambda t: fn(t, axis=axis, keepdims=keepdims)  # noqa: E731
    got = f(cr.tensor(x))
    want = ref(x, axis=axis, keepdims=keepdims)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
    if name == "std" and np.size(x) // max(np.size(want), 1) == 1:
        return   # std of one number is sqrt(0): no finite derivative
    _check_grads_shapes(f, [x])
    assert cr.gradcheck(f, x)


@SETTINGS
@given(spec=shape_and_axes(), seed=seeds)
def test_softmax_rows_sum_to_one_and_match_numpy(spec, seed):
    shape, axis, _ = spec
    ax = axis if isinstance(axis, int) else -1
    x = np.random.default_rng(seed).standard_normal(shape) * 5
    p = cr.softmax(cr.tensor(x), axis=ax).numpy()
    np.testing.assert_allclose(p.sum(axis=ax), 1.0, rtol=1e-12)
    e = np.exp(x - x.max(axis=ax, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(axis=ax, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(cr.log_softmax(cr.tensor(x), axis=ax).numpy(), np.log(p), rtol=1e-10, atol=1e-12)
    assert cr.gradcheck(lambda t: cr.log_softmax(t, axis=ax), x)
