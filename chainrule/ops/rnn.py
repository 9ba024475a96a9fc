"""Fused recurrent ops: a whole LSTM, GRU or SimpleRNN sequence as one op.

Written step by step with chainrule ops, an LSTM records about 40 small ops
per time step, and their bookkeeping (not the arithmetic) dominates. These
ops run the time loop in NumPy and record a single node; the array vjp is
backpropagation through time derived by hand (below each op).

The differentiable vjp recomputes the sequence with ordinary chainrule ops
(``*_by_steps``, which is also the reference the tests compare against) and
differentiates that, so the gradient is itself differentiable.

Both ops take the Keras weight layout: kernel (features, gates·units),
recurrent_kernel (units, gates·units), bias (gates·units,) (GRU: (2, 3·units),
the input and the recurrent bias, Keras' reset_after=True layout).
"""
from __future__ import annotations

import contextlib

import numpy as np

from .. import graph
from ..errors import ShapeError
from ..rules import PER_CALL, declare
from ..scratch import scratch
from ..tensor import Tensor, as_tensor, record
from ..typing import TensorLike
from .elementwise import sigmoid, tanh
from .matmul import matmul
from .shaping import stack

__all__ = ["gru", "lstm", "simple_rnn"]

try:        # optional (scikit-learn's dependency): see _one_blas_thread
    from threadpoolctl import ThreadpoolController
except ImportError:                      # pragma: no cover - depends on the environment
    ThreadpoolController = None
_blas = None


# Per-step products below this many multiply-adds run on one BLAS thread.
SMALL_STEP_PRODUCT = 1 << 23


def _one_blas_thread(batch, units, width):
    """A context running BLAS on one thread for a time loop whose per-step
    product (batch, units) @ (units, width) is small.

    A second BLAS thread then costs about what it saves, and while it spins
    between products it takes a core the NumPy gate work needs (measurements:
    benchmarks/PROFILE-lstm-sklearn.md). Larger products keep every thread, as
    do the weight-gradient products after the loop. Without threadpoolctl (it
    comes with scikit-learn) nothing changes.
    """
    global _blas
    if ThreadpoolController is None or batch * units * width >= SMALL_STEP_PRODUCT:
        return contextlib.nullcontext()
    if _blas is None:
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def _check(name, x, kernel, recurrent_kernel, bias, states, gates):
    if x.ndim != 3:
        raise ShapeError(f"{name}: x must be (batch, time, features), got shape {x.shape}")
    batch, _, features = x.shape
    units = recurrent_kernel.shape[0]
    width = gates * units
    if kernel.shape != (features, width) or recurrent_kernel.shape != (units, width):
        raise ShapeError(
            f"{name}: kernel must be ({features}, {width}) and recurrent_kernel "
            f"({units}, {width}) for {features} features and {units} units "
            f"({gates} gate(s)); got {kernel.shape} and {recurrent_kernel.shape}")
    if bias is not None and bias.shape != (width,):
        raise ShapeError(f"{name}: bias must be ({width},), got {bias.shape}")
    for s in states:
        if s is not None and s.shape != (batch, units):
            raise ShapeError(f"{name}: initial states must be ({batch}, {units}), got {s.shape}")


def _inputs(*maybe):
    """The tensors given (None dropped) and where each argument sits among them."""
    tensors, where = [], []
    for t in maybe:
        where.append(len(tensors) if t is not None else None)
        if t is not None:
            tensors.append(t)
    return tuple(tensors), where


def _recompute_vjp(by_steps, args, g, inputs):
    """The differentiable vjp for create_graph: replay ``by_steps`` with
    recorded ops and backpropagate ``g`` through it."""
    ref = by_steps(*args)
    return tuple(graph.run_backward([ref], [g], targets=list(inputs), create_graph=True,
                                    accumulate=False))


