"""What ``compile`` turns its ``loss``, ``metrics`` and ``weighted_metrics`` into.

As Keras 3 ``keras/src/trainers/compile_utils.py``:

* ``CompileLoss(y, y_pred, sample_weight)`` is the compiled loss of a batch,
  ``Σ_i loss_weight_i · loss_i(y_i, y_pred_i, sample_weight_i)`` over the
  outputs that have a loss; each ``loss_i`` reduces with its own reduction
  (Keras' default ``sum_over_batch_size``: ``Σ w·l / number of losses``).
  With several outputs it also tracks each output's loss as the metric
  ``"<output>_loss"``.
* ``CompileMetrics`` holds the compiled metrics of every output: one object
  named ``"compile_metrics"`` whose ``result()`` is a dict (the training
  loop flattens it into the logs). ``metrics`` are updated without the
  sample weights, ``weighted_metrics`` with them (named ``weighted_<name>``
  when a plain metric has the same name).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .. import losses as losses_module
from .. import metrics as metrics_module
from ..tensor import Tensor
from ..typing import TensorLike

__all__ = ["CompileLoss", "CompileMetrics"]


def _per_output(data: Any, count: int) -> list[Any]:
    """``data`` (one array, a list, or None) as a list of ``count`` entries."""
    if count == 1:
        if isinstance(data, (list, tuple)) and len(data) == 1:
            return [data[0]]
        return [data]
    if data is None or not isinstance(data, (list, tuple)):
        return [data] * count       # one array of sample weights for every output
    return list(data)


def _batch_size(y_pred: Any) -> int:
    first = y_pred[0] if isinstance(y_pred, (list, tuple)) else y_pred
    return first.shape[0] if getattr(first, "ndim", 0) else 1


class CompileLoss:
    """The compiled loss: one loss (or None) and one weight per output.

    Args:
        loss_fns: one loss callable (or None: no loss) per output.
        loss_weights: one factor per output.
        output_names: the model's output names (``"<name>_loss"`` metrics
            are tracked when there are several).
    """

    def __init__(self, loss_fns: Sequence[Callable[..., Any] | None],
                 loss_weights: Sequence[float], output_names: Sequence[str]) -> None:
        self.loss_fns = list(loss_fns)
        self.loss_weights = list(loss_weights)
        self.output_names = list(output_names)
        multi = len(self.output_names) > 1
        self.metrics = [metrics_module.Mean(name=f"{name}_loss")
                        for name, fn in zip(self.output_names, self.loss_fns)
                        if multi and fn is not None]

    def __call__(self, y: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """The weighted sum of the outputs' losses on one batch.

        Args:
            y: the targets (one array, or one per output).
            y_pred: the predictions (one tensor, or one per output).
            sample_weight: the sample weights (one array, or one per output), or None.

        Returns:
            The loss, a scalar Tensor (None when no output has a loss).
        """
        count = len(self.output_names)
        if count == 1 and y is not None and not isinstance(y_pred, (list, tuple)):
            # One output, the hot path: loss_weight · loss(y, y_pred, sample_weight).
            fn, factor = self.loss_fns[0], self.loss_weights[0]
            assert fn is not None      # compile makes a CompileLoss only when an output has a loss
            if isinstance(y, (list, tuple)) and len(y) == 1:
                y = y[0]
            value = fn(y, y_pred, sample_weight=sample_weight)
            return value if factor == 1.0 else value * factor
        ys, preds = _per_output(y, count), _per_output(y_pred, count)
        weights = _per_output(sample_weight, count)
        if len(ys) != count or len(preds) != count:
            raise ValueError(f"the model has {count} outputs {self.output_names}; got "
                             f"{len(ys)} targets and {len(preds)} predictions")
        total, trackers = None, iter(self.metrics)
        size = _batch_size(y_pred)
        for fn, factor, target, pred, weight in zip(self.loss_fns, self.loss_weights, ys,
                                                    preds, weights):
            if fn is None:
                continue
            if target is None:
                raise ValueError("the compiled loss needs targets y; fit(x) without y "
                                 "works only for a model whose train_step computes its "
                                 "own loss (compile without loss=)")
            value = fn(target, pred, sample_weight=weight)
            if len(self.metrics):
                next(trackers).update_state(value, sample_weight=size)
            term = value if factor == 1.0 else value * factor
            total = term if total is None else total + term
        return total


class CompileMetrics(metrics_module.Metric):
    """Every compiled metric of every output, updated and read together.

    Args:
        metrics: ``compile``'s ``metrics`` (a list, a list per output, or a dict by output).
        weighted_metrics: ``compile``'s ``weighted_metrics``, laid out the same way.
        output_names: the model's output names.
        loss_fns: the outputs' losses (they decide what ``"accuracy"`` means).
    """

    def __init__(self, metrics: Any, weighted_metrics: Any, output_names: Sequence[str],
                 loss_fns: Sequence[Callable[..., Any] | None]) -> None:
        super().__init__(name="compile_metrics")
        self.output_names = list(output_names)
        self._user = metrics
        self._user_weighted = weighted_metrics
        self._loss_fns = list(loss_fns)
        # [(output index, name, metric, weighted)], at first use
        self.entries: list[tuple[int, str, Any, bool]] | None = None

    def reset_state(self) -> None:
        for _, _, metric, _ in self.__dict__.get("entries") or []:
            metric.reset_state()

    @property
    def built(self) -> bool:
        """Whether ``build`` has resolved the metrics."""
        return self.entries is not None

    def build(self, y: Any, y_pred: Any) -> None:
        """Resolve the names ("accuracy" becomes the right accuracy for the loss
        and shapes, as Keras) once targets and predictions are known.

        Args:
            y: a batch of targets (one array, or one per output).
            y_pred: the predictions for it.
        """
        count = len(self.output_names)
        ys, preds = _per_output(y, count), _per_output(y_pred, count)
        multi = count > 1
        self.entries = []
        plain_names: set[str] = set()
        for weighted, spec in ((False, self._user), (True, self._user_weighted)):
            for i, ids in enumerate(_metric_lists(spec, self.output_names)):
                for identifier in ids:
                    fn = self._loss_fns[i] if i < len(self._loss_fns) else None
                    metric = metrics_module.get(identifier, loss=fn, y_true=_shape(ys[i]),
                                                y_pred=_shape(preds[i]))
                    metric.reset_state()
                    name = identifier if isinstance(identifier, str) else metric.name
                    if weighted and name in plain_names:
                        name = f"weighted_{name}"
                    if not weighted:
                        plain_names.add(name)
                    if multi:
                        name = f"{self.output_names[i]}_{name}"
                    self.entries.append((i, name, metric, weighted))

    def update_state(self, y: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Update every metric with one batch (weighted metrics with ``sample_weight``).

        Args:
            y: the targets (one array, or one per output).
            y_pred: the predictions (one tensor, or one per output).
            sample_weight: the sample weights (one array, or one per output), or None.
        """
        if self.entries is None:
            self.build(y, y_pred)
        if not self.entries:
            return
        count = len(self.output_names)
        ys, preds = _per_output(y, count), _per_output(y_pred, count)
        weights = _per_output(sample_weight, count)
        for i, _, metric, weighted in self.entries:
            metric.update_state(ys[i], preds[i], sample_weight=weights[i] if weighted else None)

    # A dict, as Keras' compile_metrics (a Metric's result is otherwise one number).
    def result(self) -> dict[str, Any]:  # type: ignore[override]
        """Every metric's result by its name (``"accuracy"``, ``"out_mae"``...).

        Returns:
            ``{name: value}``.
        """
        return {name: metric.result() for _, name, metric, _ in self.entries or []}


