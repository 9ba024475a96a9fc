"""Loss functions with Keras 3's formulas, defaults and names.

Two faces, as in Keras:

- functions (``binary_crossentropy``, ``mse``, ...) return one loss per
  sample, a Tensor of shape (N,) (or (N, T) for sequences);
- Loss objects (``BinaryCrossentropy()``, ``MeanSquaredError()``, ...) are
  called as ``loss(y_true, y_pred, sample_weight=None)`` and return a scalar
  Tensor: the per-sample losses, weighted, summed and divided by their count
  ("sum_over_batch_size").

``y_pred`` is a Tensor (made by chainrule ops, so the loss can be
differentiated) or an array; ``y_true`` a NumPy array or a Tensor, never
differentiated. The result has ``y_pred``'s dtype.

Probabilities are clipped to [ε, 1-ε] with ε = 1e-7 as Keras does, so a
predicted probability of 0 for the true class costs -log(1e-7) ≈ 16.1 rather
than infinity. With ``from_logits=True`` no clipping is needed: the losses go
through ``log_softmax`` or a log-sigmoid, exact and finite even at ±1000.

>>> import chainrule as cr
>>> loss = cr.losses.SparseCategoricalCrossentropy(from_logits=True)
>>> logits = cr.tensor([[2.0, 0.0, 0.0]], requires_grad=True)
>>> round(float(loss([0], logits)), 4)
0.2395
"""
from __future__ import annotations

import re
from typing import Any, Callable, Union, overload

import numpy as np

from . import graph, ops
from .masks import get_keras_mask
from .registry import Registry, class_and_snake_names, get_registered_name, get_registered_object
from .tensor import Tensor, as_tensor
from .typing import TensorLike

__all__ = [
    "EPSILON",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "Hinge",
    "Huber",
    "Loss",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "binary_crossentropy",
    "categorical_crossentropy",
    "deserialize",
    "get",
    "hinge",
    "huber",
    "mae",
    "mean_absolute_error",
    "mean_squared_error",
    "mse",
    "serialize",
    "softmax_cross_entropy",
    "sparse_categorical_crossentropy",
]

EPSILON = 1e-7          # Keras' backend.epsilon(): the clip for probabilities


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------
def _prediction(y_pred: TensorLike) -> Tensor:
    """y_pred as a floating Tensor (integers become float32)."""
    prediction = as_tensor(y_pred)
    if prediction.dtype.kind != "f":
        prediction = prediction.astype(np.float32)
    return prediction


# The target's preparation is NumPy outside any op; graph.replayed makes a
# compiled step (cr.jit) run it again on each batch instead of freezing it.
@graph.replayed
def _target(y_true: TensorLike, dtype: Any) -> np.ndarray:
    """y_true as a constant array of the prediction's dtype (no gradient)."""
    data = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
    return data.astype(dtype, copy=False)


@graph.replayed
def _match_ranks(y_true: np.ndarray, y_pred_shape: tuple[int, ...]) -> np.ndarray:
    """Keras' squeeze-or-expand rule: a target of shape (N,) next to a
    prediction of shape (N, 1) (or the other way round) gets the trailing 1
    added or removed; after that the shapes must agree."""
    if y_true.ndim == len(y_pred_shape) - 1 and y_pred_shape[-1] == 1:
        y_true = y_true[..., None]
    elif y_true.ndim == len(y_pred_shape) + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != tuple(y_pred_shape):
        raise ValueError(
            f"y_true has shape {y_true.shape} but y_pred has shape {tuple(y_pred_shape)}; "
            f"they must match (a trailing dimension of 1 may differ)"
            + (" - the batch sizes differ" if y_true.shape[:1] != tuple(y_pred_shape)[:1] else ""))
    return y_true


