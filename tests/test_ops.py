"""Every op in ``chainrule.ops.__all__``: values against NumPy, gradients against
finite differences, the three gradient faces agreeing (see helpers.check_op).

Each case is one parametrize row: (op name, inputs, chainrule fn, NumPy reference).
"""
import numpy as np
import pytest

import chainrule as cr
from helpers import check_op, torch, conv2d_ref, pool2d_ref

COVERED = set()


def case(op, inputs, fn, ref, id=None, **kw):
    """One row: the op it covers, input shapes/arrays, chainrule fn, NumPy ref."""
    COVERED.add(op)
    return pytest.param(inputs, fn, ref, kw, id=f"{op}-{id}" if id else op)


def covers(*ops):
    """Mark a dedicated test as covering ``ops``."""
    COVERED.update(ops)
    return lambda f: f


def run(inputs, fn, ref, kw):
    check_op(inputs, fn, ref, **kw)


def sigmoid_ref(x):
    return 1 / (1 + np.exp(-x))


def softmax_ref(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def logsumexp_ref(x, axis=None, keepdims=False):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


# --------------------------------------------------------------------------
# Binary arithmetic with broadcasting
# --------------------------------------------------------------------------
BROADCAST_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 1, 4), (5, 4)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((4,), (3, 1)),
    ((), ()),
    ((2, 1, 3), (1, 4, 1)),
]
BINARY = [
    ("add", cr.add, np.add, {}),
    ("subtract", cr.subtract, np.subtract, {}),
    ("multiply", cr.multiply, np.multiply, {}),
    ("divide", cr.divide, np.divide, dict(low=0.5, high=2.0)),
    ("power", cr.power, np.power, dict(low=0.5, high=2.0)),
    ("maximum", cr.maximum, np.maximum, {}),
    ("minimum", cr.minimum, np.minimum, {}),
]
BINARY_CASES = [case(name, list(shapes), fn, ref, id=f"{shapes[0]}-{shapes[1]}", **kw)
                for name, fn, ref, kw in BINARY for shapes in BROADCAST_SHAPES]


@pytest.mark.parametrize("inputs,fn,ref,kw", BINARY_CASES)
def test_binary(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


OPERATOR_CASES = [
    case("add", [(3, 1), (4,)], lambda a, b: a + b, np.add, id="operator"),
    case("subtract", [(3, 1), (4,)], lambda a, b: a - b, np.subtract, id="operator"),
    case("multiply", [(3, 1), (4,)], lambda a, b: a * b, np.multiply, id="operator"),
    case("divide", [(3, 1), (4,)], lambda a, b: a / b, np.divide, id="operator", low=0.5),
    case("power", [(3, 1), (4,)], lambda a, b: a ** b, np.power, id="operator", low=0.5),
    case("negative", [(3, 4)], lambda a: -a, np.negative, id="operator"),
    case("add", [(3,)], lambda a: a + 2, lambda a: a + 2, id="scalar"),
    case("add", [(3,)], lambda a: 2 + a, lambda a: 2 + a, id="rscalar"),
    case("subtract", [(3,)], lambda a: 1.5 - a, lambda a: 1.5 - a, id="rscalar"),
    case("multiply", [(3,)], lambda a: a * 3, lambda a: a * 3, id="scalar"),
    case("divide", [(3,)], lambda a: 3 / a, lambda a: 3 / a, id="rscalar", low=0.5),
    case("divide", [(3,)], lambda a: a / 4, lambda a: a / 4, id="scalar"),
    case("power", [(3,)], lambda a: a ** 3, lambda a: a ** 3, id="cube-negative-base"),
    case("power", [(3,)], lambda a: a ** 0.5, np.sqrt, id="sqrt", low=0.5),
    case("power", [(3,)], lambda a: 2 ** a, lambda a: 2 ** a, id="rscalar"),
    case("power", [(3,)], lambda a: a ** -1, lambda a: 1 / a, id="reciprocal", low=0.5),
    case("multiply", [(3,)], lambda a: a * a, np.square, id="same-tensor-twice"),
    case("multiply", [(2,), (3,)], lambda a, b: a * 2, lambda a, b: a * 2, id="unused-input"),
]


@pytest.mark.parametrize("inputs,fn,ref,kw", OPERATOR_CASES)
def test_operators(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


# --------------------------------------------------------------------------
# Unary math and activations
# --------------------------------------------------------------------------
UNARY = [
    ("negative", cr.negative, np.negative, {}),
    ("exp", cr.exp, np.exp, {}),
    ("log", cr.log, np.log, dict(low=0.2, high=3.0)),
    ("sqrt", cr.sqrt, np.sqrt, dict(low=0.2, high=3.0)),
    ("abs", cr.abs, np.abs, {}),
    ("sin", cr.sin, np.sin, {}),
    ("cos", cr.cos, np.cos, {}),
    ("tanh", cr.tanh, np.tanh, {}),
    ("sigmoid", cr.sigmoid, sigmoid_ref, {}),
    ("relu", cr.relu, lambda x: np.maximum(x, 0), {}),
    ("leaky_relu", cr.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), {}),
    ("elu", cr.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1), {}),
    ("softplus", cr.softplus, lambda x: np.log1p(np.exp(x)), {}),
    ("sign", cr.sign, np.sign, {}),
]
UNARY_CASES = [case(name, [shape], fn, ref, id=str(shape), **kw)
               for name, fn, ref, kw in UNARY for shape in [(3, 4), (), (2, 1, 3)]]
UNARY_CASES += [
    case("leaky_relu", [(3, 4)], lambda x: cr.leaky_relu(x, alpha=0.2),
         lambda x: np.where(x > 0, x, 0.2 * x), id="alpha0.2"),
    case("elu", [(3, 4)], lambda x: cr.elu(x, alpha=0.5),
         lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1)), id="alpha0.5"),
    case("clip", [(3, 4)], lambda x: cr.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), id="both"),
    case("clip", [(3, 4)], lambda x: cr.clip(x, min=0.1), lambda x: np.maximum(x, 0.1), id="min"),
    case("clip", [(3, 4)], lambda x: cr.clip(x, max=0.3), lambda x: np.minimum(x, 0.3), id="max"),
    case("clip", [()], lambda x: cr.clip(x, -1.0, 1.0), lambda x: np.clip(x, -1, 1), id="0d"),
    case("abs", [(5,)], lambda x: x.abs(), np.abs, id="method"),
    case("tanh", [(5,)], lambda x: x.tanh(), np.tanh, id="method"),
    case("exp", [(5,)], lambda x: x.exp(), np.exp, id="method"),
]


