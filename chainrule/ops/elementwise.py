"""Elementwise ops: arithmetic, unary math and activations.

Each op is its forward (one NumPy call), then its derivative: the
differentiable vjp ``d_<op>(g, out, *inputs)`` that multiplies the incoming
gradient ``g`` by the local derivative with chainrule ops (so it can be
differentiated again), and, where it pays, ``d_<op>_arrays(needs, g, out,
*inputs)``, the same formula on NumPy arrays for an ordinary backward. The
``declare`` after them states the formula once; the docstring, ``cr.explain``
and the tests read it there (``chainrule.rules``). Broadcasting needs no care
here: the traversal sums each gradient back to its input's shape.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import broadcast_error
from ..rules import PER_CALL, ArrayGrads, Rule, TensorGrads, declare
from ..tensor import Tensor, as_tensor, record
from ..typing import DTypeLike, TensorLike

_wrap = Tensor._wrap

__all__ = [
    "add", "subtract", "multiply", "divide", "negative", "power",
    "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
    "leaky_relu", "elu", "softplus", "sign",
    "maximum", "minimum", "where", "clip", "astype",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def _constant(value: TensorLike, like: Tensor) -> Tensor:
    """A Python number next to a float tensor takes the tensor's dtype (NumPy's
    'weak scalar' rule), so ``x * 2`` stays float32."""
    if isinstance(value, numbers.Number) and not isinstance(value, bool) and like.dtype.kind == "f":
        return Tensor._wrap(np.array(value, dtype=like.dtype))
    return as_tensor(value)


def _operands(a: TensorLike, b: TensorLike) -> tuple[Tensor, Tensor]:
    if not isinstance(a, Tensor):
        b = as_tensor(b)
        a = _constant(a, b)
    elif not isinstance(b, Tensor):
        b = _constant(b, a)
    return a, b


def _binary(rule: Rule, ufunc: Callable[..., Any], a: TensorLike, b: TensorLike) -> Tensor:
    if type(a) is not Tensor or type(b) is not Tensor:
        a, b = _operands(a, b)
    try:
        data = ufunc(a.data, b.data)
    except ValueError:
        raise broadcast_error(rule.name, a.shape, b.shape) from None
    return record(rule, data, (a, b))


def _unary(rule: Rule, fn: Callable[[np.ndarray], np.ndarray], x: TensorLike) -> Tensor:
    x = as_tensor(x)
    return record(rule, fn(x.data), (x,))


def _mask(array: np.ndarray, dtype: np.dtype) -> Tensor:
    """A 0/1 array as a constant tensor (its own derivative is zero). Booleans
    stay boolean: NumPy multiplies them into floats without a cast pass."""
    return Tensor._wrap(array if array.dtype == bool else array.astype(dtype, copy=False))


# --------------------------------------------------------------------------
# Arithmetic
# --------------------------------------------------------------------------
def add(a: TensorLike, b: TensorLike) -> Tensor:
    """a + b.

    Args:
        a: the first operand (a tensor, array or number).
        b: the second operand, broadcast against ``a``.

    Returns:
        A new tensor of the operands' broadcast shape.
    """
    return _binary(ADD, np.add, a, b)


def d_add(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> TensorGrads:
    return g, g


def d_add_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                 a: np.ndarray, b: np.ndarray) -> ArrayGrads:
    return g, g


ADD = declare(add, forward="a + b", derivative=("1", "1"), elementwise=True,
              vjp=d_add, array_forward=np.add,
              array_vjp=d_add_arrays)


def subtract(a: TensorLike, b: TensorLike) -> Tensor:
    """a - b.

    Args:
        a: the first operand (a tensor, array or number).
        b: the second operand, broadcast against ``a``.

    Returns:
        A new tensor of the operands' broadcast shape.
    """
    return _binary(SUBTRACT, np.subtract, a, b)


def d_subtract(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> TensorGrads:
    return g, (negative(g) if b.requires_grad else None)


def d_subtract_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                      a: np.ndarray, b: np.ndarray) -> ArrayGrads:
    return g, (np.negative(g) if needs[1] else None)


SUBTRACT = declare(subtract, forward="a - b", derivative=("1", "-1"), elementwise=True,
                   vjp=d_subtract, array_forward=np.subtract,
                   array_vjp=d_subtract_arrays)


def multiply(a: TensorLike, b: TensorLike) -> Tensor:
    """a * b.

    Args:
        a: the first operand (a tensor, array or number).
        b: the second operand, broadcast against ``a``.

    Returns:
        A new tensor of the operands' broadcast shape.
    """
    return _binary(MULTIPLY, np.multiply, a, b)


def d_multiply(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> TensorGrads:
    return (g * b if a.requires_grad else None,
            g * a if b.requires_grad else None)


def d_multiply_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                      a: np.ndarray, b: np.ndarray) -> ArrayGrads:
    return (g * b if needs[0] else None,
            g * a if needs[1] else None)


MULTIPLY = declare(multiply, forward="a·b", derivative=("b", "a"), elementwise=True,
                   vjp=d_multiply, array_forward=np.multiply,
                   array_vjp=d_multiply_arrays)


def divide(a: TensorLike, b: TensorLike) -> Tensor:
    """a / b.

    Args:
        a: the first operand (a tensor, array or number).
        b: the second operand, broadcast against ``a``.

    Returns:
        A new tensor of the operands' broadcast shape.
    """
    return _binary(DIVIDE, np.true_divide, a, b)


def d_divide(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> TensorGrads:
    return (g / b if a.requires_grad else None,
            negative(g * out / b) if b.requires_grad else None)


def d_divide_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                    a: np.ndarray, b: np.ndarray) -> ArrayGrads:
    return (g / b if needs[0] else None,
            -(g * out / b) if needs[1] else None)


DIVIDE = declare(divide, forward="a/b", derivative=("1/b", "-a/b²"), elementwise=True,
                 vjp=d_divide, array_forward=np.true_divide,
                 array_vjp=d_divide_arrays)


def negative(x: TensorLike) -> Tensor:
    """-x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(NEGATIVE, np.negative, x)