def _pair(y_true: TensorLike, y_pred: TensorLike) -> tuple[np.ndarray, Tensor]:
    """(target array, prediction tensor) brought to the same rank as Keras 3's
    ``squeeze_or_expand_to_same_rank``: a (N, 1) target next to a (N,)
    prediction expands the prediction to (N, 1); otherwise ``_match_ranks``."""
    prediction = _prediction(y_pred)
    y = _target(y_true, prediction.dtype)
    if prediction.ndim == 1 and y.ndim == 2 and y.shape[-1] == 1:
        prediction = ops.reshape(prediction, prediction.shape + (1,))
    return _match_ranks(y, prediction.shape), prediction


def _mean_last(values: Tensor) -> Tensor:
    """Per-sample value: the mean over the last axis, as Keras 3
    ``keras/src/losses/losses.py`` (``ops.mean(..., axis=-1)``); so 1-D input
    gives one scalar, as in Keras."""
    return values if values.ndim == 0 else ops.mean(values, axis=-1)


@graph.replayed
def _sparse_labels(y_true: TensorLike, y_pred_shape: tuple[int, ...]) -> np.ndarray:
    """Integer labels of shape y_pred.shape[:-1] (a trailing 1 is dropped),
    checked to lie in [0, number of classes)."""
    labels = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
    if labels.ndim == len(y_pred_shape) and labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.dtype.kind == "f":
        if not np.all(labels == np.round(labels)):
            bad = labels[labels != np.round(labels)].ravel()[0]
            raise ValueError(f"sparse labels must be integers (class indices), got {bad}; "
                             f"for one-hot or soft labels use CategoricalCrossentropy")
        labels = labels.astype(np.int64)
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"sparse labels must be integers, got dtype {labels.dtype}")
    if labels.shape != tuple(y_pred_shape[:-1]):
        raise ValueError(
            f"y_true has shape {labels.shape} but y_pred has shape {tuple(y_pred_shape)}; "
            f"sparse labels need shape {tuple(y_pred_shape[:-1])} (one integer per sample) "
            f"or {tuple(y_pred_shape[:-1]) + (1,)}")
    num_classes = y_pred_shape[-1]
    if labels.size:
        low, high = labels.min(), labels.max()
        if low < 0 or high >= num_classes:
            bad = low if low < 0 else high
            raise ValueError(f"label {bad} is outside [0, {num_classes}): y_pred has "
                             f"{num_classes} classes, so labels must be 0..{num_classes - 1}")
    return labels


