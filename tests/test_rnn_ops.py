"""The fused recurrent ops (chainrule.ops.rnn): values against plain NumPy loops,
gradients against finite differences and against the same recurrence written
with ordinary ops, higher-order derivatives through the create_graph replay."""
import numpy as np
import pytest
from helpers import check_op, to_torch, torch

import chainrule as cr
from chainrule.ops.rnn import gru_by_steps, lstm_by_steps


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np_lstm(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None):
    """Keras' LSTM, one step at a time in NumPy; (2, time, batch, units): h, c."""
    batch, steps, _ = x.shape
    u = recurrent_kernel.shape[0]
    h = np.zeros((batch, u)) if h0 is None else h0
    c = np.zeros((batch, u)) if c0 is None else c0
    out = []
    for t in range(steps):
        z = x[:, t] @ kernel + (h if mask is None else h * mask) @ recurrent_kernel
        if bias is not None:
            z = z + bias
        i, f, g, o = _sigmoid(z[:, :u]), _sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), \
            _sigmoid(z[:, 3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out.append(np.stack([h, c]))
    return np.stack(out, axis=1)


def np_simple_rnn(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None):
    batch, steps, _ = x.shape
    h = np.zeros((batch, recurrent_kernel.shape[0])) if h0 is None else h0
    out = []
    for t in range(steps):
        z = x[:, t] @ kernel + (h if mask is None else h * mask) @ recurrent_kernel
        h = np.tanh(z if bias is None else z + bias)
        out.append(h)
    return np.stack(out, axis=1)


def np_gru(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None):
    """Keras' GRU with reset_after=True, bias rows (input, recurrent)."""
    batch, steps, _ = x.shape
    u = recurrent_kernel.shape[0]
    h = np.zeros((batch, u)) if h0 is None else h0
    out = []
    for t in range(steps):
        xp = x[:, t] @ kernel + (0 if bias is None else bias[0])
        inner = (h if mask is None else h * mask) @ recurrent_kernel + (0 if bias is None else bias[1])
        z = _sigmoid(xp[:, :u] + inner[:, :u])
        r = _sigmoid(xp[:, u:2 * u] + inner[:, u:2 * u])
        cand = np.tanh(xp[:, 2 * u:] + r * inner[:, 2 * u:])
        h = z * h + (1 - z) * cand
        out.append(h)
    return np.stack(out, axis=1)


B, T, F, U = 2, 4, 3, 3
MASK = (np.random.default_rng(5).random((B, U)) > 0.4) / 0.6


@pytest.mark.parametrize("mask", [None, MASK], ids=["no-mask", "recurrent-mask"])
def test_lstm_full(mask):
    check_op([(B, T, F), (F, 4 * U), (U, 4 * U), (4 * U,), (B, U), (B, U)],
             lambda *t: cr.lstm(*t, recurrent_mask=mask),
             lambda *a: np_lstm(*a, mask=mask), low=-1.5, high=1.5)


def test_lstm_without_bias_or_initial_state():
    check_op([(B, T, F), (F, 4 * U), (U, 4 * U)], cr.lstm, np_lstm)
    check_op([(B, T, F), (F, 4 * U), (U, 4 * U), (B, U)],
             lambda x, w, u, c0: cr.lstm(x, w, u, None, None, c0),
             lambda x, w, u, c0: np_lstm(x, w, u, None, None, c0))


@pytest.mark.parametrize("mask", [None, MASK], ids=["no-mask", "recurrent-mask"])
def test_simple_rnn(mask):
    check_op([(B, T, F), (F, U), (U, U), (U,), (B, U)],
             lambda *t: cr.simple_rnn(*t, recurrent_mask=mask),
             lambda *a: np_simple_rnn(*a, mask=mask))
    check_op([(B, T, F), (F, U), (U, U)], cr.simple_rnn, np_simple_rnn)


@pytest.mark.parametrize("mask", [None, MASK], ids=["no-mask", "recurrent-mask"])
def test_gru(mask):
    check_op([(B, T, F), (F, 3 * U), (U, 3 * U), (2, 3 * U), (B, U)],
             lambda *t: cr.gru(*t, recurrent_mask=mask),
             lambda *a: np_gru(*a, mask=mask), low=-1.5, high=1.5)
    check_op([(B, T, F), (F, 3 * U), (U, 3 * U)], cr.gru, np_gru)


def test_fused_gradients_equal_the_step_by_step_ops():
    rng = np.random.default_rng(0)
    args = [cr.tensor(rng.uniform(-1, 1, s)) for s in
            [(3, 6, 2), (2, 16), (4, 16), (16,), (3, 4), (3, 4)]]
    mask = (rng.random((3, 4)) > 0.4) / 0.6
    weights = cr.tensor(rng.standard_normal((2, 6, 3, 4)))
    everything = tuple(range(6))
    fused = cr.grad(lambda *t: (cr.lstm(*t, mask) * weights).sum(), argnums=everything)(*args)
    steps = cr.grad(lambda *t: (lstm_by_steps(*t, mask) * weights).sum(),
                    argnums=everything)(*args)
    for a, b in zip(fused, steps):
        assert np.abs(b.numpy()).max() > 1e-3
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_lstm_second_derivatives_through_create_graph():
    rng = np.random.default_rng(1)
    x, w, u, b = (cr.tensor(rng.uniform(-1, 1, s)) for s in [(2, 3, 2), (2, 8), (2, 8), (8,)])
    h_fused = cr.hessian(lambda k: (cr.lstm(x, k, u, b) ** 2).sum())(w)
    h_steps = cr.hessian(lambda k: (lstm_by_steps(x, k, u, b) ** 2).sum())(w)
    assert np.abs(h_steps.numpy()).max() > 1e-3          # not vacuously zero
    np.testing.assert_allclose(h_fused.numpy(), h_steps.numpy(), rtol=1e-9, atol=1e-12)
    h_fused = cr.hessian(lambda k: (cr.gru(x, k[:, :6], u[:, :6]) ** 2).sum())(w)
    h_steps = cr.hessian(lambda k: (gru_by_steps(x, k[:, :6], u[:, :6]) ** 2).sum())(w)
    assert np.abs(h_steps.numpy()).max() > 1e-3
    np.testing.assert_allclose(h_fused.numpy(), h_steps.numpy(), rtol=1e-9, atol=1e-12)
    # and backward(create_graph=True) then a second backward
    k = cr.tensor(w.numpy(), requires_grad=True)
    (cr.simple_rnn(x, k[:, :2], u[:, :2]) ** 2).sum().backward(create_graph=True)
    g = k.grad
    assert g.requires_grad
    assert cr.gradcheck(lambda kk: cr.grad(lambda k2: (cr.simple_rnn(x, k2[:, :2], u[:, :2]) ** 2)
                                           .sum())(kk), w)


def test_float32_stays_float32_and_matches_float64():
    rng = np.random.default_rng(2)
    arrays = [rng.uniform(-1, 1, s) for s in [(4, 7, 3), (3, 20), (5, 20), (20,)]]
    out64 = cr.lstm(*[cr.tensor(a) for a in arrays]).numpy()
    out32 = cr.lstm(*[cr.tensor(a.astype(np.float32)) for a in arrays]).numpy()
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, atol=1e-5)
    # stable for huge pre-activations: the gates saturate, nothing overflows
    big = cr.lstm(cr.tensor(arrays[0] * 1000, dtype="float32"),
                  cr.tensor(arrays[1], dtype="float32"), cr.tensor(arrays[2], dtype="float32"))
    assert np.isfinite(big.numpy()).all()


def test_shape_errors_name_the_expected_shape():
    x = cr.randn(2, 3, 4)
    with pytest.raises(cr.ShapeError, match=r"kernel must be \(4, 20\)"):
        cr.lstm(x, cr.randn(4, 16), cr.randn(5, 20))
    with pytest.raises(cr.ShapeError, match=r"bias must be \(20,\)"):
        cr.lstm(x, cr.randn(4, 20), cr.randn(5, 20), cr.randn(5))
    with pytest.raises(cr.ShapeError, match=r"initial states must be \(2, 5\)"):
        cr.lstm(x, cr.randn(4, 20), cr.randn(5, 20), None, cr.randn(3, 5))
    with pytest.raises(cr.ShapeError, match=r"gru: bias must be \(2, 15\)"):
        cr.gru(x, cr.randn(4, 15), cr.randn(5, 15), cr.randn(15))
    with pytest.raises(cr.ShapeError, match=r"\(batch, time, features\)"):
        cr.simple_rnn(cr.randn(3, 4), cr.randn(4, 5), cr.randn(5, 5))


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_lstm_matches_torch():
    rng = np.random.default_rng(3)
    x, w, u, b = (rng.uniform(-1, 1, s) for s in [(3, 5, 4), (4, 24), (6, 24), (24,)])
    out = cr.lstm(*[cr.tensor(a) for a in (x, w, u, b)])
    cell = torch.nn.LSTM(4, 6, batch_first=True, dtype=torch.float64)
    # torch's gate order is i, f, g, o like Keras'; weights are transposed.
    with torch.no_grad():
        cell.weight_ih_l0.copy_(to_torch(w.T, False))
        cell.weight_hh_l0.copy_(to_torch(u.T, False))
        cell.bias_ih_l0.copy_(to_torch(b, False))
        cell.bias_hh_l0.zero_()
    want, _ = cell(to_torch(x, False))
    np.testing.assert_allclose(out.numpy()[0].transpose(1, 0, 2), want.detach().numpy(),
                               rtol=1e-10, atol=1e-12)


def test_docstring_examples_run():
    import doctest

    from chainrule.ops import rnn
    result = doctest.testmod(rnn, extraglobs={"cr": cr, "np": np})
    assert result.failed == 0 and result.attempted >= 3