@pytest.mark.parametrize("inputs,fn,ref,kw", UNARY_CASES)
def test_unary(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


# --------------------------------------------------------------------------
# softmax, log_softmax, logsumexp
# --------------------------------------------------------------------------
SOFTMAX_CASES = []
for shape, axis in [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1), ((2, 3, 4), -3)]:
    SOFTMAX_CASES += [
        case("softmax", [shape], lambda x, a=axis: cr.softmax(x, axis=a),
             lambda x, a=axis: softmax_ref(x, a), id=f"{shape}-axis{axis}"),
        case("log_softmax", [shape], lambda x, a=axis: cr.log_softmax(x, axis=a),
             lambda x, a=axis: np.log(softmax_ref(x, a)), id=f"{shape}-axis{axis}"),
    ]
SOFTMAX_CASES += [
    case("softmax", [(3, 4)], lambda x: x.softmax(), softmax_ref, id="method-default-axis"),
    case("log_softmax", [(3, 4)], lambda x: x.log_softmax(), lambda x: np.log(softmax_ref(x)),
         id="method-default-axis"),
    case("softmax", [(3, 4)], lambda x: cr.softmax(x * 30), lambda x: softmax_ref(x * 30), id="peaked"),
]


@pytest.mark.parametrize("inputs,fn,ref,kw", SOFTMAX_CASES)
def test_softmax_family(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


# --------------------------------------------------------------------------
# Reductions
# --------------------------------------------------------------------------
REDUCTIONS = [
    ("sum", cr.sum, np.sum),
    ("mean", cr.mean, np.mean),
    ("var", cr.var, np.var),
    ("std", cr.std, np.std),
    ("max", cr.max, np.max),
    ("min", cr.min, np.min),
    ("logsumexp", cr.logsumexp, logsumexp_ref),
]
AXES = [None, 0, 1, -1, -2, (0, 2), (-1, 0), (0, 1, 2)]
REDUCE_CASES = [
    case(name, [(2, 3, 4)], lambda x, f=fn, a=axis, k=keep: f(x, axis=a, keepdims=k),
         lambda x, f=ref, a=axis, k=keep: f(x, axis=a, keepdims=k), id=f"axis{axis}-keep{keep}")
    for name, fn, ref in REDUCTIONS for axis in AXES for keep in (False, True)
]
REDUCE_CASES += [  # std of one number is sqrt(0): no finite derivative (torch gives nan too)
    case(name, [()], fn, ref, id="0d", grad=name != "std") for name, fn, ref in REDUCTIONS
]
REDUCE_CASES += [
    case("var", [(3, 4)], lambda x: cr.var(x, axis=0, ddof=1), lambda x: np.var(x, axis=0, ddof=1), id="ddof1"),
    case("std", [(3, 4)], lambda x: cr.std(x, axis=-1, ddof=1), lambda x: np.std(x, axis=-1, ddof=1), id="ddof1"),
    case("var", [(3, 4)], lambda x: cr.var(x), lambda x: np.mean((x - x.mean()) ** 2), id="default-ddof0"),
    case("sum", [(3, 4)], lambda x: x.sum(axis=1), lambda x: x.sum(axis=1), id="method"),
    case("mean", [(3, 4)], lambda x: x.mean(axis=-1, keepdims=True), lambda x: x.mean(-1, keepdims=True),
         id="method"),
    case("max", [(3, 4)], lambda x: x.max(axis=0), lambda x: x.max(axis=0), id="method"),
    case("logsumexp", [(3, 4)], lambda x: x.logsumexp(axis=1), lambda x: logsumexp_ref(x, axis=1), id="method"),
    case("max", [np.array([[1.0, 3.0, 3.0], [2.0, 0.5, 2.0]])], lambda x: cr.max(x, axis=1),
         lambda x: x.max(axis=1), id="ties", grad=False),
]


@pytest.mark.parametrize("inputs,fn,ref,kw", REDUCE_CASES)
def test_reductions(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


@covers("max", "min")
@pytest.mark.parametrize("op", [cr.max, cr.min])
def test_max_min_ties_share_the_gradient(op):
    # As PyTorch's amax/amin: tied extremes split the gradient evenly.
    x = cr.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    vals = [3.0, 2.0] if op is cr.max else [1.0, 2.0]
    np.testing.assert_array_equal(op(x, axis=1).numpy(), vals)
    op(x, axis=1).sum().backward()
    want = [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]] if op is cr.max else [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]]
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)


@covers("argmax", "argmin")
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, False), (-1, False),
                                           (-1, True), (0, True)])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name, axis, keepdims, rng):
    x = rng.standard_normal((3, 5))
    t = cr.tensor(x, requires_grad=True)
    got = getattr(cr, name)(t, axis=axis, keepdims=keepdims)
    want = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    assert got.dtype == np.int64
    assert not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), want)
    if name == "argmax":
        np.testing.assert_array_equal(t.argmax(axis=axis).numpy(), np.argmax(x, axis=axis))


