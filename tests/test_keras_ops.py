"""``cr.ops`` with the ``keras.ops`` names Keras programs use (issue 16).

Differentiable ones go through ``check_op`` (NumPy values, finite
differences, the three gradient faces, torch where it has the op).
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule import ops
from chainrule.ops import keras_api

from helpers import check_op, torch

T = torch


DIFFERENTIABLE = [
    # name, inputs, cr_fn, numpy reference, torch reference
    ("square", [(3, 4)], ops.square, np.square, lambda x: x * x),
    ("reciprocal", [np.array([0.5, 1.5, -2.0])], ops.reciprocal, np.reciprocal, None),
    ("log1p", [np.array([0.1, 0.5, 2.0])], ops.log1p, np.log1p, lambda x: T.log1p(x)),
    ("expm1", [(5,)], ops.expm1, np.expm1, lambda x: T.expm1(x)),
    ("log2", [np.array([0.5, 3.0])], ops.log2, np.log2, None),
    ("log10", [np.array([0.5, 3.0])], ops.log10, np.log10, None),
    ("cast", [(2, 3)], lambda x: ops.cast(x, x.dtype), lambda x: x, None),
    ("prod axis", [(3, 4)], lambda x: ops.prod(x, axis=1), lambda x: np.prod(x, axis=1),
     lambda x: T.prod(x, dim=1)),
    ("prod all", [(2, 3)], ops.prod, np.prod, None),
    ("prod with a zero", [np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0]])],
     lambda x: ops.prod(x, axis=-1, keepdims=True),
     lambda x: np.prod(x, axis=-1, keepdims=True), None),
    ("cumsum", [(3, 4)], lambda x: ops.cumsum(x, axis=1), lambda x: np.cumsum(x, axis=1),
     lambda x: T.cumsum(x, dim=1)),
    ("cumsum flat", [(2, 3)], ops.cumsum, np.cumsum, None),
    ("average weighted", [(3, 4)], lambda x: ops.average(x, axis=1, weights=[1., 2., 3., 4.]),
     lambda x: np.average(x, axis=1, weights=[1., 2., 3., 4.]), None),
    ("average", [(3, 4)], lambda x: ops.average(x, axis=0), lambda x: np.average(x, axis=0),
     None),
    ("norm", [(3, 4)], lambda x: ops.norm(x, axis=-1), lambda x: np.linalg.norm(x, axis=-1),
     None),
    ("norm fro", [(3, 4)], ops.norm, np.linalg.norm, None),
    ("moments mean", [(3, 4)], lambda x: ops.moments(x, axes=0)[0],
     lambda x: x.mean(axis=0), None),
    ("moments var", [(3, 4)], lambda x: ops.moments(x, axes=[0, 1])[1], np.var, None),
    ("moveaxis", [(2, 3, 4)], lambda x: ops.moveaxis(x, 0, -1),
     lambda x: np.moveaxis(x, 0, -1), None),
    ("ravel", [(2, 3)], ops.ravel, np.ravel, None),
    ("tile", [(2, 3)], lambda x: ops.tile(x, (2, 1, 2)), lambda x: np.tile(x, (2, 1, 2)),
     None),
    ("repeat", [(2, 3)], lambda x: ops.repeat(x, 2, axis=1),
     lambda x: np.repeat(x, 2, axis=1), None),
    ("flip", [(2, 3)], lambda x: ops.flip(x, axis=1), lambda x: np.flip(x, axis=1), None),
    ("split", [(4, 3)], lambda x: ops.split(x, 2)[1], lambda x: np.split(x, 2)[1], None),
    ("split at", [(5, 3)], lambda x: ops.split(x, [1, 3], axis=0)[2],
     lambda x: np.split(x, [1, 3])[2], None),
    ("take_along_axis", [(3, 4)],
     lambda x: ops.take_along_axis(x, np.array([[0, 3], [1, 1], [2, 0]]), axis=1),
     lambda x: np.take_along_axis(x, np.array([[0, 3], [1, 1], [2, 0]]), axis=1), None),
    ("slice", [(4, 5)], lambda x: ops.slice(x, (1, 2), (2, 3)), lambda x: x[1:3, 2:5], None),
    ("sort", [(3, 5)], lambda x: ops.sort(x, axis=-1), lambda x: np.sort(x, axis=-1),
     lambda x: T.sort(x, dim=-1).values),
    ("top_k", [(3, 5)], lambda x: ops.top_k(x, 2)[0],
     lambda x: -np.sort(-x, axis=-1)[:, :2], lambda x: T.topk(x, 2).values),
    ("outer", [(3,), (4,)], ops.outer, np.outer, lambda a, b: T.outer(a, b)),
    ("tensordot", [(2, 3, 4), (3, 4, 5)], ops.tensordot,
     lambda a, b: np.tensordot(a, b, 2), None),
    ("tensordot axes", [(2, 3), (4, 3)], lambda a, b: ops.tensordot(a, b, axes=([1], [1])),
     lambda a, b: np.tensordot(a, b, axes=([1], [1])), None),
    ("tril", [(3, 3)], ops.tril, np.tril, lambda x: T.tril(x)),
    ("triu", [(3, 4)], lambda x: ops.triu(x, 1), lambda x: np.triu(x, 1), None),
    ("relu6", [np.array([-1.0, 0.5, 5.5, 7.0])], ops.relu6,
     lambda x: np.clip(x, 0, 6), lambda x: T.nn.functional.relu6(x)),
    ("silu", [(5,)], ops.silu, lambda x: x / (1 + np.exp(-x)),
     lambda x: T.nn.functional.silu(x)),
    ("gelu", [(5,)], ops.gelu, None,
     lambda x: T.nn.functional.gelu(x, approximate="tanh")),
    ("selu", [np.array([-1.5, -0.2, 0.3, 2.0])], ops.selu, None,
     lambda x: T.nn.functional.selu(x)),
    ("softsign", [(5,)], ops.softsign, lambda x: x / (1 + np.abs(x)),
     lambda x: T.nn.functional.softsign(x)),
    ("hard_sigmoid", [np.array([-4.0, -1.0, 0.5, 2.0, 4.0])], ops.hard_sigmoid,
     lambda x: np.clip(x + 3, 0, 6) / 6, None),
    ("log_sigmoid", [(5,)], ops.log_sigmoid, lambda x: -np.logaddexp(0, -x),
     lambda x: T.nn.functional.logsigmoid(x)),
    ("normalize", [(3, 4)], ops.normalize,
     lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True), None),
    ("binary_crossentropy logits", [(4, 3), (4, 3)],
     lambda t, x: ops.binary_crossentropy(t, x, from_logits=True), None,
     lambda t, x: T.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none")),
    ("categorical_crossentropy logits", [(4, 3), (4, 3)],
     lambda t, x: ops.categorical_crossentropy(t, x, from_logits=True), None,
     lambda t, x: -(t * T.log_softmax(x, dim=-1)).sum(-1)),
    ("sparse_categorical_crossentropy logits", [(4, 3)],
     lambda x: ops.sparse_categorical_crossentropy(np.array([0, 2, 1, 2]), x, from_logits=True),
     None, lambda x: T.nn.functional.cross_entropy(x, T.tensor([0, 2, 1, 2]),
                                                   reduction="none")),
    ("vectorized_map", [(3, 4)], lambda x: ops.vectorized_map(lambda r: (r * r).sum(), x),
     lambda x: (x * x).sum(axis=1), None),
    ("tan", [np.array([-1.0, 0.3, 1.2])], ops.tan, np.tan, lambda x: T.tan(x)),
    ("sinh", [(4,)], ops.sinh, np.sinh, lambda x: T.sinh(x)),
    ("cosh", [(4,)], ops.cosh, np.cosh, lambda x: T.cosh(x)),
    ("arcsinh", [(4,)], ops.arcsinh, np.arcsinh, lambda x: T.asinh(x)),
    ("arccosh", [np.array([1.5, 2.0, 4.0])], ops.arccosh, np.arccosh, lambda x: T.acosh(x)),
    ("arctanh", [np.array([-0.5, 0.1, 0.7])], ops.arctanh, np.arctanh, lambda x: T.atanh(x)),
    ("rsqrt", [np.array([0.5, 2.0, 9.0])], ops.rsqrt, lambda x: 1 / np.sqrt(x),
     lambda x: T.rsqrt(x)),
    ("exp2", [(4,)], ops.exp2, np.exp2, lambda x: T.exp2(x)),
    ("hypot", [(3,), (3,)], ops.hypot, np.hypot, lambda a, b: T.hypot(a, b)),
    ("logaddexp", [(3,), (3,)], ops.logaddexp, np.logaddexp, lambda a, b: T.logaddexp(a, b)),
    ("logaddexp2", [(3,), (3,)], ops.logaddexp2, np.logaddexp2, lambda a, b: T.logaddexp2(a, b)),
    ("cbrt", [np.array([-8.0, 0.5, 27.0])], ops.cbrt, np.cbrt, None),
    ("deg2rad", [(3,)], ops.deg2rad, np.deg2rad, None),
    ("hard_tanh", [np.array([-2.0, -0.5, 0.4, 3.0])], ops.hard_tanh,
     lambda x: np.clip(x, -1, 1), lambda x: T.nn.functional.hardtanh(x)),
    ("celu", [np.array([-1.5, -0.2, 0.3, 2.0])], lambda x: ops.celu(x, alpha=0.7), None,
     lambda x: T.nn.functional.celu(x, alpha=0.7)),
    ("glu", [(3, 4)], ops.glu, None, lambda x: T.nn.functional.glu(x, dim=-1)),
    ("squareplus", [(4,)], ops.squareplus, lambda x: (x + np.sqrt(x * x + 4)) / 2, None),
    ("sparse_plus", [np.array([-1.5, -0.5, 0.5, 1.5])], ops.sparse_plus,
     lambda x: np.where(x <= -1, 0, np.where(x < 1, (x + 1) ** 2 / 4, x)), None),
    ("threshold", [np.array([-1.0, 0.2, 0.7])], lambda x: ops.threshold(x, 0.5, -3.0),
     lambda x: np.where(x > 0.5, x, -3.0), None),
    ("soft_shrink", [np.array([-1.0, 0.2, 0.7])], ops.soft_shrink, None,
     lambda x: T.nn.functional.softshrink(x, 0.5)),
    ("hard_shrink", [np.array([-1.0, 0.2, 0.7])], ops.hard_shrink, None,
     lambda x: T.nn.functional.hardshrink(x, 0.5)),
    ("tanh_shrink", [(4,)], ops.tanh_shrink, None, lambda x: T.nn.functional.tanhshrink(x)),
    ("divide_no_nan", [(3,), np.array([2.0, 0.5, -1.5])], ops.divide_no_nan, np.divide, None),
    ("hstack", [(2, 3), (2, 1)], lambda a, b: ops.hstack([a, b]),
     lambda a, b: np.hstack([a, b]), None),
    ("vstack", [(3,), (2, 3)], lambda a, b: ops.vstack([a, b]),
     lambda a, b: np.vstack([a, b]), None),
    ("dstack", [(2, 3), (2, 3)], lambda a, b: ops.dstack([a, b]),
     lambda a, b: np.dstack([a, b]), None),
    ("unstack", [(3, 2)], lambda x: ops.unstack(x, axis=1)[1], lambda x: x[:, 1], None),
    ("append", [(2, 2), (3,)], ops.append, np.append, None),
    ("diagonal", [(2, 3, 4)], lambda x: ops.diagonal(x, 1, 1, 2),
     lambda x: np.diagonal(x, 1, 1, 2), None),
    ("trace", [(3, 3)], ops.trace, np.trace, lambda x: T.trace(x)),
    ("amax", [(3, 4)], lambda x: ops.amax(x, axis=0), lambda x: np.amax(x, axis=0), None),
    ("amin", [(3, 4)], lambda x: ops.amin(x, axis=1), lambda x: np.amin(x, axis=1), None),
    ("inner", [(2, 3), (4, 3)], ops.inner, np.inner, lambda a, b: T.inner(a, b)),
    ("vdot", [(2, 3), (2, 3)], ops.vdot, np.vdot, None),
    ("diff", [(3, 5)], lambda x: ops.diff(x, n=2), lambda x: np.diff(x, n=2),
     lambda x: T.diff(x, n=2)),
    ("cumprod", [np.array([[1.0, 0.0, 3.0], [2.0, -1.0, 0.5]])],
     lambda x: ops.cumprod(x, axis=1), lambda x: np.cumprod(x, axis=1),
     lambda x: T.cumprod(x, dim=1)),
    ("nan_to_num (finite)", [(3,)], ops.nan_to_num, np.nan_to_num, None),
    ("meshgrid", [(3,), (2,)], lambda a, b: ops.meshgrid(a, b)[0] * ops.meshgrid(a, b)[1],
     lambda a, b: np.meshgrid(a, b)[0] * np.meshgrid(a, b)[1], None),
    ("meshgrid ij", [(3,), (2,)], lambda a, b: ops.meshgrid(a, b, indexing="ij")[1],
     lambda a, b: np.meshgrid(a, b, indexing="ij")[1], None),
    ("select", [(4,), (4,)],
     lambda a, b: ops.select([np.array([1, 0, 0, 1], bool), np.array([1, 1, 0, 0], bool)],
                             [a, b], 0.0),
     lambda a, b: np.select([np.array([1, 0, 0, 1], bool), np.array([1, 1, 0, 0], bool)],
                            [a, b], 0.0), None),
    ("segment_sum", [(4, 2)], lambda x: ops.segment_sum(x, np.array([0, 2, 0, 1])),
     lambda x: np.stack([x[0] + x[2], x[3], x[1]]), None),
    ("copy", [(3,)], ops.copy, np.copy, None),
]


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=[c[0] for c in DIFFERENTIABLE])
def test_differentiable_keras_op(case):
    _, inputs, fn, ref, torch_ref = case
    check_op(inputs, fn, ref, torch_ref if torch is not None else None)


def test_binary_crossentropy_probabilities_match_torch_elementwise():
    t = np.array([[0.0, 1.0], [1.0, 0.0]])
    p = np.array([[0.2, 0.7], [0.9, 0.4]])
    check_op([t, p], lambda a, b: ops.binary_crossentropy(a, b),
             lambda a, b: -(a * np.log(b) + (1 - a) * np.log(1 - b)),
             (lambda a, b: T.nn.functional.binary_cross_entropy(b, a, reduction="none"))
             if torch is not None else None)


def test_categorical_crossentropy_probabilities_are_rescaled_and_clipped():
    target = np.array([[0.0, 1.0, 0.0]])
    out = ops.categorical_crossentropy(target, np.array([[2.0, 2.0, 0.0]]))   # sums to 4
    assert out.shape == (1,)
    np.testing.assert_allclose(out.numpy(), [-np.log(0.5)], rtol=1e-6)
    zero = ops.categorical_crossentropy(target, np.array([[1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(zero.numpy(), [-np.log(1e-7)], rtol=1e-5)   # clipped, finite


def test_logit_losses_are_finite_at_1000():
    x = cr.tensor([[1000.0, -1000.0]])
    assert np.isfinite(ops.binary_crossentropy(cr.tensor([[0.0, 1.0]]), x, True).numpy()).all()
    assert np.isfinite(ops.categorical_crossentropy(cr.tensor([[0.0, 1.0]]), x, True).numpy()).all()
    assert np.isfinite(ops.log_sigmoid(cr.tensor([-1000.0, 1000.0])).numpy()).all()


def test_shape_is_a_function_and_creation_takes_a_shape_tuple():
    assert callable(ops.shape)
    x = ops.ones((2, 3))
    assert ops.shape(x) == (2, 3) and x.dtype == np.float32
    assert ops.zeros((4,), dtype="int32").dtype == np.int32
    assert ops.full((2,), 3.5).numpy().tolist() == [3.5, 3.5]
    assert ops.zeros_like(x).shape == (2, 3) and ops.ones_like(x, dtype="float64").dtype == np.float64
    assert ops.ndim(x) == 2 and ops.size(x) == 6
    assert ops.eye(3).numpy().trace() == 3 and ops.identity(2).shape == (2, 2)
    # cr.ones keeps PyTorch's spelling
    assert cr.ones(2, 3).shape == (2, 3)


def test_conversion():
    t = ops.convert_to_tensor([1.0, 2.0])
    assert isinstance(t, cr.Tensor) and t.dtype == np.float32
    assert ops.convert_to_tensor(t) is t
    assert ops.convert_to_tensor(np.arange(3), dtype="float64").dtype == np.float64
    assert isinstance(ops.convert_to_numpy(t), np.ndarray)
    assert ops.is_tensor(t) and not ops.is_tensor(np.zeros(2))


def test_arange_and_linspace():
    np.testing.assert_array_equal(ops.arange(5).numpy(), np.arange(5))
    assert ops.arange(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_allclose(ops.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))
    np.testing.assert_allclose(cr.linspace(-1.0, 1.0, 3).numpy(), [-1, 0, 1])
    values, step = ops.linspace(0, 2, 4, endpoint=False, retstep=True)
    assert step == 0.5 and values.dtype == np.float32


def test_stop_gradient_cuts_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * ops.stop_gradient(x)).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])     # not 2x


def test_non_differentiable_ops_match_numpy():
    a = np.array([[1.5, -2.5, 0.0], [3.2, np.nan, np.inf]])
    np.testing.assert_array_equal(ops.floor(a).numpy(), np.floor(a))
    np.testing.assert_array_equal(ops.ceil(a).numpy(), np.ceil(a))
    np.testing.assert_array_equal(ops.isnan(a).numpy(), np.isnan(a))
    np.testing.assert_array_equal(ops.isfinite(a).numpy(), np.isfinite(a))
    b = np.array([True, False, True])
    c = np.array([True, True, False])
    assert ops.logical_and(b, c).numpy().tolist() == [True, False, False]
    assert ops.logical_not(b).numpy().tolist() == [False, True, False]
    assert ops.all(b).numpy() == np.False_ and ops.any(b).numpy() == np.True_
    assert int(ops.count_nonzero(b)) == 2
    np.testing.assert_array_equal(ops.argsort(np.array([3, 1, 2])).numpy(), [1, 2, 0])
    np.testing.assert_array_equal(ops.mod(np.array([5, 7]), 3).numpy(), [2, 1])
    x = np.array([[0.1, 0.5, 0.4], [0.8, 0.15, 0.05]])
    np.testing.assert_array_equal(ops.in_top_k([2, 2], x, 2).numpy(), [True, False])
    values, indices = ops.top_k(x, 1)
    np.testing.assert_array_equal(indices.numpy(), [[1], [0]])


def test_control_flow():
    assert ops.cond(cr.tensor(True), lambda: 1, lambda: 2) == 1
    assert ops.fori_loop(0, 4, lambda i, v: v + i, 0) == 6
    assert ops.while_loop(lambda i: i < 10, lambda i: i * 2, 1) == 16
    assert ops.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s + i), (0, 0)) == (3, 3)


def test_guide_names_are_callables_in_ops():
    names = ["ones", "zeros", "square", "convert_to_tensor", "shape", "cast", "mean", "sum",
             "sqrt", "exp", "log", "matmul", "softmax", "relu", "sigmoid", "one_hot",
             "argmax", "stop_gradient", "expand_dims", "squeeze", "reshape", "transpose",
             "concatenate", "stack", "abs", "maximum", "minimum", "clip", "where",
             "linspace", "arange", "binary_crossentropy", "categorical_crossentropy",
             "sparse_categorical_crossentropy"]
    missing = [n for n in names if not callable(getattr(ops, n, None))]
    assert not missing


def test_keras_names_do_not_replace_chainrule_ops():
    # cr.* exports only chainrule's own ops; the Keras spellings stay in cr.ops
    assert not set(keras_api.__all__) & set(ops.__all__)
    assert cr.ones is not ops.ones


def test_more_non_differentiable_keras_ops():
    a = np.array([1.0, np.nan, np.inf, -np.inf], "float32")
    out = ops.nan_to_num(a, nan=7.0).numpy()
    assert out[0] == 1 and out[1] == 7 and out[2] == np.finfo("float32").max
    assert out[3] == np.finfo("float32").min
    np.testing.assert_array_equal(ops.trunc(np.array([-1.7, 2.5])).numpy(), [-1.0, 2.0])
    np.testing.assert_array_equal(ops.isclose([1.0, 2.0], [1.0, 2.1]).numpy(), [True, False])
    assert bool(ops.allclose([1.0], [1.0 + 1e-9]).numpy())
    rows, cols = ops.nonzero(np.array([[0, 3], [4, 0]]))
    assert rows.numpy().tolist() == [0, 1] and cols.numpy().tolist() == [1, 0]
    np.testing.assert_allclose(ops.logspace(0, 2, 3).numpy(), [1, 10, 100])
    np.testing.assert_array_equal(ops.multi_hot([[0, 2], [1, 1]], num_classes=3).numpy(),
                                  [[1, 0, 1], [0, 1, 0]])
    assert ops.empty((2, 3)).shape == (2, 3) and ops.empty_like(np.ones((2, 1))).shape == (2, 1)
    np.testing.assert_array_equal(ops.fliplr(np.eye(2)).numpy(), np.fliplr(np.eye(2)))
    assert ops.array([1, 2], dtype="float32").dtype == np.float32
    with pytest.raises(ValueError, match="even"):
        ops.glu(np.ones((2, 3)))
    assert np.isfinite(ops.logaddexp(cr.tensor([1000.0]), cr.tensor([-1000.0])).numpy()).all()
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.tensor([0.0, 4.0], requires_grad=True)
    q = ops.divide_no_nan(x, y)
    np.testing.assert_array_equal(q.numpy(), [0.0, 0.5])       # 0 where dividing by 0
    q.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.25])
    assert np.isfinite(y.grad.numpy()).all() and y.grad.numpy()[0] == 0
