"""GradientTape breadth and Tensor interop that TensorFlow and PyTorch users
reach for (issue 16): nested targets/sources, unconnected_gradients, integer
sources, watched_variables, NumPy's reductions with dtype=, PyTorch names."""
import warnings

import numpy as np
import pytest

import chainrule as cr


def test_dict_and_nested_sources_keep_their_structure():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor(3.0, requires_grad=True)
    c = cr.tensor([[1.0]], requires_grad=True)
    with cr.GradientTape() as tape:
        y = (a * b).sum() + (c * c).sum()
    g = tape.gradient(y, {"first": [a, (b,)], "second": {"c": c}})
    assert set(g) == {"first", "second"}
    ga, (gb,) = g["first"]
    assert isinstance(g["first"][1], tuple)
    np.testing.assert_allclose(ga.numpy(), [3.0, 3.0])
    assert gb.item() == 3.0
    np.testing.assert_allclose(g["second"]["c"].numpy(), [[2.0]])


def test_several_targets_are_summed_as_tensorflow():
    x = cr.tensor(2.0, requires_grad=True)
    with cr.GradientTape() as tape:
        targets = {"square": x * x, "more": [x * 3, [x * x * x]]}
    # d/dx (x² + 3x + x³) = 2x + 3 + 3x² = 4 + 3 + 12
    assert tape.gradient(targets, x).item() == pytest.approx(19.0)


def test_output_gradients_follow_the_target_structure():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.GradientTape() as tape:
        t = [x * 2, x * x]
    g = tape.gradient(t, x, output_gradients=[cr.tensor([1.0, 0.0]), cr.tensor([0.0, 1.0])])
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


@pytest.mark.parametrize("mode", ["zero", cr.UnconnectedGradients.ZERO])
def test_unconnected_gradients_zero(mode):
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    unused = cr.tensor([[5.0, 6.0, 7.0]], requires_grad=True)
    with cr.GradientTape(persistent=True) as tape:
        y = (x * x).sum()
    gx, gu = tape.gradient(y, [x, unused], unconnected_gradients=mode)
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    assert gu.shape == (1, 3) and not gu.numpy().any()
    assert tape.gradient(y, [x, unused], unconnected_gradients="none")[1] is None
    with pytest.raises(ValueError, match="'none' or 'zero'"):
        tape.gradient(y, x, unconnected_gradients="zeros")


def test_watching_an_integer_tensor_warns_and_gives_none():
    i = cr.tensor([1, 2, 3])
    x = cr.tensor(2.0)
    with cr.GradientTape() as tape:
        with pytest.warns(UserWarning, match="must be floating"):
            tape.watch(i)
        tape.watch(x)
        y = (i * x).sum()
    gi, gx = tape.gradient(y, [i, x])
    assert gi is None
    assert gx.item() == 6.0


def test_integer_source_gives_none_even_with_zero_mode():
    i = cr.tensor([1, 2])
    x = cr.tensor(1.0, requires_grad=True)
    with cr.GradientTape() as tape:
        y = x * 2
    assert tape.gradient(y, [i, x], unconnected_gradients="zero")[0] is None


def test_watched_variables():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor(0.5, requires_grad=True)
    x = cr.tensor([3.0, 4.0])
    other = cr.tensor(9.0, requires_grad=True)      # not used
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = (w * x).sum() + b
    assert tape.watched_variables() == [x] or tape.watched_variables()[0] is x
    tape.gradient(y, [w, b])
    watched = tape.watched_variables()
    assert any(v is w for v in watched) and any(v is b for v in watched)
    assert any(v is x for v in watched)
    assert not any(v is other for v in watched)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with cr.GradientTape(watch_accessed_variables=False) as tape2:
            tape2.watch(cr.tensor([1, 2]))        # integers are not listed
    assert tape2.watched_variables() == []


