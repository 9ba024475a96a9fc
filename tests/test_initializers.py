"""Initializers: shapes, fans, Keras 3's bounds and standard deviations,
orthogonality, seeds, and get/serialize."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import initializers as init
from chainrule.initializers import compute_fans

TRUNC = 0.87962566103423978          # std of a unit normal truncated at ±2


@pytest.mark.parametrize("shape, fans", [
    ((), (1, 1)), ((7,), (7, 7)), ((300, 200), (300, 200)),
    ((3, 3, 16, 32), (3 * 3 * 16, 3 * 3 * 32)), ((5, 4, 2), (20, 10))])
def test_compute_fans_as_keras(shape, fans):
    assert compute_fans(shape) == fans


# (initializer, fan used for the variance, scale, uniform?)
VARIANCE_CASES = [
    (init.GlorotUniform, "avg", 1.0, True), (init.GlorotNormal, "avg", 1.0, False),
    (init.HeUniform, "in", 2.0, True), (init.HeNormal, "in", 2.0, False),
    (init.LecunUniform, "in", 1.0, True), (init.LecunNormal, "in", 1.0, False),
]


@pytest.mark.parametrize("cls, mode, scale, uniform", VARIANCE_CASES)
@pytest.mark.parametrize("shape", [(400, 300), (3, 3, 32, 64)])
def test_variance_scaling_family_bounds_and_std(cls, mode, scale, uniform, shape):
    fan_in, fan_out = compute_fans(shape)
    n = (fan_in + fan_out) / 2 if mode == "avg" else fan_in
    std = np.sqrt(scale / n)                     # every variant targets variance scale/n
    w = cls(seed=0)(shape)
    assert w.shape == shape and w.dtype == np.float32
    assert abs(w.mean()) < 0.05 * std
    assert w.std() == pytest.approx(std, rel=0.03)
    if uniform:
        limit = np.sqrt(3 * scale / n)           # e.g. Glorot: sqrt(6 / (fan_in + fan_out))
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    else:
        # truncated normal: stddev sqrt(scale/n)/0.8796, cut at two of those
        bound = 2 * std / TRUNC
        assert np.abs(w).max() <= bound * (1 + 1e-6) and np.abs(w).max() > 0.95 * bound


def test_variance_scaling_modes_and_untruncated():
    w = init.VarianceScaling(scale=2.0, mode="fan_out", distribution="untruncated_normal",
                             seed=1)((100, 400))
    assert w.std() == pytest.approx(np.sqrt(2.0 / 400), rel=0.03)
    assert np.abs(w).max() > 2.5 * np.sqrt(2.0 / 400)   # tails are not cut
    with pytest.raises(ValueError, match="mode must be fan_in, fan_out or fan_avg, got 'fan'"):
        init.VarianceScaling(mode="fan")
    with pytest.raises(ValueError, match="scale must be positive"):
        init.VarianceScaling(scale=0)
    with pytest.raises(ValueError, match="distribution must be"):
        init.VarianceScaling(distribution="normal")


def test_random_defaults_as_keras():
    u = init.RandomUniform(seed=0)((200, 200))
    assert u.min() >= -0.05 and u.max() <= 0.05 and u.max() > 0.049
    n = init.RandomNormal(seed=0)((200, 200))
    assert n.std() == pytest.approx(0.05, rel=0.03)
    t = init.TruncatedNormal(mean=1.0, seed=0)((200, 200))
    assert np.abs(t - 1.0).max() <= 0.1 and t.mean() == pytest.approx(1.0, abs=1e-3)
    assert (t - 1.0).std() == pytest.approx(0.05 * TRUNC, rel=0.03)
    emb = init.get("uniform")
    assert isinstance(emb, init.RandomUniform) and (emb.minval, emb.maxval) == (-0.05, 0.05)


def test_constant_initializers_and_dtype():
    np.testing.assert_array_equal(init.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.Ones()((4,), dtype="float64"), np.ones(4))
    assert init.Ones()((4,), dtype="float64").dtype == np.float64
    np.testing.assert_array_equal(init.Constant(2.5)((2, 2)), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(init.Identity(gain=2.0)((3, 4)), 2 * np.eye(3, 4))
    with pytest.raises(ValueError, match="Identity needs a 2-D shape"):
        init.Identity()((3, 3, 3))


@pytest.mark.parametrize("shape", [(6, 6), (10, 4), (4, 10), (3, 3, 4, 8)])
def test_orthogonal_is_orthogonal(shape):
    gain = 1.5
    q = init.Orthogonal(gain=gain, seed=2)(shape, dtype="float64")
    assert q.shape == shape
    m = q.reshape(-1, shape[-1]) / gain
    rows, cols = m.shape
    if rows >= cols:
        np.testing.assert_allclose(m.T @ m, np.eye(cols), atol=1e-10)    # orthonormal columns
    else:
        np.testing.assert_allclose(m @ m.T, np.eye(rows), atol=1e-10)    # orthonormal rows
    with pytest.raises(ValueError, match="Orthogonal needs a shape of 2 or more dimensions"):
        init.Orthogonal()((5,))


@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal", "orthogonal", "random_normal",
                                  "truncated_normal", "lecun_uniform"])
def test_seeds_reproducible(name):
    cls = type(init.get(name))
    a, b = cls(seed=7)((20, 30)), cls(seed=7)((20, 30))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, cls(seed=8)((20, 30)))
    # Unseeded initializers follow cr.set_seed.
    cr.set_seed(3)
    c = cls()((20, 30))
    cr.set_seed(3)
    np.testing.assert_array_equal(c, cls()((20, 30)))
    assert not np.array_equal(c, cls()((20, 30)))


def test_layer_weights_follow_set_seed():
    cr.set_seed(11)
    a = cr.layers.Dense(4)(np.ones((1, 3), np.float32))
    cr.set_seed(11)
    b = cr.layers.Dense(4)(np.ones((1, 3), np.float32))
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_lstm_bias_forget_slice_is_ones():
    lstm = cr.layers.LSTM(4, bias_initializer=init.Constant(0.5))
    lstm(np.zeros((1, 2, 3), np.float32))
    bias = lstm.bias.numpy()
    np.testing.assert_array_equal(bias[4:8], np.ones(4))                 # forget gate
    np.testing.assert_array_equal(np.r_[bias[:4], bias[8:]], np.full(12, 0.5))


def test_get_serialize_deserialize():
    assert isinstance(init.get("glorot_uniform"), init.GlorotUniform)
    assert isinstance(init.get("HeNormal"), init.HeNormal)
    assert isinstance(init.get(init.Zeros), init.Zeros)
    obj = init.RandomNormal(mean=1.0, stddev=0.2, seed=4)
    assert init.get(obj) is obj
    spec = init.serialize(obj)
    assert spec == {"class_name": "RandomNormal",
                    "config": {"mean": 1.0, "stddev": 0.2, "seed": 4}}
    np.testing.assert_array_equal(init.get(spec)((3, 3)), obj((3, 3)))
    vs = init.deserialize(init.serialize(init.VarianceScaling(2.0, "fan_out", "uniform", 1)))
    assert (vs.scale, vs.mode, vs.distribution, vs.seed) == (2.0, "fan_out", "uniform", 1)
    with pytest.raises(ValueError, match="unknown initializer 'glorot'"):
        init.get("glorot")
    with pytest.raises(ValueError, match="unknown initializer 'Nope'"):
        init.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(TypeError, match="cannot interpret 3 as an initializer"):
        init.get(3)
