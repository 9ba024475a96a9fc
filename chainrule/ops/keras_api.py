"""The ``keras.ops`` names that Keras programs use, as compositions of chainrule's ops.

``import chainrule as keras`` then ``keras.ops.square(x)``, ``keras.ops.shape(x)``,
``keras.ops.convert_to_tensor(a)``... work with Keras 3's signatures and
defaults (as Keras 3 ``keras/src/ops/numpy.py``, ``keras/src/ops/nn.py``,
``keras/src/ops/core.py``). Each is written with chainrule's differentiable
ops (so gradients come for free) or, where the result has no gradient
(integer results, comparisons, rounding), with NumPy.

These live in ``cr.ops`` only, not at ``cr.*``: ``cr.ones(2, 3)`` keeps
PyTorch's spelling while ``cr.ops.ones((2, 3))`` has Keras'. Names that
chainrule's own ops already provide with Keras' meaning (``sum``, ``mean``,
``softmax``, ``relu``, ``matmul``, ``where``, ``clip``...) are not repeated.

>>> import chainrule as cr
>>> cr.ops.shape(cr.ops.ones((2, 3)))
(2, 3)
>>> cr.ops.square(cr.tensor([1.0, 2.0]))
tensor([1., 4.])
"""
import builtins
import math
import numbers

import numpy as np

from ..tensor import DEFAULT_FLOAT, Tensor, as_tensor
from . import (
    abs,
    astype,
    clip,
    concatenate,
    divide,
    elu,
    exp,
    getitem,
    log,
    log_softmax,
    matmul,
    maximum,
    minimum,
    negative,
    reshape,
    sigmoid,
    softplus,
    sqrt,
    stack,
    tanh,
    transpose,
)
from . import max as _max
from . import one_hot as _one_hot
from . import sum as _sum
from .attention import scaled_dot_product_attention as _sdpa
from .nn import softmax as _softmax
from .normalization import layer_norm as _layer_norm
from .rearrange import repeat as _repeat
from .special import erf as _erf

__all__ = [
    # creation and conversion
    "convert_to_tensor", "convert_to_numpy", "is_tensor", "cast", "shape", "ndim", "size",
    "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "eye", "identity",
    "arange", "linspace", "tri",
    # elementwise math
    "square", "reciprocal", "log1p", "expm1", "log2", "log10", "absolute", "true_divide",
    "floor", "ceil", "round", "floor_divide", "mod", "logical_and", "logical_or",
    "logical_not", "logical_xor", "isnan", "isinf", "isfinite", "stop_gradient",
    # reductions and scans
    "all", "any", "count_nonzero", "average", "norm", "moments",
    # shapes and indexing
    "moveaxis", "ravel", "split", "take_along_axis", "slice",
    "argsort", "in_top_k", "outer", "tensordot",
    # activations (keras.ops / keras.ops.nn)
    "relu6", "silu", "swish", "gelu", "selu", "softsign", "hard_sigmoid", "log_sigmoid",
    "normalize", "hard_silu", "hard_swish", "dot_product_attention", "layer_normalization",
    # losses (elementwise / per-sample, no reduction, as keras.ops)
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    # control flow
    "cond", "fori_loop", "while_loop", "vectorized_map",
]

EPSILON = 1e-7      # Keras' backend.epsilon()


def _t(x):
    return x if isinstance(x, Tensor) else as_tensor(x)