def test_numpy_reductions_accept_numpy_keywords():
    t = cr.tensor([1.0, 2.0, 4.0], requires_grad=True)
    m = np.mean(t, dtype=np.float64)
    assert isinstance(m, cr.Tensor) and m.dtype == np.float64
    assert float(m) == pytest.approx(7 / 3)
    assert float(np.sum(t, dtype=np.float64)) == 7.0
    assert float(np.std(t, ddof=1)) == pytest.approx(np.std([1, 2, 4], ddof=1), rel=1e-6)
    assert float(np.max(t)) == 4.0 and int(np.argmax(t)) == 2
    assert float(np.min(t, initial=0.5)) == 0.5          # NumPy-only keyword: NumPy's answer
    out = np.zeros(())
    assert np.mean(t, out=out) is out and out == pytest.approx(7 / 3)
    # still differentiable
    np.mean(t, dtype=np.float64).backward()
    np.testing.assert_allclose(t.grad.numpy(), [1 / 3] * 3, rtol=1e-6)


def test_pytorch_spellings():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.double().dtype == np.float64 and x.double().float().dtype == np.float32
    np.testing.assert_allclose(x.pow(2).numpy(), [[1, 4], [9, 16]])
    np.testing.assert_allclose(x.t().numpy(), [[1, 3], [2, 4]])
    with pytest.raises(ValueError, match="at most 2 dimensions"):
        cr.ones(2, 2, 2).t()
    assert x.grad_fn is None
    y = (x.pow(2).t() * 3).sum()
    assert y.grad_fn is not None and y.grad_fn.name().endswith("Backward")
    assert y.grad_fn.name() == "SumBackward"
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())
    g = x.grad.zero_()
    assert g is x.grad and not x.grad.numpy().any()
    # the double() cast passes its gradient back in the input's dtype
    z = cr.tensor([1.0], requires_grad=True)
    (z.double() * 2).sum().backward()
    assert z.grad.dtype == np.float32 and z.grad.item() == 2.0


def test_linspace_at_top_level():
    np.testing.assert_allclose(cr.linspace(0, 1, 11).numpy(), np.linspace(0, 1, 11), rtol=1e-6)
    assert cr.linspace(0, 1, 3).dtype == np.float32


def test_layer_zero_grad_clears_every_weight_gradient():
    model = cr.Sequential([cr.layers.Dense(3), cr.layers.Dense(1)])
    loss = model(cr.ones(2, 4)).sum()
    loss.backward()
    assert all(w.grad is not None for w in model.trainable_weights)
    model.zero_grad(set_to_none=False)
    assert all(w.grad is not None and not w.grad.numpy().any() for w in model.trainable_weights)
    model.zero_grad()
    assert all(w.grad is None for w in model.trainable_weights)


def test_watched_variables_lists_the_weights_of_layers_called_inside_the_tape():
    model = cr.Sequential([cr.layers.Dense(3, name="d1"), cr.layers.Dense(1, name="d2")])
    frozen = cr.layers.Dense(2, trainable=False)
    x = np.ones((2, 4), "float32")
    model(x)
    frozen(x)
    outside = cr.layers.Dense(2)
    outside(x)                                # called before the tape: not listed
    with cr.GradientTape() as tape:
        loss = model(x).sum() + frozen(x).sum()
    watched = tape.watched_variables()          # known before any gradient() call (TF)
    assert len(watched) == 4 and all(any(w is v for v in watched) for w in model.trainable_weights)
    assert not any(w is v for v in watched for w in frozen.weights + outside.weights)
    grads = tape.gradient(loss, watched)
    assert [g.shape for g in grads] == [(4, 3), (3,), (3, 1), (1,)]
    with cr.GradientTape(watch_accessed_variables=False) as quiet:
        model(x)
    assert quiet.watched_variables() == []
    with cr.GradientTape() as outer:
        with cr.GradientTape() as inner:
            model(x)
        assert len(inner.watched_variables()) == 4
    assert len(outer.watched_variables()) == 4            # nested tapes both record
