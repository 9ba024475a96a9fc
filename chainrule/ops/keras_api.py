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
from __future__ import annotations

import builtins
import math
import numbers
from typing import Any, Callable, Sequence

import numpy as np

from ..tensor import DEFAULT_FLOAT, Tensor, as_tensor
from ..typing import Axis, DTypeLike, ShapeLike, TensorLike
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
from .matmul import matmul  # (to mypy, `from . import matmul` is the submodule)
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


def _t(x: TensorLike) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _wrap(array: Any) -> Tensor:
    return Tensor._wrap(np.asarray(array))


def _shape_tuple(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _dtype(dtype: DTypeLike | None, default: DTypeLike = DEFAULT_FLOAT) -> np.dtype:
    return np.dtype(default if dtype is None else dtype)


# --------------------------------------------------------------------------
# Creation and conversion
# --------------------------------------------------------------------------
def convert_to_tensor(x: TensorLike, dtype: DTypeLike | None = None, sparse: bool | None = None,
                      ragged: bool | None = None) -> Tensor:
    """``x`` (array, list, number or Tensor) as a Tensor, cast to ``dtype`` if given.

    Args:
        x: an array, a list, a number or a tensor.
        dtype: the result's dtype (None: as Keras infers it).
        sparse: Keras' sparse flag (dense tensors only here).
        ragged: Keras' ragged flag (dense tensors only here).

    Returns:
        A new tensor.
    """
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == np.dtype(dtype) else astype(x, dtype)
    return as_tensor(x, dtype)


def convert_to_numpy(x: TensorLike) -> np.ndarray:
    """A NumPy array with ``x``'s values.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new NumPy array.
    """
    return np.array(_array(x))


def is_tensor(x: TensorLike) -> bool:
    """True for a chainrule Tensor.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        True for a chainrule Tensor.
    """
    return isinstance(x, Tensor)


def cast(x: TensorLike, dtype: DTypeLike) -> Tensor:
    """``x`` cast to ``dtype`` (differentiable between float dtypes).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    return astype(_t(x), dtype)


def shape(x: TensorLike) -> tuple[int, ...]:
    """The shape as a tuple of ints (``keras.ops.shape``).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A tuple of ints.
    """
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def ndim(x: TensorLike) -> int:
    """The number of dimensions of ``x``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        An int.
    """
    return len(shape(x))


def size(x: TensorLike) -> int:
    """The number of entries of ``x``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        An int.
    """
    return int(math.prod(shape(x)))


def zeros(shape: ShapeLike, dtype: DTypeLike | None = None) -> Tensor:
    """A tensor of zeros of ``shape`` (a tuple), float32 unless ``dtype``.

    Args:
        shape: the shape (an int or a tuple).
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    return _wrap(np.zeros(_shape_tuple(shape), _dtype(dtype)))


def ones(shape: ShapeLike, dtype: DTypeLike | None = None) -> Tensor:
    """A tensor of ones of ``shape``, float32 unless ``dtype``.

    Args:
        shape: the shape (an int or a tuple).
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    return _wrap(np.ones(_shape_tuple(shape), _dtype(dtype)))


def full(shape: ShapeLike, fill_value: TensorLike, dtype: DTypeLike | None = None) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``.

    Args:
        shape: the shape (an int or a tuple).
        fill_value: the value of every entry.
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    fill = _array(fill_value)
    default = DEFAULT_FLOAT if fill.dtype.kind == "f" or fill.dtype == np.float64 else fill.dtype
    return _wrap(np.full(_shape_tuple(shape), fill, _dtype(dtype, default)))


def zeros_like(x: TensorLike, dtype: DTypeLike | None = None) -> Tensor:
    """Zeros of ``x``'s shape.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    x = _array(x)
    return _wrap(np.zeros(x.shape, _dtype(dtype, x.dtype)))


def ones_like(x: TensorLike, dtype: DTypeLike | None = None) -> Tensor:
    """Ones of ``x``'s shape.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    x = _array(x)
    return _wrap(np.ones(x.shape, _dtype(dtype, x.dtype)))


def full_like(x: TensorLike, fill_value: TensorLike, dtype: DTypeLike | None = None) -> Tensor:
    """``fill_value`` in ``x``'s shape.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        fill_value: the value of every entry.
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    x = _array(x)
    return _wrap(np.full(x.shape, _array(fill_value), _dtype(dtype, x.dtype)))


def eye(N: int, M: int | None = None, k: int = 0,  # noqa: N803  (Keras' names)
        dtype: DTypeLike | None = None) -> Tensor:
    """A 2-D tensor with ones on diagonal ``k``.

    Args:
        N: the number of rows.
        M: the number of columns (None: ``N``).
        k: the diagonal of ones (0 the main one).
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    return _wrap(np.eye(N, M, k, dtype=_dtype(dtype)))


def identity(n: int, dtype: DTypeLike | None = None) -> Tensor:
    """The ``n`` x ``n`` identity matrix.

    Args:
        n: the size.
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    return eye(n, dtype=dtype)


def tri(N: int, M: int | None = None, k: int = 0,  # noqa: N803
        dtype: DTypeLike | None = None) -> Tensor:
    """Ones at and below diagonal ``k``, zeros above.

    Args:
        N: the number of rows.
        M: the number of columns (None: ``N``).
        k: the diagonal up to which the ones go.
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    return _wrap(np.tri(N, M, k, dtype=_dtype(dtype)))


def arange(start: float, stop: float | None = None, step: float = 1,
           dtype: DTypeLike | None = None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``; integers stay integers
    (int32, as Keras infers), floats are float32.

    Args:
        start: the first value (or the end, from 0, when ``stop`` is None).
        stop: the end.
        step: the spacing.
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        ints = builtins.all(isinstance(v, numbers.Integral) for v in (start, stop, step))
        dtype = np.int32 if ints else DEFAULT_FLOAT
    return _wrap(np.arange(_array(start), _array(stop), _array(step), dtype=dtype))  # type: ignore[call-overload]


def linspace(start: TensorLike, stop: TensorLike, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: DTypeLike | None = None,
             axis: int = 0) -> Tensor | tuple[Tensor, Any]:
    """``num`` evenly spaced values from ``start`` to ``stop`` (NumPy's and
    Keras' ``linspace``; float32 unless ``dtype``).

    Args:
        start: the first value.
        stop: the last value (or the end with ``endpoint=False``).
        num: how many values.
        endpoint: include ``stop``.
        retstep: also return the spacing.
        dtype: the result's dtype (None: as Keras infers it).
        axis: the axis of the values in the result.

    Returns:
        A tensor, or ``(tensor, step)`` with ``retstep``.
    """
    values, step = np.linspace(_array(start), _array(stop), int(num), endpoint=endpoint,
                               retstep=True, axis=axis)
    out = _wrap(values.astype(_dtype(dtype), copy=False))
    return (out, step) if retstep else out


# --------------------------------------------------------------------------
# Elementwise math
# --------------------------------------------------------------------------
def square(x: TensorLike) -> Tensor:
    """x².

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return x * x


def reciprocal(x: TensorLike) -> Tensor:
    """1/x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return 1 / _t(x)


def log1p(x: TensorLike) -> Tensor:
    """log(1 + x).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return log(1 + _t(x))


def expm1(x: TensorLike) -> Tensor:
    """exp(x) − 1.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return exp(_t(x)) - 1


def log2(x: TensorLike) -> Tensor:
    """log₂ x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return log(_t(x)) / math.log(2)


def log10(x: TensorLike) -> Tensor:
    """log₁₀ x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return log(_t(x)) / math.log(10)


absolute = abs
true_divide = divide


def _no_grad(fn: Callable[..., Any], *args: Any) -> Tensor:
    return _wrap(fn(*[_array(a) for a in args]))


def floor(x: TensorLike) -> Tensor:
    """Rounding has zero derivative almost everywhere: computed without a graph.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return _no_grad(np.floor, x)


def ceil(x: TensorLike) -> Tensor:
    """Rounded up (no gradient, as rounding).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return _no_grad(np.ceil, x)


def round(x: TensorLike, decimals: int = 0) -> Tensor:  # noqa: A001  (Keras' name)
    """Rounded to ``decimals`` (no gradient, as rounding).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        decimals: how many decimals to keep.

    Returns:
        A new tensor.
    """
    return _wrap(np.round(_array(x), decimals))


def floor_divide(x1: TensorLike, x2: TensorLike) -> Tensor:
    """⌊x1 / x2⌋ (no gradient).

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    return _no_grad(np.floor_divide, x1, x2)


def mod(x1: TensorLike, x2: TensorLike) -> Tensor:
    """x1 mod x2 (no gradient).

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    return _no_grad(np.mod, x1, x2)


def logical_and(x1: TensorLike, x2: TensorLike) -> Tensor:
    """x1 and x2, elementwise (booleans).

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    return _no_grad(np.logical_and, x1, x2)


def logical_or(x1: TensorLike, x2: TensorLike) -> Tensor:
    """x1 or x2, elementwise (booleans).

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    return _no_grad(np.logical_or, x1, x2)


def logical_xor(x1: TensorLike, x2: TensorLike) -> Tensor:
    """x1 xor x2, elementwise (booleans).

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    return _no_grad(np.logical_xor, x1, x2)


def logical_not(x: TensorLike) -> Tensor:
    """not x, elementwise (booleans).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return _no_grad(np.logical_not, x)


def isnan(x: TensorLike) -> Tensor:
    """Where ``x`` is NaN (booleans).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return _no_grad(np.isnan, x)


def isinf(x: TensorLike) -> Tensor:
    """Where ``x`` is ±inf (booleans).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return _no_grad(np.isinf, x)


def isfinite(x: TensorLike) -> Tensor:
    """Where ``x`` is finite (booleans).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return _no_grad(np.isfinite, x)


def stop_gradient(variable: TensorLike) -> Tensor:
    """The same values, cut from the graph: no gradient flows through it.

    Args:
        variable: a tensor.

    Returns:
        A new tensor.
    """
    return _t(variable).detach()


# --------------------------------------------------------------------------
# Reductions and scans
# --------------------------------------------------------------------------
def all(x: TensorLike, axis: int | tuple[int, ...] | None = None,  # noqa: A001
        keepdims: bool = False) -> Tensor:
    """Whether every entry is true along ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis (or axes) to work along.
        keepdims: keep the reduced axes, with length 1.

    Returns:
        A new tensor.
    """
    return _wrap(np.all(_array(x), axis=axis, keepdims=keepdims))


def any(x: TensorLike, axis: int | tuple[int, ...] | None = None,  # noqa: A001
        keepdims: bool = False) -> Tensor:
    """Whether some entry is true along ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis (or axes) to work along.
        keepdims: keep the reduced axes, with length 1.

    Returns:
        A new tensor.
    """
    return _wrap(np.any(_array(x), axis=axis, keepdims=keepdims))


def count_nonzero(x: TensorLike, axis: Axis = None) -> Tensor:
    """How many entries are nonzero along ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis (or axes) to count along (None: all).

    Returns:
        A new tensor.
    """
    return _wrap(np.count_nonzero(_array(x), axis=axis))


def average(x: TensorLike, axis: int | None = None, weights: TensorLike | None = None) -> Tensor:
    """The mean, or the weighted mean Σ w·x / Σ w along ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis (None: all).
        weights: one weight per entry along ``axis`` (None: the plain mean).

    Returns:
        A new tensor.
    """
    x = _t(x)
    if weights is None:
        return _sum(x, axis) / (x.size if axis is None else x.shape[axis])
    w = _t(weights)
    if axis is not None and w.ndim == 1 and x.ndim > 1:
        shape_ = [1] * x.ndim
        shape_[axis] = w.shape[0]
        w = reshape(w, shape_)
    return _sum(x * w, axis) / _sum(w * _wrap(np.ones(x.shape, w.dtype)), axis)


def norm(x: TensorLike, ord: Any = None, axis: Axis = None,  # noqa: A002  (Keras' name)
         keepdims: bool = False) -> Tensor:
    """The vector 2-norm (or ``ord`` = 1, inf); the Frobenius norm of a matrix
    when ``axis`` is None on 2-D input (NumPy).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        ord: the order of the norm (None: 2).
        axis: the axis (or axes) to work along.
        keepdims: keep the reduced axes, with length 1.

    Returns:
        A new tensor.
    """
    x = _t(x)
    if ord in (None, 2, "fro", "euclidean") and (ord != 2 or axis is not None or x.ndim == 1):
        return sqrt(_sum(x * x, axis, keepdims))
    if ord == 1:
        return _sum(abs(x), axis, keepdims)
    if ord in (np.inf, "inf"):
        return _max(abs(x), axis, keepdims)
    raise ValueError(f"norm: ord={ord!r} is not supported here; use None/2/'fro', 1 or inf")


def moments(x: TensorLike, axes: Axis, keepdims: bool = False,
            synchronized: bool = False) -> tuple[Tensor, Tensor]:
    """(mean, variance) over ``axes`` (``keras.ops.moments``).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axes: the axes to reduce.
        keepdims: keep the reduced axes, with length 1.
        synchronized: Keras' flag for distributed statistics (ignored).

    Returns:
        ``(mean, variance)``.
    """
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
def moveaxis(x: TensorLike, source: int, destination: int) -> Tensor:
    """``x`` with axes moved (NumPy's ``moveaxis``).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        source: the axes to move.
        destination: where they go.

    Returns:
        A new tensor.
    """
    x = _t(x)
    order = [a for a in range(x.ndim) if a != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return transpose(x, tuple(order))


def ravel(x: TensorLike) -> Tensor:
    """``x`` flattened to 1-D.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return reshape(_t(x), (-1,))


def split(x: TensorLike, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """Pieces of ``x`` along ``axis`` (NumPy's ``split``).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        indices_or_sections: a number of equal sections, or the indices where to split.
        axis: the axis to split along.

    Returns:
        A list of tensors.
    """
    x = _t(x)
    n = x.shape[axis]
    if isinstance(indices_or_sections, numbers.Integral):
        if n % indices_or_sections:
            raise ValueError(f"split: axis {axis} of size {n} does not divide into "
                             f"{indices_or_sections} equal sections")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))  # type: ignore[call-overload]  # (int is a numbers.Integral)
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]  # type: ignore[union-attr]
    index = [builtins.slice(None)] * x.ndim
    pieces = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        index[axis] = builtins.slice(lo, hi)
        pieces.append(x[tuple(index)])
    return pieces


def take_along_axis(x: TensorLike, indices: TensorLike, axis: int | None = None) -> Tensor:
    """Entries of ``x`` picked by ``indices`` along ``axis`` (NumPy's
    ``take_along_axis``), differentiable in ``x``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        indices: integer indices.
        axis: the axis (None: the flattened tensor).

    Returns:
        A new tensor.
    """
    x = _t(x)
    indices = _array(indices).astype(np.intp)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis %= x.ndim
    grids = np.ogrid[tuple(builtins.slice(n) for n in indices.shape)]
    index = tuple(indices if a == axis else grids[a] for a in range(x.ndim))
    return getitem(x, index)


def slice(inputs: TensorLike, start_indices: Sequence[int],  # noqa: A001  (Keras' name)
          shape: Sequence[int]) -> Tensor:
    """The block of ``shape`` starting at ``start_indices`` (``keras.ops.slice``).

    Args:
        inputs: a tensor, or anything ``cr.tensor`` takes.
        start_indices: where the block starts, one index per axis.
        shape: the block's shape.

    Returns:
        A new tensor.
    """
    inputs = _t(inputs)
    return inputs[tuple(builtins.slice(int(s), int(s) + int(n))
                        for s, n in zip(_array(start_indices), shape))]


def argsort(x: TensorLike, axis: int | None = -1) -> Tensor:
    """The indices that sort ``x`` along ``axis`` (no gradient).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis (or axes) to work along.

    Returns:
        A new tensor.
    """
    return _wrap(np.argsort(_array(x), axis=axis, kind="stable"))


def in_top_k(targets: TensorLike, predictions: TensorLike, k: int) -> Tensor:
    """Whether each target class is among the ``k`` largest predictions.

    Args:
        targets: the target classes (integers).
        predictions: the scores, (batch, classes).
        k: how many of the largest count.

    Returns:
        A new tensor.
    """
    predictions = _array(predictions)
    targets = _array(targets).astype(np.intp).reshape(-1)
    target_scores = predictions[np.arange(len(targets)), targets]
    return _wrap((predictions > target_scores[:, None]).sum(axis=-1) < k)


def outer(x1: TensorLike, x2: TensorLike) -> Tensor:
    """The outer product of the flattened ``x1`` and ``x2``.

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    x1, x2 = _t(x1), _t(x2)
    return reshape(x1, (-1, 1)) * reshape(x2, (1, -1))


def tensordot(x1: TensorLike, x2: TensorLike, axes: int | Sequence[Any] = 2) -> Tensor:
    """Sum of products over the last ``axes`` axes of x1 and first of x2 (or
    the pairs of axes given).

    Args:
        x1: the first operand.
        x2: the second operand.
        axes: an int (the last ``axes`` of x1 with the first of x2) or two lists of axes.

    Returns:
        A new tensor.
    """
    x1, x2 = _t(x1), _t(x2)
    if isinstance(axes, numbers.Integral):
        a1, a2 = list(range(x1.ndim - axes, x1.ndim)), list(range(axes))  # type: ignore[call-overload,operator]
    else:
        a1, a2 = ([a % x1.ndim for a in np.atleast_1d(axes[0])],  # type: ignore[index]
                  [a % x2.ndim for a in np.atleast_1d(axes[1])])  # type: ignore[index]
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
def relu6(x: TensorLike) -> Tensor:
    """min(max(x, 0), 6).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return clip(_t(x), 0, 6)


def silu(x: TensorLike) -> Tensor:
    """x · sigmoid(x) (also called swish).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return x * sigmoid(x)


swish = silu


def gelu(x: TensorLike, approximate: bool = True) -> Tensor:
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (``approximate=True``,
    Keras' default for ``keras.ops.gelu``), else 0.5·x·(1 + erf(x/√2)).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        approximate: use the tanh approximation.

    Returns:
        A new tensor.
    """
    x = _t(x)
    if not approximate:
        return 0.5 * x * (1 + _erf(x * (1 / math.sqrt(2))))
    return 0.5 * x * (1 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))


def selu(x: TensorLike) -> Tensor:
    """scale · elu(x, alpha) with Keras' constants.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return 1.0507009873554805 * elu(_t(x), 1.6732632423543772)


def softsign(x: TensorLike) -> Tensor:
    """x / (1 + |x|).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return x / (1 + abs(x))


def hard_sigmoid(x: TensorLike) -> Tensor:
    """relu6(x + 3) / 6 (Keras 3).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return relu6(_t(x) + 3) / 6


def log_sigmoid(x: TensorLike) -> Tensor:
    """log(sigmoid(x)) = −softplus(−x), finite for large |x|.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return negative(softplus(negative(_t(x))))


def hard_silu(x: TensorLike) -> Tensor:
    """x · hard_sigmoid(x) (``keras.ops.hard_silu``, alias ``hard_swish``).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def layer_normalization(x: TensorLike, gamma: TensorLike | None = None,
                        beta: TensorLike | None = None, axis: int = -1,
                        epsilon: float | None = None, **kwargs: Any) -> Tensor:
    """(x - mean)/sqrt(var + epsilon)·gamma + beta over ``axis``, the fused
    ``layer_norm`` op; ``epsilon`` defaults to 1e-7 (Keras 3
    ``keras/src/ops/nn.py``; the LayerNormalization layer's is 1e-3).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        gamma: the scale (None: 1).
        beta: the offset (None: 0).
        axis: the axis (or axes) to work along.
        epsilon: added for numerical stability (None: Keras' default).
        **kwargs: Keras' other arguments (accepted and ignored).

    Returns:
        A new tensor.
    """
    if kwargs.get("rms_scaling"):
        raise NotImplementedError("layer_normalization(rms_scaling=True) is deprecated in "
                                  "Keras; use the LayerNormalization layer's rms_scaling")
    x = _t(x)
    axes = [axis] if isinstance(axis, numbers.Integral) else sorted(axis)  # type: ignore[call-overload]
    axes = [a % x.ndim for a in axes]
    shape = tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))

    def broadcast(v):
        if v is None or axes == [x.ndim - 1]:
            return v
        return reshape(_t(v), shape)
    return _layer_norm(x, broadcast(gamma), broadcast(beta), tuple(axes),
                       EPSILON if epsilon is None else epsilon)


def dot_product_attention(query: TensorLike, key: TensorLike, value: TensorLike,
                          bias: TensorLike | None = None, mask: TensorLike | None = None,
                          scale: float | None = None, is_causal: bool = False,
                          flash_attention: bool | None = None,
                          attn_logits_soft_cap: float | None = None) -> Tensor:
    """softmax(scale·q kᵀ + bias + mask) v in Keras' layout: query (B, T, N,
    H), key and value (B, S, K, H) with K dividing N (grouped-query attention
    when K < N); ``mask`` booleans broadcastable to (B, N, T, S), True =
    attend; ``is_causal`` adds the lower-triangular mask (as Keras 3
    ``keras/src/ops/nn.py``). Without ``bias`` it is the fused
    ``scaled_dot_product_attention`` op.

    Args:
        query: the queries, (batch, Tq, heads, d).
        key: the keys, (batch, Tk, heads, d).
        value: the values, (batch, Tk, heads, dv).
        bias: added to the scores, or None.
        mask: a boolean mask: True where a query may attend, or None.
        scale: the factor on the scores (None: 1/√d).
        is_causal: mask out the future (a lower-triangular mask).
        flash_attention: Keras' flag (ignored).
        attn_logits_soft_cap: Keras' soft cap of the scores (must be None here).

    Returns:
        A new tensor.
    """
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


def normalize(x: TensorLike, axis: int = -1, order: float = 2,
              epsilon: float | None = None) -> Tensor:
    """``x`` divided by its ``order``-norm along ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis along which the norm is taken.
        order: the order of the norm.
        epsilon: added for numerical stability (None: Keras' default).

    Returns:
        A new tensor.
    """
    x = _t(x)
    eps = EPSILON if epsilon is None else epsilon
    return x / maximum(norm(x, ord=None if order == 2 else order, axis=axis, keepdims=True),
                       eps)


# --------------------------------------------------------------------------
# Losses (keras.ops.nn: no reduction over the batch)
# --------------------------------------------------------------------------
def binary_crossentropy(target: TensorLike, output: TensorLike,
                        from_logits: bool = False) -> Tensor:
    """Elementwise −(t·log(o) + (1−t)·log(1−o)); ``output`` clipped to
    [ε, 1−ε] (ε = 1e-7), or from logits as max(x,0) − x·t + log(1+e^−|x|).

    Args:
        target: the targets.
        output: the predictions (probabilities, or logits with ``from_logits``).
        from_logits: whether ``output`` holds logits.

    Returns:
        A new tensor.
    """
    target, output = _t(target), _t(output)
    if target.dtype != output.dtype:
        target = astype(target, output.dtype)
    if from_logits:
        return maximum(output, 0) - output * target + softplus(negative(abs(output)))
    output = clip(output, EPSILON, 1 - EPSILON)
    return negative(target * log(output) + (1 - target) * log(1 - output))


def categorical_crossentropy(target: TensorLike, output: TensorLike, from_logits: bool = False,
                             axis: int = -1) -> Tensor:
    """−Σ t·log(o) along ``axis``; probabilities are rescaled to sum to 1 and
    clipped to [ε, 1−ε]; logits go through log_softmax.

    Args:
        target: the targets.
        output: the predictions (probabilities, or logits with ``from_logits``).
        from_logits: whether ``output`` holds logits.
        axis: the class axis.

    Returns:
        A new tensor.
    """
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


def sparse_categorical_crossentropy(target: TensorLike, output: TensorLike,
                                    from_logits: bool = False, axis: int = -1) -> Tensor:
    """Categorical cross-entropy with integer class ``target``s.

    Args:
        target: integer class indices.
        output: the predictions (probabilities, or logits with ``from_logits``).
        from_logits: whether ``output`` holds logits.
        axis: the class axis.

    Returns:
        A new tensor.
    """
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
def cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    """``true_fn()`` if ``pred`` holds, else ``false_fn()`` (Keras' ``ops.cond``; eager Python here).

    Args:
        pred: the condition (a boolean scalar).
        true_fn: called when ``pred`` holds.
        false_fn: called otherwise.

    Returns:
        What the called function returns.
    """
    return true_fn() if bool(_array(pred)) else false_fn()


def fori_loop(lower: int, upper: int, body_fun: Callable[..., Any], init_val: Any) -> Any:
    """``value = body_fun(i, value)`` for i in [lower, upper), from ``init_val``.

    Args:
        lower: the first index.
        upper: the end index (excluded).
        body_fun: ``body_fun(i, value)`` returns the next value.
        init_val: the starting value.

    Returns:
        The final value.
    """
    value = init_val
    for i in range(int(lower), int(upper)):
        value = body_fun(i, value)
    return value


def while_loop(cond: Callable[..., Any], body: Callable[..., Any], loop_vars: Any,  # noqa: A002
               maximum_iterations: int | None = None) -> Any:
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds.

    Args:
        cond: ``cond(*loop_vars)``: whether to go on.
        body: ``body(*loop_vars)`` returns the next loop_vars.
        loop_vars: the starting state (a value or a tuple).
        maximum_iterations: stop after this many iterations (None: no limit).

    Returns:
        The final loop_vars (a value, or a tuple).
    """
    single = not isinstance(loop_vars, (list, tuple))
    state = (loop_vars,) if single else tuple(loop_vars)
    steps = 0
    while bool(_array(cond(*state))) and (maximum_iterations is None or
                                           steps < maximum_iterations):
        state = body(*state)
        state = (state,) if single else tuple(state)
        steps += 1
    return state[0] if single else state


def vectorized_map(function: Callable[..., Any], elements: TensorLike) -> Tensor:
    """``function`` applied to each slice along the first axis, results stacked.

    Args:
        function: applied to each slice.
        elements: the tensor whose first axis is mapped over.

    Returns:
        The results, stacked along a new first axis.
    """
    return stack([function(e) for e in _t(elements)])



# --------------------------------------------------------------------------
# More keras.ops names: elementwise math, activations, shapes, reductions
# (compositions as above; non-differentiable results computed with NumPy)
# --------------------------------------------------------------------------
__all__ += [
    "tan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "rsqrt", "exp2", "hypot",
    "logaddexp", "logaddexp2", "cbrt", "deg2rad", "rad2deg", "trunc", "hard_tanh", "celu",
    "glu", "squareplus", "sparse_plus", "threshold", "soft_shrink", "hard_shrink",
    "tanh_shrink", "divide_no_nan", "hstack", "vstack", "dstack", "unstack", "append",
    "diagonal", "trace", "amax", "amin", "inner", "vdot", "diff", "cumprod", "nan_to_num",
    "isclose", "allclose", "nonzero", "meshgrid", "logspace", "array", "copy", "select",
    "multi_hot", "segment_sum", "empty", "empty_like", "fliplr", "flipud",
]

_LN2 = math.log(2.0)


def tan(x: TensorLike) -> Tensor:
    """sin x / cos x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    from . import cos, sin
    x = _t(x)
    return sin(x) / cos(x)


def sinh(x: TensorLike) -> Tensor:
    """(eˣ − e⁻ˣ)/2.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return (exp(x) - exp(negative(x))) / 2


def cosh(x: TensorLike) -> Tensor:
    """(eˣ + e⁻ˣ)/2.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return (exp(x) + exp(negative(x))) / 2


def arcsinh(x: TensorLike) -> Tensor:
    """log(x + √(x² + 1)).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return log(x + sqrt(x * x + 1))


def arccosh(x: TensorLike) -> Tensor:
    """log(x + √(x² − 1)), for x ≥ 1.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return log(x + sqrt(x * x - 1))


def arctanh(x: TensorLike) -> Tensor:
    """½·log((1 + x)/(1 − x)), for |x| < 1.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return 0.5 * log((1 + x) / (1 - x))


def rsqrt(x: TensorLike) -> Tensor:
    """1/√x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return 1 / sqrt(_t(x))


def exp2(x: TensorLike) -> Tensor:
    """2ˣ = e^(x·ln 2).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return exp(_t(x) * _LN2)


def hypot(x1: TensorLike, x2: TensorLike) -> Tensor:
    """√(x1² + x2²).

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    x1, x2 = _t(x1), _t(x2)
    return sqrt(x1 * x1 + x2 * x2)


def logaddexp(x1: TensorLike, x2: TensorLike) -> Tensor:
    """log(e^x1 + e^x2) = max + log1p(e^−|x1 − x2|), finite at ±1000.

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    x1, x2 = _t(x1), _t(x2)
    return maximum(x1, x2) + log1p(exp(negative(abs(x1 - x2))))


def logaddexp2(x1: TensorLike, x2: TensorLike) -> Tensor:
    """log₂(2^x1 + 2^x2).

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    return logaddexp(_t(x1) * _LN2, _t(x2) * _LN2) / _LN2


def cbrt(x: TensorLike) -> Tensor:
    """The real cube root, sign(x)·|x|^(1/3).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    from . import sign
    x = _t(x)
    return sign(x) * abs(x) ** (1.0 / 3.0)


def deg2rad(x: TensorLike) -> Tensor:
    """Degrees to radians.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return _t(x) * (math.pi / 180)


def rad2deg(x: TensorLike) -> Tensor:
    """Radians to degrees.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return _t(x) * (180 / math.pi)


def trunc(x: TensorLike) -> Tensor:
    """Rounded towards zero (no gradient, as rounding).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return _no_grad(np.trunc, x)


def hard_tanh(x: TensorLike) -> Tensor:
    """clip(x, −1, 1).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return clip(_t(x), -1, 1)


def celu(x: TensorLike, alpha: float = 1.0) -> Tensor:
    """max(x, 0) + α·expm1(min(x, 0)/α) (Keras 3).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        alpha: the scale of the negative part.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return maximum(x, 0) + alpha * expm1(minimum(x, 0) / alpha)


def glu(x: TensorLike, axis: int = -1) -> Tensor:
    """a · sigmoid(b) where a, b are the two halves of ``x`` along ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis split in two halves.

    Returns:
        A new tensor.
    """
    x = _t(x)
    if x.shape[axis] % 2:
        raise ValueError(f"glu: axis {axis} has size {x.shape[axis]}; it must be even "
                         f"(the two halves are the value and the gate)")
    first, second = split(x, 2, axis=axis % x.ndim)
    return first * sigmoid(second)


def squareplus(x: TensorLike, b: float = 4) -> Tensor:
    """(x + √(x² + b))/2.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        b: the smoothing constant.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return (x + sqrt(x * x + b)) / 2


def sparse_plus(x: TensorLike) -> Tensor:
    """0 for x ≤ −1, (x + 1)²/4 for −1 < x < 1, x for x ≥ 1 (Keras 3).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    from . import where
    x = _t(x)
    middle = (x + 1) * (x + 1) / 4
    return where(x.data <= -1, zeros_like(x), where(x.data < 1, middle, x))


def threshold(x: TensorLike, threshold: float,  # noqa: A002  (Keras' names)
              default_value: TensorLike) -> Tensor:
    """x where x > threshold, else ``default_value``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        threshold: the threshold.
        default_value: the value below the threshold.

    Returns:
        A new tensor.
    """
    from . import where
    x = _t(x)
    return where(x.data > threshold, x, default_value)


def soft_shrink(x: TensorLike, threshold: float = 0.5) -> Tensor:  # noqa: A002
    """x − t above t, x + t below −t, 0 between.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        threshold: the threshold t.

    Returns:
        A new tensor.
    """
    from . import where
    x = _t(x)
    return where(x.data > threshold, x - threshold,
                 where(x.data < -threshold, x + threshold, 0.0))


def hard_shrink(x: TensorLike, threshold: float = 0.5) -> Tensor:  # noqa: A002
    """x where |x| > t, else 0.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        threshold: the threshold t.

    Returns:
        A new tensor.
    """
    from . import where
    x = _t(x)
    return where(np.abs(x.data) > threshold, x, 0.0)


def tanh_shrink(x: TensorLike) -> Tensor:
    """x − tanh x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    x = _t(x)
    return x - tanh(x)


def divide_no_nan(x1: TensorLike, x2: TensorLike) -> Tensor:
    """x1 / x2, and 0 where x2 is 0 (gradient 0 there too).

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    from . import where
    x1, x2 = _t(x1), _t(x2)
    zero = _array(x2) == 0
    safe = where(zero, 1.0, x2)
    return where(zero, 0.0, x1 / safe)


def hstack(xs: Sequence[TensorLike]) -> Tensor:
    """Joined along axis 1 (axis 0 for 1-D tensors), as NumPy.

    Args:
        xs: the tensors.

    Returns:
        A new tensor.
    """
    ts = [_t(x) for x in xs]
    return concatenate(ts, axis=0 if ts[0].ndim == 1 else 1)


def vstack(xs: Sequence[TensorLike]) -> Tensor:
    """Joined along axis 0 (1-D tensors become rows), as NumPy.

    Args:
        xs: the tensors.

    Returns:
        A new tensor.
    """
    ts = [_t(x) for x in xs]
    return concatenate([reshape(x, (1, -1)) if x.ndim == 1 else x for x in ts], axis=0)


def dstack(xs: Sequence[TensorLike]) -> Tensor:
    """Joined along axis 2 (lower ranks padded to 3-D first), as NumPy.

    Args:
        xs: the tensors.

    Returns:
        A new tensor.
    """
    def at_least_3d(x):
        x = _t(x)
        if x.ndim == 1:
            return reshape(x, (1, -1, 1))
        if x.ndim == 2:
            return reshape(x, x.shape + (1,))
        return x
    return concatenate([at_least_3d(x) for x in xs], axis=2)


def unstack(x: TensorLike, num: int | None = None, axis: int = 0) -> list[Tensor]:
    """The slices of ``x`` along ``axis``, as a list.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        num: the expected number of slices (checked), or None.
        axis: the axis (or axes) to work along.

    Returns:
        A list of tensors.
    """
    x = _t(x)
    axis %= x.ndim
    if num is not None and num != x.shape[axis]:
        raise ValueError(f"unstack: num={num} but axis {axis} has size {x.shape[axis]}")
    return [x[(builtins.slice(None),) * axis + (i,)] for i in range(x.shape[axis])]


def append(x1: TensorLike, x2: TensorLike, axis: int | None = None) -> Tensor:
    """x2 after x1 along ``axis`` (both flattened when None), as NumPy.

    Args:
        x1: the first operand.
        x2: the second operand.
        axis: the axis (or axes) to work along.

    Returns:
        A new tensor.
    """
    x1, x2 = _t(x1), _t(x2)
    if axis is None:
        return concatenate([ravel(x1), ravel(x2)], axis=0)
    return concatenate([x1, x2], axis=axis)


def diagonal(x: TensorLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The diagonal over ``axis1``/``axis2`` (moved to the end), as NumPy.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        offset: the diagonal's offset from the main one.
        axis1: the first axis of the 2-D planes.
        axis2: the second axis of the 2-D planes.

    Returns:
        A new tensor.
    """
    x = _t(x)
    moved = moveaxis(moveaxis(x, axis1 % x.ndim, -1), (axis2 % x.ndim) - (
        1 if axis2 % x.ndim > axis1 % x.ndim else 0), -1)
    rows, cols = moved.shape[-2], moved.shape[-1]
    i = np.arange(max(0, -offset), min(rows, cols - offset))
    return moved[(Ellipsis, i, i + offset)]


def trace(x: TensorLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The sum of ``diagonal(x, offset, axis1, axis2)``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        offset: the diagonal's offset from the main one.
        axis1: the first axis of the 2-D planes.
        axis2: the second axis of the 2-D planes.

    Returns:
        A new tensor.
    """
    return _sum(diagonal(x, offset, axis1, axis2), axis=-1)


def amax(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """The largest value along ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis (or axes) to work along.
        keepdims: keep the reduced axes, with length 1.

    Returns:
        A new tensor.
    """
    return _max(_t(x), axis, keepdims)


def amin(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """The smallest value along ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis (or axes) to work along.
        keepdims: keep the reduced axes, with length 1.

    Returns:
        A new tensor.
    """
    from . import min as _min
    return _min(_t(x), axis, keepdims)


def inner(x1: TensorLike, x2: TensorLike) -> Tensor:
    """Sum of products over the last axes of both.

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    x1, x2 = _t(x1), _t(x2)
    if x1.ndim == 0 or x2.ndim == 0:
        return x1 * x2
    return tensordot(x1, x2, axes=([-1], [-1]))


def vdot(x1: TensorLike, x2: TensorLike) -> Tensor:
    """Σ x1·x2 over both flattened.

    Args:
        x1: the first operand.
        x2: the second operand.

    Returns:
        A new tensor.
    """
    return _sum(ravel(x1) * ravel(x2))


def diff(a: TensorLike, n: int = 1, axis: int = -1) -> Tensor:
    """The ``n``-th difference along ``axis``: out[i] = a[i+1] − a[i].

    Args:
        a: a tensor, or anything ``cr.tensor`` takes.
        n: how many times to difference.
        axis: the axis (or axes) to work along.

    Returns:
        A new tensor.
    """
    a = _t(a)
    axis %= a.ndim
    for _ in range(n):
        head = [builtins.slice(None)] * a.ndim
        tail = [builtins.slice(None)] * a.ndim
        head[axis], tail[axis] = builtins.slice(1, None), builtins.slice(None, -1)
        a = a[tuple(head)] - a[tuple(tail)]
    return a


def cumprod(x: TensorLike, axis: int | None = None, dtype: DTypeLike | None = None) -> Tensor:
    """Running product along ``axis`` (flattened when None): products of
    slices, so the gradient is exact where entries are 0.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis (or axes) to work along.
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    x = _t(x) if dtype is None else cast(x, dtype)
    if axis is None:
        x, axis = ravel(x), 0
    pieces = unstack(x, axis=axis)
    running, out = None, []
    for piece in pieces:
        running = piece if running is None else running * piece
        out.append(running)
    return stack(out, axis=axis % x.ndim)


def nan_to_num(x: TensorLike, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN, +inf and −inf replaced by ``nan`` and the largest/smallest finite
    numbers (or ``posinf``/``neginf``); finite entries keep their gradient.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        nan: the value replacing NaN.
        posinf: the value replacing +inf (None: the dtype's largest).
        neginf: the value replacing -inf (None: the dtype's smallest).

    Returns:
        A new tensor.
    """
    from . import where
    x = _t(x)
    info = np.finfo(x.dtype) if x.dtype.kind == "f" else None
    if info is None:
        return x
    data = x.data
    hi = info.max if posinf is None else posinf
    lo = info.min if neginf is None else neginf
    out = where(np.isnan(data), nan, x)
    out = where(np.isposinf(data), hi, out)
    return where(np.isneginf(data), lo, out)


def isclose(x1: TensorLike, x2: TensorLike, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """Where ``x1`` and ``x2`` are equal within the tolerances (booleans).

    Args:
        x1: the first operand.
        x2: the second operand.
        rtol: the relative tolerance.
        atol: the absolute tolerance.
        equal_nan: count NaNs in the same place as equal.

    Returns:
        A new tensor.
    """
    return _wrap(np.isclose(_array(x1), _array(x2), rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(x1: TensorLike, x2: TensorLike, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> Tensor:
    """Whether all of ``x1`` and ``x2`` are equal within the tolerances.

    Args:
        x1: the first operand.
        x2: the second operand.
        rtol: the relative tolerance.
        atol: the absolute tolerance.
        equal_nan: count NaNs in the same place as equal.

    Returns:
        A new tensor.
    """
    return _wrap(np.allclose(_array(x1), _array(x2), rtol=rtol, atol=atol,
                             equal_nan=equal_nan))


def nonzero(x: TensorLike) -> tuple[Tensor, ...]:
    """The indices of the nonzero entries, one tensor per axis (NumPy).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        One index tensor per axis.
    """
    return tuple(_wrap(i) for i in np.nonzero(_array(x)))


def meshgrid(*x: TensorLike, indexing: str = "xy") -> list[Tensor]:
    """Coordinate grids from 1-D tensors, as NumPy (differentiable).

    Args:
        *x: a tensor, or anything ``cr.tensor`` takes.
        indexing: ``"xy"`` (Cartesian) or ``"ij"`` (matrix).

    Returns:
        One tensor per input.
    """
    from . import broadcast_to
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [ravel(v) for v in x]
    shape = [v.shape[0] for v in xs]
    if indexing == "xy" and len(xs) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    grids = []
    for i, v in enumerate(xs):
        axis = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and len(xs) >= 2 else i
        view = [1] * len(xs)
        view[axis] = v.shape[0]
        grids.append(broadcast_to(reshape(v, tuple(view)), tuple(shape)))
    return grids


def logspace(start: TensorLike, stop: TensorLike, num: int = 50, endpoint: bool = True,
             base: float = 10, dtype: DTypeLike | None = None, axis: int = 0) -> Tensor:
    """base**linspace(start, stop, num), as NumPy (float32 unless ``dtype``).

    Args:
        start: the first value.
        stop: the last exponent.
        num: how many values.
        endpoint: include ``stop``.
        base: the base of the powers.
        dtype: the result's dtype (None: as Keras infers it).
        axis: the axis of the values in the result.

    Returns:
        A new tensor.
    """
    values = np.logspace(_array(start), _array(stop), int(num), endpoint=endpoint,
                         base=base, axis=axis)
    return _wrap(values.astype(_dtype(dtype), copy=False))


def array(x: TensorLike, dtype: DTypeLike | None = None) -> Tensor:
    """``x`` as a tensor (Keras' ``ops.array``).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    return convert_to_tensor(x, dtype=dtype)


def copy(x: TensorLike) -> Tensor:
    """A copy of ``x`` (differentiable).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    return _t(x).copy()


def select(condlist: Sequence[TensorLike], choicelist: Sequence[TensorLike],
           default: TensorLike = 0) -> Tensor:
    """The first choice whose condition holds, element by element (NumPy's
    ``select``); differentiable in the choices.

    Args:
        condlist: the conditions, one boolean tensor each.
        choicelist: the choices, one per condition.
        default: the value where no condition holds.

    Returns:
        A new tensor.
    """
    from . import where
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: {len(condlist)} conditions but {len(choicelist)} choices")
    out = _t(default) if isinstance(default, Tensor) else default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = where(_array(cond).astype(bool), choice, out)
    return out if isinstance(out, Tensor) else _wrap(np.asarray(out))


def multi_hot(inputs: TensorLike, num_classes: int | None = None, axis: int = -1,
              dtype: DTypeLike | None = None, sparse: bool = False, **kwargs: Any) -> Tensor:
    """1 at every class index present in each row (Keras' ``multi_hot``).

    Args:
        inputs: integer class indices, one row per sample.
        num_classes: the number of classes (None: the largest index + 1).
        axis: the axis of the classes.
        dtype: the result's dtype (None: as Keras infers it).
        sparse: Keras' sparse flag (dense tensors only here).
        **kwargs: Keras' other arguments (accepted and ignored).

    Returns:
        A new tensor.
    """
    if sparse:
        raise ValueError("multi_hot(sparse=True) is not supported: chainrule tensors are dense")
    labels = _array(inputs).astype(np.int64)
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if num_classes is None:
        raise ValueError("multi_hot needs num_classes")
    if labels.ndim == 1:
        labels = labels[None, :]
        squeeze_back = True
    else:
        squeeze_back = False
    out = np.zeros(labels.shape[:-1] + (num_classes,), _dtype(dtype))
    np.put_along_axis(out, labels, 1, axis=-1)
    if squeeze_back:
        out = out[0]
    if axis not in (-1, out.ndim - 1):
        out = np.moveaxis(out, -1, axis)
    return _wrap(out)


def segment_sum(data: TensorLike, segment_ids: TensorLike, num_segments: int | None = None,  # noqa: A002
                sorted: bool = False) -> Tensor:
    """out[s] = Σ data[i] over the i with segment_ids[i] = s (differentiable
    in ``data``: a product with a one-hot matrix).

    Args:
        data: the values.
        segment_ids: the segment of each row of ``data``.
        num_segments: the number of segments (None: the largest id + 1).
        sorted: Keras' flag (any order works here).

    Returns:
        A new tensor.
    """
    data = _t(data)
    ids = _array(segment_ids).astype(np.int64)
    if num_segments is None:
        num_segments = int(ids.max()) + 1 if ids.size else 0
    hot = _one_hot(ids, num_segments, dtype=data.dtype).data.T      # (segments, n)
    flat = reshape(data, (data.shape[0], -1))
    return reshape(matmul(_wrap(hot), flat), (num_segments,) + data.shape[1:])


def empty(shape: ShapeLike, dtype: DTypeLike | None = None) -> Tensor:
    """A tensor of ``shape`` (filled with zeros here: chainrule never hands out
    uninitialised memory).

    Args:
        shape: the shape (an int or a tuple).
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    return zeros(shape, dtype)


def empty_like(x: TensorLike, dtype: DTypeLike | None = None) -> Tensor:
    """A tensor of ``x``'s shape (zeros).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        dtype: the result's dtype (None: as Keras infers it).

    Returns:
        A new tensor.
    """
    return zeros_like(x, dtype)


def fliplr(x: TensorLike) -> Tensor:
    """``x`` reversed along axis 1.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    from . import flip
    return flip(_t(x), axis=1)


def flipud(x: TensorLike) -> Tensor:
    """``x`` reversed along axis 0.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.
    """
    from . import flip
    return flip(_t(x), axis=0)


# --------------------------------------------------------------------------
# keras.ops.nn: convolution, pooling and normalization (1-D and 2-D, as
# chainrule's conv2d / pooling ops; 1-D runs as 2-D with a height of 1)
# --------------------------------------------------------------------------
__all__ += ["conv", "depthwise_conv", "conv_transpose", "max_pool", "average_pool",
            "batch_normalization", "rms_normalization"]


def _pair_arg(value, n, what):
    values = (value,) * n if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != n:
        raise ValueError(f"{what} must be an int or {n} ints for {n}-D inputs, got {value!r}")
    return values


def _spatial(inputs, data_format, op):
    """(channels-last input, number of spatial dims, a function undoing the layout)."""
    x = _t(inputs)
    n = x.ndim - 2
    if n not in (1, 2):
        raise ValueError(f"{op}: chainrule supports 1-D and 2-D inputs ((batch, steps, "
                         f"channels) or (batch, height, width, channels)); got shape {x.shape}")
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"{op}: data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}")
    first = data_format == "channels_first"
    if first:
        x = moveaxis(x, 1, -1)
    if n == 1:
        x = reshape(x, (x.shape[0], 1) + x.shape[1:])

    def back(y):
        if n == 1:
            y = reshape(y, (y.shape[0],) + y.shape[2:])
        return moveaxis(y, -1, 1) if first else y
    return x, n, back


def _kernel_2d(kernel, n):
    k = _t(kernel)
    return reshape(k, (1,) + k.shape) if n == 1 else k


def conv(inputs: TensorLike, kernel: TensorLike, strides: int | Sequence[int] = 1,
         padding: str = "valid", data_format: str | None = None,
         dilation_rate: int | Sequence[int] = 1) -> Tensor:
    """N-D convolution (1-D or 2-D here), Keras 3's ``ops.conv``: ``kernel``
    (*kernel_size, channels_in / groups, channels_out); groups follow from the
    channel counts.

    Args:
        inputs: the input tensor, (batch, *spatial, channels) unless ``data_format``.
        kernel: the kernel.
        strides: the stride (an int or one per spatial axis).
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` (None, the default) or ``"channels_first"``.
        dilation_rate: the spacing between kernel taps.

    Returns:
        A new tensor.
    """
    from . import conv2d
    x, n, back = _spatial(inputs, data_format, "conv")
    k = _kernel_2d(kernel, n)
    groups = x.shape[-1] // k.shape[-2]
    strides = (1,) + _pair_arg(strides, 1, "strides") if n == 1 else _pair_arg(strides, 2, "strides")
    dilation = (1,) + _pair_arg(dilation_rate, 1, "dilation_rate") if n == 1 else \
        _pair_arg(dilation_rate, 2, "dilation_rate")
    return back(conv2d(x, k, None, stride=strides, padding=padding, dilation=dilation,
                       groups=groups))


def depthwise_conv(inputs: TensorLike, kernel: TensorLike, strides: int | Sequence[int] = 1,
                   padding: str = "valid", data_format: str | None = None,
                   dilation_rate: int | Sequence[int] = 1) -> Tensor:
    """Depthwise convolution: ``kernel`` (*kernel_size, channels_in, multiplier).

    Args:
        inputs: the input tensor, (batch, *spatial, channels) unless ``data_format``.
        kernel: the kernel.
        strides: the stride (an int or one per spatial axis).
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` (None, the default) or ``"channels_first"``.
        dilation_rate: the spacing between kernel taps.

    Returns:
        A new tensor.
    """
    from . import depthwise_conv2d
    x, n, back = _spatial(inputs, data_format, "depthwise_conv")
    k = _kernel_2d(kernel, n)
    strides = (1,) + _pair_arg(strides, 1, "strides") if n == 1 else _pair_arg(strides, 2, "strides")
    dilation = (1,) + _pair_arg(dilation_rate, 1, "dilation_rate") if n == 1 else \
        _pair_arg(dilation_rate, 2, "dilation_rate")
    return back(depthwise_conv2d(x, k, None, stride=strides, padding=padding, dilation=dilation))


def conv_transpose(inputs: TensorLike, kernel: TensorLike, strides: int | Sequence[int] = 1,
                   padding: str = "valid", output_padding: Any = None,
                   data_format: str | None = None,
                   dilation_rate: int | Sequence[int] = 1) -> Tensor:
    """Transposed convolution: ``kernel`` (*kernel_size, channels_out, channels_in).

    Args:
        inputs: the input tensor, (batch, *spatial, channels) unless ``data_format``.
        kernel: the kernel.
        strides: the stride (an int or one per spatial axis).
        padding: ``"valid"`` or ``"same"``.
        output_padding: extra rows/columns on the output's far side.
        data_format: ``"channels_last"`` (None, the default) or ``"channels_first"``.
        dilation_rate: the spacing between kernel taps.

    Returns:
        A new tensor.
    """
    from . import conv2d_transpose
    x, n, back = _spatial(inputs, data_format, "conv_transpose")
    k = _kernel_2d(kernel, n)
    strides = (1,) + _pair_arg(strides, 1, "strides") if n == 1 else _pair_arg(strides, 2, "strides")
    dilation = (1,) + _pair_arg(dilation_rate, 1, "dilation_rate") if n == 1 else \
        _pair_arg(dilation_rate, 2, "dilation_rate")
    if output_padding is not None:
        output_padding = (0,) + _pair_arg(output_padding, 1, "output_padding") if n == 1 \
            else _pair_arg(output_padding, 2, "output_padding")
    return back(conv2d_transpose(x, k, None, stride=strides, padding=padding,
                                 output_padding=output_padding, dilation=dilation))


def _pool(op, inputs, pool_size, strides, padding, data_format, name):
    x, n, back = _spatial(inputs, data_format, name)
    size = _pair_arg(pool_size, n, "pool_size")
    stride = size if strides is None else _pair_arg(strides, n, "strides")
    if n == 1:
        size, stride = (1,) + size, (1,) + stride
    return back(op(x, size, stride, padding))


def max_pool(inputs: TensorLike, pool_size: int | Sequence[int],
             strides: int | Sequence[int] | None = None, padding: str = "valid",
             data_format: str | None = None) -> Tensor:
    """The largest value of each window (``strides`` defaults to ``pool_size``).

    Args:
        inputs: the input tensor, (batch, *spatial, channels) unless ``data_format``.
        pool_size: the window size (an int or one per spatial axis).
        strides: the stride (an int or one per spatial axis).
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` (None, the default) or ``"channels_first"``.

    Returns:
        A new tensor.
    """
    from . import max_pool2d
    return _pool(max_pool2d, inputs, pool_size, strides, padding, data_format, "max_pool")


def average_pool(inputs: TensorLike, pool_size: int | Sequence[int],
                 strides: int | Sequence[int] | None = None, padding: str = "valid",
                 data_format: str | None = None) -> Tensor:
    """The mean of each window (padded entries not counted with 'same', as Keras).

    Args:
        inputs: the input tensor, (batch, *spatial, channels) unless ``data_format``.
        pool_size: the window size (an int or one per spatial axis).
        strides: the stride (an int or one per spatial axis).
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` (None, the default) or ``"channels_first"``.

    Returns:
        A new tensor.
    """
    from . import avg_pool2d
    return _pool(avg_pool2d, inputs, pool_size, strides, padding, data_format, "average_pool")


def batch_normalization(x: TensorLike, mean: TensorLike, variance: TensorLike,
                        axis: int, offset: TensorLike | None = None,
                        scale: TensorLike | None = None, epsilon: float = 0.001) -> Tensor:
    """(x − mean)/√(variance + ε)·scale + offset, the 1-D statistics laid
    along ``axis`` (as Keras 3 ``ops.batch_normalization``).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        mean: the mean.
        variance: the variance.
        axis: the feature axis.
        offset: added after scaling, or None.
        scale: multiplies the normalized values, or None.
        epsilon: added to the variance.

    Returns:
        A new tensor.
    """
    x = _t(x)
    shape = [1] * x.ndim
    shape[axis] = _t(mean).shape[0]

    def along(v):
        return reshape(_t(v), tuple(shape))
    inv = 1 / sqrt(along(variance) + epsilon)
    if scale is not None:
        inv = inv * along(scale)
    out = (x - along(mean)) * inv
    return out if offset is None else out + along(offset)


def rms_normalization(x: TensorLike, scale: TensorLike | None = None, axis: int = -1,
                      epsilon: float | None = None) -> Tensor:
    """x / √(mean(x²) over ``axis`` + ε) · scale (ε defaults to 1e-7, Keras 3).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        scale: multiplies the result, or None.
        axis: the axis (or axes) to work along.
        epsilon: added for numerical stability (None: Keras' default).

    Returns:
        A new tensor.
    """
    x = _t(x)
    eps = EPSILON if epsilon is None else epsilon
    axes: tuple[int, ...] = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)  # type: ignore[assignment,arg-type]
    count = math.prod(x.shape[a] for a in axes)
    out = x / sqrt(_sum(x * x, axes, True) / count + eps)
    return out if scale is None else out * _t(scale)
