"""The fused conv2d and max_pool2d ops: their fast (NumPy) backward against the
recorded (differentiable) one, second-order gradients, the two im2col paths,
tie-breaking in max pooling, and float32 kept end to end."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autodiff import gradients
from chainrule.ops import nn as nn_ops

CONVS = [  # x shape, w shape, stride, padding, bias
    ((1, 5, 5, 1), (3, 3, 1, 2), 1, "valid", True),       # batch 1, one channel
    ((2, 7, 5, 3), (3, 2, 3, 4), (2, 1), "same", True),   # odd sizes, tuple stride
    ((1, 6, 6, 5), (2, 2, 5, 3), 2, "valid", False),      # many channels: the view im2col
    ((2, 4, 5, 2), (3, 3, 2, 1), 1, 1, True),             # int padding
]


def _fast_and_recorded_grads(f, arrays, seed_grad):
    """Gradients of sum(f(*inputs) * seed_grad) by .backward() (the vjps' NumPy
    path) and by gradients(create_graph=True) (their differentiable path)."""
    leaves = [cr.tensor(a, requires_grad=True) for a in arrays]
    (f(*leaves) * cr.tensor(seed_grad)).sum().backward()
    fast = [t.grad.numpy() for t in leaves]
    leaves2 = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = f(*leaves2)
    recorded = gradients(out, leaves2, [cr.tensor(seed_grad)], create_graph=True)
    return fast, [g.numpy() for g in recorded]


@pytest.mark.parametrize("xs,ws,stride,padding,bias", CONVS)
def test_conv2d_fast_backward_matches_the_recorded_one(rng, xs, ws, stride, padding, bias):
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws)]
    if bias:
        arrays.append(rng.standard_normal(ws[-1]))

    def f(*t):
        return cr.conv2d(*t, stride=stride, padding=padding)
    out_shape = f(*[cr.tensor(a) for a in arrays]).shape
    fast, recorded = _fast_and_recorded_grads(f, arrays, rng.standard_normal(out_shape))
    for a, g_fast, g_rec in zip(arrays, fast, recorded):
        assert g_fast.shape == a.shape
        np.testing.assert_allclose(g_fast, g_rec, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("xs,ws,stride,padding,bias", CONVS)
def test_conv2d_gradcheck(rng, xs, ws, stride, padding, bias):
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws)]
    if bias:
        arrays.append(rng.standard_normal(ws[-1]))
    assert cr.gradcheck(lambda *t: cr.conv2d(*t, stride=stride, padding=padding), *arrays)


def test_conv2d_second_order_gradients(rng):
    # d/dx and d/dw of a function of conv2d's own gradients: goes through the
    # recorded vjp (extract_patches, matmul, fold_patches), checked by finite
    # differences of the first-order gradients.
    x = rng.standard_normal((2, 5, 4, 2))
    w = rng.standard_normal((3, 2, 2, 3))
    b = rng.standard_normal(3)

    def loss(x, w, b):
        y = cr.conv2d(x, w, b, stride=(1, 2), padding="same")
        return (y * y).sum()

    def grad_norms(x, w, b):
        gx, gw, gb = cr.grad(loss, argnums=(0, 1, 2))(x, w, b)
        return (gx * gx).sum() + (gw * gw).sum() + (gb * gb).sum()
    assert cr.gradcheck(grad_norms, x, w, b)


def test_conv2d_hessian_vector_product_matches_finite_differences(rng):
    x = cr.tensor(rng.standard_normal((1, 4, 4, 1)), requires_grad=True)
    w = rng.standard_normal((2, 2, 1, 2))
    v = rng.standard_normal(w.shape)

    def grad_w(w_array):
        wt = cr.tensor(w_array, requires_grad=True)
        y = cr.conv2d(x, wt).tanh()
        (g,) = gradients(y.sum(), [wt], create_graph=True)
        return g, wt
    g, wt = grad_w(w)
    (hv,) = gradients((g * cr.tensor(v)).sum(), [wt])
    eps = 1e-6
    numeric = (grad_w(w + eps * v)[0].numpy() - grad_w(w - eps * v)[0].numpy()) / (2 * eps)
    np.testing.assert_allclose(hv.numpy(), numeric, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------
# im2col / col2im
# --------------------------------------------------------------------------
def _patches_loop(x, kh, kw, sh, sw):
    n, h, w, c = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, oh, ow, kh, kw, c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
    return out


@pytest.mark.parametrize("channels", [1, nn_ops._MANY_CHANNELS - 1, nn_ops._MANY_CHANNELS, 9])
@pytest.mark.parametrize("kernel,stride", [((3, 3), (1, 1)), ((2, 3), (2, 1)), ((3, 2), (3, 2))])
def test_both_im2col_paths_cut_the_same_windows(rng, channels, kernel, stride):
    # Few channels take the loop over kernel offsets, many the transposed
    # window view; both must give the reference windows, contiguous.
    x = rng.standard_normal((2, 7, 8, channels)).astype(np.float32)
    got = nn_ops._patches(x, *kernel, *stride)
    np.testing.assert_array_equal(got, _patches_loop(x, *kernel, *stride))
    assert got.flags.c_contiguous and got.dtype == np.float32


@pytest.mark.parametrize("channels", [1, 6])
def test_fold_is_the_adjoint_of_the_patches(rng, channels):
    x = rng.standard_normal((2, 7, 6, channels))
    p = rng.standard_normal((2, 3, 2, 3, 3, channels))
    lhs = np.sum(nn_ops._patches(x, 3, 3, 2, 2) * p)
    rhs = np.sum(x * nn_ops._fold(p, x.shape, 2, 2))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


# --------------------------------------------------------------------------
# max pooling
# --------------------------------------------------------------------------
POOLS = [  # x shape, pool, stride, padding
    ((2, 6, 6, 3), 2, None, "valid"),
    ((1, 7, 5, 1), 3, 2, "valid"),           # overlapping windows, cropped edge
    ((2, 5, 5, 2), 2, 1, "same"),
    ((1, 5, 7, 4), (2, 3), (2, 3), "same"),
]


@pytest.mark.parametrize("xs,pool,stride,padding", POOLS)
def test_max_pool_fast_backward_matches_the_recorded_one(rng, xs, pool, stride, padding):
    x = rng.standard_normal(xs)

    def f(t):
        return cr.max_pool2d(t, pool, stride=stride, padding=padding)
    out_shape = f(cr.tensor(x)).shape
    fast, recorded = _fast_and_recorded_grads(f, [x], rng.standard_normal(out_shape))
    np.testing.assert_allclose(fast[0], recorded[0], rtol=1e-12, atol=1e-14)
    assert cr.gradcheck(f, x)


def test_max_pool_second_order_gradient(rng):
    x = rng.standard_normal((1, 6, 6, 2))

    def f(x):
        gx = cr.grad(lambda t: (cr.max_pool2d(t, 3, stride=2) ** 3).sum())(x)
        return (gx * gx).sum()
    assert cr.gradcheck(f, x)


@pytest.mark.parametrize("stride", [None, 1])
def test_max_pool_ties_send_the_gradient_to_the_first_max_only(stride):
    # All entries equal: each window's gradient goes to its first (top-left)
    # entry, as PyTorch and TensorFlow do, never split or duplicated.
    x = cr.ones(1, 4, 4, 1, requires_grad=True)
    y = cr.max_pool2d(x, 2, stride=stride)
    y.sum().backward()
    grad = x.grad.numpy()[0, :, :, 0]
    assert grad.sum() == y.size
    if stride is None:
        np.testing.assert_array_equal(grad, [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    else:   # 3x3 overlapping windows, each picks its own top-left entry
        np.testing.assert_array_equal(grad, [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]])


def test_max_pool_ties_agree_with_torch():
    torch = pytest.importorskip("torch")
    x = np.round(np.random.default_rng(3).standard_normal((2, 6, 6, 3)))   # many ties
    t = cr.tensor(x, requires_grad=True)
    cr.max_pool2d(t, 2).sum().backward()
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), xt.grad.numpy().transpose(0, 2, 3, 1))


# --------------------------------------------------------------------------
# dtypes and errors
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_and_pool_keep_the_dtype_forward_and_backward(rng, dtype):
    x = cr.tensor(rng.standard_normal((2, 8, 8, 3)).astype(dtype), requires_grad=True)
    w = cr.tensor(rng.standard_normal((3, 3, 3, 4)).astype(dtype), requires_grad=True)
    b = cr.tensor(rng.standard_normal(4).astype(dtype), requires_grad=True)
    y = cr.max_pool2d(cr.conv2d(x, w, b, padding="same").relu(), 2)
    assert y.dtype == np.dtype(dtype)
    y.sum().backward()        # the seed is a broadcast view: not contiguous
    for t in (x, w, b):
        assert t.grad.dtype == np.dtype(dtype)
        assert t.grad.shape == t.shape


def test_conv2d_only_computes_the_gradients_asked_for(rng):
    x = cr.tensor(rng.standard_normal((1, 5, 5, 2)))          # data: no gradient
    w = cr.tensor(rng.standard_normal((3, 3, 2, 2)), requires_grad=True)
    cr.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad is not None
    # The gradient of the kernel for an all-ones output gradient is the sum of
    # each kernel tap's inputs over every window.
    want = nn_ops._patches(x.numpy(), 3, 3, 1, 1).sum(axis=(0, 1, 2))[..., None].repeat(2, -1)
    np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-12)


def test_window_larger_than_the_image_is_a_clear_error():
    with pytest.raises(cr.ShapeError, match=r"3x3 window does not fit an image of 2x2"):
        cr.conv2d(cr.ones(1, 2, 2, 1), cr.ones(3, 3, 1, 1))
    with pytest.raises(cr.ShapeError, match=r"3x3 window does not fit an image of 2x5"):
        cr.max_pool2d(cr.ones(1, 2, 5, 1), 3)


@pytest.mark.parametrize("rows", [1, 7, 6, 64 * 3])
def test_bias_gradient_column_sums_match_numpy(rng, rows):
    a = rng.standard_normal((rows, 5))
    np.testing.assert_allclose(nn_ops._column_sums(a), a.sum(axis=0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make_source", [
    lambda a: a,                                   # contiguous
    lambda a: a.transpose(1, 0, 2),                # pixels in another order
    lambda a: a[:, ::2],                           # strided pixels
    lambda a: a[..., ::-1],                        # channels not contiguous: plain copy
    lambda a: a.astype(np.float64),                # another dtype: plain copy (casts)
])
def test_copy_pixels_is_copyto(rng, make_source):
    source = make_source(rng.standard_normal((4, 6, 3)).astype(np.float32))
    got = np.empty(source.shape, np.float32)
    nn_ops._copy_pixels(got, source)
    np.testing.assert_array_equal(got, source.astype(np.float32))


def test_gradients_do_not_share_the_reused_scratch_buffers(rng):
    # The ops keep work arrays from one backward to the next; what they
    # return must be fresh, so a second backward leaves the first's alone.
    w = cr.tensor(rng.standard_normal((3, 3, 4, 5)), requires_grad=True)
    inputs = [cr.tensor(rng.standard_normal((2, 8, 8, 4)), requires_grad=True) for _ in range(2)]
    outs = [cr.max_pool2d(cr.conv2d(x, w, padding="same"), 2) for x in inputs]
    outs[0].sum().backward()
    first = inputs[0].grad.numpy().copy()
    (outs[1] * 3.0).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(inputs[0].grad.numpy(), first)
    assert not np.allclose(inputs[1].grad.numpy(), first)
    # and the second result is right: compare with a fresh recorded backward
    (want,) = gradients((outs[1] * 3.0).sum(), [inputs[1]], create_graph=True)
    np.testing.assert_allclose(inputs[1].grad.numpy(), want.numpy(), rtol=1e-10)