def d_negative(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return negative(g)


def d_negative_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                      x: np.ndarray) -> ArrayGrads:
    return np.negative(g)


NEGATIVE = declare(negative, forward="-x", derivative="-1", elementwise=True,
                   vjp=d_negative, array_forward=np.negative,
                   array_vjp=d_negative_arrays)


def power(a: TensorLike, b: TensorLike) -> Tensor:
    """a ** b.

    Args:
        a: the base.
        b: the exponent, broadcast against ``a``.

    Returns:
        A new tensor of the operands' broadcast shape.
    """
    return _binary(POWER, np.power, a, b)


def d_power(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> TensorGrads:
    # b·a^(b-1) with the exponent nudged where b == 0 (the term is 0 there),
    # so that d(x^0)/dx is 0 rather than 0·0^-1 = nan at x = 0.
    ga = g * b * a ** where(b.data == 0, 1, b - 1) if a.requires_grad else None
    gb = None
    if b.requires_grad:
        # log(a) is only real for a > 0; where a <= 0 the derivative in b is
        # taken as 0 (as PyTorch does for a == 0).
        safe_a = where(a.data > 0, a, 1)
        gb = g * out * log(safe_a)
    return ga, gb


def d_power_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                   a: np.ndarray, b: np.ndarray) -> ArrayGrads:
    ga = g * b * a ** np.where(b == 0, 1, b - 1) if needs[0] else None
    gb = g * out * np.log(np.where(a > 0, a, 1)) if needs[1] else None
    return ga, gb


POWER = declare(power, forward="a^b", derivative=("b·a^(b - 1)", "out·log(a)"),
                elementwise=True, vjp=d_power, array_vjp=d_power_arrays)


