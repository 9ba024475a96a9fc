"""One helper to test an op, in the spirit of tinygrad's ``helper_test_op``.

``check_op(inputs, cr_fn, np_fn, torch_fn=None)`` makes random inputs (or takes
the arrays given) and checks, in this order:

1. values against the NumPy reference ``np_fn``, in float64 and in float32 (and
   that the op keeps the dtype: float32 in, float32 out);
2. gradients against central finite differences in float64 (``cr.gradcheck``);
3. that the three gradient faces agree: ``.backward()`` on leaf tensors,
   ``cr.grad(f, argnums=...)`` and ``cr.GradientTape``, each gradient having
   its input's shape (broadcasting summed back);
4. that each op's two vjps agree (``chainrule.rules``): the ordinary backward
   (array vjps) against the recorded one (``create_graph=True``:
   differentiable vjps), to 1e-12 in float64;
5. values and gradients against ``torch.autograd`` when ``torch_fn`` is given
   and torch is installed.

``RECORDED_OPS`` holds the names of the ops the last check recorded, so a test
can make sure its case exercised the op it means to.

Only the floating-point inputs are passed to the functions; anything else an op
needs (an index, a condition, an axis) goes into the lambda as a constant.
"""
from __future__ import annotations

import numbers

import numpy as np

import chainrule as cr
from chainrule.autodiff import gradients
from chainrule.graph import walk

try:  # torch is optional: the torch comparison is skipped without it
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

__all__ = ["check_op", "make_inputs", "faces_gradients", "torch", "to_torch",
           "conv2d_ref", "pool2d_ref", "same_padding", "RECORDED_OPS"]

RECORDED_OPS = set()