# --------------------------------------------------------------------------
# Shape ops
# --------------------------------------------------------------------------
SHAPE_CASES = [
    case("reshape", [(2, 3, 4)], lambda x: cr.reshape(x, (4, 6)), lambda x: x.reshape(4, 6), id="tuple"),
    case("reshape", [(2, 3, 4)], lambda x: x.reshape(3, -1), lambda x: x.reshape(3, -1), id="minus1"),
    case("reshape", [(2, 3)], lambda x: cr.reshape(x, -1), lambda x: x.reshape(-1), id="flat"),
    case("reshape", [()], lambda x: cr.reshape(x, (1, 1)), lambda x: x.reshape(1, 1), id="0d"),
    case("reshape", [(1, 1)], lambda x: cr.reshape(x, ()), lambda x: x.reshape(()), id="to-0d"),
    case("transpose", [(2, 3, 4)], lambda x: cr.transpose(x), lambda x: x.transpose(), id="reverse"),
    case("transpose", [(2, 3, 4)], lambda x: cr.transpose(x, (1, 2, 0)), lambda x: x.transpose(1, 2, 0),
         id="perm"),
    case("transpose", [(2, 3, 4)], lambda x: cr.transpose(x, (-1, 0, -2)), lambda x: x.transpose(2, 0, 1),
         id="negative-perm"),
    case("transpose", [(2, 3)], lambda x: x.T, lambda x: x.T, id=".T"),
    case("transpose", [(2, 3, 4)], lambda x: x.T, lambda x: x.T, id=".T-3d"),
    case("swapaxes", [(2, 3, 4)], lambda x: cr.swapaxes(x, 0, 2), lambda x: np.swapaxes(x, 0, 2)),
    case("swapaxes", [(2, 3, 4)], lambda x: x.mT, lambda x: np.swapaxes(x, -1, -2), id="mT"),
    case("swapaxes", [(2, 3, 4)], lambda x: cr.swapaxes(x, -1, 0), lambda x: np.swapaxes(x, -1, 0),
         id="negative"),
    case("expand_dims", [(2, 3)], lambda x: cr.expand_dims(x, 0), lambda x: np.expand_dims(x, 0)),
    case("expand_dims", [(2, 3)], lambda x: cr.expand_dims(x, -1), lambda x: np.expand_dims(x, -1),
         id="negative"),
    case("expand_dims", [(2, 3)], lambda x: cr.expand_dims(x, 1), lambda x: np.expand_dims(x, 1), id="middle"),
    case("expand_dims", [()], lambda x: cr.expand_dims(x, 0), lambda x: np.expand_dims(x, 0), id="0d"),
    case("squeeze", [(1, 3, 1, 2)], lambda x: cr.squeeze(x), lambda x: np.squeeze(x), id="all"),
    case("squeeze", [(1, 3, 1, 2)], lambda x: cr.squeeze(x, 2), lambda x: np.squeeze(x, 2), id="axis"),
    case("squeeze", [(1, 3, 1, 2)], lambda x: cr.squeeze(x, (0, -2)), lambda x: np.squeeze(x, (0, -2)),
         id="tuple-negative"),
    case("flatten", [(2, 3, 4)], lambda x: cr.flatten(x), lambda x: x.reshape(-1)),
    case("flatten", [(2, 3, 4)], lambda x: cr.flatten(x, 1), lambda x: x.reshape(2, -1), id="start1"),
    case("broadcast_to", [(3,)], lambda x: cr.broadcast_to(x, (2, 3)), lambda x: np.broadcast_to(x, (2, 3))),
    case("broadcast_to", [(3, 1)], lambda x: cr.broadcast_to(x, (2, 3, 4)),
         lambda x: np.broadcast_to(x, (2, 3, 4)), id="inner"),
    case("broadcast_to", [()], lambda x: cr.broadcast_to(x, (2, 2)), lambda x: np.broadcast_to(x, (2, 2)),
         id="0d"),
    case("sum_to", [(2, 3, 4)], lambda x: cr.sum_to(x, (3, 1)), lambda x: x.sum(axis=(0, 2)).reshape(3, 1)),
    case("sum_to", [(2, 3, 4)], lambda x: cr.sum_to(x, (4,)), lambda x: x.sum(axis=(0, 1)), id="lead"),
    case("sum_to", [(2, 3)], lambda x: cr.sum_to(x, ()), lambda x: x.sum(), id="0d"),
    case("sum_to", [(2, 3)], lambda x: cr.sum_to(x, (2, 3)), lambda x: x, id="same"),
    case("concatenate", [(2, 3), (1, 3)], lambda a, b: cr.concatenate([a, b]),
         lambda a, b: np.concatenate([a, b])),
    case("concatenate", [(2, 3), (2, 1), (2, 2)], lambda a, b, c: cr.concatenate([a, b, c], axis=-1),
         lambda a, b, c: np.concatenate([a, b, c], axis=-1), id="three-axis-1"),
    case("concatenate", [(2, 3, 1), (2, 3, 2)], lambda a, b: cr.concatenate([a, b], axis=2),
         lambda a, b: np.concatenate([a, b], axis=2), id="axis2"),
    case("concatenate", [(2, 3)], lambda a: cr.concatenate([a, a * 2]),
         lambda a: np.concatenate([a, a * 2]), id="same-tensor"),
    case("stack", [(2, 3), (2, 3)], lambda a, b: cr.stack([a, b]), lambda a, b: np.stack([a, b])),
    case("stack", [(2, 3), (2, 3), (2, 3)], lambda a, b, c: cr.stack([a, b, c], axis=-1),
         lambda a, b, c: np.stack([a, b, c], axis=-1), id="axis-1"),
    case("stack", [(2, 3), (2, 3)], lambda a, b: cr.stack([a, b], axis=1),
         lambda a, b: np.stack([a, b], axis=1), id="axis1"),
    case("stack", [(), ()], lambda a, b: cr.stack([a, b]), lambda a, b: np.stack([a, b]), id="0d"),
    case("pad", [(2, 3)], lambda x: cr.pad(x, ((1, 2), (0, 1))), lambda x: np.pad(x, ((1, 2), (0, 1)))),
    case("pad", [(2, 3)], lambda x: cr.pad(x, ((0, 1), (2, 0)), value=-3.5),
         lambda x: np.pad(x, ((0, 1), (2, 0)), constant_values=-3.5), id="value"),
    case("pad", [(1, 2, 2, 1)], lambda x: x.pad(((0, 0), (1, 1), (1, 1), (0, 0))),
         lambda x: np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), id="method-4d"),
    case("pad", [(2, 3)], lambda x: cr.pad(x, 1), lambda x: np.pad(x, 1), id="int-width"),
]


