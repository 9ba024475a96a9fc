"""Activation functions under Keras 3's names.

Each activation is a plain function from a Tensor to a Tensor, written with
chainrule ops, so its derivative comes from the engine. Layers take them by
name (``activation="relu"``), as a function, or ``None`` (linear):

>>> import chainrule as cr
>>> relu = cr.activations.get("relu")
>>> relu(cr.tensor([-1.0, 2.0])).numpy()
array([0., 2.], dtype=float32)
>>> cr.activations.serialize(relu)
'relu'

Formulas follow Keras 3 (``keras.activations``); a few of them differ from
PyTorch's defaults, e.g. ``leaky_relu`` has ``negative_slope=0.2`` here, and
``hard_sigmoid`` is ``relu6(x + 3) / 6``.
"""
from __future__ import annotations

from typing import Any, Callable, Union

import numpy as np

from . import graph, ops
from .registry import CustomObjectScope, Registry
from .tensor import Tensor, as_tensor
from .typing import TensorLike

__all__ = [
    "celu",
    "deserialize",
    "elu",
    "exponential",
    "gelu",
    "get",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
    "threshold",
]


def linear(x: TensorLike) -> Tensor:
    """x (the identity; what ``activation=None`` means).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    return as_tensor(x)


def relu(x: TensorLike) -> Tensor:
    """max(x, 0).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> relu(cr.tensor([-1.0, 0.5]))
    tensor([0. , 0.5])
    """
    return ops.relu(x)


def relu6(x: TensorLike) -> Tensor:
    """min(max(x, 0), 6).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    return ops.clip(x, 0.0, 6.0)


def sigmoid(x: TensorLike) -> Tensor:
    """1 / (1 + e^-x), stable for large |x|.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> sigmoid(cr.tensor([-1000.0, 0.0, 1000.0]))              # finite at ±1000
    tensor([0. , 0.5, 1. ])
    """
    return ops.sigmoid(x)


def hard_sigmoid(x: TensorLike) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between (Keras 3).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    return relu6(as_tensor(x) + 3.0) / 6.0


def hard_silu(x: TensorLike) -> Tensor:
    """x·hard_sigmoid(x) = x·relu6(x + 3)/6 (also called hard_swish), as Keras 3
    ``keras/src/activations/activations.py``.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def tanh(x: TensorLike) -> Tensor:
    """tanh x.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> tanh(cr.tensor([0.0]))
    tensor([0.])
    """
    return ops.tanh(x)


def softmax(x: TensorLike, axis: int = -1) -> Tensor:
    """e^x / Σ e^x along ``axis`` (shifted by the max, so ±1000 is fine).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        axis: the axis the probabilities sum to 1 along.

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> softmax(cr.tensor([1000.0, 1000.0])).numpy()
    array([0.5, 0.5], dtype=float32)
    """
    return ops.softmax(x, axis=axis)


def log_softmax(x: TensorLike, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis``.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        axis: the axis of the classes.

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> log_softmax(cr.tensor([0.0, 0.0])).numpy().round(4)
    array([-0.6931, -0.6931], dtype=float32)
    """
    return ops.log_softmax(x, axis=axis)


def leaky_relu(x: TensorLike, negative_slope: float = 0.2) -> Tensor:
    """x if x > 0 else negative_slope·x (Keras' default slope is 0.2).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        negative_slope: the slope for x < 0.

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> leaky_relu(cr.tensor([-1.0, 2.0]))                     # Keras' slope 0.2
    tensor([-0.2,  2. ])
    """
    return ops.leaky_relu(x, alpha=negative_slope)


def elu(x: TensorLike, alpha: float = 1.0) -> Tensor:
    """x if x > 0 else alpha·(e^x - 1).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        alpha: the value approached as x goes to -∞ is -alpha.

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> elu(cr.tensor([-1000.0, 1.0]))
    tensor([-1.,  1.])
    """
    return ops.elu(x, alpha=alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: TensorLike) -> Tensor:
    """scale·elu(x, alpha) with the self-normalizing constants of Klambauer et al.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> selu(cr.tensor([0.0, 1.0])).numpy().round(4)
    array([0.    , 1.0507], dtype=float32)
    """
    return ops.elu(x, alpha=_SELU_ALPHA) * _SELU_SCALE


def softplus(x: TensorLike) -> Tensor:
    """log(1 + e^x), stable for large |x|.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> [round(v, 4) for v in softplus(cr.tensor([-1000.0, 0.0, 1000.0])).tolist()]
    [0.0, 0.6931, 1000.0]
    """
    return ops.softplus(x)


def softsign(x: TensorLike) -> Tensor:
    """x / (1 + |x|).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    return x / (ops.abs(x) + 1.0)


def silu(x: TensorLike) -> Tensor:
    """x·σ(x) (also called swish).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> silu(cr.tensor([0.0, 1.0])).numpy().round(4)
    array([0.    , 0.7311], dtype=float32)
    """
    x = as_tensor(x)
    return x * ops.sigmoid(x)


swish = silu


def mish(x: TensorLike) -> Tensor:
    """x·tanh(softplus(x)).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    return x * ops.tanh(ops.softplus(x))