def make_inputs(inputs, seed=0, low=-2.0, high=2.0):
    """float64 arrays: a shape tuple becomes uniform(low, high) samples, an
    array or a number is used as it is (as float64)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in inputs:
        if isinstance(spec, np.ndarray):
            arrays.append(spec.astype(np.float64))
        elif isinstance(spec, numbers.Real):
            arrays.append(np.array(float(spec)))
        else:
            arrays.append(rng.uniform(low, high, size=tuple(spec)))
    return arrays


def _as_array(out):
    assert isinstance(out, cr.Tensor), f"expected a chainrule Tensor, got {type(out).__name__}"
    return out.numpy()


def faces_gradients(cr_fn, arrays, weights):
    """Gradients of ``sum(cr_fn(*xs) * weights)`` through the three faces.

    Returns ``(backward, grad, tape)``, three lists with one entry per input;
    ``.backward()`` and the tape give None for an input the output does not
    depend on, ``cr.grad`` gives zeros (API.md §9).
    """
    n = len(arrays)
    w = cr.tensor(weights)

    def loss(*xs):
        return (cr_fn(*xs) * w).sum()

    # 1. PyTorch style: leaves, backward, .grad
    leaves = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = loss(*leaves)
    RECORDED_OPS.clear()
    RECORDED_OPS.update(t._node.op for t in walk([out]))
    if out.requires_grad:
        out.backward()
    via_backward = [leaf.grad for leaf in leaves]

    # 2. JAX style: cr.grad with argnums
    via_grad = cr.grad(loss, argnums=tuple(range(n)))(*[cr.tensor(a) for a in arrays])
    assert isinstance(via_grad, tuple) and len(via_grad) == n

    # 3. TensorFlow style: a tape watching plain tensors
    sources = [cr.tensor(a) for a in arrays]
    with cr.GradientTape() as tape:
        tape.watch(sources)
        target = loss(*sources)
    via_tape = tape.gradient(target, sources)
    assert isinstance(via_tape, list) and len(via_tape) == n
    return via_backward, list(via_grad), via_tape


def compiled_matches_eager(cr_fn, inputs, weights, seed, low, high):
    """``cr_fn`` and its gradients through ``cr.jit``: traced on one draw of
    the inputs, replayed on another, equal to the eager values there."""
    W = cr.tensor(weights)

    def step(*leaves):
        out = cr_fn(*leaves)
        return (out,) + tuple(cr.autodiff.gradients((out * W).sum(), list(leaves)))

    def leaves_of(arrays):
        return [cr.tensor(a, requires_grad=True) for a in arrays]
    compiled = cr.jit(step)
    compiled(*leaves_of(make_inputs(inputs, seed=seed, low=low, high=high)))
    again = make_inputs(inputs, seed=seed + 7, low=low, high=high)
    replayed, eager = compiled(*leaves_of(again)), step(*leaves_of(again))
    assert compiled.traces == 1
    for k, (mine, theirs) in enumerate(zip(replayed, eager)):
        if theirs is None:
            assert mine is None, f"compiled output {k} is {mine!r}, eagerly None"
            continue
        np.testing.assert_allclose(_as_array(mine), _as_array(theirs), rtol=1e-12, atol=1e-12,
                                   err_msg=f"compiled vs eager, output {k} (0: the value)")


def differentiable_vjps(cr_fn, arrays, weights, via_backward):
    """Gradients through the differentiable vjps (a recorded backward), checked
    against ``via_backward`` (the array vjps of an ordinary backward)."""
    leaves = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = (cr_fn(*leaves) * cr.tensor(weights)).sum()
    recorded = gradients(out, leaves, create_graph=True) if out.requires_grad else \
        [None] * len(leaves)
    for i, (g_rec, g_arr) in enumerate(zip(recorded, via_backward)):
        if g_arr is None:
            assert g_rec is None or not np.any(g_rec.numpy()), f"input {i}: vjps disagree on None"
            continue
        assert g_rec is not None, f"input {i}: the differentiable vjps gave no gradient"
        np.testing.assert_allclose(g_arr.numpy(), g_rec.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=f"array vjps vs differentiable vjps, input {i}")


def to_torch(a, requires_grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def check_op(inputs, cr_fn, np_fn=None, torch_fn=None, *, low=-2.0, high=2.0, seed=0,
             grad=True, atol=1e-6, rtol=1e-6, atol32=1e-5, rtol32=1e-4,
             grad_atol=1e-5, grad_rtol=1e-3, float32=True, torch_atol=1e-7, torch_rtol=1e-6):
    """Check ``cr_fn`` against NumPy, finite differences, the three faces and torch.

    ``inputs``: a list of shapes (random uniform in [low, high)), arrays or numbers.
    ``np_fn``: the NumPy reference, called on the same float64 (and float32) arrays.
    ``torch_fn``: optional torch version, called on float64 torch tensors.
    Returns the float64 input arrays and the chainrule output (for extra asserts).
    """
    arrays = make_inputs(inputs, seed=seed, low=low, high=high)

    # -- values, float64 -------------------------------------------------------
    out64 = cr_fn(*[cr.tensor(a) for a in arrays])
    got = _as_array(out64)
    if np_fn is not None:
        want = np.asarray(np_fn(*[a.copy() for a in arrays]))
        assert got.shape == want.shape, f"shape {got.shape}, NumPy gives {want.shape}"
        np.testing.assert_allclose(got, want, atol=atol, rtol=rtol, err_msg="float64 values")
    if arrays and got.dtype.kind == "f":
        assert got.dtype == np.float64, f"float64 inputs gave {got.dtype}"

    # -- values, float32 (and the dtype is kept) ---------------------------------
    if float32 and arrays:
        arrays32 = [a.astype(np.float32) for a in arrays]
        out32 = _as_array(cr_fn(*[cr.tensor(a) for a in arrays32]))
        if out32.dtype.kind == "f":
            assert out32.dtype == np.float32, f"float32 inputs gave {out32.dtype}"
        if np_fn is not None:
            want32 = np.asarray(np_fn(*[a.copy() for a in arrays32]))
            assert out32.shape == want32.shape
            np.testing.assert_allclose(out32, want32.astype(np.float64), atol=atol32, rtol=rtol32,
                                       err_msg="float32 values")

    if not grad:
        return arrays, out64

    # -- gradients: finite differences -----------------------------------------
    assert cr.gradcheck(cr_fn, *arrays, atol=grad_atol, rtol=grad_rtol)

    # -- gradients: the three faces agree ---------------------------------------
    weights = np.random.default_rng(seed + 1).standard_normal(got.shape)
    via_backward, via_grad, via_tape = faces_gradients(cr_fn, arrays, weights)
    for i, a in enumerate(arrays):
        g_grad = via_grad[i]
        assert isinstance(g_grad, cr.Tensor), "cr.grad must always return a tensor"
        assert g_grad.shape == a.shape, f"cr.grad gradient {i} has shape {g_grad.shape}, input {a.shape}"
        if via_backward[i] is None or via_tape[i] is None:
            # unused input: .backward() and the tape both say None, cr.grad zeros
            assert via_backward[i] is None and via_tape[i] is None, f"input {i}: faces disagree on None"
            np.testing.assert_array_equal(g_grad.numpy(), np.zeros(a.shape))
            continue
        for name, g in (("backward", via_backward[i]), ("tape", via_tape[i])):
            assert g.shape == a.shape, f"{name} gradient {i} has shape {g.shape}, input {a.shape}"
            assert g.dtype == np.float64
            np.testing.assert_allclose(g.numpy(), g_grad.numpy(), rtol=1e-12, atol=1e-12,
                                       err_msg=f"{name} vs cr.grad, input {i}")

    # -- the two vjps of every op agree ------------------------------------------
    differentiable_vjps(cr_fn, arrays, weights, via_backward)

    # -- a compiled step (cr.jit) replays the op as it runs eagerly ----------------
    compiled_matches_eager(cr_fn, inputs, weights, seed, low, high)

    # -- torch -------------------------------------------------------------------
    if torch_fn is not None and torch is not None:
        tx = [to_torch(a) for a in arrays]
        tout = torch_fn(*tx)
        np.testing.assert_allclose(got, tout.detach().numpy(), atol=torch_atol, rtol=torch_rtol,
                                   err_msg="values vs torch")
        tgrads = torch.autograd.grad((tout * torch.tensor(weights)).sum(), tx, allow_unused=True)
        for i, (mine, theirs) in enumerate(zip(via_grad, tgrads)):
            theirs = np.zeros(arrays[i].shape) if theirs is None else theirs.numpy()
            np.testing.assert_allclose(mine.numpy(), theirs, atol=torch_atol, rtol=torch_rtol,
                                       err_msg=f"gradient {i} vs torch")
    return arrays, out64


# --------------------------------------------------------------------------
# Naive references for images (NHWC, kernels HWIO)
# --------------------------------------------------------------------------
def _pair(v):
    return (v, v) if isinstance(v, numbers.Integral) else tuple(v)


def same_padding(size, k, s):
    """TensorFlow's 'same': output ceil(size/s); the odd extra pixel goes after."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _paddings(x_shape, kh, kw, stride, padding):
    sh, sw = _pair(stride)
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return same_padding(x_shape[1], kh, sh), same_padding(x_shape[2], kw, sw)
    p = int(padding)
    return (p, p), (p, p)


