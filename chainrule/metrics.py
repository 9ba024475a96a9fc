"""Metrics with Keras 3's definitions: what training reports, not what it
differentiates.

Metrics work on NumPy (a Tensor is read through ``.numpy()``; no graph is
recorded). Two faces, as in Keras:

- functions (``binary_accuracy``, ``categorical_accuracy``,
  ``sparse_categorical_accuracy``, ``mean_squared_error``...) return one value
  per sample as a NumPy array;
- stateful objects accumulate over batches: ``update_state(y_true, y_pred,
  sample_weight=None)``, ``result()`` (a Python float), ``reset_state()``.

>>> import chainrule as cr
>>> m = cr.metrics.SparseCategoricalAccuracy()
>>> m.update_state([0, 1], [[0.9, 0.1], [0.8, 0.2]])
>>> m.update_state([1], [[0.3, 0.7]])
>>> round(m.result(), 4)          # 2 right out of 3
0.6667
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, Union, overload

import numpy as np

from . import graph
from .masks import get_keras_mask
from .registry import (Registry, UnknownNameError, class_and_snake_names, get_registered_name,
                       get_registered_object)
from .tensor import Tensor
from .typing import DTypeLike, TensorLike

MetricLike = Union[str, dict, "Metric", type, Callable[..., Any], None]

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "SparseCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "deserialize",
    "get",
    "mae",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mse",
    "serialize",
    "sparse_categorical_accuracy",
]

EPSILON = 1e-7      # Keras' backend.epsilon(), used for AUC's end thresholds


def _array(x: TensorLike) -> np.ndarray:
    """A Tensor, list or array as a NumPy array (Tensors without copying)."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _match_ranks(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keras' squeeze-or-expand rule: (N,) next to (N, 1) gets the trailing 1
    added (or removed on the longer side); then the shapes must agree."""
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    elif y_pred.ndim == y_true.ndim - 1 and y_true.shape[-1] == 1:
        y_pred = y_pred[..., None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape "
                         f"{y_pred.shape}; they must match (a trailing 1 may differ)")
    return y_true, y_pred


def _mean_last(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis; a 1-D array already holds one value per sample."""
    return values if values.ndim <= 1 else values.mean(axis=-1)


# --------------------------------------------------------------------------
# Per-sample functions
# --------------------------------------------------------------------------
def accuracy(y_true: TensorLike, y_pred: TensorLike) -> np.ndarray:
    """1 where y_pred equals y_true exactly (averaged over the last axis).

    Args:
        y_true: the targets (an array, a list or a tensor).
        y_pred: the predictions (an array, a list or a tensor).

    Returns:
        One value per sample, a NumPy float array.

    Example:

    >>> accuracy([[1], [2]], [[1], [3]])
    array([1., 0.], dtype=float32)
    """
    y_true, y_pred = _match_ranks(_array(y_true), _array(y_pred))
    return _mean_last((y_true == y_pred).astype(np.float32))


def binary_accuracy(y_true: TensorLike, y_pred: TensorLike, threshold: float = 0.5) -> np.ndarray:
    """1 where (y_pred > threshold) equals the 0/1 label (mean over the last axis).

    Args:
        y_true: 0/1 labels.
        y_pred: predicted probabilities.
        threshold: a prediction above it counts as 1.

    Returns:
        One value per sample, a NumPy float array.

    Example:

    >>> binary_accuracy([[1], [0]], [[0.7], [0.7]])
    array([1., 0.], dtype=float32)
    """
    y_true, y_pred = _match_ranks(_array(y_true), _array(y_pred))
    return _mean_last((y_true == (y_pred > threshold)).astype(np.float32))


def categorical_accuracy(y_true: TensorLike, y_pred: TensorLike) -> np.ndarray:
    """1 where argmax(y_pred) equals argmax(y_true), for one-hot targets.

    Args:
        y_true: one-hot targets (N, C).
        y_pred: class scores (N, C).

    Returns:
        One value per sample, a NumPy float array.

    Example:

    >>> categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    array([0., 1.], dtype=float32)
    """
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}; "
                         f"categorical accuracy needs one-hot targets of the same shape "
                         f"(for integer labels use sparse_categorical_accuracy)")
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true: TensorLike, y_pred: TensorLike) -> np.ndarray:
    """1 where argmax(y_pred) equals the integer label (shape (N,) or (N, 1)).

    Args:
        y_true: integer labels, (N,) or (N, 1).
        y_pred: class scores (N, C).

    Returns:
        One value per sample, a NumPy float array.

    Example:

    >>> sparse_categorical_accuracy([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    array([0., 1.], dtype=float32)
    """
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.ndim > 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}; "
                         f"integer labels need shape {y_pred.shape[:-1]} or "
                         f"{y_pred.shape[:-1] + (1,)}")
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float32)


