"""Elementwise ops: arithmetic, unary math and activations.

Each op is its forward (one NumPy call) followed by its derivative, the
vjp ``d_<op>(g, out, *inputs)`` that multiplies the incoming gradient ``g``
by the local derivative. Vjps use chainrule ops, so they can be
differentiated again. Broadcasting needs no care here: the graph sums each
gradient back to its input's shape (``graph._fit_to``).

The most used vjps (arithmetic, tanh, sigmoid, relu, exp, log) also have a
NumPy-only branch for an ordinary backward, when nothing is being recorded
(``not STATE.grad_enabled``): the same formula on the arrays, without
building a Tensor and a call to ``record`` per intermediate. That
bookkeeping is most of the cost of a small network's step.
"""
import numbers

import numpy as np

from ..errors import broadcast_error
from ..graph import STATE
from ..tensor import Tensor, as_tensor, record

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
def _constant(value, like):
    """A Python number next to a float tensor takes the tensor's dtype (NumPy's
    'weak scalar' rule), so ``x * 2`` stays float32."""
    if isinstance(value, numbers.Number) and not isinstance(value, bool) and like.dtype.kind == "f":
        return Tensor._wrap(np.array(value, dtype=like.dtype))
    return as_tensor(value)


def _operands(a, b):
    if not isinstance(a, Tensor):
        b = as_tensor(b)
        a = _constant(a, b)
    elif not isinstance(b, Tensor):
        b = _constant(b, a)
    return a, b


def _binary(name, ufunc, a, b, vjp):
    if type(a) is not Tensor or type(b) is not Tensor:
        a, b = _operands(a, b)
    try:
        data = ufunc(a.data, b.data)
    except ValueError:
        raise broadcast_error(name, a.shape, b.shape) from None
    return record(name, data, (a, b), vjp)


def _unary(name, fn, x, vjp):
    x = as_tensor(x)
    return record(name, fn(x.data), (x,), vjp)


def _mask(array, dtype):
    """A 0/1 array as a constant tensor (its own derivative is zero). Booleans
    stay boolean: NumPy multiplies them into floats without a cast pass."""
    return Tensor._wrap(array if array.dtype == bool else array.astype(dtype, copy=False))


# --------------------------------------------------------------------------
# Arithmetic
# --------------------------------------------------------------------------
def add(a, b):
    """a + b.          d/da = 1, d/db = 1"""
    return _binary("add", np.add, a, b, d_add)


def d_add(g, out, a, b):
    return g, g


def subtract(a, b):
    """a - b.          d/da = 1, d/db = -1"""
    return _binary("subtract", np.subtract, a, b, d_subtract)


def d_subtract(g, out, a, b):
    if not b.requires_grad:
        return g, None
    if not STATE.grad_enabled:
        return g, _wrap(np.negative(g.data))
    return g, negative(g)


def multiply(a, b):
    """a * b.          d/da = b, d/db = a"""
    return _binary("multiply", np.multiply, a, b, d_multiply)


def d_multiply(g, out, a, b):
    if not STATE.grad_enabled:
        return (_wrap(g.data * b.data) if a.requires_grad else None,
                _wrap(g.data * a.data) if b.requires_grad else None)
    return (g * b if a.requires_grad else None,
            g * a if b.requires_grad else None)


def divide(a, b):
    """a / b.          d/da = 1/b, d/db = -a/b² = -out/b"""
    return _binary("divide", np.true_divide, a, b, d_divide)


def d_divide(g, out, a, b):
    if not STATE.grad_enabled:
        return (_wrap(g.data / b.data) if a.requires_grad else None,
                _wrap(-(g.data * out.data / b.data)) if b.requires_grad else None)
    ga = g / b if a.requires_grad else None
    gb = negative(g * out / b) if b.requires_grad else None
    return ga, gb


def negative(x):
    """-x.             d/dx = -1"""
    return _unary("negative", np.negative, x, d_negative)


def d_negative(g, out, x):
    if not STATE.grad_enabled:
        return _wrap(np.negative(g.data))
    return negative(g)


def power(a, b):
    """a ** b.         d/da = b·a^(b-1), d/db = a^b·log(a)"""
    return _binary("power", np.power, a, b, d_power)


def d_power(g, out, a, b):
    if not STATE.grad_enabled and not b.requires_grad:
        # An ordinary backward of x ** constant (x ** 2 in a squared error).
        ad, bd = a.data, b.data
        return _wrap(g.data * bd * ad ** np.where(bd == 0, 1, bd - 1)), None
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


# --------------------------------------------------------------------------
# Unary math
# --------------------------------------------------------------------------
def exp(x):
    """e^x.            d/dx = e^x = out"""
    return _unary("exp", np.exp, x, d_exp)


def d_exp(g, out, x):
    if not STATE.grad_enabled:
        return _wrap(g.data * out.data)
    return g * out


def log(x):
    """Natural log.    d/dx = 1/x"""
    return _unary("log", np.log, x, d_log)


def d_log(g, out, x):
    if not STATE.grad_enabled:
        return _wrap(g.data / x.data)
    return g / x


def sqrt(x):
    """√x.             d/dx = 1/(2√x) = 1/(2·out)"""
    return _unary("sqrt", np.sqrt, x, d_sqrt)


def d_sqrt(g, out, x):
    return g / (2 * out)


def abs(x):  # noqa: A001  (the public name mirrors NumPy's)
    """|x|.            d/dx = sign(x) (0 at 0)"""
    return _unary("abs", np.abs, x, d_abs)


def d_abs(g, out, x):
    return g * _mask(np.sign(x.data), g.dtype)


def sin(x):
    """sin x.          d/dx = cos x"""
    return _unary("sin", np.sin, x, d_sin)


def d_sin(g, out, x):
    return g * cos(x)