def conv2d_ref(x, w, b=None, stride=1, padding="valid"):
    """Cross-correlation by explicit loops over output pixels and channels."""
    sh, sw = _pair(stride)
    kh, kw, cin, cout = w.shape
    (t, bo), (le, ri) = _paddings(x.shape, kh, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (t, bo), (le, ri), (0, 0)))
    n = x.shape[0]
    oh = (xp.shape[1] - kh) // sh + 1
    ow = (xp.shape[2] - kw) // sw + 1
    out = np.zeros((n, oh, ow, cout), dtype=np.result_type(x, w))
    for bi in range(n):
        for i in range(oh):
            for j in range(ow):
                window = xp[bi, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
                for co in range(cout):
                    out[bi, i, j, co] = np.sum(window * w[:, :, :, co])
    if b is not None:
        out = out + b
    return out


def pool2d_ref(x, pool, stride=None, padding="valid", kind="max"):
    """Max or average pooling by loops; 'same' ignores the padded cells."""
    kh, kw = _pair(pool)
    sh, sw = _pair(stride if stride is not None else (kh, kw))
    (t, bo), (le, ri) = _paddings(x.shape, kh, kw, (sh, sw), padding)
    valid = np.pad(np.ones(x.shape, bool), ((0, 0), (t, bo), (le, ri), (0, 0)))
    xp = np.pad(x, ((0, 0), (t, bo), (le, ri), (0, 0)))
    oh = (xp.shape[1] - kh) // sh + 1
    ow = (xp.shape[2] - kw) // sw + 1
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            win = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            ok = valid[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            if kind == "max":
                out[:, i, j, :] = np.where(ok, win, -np.inf).max(axis=(1, 2))
            else:
                out[:, i, j, :] = (win * ok).sum(axis=(1, 2)) / ok.sum(axis=(1, 2))
    return out