def _shape(value: Any) -> Any:
    if value is None:
        return None
    return value.shape if isinstance(value, (np.ndarray, Tensor)) else np.shape(value)


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _metric_lists(metrics: Any, names: Sequence[str]) -> list[list[Any]]:
    """One list of metric identifiers per output (Keras' accepted layouts)."""
    if not metrics:
        return [[] for _ in names]
    if isinstance(metrics, dict):
        unknown = [k for k in metrics if k not in names]
        if unknown:
            raise ValueError(f"compile(metrics=...): the dict names outputs {unknown} that "
                             f"the model does not have; its outputs are {names}")
        return [list(_as_list(metrics.get(n, []))) for n in names]
    if len(names) > 1 and all(isinstance(m, (list, tuple)) for m in metrics):
        if len(metrics) != len(names):
            raise ValueError(f"compile(metrics=...): got {len(metrics)} lists for "
                             f"{len(names)} outputs {names}")
        return [list(m) for m in metrics]
    return [list(_as_list(metrics)) for _ in names]


def resolve_losses(loss: Any, names: Sequence[str]) -> list[Any]:
    """One Loss object (or None: no loss for that output) per output.

    Args:
        loss: ``compile``'s ``loss``: one loss, a list per output, a dict by output, or None.
        names: the model's output names.

    Returns:
        One loss (or None) per output.
    """
    if loss is None:
        return [None] * len(names)
    if isinstance(loss, dict):
        unknown = [k for k in loss if k not in names]
        if unknown:
            raise ValueError(f"compile(loss=...): the dict names outputs {unknown} that the "
                             f"model does not have; its outputs are {names}")
        return [losses_module.get(loss[n]) if loss.get(n) is not None else None for n in names]
    if isinstance(loss, (list, tuple)):
        if len(loss) != len(names):
            raise ValueError(f"compile(loss=...): got {len(loss)} entries but the model has "
                             f"{len(names)} output(s) {names}")
        return [None if item is None else losses_module.get(item) for item in loss]
    fn = losses_module.get(loss)
    return [fn] * len(names)