# --------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------
def lstm(x: TensorLike, kernel: TensorLike, recurrent_kernel: TensorLike,
         bias: TensorLike | None = None, h0: TensorLike | None = None,
         c0: TensorLike | None = None, recurrent_mask: TensorLike | None = None) -> Tensor:
    """A whole LSTM sequence (Keras gate order i, f, c, o) as one op.

    ``x``: (batch, time, features); ``h0``, ``c0``: (batch, units), zeros if
    None; ``recurrent_mask``: an optional constant (batch, units) array that
    multiplies h_{t-1} before the recurrent product (recurrent dropout).
    Returns (2, time, batch, units), time-major: ``[0, t]`` is h_t and
    ``[1, t]`` is c_t (the loop's own buffer, so no copy is made; the layer
    turns ``[0]`` back into (batch, time, units) with a view).

    With z = x_t @ kernel + (m·h_{t-1}) @ recurrent_kernel + bias split in four:

        i, f, o = σ(z_i), σ(z_f), σ(z_o)     g = tanh(z_c)
        c_t = f·c_{t-1} + i·g                h_t = o·tanh(c_t)

    Backward (dh, dc: incoming plus carried from step t+1), with a = tanh(c_t):

        dc  += dh·o·(1 − a²)
        dz_o = dh·a·o(1−o)      dz_i = dc·g·i(1−i)
        dz_f = dc·c_{t-1}·f(1−f) dz_c = dc·i·(1−g²)
        carried: dc_{t-1} = dc·f,   dh_{t-1} = m·(dz @ recurrent_kernelᵀ)

    and the weight gradients are one matrix product each over all steps:
    d kernel = Xᵀ dZ, d recurrent_kernel = (m·H_prev)ᵀ dZ, d bias = Σ dZ.

    Args:
        x: the inputs, (batch, time, features).
        kernel: the input weights, (features, 4·units).
        recurrent_kernel: the recurrent weights, (units, 4·units).
        bias: the bias, (4·units,) (None: no bias).
        h0: the initial hidden state, (batch, units) (None: zeros).
        c0: the initial cell state, (batch, units) (None: zeros).
        recurrent_mask: a constant (batch, units) array multiplying h_{t-1} before the
            recurrent product (recurrent dropout).

    Returns:
        A (2, time, batch, units) tensor, time-major: ``[0, t]`` is h_t, ``[1, t]`` is c_t.

    >>> out = cr.ops.lstm(cr.randn(3, 5, 2), cr.randn(2, 16), cr.randn(4, 16))
    >>> out.shape                  # (h, c), time, batch, units
    (2, 5, 3, 4)
    """
    x, kernel, recurrent_kernel = as_tensor(x), as_tensor(kernel), as_tensor(recurrent_kernel)
    bias, h0, c0 = (None if t is None else as_tensor(t) for t in (bias, h0, c0))
    _check("lstm", x, kernel, recurrent_kernel, bias, (h0, c0), 4)
    mask = None if recurrent_mask is None else np.asarray(
        recurrent_mask.data if isinstance(recurrent_mask, Tensor) else recurrent_mask)
    inputs, where = _inputs(x, kernel, recurrent_kernel, bias, h0, c0)
    dtype = np.result_type(*[t.data for t in inputs])
    batch, steps, features = x.shape
    u = recurrent_kernel.shape[0]

    # Work in the column order (o, i, f, c) instead of (i, f, c, o): the three
    # sigmoids then sit side by side, and in the backward the three blocks
    # multiplied by dc too. σ(z) = (1 + tanh(z/2))/2, so with the sigmoid
    # columns of the weights halved, one tanh over the whole row does all four
    # activations (and never overflows).
    perm = np.r_[3 * u:4 * u, 0:3 * u]
    half = np.ones(4 * u, dtype)
    half[:3 * u] = 0.5
    # (a[:, perm] comes out column-major; row-major products are faster)
    W = np.ascontiguousarray(kernel.data.astype(dtype, copy=False)[:, perm])
    U = np.ascontiguousarray(recurrent_kernel.data.astype(dtype, copy=False)[:, perm])

    # The input half of every step in one GEMM, time-major: (time, batch, 4u).
    xs = np.ascontiguousarray(x.data.astype(dtype, copy=False).transpose(1, 0, 2))
    acts = (xs.reshape(steps * batch, features) @ (W * half)).reshape(steps, batch, 4 * u)
    if bias is not None:
        acts += bias.data.astype(dtype, copy=False)[perm] * half
    U_half = U * half
    states = np.empty((2, steps + 1, batch, u), dtype)
    hs, cs = states                                   # hs[t+1] = h_t; hs[0] = h0
    hs[0] = 0 if h0 is None else h0.data
    cs[0] = 0 if c0 is None else c0.data
    tanh_c = np.empty((steps, batch, u), dtype)
    recurrent = np.empty((batch, 4 * u), dtype)
    with _one_blas_thread(batch, u, 4 * u):
        for t in range(steps):
            h_in = hs[t] if mask is None else hs[t] * mask
            z = acts[t]
            np.matmul(h_in, U_half, out=recurrent)
            z += recurrent
            np.tanh(z, out=z)
            sig = z[:, :3 * u]
            sig *= 0.5
            sig += 0.5
            o, i, f, g = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)
            c += i * g
            np.tanh(c, out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=hs[t + 1])
    data = states[:, 1:]

    def d_lstm(grad, out, *tensors):
        args = [None if k is None else tensors[k] for k in where] + [mask]
        return _recompute_vjp(lstm_by_steps, args, grad, tensors)

    def d_lstm_arrays(needs, grad, out, *arrays):
        gd = grad
        o, i, f, g = (acts[..., k * u:(k + 1) * u] for k in range(4))
        # What each dz block is dc (or dh) times, for all steps at once.
        # In place, in reused arrays: these are (time, batch, ·) large.
        # (reused work arrays: these are (time, batch, ·) large)
        partner = scratch("lstm partner", acts.shape, dtype)
        dz = scratch("lstm dz", acts.shape, dtype)
        dc_from_h = scratch("lstm dc_from_h", tanh_c.shape, dtype)
        one = dtype.type(1)
        sig = partner[..., :3 * u]
        np.subtract(one, acts[..., :3 * u], out=sig)    # σ' = σ(1 − σ) for o, i, f at once
        sig *= acts[..., :3 * u]
        partner[..., :u] *= tanh_c
        partner[..., u:2 * u] *= g
        partner[..., 2 * u:3 * u] *= cs[:-1]
        p_c = partner[..., 3 * u:]
        np.multiply(g, g, out=p_c)
        np.subtract(one, p_c, out=p_c)
        p_c *= i
        np.multiply(tanh_c, tanh_c, out=dc_from_h)
        np.subtract(one, dc_from_h, out=dc_from_h)
        dc_from_h *= o
        partner_c = partner[..., u:].reshape(steps, batch, 3, u)
        dz_c = dz[..., u:].reshape(steps, batch, 3, u)
        U_T = np.ascontiguousarray(U.T)
        dh_next = np.zeros((batch, u), dtype)
        dc_next = np.zeros((batch, u), dtype)
        with _one_blas_thread(batch, u, 4 * u):
            for t in range(steps - 1, -1, -1):
                dh = gd[0, t] + dh_next
                dc = dh * dc_from_h[t]
                dc += gd[1, t]
                dc += dc_next
                np.multiply(dh, partner[t, :, :u], out=dz[t, :, :u])
                np.multiply(dc[:, None, :], partner_c[t], out=dz_c[t])
                dc_next = dc * f[t]
                dh_next = dz[t] @ U_T
                if mask is not None:
                    dh_next *= mask
        dz_flat = dz.reshape(steps * batch, 4 * u)
        grads = [None] * len(arrays)
        if needs[0]:
            grads[0] = ((dz_flat @ W.T).reshape(steps, batch, features)
                                    .transpose(1, 0, 2))
        unperm = np.argsort(perm)
        if needs[1]:
            grads[1] = ((xs.reshape(steps * batch, features).T @ dz_flat)[:, unperm])
        if needs[2]:
            h_prev = hs[:-1] if mask is None else hs[:-1] * mask
            grads[2] = ((h_prev.reshape(steps * batch, u).T @ dz_flat)[:, unperm])
        if bias is not None:
            grads[where[3]] = (dz_flat.sum(axis=0)[unperm])
        if h0 is not None:
            grads[where[4]] = (dh_next)
        if c0 is not None:
            grads[where[5]] = (dc_next)
        return tuple(grads)
    return record(LSTM, data, inputs, d_lstm, d_lstm_arrays)