@pytest.mark.parametrize("inputs,fn,ref,kw", SHAPE_CASES)
def test_shape_ops(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


# --------------------------------------------------------------------------
# Indexing
# --------------------------------------------------------------------------
MASK = np.array([[True, False, True, False, False], [False, False, False, True, True],
                 [True, True, False, False, False], [False, False, False, False, True]])
INDEXES = [
    ("int", 1), ("negative-int", -1), ("slice", slice(1, 3)), ("step", slice(None, None, 2)),
    ("negative-step", slice(None, None, -1)), ("col", (slice(None), 1)), ("None", None),
    ("ellipsis", (Ellipsis, 0)), ("int-ellipsis-None", (1, Ellipsis, None)),
    ("None-slice", (slice(None), None, slice(2, None))), ("two-ints", (2, 3)),
    ("int-array", [0, 2]), ("repeated", [0, 0, 1, 0]), ("negative-array", [-1, -2, -1]),
    ("2d-int-array", np.array([[0, 1], [1, 0]])), ("pairs", ([0, 1, 1], [1, 2, 2])),
    ("slice-then-array", (slice(1, None), [0, 0, 4])), ("array-cols", (slice(None), [2, 0, 2])),
    ("ellipsis-array", (Ellipsis, [1, 1])), ("bool-mask", MASK), ("bool-rows", [True, False, True, False]),
    ("bool-cols", (slice(None), np.array([True, False, True, True, False]))),
]
INDEX_CASES = [case("getitem", [(4, 5)], lambda x, i=idx: x[i], lambda x, i=idx: x[i], id=name)
               for name, idx in INDEXES]
INDEX_CASES += [
    case("getitem", [(4, 5)], lambda x: x[cr.tensor(MASK)], lambda x: x[MASK], id="tensor-mask"),
    case("getitem", [(4, 5)], lambda x: x[cr.tensor([3, 0, 3])], lambda x: x[[3, 0, 3]], id="tensor-index"),
    case("getitem", [(2, 3, 4)], lambda x: x[1, ..., [0, 3]], lambda x: x[1, ..., [0, 3]], id="3d-mixed"),
    case("getitem", [(2, 3, 4)], lambda x: x[:, [0, 2], 1:], lambda x: x[:, [0, 2], 1:], id="3d-middle"),
    case("getitem", [(2, 3, 4)], lambda x: cr.getitem(x, (0, slice(None, None, 2))), lambda x: x[0, ::2],
         id="function"),
    case("take", [(4, 5)], lambda x: cr.take(x, [2, 0, 2], axis=1), lambda x: np.take(x, [2, 0, 2], axis=1)),
    case("take", [(4, 5)], lambda x: cr.take(x, [7, 0, 7]), lambda x: np.take(x, [7, 0, 7]), id="flat"),
    case("take", [(4, 5)], lambda x: cr.take(x, [1, 1], axis=-2), lambda x: np.take(x, [1, 1], axis=-2),
         id="negative-axis"),
    case("scatter_add", [(4,)], lambda v: cr.scatter_add(v, np.array([0, 2, 0, 1]), (3,)),
         lambda v: np.bincount([0, 2, 0, 1], weights=v, minlength=3), id="repeated"),
    case("scatter_add", [(2, 3)], lambda v: cr.scatter_add(v, (slice(1, 3),), (4, 3)),
         lambda v: np.concatenate([np.zeros((1, 3)), v, np.zeros((1, 3))]), id="slice"),
]


@pytest.mark.parametrize("inputs,fn,ref,kw", INDEX_CASES)
def test_indexing(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


@covers("getitem")
def test_repeated_indices_accumulate_gradient():
    x = cr.zeros(4, requires_grad=True)
    x[[0, 0, 1, 0, 3]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 1, 0, 1])
    y = cr.zeros(2, 3, requires_grad=True)
    (y[[1, 1], [2, 2]] * cr.tensor([2.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 0, 0], [0, 0, 7]])


@covers("getitem")
def test_iterating_a_tensor_gives_rows_with_gradients():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    rows = list(x)
    assert len(rows) == 2
    (rows[0] * 3 + rows[1]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3, 3], [1, 1]])


# --------------------------------------------------------------------------
# where, maximum, minimum, clip
# --------------------------------------------------------------------------
_c = np.random.default_rng(5)
COND_34 = _c.random((3, 4)) > 0.5
COND_31 = np.array([[True], [False], [True]])
COND_4 = np.array([True, False, False, True])
WHERE_CASES = [
    case("where", [(3, 4), (3, 4)], lambda a, b: cr.where(COND_34, a, b), lambda a, b: np.where(COND_34, a, b),
         id="same-shape"),
    case("where", [(4,), ()], lambda a, b: cr.where(COND_31, a, b), lambda a, b: np.where(COND_31, a, b),
         id="broadcast-cond31-x4-y0d"),
    case("where", [(3, 4)], lambda a: cr.where(COND_4, a, 0.0), lambda a: np.where(COND_4, a, 0.0),
         id="scalar-y"),
    case("where", [(3, 1)], lambda a: cr.where(COND_4, 1.5, a), lambda a: np.where(COND_4, 1.5, a),
         id="scalar-x-broadcast"),
    case("where", [(3, 4), (3, 4)], lambda a, b: cr.where(a > b, a, b), np.maximum, id="tensor-cond"),
    case("where", [(3, 4)], lambda a: cr.where(cr.tensor(COND_34), a, a * a),
         lambda a: np.where(COND_34, a, a * a), id="same-input-both-sides"),
    case("maximum", [(3, 4)], lambda a: cr.maximum(a, 0.25), lambda a: np.maximum(a, 0.25), id="scalar"),
    case("minimum", [(3, 4)], lambda a: cr.minimum(-0.5, a), lambda a: np.minimum(-0.5, a), id="rscalar"),
    case("clip", [(3, 1, 4)], lambda a: a.clip(-1.0, 1.0), lambda a: np.clip(a, -1, 1), id="method"),
]


@pytest.mark.parametrize("inputs,fn,ref,kw", WHERE_CASES)
def test_selection(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


@covers("clip")
def test_clip_with_array_bounds():
    x = cr.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    y = cr.clip(x, np.array([-1.0, 0.0, 0.0]), np.array([1.0, 1.0, 2.0]))
    np.testing.assert_array_equal(y.numpy(), [-1, 0.5, 2])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 0])


