"""``cr.random`` with Keras 3's names and seeding rules (issue 16)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import random


def test_int_seed_repeats_and_seed_generator_advances():
    a = random.normal((3,), seed=7).numpy()
    b = random.normal((3,), seed=7).numpy()
    np.testing.assert_array_equal(a, b)
    gen = random.SeedGenerator(7)
    c, d = random.normal((3,), seed=gen).numpy(), random.normal((3,), seed=gen).numpy()
    assert not np.array_equal(c, d)
    gen2 = random.SeedGenerator(7)
    np.testing.assert_array_equal(random.normal((3,), seed=gen2).numpy(), c)
    assert gen.state.tolist() == [7, 2]


def test_seed_generator_without_seed_follows_set_seed():
    cr.set_seed(3)
    first = random.uniform((4,), seed=random.SeedGenerator()).numpy()
    cr.set_seed(3)
    np.testing.assert_array_equal(random.uniform((4,), seed=random.SeedGenerator()).numpy(),
                                  first)


def test_distributions_shapes_dtypes_and_statistics():
    n = random.normal((20000,), mean=2.0, stddev=3.0, seed=0).numpy()
    assert n.dtype == np.float32
    assert n.mean() == pytest.approx(2.0, abs=0.1) and n.std() == pytest.approx(3.0, rel=0.05)
    u = random.uniform((2, 5000), minval=-1, maxval=3, dtype="float64", seed=0).numpy()
    assert u.dtype == np.float64 and u.min() >= -1 and u.max() < 3
    t = random.truncated_normal((20000,), stddev=2.0, seed=0).numpy()
    assert np.abs(t).max() <= 4.0 and t.std() > 1.5
    r = random.randint((1000,), 2, 5, seed=0).numpy()
    assert r.dtype == np.int32 and set(np.unique(r)) == {2, 3, 4}
    with pytest.raises(ValueError, match="integer dtype"):
        random.randint((2,), 0, 3, dtype="float32")
    g = random.gamma((5000,), alpha=2.0, seed=0).numpy()
    assert g.mean() == pytest.approx(2.0, rel=0.1)
    b = random.binomial((5000,), counts=10, probabilities=0.3, seed=0).numpy()
    assert b.dtype == np.float32 and b.mean() == pytest.approx(3.0, rel=0.1)
    be = random.beta((5000,), alpha=2.0, beta=2.0, seed=0).numpy()
    assert be.min() >= 0 and be.max() <= 1 and be.mean() == pytest.approx(0.5, abs=0.05)


def test_categorical_follows_softmax_of_logits():
    logits = np.log(np.array([[0.1, 0.6, 0.3], [1.0, 1e-9, 1e-9]]))
    draws = random.categorical(logits, 20000, seed=0).numpy()
    assert draws.shape == (2, 20000) and draws.dtype == np.int32
    freq = np.bincount(draws[0], minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.3], atol=0.02)
    assert (draws[1] == 0).all()
    with pytest.raises(ValueError, match="batch_size, num_classes"):
        random.categorical(np.zeros(3), 2)


def test_dropout_scales_and_is_differentiable():
    x = cr.ones(1000, 4, requires_grad=True)
    y = random.dropout(x, 0.25, seed=1)
    kept = y.numpy() != 0
    assert np.allclose(y.numpy()[kept], 1 / 0.75)
    assert kept.mean() == pytest.approx(0.75, abs=0.03)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy())
    shared = random.dropout(cr.ones(50, 4), 0.5, noise_shape=(None, 1), seed=2).numpy()
    assert all(len(set(row)) == 1 for row in shared)      # one mask value per row


def test_shuffle_permutes_along_an_axis():
    x = cr.arange(12).reshape(3, 4)
    s = random.shuffle(x, axis=1, seed=0).numpy()
    assert sorted(s[0].tolist()) == [0, 1, 2, 3]
    np.testing.assert_array_equal(s - s[:, :1], np.repeat((s - s[:, :1])[:1], 3, axis=0))
    y = random.shuffle(x, seed=5).numpy()
    assert sorted(y[:, 0].tolist()) == [0, 4, 8]


def test_bad_seed_is_refused():
    with pytest.raises(TypeError, match="SeedGenerator"):
        random.normal((2,), seed="seven")
    with pytest.raises(TypeError, match="int or None"):
        random.SeedGenerator(1.5)


def test_other_random_users_take_a_seed_generator():
    gen = random.SeedGenerator(11)
    a = cr.randn(3, seed=gen).numpy()
    b = cr.randn(3, seed=gen).numpy()
    assert not np.array_equal(a, b)
    dropped = cr.dropout(cr.ones(100), 0.5, seed=random.SeedGenerator(1)).numpy()
    assert 0 < (dropped == 0).sum() < 100