LSTM = declare(lstm, forward="lstm(x)", inputs="x W U b h0 c0",
               derivative=("backpropagation through time",) * 6, vjp=PER_CALL, array_vjp=PER_CALL)


def lstm_by_steps(x: Tensor, kernel: Tensor, recurrent_kernel: Tensor,
                  bias: Tensor | None = None, h0: Tensor | None = None,
                  c0: Tensor | None = None, recurrent_mask: TensorLike | None = None) -> Tensor:
    """:func:`lstm` written with ordinary chainrule ops, one time step at a time
    (the reference for tests, and the differentiable replay for create_graph).

    Args:
        x: the inputs, (batch, time, features).
        kernel: the input weights, (features, 4·units).
        recurrent_kernel: the recurrent weights, (units, 4·units).
        bias: the bias, (4·units,) (None: no bias).
        h0: the initial hidden state, (batch, units) (None: zeros).
        c0: the initial cell state, (batch, units) (None: zeros).
        recurrent_mask: a constant (batch, units) array multiplying h_{t-1} before the
            recurrent product (recurrent dropout).

    Returns:
        What :func:`lstm` returns.
    """
    batch, steps, _ = x.shape
    u = recurrent_kernel.shape[0]
    zeros = Tensor._wrap(np.zeros((batch, u), x.dtype))
    h, c = (zeros if h0 is None else h0), (zeros if c0 is None else c0)
    x_proj = matmul(x, kernel)
    if bias is not None:
        x_proj = x_proj + bias
    mask = None if recurrent_mask is None else Tensor._wrap(np.asarray(recurrent_mask))
    outputs = []
    for t in range(steps):
        z = x_proj[:, t] + matmul(h if mask is None else h * mask, recurrent_kernel)
        i, f = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u])
        g, o = tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
        c = f * c + i * g
        h = o * tanh(c)
        outputs.append(stack([h, c]))
    return stack(outputs, axis=1)          # (2, time, batch, units)