_SQRT_2_OVER_PI = 0.7978845608028654     # √(2/π)
_INV_SQRT_2 = 0.7071067811865476         # 1/√2


def gelu(x: TensorLike, approximate: bool = False) -> Tensor:
    """x·Φ(x) = 0.5·x·(1 + erf(x/√2)); with ``approximate=True``
    0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). Keras 3's activation defaults
    to the exact form (``keras/src/activations/activations.py``); PyTorch's
    ``approximate="tanh"`` is the second.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        approximate: use the tanh approximation instead of erf.

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> x = cr.tensor([1.0])
    >>> round(float(gelu(x)[0]), 4), round(float(gelu(x, approximate=True)[0]), 4)  # 1·Φ(1)
    (0.8413, 0.8412)
    """
    x = as_tensor(x)
    if approximate:
        return 0.5 * x * (1.0 + ops.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * (x * x * x))))
    return 0.5 * x * (1.0 + ops.erf(x * _INV_SQRT_2))


def exponential(x: TensorLike) -> Tensor:
    """e^x.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    return ops.exp(x)


# --------------------------------------------------------------------------
# The rest of Keras 3's list (keras/src/activations/activations.py; formulas
# as its NumPy backend, keras/src/backend/numpy/nn.py)
# --------------------------------------------------------------------------
def celu(x: TensorLike, alpha: float = 1.0) -> Tensor:
    """max(x, 0) + alpha·(e^(min(x, 0)/alpha) - 1).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        alpha: the scale of the negative part, > 0.

    Returns:
        A tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    return ops.maximum(x, 0.0) + alpha * (ops.exp(ops.minimum(x, 0.0) / alpha) - 1.0)