def test_clip_with_tensor_bounds():
    x = cr.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    y = cr.clip(x, cr.tensor(-1.0), cr.tensor(1.0))
    np.testing.assert_array_equal(y.numpy(), [-1, 0.5, 1])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 0])


@covers("power")
def test_power_gradients_at_a_zero_base():
    # x**2 and x**1 at 0 are ordinary points; d/db of a**b at a=0 is taken as 0 (as torch).
    x = cr.tensor([0.0, 3.0], requires_grad=True)
    (x ** 2 + x ** 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 7])
    b = cr.tensor([2.0, 2.0], requires_grad=True)
    (cr.tensor([0.0, 3.0]) ** b).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [0, 9 * np.log(3)], rtol=1e-6)


def test_power_zero_exponent_gradient_at_zero_base():
    with np.errstate(divide="ignore", invalid="ignore"):
        g = cr.grad(lambda t: (t[:, None] ** cr.arange(3.0)).sum())(np.array([0.0, 2.0]))
    np.testing.assert_array_equal(g.numpy(), [1.0, 5.0])     # d/dx (1 + x + x^2) = 1 + 2x


@covers("maximum", "minimum", "clip")
def test_selection_gradients_at_ties_and_bounds():
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = cr.tensor([1.0, 5.0, 0.0], requires_grad=True)
    cr.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0, 1])    # ties split (as torch)
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1, 0])
    x = cr.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    cr.clip(x, -1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 1, 0])  # inclusive bounds (as torch)