# --------------------------------------------------------------------------
# GRU (reset_after=True, Keras' and cuDNN's default)
# --------------------------------------------------------------------------
def gru(x: TensorLike, kernel: TensorLike, recurrent_kernel: TensorLike,
        bias: TensorLike | None = None, h0: TensorLike | None = None,
        recurrent_mask: TensorLike | None = None) -> Tensor:
    """A whole GRU sequence (Keras gate order z, r, h; reset_after=True) as one op.

    ``bias``: (2, 3·units), row 0 added to x_t @ kernel, row 1 to the
    recurrent product; None for no bias. Returns (batch, time, units).
    With x̃ = x_t @ kernel + b₀ and ĩ = (m·h_{t-1}) @ recurrent_kernel + b₁:

        z = σ(x̃_z + ĩ_z)     r = σ(x̃_r + ĩ_r)     ĥ = tanh(x̃_h + r·ĩ_h)
        h_t = z·h_{t-1} + (1 − z)·ĥ

    Backward (dh: incoming plus carried from step t+1):

        dx̃_z = dh·(h_{t-1} − ĥ)·z(1−z)     dx̃_h = dh·(1−z)(1−ĥ²)
        dx̃_r = dx̃_h·ĩ_h·r(1−r)
        dĩ = [dx̃_z, dx̃_r, dx̃_h·r]        dh_{t-1} = dh·z + m·(dĩ @ recurrent_kernelᵀ)

    d kernel = Xᵀ dX̃, d recurrent_kernel = (m·H_prev)ᵀ dĨ, d bias = [Σ dX̃, Σ dĨ].

    Args:
        x: the inputs, (batch, time, features).
        kernel: the input weights, (features, 3·units).
        recurrent_kernel: the recurrent weights, (units, 3·units).
        bias: (2, 3·units): row 0 added to x_t @ kernel, row 1 to the recurrent product
            (None: no bias).
        h0: the initial hidden state, (batch, units) (None: zeros).
        recurrent_mask: a constant (batch, units) array multiplying h_{t-1} before the
            recurrent product (recurrent dropout).

    Returns:
        The hidden states, (batch, time, units).

    >>> cr.ops.gru(cr.randn(2, 5, 3), cr.randn(3, 12), cr.randn(4, 12)).shape
    (2, 5, 4)
    """
    x, kernel, recurrent_kernel = as_tensor(x), as_tensor(kernel), as_tensor(recurrent_kernel)
    bias, h0 = (None if t is None else as_tensor(t) for t in (bias, h0))
    _check("gru", x, kernel, recurrent_kernel, None, (h0,), 3)
    u = recurrent_kernel.shape[0]
    if bias is not None and bias.shape != (2, 3 * u):
        raise ShapeError(f"gru: bias must be (2, {3 * u}) (input and recurrent rows), "
                         f"got {bias.shape}")
    mask = None if recurrent_mask is None else np.asarray(
        recurrent_mask.data if isinstance(recurrent_mask, Tensor) else recurrent_mask)
    inputs, where = _inputs(x, kernel, recurrent_kernel, bias, h0)
    dtype = np.result_type(*[t.data for t in inputs])
    batch, steps, features = x.shape
    W = kernel.data.astype(dtype, copy=False)
    U = recurrent_kernel.data.astype(dtype, copy=False)

    xs = np.ascontiguousarray(x.data.astype(dtype, copy=False).transpose(1, 0, 2))
    x_proj = (xs.reshape(steps * batch, features) @ W).reshape(steps, batch, 3 * u)
    b_rec = None
    if bias is not None:
        x_proj += bias.data[0].astype(dtype, copy=False)
        b_rec = bias.data[1].astype(dtype, copy=False)
    hs = np.empty((steps + 1, batch, u), dtype)      # hs[t+1] = h_t
    hs[0] = 0 if h0 is None else h0.data
    gates = np.empty((steps, batch, 2 * u), dtype)   # z, r
    cand = np.empty((steps, batch, u), dtype)        # ĥ
    inner_h = np.empty((steps, batch, u), dtype)     # ĩ_h, before the reset gate
    with _one_blas_thread(batch, u, 3 * u):
        for t in range(steps):
            inner = (hs[t] if mask is None else hs[t] * mask) @ U
            if b_rec is not None:
                inner += b_rec
            zr = gates[t]
            np.add(x_proj[t, :, :2 * u], inner[:, :2 * u], out=zr)
            # σ(a) = (1 + tanh(a/2))/2: stable and one ufunc call
            zr *= 0.5
            np.tanh(zr, out=zr)
            zr *= 0.5
            zr += 0.5
            z, r = zr[:, :u], zr[:, u:]
            inner_h[t] = inner[:, 2 * u:]
            np.multiply(r, inner_h[t], out=cand[t])
            cand[t] += x_proj[t, :, 2 * u:]
            np.tanh(cand[t], out=cand[t])
            h = hs[t + 1]                                # ĥ + z·(h_{t-1} − ĥ)
            np.subtract(hs[t], cand[t], out=h)
            h *= z
            h += cand[t]
    data = np.ascontiguousarray(hs[1:].transpose(1, 0, 2))

    def d_gru(grad, out, *tensors):
        args = [None if k is None else tensors[k] for k in where] + [mask]
        return _recompute_vjp(gru_by_steps, args, grad, tensors)

    def d_gru_arrays(needs, grad, out, *arrays):
        gd = grad
        z, r = gates[..., :u], gates[..., u:]
        # The local derivatives of every step at once.
        along_z = (hs[:-1] - cand) * z * (1 - z)
        along_h = (1 - z) * (1 - cand * cand)
        along_r = inner_h * r * (1 - r)
        dx = np.empty((steps, batch, 3 * u), dtype)
        di = np.empty((steps, batch, 3 * u), dtype)
        U_T = np.ascontiguousarray(U.T)
        dh_next = np.zeros((batch, u), dtype)
        with _one_blas_thread(batch, u, 3 * u):
            for t in range(steps - 1, -1, -1):
                dh = gd[:, t] + dh_next
                np.multiply(dh, along_z[t], out=dx[t, :, :u])
                np.multiply(dh, along_h[t], out=dx[t, :, 2 * u:])
                np.multiply(dx[t, :, 2 * u:], along_r[t], out=dx[t, :, u:2 * u])
                di[t, :, :2 * u] = dx[t, :, :2 * u]
                np.multiply(dx[t, :, 2 * u:], r[t], out=di[t, :, 2 * u:])
                dh_next = di[t] @ U_T
                if mask is not None:
                    dh_next *= mask
                dh *= z[t]
                dh_next += dh
        dx_flat = dx.reshape(steps * batch, 3 * u)
        di_flat = di.reshape(steps * batch, 3 * u)
        grads = [None] * len(arrays)
        if needs[0]:
            grads[0] = ((dx_flat @ W.T).reshape(steps, batch, features)
                                    .transpose(1, 0, 2))
        if needs[1]:
            grads[1] = (xs.reshape(steps * batch, features).T @ dx_flat)
        if needs[2]:
            h_prev = hs[:-1] if mask is None else hs[:-1] * mask
            grads[2] = (h_prev.reshape(steps * batch, u).T @ di_flat)
        if bias is not None:
            grads[where[3]] = (np.stack([dx_flat.sum(axis=0), di_flat.sum(axis=0)]))
        if h0 is not None:
            grads[where[4]] = (dh_next)
        return tuple(grads)
    return record(GRU, data, inputs, d_gru, d_gru_arrays)


