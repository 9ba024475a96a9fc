"""The ops issue 17 added (erf, flip, roll, tile, repeat, tril/triu, cumsum,
sort, top_k, layer_norm, scaled_dot_product_attention, the conv variants),
each through check_op: NumPy values, finite differences, the three gradient
faces, both vjps, and PyTorch where it has the same op."""
import math

import numpy as np
import pytest
from scipy import special

import chainrule as cr
import helpers
from chainrule.errors import ShapeError
from helpers import check_op, torch

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def test_erf():
    check_op([(3, 4)], cr.erf, special.erf, (lambda x: torch.erf(x)) if torch else None)
    assert "erf" in helpers.RECORDED_OPS


@pytest.mark.parametrize("axis", [None, 0, (0, 2)])
def test_flip(axis):
    check_op([(2, 3, 4)], lambda x: cr.flip(x, axis), lambda x: np.flip(x, axis))


@pytest.mark.parametrize("shift,axis", [(1, None), (-2, 1), ((1, 2), (0, 1))])
def test_roll(shift, axis):
    check_op([(3, 4)], lambda x: cr.roll(x, shift, axis), lambda x: np.roll(x, shift, axis))


@pytest.mark.parametrize("reps", [2, (2, 1), (1, 3, 2)])
def test_tile(reps):
    check_op([(2, 3)], lambda x: cr.tile(x, reps), lambda x: np.tile(x, reps))


@pytest.mark.parametrize("repeats,axis", [(2, None), (3, 1), ([1, 0, 2], 0)])
def test_repeat(repeats, axis):
    check_op([(3, 2)], lambda x: cr.repeat(x, repeats, axis),
             lambda x: np.repeat(x, repeats, axis))


@pytest.mark.parametrize("k", [0, 1, -1])
def test_tril_triu(k):
    check_op([(2, 3, 4)], lambda x: cr.tril(x, k), lambda x: np.tril(x, k))
    check_op([(2, 3, 4)], lambda x: cr.triu(x, k), lambda x: np.triu(x, k))


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_cumsum(axis):
    check_op([(3, 4)], lambda x: cr.cumsum(x, axis), lambda x: np.cumsum(x, axis),
             (lambda x: torch.cumsum(x.reshape(-1) if axis is None else x,
                                     0 if axis is None else axis)) if torch else None)


def test_cumsum_second_order():
    x = cr.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    (g,) = cr.autodiff.gradients((cr.cumsum(x) ** 2).sum(), [x], create_graph=True)
    (h,) = cr.autodiff.gradients(g.sum(), [x])
    # cumsum(x) = L x (L: lower-triangular ones), so Σ cumsum(x)² has gradient
    # 2·Lᵀ·L·x, and the sum of that gradient has gradient 2·Lᵀ·L·1.
    lower = np.tril(np.ones((3, 3)))
    want = 2 * lower.T @ lower @ np.ones(3)
    np.testing.assert_allclose(h.numpy(), want)


@pytest.mark.parametrize("axis", [0, -1])
def test_sort(axis):
    check_op([(4, 5)], lambda x: cr.sort(x, axis), lambda x: np.sort(x, axis),
             (lambda x: torch.sort(x, dim=axis).values) if torch else None)


def test_top_k_values_and_indices():
    check_op([(3, 6)], lambda x: cr.top_k(x, 3)[0],
             lambda x: -np.sort(-x, axis=-1)[..., :3],
             (lambda x: torch.topk(x, 3).values) if torch else None)
    x = cr.tensor(np.array([[1.0, 5.0, 3.0, 5.0]]), requires_grad=True)
    values, indices = cr.top_k(x, 2)
    assert indices.dtype == np.int32 and not indices.requires_grad
    np.testing.assert_array_equal(indices.numpy(), [[1, 3]])     # ties: lower index first
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0, 1]])
    with pytest.raises(ValueError, match=r"k must be an int in \[0, 4\]"):
        cr.top_k(x, 5)