# --------------------------------------------------------------------------
# matmul, dot, einsum
# --------------------------------------------------------------------------
MATMUL_CASES = [
    case("matmul", [(3,), (3,)], cr.matmul, np.matmul, id="1d-1d"),
    case("matmul", [(2, 3), (3,)], cr.matmul, np.matmul, id="2d-1d"),
    case("matmul", [(3,), (3, 4)], cr.matmul, np.matmul, id="1d-2d"),
    case("matmul", [(2, 3), (3, 4)], cr.matmul, np.matmul, id="2d-2d"),
    case("matmul", [(2, 2, 3), (3, 4)], cr.matmul, np.matmul, id="batched-2d"),
    case("matmul", [(2, 3), (2, 3, 4)], cr.matmul, np.matmul, id="2d-batched"),
    case("matmul", [(2, 1, 2, 3), (4, 3, 2)], cr.matmul, np.matmul, id="broadcast-batch"),
    case("matmul", [(3,), (2, 3, 4)], cr.matmul, np.matmul, id="1d-batched"),
    case("matmul", [(2, 2, 3), (3,)], cr.matmul, np.matmul, id="batched-1d"),
    case("matmul", [(2, 3), (3, 4)], lambda a, b: a @ b, np.matmul, id="operator"),
    case("matmul", [(2, 3), (2, 3)], lambda a, b: a @ b.T, lambda a, b: a @ b.T, id="operator-T"),
    case("matmul", [(3, 4)], lambda b: np.ones((2, 3), np.float32) @ b,
         lambda b: np.ones((2, 3), np.float32) @ b, id="rmatmul-numpy"),
    case("matmul", [(3, 3)], lambda a: a @ a, lambda a: a @ a, id="same-tensor"),
    case("dot", [(4,), (4,)], cr.dot, np.dot, id="1d"),
    case("dot", [(2, 3), (3, 2)], cr.dot, np.dot, id="2d"),
    case("dot", [(2, 3), (3,)], lambda a, b: a.dot(b), np.dot, id="method"),
    case("linear", [(4, 3), (3, 2), (2,)], cr.linear, lambda x, w, b: x @ w + b, id="2d"),
    case("linear", [(2, 4, 3), (3, 2), (2,)], cr.linear, lambda x, w, b: x @ w + b, id="3d-input"),
    case("linear", [(3,), (3, 2), (2,)], cr.linear, lambda x, w, b: x @ w + b, id="1d-input"),
    case("linear", [(4, 3), (3, 2)], cr.linear, np.matmul, id="no-bias"),
    case("linear", [(2, 2, 4, 3), (3, 2)], cr.linear, np.matmul, id="4d-no-bias"),
]
EINSUMS = [
    ("matrix-product", "ij,jk->ik", [(2, 3), (3, 4)]),
    ("batched", "bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("trace", "ii->", [(3, 3)]),
    ("diagonal", "ii->i", [(3, 3)]),
    ("sum", "ij->", [(2, 3)]),
    ("transpose", "ij->ji", [(2, 3)]),
    ("implicit", "ij,jk", [(2, 3), (3, 4)]),
    ("implicit-transpose", "ba", [(2, 3)]),
    ("ellipsis", "...ij,...jk->...ik", [(2, 2, 3), (3, 4)]),
    ("ellipsis-broadcast", "...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("ellipsis-implicit", "...ij,jk", [(2, 2, 3), (3, 4)]),
    ("outer", "i,j->ij", [(3,), (4,)]),
    ("rowwise-dot", "ij,ij->i", [(3, 4), (3, 4)]),
    ("matvec", "bi,i->b", [(3, 4), (4,)]),
    ("three-operands", "ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("col-sum", "ij->j", [(3, 4)]),
    ("spaces", "ij, jk -> ik", [(2, 3), (3, 2)]),
    ("diag-times-vector", "ii,i->i", [(3, 3), (3,)]),
]
MATMUL_CASES += [
    case("einsum", shapes, lambda *ops, s=spec: cr.einsum(s, *ops),
         lambda *ops, s=spec: np.einsum(s.replace(" ", ""), *ops), id=name)
    for name, spec, shapes in EINSUMS
]


@pytest.mark.parametrize("inputs,fn,ref,kw", MATMUL_CASES)
def test_products(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


# --------------------------------------------------------------------------
# conv2d against a loop reference
# --------------------------------------------------------------------------
CONVS = [  # x shape, w shape, stride, padding, bias
    ((1, 5, 5, 2), (3, 3, 2, 3), 1, "valid", False),
    ((1, 5, 5, 2), (3, 3, 2, 3), 1, "same", True),
    ((2, 4, 4, 1), (2, 2, 1, 2), 1, "same", False),       # total padding 1: bottom/right
    ((1, 6, 6, 2), (3, 3, 2, 2), 2, "same", True),        # total padding 1 with stride 2
    ((1, 5, 5, 1), (3, 3, 1, 2), 2, "valid", False),
    ((1, 5, 5, 1), (3, 3, 1, 2), 2, "same", False),       # total padding 2: symmetric
    ((1, 7, 7, 1), (4, 4, 1, 1), 3, "same", True),        # total padding 3: (1, 2)
    ((1, 4, 5, 2), (2, 3, 2, 2), 1, 1, True),             # int padding, non-square kernel
    ((1, 5, 4, 1), (3, 2, 1, 1), (2, 1), "same", False),  # tuple stride
    ((2, 3, 3, 3), (1, 1, 3, 2), 1, "valid", True),       # 1x1 kernel
]
CONV_CASES = []
for xs, ws, st, pad, bias in CONVS:
    ident = f"{xs}-{ws}-s{st}-{pad}" + ("-bias" if bias else "")
    if bias:
        CONV_CASES.append(case(
            "conv2d", [xs, ws, (ws[-1],)],
            lambda x, w, b, s=st, p=pad: cr.conv2d(x, w, b, stride=s, padding=p),
            lambda x, w, b, s=st, p=pad: conv2d_ref(x, w, b, stride=s, padding=p), id=ident))
    else:
        CONV_CASES.append(case(
            "conv2d", [xs, ws],
            lambda x, w, s=st, p=pad: cr.conv2d(x, w, stride=s, padding=p),
            lambda x, w, s=st, p=pad: conv2d_ref(x, w, stride=s, padding=p), id=ident))


@pytest.mark.parametrize("inputs,fn,ref,kw", CONV_CASES)
def test_conv2d(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


@covers("conv2d")
def test_conv2d_same_puts_the_odd_padding_bottom_right():
    # A kernel that picks its top-left tap returns the (top-left padded) input:
    # with TensorFlow's rule there is no padding on top/left when the total is 1.
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    w = np.zeros((2, 2, 1, 1))
    w[0, 0] = 1
    y = cr.conv2d(cr.tensor(x), cr.tensor(w), padding="same").numpy()
    np.testing.assert_array_equal(y, x)
    w = np.zeros((2, 2, 1, 1))
    w[1, 1] = 1  # bottom-right tap: shifted input, zeros from the bottom/right padding
    y = cr.conv2d(cr.tensor(x), cr.tensor(w), padding="same").numpy()[0, :, :, 0]
    want = np.zeros((4, 4))
    want[:3, :3] = x[0, 1:, 1:, 0]
    np.testing.assert_array_equal(y, want)


@covers("conv2d")
@pytest.mark.parametrize("h,k,s,out", [(28, 3, 1, 28), (28, 3, 2, 14), (5, 2, 2, 3), (7, 4, 3, 3), (1, 3, 1, 1)])
def test_conv2d_same_output_size_is_ceil(h, k, s, out):
    y = cr.conv2d(cr.ones(1, h, h, 1), cr.ones(k, k, 1, 2), stride=s, padding="same")
    assert y.shape == (1, out, out, 2)
    assert y.dtype == np.float32


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------
POOLS = [  # x shape, pool, stride, padding
    ((1, 4, 4, 2), 2, None, "valid"),
    ((1, 5, 5, 1), 3, 1, "valid"),
    ((2, 4, 4, 1), 2, 1, "valid"),
    ((1, 5, 5, 2), 2, None, "same"),          # total padding 1: bottom/right
    ((1, 5, 6, 1), (2, 3), (1, 2), "same"),
    ((1, 6, 6, 1), 3, 2, "same"),             # (0, 1) padding
    ((1, 5, 5, 1), 3, 1, "same"),             # symmetric (1, 1)
    ((2, 7, 5, 3), 2, None, "valid"),         # stride = window: the reshape path, cropped
    ((1, 6, 9, 1), (2, 3), (2, 3), "valid"),  # the reshape path, rectangular windows
]
POOL_CASES = []
for xs, pool, st, pad in POOLS:
    POOL_CASES.append(case(
        "max_pool2d", [xs], lambda x, k=pool, s=st, p=pad: cr.max_pool2d(x, k, stride=s, padding=p),
        lambda x, k=pool, s=st, p=pad: pool2d_ref(x, k, s, p, "max"), id=f"{xs}-{pool}-s{st}-{pad}"))
    POOL_CASES.append(case(
        "avg_pool2d", [xs], lambda x, k=pool, s=st, p=pad: cr.avg_pool2d(x, k, stride=s, padding=p),
        lambda x, k=pool, s=st, p=pad: pool2d_ref(x, k, s, p, "avg"), id=f"{xs}-{pool}-s{st}-{pad}"))


@pytest.mark.parametrize("inputs,fn,ref,kw", POOL_CASES)
def test_pooling(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


@covers("avg_pool2d")
def test_avg_pool_same_does_not_count_padding():
    x = cr.ones(1, 3, 3, 1)
    y = cr.avg_pool2d(x, 2, padding="same")   # windows at the edge hold fewer real cells
    np.testing.assert_allclose(y.numpy(), np.ones((1, 2, 2, 1)))


def test_max_pool_same_padding_never_beats_minus_inf():
    x = np.zeros((1, 3, 3, 1))
    x[0, :, 2, 0] = -np.inf
    got = cr.max_pool2d(cr.tensor(x), 2, padding="same").numpy()
    np.testing.assert_array_equal(got, pool2d_ref(x, 2, None, "same", "max"))


@covers("max_pool2d")
def test_max_pool_gradient_goes_to_the_max():
    x = cr.tensor(np.array([[1.0, 5.0], [3.0, 2.0]]).reshape(1, 2, 2, 1), requires_grad=True)
    cr.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy().reshape(2, 2), [[0, 1], [0, 0]])


# --------------------------------------------------------------------------
# Patches (the im2col pair under conv2d and pooling)
# --------------------------------------------------------------------------
def patches_ref(x, k, s):
    kh, kw = k
    n, h, w, c = x.shape
    oh, ow = (h - kh) // s + 1, (w - kw) // s + 1
    out = np.zeros((n, oh, ow, kh, kw, c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = x[:, i * s:i * s + kh, j * s:j * s + kw, :]
    return out


def fold_ref(p, shape, s):
    out = np.zeros(shape)
    _, oh, ow, kh, kw, _ = p.shape
    for i in range(oh):
        for j in range(ow):
            out[:, i * s:i * s + kh, j * s:j * s + kw, :] += p[:, i, j]
    return out


PATCH_CASES = [
    case("extract_patches", [(1, 4, 5, 2)], lambda x: cr.extract_patches(x, (2, 3)),
         lambda x: patches_ref(x, (2, 3), 1)),
    case("extract_patches", [(2, 5, 5, 1)], lambda x: cr.extract_patches(x, 3, 2),
         lambda x: patches_ref(x, (3, 3), 2), id="stride2"),
    case("fold_patches", [(1, 3, 3, 2, 2, 1)], lambda p: cr.fold_patches(p, (1, 4, 4, 1)),
         lambda p: fold_ref(p, (1, 4, 4, 1), 1)),
    case("fold_patches", [(1, 2, 2, 3, 3, 2)], lambda p: cr.fold_patches(p, (1, 5, 5, 2), 2),
         lambda p: fold_ref(p, (1, 5, 5, 2), 2), id="stride2"),
]


@pytest.mark.parametrize("inputs,fn,ref,kw", PATCH_CASES)
def test_patches(inputs, fn, ref, kw):
    run(inputs, fn, ref, kw)


@covers("extract_patches", "fold_patches")
def test_fold_is_the_adjoint_of_extract(rng):
    x = rng.standard_normal((2, 5, 6, 3))
    p = rng.standard_normal((2, 2, 2, 3, 3, 3))
    lhs = np.sum(cr.extract_patches(cr.tensor(x), 3, 2).numpy() * p)
    rhs = np.sum(x * cr.fold_patches(cr.tensor(p), x.shape, 2).numpy())
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


# --------------------------------------------------------------------------
# astype, comparisons
# --------------------------------------------------------------------------
@covers("astype")
def test_astype_casts_and_gradient_comes_back_in_the_input_dtype(rng):
    x = cr.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    y = cr.astype(x, "float64")
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y.numpy(), x.numpy().astype(np.float64))
    w = rng.standard_normal(4)
    (y * cr.tensor(w)).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), w.astype(np.float32))
    check_op([(3, 2)], lambda t: t.astype("float64") * 2, lambda t: t * 2, float32=False)


COMPARISONS = [("equal", np.equal, "__eq__"), ("not_equal", np.not_equal, "__ne__"),
               ("less", np.less, "__lt__"), ("less_equal", np.less_equal, "__le__"),
               ("greater", np.greater, "__gt__"), ("greater_equal", np.greater_equal, "__ge__")]
COVERED.update(name for name, _, _ in COMPARISONS)


@pytest.mark.parametrize("name,ref,dunder", COMPARISONS)
def test_comparisons(name, ref, dunder):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    ta = cr.tensor(a, requires_grad=True)
    for got in (getattr(cr, name)(ta, cr.tensor(b)), getattr(ta, dunder)(cr.tensor(b))):
        assert got.dtype == np.bool_
        assert not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), ref(a, b))
    np.testing.assert_array_equal(getattr(ta, dunder)(2.0).numpy(), ref(a, 2.0))   # with a scalar


# --------------------------------------------------------------------------
# dropout, one_hot
# --------------------------------------------------------------------------
@covers("dropout")
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_mask_statistics_and_scaling(rate):
    x = cr.ones(20000)
    y = cr.dropout(x, rate, training=True, seed=3).numpy()
    dropped = np.mean(y == 0)
    assert abs(dropped - rate) < 0.02, f"dropped {dropped:.3f}, rate {rate}"
    np.testing.assert_allclose(y[y != 0], 1 / (1 - rate), rtol=1e-6)   # survivors scaled
    assert abs(y.mean() - 1) < 0.05                                       # expectation kept
    assert y.dtype == np.float32


@covers("dropout")
def test_dropout_identity_when_not_training_or_rate_zero(rng):
    x = cr.tensor(rng.standard_normal((3, 4)))
    np.testing.assert_array_equal(cr.dropout(x, 0.5, training=False).numpy(), x.numpy())
    np.testing.assert_array_equal(cr.dropout(x, 0.0, training=True).numpy(), x.numpy())


@covers("dropout")
def test_dropout_seed_reproducible():
    x = cr.ones(200)
    a = cr.dropout(x, 0.5, training=True, seed=7).numpy()
    b = cr.dropout(x, 0.5, training=True, seed=7).numpy()
    c = cr.dropout(x, 0.5, training=True, seed=8).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    cr.set_seed(11)
    d = cr.dropout(x, 0.5, training=True).numpy()
    cr.set_seed(11)
    e = cr.dropout(x, 0.5, training=True).numpy()
    np.testing.assert_array_equal(d, e)


@covers("dropout")
def test_dropout_gradient_uses_the_same_mask(rng):
    x = cr.tensor(rng.uniform(1, 2, size=(50,)), requires_grad=True)
    y = cr.dropout(x, 0.4, training=True, seed=1)
    w = rng.standard_normal(50)
    (y * cr.tensor(w)).sum().backward()
    scale = y.numpy() / x.numpy()   # 0 or 1/(1-rate), entry by entry
    assert set(np.round(np.unique(scale), 6)) <= {0.0, round(1 / 0.6, 6)}
    np.testing.assert_allclose(x.grad.numpy(), w * scale, rtol=1e-12)
    # gradcheck with the seed fixed (same mask on every call)
    assert cr.gradcheck(lambda t: cr.dropout(t, 0.4, training=True, seed=1), x)


@covers("dropout")
def test_dropout_rejects_bad_rate():
    with pytest.raises(ValueError, match="rate"):
        cr.dropout(cr.ones(3), 1.5)


@covers("one_hot")
@pytest.mark.parametrize("labels,n", [([0, 2, 1], 3), ([[1, 0, 3], [2, 2, 0]], 4), (np.array([4, 0]), 6),
                                      (2, 3), (np.array([1, 0], dtype=np.int32), 2)])
def test_one_hot(labels, n):
    got = cr.one_hot(labels, n)
    want = np.eye(n)[np.asarray(labels)]
    assert got.shape == want.shape
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(cr.one_hot(cr.tensor(labels), n).numpy(), want)


@covers("one_hot")
def test_one_hot_infers_num_classes():
    np.testing.assert_array_equal(cr.one_hot([0, 3]).numpy(), np.eye(4)[[0, 3]])


# --------------------------------------------------------------------------
# Fused losses and the L2 penalty
def _log_softmax_ref(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


LABELS = np.array([[2, 0, 1], [1, 1, 3]])
TARGETS = np.random.default_rng(7).dirichlet(np.ones(4), size=5)


@covers("softmax_cross_entropy")
@pytest.mark.parametrize("low,high", [(-2, 2), (-1000, 1000)])
def test_softmax_cross_entropy(low, high):
    want = lambda x: -np.take_along_axis(_log_softmax_ref(x), LABELS[..., None], -1)[..., 0]
    check_op([(2, 3, 4)], lambda x: cr.ops.softmax_cross_entropy(x, LABELS), want,
             lambda x: torch.nn.functional.cross_entropy(x.reshape(-1, 4), torch.tensor(
                 LABELS.reshape(-1)), reduction="none").reshape(2, 3),
             low=low, high=high, grad=high < 10)


@covers("softmax_cross_entropy_sum")
def test_softmax_cross_entropy_sum():
    check_op([(5, 4)], lambda x: cr.ops.softmax_cross_entropy_sum(x, TARGETS, 0.25),
             lambda x: -0.25 * np.sum(TARGETS * _log_softmax_ref(x)))
    loss, log_p = cr.ops.softmax_cross_entropy_sum(cr.tensor(np.zeros((2, 4))), TARGETS[:2],
                                                   return_log_probs=True)
    np.testing.assert_allclose(log_p, np.log(np.full((2, 4), 0.25)))


@covers("l2_loss")
def test_l2_loss():
    check_op([(3, 4)], cr.ops.l2_loss, lambda x: 0.5 * np.sum(x * x),
             lambda x: 0.5 * (x * x).sum())


# --------------------------------------------------------------------------
# prod and clip_by_norm (issue 22)
WITH_ZEROS = np.array([[1.5, 0.0, -2.0, 0.5], [0.0, 0.0, 3.0, 1.0], [2.0, -1.0, 0.5, 1.5]])


@covers("prod")
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), (0, True), ((0, 1), False)])
def test_prod(axis, keepdims):
    check_op([(3, 4)], lambda x: cr.ops.reduce.prod(x, axis, keepdims),
             lambda x: np.prod(x, axis=axis, keepdims=keepdims),
             None if axis is None or isinstance(axis, tuple) else
             lambda x: torch.prod(x, dim=axis, keepdim=keepdims), low=0.5, high=1.5)