# --------------------------------------------------------------------------
# Unary math
# --------------------------------------------------------------------------
def exp(x: TensorLike) -> Tensor:
    """e^x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(EXP, np.exp, x)


def d_exp(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g * out


def d_exp_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                 x: np.ndarray) -> ArrayGrads:
    return g * out


EXP = declare(exp, forward="exp(x)", derivative="exp(x)", elementwise=True,
              vjp=d_exp, array_forward=np.exp,
              array_vjp=d_exp_arrays)


def log(x: TensorLike) -> Tensor:
    """Natural log.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(LOG, np.log, x)


def d_log(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g / x


def d_log_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                 x: np.ndarray) -> ArrayGrads:
    return g / x


LOG = declare(log, forward="log(x)", derivative="1/x", elementwise=True,
              vjp=d_log, array_forward=np.log,
              array_vjp=d_log_arrays)


def sqrt(x: TensorLike) -> Tensor:
    """√x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(SQRT, np.sqrt, x)


def d_sqrt(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g / (2 * out)


SQRT = declare(sqrt, forward="√x", derivative="0.5/√x", elementwise=True, vjp=d_sqrt)


def abs(x: TensorLike) -> Tensor:  # noqa: A001  (the public name mirrors NumPy's)
    """|x|.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(ABS, np.abs, x)