GRU = declare(gru, forward="gru(x)", inputs="x W U b h0",
              derivative=("backpropagation through time",) * 5, vjp=PER_CALL, array_vjp=PER_CALL)


def gru_by_steps(x: Tensor, kernel: Tensor, recurrent_kernel: Tensor,
                 bias: Tensor | None = None, h0: Tensor | None = None,
                 recurrent_mask: TensorLike | None = None) -> Tensor:
    """:func:`gru` with ordinary chainrule ops, one step at a time.

    Args:
        x: the inputs, (batch, time, features).
        kernel: the input weights, (features, 3·units).
        recurrent_kernel: the recurrent weights, (units, 3·units).
        bias: (2, 3·units): row 0 added to x_t @ kernel, row 1 to the recurrent product
            (None: no bias).
        h0: the initial hidden state, (batch, units) (None: zeros).
        recurrent_mask: a constant (batch, units) array multiplying h_{t-1} before the
            recurrent product (recurrent dropout).

    Returns:
        What :func:`gru` returns.
    """
    batch, steps, _ = x.shape
    u = recurrent_kernel.shape[0]
    h = Tensor._wrap(np.zeros((batch, u), x.dtype)) if h0 is None else h0
    x_proj = matmul(x, kernel)
    if bias is not None:
        x_proj = x_proj + bias[0]
    mask = None if recurrent_mask is None else Tensor._wrap(np.asarray(recurrent_mask))
    outputs = []
    for t in range(steps):
        inner = matmul(h if mask is None else h * mask, recurrent_kernel)
        if bias is not None:
            inner = inner + bias[1]
        x_t = x_proj[:, t]
        z = sigmoid(x_t[:, :u] + inner[:, :u])
        r = sigmoid(x_t[:, u:2 * u] + inner[:, u:2 * u])
        cand = tanh(x_t[:, 2 * u:] + r * inner[:, 2 * u:])
        h = z * h + (1 - z) * cand
        outputs.append(h)
    return stack(outputs, axis=1)