def cos(x):
    """cos x.          d/dx = -sin x"""
    return _unary("cos", np.cos, x, d_cos)


def d_cos(g, out, x):
    return negative(g * sin(x))


def sign(x):
    """-1, 0 or 1.     d/dx = 0 (a step function: no gradient flows)"""
    return _unary("sign", np.sign, x, d_sign)


def d_sign(g, out, x):
    return g * 0


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------
def tanh(x):
    """tanh x.         d/dx = 1 - tanh²x = 1 - out²"""
    return _unary("tanh", np.tanh, x, d_tanh)


def d_tanh(g, out, x):
    if not STATE.grad_enabled:
        y = out.data
        return _wrap(g.data * (1 - y * y))
    return g * (1 - out * out)


def _stable_sigmoid(x):
    # exp of a non-positive number never overflows: 1/(1+e^-x) for x >= 0,
    # e^x/(1+e^x) for x < 0.
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return np.where(x >= 0, r, e * r)


def sigmoid(x):
    """1/(1+e^-x).     d/dx = σ(x)(1 - σ(x)) = out·(1 - out)"""
    return _unary("sigmoid", _stable_sigmoid, x, d_sigmoid)


def d_sigmoid(g, out, x):
    if not STATE.grad_enabled:
        y = out.data
        return _wrap(g.data * (y * (1 - y)))
    return g * out * (1 - out)


def relu(x):
    """max(x, 0).      d/dx = 1 where x > 0, else 0"""
    return _unary("relu", lambda a: np.maximum(a, 0), x, d_relu)


def d_relu(g, out, x):
    if not STATE.grad_enabled:
        return _wrap(g.data * (x.data > 0))
    return g * _mask(x.data > 0, g.dtype)


def leaky_relu(x, alpha=0.01):
    """x if x > 0 else alpha·x (alpha=0.01 as PyTorch/JAX).   d/dx = 1 or alpha"""
    x = as_tensor(x)
    data = np.where(x.data > 0, x.data, x.data * x.dtype.type(alpha))

    def d_leaky_relu(g, out, x):
        return g * _mask(np.where(x.data > 0, 1.0, alpha), g.dtype)
    return record("leaky_relu", data, (x,), d_leaky_relu)


def elu(x, alpha=1.0):
    """x if x > 0 else alpha·(e^x - 1).   d/dx = 1 or out + alpha"""
    x = as_tensor(x)
    positive = x.data > 0
    data = np.where(positive, x.data, x.dtype.type(alpha) * np.expm1(np.minimum(x.data, 0)))

    def d_elu(g, out, x):
        return where(positive, g, g * (out + alpha))
    return record("elu", data, (x,), d_elu)


def softplus(x):
    """log(1 + e^x), computed stably.   d/dx = σ(x)"""
    return _unary("softplus", lambda a: np.logaddexp(a.dtype.type(0), a), x, d_softplus)


def d_softplus(g, out, x):
    return g * sigmoid(x)


# --------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------
def maximum(a, b):
    """Elementwise max.   The gradient goes to the larger input (split at ties)."""
    return _binary("maximum", np.maximum, a, b, d_maximum)


def d_maximum(g, out, a, b):
    share_a = _mask((a.data > b.data) + 0.5 * (a.data == b.data), g.dtype)
    return g * share_a, g * (1 - share_a)


def minimum(a, b):
    """Elementwise min.   The gradient goes to the smaller input (split at ties)."""
    return _binary("minimum", np.minimum, a, b, d_minimum)


def d_minimum(g, out, a, b):
    share_a = _mask((a.data < b.data) + 0.5 * (a.data == b.data), g.dtype)
    return g * share_a, g * (1 - share_a)


def where(condition, x, y):
    """x where condition holds, else y.   The gradient follows the choice."""
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
    return record("where", data, (x, y), d_where)


def clip(x, min=None, max=None):  # noqa: A002  (NumPy's names)
    """Limit values to [min, max].   d/dx = 1 inside the range, 0 outside.

    The bounds (numbers, arrays or tensors) are constants; for a gradient with
    respect to a bound, use ``maximum``/``minimum``.
    """
    x = as_tensor(x)
    if min is None and max is None:
        raise ValueError("clip needs min, max or both")
    lo = -np.inf if min is None else (min.data if isinstance(min, Tensor) else min)
    hi = np.inf if max is None else (max.data if isinstance(max, Tensor) else max)
    data = np.clip(x.data, lo, hi).astype(x.dtype, copy=False)

    def d_clip(g, out, x):
        return g * _mask((x.data >= lo) & (x.data <= hi), g.dtype)
    return record("clip", data, (x,), d_clip)


def astype(x, dtype, copy=False):
    """Cast.           The gradient is cast back to x's dtype."""
    x = as_tensor(x)
    dtype = np.dtype(dtype)

    def d_astype(g, out, x):
        return astype(g, x.dtype)
    return record("astype", x.data.astype(dtype, copy=copy), (x,), d_astype)


# --------------------------------------------------------------------------
# Comparisons: boolean results, no gradient
# --------------------------------------------------------------------------
def _compare(name, ufunc):
    def compare(a, b):
        a, b = _operands(a, b)
        try:
            return Tensor._wrap(ufunc(a.data, b.data))
        except ValueError:
            raise broadcast_error(name, a.shape, b.shape) from None
    compare.__name__ = name
    compare.__doc__ = f"Elementwise {name} (a boolean tensor; no gradient)."
    return compare


equal = _compare("equal", np.equal)
not_equal = _compare("not_equal", np.not_equal)
less = _compare("less", np.less)
less_equal = _compare("less_equal", np.less_equal)
greater = _compare("greater", np.greater)
greater_equal = _compare("greater_equal", np.greater_equal)