# --------------------------------------------------------------------------
# Per-sample loss functions
# --------------------------------------------------------------------------
def binary_crossentropy(y_true: TensorLike, y_pred: TensorLike, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> Tensor:
    """-[y·log p + (1-y)·log(1-p)], averaged over the last axis.

    From probabilities p is clipped to [1e-7, 1 - 1e-7]. From logits x,
    log p = -softplus(-x) and log(1-p) = -softplus(x), so the loss is
    softplus(x) - y·x, finite at any x. Label smoothing moves y towards ½:
    y·(1-s) + s/2.

    Args:
        y_true: the 0/1 targets (or probabilities), shaped like ``y_pred``.
        y_pred: predicted probabilities, or logits with ``from_logits=True``.
        from_logits: ``y_pred`` holds logits rather than probabilities.
        label_smoothing: s in [0, 1]: targets move toward ½.

    Returns:
        One loss per sample: a tensor of ``y_pred``'s shape without its last axis.

    Example:

    >>> round(float(binary_crossentropy([1.0], [0.0], from_logits=True)), 4)   # log 2
    0.6931
    """
    y, y_pred = _pair(y_true, y_pred)
    target = Tensor._wrap(_smoothed(y, label_smoothing, 0.5 * label_smoothing, y_pred.dtype))
    if from_logits:
        elementwise = ops.softplus(y_pred) - target * y_pred
    else:
        p = ops.clip(y_pred, EPSILON, 1 - EPSILON)
        elementwise = -(target * ops.log(p) + (1 - target) * ops.log(1 - p))
    return _mean_last(elementwise)


def categorical_crossentropy(y_true: TensorLike, y_pred: TensorLike, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """-Σ y·log p along ``axis``, for one-hot (or soft) targets y.

    From probabilities (Keras 3): p ← p / Σp, then clipped to [1e-7, 1 - 1e-7].
    From logits: log p = log_softmax(x). Label smoothing: y·(1-s) + s/C.

    Args:
        y_true: one-hot (or soft) targets, shaped like ``y_pred``.
        y_pred: predicted probabilities, or logits with ``from_logits=True``.
        from_logits: ``y_pred`` holds logits rather than probabilities.
        label_smoothing: s in [0, 1]: targets move toward 1/C.
        axis: the class axis.

    Returns:
        One loss per sample: a tensor of ``y_pred``'s shape without ``axis``.

    Example:

    >>> y_true = [[0.0, 1.0, 0.0]]
    >>> categorical_crossentropy(y_true, [[0.05, 0.95, 0.0]]).numpy().round(4)   # -log 0.95
    array([0.0513], dtype=float32)
    """
    y_pred = _prediction(y_pred)
    y = _match_ranks(_target(y_true, y_pred.dtype), y_pred.shape)
    target = Tensor._wrap(_smoothed(y, label_smoothing, label_smoothing / y_pred.shape[axis],
                                    y_pred.dtype))
    if from_logits:
        log_p = ops.log_softmax(y_pred, axis=axis)
    else:
        p = y_pred / ops.sum(y_pred, axis=axis, keepdims=True)
        log_p = ops.log(ops.clip(p, EPSILON, 1 - EPSILON))
    return -ops.sum(target * log_p, axis=axis)


def softmax_cross_entropy(logits: TensorLike, labels: TensorLike) -> Tensor:
    """-log softmax(x)[label] along the last axis, one value per sample:

        loss = logsumexp(x) - x[label]        d/dx = softmax(x) - onehot(label)

    One fused op (the hot path of classification training): the forward never
    forms the softmax, the backward is a single subtraction. ``labels`` are
    integer class indices of shape ``logits.shape[:-1]`` (or with a trailing 1).

    Args:
        logits: unnormalized class scores, classes on the last axis.
        labels: integer class indices, shape ``logits.shape[:-1]`` (or with a trailing 1).

    Returns:
        One loss per sample: a tensor of shape ``logits.shape[:-1]``.

    Example:

    >>> softmax_cross_entropy(cr.tensor([[0.0, 0.0]]), [1]).numpy().round(4)     # log 2
    array([0.6931], dtype=float32)
    """
    x = _prediction(logits)
    return ops.softmax_cross_entropy(x, _sparse_labels(labels, x.shape))


def sparse_categorical_crossentropy(y_true: TensorLike, y_pred: TensorLike,
                                    from_logits: bool = False) -> Tensor:
    """-log p[label] for integer labels (shape (N,) or (N, 1)), per sample.

    From probabilities p is renormalized and clipped as in
    ``categorical_crossentropy``; from logits it is ``softmax_cross_entropy``.

    Args:
        y_true: integer class indices, shape (N,) or (N, 1).
        y_pred: predicted probabilities (N, C), or logits with ``from_logits=True``.
        from_logits: ``y_pred`` holds logits rather than probabilities.

    Returns:
        One loss per sample: a tensor of shape ``y_pred.shape[:-1]``.

    Example:

    >>> sparse_categorical_crossentropy([1, 0], [[0.1, 0.9], [0.5, 0.5]]).numpy().round(4)
    array([0.1054, 0.6931], dtype=float32)
    """
    y_pred = _prediction(y_pred)
    if y_pred.ndim < 1:
        raise ValueError(f"y_pred must have a class axis, got shape {y_pred.shape}")
    labels = _sparse_labels(y_true, y_pred.shape)
    if from_logits:
        return ops.softmax_cross_entropy(y_pred, labels)
    p = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
    log_p = ops.log(ops.clip(p, EPSILON, 1 - EPSILON))
    # Pick log p[i, label_i] with one integer-array index per leading axis.
    leading: tuple[np.ndarray, ...] = tuple(np.indices(labels.shape, sparse=True))
    return -log_p[leading + (labels,)]


def mean_squared_error(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """mean((y - ŷ)²) over the last axis.

    Args:
        y_true: the targets (an array or a tensor; never differentiated).
        y_pred: the predictions, a tensor (or an array).

    Returns:
        One loss per sample: a tensor of ``y_pred``'s shape without its last axis.

    Example:

    >>> mean_squared_error([[0.0, 2.0]], [[1.0, 1.0]]).numpy()
    array([1.], dtype=float32)
    """
    y, y_pred = _pair(y_true, y_pred)
    diff = y_pred - Tensor._wrap(y)
    return _mean_last(diff * diff)


def mean_absolute_error(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """mean(|y - ŷ|) over the last axis.

    Args:
        y_true: the targets (an array or a tensor; never differentiated).
        y_pred: the predictions, a tensor (or an array).

    Returns:
        One loss per sample: a tensor of ``y_pred``'s shape without its last axis.

    Example:

    >>> mean_absolute_error([[0.0, 2.0]], [[1.0, 1.0]]).numpy()
    array([1.], dtype=float32)
    """
    y, y_pred = _pair(y_true, y_pred)
    return _mean_last(ops.abs(y_pred - Tensor._wrap(y)))


def huber(y_true: TensorLike, y_pred: TensorLike, delta: float = 1.0) -> Tensor:
    """½e² where |e| ≤ δ, else δ·|e| - ½δ² (e = ŷ - y), averaged over the last
    axis: quadratic near zero, linear (robust to outliers) far away.

    Args:
        y_true: the targets (an array or a tensor; never differentiated).
        y_pred: the predictions, a tensor (or an array).
        delta: δ > 0, where the quadratic part turns linear.

    Returns:
        One loss per sample: a tensor of ``y_pred``'s shape without its last axis.

    Example:

    >>> huber([[0.0, 0.0]], [[0.5, 3.0]]).numpy()      # (½·0.25 + (3 - ½)) / 2
    array([1.3125], dtype=float32)
    """
    y, y_pred = _pair(y_true, y_pred)
    error = y_pred - Tensor._wrap(y)
    abs_error = ops.abs(error)
    quadratic = 0.5 * error * error
    linear = delta * abs_error - 0.5 * delta * delta
    return _mean_last(ops.where(ops.less_equal(abs_error, delta), quadratic, linear))


def hinge(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """mean(max(1 - y·ŷ, 0)) over the last axis, for labels y in {-1, +1}.
    Labels in {0, 1} are first turned into {-1, +1} (Keras).

    Args:
        y_true: labels in {-1, +1} (or {0, 1}).
        y_pred: the predicted scores.

    Returns:
        One loss per sample: a tensor of ``y_pred``'s shape without its last axis.

    Example:

    >>> hinge([[1.0, 0.0]], [[0.5, -2.0]]).numpy()     # 0/1 labels become ±1
    array([0.25], dtype=float32)
    """
    y, y_pred = _pair(y_true, y_pred)
    target = Tensor._wrap(_signed_labels(y, y_pred.dtype))
    return _mean_last(ops.relu(1 - target * y_pred))


@graph.replayed
def _smoothed(y: np.ndarray, label_smoothing: float, spread: float, dtype: Any) -> np.ndarray:
    """Targets moved toward uniform: y·(1 - label_smoothing) + spread (Keras)."""
    if label_smoothing:
        y = y * (1 - label_smoothing) + spread
    return np.asarray(y, dtype=dtype)


@graph.replayed
def _signed_labels(y: np.ndarray, dtype: Any) -> np.ndarray:
    """Labels in {0, 1} as {-1, +1} (Keras' hinge losses); others as they are."""
    if np.all((y == 0) | (y == 1)):
        y = 2 * y - 1
    return np.asarray(y, dtype=dtype)


mse = mean_squared_error
mae = mean_absolute_error


# --------------------------------------------------------------------------
# Loss objects
# --------------------------------------------------------------------------
_REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@graph.replayed       # (NumPy on the weights: a compiled step computes it for each batch)
def _sample_weights(sample_weight: TensorLike, shape: tuple[int, ...],
                    dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """The sample weights broadcastable to the per-sample losses of ``shape``,
    and their sum over those losses (the divisor of "mean_with_sample_weight";
    infinity when it is 0, so the mean is 0 there)."""
    weights = _target(sample_weight, dtype)
    if weights.ndim == len(shape) + 1 and weights.shape[-1] == 1:
        weights = weights[..., 0]
    try:
        np.broadcast_shapes(weights.shape, shape)
    except ValueError:
        raise ValueError(f"sample_weight has shape {weights.shape} but the per-sample "
                         f"losses have shape {shape}; give one weight per "
                         f"sample") from None
    if weights.ndim < len(shape):     # (N,) weights for (N, T) losses
        weights = weights.reshape(weights.shape + (1,) * (len(shape) - weights.ndim))
    weight_sum = float(np.broadcast_to(weights, shape).sum())
    return weights, np.asarray(weight_sum if weight_sum else np.inf, dtype)


@graph.replayed       # (NumPy on the mask: a compiled step computes it for each batch)
def _mask_weights(mask: np.ndarray, sample_weight: TensorLike | None, values: Tensor,
                  reduction: str | None) -> np.ndarray:
    """Fold a prediction's mask into the sample weights, as Keras 3
    ``keras/src/losses/loss.py`` ``apply_mask``: for a mean, an unmasked entry
    weighs total/valid and a masked one 0, so the mean runs over unmasked
    entries only (Σ w·loss / valid); for other reductions the mask is 0/1."""
    mask = np.asarray(mask, bool)
    if mask.shape != values.shape:
        raise ValueError(f"the prediction's mask has shape {mask.shape} but the per-sample "
                         f"losses have shape {values.shape}; the mask must match them")
    if reduction in ("sum_over_batch_size", "mean"):
        valid = mask.sum()
        weight = mask.size / valid if valid else 0.0
        mask = np.where(mask, weight, 0.0)
    mask = mask.astype(values.dtype)
    if sample_weight is None:
        return mask
    weights = np.asarray(getattr(sample_weight, "data", sample_weight), values.dtype)
    if weights.ndim == mask.ndim + 1 and weights.shape[-1] == 1:
        weights = weights[..., 0]
    weights = weights.reshape(weights.shape + (1,) * (mask.ndim - weights.ndim))
    return weights * mask


class Loss:
    """Base class: subclasses write ``call(y_true, y_pred)`` returning one
    loss per sample; ``__call__`` weights and reduces them.

    ``reduction``: "sum_over_batch_size" (default, = "mean"): Σ w·loss / count;
    "sum": Σ w·loss; "mean_with_sample_weight": Σ w·loss / Σ w; "none": the
    weighted per-sample losses.

    Args:
        name: the loss's name in the logs; None makes one from the class name.
        reduction: how the per-sample losses become one value (see above).

    Example:

    >>> class AbsoluteError(Loss):
    ...     def call(self, y_true, y_pred):
    ...         return cr.ops.abs(cr.as_tensor(y_pred) - cr.tensor(y_true))
    >>> AbsoluteError()([1.0, 2.0], [1.5, 3.0]).numpy()
    array(0.75, dtype=float32)
    >>> AbsoluteError(reduction="none")([1.0, 2.0], [1.5, 3.0]).numpy()
    array([0.5, 1. ], dtype=float32)
    """

    def __init__(self, name: str | None = None,
                 reduction: str | None = "sum_over_batch_size") -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {list(_REDUCTIONS)}, got {reduction!r}")
        self.name = name or _snake_case(type(self).__name__)
        self.reduction = reduction

    def call(self, y_true: TensorLike, y_pred: TensorLike) -> Tensor:
        """The per-sample losses, before weighting and reduction.

        Args:
            y_true: the targets (an array or a tensor; never differentiated).
            y_pred: the predictions, a tensor (or an array).

        Returns:
            One loss per sample (or one per sample and time step).
        """
        raise NotImplementedError("a Loss subclass must define call(y_true, y_pred)")

    def __call__(self, y_true: TensorLike, y_pred: TensorLike,
                 sample_weight: TensorLike | None = None) -> Tensor:
        """The loss of a batch: ``call``, weighted by ``sample_weight`` and reduced.

        Args:
            y_true: the targets (an array or a tensor; never differentiated).
            y_pred: the predictions, a tensor (or an array). A mask it carries (from a ``Masking``
                layer) leaves masked steps out.
            sample_weight: one weight per sample (broadcast to the per-sample losses), or None.

        Returns:
            A scalar tensor, or the weighted per-sample losses with ``reduction="none"``.
        """
        mask = get_keras_mask(y_pred)
        values = self.call(y_true, y_pred)
        if not isinstance(values, Tensor):
            values = as_tensor(values)
        if mask is not None:
            sample_weight = _mask_weights(mask, sample_weight, values, self.reduction)
        weights = None
        if sample_weight is not None:
            weights, divisor = _sample_weights(sample_weight, values.shape, values.dtype)
            values = values * Tensor._wrap(weights)
        if self.reduction in ("none", None) or values.ndim == 0:
            return values
        if self.reduction in ("sum_over_batch_size", "mean") and values.size:
            return ops.mean(values)
        total = ops.sum(values)
        if self.reduction == "sum":
            return total
        if self.reduction == "mean_with_sample_weight" and weights is not None:
            return total / Tensor._wrap(divisor)
        return total / values.size if values.size else total

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for ``from_config``.

        Returns:
            A dict of the constructor's keyword arguments.
        """
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """A loss made from ``get_config``'s dict.

        Args:
            config: the constructor's keyword arguments.

        Returns:
            A new loss of this class.
        """
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class LossFunctionWrapper(Loss):
    """A Loss made from a function ``fn(y_true, y_pred, **kwargs)`` that
    returns per-sample losses (or already a scalar).

    Args:
        fn: the function ``fn(y_true, y_pred, **kwargs)``.
        name: the loss's name; None takes the function's name.
        reduction: see ``Loss``.
        **kwargs: passed to ``fn`` on every call (and saved in the config).

    Example:

    >>> loss = LossFunctionWrapper(lambda y, p: (p - y) ** 2, name="squares")
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None,
                 reduction: str | None = "sum_over_batch_size", **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        super().__init__(name=name or getattr(fn, "__name__", None) or "loss",
                         reduction=reduction)
        self.fn = fn
        self.fn_kwargs = kwargs

    def call(self, y_true: TensorLike, y_pred: TensorLike) -> Tensor:
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self.fn_kwargs}


def _check_smoothing(label_smoothing: float) -> float:
    label_smoothing = float(label_smoothing)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    return label_smoothing


class BinaryCrossentropy(Loss):
    """Cross-entropy for 0/1 targets and one probability (or logit) per output.

    Args:
        from_logits: the predictions are logits rather than probabilities.
        label_smoothing: s in [0, 1]: the targets are smoothed (see the function).
        reduction: ``"sum_over_batch_size"`` (the mean, the default), ``"sum"``,
            ``"mean_with_sample_weight"`` or ``"none"``; see ``Loss``.
        name: the loss's name in the logs.

    Example:

    >>> bce = BinaryCrossentropy(from_logits=True)
    >>> round(float(bce([[1.0]], [[0.0]])), 4)     # -log σ(0) = log 2
    0.6931
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 reduction: str | None = "sum_over_batch_size",
                 name: str = "binary_crossentropy") -> None:
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_smoothing(label_smoothing)

    def call(self, y_true: TensorLike, y_pred: TensorLike) -> Tensor:
        return binary_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(Loss):
    """Cross-entropy for one-hot targets.

    Args:
        from_logits: the predictions are logits rather than probabilities.
        label_smoothing: s in [0, 1]: the targets are smoothed (see the function).
        axis: the class axis.
        reduction: ``"sum_over_batch_size"`` (the mean, the default), ``"sum"``,
            ``"mean_with_sample_weight"`` or ``"none"``; see ``Loss``.
        name: the loss's name in the logs.

    Example:

    >>> cce = CategoricalCrossentropy()
    >>> round(float(cce([[0, 1, 0]], [[0.05, 0.95, 0.0]])), 4)   # -log 0.95
    0.0513
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size",
                 name: str = "categorical_crossentropy") -> None:
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_smoothing(label_smoothing)
        self.axis = int(axis)

    def call(self, y_true: TensorLike, y_pred: TensorLike) -> Tensor:
        return categorical_crossentropy(y_true, y_pred, self.from_logits,
                                        self.label_smoothing, self.axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer labels, shape (N,) or (N, 1): the mean over
    the batch of -log p[label] (Keras' ``SparseCategoricalCrossentropy``).

    Args:
        from_logits: the predictions are logits (softmax is applied inside,
            in the stable log-softmax form) rather than probabilities.
        reduction: ``"sum_over_batch_size"`` (the mean, the default), ``"sum"``,
            or ``"none"`` (one value per sample); see ``Loss``.
        name: the loss's name in the logs.

    Example:

    >>> scce = SparseCategoricalCrossentropy()
    >>> round(float(scce([1], [[0.05, 0.95, 0.0]])), 4)          # -log 0.95
    0.0513
    """

    def __init__(self, from_logits: bool = False, reduction: str | None = "sum_over_batch_size",
                 name: str = "sparse_categorical_crossentropy") -> None:
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)

    def call(self, y_true: TensorLike, y_pred: TensorLike) -> Tensor:
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}


class MeanSquaredError(Loss):
    """mean((y - ŷ)²).

    Args:
        reduction: ``"sum_over_batch_size"`` (the mean, the default), ``"sum"``,
            ``"mean_with_sample_weight"`` or ``"none"``; see ``Loss``.
        name: the loss's name in the logs.

    Example:

    >>> float(MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]]))
    0.5
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_squared_error") -> None:
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true: TensorLike, y_pred: TensorLike) -> Tensor:
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    """mean(|y - ŷ|).

    Args:
        reduction: ``"sum_over_batch_size"`` (the mean, the default), ``"sum"``,
            ``"mean_with_sample_weight"`` or ``"none"``; see ``Loss``.
        name: the loss's name in the logs.

    Example:

    >>> float(MeanAbsoluteError()([[0.0, 1.0]], [[2.0, 1.0]]))
    1.0
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_absolute_error") -> None:
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true: TensorLike, y_pred: TensorLike) -> Tensor:
        return mean_absolute_error(y_true, y_pred)


class Huber(Loss):
    """Huber loss: ½e² for |e| ≤ delta, delta·|e| - ½delta² beyond.

    Args:
        delta: δ > 0, where the quadratic part turns linear.
        reduction: ``"sum_over_batch_size"`` (the mean, the default), ``"sum"``,
            ``"mean_with_sample_weight"`` or ``"none"``; see ``Loss``.
        name: the loss's name in the logs.

    Example:

    >>> float(Huber(delta=1.0)([[0.0]], [[3.0]]))    # 1·3 - ½
    2.5
    """

    def __init__(self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size",
                 name: str = "huber_loss") -> None:
        super().__init__(name=name, reduction=reduction)
        self.delta = float(delta)
        if self.delta <= 0:
            raise ValueError(f"delta must be positive, got {delta}")

    def call(self, y_true: TensorLike, y_pred: TensorLike) -> Tensor:
        return huber(y_true, y_pred, self.delta)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "delta": self.delta}


class Hinge(Loss):
    """max(1 - y·ŷ, 0) for labels in {-1, +1} (0/1 labels are converted).

    Args:
        reduction: ``"sum_over_batch_size"`` (the mean, the default), ``"sum"``,
            ``"mean_with_sample_weight"`` or ``"none"``; see ``Loss``.
        name: the loss's name in the logs.

    Example:

    >>> float(Hinge()([[1.0]], [[0.25]]))
    0.75
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "hinge") -> None:
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true: TensorLike, y_pred: TensorLike) -> Tensor:
        return hinge(y_true, y_pred)


