"""The Tensor itself: creation, dtype rules (API.md section 9), conversion,
printing, comparisons, in-place updates, seeding."""
import numpy as np
import pytest

import chainrule as cr


# --------------------------------------------------------------------------
# dtype rules
# --------------------------------------------------------------------------
@pytest.mark.parametrize("data,dtype", [
    (1.5, np.float32), ([1.0, 2.0], np.float32), ([[1.0, 2], [3, 4]], np.float32), ([1, 2.5], np.float32),
    (3, np.int64), ([1, 2, 3], np.int64), ([[1], [2]], np.int64), (True, np.bool_), ([True, False], np.bool_),
    (np.array([1.0, 2.0]), np.float64), (np.array([1.0], dtype=np.float32), np.float32),
    (np.array([1, 2], dtype=np.int32), np.int32), (np.array(2.0), np.float64),
])
def test_creation_dtype_rules(data, dtype):
    t = cr.tensor(data)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_explicit_dtype_wins():
    assert cr.tensor([1.0, 2.0], dtype="float64").dtype == np.float64
    assert cr.tensor([1, 2], dtype="float32").dtype == np.float32
    assert cr.tensor(np.array([1.0]), dtype=np.float32).dtype == np.float32
    t = cr.tensor([0.1], dtype="float64")
    assert t.numpy()[0] == 0.1                     # not rounded through float32


@pytest.mark.parametrize("fn", [lambda x: x * 2, lambda x: 2 * x, lambda x: x + 1, lambda x: x / 3,
                                lambda x: x - 0.5, lambda x: x ** 2, lambda x: 2.0 ** x, lambda x: -x,
                                lambda x: x * np.float64(2.0), lambda x: cr.exp(x), lambda x: x.mean(),
                                lambda x: x.var(), lambda x: cr.sigmoid(x), lambda x: cr.softplus(x),
                                lambda x: cr.logsumexp(x), lambda x: cr.where(x > 1, x, 0.0),
                                lambda x: cr.maximum(x, 0.5), lambda x: cr.clip(x, 0.0, 1.5)])
def test_float32_stays_float32_with_python_numbers(fn):
    x = cr.tensor([1.0, 2.0])
    assert fn(x).dtype == np.float32


def test_float64_stays_float64():
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * 2 + 1).exp().sum() / 3
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float64


def test_int_tensors_stay_int():
    t = cr.tensor([1, 2, 3])
    assert (t + 1).dtype == np.int64
    assert (t * t).dtype == np.int64
    assert not (t + 1).requires_grad


# --------------------------------------------------------------------------
# Creation functions
# --------------------------------------------------------------------------
def test_zeros_ones_full_like():
    for fn, val in ((cr.zeros, 0), (cr.ones, 1)):
        a, b = fn(2, 3), fn((2, 3))
        assert a.shape == b.shape == (2, 3)
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a.numpy(), np.full((2, 3), val))
        assert fn(4, dtype="float64").dtype == np.float64
        assert fn(2, requires_grad=True).requires_grad
    f = cr.full((2, 2), 1.5)
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f.numpy(), [[1.5, 1.5], [1.5, 1.5]])
    assert cr.full(3, 7).dtype == np.int64
    assert cr.full(3, 7).shape == (3,)
    src = cr.tensor(np.arange(6.0).reshape(2, 3))
    for fn, val in ((cr.zeros_like, 0), (cr.ones_like, 1)):
        t = fn(src)
        assert t.shape == (2, 3) and t.dtype == np.float64
        np.testing.assert_array_equal(t.numpy(), np.full((2, 3), val))
        assert fn(np.zeros((2,), np.int64)).dtype == np.int64


def test_arange_and_eye():
    a = cr.arange(5)
    assert a.dtype == np.int64
    np.testing.assert_array_equal(a.numpy(), np.arange(5))
    np.testing.assert_array_equal(cr.arange(2, 8, 2).numpy(), [2, 4, 6])
    f = cr.arange(0, 1, 0.25)
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f.numpy(), [0, 0.25, 0.5, 0.75])
    e = cr.eye(3)
    assert e.dtype == np.float32
    np.testing.assert_array_equal(e.numpy(), np.eye(3))
    np.testing.assert_array_equal(cr.eye(2, 3).numpy(), np.eye(2, 3))


def test_rand_randn_shapes_ranges_and_dtype():
    r = cr.rand(1000)
    assert r.dtype == np.float32 and r.shape == (1000,)
    assert 0 <= r.numpy().min() and r.numpy().max() < 1
    assert abs(r.numpy().mean() - 0.5) < 0.05
    n = cr.randn(50, 40)
    assert n.shape == (50, 40) and n.dtype == np.float32
    assert abs(n.numpy().mean()) < 0.1 and abs(n.numpy().std() - 1) < 0.1
    assert cr.randn(3, dtype="float64").dtype == np.float64
    assert cr.rand((2, 2)).shape == (2, 2)