def _array(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _wrap(array):
    return Tensor._wrap(np.asarray(array))


def _shape_tuple(shape):
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _dtype(dtype, default=DEFAULT_FLOAT):
    return np.dtype(default if dtype is None else dtype)


# --------------------------------------------------------------------------
# Creation and conversion
# --------------------------------------------------------------------------
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` (array, list, number or Tensor) as a Tensor, cast to ``dtype`` if given."""
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == np.dtype(dtype) else astype(x, dtype)
    return as_tensor(x, dtype)


def convert_to_numpy(x):
    """A NumPy array with ``x``'s values."""
    return np.array(_array(x))


def is_tensor(x):
    """True for a chainrule Tensor."""
    return isinstance(x, Tensor)


def cast(x, dtype):
    """``x`` cast to ``dtype`` (differentiable between float dtypes)."""
    return astype(_t(x), dtype)


def shape(x):
    """The shape as a tuple of ints (``keras.ops.shape``)."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def ndim(x):
    return len(shape(x))


def size(x):
    return int(math.prod(shape(x)))


def zeros(shape, dtype=None):
    """A tensor of zeros of ``shape`` (a tuple), float32 unless ``dtype``."""
    return _wrap(np.zeros(_shape_tuple(shape), _dtype(dtype)))


def ones(shape, dtype=None):
    return _wrap(np.ones(_shape_tuple(shape), _dtype(dtype)))


def full(shape, fill_value, dtype=None):
    fill = _array(fill_value)
    default = DEFAULT_FLOAT if fill.dtype.kind == "f" or fill.dtype == np.float64 else fill.dtype
    return _wrap(np.full(_shape_tuple(shape), fill, _dtype(dtype, default)))


def zeros_like(x, dtype=None):
    x = _array(x)
    return _wrap(np.zeros(x.shape, _dtype(dtype, x.dtype)))


def ones_like(x, dtype=None):
    x = _array(x)
    return _wrap(np.ones(x.shape, _dtype(dtype, x.dtype)))


def full_like(x, fill_value, dtype=None):
    x = _array(x)
    return _wrap(np.full(x.shape, _array(fill_value), _dtype(dtype, x.dtype)))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803  (Keras' names)
    return _wrap(np.eye(N, M, k, dtype=_dtype(dtype)))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):  # noqa: N803
    return _wrap(np.tri(N, M, k, dtype=_dtype(dtype)))


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in ``[start, stop)``; integers stay integers
    (int32, as Keras infers), floats are float32."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        ints = builtins.all(isinstance(v, numbers.Integral) for v in (start, stop, step))
        dtype = np.int32 if ints else DEFAULT_FLOAT
    return _wrap(np.arange(_array(start), _array(stop), _array(step), dtype=dtype))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (NumPy's and
    Keras' ``linspace``; float32 unless ``dtype``)."""
    values, step = np.linspace(_array(start), _array(stop), int(num), endpoint=endpoint,
                               retstep=True, axis=axis)
    out = _wrap(values.astype(_dtype(dtype), copy=False))
    return (out, step) if retstep else out


# --------------------------------------------------------------------------
# Elementwise math
# --------------------------------------------------------------------------
def square(x):
    """x²."""
    x = _t(x)
    return x * x


def reciprocal(x):
    return 1 / _t(x)


def log1p(x):
    """log(1 + x)."""
    return log(1 + _t(x))


def expm1(x):
    """exp(x) − 1."""
    return exp(_t(x)) - 1


def log2(x):
    return log(_t(x)) / math.log(2)


def log10(x):
    return log(_t(x)) / math.log(10)


absolute = abs
true_divide = divide


def _no_grad(fn, *args):
    return _wrap(fn(*[_array(a) for a in args]))


def floor(x):
    """Rounding has zero derivative almost everywhere: computed without a graph."""
    return _no_grad(np.floor, x)


def ceil(x):
    return _no_grad(np.ceil, x)


def round(x, decimals=0):  # noqa: A001  (Keras' name)
    return _wrap(np.round(_array(x), decimals))


def floor_divide(x1, x2):
    return _no_grad(np.floor_divide, x1, x2)


def mod(x1, x2):
    return _no_grad(np.mod, x1, x2)


def logical_and(x1, x2):
    return _no_grad(np.logical_and, x1, x2)


def logical_or(x1, x2):
    return _no_grad(np.logical_or, x1, x2)


def logical_xor(x1, x2):
    return _no_grad(np.logical_xor, x1, x2)


def logical_not(x):
    return _no_grad(np.logical_not, x)


def isnan(x):
    return _no_grad(np.isnan, x)


def isinf(x):
    return _no_grad(np.isinf, x)


def isfinite(x):
    return _no_grad(np.isfinite, x)


def stop_gradient(variable):
    """The same values, cut from the graph: no gradient flows through it."""
    return _t(variable).detach()


# --------------------------------------------------------------------------
# Reductions and scans
# --------------------------------------------------------------------------
def all(x, axis=None, keepdims=False):  # noqa: A001
    return _wrap(np.all(_array(x), axis=axis, keepdims=keepdims))


def any(x, axis=None, keepdims=False):  # noqa: A001
    return _wrap(np.any(_array(x), axis=axis, keepdims=keepdims))


def count_nonzero(x, axis=None):
    return _wrap(np.count_nonzero(_array(x), axis=axis))


def average(x, axis=None, weights=None):
    """The mean, or the weighted mean Σ w·x / Σ w along ``axis``."""
    x = _t(x)
    if weights is None:
        return _sum(x, axis) / (x.size if axis is None else x.shape[axis])
    w = _t(weights)
    if axis is not None and w.ndim == 1 and x.ndim > 1:
        shape_ = [1] * x.ndim
        shape_[axis] = w.shape[0]
        w = reshape(w, shape_)
    return _sum(x * w, axis) / _sum(w * _wrap(np.ones(x.shape, w.dtype)), axis)


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002  (Keras' name)
    """The vector 2-norm (or ``ord`` = 1, inf); the Frobenius norm of a matrix
    when ``axis`` is None on 2-D input (NumPy)."""
    x = _t(x)
    if ord in (None, 2, "fro", "euclidean") and (ord != 2 or axis is not None or x.ndim == 1):
        return sqrt(_sum(x * x, axis, keepdims))
    if ord == 1:
        return _sum(abs(x), axis, keepdims)
    if ord in (np.inf, "inf"):
        return _max(abs(x), axis, keepdims)
    raise ValueError(f"norm: ord={ord!r} is not supported here; use None/2/'fro', 1 or inf")


def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over ``axes`` (``keras.ops.moments``)."""
    x = _t(x)
    mean_ = _sum(x, axes, True) / math.prod(x.shape[a] for a in _axes(axes, x.ndim))
    centered = x - mean_
    variance = _sum(centered * centered, axes, keepdims) / \
        math.prod(x.shape[a] for a in _axes(axes, x.ndim))
    if not keepdims:
        mean_ = reshape(mean_, variance.shape)
    return mean_, variance


def _axes(axes, ndim):
    axes = (axes,) if isinstance(axes, numbers.Integral) else tuple(axes)
    return [a % ndim for a in axes]


# --------------------------------------------------------------------------
# Shapes and indexing
# --------------------------------------------------------------------------
def moveaxis(x, source, destination):
    x = _t(x)
    order = [a for a in range(x.ndim) if a != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return transpose(x, tuple(order))


def ravel(x):
    return reshape(_t(x), (-1,))


def split(x, indices_or_sections, axis=0):
    """Pieces of ``x`` along ``axis`` (NumPy's ``split``)."""
    x = _t(x)
    n = x.shape[axis]
    if isinstance(indices_or_sections, numbers.Integral):
        if n % indices_or_sections:
            raise ValueError(f"split: axis {axis} of size {n} does not divide into "
                             f"{indices_or_sections} equal sections")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    index = [builtins.slice(None)] * x.ndim
    pieces = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        index[axis] = builtins.slice(lo, hi)
        pieces.append(x[tuple(index)])
    return pieces


def take_along_axis(x, indices, axis=None):
    """Entries of ``x`` picked by ``indices`` along ``axis`` (NumPy's
    ``take_along_axis``), differentiable in ``x``."""
    x = _t(x)
    indices = _array(indices).astype(np.intp)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis %= x.ndim
    grids = np.ogrid[tuple(builtins.slice(n) for n in indices.shape)]
    index = tuple(indices if a == axis else grids[a] for a in range(x.ndim))
    return getitem(x, index)


def slice(inputs, start_indices, shape):  # noqa: A001  (Keras' name)
    """The block of ``shape`` starting at ``start_indices`` (``keras.ops.slice``)."""
    inputs = _t(inputs)
    return inputs[tuple(builtins.slice(int(s), int(s) + int(n))
                        for s, n in zip(_array(start_indices), shape))]


def argsort(x, axis=-1):
    return _wrap(np.argsort(_array(x), axis=axis, kind="stable"))


def in_top_k(targets, predictions, k):
    """Whether each target class is among the ``k`` largest predictions."""
    predictions = _array(predictions)
    targets = _array(targets).astype(np.intp).reshape(-1)
    target_scores = predictions[np.arange(len(targets)), targets]
    return _wrap((predictions > target_scores[:, None]).sum(axis=-1) < k)


def outer(x1, x2):
    x1, x2 = _t(x1), _t(x2)
    return reshape(x1, (-1, 1)) * reshape(x2, (1, -1))


def tensordot(x1, x2, axes=2):
    """Sum of products over the last ``axes`` axes of x1 and first of x2 (or
    the pairs of axes given)."""
    x1, x2 = _t(x1), _t(x2)
    if isinstance(axes, numbers.Integral):
        a1, a2 = list(range(x1.ndim - axes, x1.ndim)), list(range(axes))
    else:
        a1, a2 = ([a % x1.ndim for a in np.atleast_1d(axes[0])],
                  [a % x2.ndim for a in np.atleast_1d(axes[1])])
    free1 = [a for a in range(x1.ndim) if a not in a1]
    free2 = [a for a in range(x2.ndim) if a not in a2]
    left = reshape(transpose(x1, tuple(free1 + a1)),
                   (math.prod(x1.shape[a] for a in free1), -1))
    right = reshape(transpose(x2, tuple(a2 + free2)),
                    (-1, math.prod(x2.shape[a] for a in free2)))
    return reshape(matmul(left, right),
                   tuple(x1.shape[a] for a in free1) + tuple(x2.shape[a] for a in free2))


# --------------------------------------------------------------------------
# Activations (keras.ops.nn)
# --------------------------------------------------------------------------
def relu6(x):
    """min(max(x, 0), 6)."""
    return clip(_t(x), 0, 6)


def silu(x):
    """x · sigmoid(x) (also called swish)."""
    x = _t(x)
    return x * sigmoid(x)


swish = silu


def gelu(x, approximate=True):
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (``approximate=True``,
    Keras' default for ``keras.ops.gelu``), else 0.5·x·(1 + erf(x/√2))."""
    x = _t(x)
    if not approximate:
        return 0.5 * x * (1 + _erf(x * (1 / math.sqrt(2))))
    return 0.5 * x * (1 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))


def selu(x):
    """scale · elu(x, alpha) with Keras' constants."""
    return 1.0507009873554805 * elu(_t(x), 1.6732632423543772)


def softsign(x):
    x = _t(x)
    return x / (1 + abs(x))


def hard_sigmoid(x):
    """relu6(x + 3) / 6 (Keras 3)."""
    return relu6(_t(x) + 3) / 6


def log_sigmoid(x):
    """log(sigmoid(x)) = −softplus(−x), finite for large |x|."""
    return negative(softplus(negative(_t(x))))


def hard_silu(x):
    """x · hard_sigmoid(x) (``keras.ops.hard_silu``, alias ``hard_swish``)."""
    x = _t(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """(x - mean)/sqrt(var + epsilon)·gamma + beta over ``axis``, the fused
    ``layer_norm`` op; ``epsilon`` defaults to 1e-7 (Keras 3
    ``keras/src/ops/nn.py``; the LayerNormalization layer's is 1e-3)."""
    if kwargs.get("rms_scaling"):
        raise NotImplementedError("layer_normalization(rms_scaling=True) is deprecated in "
                                  "Keras; use the LayerNormalization layer's rms_scaling")
    x = _t(x)
    axes = [axis] if isinstance(axis, numbers.Integral) else sorted(axis)
    axes = [a % x.ndim for a in axes]
    shape = tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))

    def broadcast(v):
        if v is None or axes == [x.ndim - 1]:
            return v
        return reshape(_t(v), shape)
    return _layer_norm(x, broadcast(gamma), broadcast(beta), tuple(axes),
                       EPSILON if epsilon is None else epsilon)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """softmax(scale·q kᵀ + bias + mask) v in Keras' layout: query (B, T, N,
    H), key and value (B, S, K, H) with K dividing N (grouped-query attention
    when K < N); ``mask`` booleans broadcastable to (B, N, T, S), True =
    attend; ``is_causal`` adds the lower-triangular mask (as Keras 3
    ``keras/src/ops/nn.py``). Without ``bias`` it is the fused
    ``scaled_dot_product_attention`` op."""
    if attn_logits_soft_cap is not None:
        raise NotImplementedError("dot_product_attention: attn_logits_soft_cap is not "
                                  "supported")
    if bias is not None and mask is not None:
        raise ValueError("dot_product_attention: give only one of bias and mask (as Keras)")
    q, k, v = (transpose(_t(t), (0, 2, 1, 3)) for t in (query, key, value))   # heads first
    heads, kv_heads = q.shape[1], k.shape[1]
    if heads != kv_heads:
        if heads % kv_heads:
            raise ValueError(f"dot_product_attention: the query's {heads} heads must be a "
                             f"multiple of the key's {kv_heads} heads")
        k, v = _repeat(k, heads // kv_heads, axis=1), _repeat(v, heads // kv_heads, axis=1)
    keep = None if mask is None else _array(mask).astype(bool)
    if is_causal:
        causal = np.tril(np.ones((q.shape[2], k.shape[2]), bool))
        keep = causal if keep is None else keep & causal
    if scale is None:
        scale = 1 / math.sqrt(q.shape[-1])
    if bias is None:
        out = _sdpa(q, k, v, keep, scale)
    else:
        logits = matmul(q, transpose(k, (0, 1, 3, 2))) * scale + _t(bias)
        if keep is not None:
            logits = logits + _wrap(np.where(keep, 0, -1e9).astype(logits.dtype))
        out = matmul(_softmax(logits, axis=-1), v)
    return transpose(out, (0, 2, 1, 3))


def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its ``order``-norm along ``axis``."""
    x = _t(x)
    eps = EPSILON if epsilon is None else epsilon
    return x / maximum(norm(x, ord=None if order == 2 else order, axis=axis, keepdims=True),
                       eps)


# --------------------------------------------------------------------------
# Losses (keras.ops.nn: no reduction over the batch)
# --------------------------------------------------------------------------
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise −(t·log(o) + (1−t)·log(1−o)); ``output`` clipped to
    [ε, 1−ε] (ε = 1e-7), or from logits as max(x,0) − x·t + log(1+e^−|x|)."""
    target, output = _t(target), _t(output)
    if target.dtype != output.dtype:
        target = astype(target, output.dtype)
    if from_logits:
        return maximum(output, 0) - output * target + softplus(negative(abs(output)))
    output = clip(output, EPSILON, 1 - EPSILON)
    return negative(target * log(output) + (1 - target) * log(1 - output))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """−Σ t·log(o) along ``axis``; probabilities are rescaled to sum to 1 and
    clipped to [ε, 1−ε]; logits go through log_softmax."""
    target, output = _t(target), _t(output)
    if target.dtype != output.dtype:
        target = astype(target, output.dtype)
    if target.shape != output.shape:
        raise ValueError(f"categorical_crossentropy: target shape {target.shape} and "
                         f"output shape {output.shape} must match (one-hot targets)")
    if from_logits:
        log_probs = log_softmax(output, axis=axis)
    else:
        output = output / _sum(output, axis, True)
        log_probs = log(clip(output, EPSILON, 1 - EPSILON))
    return negative(_sum(target * log_probs, axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Categorical cross-entropy with integer class ``target``s."""
    output = _t(output)
    labels = _array(target)
    if labels.ndim == output.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    hot = _one_hot(labels.astype(np.int64), output.shape[axis], dtype=output.dtype)
    if axis not in (-1, output.ndim - 1):
        hot = moveaxis(hot, -1, axis)
    return categorical_crossentropy(hot, output, from_logits=from_logits, axis=axis)


# --------------------------------------------------------------------------
# Control flow (run eagerly: Python's own)
# --------------------------------------------------------------------------
def cond(pred, true_fn, false_fn):
    return true_fn() if bool(_array(pred)) else false_fn()


def fori_loop(lower, upper, body_fun, init_val):
    value = init_val
    for i in range(int(lower), int(upper)):
        value = body_fun(i, value)
    return value


def while_loop(cond, body, loop_vars, maximum_iterations=None):  # noqa: A002
    single = not isinstance(loop_vars, (list, tuple))
    state = (loop_vars,) if single else tuple(loop_vars)
    steps = 0
    while bool(_array(cond(*state))) and (maximum_iterations is None or
                                           steps < maximum_iterations):
        state = body(*state)
        state = (state,) if single else tuple(state)
        steps += 1
    return state[0] if single else state


def vectorized_map(function, elements):
    """``function`` applied to each slice along the first axis, results stacked."""
    return stack([function(e) for e in _t(elements)])