# --------------------------------------------------------------------------
# Lookup and serialization
# --------------------------------------------------------------------------
# Keras' names: class names, the functions' snake_case names, short aliases.
_REGISTRY = Registry("loss", {
    **class_and_snake_names(BinaryCrossentropy, CategoricalCrossentropy,
                            SparseCategoricalCrossentropy, MeanSquaredError, MeanAbsoluteError,
                            Huber, Hinge),
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mse": MeanSquaredError, "mae": MeanAbsoluteError, "huber_loss": Huber,
})

LossLike = Union[str, dict, "Loss", type, Callable[..., Any], None]

# Our own functions map to their classes, so get(losses.mse) can be saved.
_FUNCTIONS = {
    binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
    huber: Huber, hinge: Hinge,
}


def serialize(loss: Loss) -> dict[str, Any]:
    """{"class_name": ..., "config": ...} for a Loss object.

    Args:
        loss: a ``Loss`` object (a wrapped function must have a name).

    Returns:
        A dict that ``deserialize`` turns back into an equal loss.

    Example:

    >>> serialize(Huber(delta=2.0))
    {'class_name': 'Huber',
     'config': {'name': 'huber_loss', 'reduction': 'sum_over_batch_size', 'delta': 2.0}}
    """
    if not isinstance(loss, Loss):
        raise TypeError(f"serialize needs a Loss object, got {type(loss).__name__}")
    if type(loss) is LossFunctionWrapper:
        # a named function is saved by name (its registered "package>name" if any),
        # and found again among the custom objects when loading, as Keras
        if getattr(loss.fn, "__name__", "<lambda>") == "<lambda>":
            raise TypeError(f"the loss {loss.name!r} wraps a lambda, which cannot be saved "
                            f"(loading never runs code): give the function a name, or "
                            f"subclass chainrule.losses.Loss")
        return {"class_name": "LossFunctionWrapper",
                "config": {"fn": get_registered_name(loss.fn), **loss.get_config()}}
    return _REGISTRY.serialize(loss)