def mean_squared_error(y_true: TensorLike, y_pred: TensorLike) -> np.ndarray:
    """mean((y - ŷ)²) over the last axis.

    Args:
        y_true: the targets (an array, a list or a tensor).
        y_pred: the predictions (an array, a list or a tensor).

    Returns:
        One value per sample, a NumPy float array.

    Example:

    >>> mean_squared_error([[0.0, 2.0]], [[1.0, 1.0]])
    array([1.])
    """
    y_true, y_pred = _match_ranks(_array(y_true), _array(y_pred))
    return _mean_last(np.square(y_true - y_pred))


def mean_absolute_error(y_true: TensorLike, y_pred: TensorLike) -> np.ndarray:
    """mean(|y - ŷ|) over the last axis.

    Args:
        y_true: the targets (an array, a list or a tensor).
        y_pred: the predictions (an array, a list or a tensor).

    Returns:
        One value per sample, a NumPy float array.

    Example:

    >>> mean_absolute_error([[0.0, 2.0]], [[1.0, 1.0]])
    array([1.])
    """
    y_true, y_pred = _match_ranks(_array(y_true), _array(y_pred))
    return _mean_last(np.abs(y_true - y_pred))


def mean_absolute_percentage_error(y_true: TensorLike, y_pred: TensorLike) -> np.ndarray:
    """100 · mean(|y - ŷ| / max(|y|, 1e-7)) over the last axis (as Keras 3
    ``keras/src/losses/losses.py`` ``mean_absolute_percentage_error``).

    Args:
        y_true: the targets (an array, a list or a tensor).
        y_pred: the predictions (an array, a list or a tensor).

    Returns:
        One value per sample, a NumPy float array.

    Example:

    >>> mean_absolute_percentage_error([[2.0, 4.0]], [[1.0, 5.0]])
    array([37.5])
    """
    y_true, y_pred = _match_ranks(_array(y_true), _array(y_pred))
    return 100.0 * _mean_last(np.abs(y_true - y_pred) / np.maximum(np.abs(y_true), 1e-7))


mse = mean_squared_error
mae = mean_absolute_error