def glu(x: TensorLike, axis: int = -1) -> Tensor:
    """a·σ(b), ``x`` split in halves a, b along ``axis`` (its size must be even).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        axis: the axis split in two halves (its size must be even).

    Returns:
        A tensor of ``x``'s shape with ``axis`` halved.
    """
    x = as_tensor(x)
    n = x.shape[axis]
    if n % 2:
        raise ValueError(f"glu: axis {axis} of x (shape {x.shape}) must have an even size to "
                         f"split in two halves")
    index = [slice(None)] * x.ndim
    index[axis] = slice(0, n // 2)
    first = x[tuple(index)]
    index[axis] = slice(n // 2, n)
    return first * ops.sigmoid(x[tuple(index)])


def hard_tanh(x: TensorLike) -> Tensor:
    """clip(x, -1, 1).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    return ops.clip(as_tensor(x), -1.0, 1.0)


def hard_shrink(x: TensorLike, threshold: float = 0.5) -> Tensor:
    """x where |x| > threshold, else 0.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        threshold: entries with |x| at or below it become 0.

    Returns:
        A tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    return ops.where(ops.greater(ops.abs(x), threshold), x, 0.0)


def soft_shrink(x: TensorLike, threshold: float = 0.5) -> Tensor:
    """x - threshold above threshold, x + threshold below -threshold, else 0.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        threshold: how far every entry is pulled toward 0.

    Returns:
        A tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    return ops.where(ops.greater(x, threshold), x - threshold,
                     ops.where(ops.less(x, -threshold), x + threshold, 0.0))


def tanh_shrink(x: TensorLike) -> Tensor:
    """x - tanh(x).

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    return x - ops.tanh(x)


def log_sigmoid(x: TensorLike) -> Tensor:
    """log σ(x) = -softplus(-x), finite for large |x|.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    return -ops.softplus(-as_tensor(x))


def squareplus(x: TensorLike, b: float = 4) -> Tensor:
    """(x + √(x² + b)) / 2.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        b: the smoothness near 0, >= 0.

    Returns:
        A tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    return (x + ops.sqrt(x * x + b)) / 2.0


def sparse_plus(x: TensorLike) -> Tensor:
    """0 for x ≤ -1, (x + 1)²/4 for -1 < x < 1, x for x ≥ 1.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    return ops.where(ops.less_equal(x, -1), 0.0,
                     ops.where(ops.less(x, 1), (x + 1.0) * (x + 1.0) / 4.0, x))


def sparse_sigmoid(x: TensorLike) -> Tensor:
    """0 for x ≤ -1, (x + 1)/2 between, 1 for x ≥ 1.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).

    Returns:
        A tensor of ``x``'s shape.
    """
    return ops.clip((as_tensor(x) + 1.0) / 2.0, 0.0, 1.0)


def threshold(x: TensorLike, threshold: float, default_value: float) -> Tensor:
    """x where x > threshold, else ``default_value``.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        threshold: entries at or below it are replaced.
        default_value: what they are replaced with.

    Returns:
        A tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    return ops.where(ops.greater(x, threshold), x, float(default_value))


def sparsemax(x: TensorLike, axis: int = -1) -> Tensor:
    """The Euclidean projection of x onto the probability simplex (Martins &
    Astudillo 2016): max(x - τ, 0) with τ chosen so the result sums to 1;
    many entries are exactly 0. Differentiable through ``sort`` and ``cumsum``.

    Args:
        x: the input tensor (or anything ``cr.tensor`` accepts).
        axis: the axis the result sums to 1 along.

    Returns:
        A tensor of ``x``'s shape.

    Example:

    >>> sparsemax(cr.tensor([2.0, 1.0, -1.0])).numpy()
    array([1., 0., 0.], dtype=float32)
    """
    x = as_tensor(x)
    axis = axis % x.ndim
    ordered = -ops.sort(-x, axis=axis)                      # descending
    running = ops.cumsum(ordered, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    k, last = _sparsemax_support(ordered, running, axis, tuple(shape))
    grids = np.ogrid[tuple(slice(n) for n in last.shape)]
    index = tuple(last if a == axis else grids[a] for a in range(x.ndim))
    tau = (running[index] - 1.0) / Tensor._wrap(k)
    return ops.relu(x - tau)


@graph.replayed          # (a compiled step finds each batch's own support)
def _sparsemax_support(ordered: Tensor, running: Tensor, axis: int,
                       shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """How many sorted entries stay above zero (in their dtype), and the index of
    the last one."""
    rank = np.arange(1, ordered.shape[axis] + 1, dtype=ordered.dtype).reshape(shape)
    support = (1 + rank * ordered.data) > running.data      # the entries that stay > 0
    k = support.sum(axis=axis, keepdims=True)                # how many
    last = np.take_along_axis(np.broadcast_to(np.arange(ordered.shape[axis]).reshape(shape),
                                              ordered.shape), k - 1, axis=axis)
    return k.astype(ordered.dtype), last


_REGISTRY = Registry("activation", {fn.__name__: fn for fn in (
    linear, relu, relu6, sigmoid, hard_sigmoid, tanh, softmax, log_softmax, leaky_relu,
    elu, selu, softplus, softsign, silu, mish, exponential, gelu, hard_silu, celu, glu,
    hard_tanh, hard_shrink, soft_shrink, tanh_shrink, log_sigmoid, squareplus, sparse_plus,
    sparse_sigmoid, threshold, sparsemax)})
_REGISTRY.entries()["swish"] = silu      # Keras' aliases

ActivationLike = Union[str, dict, Callable[..., Any], None]
_REGISTRY.entries()["hard_swish"] = hard_silu


def serialize(activation: ActivationLike) -> str:
    """The name of an activation function (what layer configs store): a
    built-in's Keras name, a registered function's ``"package>name"``, or a
    named function's ``__name__`` (load it back with ``custom_objects``).

    Args:
        activation: an activation function, a name, or None (linear).

    Returns:
        Its name (``"relu"``, ``"package>name"``...).

    Example:

    >>> serialize("hard_swish"), serialize(None)
    ('hard_silu', 'linear')
    """
    activation = get(activation)
    name = _REGISTRY.name_of(activation) or getattr(activation, "__name__", None)
    if name is None or name == "<lambda>":
        raise ValueError(f"cannot serialize the activation {activation!r}: give a named "
                         f"function (registered with chainrule.saving."
                         f"register_keras_serializable, or passed to load_model as "
                         f"custom_objects) or one of {_REGISTRY.names()}")
    return name


def deserialize(config: str | dict[str, Any] | None,
                custom_objects: dict[str, Any] | None = None) -> Callable[..., Any]:
    """The activation function a name (or a ``{"class_name": ...}`` dict) describes.

    Args:
        config: a name, a ``{"class_name": ...}`` dict, or None.
        custom_objects: extra ``{name: function}`` to look names up in, or None.

    Returns:
        The activation function.

    Example:

    >>> deserialize("relu") is relu
    True
    """
    with CustomObjectScope(custom_objects):
        return get(config)


def get(identifier: ActivationLike) -> Callable[..., Any]:
    """An activation from a name (``"relu"``), a function, or ``None`` (linear).

    Names follow ``chainrule.registry``'s rules (custom objects first). The
    ``{"class_name": name, "config": ...}`` form of a saved config is
    accepted too, as is Keras' ``{"class_name": "function", "config": name}``.

    Args:
        identifier: a name, a saved config dict, a function, or None.

    Returns:
        The activation function (``linear`` for None).

    Example:

    >>> get(None) is linear, get("swish") is silu
    (True, True)
    """
    if identifier is None:
        return linear
    if isinstance(identifier, dict) and "class_name" in identifier:
        if identifier["class_name"] == "function":
            identifier = identifier.get("registered_name") or identifier.get("config")
        else:
            identifier = identifier["class_name"]
    if isinstance(identifier, str):
        return _REGISTRY.lookup(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"cannot interpret {identifier!r} as an activation: pass a name like "
                    f"'relu', a function from Tensor to Tensor, or None")