@covers("prod")
@pytest.mark.parametrize("axis", [0, 1])
def test_prod_gradient_is_exact_at_zeros(axis):
    # one zero in a row: only that entry gets a gradient (the product of the
    # others); two zeros: none does. A gradient by division would give nan.
    check_op([WITH_ZEROS], lambda x: cr.ops.reduce.prod(x, axis),
             lambda x: np.prod(x, axis=axis), lambda x: torch.prod(x, dim=axis))
    x = cr.tensor(WITH_ZEROS, requires_grad=True)
    cr.ops.reduce.prod(x, axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[1], 0.0)
    assert x.grad.numpy()[0, 1] == pytest.approx(1.5 * -2.0 * 0.5)


@covers("clip_by_norm")
@pytest.mark.parametrize("axes,clip", [(None, 1.0), (None, 100.0), (1, 0.8), ((0,), 1.2)])
def test_clip_by_norm(axes, clip):
    def ref(t):
        norm = np.sqrt(np.sum(t * t, axis=axes, keepdims=True))
        return t * clip / np.maximum(norm, clip)
    check_op([(3, 4)], lambda t: cr.ops.reduce.clip_by_norm(t, clip, axes), ref)


@covers("clip_by_norm")
def test_clip_by_norm_of_zero_has_a_finite_zero_gradient():
    t = cr.tensor(np.zeros(3), requires_grad=True)
    out = cr.ops.reduce.clip_by_norm(t, 1.0)
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy(), 0.0)
    np.testing.assert_allclose(t.grad.numpy(), 1.0)       # below the clip: the identity


