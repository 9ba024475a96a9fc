"""torch.autograd as an oracle: values and gradients of the ops against PyTorch
(float64). Skipped when torch is not installed."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import chainrule as cr  # noqa: E402
from helpers import check_op, same_padding, to_torch  # noqa: E402


def case(inputs, fn, tfn, id, **kw):
    return pytest.param(inputs, fn, tfn, kw, id=id)


def run(inputs, fn, tfn, kw):
    # values and gradients against torch (and gradcheck + the three faces on the way)
    check_op(inputs, fn, None, tfn, **kw)


# --------------------------------------------------------------------------
# Elementwise
# --------------------------------------------------------------------------
ELEMENTWISE = [
    case([(3, 1, 4), (5, 4)], cr.add, torch.add, "add"),
    case([(3, 1, 4), (5, 4)], cr.subtract, torch.sub, "subtract"),
    case([(3, 1, 4), (5, 4)], cr.multiply, torch.mul, "multiply"),
    case([(3, 1, 4), (5, 4)], cr.divide, torch.div, "divide", low=0.5),
    case([(3, 1, 4), (5, 4)], cr.power, torch.pow, "power", low=0.5),
    case([(3, 1), (4,)], cr.maximum, torch.maximum, "maximum"),
    case([(3, 1), (4,)], cr.minimum, torch.minimum, "minimum"),
    case([(2, 3)], cr.negative, torch.neg, "negative"),
    case([(2, 3)], cr.exp, torch.exp, "exp"),
    case([(2, 3)], cr.log, torch.log, "log", low=0.1),
    case([(2, 3)], cr.sqrt, torch.sqrt, "sqrt", low=0.1),
    case([(2, 3)], cr.abs, torch.abs, "abs"),
    case([(2, 3)], cr.sin, torch.sin, "sin"),
    case([(2, 3)], cr.cos, torch.cos, "cos"),
    case([(2, 3)], cr.tanh, torch.tanh, "tanh"),
    case([(2, 3)], cr.sigmoid, torch.sigmoid, "sigmoid", low=-8, high=8),
    case([(2, 3)], cr.relu, torch.relu, "relu"),
    case([(2, 3)], cr.leaky_relu, F.leaky_relu, "leaky_relu-default-alpha"),
    case([(2, 3)], lambda x: cr.leaky_relu(x, 0.3), lambda x: F.leaky_relu(x, 0.3), "leaky_relu-0.3"),
    case([(2, 3)], cr.elu, F.elu, "elu"),
    case([(2, 3)], lambda x: cr.elu(x, 0.7), lambda x: F.elu(x, 0.7), "elu-0.7"),
    case([(2, 3)], cr.softplus, F.softplus, "softplus", low=-5, high=5),
    case([(2, 3)], cr.sign, torch.sign, "sign"),
    case([(2, 4)], lambda x: cr.clip(x, -0.5, 0.5), lambda x: torch.clamp(x, -0.5, 0.5), "clip"),
    case([(3, 4), (4,)], lambda a, b: cr.where(a > 0, a, b), lambda a, b: torch.where(a > 0, a, b), "where"),
    case([(3,)], lambda x: 2 ** x + x ** 3 - 1 / (x * x + 1), lambda x: 2 ** x + x ** 3 - 1 / (x * x + 1),
         "composite"),
]


@pytest.mark.parametrize("inputs,fn,tfn,kw", ELEMENTWISE)
def test_elementwise_vs_torch(inputs, fn, tfn, kw):
    run(inputs, fn, tfn, kw)


# --------------------------------------------------------------------------
# Reductions
# --------------------------------------------------------------------------
def _dims(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return axis if isinstance(axis, tuple) else (axis,)


REDUCTIONS = [
    ("sum", cr.sum, lambda x, d, k: torch.sum(x, dim=d, keepdim=k)),
    ("mean", cr.mean, lambda x, d, k: torch.mean(x, dim=d, keepdim=k)),
    ("var", cr.var, lambda x, d, k: torch.var(x, dim=d, keepdim=k, correction=0)),
    ("std", cr.std, lambda x, d, k: torch.std(x, dim=d, keepdim=k, correction=0)),
    ("max", cr.max, lambda x, d, k: torch.amax(x, dim=d, keepdim=k)),
    ("min", cr.min, lambda x, d, k: torch.amin(x, dim=d, keepdim=k)),
    ("logsumexp", cr.logsumexp, lambda x, d, k: torch.logsumexp(x, dim=d, keepdim=k)),
]
REDUCE_CASES = [
    case([(2, 3, 4)], lambda x, f=fn, a=axis, k=keep: f(x, axis=a, keepdims=k),
         lambda x, t=tfn, a=axis, k=keep: t(x, _dims(a, 3), k), f"{name}-axis{axis}-keep{keep}")
    for name, fn, tfn in REDUCTIONS for axis in (None, 1, -1, (0, 2)) for keep in (False, True)
]
REDUCE_CASES += [
    case([(3, 4)], lambda x: cr.var(x, axis=1, ddof=1), lambda x: torch.var(x, dim=1), "var-ddof1-unbiased"),
    case([(3, 4)], lambda x: cr.std(x, axis=0, ddof=1), lambda x: torch.std(x, dim=0), "std-ddof1-unbiased"),
]


@pytest.mark.parametrize("inputs,fn,tfn,kw", REDUCE_CASES)
def test_reductions_vs_torch(inputs, fn, tfn, kw):
    run(inputs, fn, tfn, kw)


def test_max_ties_split_like_amax():
    x = np.array([[2.0, 5.0, 5.0], [1.0, 1.0, 0.0]])
    mine = cr.tensor(x, requires_grad=True)
    cr.max(mine, axis=1).sum().backward()
    theirs = to_torch(x)
    torch.amax(theirs, dim=1).sum().backward()
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy())


# --------------------------------------------------------------------------
# softmax family
# --------------------------------------------------------------------------
SOFTMAX_CASES = []
for shape, axis in [((4,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)]:
    SOFTMAX_CASES += [
        case([shape], lambda x, a=axis: cr.softmax(x, axis=a), lambda x, a=axis: torch.softmax(x, dim=a),
             f"softmax-{shape}-{axis}"),
        case([shape], lambda x, a=axis: cr.log_softmax(x, axis=a), lambda x, a=axis: torch.log_softmax(x, dim=a),
             f"log_softmax-{shape}-{axis}"),
    ]
SOFTMAX_CASES += [
    case([(3, 4)], lambda x: cr.softmax(x * 50), lambda x: torch.softmax(x * 50, dim=-1), "softmax-large-logits"),
    case([(3, 4)], lambda x: cr.log_softmax(x * 50), lambda x: torch.log_softmax(x * 50, dim=-1),
         "log_softmax-large-logits"),
]


@pytest.mark.parametrize("inputs,fn,tfn,kw", SOFTMAX_CASES)
def test_softmax_family_vs_torch(inputs, fn, tfn, kw):
    run(inputs, fn, tfn, kw)


def test_extreme_logits_vs_torch():
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0]])
    w = np.array([[0.3, -1.0, 2.0], [1.0, 0.5, -0.5]])
    for fn, tfn in ((cr.softmax, torch.softmax), (cr.log_softmax, torch.log_softmax)):
        mine = cr.tensor(x, requires_grad=True)
        (fn(mine, axis=1) * cr.tensor(w)).sum().backward()
        theirs = to_torch(x)
        out = tfn(theirs, dim=1)
        (out * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(fn(cr.tensor(x), axis=1).numpy(), out.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
    mine = cr.tensor(x, requires_grad=True)
    cr.logsumexp(mine, axis=1).sum().backward()
    theirs = to_torch(x)
    torch.logsumexp(theirs, dim=1).sum().backward()
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------
# matmul
# --------------------------------------------------------------------------
MATMUL_CASES = [
    case([(3,), (3,)], cr.matmul, torch.matmul, "1d-1d"),
    case([(2, 3), (3,)], cr.matmul, torch.matmul, "2d-1d"),
    case([(3,), (3, 4)], cr.matmul, torch.matmul, "1d-2d"),
    case([(2, 3), (3, 4)], cr.matmul, torch.matmul, "2d-2d"),
    case([(2, 2, 3), (3, 4)], cr.matmul, torch.matmul, "batched-2d"),
    case([(2, 1, 2, 3), (4, 3, 2)], cr.matmul, torch.matmul, "broadcast-batch"),
    case([(3,), (2, 3, 4)], cr.matmul, torch.matmul, "1d-batched"),
    case([(2, 3), (3, 2)], lambda a, b: cr.einsum("ij,jk->ik", a, b), lambda a, b: torch.einsum("ij,jk->ik", a, b),
         "einsum"),
    case([(2, 3, 3)], lambda a: cr.einsum("bii->b", a), lambda a: torch.einsum("bii->b", a), "einsum-batched-trace"),
]


@pytest.mark.parametrize("inputs,fn,tfn,kw", MATMUL_CASES)
def test_matmul_vs_torch(inputs, fn, tfn, kw):
    run(inputs, fn, tfn, kw)


# --------------------------------------------------------------------------
# conv2d: NHWC / HWIO here, NCHW / OIHW in torch
# --------------------------------------------------------------------------
def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def torch_conv2d(x, w, b=None, stride=1, padding="valid"):
    kh, kw = w.shape[0], w.shape[1]
    sh, sw = _pair(stride)
    xt = x.permute(0, 3, 1, 2).contiguous()
    wt = w.permute(3, 2, 0, 1).contiguous()
    if padding == "same":   # TensorFlow's rule, the odd pixel bottom/right, by explicit F.pad
        top, bottom = same_padding(x.shape[1], kh, sh)
        left, right = same_padding(x.shape[2], kw, sw)
        xt = F.pad(xt, (left, right, top, bottom))
        pad = 0
    elif padding == "valid":
        pad = 0
    else:
        pad = padding
    y = F.conv2d(xt, wt, b, stride=(sh, sw), padding=pad)
    return y.permute(0, 2, 3, 1)


CONVS = [  # x shape, w shape, stride, padding, bias
    ((2, 5, 5, 2), (3, 3, 2, 3), 1, "valid", True),
    ((1, 5, 5, 2), (3, 3, 2, 2), 1, "same", False),
    ((1, 4, 4, 2), (2, 2, 2, 2), 1, "same", True),      # odd total: bottom/right
    ((1, 6, 6, 1), (3, 3, 1, 2), 2, "same", False),     # odd total with stride 2
    ((1, 7, 6, 2), (4, 3, 2, 1), (3, 2), "same", True),
    ((1, 5, 5, 1), (3, 3, 1, 2), 2, "valid", False),
    ((1, 4, 5, 2), (2, 3, 2, 2), 1, 1, True),
]
CONV_CASES = []
for xs, ws, st, pad, bias in CONVS:
    ident = f"{xs}-{ws}-s{st}-{pad}" + ("-bias" if bias else "")
    if bias:
        CONV_CASES.append(case([xs, ws, (ws[-1],)],
                               lambda x, w, b, s=st, p=pad: cr.conv2d(x, w, b, stride=s, padding=p),
                               lambda x, w, b, s=st, p=pad: torch_conv2d(x, w, b, s, p), ident))
    else:
        CONV_CASES.append(case([xs, ws], lambda x, w, s=st, p=pad: cr.conv2d(x, w, stride=s, padding=p),
                               lambda x, w, s=st, p=pad: torch_conv2d(x, w, None, s, p), ident))


@pytest.mark.parametrize("inputs,fn,tfn,kw", CONV_CASES)
def test_conv2d_vs_torch(inputs, fn, tfn, kw):
    run(inputs, fn, tfn, kw)


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------
def _torch_pad(x, kh, kw, sh, sw, value):
    top, bottom = same_padding(x.shape[2], kh, sh)
    left, right = same_padding(x.shape[3], kw, sw)
    return F.pad(x, (left, right, top, bottom), value=value)


def torch_max_pool(x, pool, stride=None, padding="valid"):
    kh, kw = _pair(pool)
    sh, sw = _pair(stride if stride is not None else pool)
    xt = x.permute(0, 3, 1, 2)
    if padding == "same":
        xt = _torch_pad(xt, kh, kw, sh, sw, float("-inf"))
    return F.max_pool2d(xt, (kh, kw), (sh, sw)).permute(0, 2, 3, 1)


def torch_avg_pool(x, pool, stride=None, padding="valid"):
    kh, kw = _pair(pool)
    sh, sw = _pair(stride if stride is not None else pool)
    xt = x.permute(0, 3, 1, 2)
    if padding == "valid":
        return F.avg_pool2d(xt, (kh, kw), (sh, sw)).permute(0, 2, 3, 1)
    # TensorFlow's 'same' averages over the real cells only
    sums = F.avg_pool2d(_torch_pad(xt, kh, kw, sh, sw, 0.0), (kh, kw), (sh, sw), divisor_override=1)
    ones = _torch_pad(torch.ones_like(xt[:1, :1]), kh, kw, sh, sw, 0.0)
    counts = F.avg_pool2d(ones, (kh, kw), (sh, sw), divisor_override=1)
    return (sums / counts).permute(0, 2, 3, 1)


POOLS = [
    ((1, 4, 4, 2), 2, None, "valid"),
    ((2, 5, 5, 1), 3, 1, "valid"),
    ((1, 5, 5, 2), 2, None, "same"),
    ((1, 6, 5, 1), (3, 2), (2, 1), "same"),
    ((1, 5, 5, 1), 3, 1, "same"),
]
POOL_CASES = []
for xs, pool, st, pad in POOLS:
    ident = f"{xs}-{pool}-s{st}-{pad}"
    POOL_CASES.append(case([xs], lambda x, k=pool, s=st, p=pad: cr.max_pool2d(x, k, s, p),
                           lambda x, k=pool, s=st, p=pad: torch_max_pool(x, k, s, p), "max-" + ident))
    POOL_CASES.append(case([xs], lambda x, k=pool, s=st, p=pad: cr.avg_pool2d(x, k, s, p),
                           lambda x, k=pool, s=st, p=pad: torch_avg_pool(x, k, s, p), "avg-" + ident))


@pytest.mark.parametrize("inputs,fn,tfn,kw", POOL_CASES)
def test_pooling_vs_torch(inputs, fn, tfn, kw):
    run(inputs, fn, tfn, kw)


def test_avg_pool_same_with_symmetric_padding_matches_count_include_pad_false():
    x = np.random.default_rng(3).standard_normal((1, 5, 5, 2))
    mine = cr.avg_pool2d(cr.tensor(x), 3, stride=1, padding="same").numpy()
    theirs = F.avg_pool2d(torch.tensor(x).permute(0, 3, 1, 2), 3, 1, padding=1,
                          count_include_pad=False).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(mine, theirs, rtol=1e-12)


# --------------------------------------------------------------------------
# getitem
# --------------------------------------------------------------------------
MASK = np.random.default_rng(4).random((4, 5)) > 0.5
INDEXES = [
    ("int", 2), ("slice", slice(1, 3)), ("step", (slice(None), slice(None, None, 2))),
    ("None-ellipsis", (None, Ellipsis, 1)), ("int-array", [3, 0, 3]), ("repeated", [1, 1, 1, 0]),
    ("pairs", ([0, 1, 1], [4, 2, 2])), ("cols", (slice(None), [1, 1, 4])), ("mask", MASK),
    ("2d-array", np.array([[0, 3], [3, 3]])),
]


def _torch_index(idx):
    if isinstance(idx, tuple):
        return tuple(_torch_index(i) for i in idx)
    if isinstance(idx, (list, np.ndarray)):
        return torch.tensor(np.asarray(idx))
    return idx


GETITEM_CASES = [case([(4, 5)], lambda x, i=idx: x[i], lambda x, i=idx: x[_torch_index(i)], name)
                 for name, idx in INDEXES]


@pytest.mark.parametrize("inputs,fn,tfn,kw", GETITEM_CASES)
def test_getitem_vs_torch(inputs, fn, tfn, kw):
    run(inputs, fn, tfn, kw)


# --------------------------------------------------------------------------
# Second order against torch's double backward
# --------------------------------------------------------------------------
_w = np.random.default_rng(9).standard_normal((2, 2, 2, 3))
SECOND = [
    ("conv2d-tanh", (1, 4, 4, 2),
     lambda x: cr.tanh(cr.conv2d(x, cr.tensor(_w), padding="same")).sum(),
     lambda x: torch.tanh(torch_conv2d(x, torch.tensor(_w), padding="same")).sum()),
    ("max_pool2d", (1, 4, 4, 2), lambda x: (cr.max_pool2d(x, 2) ** 3).sum(),
     lambda x: (torch_max_pool(x, 2) ** 3).sum()),
    ("softmax", (2, 5), lambda x: (cr.softmax(x) ** 2).sum(), lambda x: (torch.softmax(x, -1) ** 2).sum()),
    ("log_softmax-sigmoid", (2, 5), lambda x: (cr.log_softmax(cr.sigmoid(x)) ** 2).sum(),
     lambda x: (torch.log_softmax(torch.sigmoid(x), -1) ** 2).sum()),
    ("matmul-std", (3, 3), lambda x: cr.std(x @ x) + cr.logsumexp(x), lambda x: torch.std(x @ x, correction=0)
     + torch.logsumexp(x, dim=(0, 1))),
]


@pytest.mark.parametrize("name,shape,f,tf", SECOND, ids=[s[0] for s in SECOND])
def test_hessian_vector_products_vs_torch(name, shape, f, tf):
    rng = np.random.default_rng(10)
    x, v = rng.standard_normal(shape), rng.standard_normal(shape)
    leaf = cr.tensor(x, requires_grad=True)
    f(leaf).backward(create_graph=True)
    g = leaf.grad
    leaf.grad = None
    (g * cr.tensor(v)).sum().backward()
    tx = to_torch(x)
    (tg,) = torch.autograd.grad(tf(tx), tx, create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tx)
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(leaf.grad.numpy(), thv.numpy(), rtol=1e-9, atol=1e-12)