def d_abs(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g * _mask(np.sign(x.data), g.dtype)


ABS = declare(abs, forward="|x|", derivative="sign(x)", elementwise=True, vjp=d_abs)


def sin(x: TensorLike) -> Tensor:
    """sin x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(SIN, np.sin, x)


def d_sin(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g * cos(x)


SIN = declare(sin, forward="sin(x)", derivative="cos(x)", elementwise=True, vjp=d_sin)


def cos(x: TensorLike) -> Tensor:
    """cos x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(COS, np.cos, x)


def d_cos(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return negative(g * sin(x))


COS = declare(cos, forward="cos(x)", derivative="-sin(x)", elementwise=True, vjp=d_cos)


def sign(x: TensorLike) -> Tensor:
    """-1, 0 or 1 (a step function: no gradient flows).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(SIGN, np.sign, x)


def d_sign(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g * 0


SIGN = declare(sign, forward="sign(x)", derivative="0", elementwise=True, vjp=d_sign)


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------
def tanh(x: TensorLike) -> Tensor:
    """tanh x.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(TANH, np.tanh, x)


def d_tanh(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g * (1 - out * out)


def d_tanh_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                  x: np.ndarray) -> ArrayGrads:
    return g * (1 - out * out)


TANH = declare(tanh, forward="tanh(x)", derivative="(1 - out²)", elementwise=True,
               vjp=d_tanh, array_forward=np.tanh,
               array_vjp=d_tanh_arrays)


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive number never overflows: 1/(1+e^-x) for x >= 0,
    # e^x/(1+e^x) for x < 0.
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return np.where(x >= 0, r, e * r)


def sigmoid(x: TensorLike) -> Tensor:
    """σ(x) = 1/(1+e^-x), computed without overflow.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(SIGMOID, _stable_sigmoid, x)


def d_sigmoid(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g * out * (1 - out)


def d_sigmoid_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                     x: np.ndarray) -> ArrayGrads:
    return g * (out * (1 - out))


SIGMOID = declare(sigmoid, forward="σ(x)", derivative="out·(1 - out)", elementwise=True,
                  vjp=d_sigmoid, array_forward=_stable_sigmoid,
                  array_vjp=d_sigmoid_arrays)


def relu(x: TensorLike) -> Tensor:
    """max(x, 0).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(RELU, _relu, x)


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0)


def d_relu(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g * _mask(x.data > 0, g.dtype)


def d_relu_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                  x: np.ndarray) -> ArrayGrads:
    return g * (x > 0)


RELU = declare(relu, forward="relu(x)", derivative="[x > 0]", elementwise=True,
               vjp=d_relu, array_forward=_relu,
               array_vjp=d_relu_arrays)


def leaky_relu(x: TensorLike, alpha: float = 0.01) -> Tensor:
    """x if x > 0 else alpha·x (alpha=0.01 as PyTorch/JAX).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        alpha: the slope for x ≤ 0.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    x = as_tensor(x)
    data = np.where(x.data > 0, x.data, x.data * x.dtype.type(alpha))

    def d_leaky_relu(g, out, x):
        return g * _mask(np.where(x.data > 0, 1.0, alpha), g.dtype)
    return record(LEAKY_RELU, data, (x,), d_leaky_relu)


LEAKY_RELU = declare(leaky_relu, forward="leaky_relu(x)", inputs="x",
                     derivative="[x > 0] + alpha·[x ≤ 0]", elementwise=True, vjp=PER_CALL)


def elu(x: TensorLike, alpha: float = 1.0) -> Tensor:
    """x if x > 0 else alpha·(e^x - 1).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        alpha: the scale of the negative part.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    x = as_tensor(x)
    positive = x.data > 0
    data = np.where(positive, x.data, x.dtype.type(alpha) * np.expm1(np.minimum(x.data, 0)))

    def d_elu(g, out, x):
        return where(positive, g, g * (out + alpha))
    return record(ELU, data, (x,), d_elu)


ELU = declare(elu, forward="elu(x)", inputs="x", derivative="[x > 0] + (out + alpha)·[x ≤ 0]",
              elementwise=True, vjp=PER_CALL)


def softplus(x: TensorLike) -> Tensor:
    """log(1 + e^x), computed stably.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor (recorded when an input needs a gradient).
    """
    return _unary(SOFTPLUS, _softplus, x)


def _softplus(a: np.ndarray) -> np.ndarray:
    return np.logaddexp(a.dtype.type(0), a)


def d_softplus(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g * sigmoid(x)


SOFTPLUS = declare(softplus, forward="softplus(x)", derivative="σ(x)", elementwise=True,
                   vjp=d_softplus)


# --------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------
def maximum(a: TensorLike, b: TensorLike) -> Tensor:
    """Elementwise max. The gradient goes to the larger input (split at ties).

    Args:
        a: the first operand (a tensor, array or number).
        b: the second operand, broadcast against ``a``.

    Returns:
        A new tensor of the operands' broadcast shape.
    """
    return _binary(MAXIMUM, np.maximum, a, b)


def d_maximum(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> TensorGrads:
    share_a = _mask((a.data > b.data) + 0.5 * (a.data == b.data), g.dtype)
    return g * share_a, g * (1 - share_a)


MAXIMUM = declare(maximum, forward="max(a, b)",
                  derivative=("[a > b] + ½[a = b]", "[b > a] + ½[a = b]"),
                  elementwise=True, vjp=d_maximum)


def minimum(a: TensorLike, b: TensorLike) -> Tensor:
    """Elementwise min. The gradient goes to the smaller input (split at ties).

    Args:
        a: the first operand (a tensor, array or number).
        b: the second operand, broadcast against ``a``.

    Returns:
        A new tensor of the operands' broadcast shape.
    """
    return _binary(MINIMUM, np.minimum, a, b)


def d_minimum(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> TensorGrads:
    share_a = _mask((a.data < b.data) + 0.5 * (a.data == b.data), g.dtype)
    return g * share_a, g * (1 - share_a)


MINIMUM = declare(minimum, forward="min(a, b)",
                  derivative=("[a < b] + ½[a = b]", "[b < a] + ½[a = b]"),
                  elementwise=True, vjp=d_minimum)


def where(condition: TensorLike, x: TensorLike, y: TensorLike) -> Tensor:
    """x where condition holds, else y. The gradient follows the choice.

    Args:
        condition: a boolean array or tensor (a constant: no gradient).
        x: the values where ``condition`` holds.
        y: the values elsewhere (all three broadcast together).

    Returns:
        A new tensor of the broadcast shape.
    """
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    x, y = _operands(x, y)
    try:
        data = np.where(cond, x.data, y.data)
    except ValueError:
        try:
            xy_shape = np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise broadcast_error("where (x and y)", x.shape, y.shape) from None
        raise broadcast_error("where (condition and x, y)", cond.shape, xy_shape) from None

    def d_where(g, out, x, y):
        return (where(cond, g, 0) if x.requires_grad else None,
                where(cond, 0, g) if y.requires_grad else None)
    return record(WHERE, data, (x, y), d_where)


WHERE = declare(where, forward="where(c, x, y)", inputs="x y", derivative=("[c]", "[not c]"),
                elementwise=True, vjp=PER_CALL)


def clip(x: TensorLike, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor:  # noqa: A002  (NumPy's names)
    """Limit values to [min, max].

    The bounds (numbers, arrays or tensors) are constants; for a gradient with
    respect to a bound, use ``maximum``/``minimum``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        min: the lower bound (None: no lower bound).
        max: the upper bound (None: no upper bound).

    Returns:
        A new tensor of ``x``'s shape and dtype.
    """
    x = as_tensor(x)
    if min is None and max is None:
        raise ValueError("clip needs min, max or both")
    lo = -np.inf if min is None else (min.data if isinstance(min, Tensor) else min)
    hi = np.inf if max is None else (max.data if isinstance(max, Tensor) else max)
    data = np.clip(x.data, lo, hi).astype(x.dtype, copy=False)

    def d_clip(g, out, x):
        return g * _mask((x.data >= lo) & (x.data <= hi), g.dtype)
    return record(CLIP, data, (x,), d_clip)


CLIP = declare(clip, forward="clip(x)", inputs="x", derivative="[min ≤ x ≤ max]",
               elementwise=True, vjp=PER_CALL)


def astype(x: TensorLike, dtype: DTypeLike, copy: bool = False) -> Tensor:
    """Cast. The gradient is cast back to x's dtype.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        dtype: the new dtype.
        copy: copy even when the dtype is already ``dtype``.

    Returns:
        The cast tensor.
    """
    x = as_tensor(x)
    dtype = np.dtype(dtype)
    return record(ASTYPE, x.data.astype(dtype, copy=copy), (x,))


def d_astype(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return astype(g, x.dtype)


ASTYPE = declare(astype, forward="x", derivative="g cast back to x's dtype", vjp=d_astype)


# --------------------------------------------------------------------------
# Comparisons: boolean results, no gradient
# --------------------------------------------------------------------------
def _compare(name: str, ufunc: Callable[..., Any]) -> Callable[[TensorLike, TensorLike], Tensor]:
    def compare(a: TensorLike, b: TensorLike) -> Tensor:
        a, b = _operands(a, b)
        try:
            return Tensor._wrap(ufunc(a.data, b.data))
        except ValueError:
            raise broadcast_error(name, a.shape, b.shape) from None
    compare.__name__ = name
    compare.__doc__ = (f"Elementwise {name} (a boolean tensor; no gradient).\n\n"
                       f"    Args:\n"
                       f"        a: the first operand (a tensor, array or number).\n"
                       f"        b: the second operand, broadcast against ``a``.\n\n"
                       f"    Returns:\n"
                       f"        A boolean tensor of the operands' broadcast shape.\n")
    return compare


equal: Callable[[TensorLike, TensorLike], Tensor] = _compare("equal", np.equal)
not_equal: Callable[[TensorLike, TensorLike], Tensor] = _compare("not_equal", np.not_equal)
less: Callable[[TensorLike, TensorLike], Tensor] = _compare("less", np.less)
less_equal: Callable[[TensorLike, TensorLike], Tensor] = _compare("less_equal", np.less_equal)
greater: Callable[[TensorLike, TensorLike], Tensor] = _compare("greater", np.greater)
greater_equal: Callable[[TensorLike, TensorLike], Tensor] = _compare("greater_equal", np.greater_equal)
