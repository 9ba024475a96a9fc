"""Recurrent layers on the fused ops: the same outputs and gradients as the
step-by-step path (``layer.fused = False``), in every Keras mode."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers
from chainrule.autodiff import gradients


def _pair(cls, seed=0, **kwargs):
    """Two identical layers, one fused and one step by step (same weights, same seed)."""
    fused, steps = cls(5, seed=seed, **kwargs), cls(5, seed=seed, **kwargs)
    steps.fused = False
    return fused, steps


def _outputs_and_grads(layer, x, initial_state=None, training=False):
    out = layer(x, training=training, initial_state=initial_state)
    outs = out if isinstance(out, list) else [out]
    rng = np.random.default_rng(9)
    loss = sum((o * cr.tensor(rng.standard_normal(o.shape), dtype=o.dtype)).sum() for o in outs)
    sources = [x] + layer.trainable_weights + ([] if initial_state is None else initial_state)
    return [o.numpy() for o in outs], [g.numpy() for g in gradients(loss, sources)]


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN])
@pytest.mark.parametrize("options", [
    {}, {"return_sequences": True}, {"go_backwards": True, "return_sequences": True},
    {"return_state": True}, {"use_bias": False},
    {"dropout": 0.3, "recurrent_dropout": 0.4, "return_sequences": True},
], ids=["last", "sequences", "backwards", "state", "no-bias", "dropout"])
def test_fused_equals_step_by_step(cls, options):
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((3, 6, 4)), requires_grad=True)
    fused, steps = _pair(cls, **options)
    fused(x)
    steps(x)
    steps.set_weights(fused.get_weights())
    training = "dropout" in options
    out_a, grads_a = _outputs_and_grads(fused, x, training=training)
    out_b, grads_b = _outputs_and_grads(steps, x, training=training)
    for a, b in zip(out_a + grads_a, out_b + grads_b):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_initial_state_gets_gradients(cls):
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    fused, steps = _pair(cls)
    fused(x)
    steps(x)
    steps.set_weights(fused.get_weights())
    n_states = 2 if cls is layers.LSTM else 1
    states = [cr.tensor(rng.standard_normal((2, 5)), requires_grad=True) for _ in range(n_states)]
    out_a, grads_a = _outputs_and_grads(fused, x, initial_state=states)
    out_b, grads_b = _outputs_and_grads(steps, x, initial_state=states)
    for a, b in zip(out_a + grads_a, out_b + grads_b):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)   # float32 weights
    assert np.abs(grads_a[-1]).max() > 0          # the initial state's gradient


def test_the_fused_op_is_what_runs():
    x = cr.randn(2, 3, 4)
    lstm = layers.LSTM(5)
    out = lstm(x)
    assert out._node.inputs[0]._node.op == "lstm"
    rnn = layers.SimpleRNN(5, return_sequences=True)
    assert rnn(x)._node.op == "simple_rnn"
    # other activations walk the steps with ordinary ops
    hard = layers.LSTM(5, recurrent_activation="hard_sigmoid")
    assert hard(x)._node.inputs[0]._node.op != "lstm"
    relu = layers.SimpleRNN(5, activation="relu", return_sequences=True)
    assert relu(x)._node.op != "simple_rnn"
    assert layers.GRU(5, return_sequences=True)(x)._node.op == "gru"
    assert layers.GRU(5, reset_after=False, return_sequences=True)(x)._node.op != "gru"


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "steps"])
def test_gradcheck_layer_float64(cls, fused):
    rng = np.random.default_rng(2)
    layer = cls(3, return_sequences=True, go_backwards=True)
    layer.fused = fused
    x = rng.standard_normal((2, 4, 2))
    layer(cr.tensor(x))
    for w in layer.weights:                      # float64 weights, a non-zero bias
        w.data = w.data.astype(np.float64) + rng.uniform(-0.3, 0.3, w.shape)
    assert cr.gradcheck(layer, x)
    # and the weights' gradients, against central differences by hand
    for w in layer.weights:
        (analytic,) = gradients(cr.sum(layer(cr.tensor(x)) ** 2), [w])

        def loss_at(value, w=w):
            saved, w.data = w.data, value
            try:
                return cr.sum(layer(cr.tensor(x)) ** 2).item()
            finally:
                w.data = saved
        np.testing.assert_allclose(analytic.numpy(), _numeric(loss_at, w.data),
                                   rtol=1e-5, atol=1e-7)


def _numeric(f, at, eps=1e-6):
    grad = np.zeros_like(at)
    for j in np.ndindex(at.shape):
        plus, minus = at.copy(), at.copy()
        plus[j] += eps
        minus[j] -= eps
        grad[j] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def test_fused_lstm_trains_and_is_float32():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 8, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1, keepdims=True) > 0).astype(np.float32)
    model = cr.Sequential([cr.Input((8, 2)), layers.LSTM(8), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=cr.optimizers.Adam(0.05), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert model.predict(x, verbose=0).dtype == np.float32
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_time_loops_leave_the_blas_thread_count_as_they_found_it():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [pool["num_threads"] for pool in threadpoolctl.threadpool_info()]
    x = cr.randn(2, 3, 4, requires_grad=True)
    for layer in (layers.LSTM(5), layers.GRU(5), layers.SimpleRNN(5)):
        cr.sum(layer(x)).backward()
    with pytest.raises(cr.ShapeError):
        cr.lstm(x, cr.randn(4, 20), cr.randn(5, 20), cr.randn(3))
    assert [pool["num_threads"] for pool in threadpoolctl.threadpool_info()] == before


def test_only_small_step_products_are_limited_to_one_blas_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from chainrule.ops import rnn

    def blas_threads():
        return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    before = blas_threads()
    with rnn._one_blas_thread(64, 128, 512):          # the benchmark's LSTM step
        assert all(n == 1 for n in blas_threads())
    with rnn._one_blas_thread(1024, 512, 2048):       # big enough for every thread
        assert blas_threads() == before
    assert blas_threads() == before


def test_reused_backward_work_arrays_leak_into_no_result():
    rng = np.random.default_rng(4)
    w, u = cr.tensor(rng.standard_normal((3, 20))), cr.tensor(rng.standard_normal((5, 20)))
    xs = [cr.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True) for _ in range(2)]
    first = gradients(cr.sum(cr.lstm(xs[0], w, u) ** 2), [xs[0]])[0].numpy().copy()
    kept = gradients(cr.sum(cr.lstm(xs[0], w, u) ** 2), [xs[0]])[0]
    gradients(cr.sum(cr.lstm(xs[1], w, u) ** 2), [xs[1]])    # same shapes: same work arrays
    np.testing.assert_array_equal(kept.numpy(), first)