# --------------------------------------------------------------------------
# Stateful metrics
# --------------------------------------------------------------------------
class _ResetAfterInit(type):
    """Runs ``_after_init`` once the whole ``__init__`` chain has finished, so a
    subclass creates its state after ``super().__init__()`` (Keras 3)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        metric = super().__call__(*args, **kwargs)
        metric._after_init()
        return metric


class Metric(metaclass=_ResetAfterInit):
    """Base class: ``update_state`` accumulates, ``result`` reads, ``reset_state``
    starts over. Calling a metric updates it and returns the result.

    State is either variables made by ``add_variable`` in ``__init__`` after
    ``super().__init__()`` (Keras 3's way; the default ``reset_state`` zeroes
    them) or plain attributes that the subclass's ``reset_state`` sets, which
    runs once when the object is complete.

    Args:
        name: the metric's name in the logs; None makes one from the class name.
        dtype: the dtype of the state variables (default float64).

    Example:

    >>> class Count(Metric):
    ...     def __init__(self, name="count"):
    ...         super().__init__(name=name)
    ...         self.seen = self.add_variable((), initializer=0)
    ...     def update_state(self, values):
    ...         self.seen.assign_add(len(values))
    ...     def result(self):
    ...         return float(self.seen.numpy())
    >>> m = Count()
    >>> m.update_state([1, 2, 3])
    >>> m.update_state([4])
    >>> m.result()
    4.0
    >>> m.reset_state()
    >>> m.result()
    0.0
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A metric updated inside a cr.jit step is updated at every replay.
        super().__init_subclass__(**kwargs)
        update = cls.__dict__.get("update_state")
        if update is not None and not hasattr(update, "__wrapped__"):
            cls.update_state = graph.effect(update)  # type: ignore[method-assign]

    def __init__(self, name: str | None = None, dtype: DTypeLike | None = None) -> None:
        self.name = name or type(self).__name__.lower()
        self.dtype = np.dtype(dtype or np.float64)
        self._variables: list[Tensor] = []

    def _after_init(self) -> None:
        # Variables start at their initializer's value (Keras); attribute
        # state is created by reset_state.
        if not self.__dict__.get("_variables"):
            self.reset_state()

    def add_variable(self, shape: int | Sequence[int], initializer: Any,
                     dtype: DTypeLike | None = None, aggregation: str = "sum",
                     name: str | None = None) -> Tensor:
        """A state variable (a Tensor that needs no gradient), tracked by the metric.

        As Keras 3 ``keras/src/metrics/metric.py`` ``add_variable``: update it
        with ``assign``/``assign_add``; ``aggregation`` is accepted for
        compatibility (one process: nothing to aggregate here).

        Args:
            shape: the variable's shape.
            initializer: a number, or an initializer (name or object).
            dtype: its dtype; None uses the metric's.
            aggregation: accepted for Keras compatibility.
            name: the variable's name.

        Returns:
            The variable, a ``Tensor``.
        """
        from . import initializers
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
        dtype = np.dtype(dtype or self.dtype)
        if isinstance(initializer, (int, float)) and not isinstance(initializer, bool):
            value = np.full(shape, initializer, dtype)
        else:
            value = initializers.get(initializer)(shape, dtype=dtype)
        variable = Tensor(np.array(value, dtype=dtype), name=name)
        self.__dict__.setdefault("_variables", []).append(variable)
        return variable

    def add_weight(self, shape: int | Sequence[int] = (), initializer: Any = None,
                   dtype: DTypeLike | None = None, name: str | None = None) -> Tensor:
        """Keras' older name for :meth:`add_variable` (zeros by default).

        Args:
            shape: the variable's shape.
            initializer: a number or an initializer; None means zeros.
            dtype: its dtype; None uses the metric's.
            name: the variable's name.

        Returns:
            The variable, a ``Tensor``.
        """
        return self.add_variable(shape, initializer or "zeros", dtype=dtype, name=name)

    @property
    def variables(self) -> list[Tensor]:
        """The state variables made by ``add_variable``."""
        return list(self.__dict__.get("_variables", []))

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulate one batch into the state.

        Args:
            *args: what the metric measures: ``(y_true, y_pred)`` for most.
            **kwargs: ``sample_weight`` and the like.
        """
        raise NotImplementedError

    def result(self) -> float:
        """The value of the metric over everything accumulated so far.

        Returns:
            The metric's value, a Python float.
        """
        raise NotImplementedError

    def reset_state(self) -> None:
        """Zero every state variable (Keras' default); metrics that keep their
        state in attributes override this."""
        for variable in self.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        """``update_state(*args, **kwargs)``, then ``result()``.

        Args:
            *args: passed to ``update_state``.
            **kwargs: passed to ``update_state``.

        Returns:
            ``result()`` after the update.
        """
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for ``from_config``.

        Returns:
            A dict of the constructor's keyword arguments.
        """
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """A metric made from ``get_config``'s dict.

        Args:
            config: the constructor's keyword arguments.

        Returns:
            A new metric of this class.
        """
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """The (weighted) mean of all values seen: Σ w·v / Σ w.

    Values with more than one axis are first averaged per sample, so each
    sample counts once (Keras).

    Args:
        name: the metric's name.
        dtype: the dtype of the state variables (default float64).

    Example:

    >>> m = Mean()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    2.0
    """

    def __init__(self, name: str | None = "mean", dtype: DTypeLike | None = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values: TensorLike, sample_weight: TensorLike | None = None) -> None:
        """Add a batch of values to the running mean.

        Args:
            values: the values, one per sample (extra axes are averaged per sample).
            sample_weight: one weight per sample, or None (all 1).
        """
        array = np.asarray(_array(values), dtype=np.float64)
        if sample_weight is None:
            if array.ndim > 1:
                array = array.reshape(array.shape[0], -1).mean(axis=1)
            self.total += float(array.sum())
            self.count += array.shape[0] if array.ndim else 1
            return
        weights = np.asarray(_array(sample_weight), dtype=np.float64)
        if weights.ndim == array.ndim + 1 and weights.shape[-1] == 1:
            weights = weights[..., 0]
        elif array.ndim == weights.ndim + 1 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim > weights.ndim:     # average the extra axes per sample
            array = array.mean(axis=tuple(range(weights.ndim, array.ndim)))
        try:
            weights = np.broadcast_to(weights, array.shape)
        except ValueError:
            raise ValueError(f"sample_weight has shape {weights.shape} but the values have "
                             f"shape {array.shape}; give one weight per sample") from None
        weighted = array * weights
        if weighted.ndim > 1:       # per sample: mean(w·v) over mean(w), as Keras 3
            weighted = weighted.reshape(weighted.shape[0], -1).mean(axis=1)
        self.total += float(weighted.sum())
        if weights.ndim > 1:
            weights = weights.reshape(weights.shape[0], -1).mean(axis=1)
        self.count += float(weights.sum())

    def result(self) -> float:
        return float(self.total / self.count) if self.count else 0.0


def _mask_as_weights(mask: np.ndarray, sample_weight: TensorLike | None) -> np.ndarray:
    """A prediction's mask as 0/1 sample weights (times any given), so masked
    steps are left out, as Keras 3 ``reduction_metrics.py`` (``apply_mask``, "sum")."""
    mask = np.asarray(mask, dtype=np.float64)
    if sample_weight is None:
        return mask
    weights = np.asarray(_array(sample_weight), dtype=np.float64)
    if weights.ndim == mask.ndim + 1 and weights.shape[-1] == 1:
        weights = weights[..., 0]
    return weights.reshape(weights.shape + (1,) * (mask.ndim - weights.ndim)) * mask


class MeanMetricWrapper(Mean):
    """The running mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: the per-sample function ``fn(y_true, y_pred, **kwargs)``.
        name: the metric's name; None takes the function's.
        dtype: the dtype of the state variables (default float64).
        **kwargs: passed to ``fn`` on every update.

    Example:

    >>> m = MeanMetricWrapper(lambda y, p: np.abs(np.subtract(y, p)), name="abs")
    >>> m.update_state([1.0, 2.0], [1.5, 2.0])
    >>> m.result()
    0.25
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None,
                 dtype: DTypeLike | None = None, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.fn_kwargs = kwargs
        super().__init__(name=name or getattr(fn, "__name__", "metric"), dtype=dtype)

    def update_state(self, y_true: TensorLike, y_pred: TensorLike,  # type: ignore[override]
                     sample_weight: TensorLike | None = None) -> None:
        """Add ``fn(y_true, y_pred)`` of a batch to the running mean.

        Args:
            y_true: the targets (an array, a list or a tensor).
            y_pred: the predictions (an array, a list or a tensor). A mask it carries leaves masked
                steps out.
            sample_weight: one weight per sample, or None.
        """
        mask = get_keras_mask(y_pred)
        values = self.fn(y_true, y_pred, **self.fn_kwargs)
        if mask is not None:
            sample_weight = _mask_as_weights(mask, sample_weight)
        super().update_state(_array(values), sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.fn_kwargs}


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly.

    Args:
        name: the metric's name in the logs.
        dtype: the dtype of the state variables (default float64).

    Example:

    >>> Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    0.75
    """

    def __init__(self, name: str | None = "accuracy", dtype: DTypeLike | None = None) -> None:
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) matches the 0/1 label.

    Args:
        name: the metric's name in the logs.
        dtype: the dtype of the state variables (default float64).
        threshold: a prediction above it counts as 1; in (0, 1).

    Example:

    >>> BinaryAccuracy()([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    0.75
    """

    def __init__(self, name: str | None = "binary_accuracy", dtype: DTypeLike | None = None,
                 threshold: float = 0.5) -> None:
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=float(threshold))
        self.threshold = float(threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches the one-hot target's argmax.

    Args:
        name: the metric's name in the logs.
        dtype: the dtype of the state variables (default float64).

    Example:

    >>> CategoricalAccuracy()([[0, 1], [1, 0]], [[0.3, 0.7], [0.4, 0.6]])
    0.5
    """

    def __init__(self, name: str | None = "categorical_accuracy",
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches the integer label.

    Args:
        name: the metric's name in the logs.
        dtype: the dtype of the state variables (default float64).

    Example:

    >>> SparseCategoricalAccuracy()([1, 0], [[0.3, 0.7], [0.4, 0.6]])
    0.5
    """

    def __init__(self, name: str | None = "sparse_categorical_accuracy",
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    """Running mean of mean((y - ŷ)²).

    Args:
        name: the metric's name in the logs.
        dtype: the dtype of the state variables (default float64).

    Example:

    >>> MeanSquaredError()([[0.0, 2.0]], [[1.0, 1.0]])
    1.0
    """

    def __init__(self, name: str | None = "mean_squared_error",
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean of mean(|y - ŷ|).

    Args:
        name: the metric's name in the logs.
        dtype: the dtype of the state variables (default float64).

    Example:

    >>> MeanAbsoluteError()([[0.0, 2.0]], [[1.0, 1.0]])
    1.0
    """

    def __init__(self, name: str | None = "mean_absolute_error",
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Running mean of 100 · mean(|y - ŷ| / |y|) (``|y|`` at least 1e-7).

    Args:
        name: the metric's name in the logs.
        dtype: the dtype of the state variables (default float64).

    Example:

    >>> MeanAbsolutePercentageError()([[2.0, 4.0]], [[1.0, 5.0]])
    37.5
    """

    def __init__(self, name: str | None = "mean_absolute_percentage_error",
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)


# --------------------------------------------------------------------------
# Confusion-matrix metrics: AUC, precision, recall
# --------------------------------------------------------------------------
def _labels_and_scores(y_true: TensorLike, y_pred: TensorLike, sample_weight: TensorLike | None,
                       metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flatten labels, scores and weights to 1-D (every entry counts, as
    Keras with multi_label=False), checking the scores are probabilities."""
    y_true, y_pred = _match_ranks(np.asarray(_array(y_true)), np.asarray(_array(y_pred)))
    if y_pred.size and (np.nanmin(y_pred) < 0 or np.nanmax(y_pred) > 1):
        raise ValueError(f"{metric}: predictions must be probabilities in [0, 1], got values in "
                         f"[{np.nanmin(y_pred):g}, {np.nanmax(y_pred):g}]; for logits apply "
                         f"a sigmoid first" + (" or pass from_logits=True" if metric == "AUC" else ""))
    if sample_weight is None:
        weights = np.ones(y_pred.size)
    else:
        weights = np.asarray(_array(sample_weight), dtype=np.float64)
        if weights.ndim == y_pred.ndim - 1:
            weights = weights[..., None]
        try:
            weights = np.broadcast_to(weights, y_pred.shape).ravel()
        except ValueError:
            raise ValueError(f"sample_weight has shape {np.shape(sample_weight)} but y_pred has "
                             f"shape {y_pred.shape}; give one weight per sample") from None
    return (y_true.ravel() != 0), y_pred.ravel().astype(np.float64), weights


def _confusion_counts(is_positive: np.ndarray, scores: np.ndarray, weights: np.ndarray,
                      thresholds: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted TP, FP, TN, FN at each threshold; a score counts as a
    positive prediction when it is strictly greater than the threshold."""
    # above[k] = how many thresholds each score exceeds -> bucket of the score.
    above = np.searchsorted(thresholds, scores, side="left")
    n = len(thresholds)
    pos = np.bincount(above, weights=weights * is_positive, minlength=n + 1)
    neg = np.bincount(above, weights=weights * ~is_positive, minlength=n + 1)
    # A score in bucket b exceeds thresholds 0..b-1: reverse cumulative sums.
    tp = np.cumsum(pos[::-1])[::-1][1:]
    fp = np.cumsum(neg[::-1])[::-1][1:]
    return tp, fp, neg.sum() - fp, pos.sum() - tp


def _divide_no_nan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b != 0)


class AUC(Metric):
    """Area under the ROC (or precision-recall) curve, as Keras computes it:
    confusion counts at ``num_thresholds`` evenly spaced thresholds
    (0 - ε, 1/(n-1), ..., (n-2)/(n-1), 1 + ε), then a Riemann sum whose heights
    are ``summation_method``: "interpolation" (trapezoids), "minoring" or
    "majoring". The PR curve with interpolation uses Davis & Goadrich's
    interpolation, as Keras.

    Args:
        num_thresholds: how many thresholds (> 1) the curve is measured at.
        curve: ``"ROC"`` or ``"PR"`` (precision-recall).
        summation_method: ``"interpolation"``, ``"minoring"`` or ``"majoring"``.
        name: the metric's name in the logs.
        dtype: the dtype of the state variables (default float64).
        thresholds: explicit thresholds in [0, 1] (then ``num_thresholds`` is ignored), or None.
        from_logits: the predictions are logits (a sigmoid is applied).

    Example:

    >>> auc = AUC()
    >>> auc.update_state([0, 0, 1, 1], [0.0, 0.5, 0.3, 0.9])
    >>> auc.result()
    0.75
    """

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str | None = "auc",
                 dtype: DTypeLike | None = None, thresholds: Sequence[float] | None = None,
                 from_logits: bool = False) -> None:
        curve, summation_method = str(curve).upper(), str(summation_method).lower()
        if curve not in ("ROC", "PR"):
            raise ValueError(f"curve must be 'ROC' or 'PR', got {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"summation_method must be 'interpolation', 'minoring' or "
                             f"'majoring', got {summation_method!r}")
        if thresholds is not None:
            inner = np.sort(np.asarray(thresholds, dtype=np.float64))
            if inner.size and (inner.min() < 0 or inner.max() > 1):
                raise ValueError("thresholds must lie in [0, 1]")
            num_thresholds = inner.size + 2
        else:
            if int(num_thresholds) <= 1:
                raise ValueError(f"num_thresholds must be > 1, got {num_thresholds}")
            num_thresholds = int(num_thresholds)
            inner = np.array([(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)])
        self.thresholds = np.concatenate([[0.0 - EPSILON], inner, [1.0 + EPSILON]])
        self.num_thresholds = num_thresholds
        self._given_thresholds = None if thresholds is None else list(map(float, inner))
        self.curve, self.summation_method = curve, summation_method
        self.from_logits = bool(from_logits)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self) -> None:
        n = len(self.thresholds)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true: TensorLike, y_pred: TensorLike,
                     sample_weight: TensorLike | None = None) -> None:
        """Add a batch's confusion counts at every threshold.

        Args:
            y_true: 0/1 labels (any nonzero label is positive).
            y_pred: predicted probabilities (or logits with ``from_logits``).
            sample_weight: one weight per sample, or None.
        """
        y_pred = np.asarray(_array(y_pred), dtype=np.float64)
        if self.from_logits:
            y_pred = 0.5 * (1 + np.tanh(0.5 * y_pred))      # sigmoid, never overflows
        labels, scores, weights = _labels_and_scores(y_true, y_pred, sample_weight, "AUC")
        tp, fp, tn, fn = _confusion_counts(labels, scores, weights, self.thresholds)
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _interpolate_pr_auc(self) -> float:
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        precision_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - precision_slope * p[1:]
        safe_p_ratio = np.where((p[:-1] > 0) & (p[1:] > 0),
                                _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increments = _divide_no_nan(precision_slope * (dtp + intercept * np.log(safe_p_ratio)),
                                    np.maximum(tp[1:] + fn[1:], 0))
        return float(increments.sum())

    def result(self) -> float:
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))

    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "from_logits": self.from_logits}
        if self._given_thresholds is not None:
            config["thresholds"] = self._given_thresholds
        return config


class _ThresholdMetric(Metric):
    """Precision and Recall: weighted TP/FP/FN counts at one threshold."""

    def __init__(self, thresholds: float | None = None, name: str | None = None,
                 dtype: DTypeLike | None = None) -> None:
        threshold = 0.5 if thresholds is None else float(thresholds)
        if not 0 <= threshold <= 1:
            raise ValueError(f"thresholds must be in [0, 1], got {thresholds}")
        self.threshold = threshold
        super().__init__(name=name, dtype=dtype)

    def reset_state(self) -> None:
        self.true_positives = self.false_positives = self.false_negatives = 0.0

    def update_state(self, y_true: TensorLike, y_pred: TensorLike,
                     sample_weight: TensorLike | None = None) -> None:
        """Add a batch's weighted counts.

        Args:
            y_true: 0/1 labels.
            y_pred: predicted probabilities.
            sample_weight: one weight per sample, or None.
        """
        labels, scores, weights = _labels_and_scores(y_true, y_pred, sample_weight,
                                                     type(self).__name__)
        predicted = scores > self.threshold
        self.true_positives += float(weights[predicted & labels].sum())
        self.false_positives += float(weights[predicted & ~labels].sum())
        self.false_negatives += float(weights[~predicted & labels].sum())

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "thresholds": self.threshold}


class Precision(_ThresholdMetric):
    """TP / (TP + FP): of the predicted positives (score > 0.5), how many are.

    Args:
        thresholds: a score above it is a positive prediction (default 0.5).
        name: the metric's name in the logs.
        dtype: the dtype of the state variables (default float64).

    Example:

    >>> Precision()([0, 1, 1, 1], [1, 0, 1, 1])
    0.6666666666666666
    """

    def __init__(self, thresholds: float | None = None, name: str | None = "precision",
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(thresholds, name=name, dtype=dtype)

    def result(self) -> float:
        total = self.true_positives + self.false_positives
        return self.true_positives / total if total else 0.0


class Recall(_ThresholdMetric):
    """TP / (TP + FN): of the actual positives, how many were found.

    Args:
        thresholds: a score above it is a positive prediction (default 0.5).
        name: the metric's name in the logs.
        dtype: the dtype of the state variables (default float64).

    Example:

    >>> Recall()([0, 1, 1, 1], [1, 0, 1, 1])
    0.6666666666666666
    """

    def __init__(self, thresholds: float | None = None, name: str | None = "recall",
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(thresholds, name=name, dtype=dtype)

    def result(self) -> float:
        total = self.true_positives + self.false_negatives
        return self.true_positives / total if total else 0.0


# --------------------------------------------------------------------------
# Lookup: get("accuracy", loss=..., y_true=..., y_pred=...)
# --------------------------------------------------------------------------
def _accuracy_kind(loss: Any, y_true_shape: Sequence[int | None] | None,
                   y_pred_shape: Sequence[int | None] | None) -> str | None:
    """'binary', 'sparse_categorical', 'categorical' or None (not known yet).

    The loss decides first (Keras 2); otherwise the shapes (Keras 3): one
    output unit is binary; labels with one axis fewer than y_pred, or a
    last axis of 1 next to several units, are sparse; else categorical.
    """
    name = _loss_name(loss)
    if name == "sparse_categorical_crossentropy":
        return "sparse_categorical"
    if name == "binary_crossentropy":
        return "binary"
    if name == "categorical_crossentropy":
        return "categorical"
    if y_pred_shape is None:
        return None
    if len(y_pred_shape) <= 1 or y_pred_shape[-1] == 1:
        return "binary"
    if y_true_shape is None:
        return None
    if len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1:
        return "sparse_categorical"
    return "categorical"


def _loss_name(loss: Any) -> str | None:
    """The Keras name of a loss given as a string, a Loss object or function."""
    if loss is None:
        return None
    if isinstance(loss, str):
        return {"bce": "binary_crossentropy"}.get(loss.lower(), loss.lower())
    from . import losses  # losses and metrics are on the same floor
    try:
        loss = losses.get(loss)
    except (TypeError, ValueError):
        return None
    return {losses.BinaryCrossentropy: "binary_crossentropy",
            losses.CategoricalCrossentropy: "categorical_crossentropy",
            losses.SparseCategoricalCrossentropy: "sparse_categorical_crossentropy",
            }.get(type(loss))


_ACCURACY_FUNCTIONS = {"binary": binary_accuracy, "categorical": categorical_accuracy,
                       "sparse_categorical": sparse_categorical_accuracy}


class _InferredAccuracy(MeanMetricWrapper):
    """"accuracy" whose kind (binary/categorical/sparse) is decided from the
    shapes of the first batch it sees, when nothing told it earlier."""

    def __init__(self, name: str | None = "accuracy", loss: Any = None) -> None:
        self.kind: str | None = None
        self._loss = loss
        super().__init__(self._resolve_and_compute, name=name)

    def _resolve_and_compute(self, y_true: TensorLike, y_pred: TensorLike) -> np.ndarray:
        if self.kind is None:
            self.kind = _accuracy_kind(self._loss, np.shape(_array(y_true)),
                                       np.shape(_array(y_pred)))
        return _ACCURACY_FUNCTIONS[self.kind](y_true, y_pred)  # type: ignore[index]  # set above

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


_CLASSES: dict[Any, Any] = {cls.__name__: cls for cls in (
    Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, AUC, Precision, Recall)}

# Keras' names: class names and their snake_case, short aliases; "accuracy"
# and "acc" are resolved by get() from the loss or the shapes.
_REGISTRY = Registry("metric", {**class_and_snake_names(*_CLASSES.values()),
                                "accuracy": _InferredAccuracy, "acc": _InferredAccuracy,
                                "mse": MeanSquaredError, "mae": MeanAbsoluteError,
                                "mape": MeanAbsolutePercentageError})

_FUNCTIONS = {fn.__name__: fn for fn in (
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error)}



def serialize(metric: Metric) -> dict[str, Any]:
    """{"class_name": ..., "config": ...} for a built-in metric object.

    Args:
        metric: a built-in or registered metric object, or a ``MeanMetricWrapper`` of a named
            function.

    Returns:
        A dict that ``deserialize`` turns back into an equal metric.

    Example:

    >>> serialize(Precision(thresholds=0.7))
    {'class_name': 'Precision', 'config': {'name': 'precision', 'thresholds': 0.7}}
    """
    if type(metric) is _InferredAccuracy:
        return {"class_name": "accuracy", "config": {"name": metric.name}}
    if type(metric) is MeanMetricWrapper and \
            getattr(metric.fn, "__name__", "<lambda>") != "<lambda>":
        # a function is saved by name (its registered "package>name" if any) and
        # found again among the built-ins or the custom objects when loading
        return {"class_name": "MeanMetricWrapper",
                "config": {"fn": get_registered_name(metric.fn), **metric.get_config()}}
    if _CLASSES.get(type(metric).__name__) is not type(metric) and \
            _REGISTRY.name_of(type(metric)) is None:
        raise TypeError(f"cannot serialize {metric!r}: only the built-in metric classes "
                        f"{sorted(_CLASSES)} and classes registered with "
                        f"chainrule.saving.register_keras_serializable can be saved")
    return _REGISTRY.serialize(metric)


def deserialize(config: dict[str, Any], loss: Any = None) -> Metric:
    """The metric a ``serialize`` dict describes.

    Args:
        config: a dict ``{"class_name": ..., "config": {...}}``.
        loss: the model's loss, which decides what ``"accuracy"`` means.

    Returns:
        The metric object.

    Example:

    >>> deserialize({"class_name": "AUC", "config": {"num_thresholds": 50}}).num_thresholds
    50
    """
    name = config.get("class_name") if isinstance(config, dict) else None
    if name == "accuracy":
        return get("accuracy", loss=loss)
    if name == "MeanMetricWrapper":
        config = dict(config.get("config") or {})
        name = config.pop("fn", None)
        fn = get_registered_object(name, module_objects=_FUNCTIONS) \
            if isinstance(name, str) else None
        if fn is None:
            raise UnknownNameError("metric function", name, list(_FUNCTIONS))
        return MeanMetricWrapper(fn, **config)
    return _REGISTRY.deserialize(config)


@overload
def get(identifier: None, loss: Any = None, y_true: Any = None, y_pred: Any = None) -> None: ...
@overload
def get(identifier: str | dict | Metric | type | Callable[..., Any], loss: Any = None,
        y_true: Any = None, y_pred: Any = None) -> Metric: ...
def get(identifier: MetricLike, loss: Any = None, y_true: Any = None,
        y_pred: Any = None) -> Metric | None:
    """A metric object from a name, a config dict, a Metric (returned as it is)
    or a function ``fn(y_true, y_pred)`` of per-sample values.

    "accuracy"/"acc" resolve as Keras does (see ``_accuracy_kind``): from
    ``loss`` when it is a cross-entropy, else from the shapes of ``y_true``
    and ``y_pred`` (arrays or shape tuples), else from the first batch the
    metric sees. The metric keeps the name it was asked by ("accuracy").

    Args:
        identifier: a name, a config dict, a ``Metric`` class or object, a function ``fn(y_true,
            y_pred)``, or None.
        loss: the model's loss (a name, a Loss or a function), or None.
        y_true: targets (or their shape), to tell which accuracy is meant, or None.
        y_pred: predictions (or their shape), likewise, or None.

    Returns:
        A metric object, or None for None.

    Example:

    >>> get("accuracy", loss="sparse_categorical_crossentropy").fn.__name__
    'sparse_categorical_accuracy'
    """
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, loss=loss)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            kind = _accuracy_kind(loss, _shape_of(y_true), _shape_of(y_pred))
            if kind is None:
                return _InferredAccuracy(name=identifier, loss=loss)
            return MeanMetricWrapper(_ACCURACY_FUNCTIONS[kind], name=identifier)
        found: Any = _REGISTRY.lookup(identifier)      # never None: lookup raises instead
        if _CLASSES.get(getattr(found, "__name__", None)) is not found:
            return get(found)       # a custom object
        # a snake_case name or alias names the metric ("mse"); a class name keeps the default
        builtin = (identifier in _REGISTRY.entries()
                   and identifier != found.__name__)  # type: ignore[union-attr]
        return found(name=identifier) if builtin else found()  # type: ignore[misc]
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"cannot interpret {identifier!r} as a metric: give a name such as "
                    f"'accuracy', a Metric object or a function (y_true, y_pred)")


def _shape_of(x: Any) -> tuple[int | None, ...] | None:
    """The shape of an array/Tensor, or the tuple itself when a shape is given."""
    if x is None:
        return None
    if isinstance(x, tuple) and all(isinstance(d, (int, np.integer)) or d is None for d in x):
        return x
    return np.shape(_array(x))