def _layer_norm_ref(x, gamma, beta, axes, eps):
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def test_layer_norm_last_axis():
    check_op([(4, 6), (6,), (6,)], lambda x, g, b: cr.layer_norm(x, g, b),
             lambda x, g, b: _layer_norm_ref(x, g, b, -1, 1e-3),
             (lambda x, g, b: torch.nn.functional.layer_norm(x, (6,), g, b, eps=1e-3))
             if torch else None)
    assert "layer_norm" in helpers.RECORDED_OPS


def test_layer_norm_several_axes_and_no_params():
    check_op([(2, 3, 4), (1, 3, 4)], lambda x, g: cr.layer_norm(x, g, axis=(1, 2), epsilon=1e-5),
             lambda x, g: _layer_norm_ref(x, g, 0.0, (1, 2), 1e-5))
    check_op([(2, 3, 4), (3, 1)], lambda x, b: cr.layer_norm(x, beta=b, axis=1),
             lambda x, b: _layer_norm_ref(x, 1.0, b, 1, 1e-3))
    check_op([(3, 5)], lambda x: cr.layer_norm(x), lambda x: _layer_norm_ref(x, 1, 0, -1, 1e-3))


def test_layer_norm_bad_gamma():
    with pytest.raises(ShapeError, match=r"layer_norm: gamma of shape \(5,\).*give shape \(6,\)"):
        cr.layer_norm(cr.ones(2, 6), cr.ones(5))


def _attention_ref(q, k, v, mask=None, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None:
        s = s + np.where(mask, 0, -1e9)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    return p @ v


CAUSAL = np.tril(np.ones((4, 5), bool), 1)


@pytest.mark.parametrize("mask", [None, CAUSAL, np.array([True, True, False, True, False])])
def test_scaled_dot_product_attention(mask):
    torch_fn = None
    if torch is not None:
        tmask = None if mask is None else torch.tensor(np.broadcast_to(mask, (4, 5)).copy())

        def torch_fn(q, k, v):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=tmask)
    check_op([(2, 3, 4, 6), (2, 3, 5, 6), (2, 3, 5, 2)],
             lambda q, k, v: cr.scaled_dot_product_attention(q, k, v, mask),
             lambda q, k, v: _attention_ref(q, k, v, mask), torch_fn)
    assert "scaled_dot_product_attention" in helpers.RECORDED_OPS


def test_scaled_dot_product_attention_scale_and_broadcast_heads():
    check_op([(2, 4, 3), (1, 5, 3), (5, 2)],
             lambda q, k, v: cr.scaled_dot_product_attention(q, k, v, scale=0.7),
             lambda q, k, v: _attention_ref(q, k, v, scale=0.7))


def test_masked_and_unmasked_attention_differ():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 3, 4)) for _ in range(3))
    free = cr.scaled_dot_product_attention(q, k, v).numpy()
    causal = cr.scaled_dot_product_attention(q, k, v, np.tril(np.ones((3, 3), bool))).numpy()
    np.testing.assert_allclose(free[:, -1], causal[:, -1])        # the last query sees all
    np.testing.assert_allclose(causal[:, 0], v[:, 0])             # the first sees itself only
    assert not np.allclose(free[:, 0], causal[:, 0])


def test_scaled_dot_product_attention_bad_input():
    q = cr.ones(2, 4, 8)
    with pytest.raises(ShapeError, match=r"query depth 8.*key depth 6"):
        cr.scaled_dot_product_attention(q, cr.ones(2, 5, 6), cr.ones(2, 5, 6))
    with pytest.raises(ShapeError, match=r"mask of shape \(3, 5\).*\(2, 4, 5\)"):
        cr.scaled_dot_product_attention(q, cr.ones(2, 5, 8), cr.ones(2, 5, 8),
                                         np.ones((3, 5), bool))
    with pytest.raises(TypeError, match="mask must be boolean"):
        cr.scaled_dot_product_attention(q, q, q, np.ones((4, 4)))


# --------------------------------------------------------------------------
# Convolution variants (compositions of conv2d, extract_patches, fold_patches)
# --------------------------------------------------------------------------
def _torch_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Keras layouts (NHWC, HWIO) through torch's NCHW conv2d."""
    y = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), b,
                                   stride=stride, padding=padding, dilation=dilation,
                                   groups=groups)
    return y.permute(0, 2, 3, 1)