def deserialize(config: dict[str, Any]) -> Loss:
    """The Loss object a ``serialize`` dict describes (a wrapped function is
    looked up by name among the custom objects, see ``chainrule.saving``).

    Args:
        config: a dict ``{"class_name": ..., "config": {...}}``.

    Returns:
        The ``Loss`` object.

    Example:

    >>> deserialize({"class_name": "Huber", "config": {"delta": 2.0}}).delta
    2.0
    """
    if isinstance(config, dict) and config.get("class_name") == "LossFunctionWrapper":
        kwargs = dict(config.get("config") or {})
        name = kwargs.pop("fn", None)
        fn = get_registered_object(name) if isinstance(name, str) else None
        if fn is None:
            raise _REGISTRY.unknown(name)
        return LossFunctionWrapper(fn, **kwargs)
    return _REGISTRY.deserialize(config)


@overload
def get(identifier: None) -> None: ...
@overload
def get(identifier: str | dict | Loss | type | Callable[..., Any]) -> Loss: ...
def get(identifier: LossLike) -> Loss | None:
    """A Loss object from a Keras name (``"sparse_categorical_crossentropy"``,
    ``"mse"``...), a class name, a config dict, a Loss object (returned as it
    is) or a function ``fn(y_true, y_pred)`` (wrapped; reduced by the mean).

    Args:
        identifier: a name, a ``Loss`` class or object, a config dict, a function ``fn(y_true,
            y_pred)``, or None.

    Returns:
        A ``Loss`` object, or None for None.

    Example:

    >>> get("mse")
    MeanSquaredError(name='mean_squared_error', reduction='sum_over_batch_size')
    """
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        return get(_REGISTRY.lookup(identifier))
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        for fn, cls in _FUNCTIONS.items():
            if fn is identifier:
                return cls()
        return LossFunctionWrapper(identifier)
    raise TypeError(f"cannot interpret {identifier!r} as a loss: give a name such as "
                    f"'mse', a Loss object, a config dict or a function (y_true, y_pred)")