# --------------------------------------------------------------------------
# SimpleRNN (tanh)
# --------------------------------------------------------------------------
def simple_rnn(x: TensorLike, kernel: TensorLike, recurrent_kernel: TensorLike,
               bias: TensorLike | None = None, h0: TensorLike | None = None,
               recurrent_mask: TensorLike | None = None) -> Tensor:
    """A whole tanh RNN sequence as one op: h_t = tanh(x_t @ kernel +
    (m·h_{t-1}) @ recurrent_kernel + bias). Returns (batch, time, units).

    Backward: dz = (dh_in + dh_next)·(1 − h_t²), dh_next = m·(dz @ recurrent_kernelᵀ);
    d kernel = Xᵀ dZ, d recurrent_kernel = (m·H_prev)ᵀ dZ, d bias = Σ dZ.

    Args:
        x: the inputs, (batch, time, features).
        kernel: the input weights, (features, units).
        recurrent_kernel: the recurrent weights, (units, units).
        bias: the bias, (units,) (None: no bias).
        h0: the initial hidden state, (batch, units) (None: zeros).
        recurrent_mask: a constant (batch, units) array multiplying h_{t-1} before the
            recurrent product (recurrent dropout).

    Returns:
        The hidden states, (batch, time, units).

    >>> cr.ops.simple_rnn(cr.randn(2, 5, 3), cr.randn(3, 4), cr.randn(4, 4)).shape
    (2, 5, 4)
    """
    x, kernel, recurrent_kernel = as_tensor(x), as_tensor(kernel), as_tensor(recurrent_kernel)
    bias, h0 = (None if t is None else as_tensor(t) for t in (bias, h0))
    _check("simple_rnn", x, kernel, recurrent_kernel, bias, (h0,), 1)
    mask = None if recurrent_mask is None else np.asarray(
        recurrent_mask.data if isinstance(recurrent_mask, Tensor) else recurrent_mask)
    inputs, where = _inputs(x, kernel, recurrent_kernel, bias, h0)
    dtype = np.result_type(*[t.data for t in inputs])
    batch, steps, features = x.shape
    u = recurrent_kernel.shape[0]
    W = kernel.data.astype(dtype, copy=False)
    U = recurrent_kernel.data.astype(dtype, copy=False)

    xs = np.ascontiguousarray(x.data.astype(dtype, copy=False).transpose(1, 0, 2))
    hs = np.empty((steps + 1, batch, u), dtype)      # hs[t+1] = h_t
    np.matmul(xs.reshape(steps * batch, features), W, out=hs[1:].reshape(steps * batch, u))
    if bias is not None:
        hs[1:] += bias.data.astype(dtype, copy=False)
    hs[0] = 0 if h0 is None else h0.data
    with _one_blas_thread(batch, u, u):
        for t in range(steps):
            h = hs[t + 1]
            h += (hs[t] if mask is None else hs[t] * mask) @ U
            np.tanh(h, out=h)
    data = np.ascontiguousarray(hs[1:].transpose(1, 0, 2))

    def d_simple_rnn(grad, out, *tensors):
        args = [None if k is None else tensors[k] for k in where] + [mask]
        return _recompute_vjp(simple_rnn_by_steps, args, grad, tensors)

    def d_simple_rnn_arrays(needs, grad, out, *arrays):
        gd = grad
        local = 1 - hs[1:] * hs[1:]                    # tanh' for every step at once
        dz = np.empty((steps, batch, u), dtype)
        U_T = np.ascontiguousarray(U.T)
        dh_next = np.zeros((batch, u), dtype)
        with _one_blas_thread(batch, u, u):
            for t in range(steps - 1, -1, -1):
                np.add(gd[:, t], dh_next, out=dz[t])
                dz[t] *= local[t]
                dh_next = dz[t] @ U_T
                if mask is not None:
                    dh_next *= mask
        dz_flat = dz.reshape(steps * batch, u)
        grads = [None] * len(arrays)
        if needs[0]:
            grads[0] = ((dz_flat @ W.T).reshape(steps, batch, features)
                                    .transpose(1, 0, 2))
        if needs[1]:
            grads[1] = (xs.reshape(steps * batch, features).T @ dz_flat)
        if needs[2]:
            h_prev = hs[:-1] if mask is None else hs[:-1] * mask
            grads[2] = (h_prev.reshape(steps * batch, u).T @ dz_flat)
        if bias is not None:
            grads[where[3]] = (dz_flat.sum(axis=0))
        if h0 is not None:
            grads[where[4]] = (dh_next)
        return tuple(grads)
    return record(SIMPLE_RNN, data, inputs, d_simple_rnn, d_simple_rnn_arrays)