@needs_torch
@pytest.mark.parametrize("dilation,groups,padding", [(2, 1, "valid"), (1, 2, "valid"),
                                                     ((2, 1), 3, "same"), (1, 6, "valid")])
def test_conv2d_dilation_and_groups_match_torch(dilation, groups, padding):
    tpad = 0 if padding == "valid" else "same"
    check_op([(2, 7, 6, 6), (3, 3, 6 // groups, 6), (6,)],
             lambda x, w, b: cr.conv2d(x, w, b, padding=padding, dilation=dilation,
                                       groups=groups),
             torch_fn=lambda x, w, b: _torch_conv(x, w, b, padding=tpad, dilation=dilation,
                                                  groups=groups))


def test_conv2d_groups_must_divide():
    with pytest.raises(ValueError, match=r"groups=4 must divide both the input channels \(6\)"):
        cr.conv2d(cr.ones(1, 5, 5, 6), cr.ones(3, 3, 1, 6), groups=4)


@needs_torch
def test_depthwise_conv2d_matches_torch():
    def torch_fn(x, w):
        kh, kw, c, m = w.shape
        return _torch_conv(x, w.reshape(kh, kw, 1, c * m), stride=2, groups=c)
    check_op([(2, 7, 7, 3), (3, 3, 3, 2)],
             lambda x, w: cr.depthwise_conv2d(x, w, stride=2), torch_fn=torch_fn)


@needs_torch
@pytest.mark.parametrize("stride,padding", [(1, "valid"), (2, "valid"), (2, "same"),
                                            (3, "same"), (1, "same")])
def test_conv2d_transpose_is_the_adjoint_of_conv2d(stride, padding):
    """Where the sizes line up, conv_transpose(y, w) is the gradient of conv2d
    with respect to its input; against torch's conv_transpose2d on the full
    output cropped by Keras' rule."""
    def torch_fn(x, w):
        full = torch.nn.functional.conv_transpose2d(x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1),
                                                    stride=stride).permute(0, 2, 3, 1)
        crops = cr.ops.nn._transpose_crops(4, 3, stride, padding, None)
        if crops[1] < 0:
            full = torch.nn.functional.pad(full, (0, 0, 0, -crops[1], 0, -crops[1]))
            return full[:, crops[0]:, crops[0]:]
        return full[:, crops[0]:full.shape[1] - crops[1], crops[0]:full.shape[2] - crops[1]]
    _, out = check_op([(2, 4, 4, 3), (3, 3, 2, 3)],
                      lambda x, w: cr.conv2d_transpose(x, w, stride=stride, padding=padding),
                      torch_fn=torch_fn)
    want = 4 * stride if padding == "same" else 3 * stride + max(3, stride)
    assert out.shape == (2, want, want, 2)


# --------------------------------------------------------------------------
# Activations (Keras 3 formulas; the Keras reference values are in
# test_layers_17a.py, from real Keras)
# --------------------------------------------------------------------------
TORCH_ACTIVATIONS = {
    "gelu": lambda x: torch.nn.functional.gelu(x),
    "hard_silu": lambda x: torch.nn.functional.hardswish(x),
    "silu": lambda x: torch.nn.functional.silu(x),
    "mish": lambda x: torch.nn.functional.mish(x),
    "selu": lambda x: torch.nn.functional.selu(x),
    "softsign": lambda x: torch.nn.functional.softsign(x),
    "relu6": lambda x: torch.nn.functional.relu6(x),
    "exponential": lambda x: torch.exp(x),
    "log_softmax": lambda x: torch.log_softmax(x, -1),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_activation_matches_torch(name):
    # values away from the kinks of relu6/hard_silu, where finite differences break
    x = np.array([[-4.3, -2.1, -0.7, 0.4, 1.3], [2.2, 3.6, 5.1, 6.8, -5.5]])
    check_op([x], cr.activations.get(name), torch_fn=TORCH_ACTIVATIONS[name])


@needs_torch
def test_gelu_approximate_matches_torch_tanh():
    check_op([(3, 4)], lambda x: cr.activations.gelu(x, approximate=True),
             torch_fn=lambda x: torch.nn.functional.gelu(x, approximate="tanh"))
    assert cr.activations.get("hard_swish") is cr.activations.hard_silu