def test_set_seed_makes_rand_and_randn_reproducible():
    cr.set_seed(123)
    a, b = cr.rand(5).numpy(), cr.randn(2, 3).numpy()
    cr.set_seed(123)
    np.testing.assert_array_equal(cr.rand(5).numpy(), a)
    np.testing.assert_array_equal(cr.randn(2, 3).numpy(), b)
    cr.set_seed(124)
    assert not np.array_equal(cr.rand(5).numpy(), a)
    np.testing.assert_array_equal(cr.randn(4, seed=9).numpy(), cr.randn(4, seed=9).numpy())


def test_tensor_copies_its_data():
    arr = np.array([1.0, 2.0])
    t = cr.tensor(arr)
    arr[0] = 100
    assert t.numpy()[0] == 1.0
    u = cr.tensor(t)
    t.numpy()[1] = 50
    assert u.numpy()[1] == 2.0


# --------------------------------------------------------------------------
# Conversion and properties
# --------------------------------------------------------------------------
def test_item_float_int_numpy():
    t = cr.tensor([[2.5]])
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert float(t) == 2.5
    assert float(cr.tensor(3.0)) == 3.0
    assert int(cr.tensor(7)) == 7 and isinstance(cr.tensor(7).item(), int)
    x = cr.tensor([1.0, 2.0])
    assert isinstance(x.numpy(), np.ndarray)
    np.testing.assert_array_equal(np.asarray(x), [1, 2])
    assert x.tolist() == [1.0, 2.0]


def test_shape_properties_and_T():
    x = cr.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert (x.shape, x.ndim, x.size, len(x)) == ((2, 3, 4), 3, 24, 2)
    np.testing.assert_array_equal(x.T.numpy(), np.arange(24.0).reshape(2, 3, 4).T)
    m = cr.tensor([[1.0, 2.0, 3.0]])
    assert m.T.shape == (3, 1)
    np.testing.assert_array_equal(m.T.numpy(), [[1], [2], [3]])


def test_repr():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(cr.tensor([1, 2])) == "tensor([1, 2])"
    r64 = repr(cr.tensor(np.array([1.5])))
    assert r64.startswith("tensor([1.5]") and "float64" in r64
    assert "requires_grad=True" in repr(cr.ones(2, requires_grad=True))
    assert "multiply" in repr(cr.ones(2, requires_grad=True) * 2)
    assert repr(cr.tensor(3.0)) == "tensor(3.)"


def test_detach_and_requires_grad_flags():
    x = cr.tensor([1.0], requires_grad=True)
    assert x.is_leaf and x.requires_grad and x.grad is None
    y = x * 2
    assert y.requires_grad and not y.is_leaf
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), [2])
    assert not (cr.tensor([1.0]) * 2).requires_grad
    z = cr.tensor([1.0]).requires_grad_()
    assert z.requires_grad


# --------------------------------------------------------------------------
# Comparisons and in-place updates
# --------------------------------------------------------------------------
def test_comparisons_return_bool_tensors():
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for got, want in ((a > 2, [False, False, True]), (a >= 2, [False, True, True]), (a < 2, [True, False, False]),
                      (a <= 2, [True, True, False]), (a == 2, [False, True, False]), (a != 2, [True, False, True]),
                      (a == cr.tensor([1.0, 0.0, 3.0]), [True, False, True])):
        assert isinstance(got, cr.Tensor)
        assert got.dtype == np.bool_ and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want)
    assert bool(cr.tensor(2.0) > 1)


def test_tensors_are_hashable_by_identity():
    a, b = cr.tensor([1.0]), cr.tensor([1.0])
    assert len({a, b}) == 2
    assert {a: 1}[a] == 1


def test_inplace_add_under_no_grad_keeps_the_same_object():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    data = w.numpy()
    with cr.no_grad():
        w_before = w
        w += cr.tensor([0.5, 0.5])
        w -= 1.0
        w *= 2
        w /= 4
    assert w is w_before and w.numpy() is data
    np.testing.assert_allclose(w.numpy(), [0.25, 0.75])
    assert w.requires_grad and w.is_leaf and w.dtype == np.float32


def test_inplace_on_a_plain_tensor_is_in_place_and_differentiable_one_rebinds():
    p = cr.tensor([1.0, 2.0])
    q = p
    p += 1
    assert p is q
    np.testing.assert_array_equal(q.numpy(), [2, 3])
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y0 = y
    y += x                 # recorded: y is a new tensor, the gradient stays right
    assert y is not y0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])


def test_dtype_names_are_numpy_dtypes():
    x = cr.zeros(2, dtype=cr.float64)
    assert x.dtype == np.float64
    assert cr.tensor([1, 2], dtype=cr.int32).dtype == np.int32
    assert cr.ones(1, dtype=cr.bool_).dtype == np.bool_


def test_use_generator_swaps_the_global_generator_for_a_block():
    import numpy as np
    from chainrule.random import default_rng, use_generator

    cr.set_seed(1)
    outside = default_rng()
    with use_generator(np.random.default_rng(7)) as rng:
        assert default_rng() is rng
        inside = cr.rand(3).numpy()
    assert default_rng() is outside
    np.testing.assert_array_equal(inside, np.random.default_rng(7).random(3).astype(np.float32))