# --------------------------------------------------------------------------
# The fused recurrent ops have their own file (tests/test_rnn_ops.py, same check_op).
COVERED.update({"lstm", "gru", "simple_rnn"})
# Issue 17's ops have theirs too (tests/test_ops_17a.py, same check_op).
COVERED.update({"erf", "flip", "roll", "tile", "repeat", "tril", "triu", "cumsum", "sort", "top_k",
                "layer_norm", "scaled_dot_product_attention", "conv2d_transpose",
                "depthwise_conv2d", "dilate_kernel"})


def test_every_op_is_covered():
    missing = set(cr.ops.__all__) - COVERED
    assert not missing, f"ops without tests: {sorted(missing)}"


def test_the_helper_catches_wrong_values_and_wrong_gradients():
    # The helper must not pass vacuously: a wrong reference fails it ...
    with pytest.raises(AssertionError):
        check_op([(3,)], cr.exp, np.sin)
    # ... and so does an op whose derivative is wrong.
    from chainrule.tensor import record

    def bad_square(x):
        x = cr.tensor(x) if not isinstance(x, cr.Tensor) else x
        return record("bad_square", x.numpy() ** 2, (x,), lambda g, out, x: g * x)  # should be 2x
    with pytest.raises(AssertionError):
        check_op([(3,)], bad_square, np.square)