SIMPLE_RNN = declare(simple_rnn, forward="simple_rnn(x)", inputs="x W U b h0",
                     derivative=("backpropagation through time",) * 5, vjp=PER_CALL,
                     array_vjp=PER_CALL)


def simple_rnn_by_steps(x: Tensor, kernel: Tensor, recurrent_kernel: Tensor,
                        bias: Tensor | None = None, h0: Tensor | None = None,
                        recurrent_mask: TensorLike | None = None) -> Tensor:
    """:func:`simple_rnn` with ordinary chainrule ops, one step at a time.

    Args:
        x: the inputs, (batch, time, features).
        kernel: the input weights, (features, units).
        recurrent_kernel: the recurrent weights, (units, units).
        bias: the bias, (units,) (None: no bias).
        h0: the initial hidden state, (batch, units) (None: zeros).
        recurrent_mask: a constant (batch, units) array multiplying h_{t-1} before the
            recurrent product (recurrent dropout).

    Returns:
        What :func:`simple_rnn` returns.
    """
    batch, steps, _ = x.shape
    u = recurrent_kernel.shape[0]
    h = Tensor._wrap(np.zeros((batch, u), x.dtype)) if h0 is None else h0
    x_proj = matmul(x, kernel)
    if bias is not None:
        x_proj = x_proj + bias
    mask = None if recurrent_mask is None else Tensor._wrap(np.asarray(recurrent_mask))
    outputs = []
    for t in range(steps):
        h = tanh(x_proj[:, t] + matmul(h if mask is None else h * mask, recurrent_kernel))
        outputs.append(h)
    return stack(outputs, axis=1)