def resolve_loss_weights(
        loss_weights: float | list[float] | tuple[float, ...] | dict[str, float] | None,
        names: Sequence[str]) -> list[float]:
    """One factor per output (1.0 where none is given).

    Args:
        loss_weights: ``compile``'s ``loss_weights``: a number, a list, a dict by output, or None.
        names: the model's output names.

    Returns:
        One float per output.

    Example:

    >>> resolve_loss_weights({"b": 0.5}, ["a", "b"])
    [1.0, 0.5]
    """
    if loss_weights is None:
        return [1.0] * len(names)
    if isinstance(loss_weights, dict):
        unknown = [k for k in loss_weights if k not in names]
        if unknown:
            raise ValueError(f"compile(loss_weights=...): the dict names outputs {unknown} "
                             f"that the model does not have; its outputs are {names}")
        return [float(loss_weights.get(n, 1.0)) for n in names]
    if isinstance(loss_weights, (list, tuple)):
        if len(loss_weights) != len(names):
            raise ValueError(f"compile(loss_weights=...): got {len(loss_weights)} entries but "
                             f"the model has {len(names)} output(s) {names}")
        return [float(w) for w in loss_weights]
    return [float(loss_weights)] * len(names)


class LossTracker(metrics_module.Metric):
    """The running mean of the loss, weighted by batch size: Keras' loss
    tracker (``Mean(name="loss")`` in Keras 3 ``trainer.py``), with the
    state in two floats so that the hot path costs a multiply and an add.

    ``update_state(values, sample_weight=None)``: ``Σ w·v / Σ w`` over
    everything seen; a non-scalar ``values`` counts each element once.

    Args:
        name: the metric's name in the logs.
        dtype: accepted for Keras' signature.
    """

    def __init__(self, name: str = "loss", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total, self.count = 0.0, 0.0

    def reset_state(self) -> None:
        """Start over: no values seen."""
        self.total, self.count = 0.0, 0.0

    def update_state(self, values: TensorLike,
                     sample_weight: float | np.ndarray | None = None) -> None:
        """Add ``values``, each weighted by ``sample_weight`` (1 when None).

        Args:
            values: a loss value (or several).
            sample_weight: the weight of each value (e.g. the batch size), or None.
        """
        data = values.data if isinstance(values, Tensor) else np.asarray(values)
        weight = 1.0 if sample_weight is None else sample_weight
        if data.ndim == 0 and np.ndim(weight) == 0:
            weight = float(weight)
            self.total += float(data) * weight
            self.count += weight
            return
        data = np.asarray(data, dtype=np.float64)
        weights = np.broadcast_to(np.asarray(weight, dtype=np.float64), data.shape)
        self.total += float((data * weights).sum())
        self.count += float(weights.sum())

    def result(self) -> float:
        """The weighted mean so far (0 before any value).

        Returns:
            ``Σ w·v / Σ w``.
        """
        return self.total / self.count if self.count else 0.0
