"""``Model``: a layer that can be compiled, trained, evaluated and saved.

Three ways to make one, as in Keras:

* ``cr.Sequential([...])`` — a stack of layers (``sequential.py``);
* ``cr.Model(inputs, outputs)`` — a graph of layers from ``cr.Input``
  placeholders (``functional.py``);
* a subclass of ``cr.Model`` that creates layers in ``__init__`` and writes
  ``call(self, x, training=False)``.

``Model`` subclasses :class:`~chainrule.layers.Layer`, so layers assigned as
attributes are tracked and their weights show up in ``model.weights``. The
training loop itself lives in ``training.py``; saving in ``saving.py``.

>>> import chainrule as cr
>>> from chainrule import layers
>>> class TwoLayers(cr.Model):
...     def __init__(self, units=16, **kwargs):
...         super().__init__(**kwargs)
...         self.hidden = layers.Dense(units, activation="relu")
...         self.out = layers.Dense(1)
...     def call(self, x, training=False):
...         return self.out(self.hidden(x))
>>> model = TwoLayers()
>>> model.compile(optimizer="adam", loss="mse")
>>> history = model.fit(np.zeros((8, 3)), np.zeros(8), epochs=2, verbose=0)
>>> len(history.history["loss"])
2
"""
from __future__ import annotations

import inspect
import os
import warnings
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..errors import ShapeError
from ..graph import no_grad
from ..layers.base import Layer, _fmt_shape
from ..tensor import Tensor
from .data_adapters import unpack_x_y_sample_weight

if TYPE_CHECKING:
    from .callbacks import Callback, History

__all__ = ["Model", "model_from_json"]


class Model(Layer):
    """Base class of every model; ``Model(inputs, outputs)`` makes a functional one.

    Three ways to make a model, as in Keras 3: ``cr.Sequential([...])``;
    the functional API, ``cr.Model(inputs, outputs)`` from ``cr.Input`` and
    layer calls (several inputs and outputs, shared layers); or a subclass
    that creates its layers in ``__init__`` and writes ``call(self, x,
    training=False)``. All of them ``compile``, ``fit``, ``evaluate``,
    ``predict``, ``summary`` and ``save``.

    Args:
        *args: for a functional model, ``inputs`` and ``outputs``.
        inputs: the ``cr.Input`` tensors of a functional model.
        outputs: what the layers made of them (a tensor, or a list/dict of them).
        name: the model's name.
        trainable: whether ``fit`` updates its weights.
        dtype: the dtype of its weights (default float32).
        **kwargs: ``inputs``/``outputs`` as keywords, and ``Layer``'s arguments.

    Example:

    >>> from chainrule import layers
    >>> inputs = cr.Input((4,))
    >>> outputs = layers.Dense(2)(layers.Dense(8, activation="relu")(inputs))
    >>> cr.Model(inputs, outputs).count_params()          # (4*8 + 8) + (8*2 + 2)
    58
    >>> class Tiny(cr.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.dense = layers.Dense(3)
    ...     def call(self, x):
    ...         return self.dense(x)
    >>> Tiny()(cr.ones(2, 5)).shape
    (2, 3)
    """
    jit_compile = False         # compile(jit_compile=True) sets it: fit/evaluate/predict compiled

    def __getstate__(self):
        # a copy or a pickle leaves out the compiled steps (a lock, generated
        # code): they trace again on the first step
        state = self.__dict__.copy()
        state.pop("_jit_steps", None)
        return state

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            # cr.Model(inputs, outputs) is a functional model (as Keras does it).
            from .functional import Functional
            return Functional.__new__(Functional, *args, **kwargs)
        if _functional_arguments(cls, args, kwargs):
            # CustomModel(inputs, outputs) on a subclass (Keras' "functional
            # subclass"): an instance of a twin class deriving from both, so
            # the subclass's train_step/metrics and Functional's call apply.
            return super().__new__(_functional_twin(cls), *args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args: Any, trainable: bool = True, name: str | None = None,
                 dtype: Any = None, **kwargs: Any) -> None:
        if args:
            raise TypeError(f"{type(self).__name__}.__init__ got unexpected positional "
                            f"arguments {args}; a subclass passes only name=, "
                            f"trainable= or dtype= to super().__init__()")
        super().__init__(trainable=trainable, name=name, dtype=dtype, **kwargs)
        self.optimizer: Any = None
        self.stop_training = False
        self.history: History | None = None
        self.compiled = False
        self._compile_config: dict[str, Any] | None = None
        # Shuffling seed and epochs trained: saved with the model, so a resumed
        # fit draws the same batches as an uninterrupted one (training.py).
        self._training_seed: int | None = None
        self._epochs_seen = 0
        self._initial_epoch: int | None = None       # set by BackupAndRestore when it restores
        self._loss_fns: list[Any] = []
        self._compile_loss: Any = None
        self._compile_metrics: Any = None
        self._loss_tracker: Any = None

    # -- building ----------------------------------------------------------
    def _maybe_build(self, input_shape):
        # Called by __call__ before call(): a subclassed model's layers build
        # themselves during that first call, so nothing to do beforehand.
        if not self.built:
            self.build_input_shape = input_shape
            self.built = True

    def build(self, input_shape: Any) -> None:
        """Create the weights by running a batch of zeros of ``input_shape``
        (``None`` dimensions count as 1) through the model.

        Args:
            input_shape: the input's shape (batch first), or a list of shapes for several
                inputs.
        """
        def zeros(shape):
            return Tensor(np.zeros(tuple(1 if d is None else d for d in shape), self.dtype))
        shapes = [tuple(s) for s in input_shape] if _is_shape_list(input_shape) \
            else tuple(input_shape)
        dummy = [zeros(s) for s in shapes] if isinstance(shapes, list) else zeros(shapes)
        with no_grad():
            self(dummy, training=False)
        self.build_input_shape = shapes

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape(s) for ``input_shape`` (batch first), by running zeros.

        Args:
            input_shape: the input's shape (batch first), or a list of shapes.

        Returns:
            The output's shape, or a list of them (batch dimension None).
        """
        def zeros(shape):
            return Tensor(np.zeros(tuple(1 if d is None else d for d in shape), self.dtype))
        dummy = [zeros(s) for s in input_shape] if _is_shape_list(input_shape) \
            else zeros(input_shape)
        with no_grad():
            out = self._call_with_training(dummy, False, {})
        if isinstance(out, (list, tuple)):
            return [(None,) + tuple(o.shape[1:]) for o in out]
        return (None,) + tuple(out.shape[1:])

    def _input_shapes(self):
        """The input shapes the model expects (batch first), when known. A
        subclassed model's ``call`` may accept many shapes: None."""
        return None  # noqa: RET501

    def _input_error(self, index, expected, received):
        return ShapeError(f"model '{self.name}' expects input {index} of shape "
                          f"{_fmt_shape(expected)} (batch first) but received "
                          f"{_fmt_shape(received)}.")

    def _check_input_shapes(self, shapes):
        """Raise the ShapeError of the first input whose shape does not fit."""
        for i, (expected, received) in enumerate(zip(self._input_shapes() or [], shapes)):
            if len(expected) != len(received) or any(
                    e is not None and e != r for e, r in zip(expected[1:], received[1:])):
                raise self._input_error(i, expected, received)

    @property
    def output_names(self) -> list[str]:
        return [self.name]

    # -- compile / fit / evaluate / predict -------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: bool | str = "auto",
                auto_scale_loss: bool = True) -> None:
        """Choose the optimizer, the loss and the metrics to report (Keras 3).

        Each accepts a Keras string (``"adam"``, ``"sparse_categorical_crossentropy"``,
        ``"accuracy"``) or an object. For several outputs ``loss`` may be a list
        (one per output) or a dict keyed by output name (an output left out
        has no loss); ``loss_weights`` likewise, and the training loss is
        ``Σ weight_i · loss_i + Σ model.losses``. ``metrics`` are computed
        without the sample weights, ``weighted_metrics`` with them.

        ``loss`` may be left out for a model whose ``train_step`` (or
        ``compute_loss``) computes its own loss, or whose losses all come from
        ``add_loss``. ``run_eagerly``, ``steps_per_execution`` and
        ``auto_scale_loss`` are accepted for Keras code: chainrule runs one
        step at a time.

        ``jit_compile=True`` makes ``fit``, ``evaluate`` and ``predict`` run
        compiled steps (``cr.jit``): the forward pass, the loss, the gradients
        and the optimizer's update are traced once per batch shape and then
        replayed as flat NumPy code; the metrics and the loss average are
        updated from the step's results. ``"auto"`` (the default, as Keras)
        and ``False`` run eagerly. A ``train_step`` of your own runs as you
        wrote it (its logs are Python values a trace would freeze); compile
        the part of it that pays with ``cr.jit``.

        Args:
            optimizer: a name (``"adam"``, ``"sgd"``...) or an optimizer
                (``cr.optimizers.Adam(1e-3)``). Defaults to ``"rmsprop"``, as Keras.
            loss: a name, a ``cr.losses`` object or function, or a list/dict
                of them for several outputs.
            metrics: a list of names (``"accuracy"``, ``"mae"``...) or
                ``cr.metrics`` objects (a list/dict per output for several).
            loss_weights: a list/dict of floats weighing each output's loss.
            weighted_metrics: metrics computed with the sample weights.
            jit_compile: ``True`` for compiled steps (see above).
            run_eagerly: accepted for Keras code; ignored.
            steps_per_execution: must be 1 (one step at a time).
            auto_scale_loss: accepted for Keras code; ignored.

        Example:

        >>> from chainrule import layers
        >>> model = cr.Sequential([cr.Input((3,)), layers.Dense(2, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
        ...               metrics=["accuracy"])
        >>> x, y = np.ones((4, 3), "float32"), np.array([0, 1, 0, 1])
        >>> sorted(model.evaluate(x, y, return_dict=True))
        ['accuracy', 'loss']
        """
        from .. import optimizers
        from .compile_utils import (
            CompileLoss,
            CompileMetrics,
            LossTracker,
            resolve_loss_weights,
            resolve_losses,
        )
        if steps_per_execution != 1:
            raise ValueError(f"steps_per_execution must be 1 (chainrule runs one step at a "
                             f"time), got {steps_per_execution!r}")
        names = self.output_names
        self.optimizer = optimizers.get(optimizer)
        self._loss_fns = resolve_losses(loss, names)
        self._loss_weights = resolve_loss_weights(loss_weights, names)
        self._compile_loss = CompileLoss(self._loss_fns, self._loss_weights, names) \
            if any(fn is not None for fn in self._loss_fns) else None
        self._compile_metrics = CompileMetrics(metrics, weighted_metrics, names, self._loss_fns) \
            if metrics or weighted_metrics else None
        self._loss_tracker = LossTracker(name="loss")
        self._compile_config = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights,
                                "weighted_metrics": weighted_metrics}
        if jit_compile not in (True, False, "auto"):
            raise ValueError(f"jit_compile must be True, False or 'auto', got {jit_compile!r}")
        self.jit_compile = jit_compile is True
        self.__dict__.pop("_jit_steps", None)      # traces of the previous compile
        self.compiled = True

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: int | str = 1, callbacks: Sequence[Callback] | None = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: bool = True,
            class_weight: dict[int, float] | None = None, sample_weight: Any = None,
            initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: int = 1, distribution: Any = None) -> History:
        """Train the model for ``epochs`` passes over the data (Keras' ``fit``).

        Args:
            x: the inputs: an array (or ``Tensor``), or a list/dict of them
                for a model with several inputs; or a ``cr.utils.PyDataset``,
                or any iterable or generator of batches ``(x, y)`` /
                ``(x, y, sample_weight)`` (a PyTorch ``DataLoader`` too).
            y: the targets, in the shape the loss expects (none when ``x``
                yields batches, or when ``train_step`` needs no targets).
            batch_size: samples per gradient step. Defaults to 32.
            epochs: the epoch to stop at (counted from 0, with ``initial_epoch``).
            verbose: 0 silent, 1 a progress bar per epoch (redrawn in place on
                a terminal and in a notebook), 2 one line per epoch.
            callbacks: a list of ``cr.callbacks.Callback`` (``EarlyStopping``,
                ``ModelCheckpoint``, ``LearningRateScheduler``...).
            validation_split: the fraction of the data, taken from the end
                before shuffling, held out for validation.
            validation_data: ``(x_val, y_val)``, used instead of ``validation_split``.
            shuffle: shuffle the training samples before each epoch.
            class_weight: ``{class index: weight}``: each sample's loss is
                weighted by its class's weight.
            sample_weight: one weight per sample (Keras' reduction:
                ``Σ w·loss / batch size``).
            initial_epoch: the epoch to start at (to resume training).
            steps_per_epoch: batches per epoch (default: one pass over the data).
            validation_steps: batches per validation (default: all of it).
            validation_batch_size: samples per validation batch (default ``batch_size``).
            validation_freq: validate every that many epochs.
            distribution: ``chainrule.distributed.DataParallel()`` trains on
                several MPI processes, ``batch_size`` being the global batch.

        Returns:
            A ``History``: ``history.history`` maps ``"loss"``, each metric
            and their ``val_`` twins to a list with one value per epoch.

        Example:

        >>> from chainrule import layers
        >>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
        >>> y = (x.sum(axis=1) > 0).astype("int64")
        >>> model = cr.Sequential([cr.Input((3,)), layers.Dense(2, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
        ...               metrics=["accuracy"])
        >>> history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        >>> sorted(history.history), len(history.history["loss"])
        (['accuracy', 'loss'], 3)
        """
        from .training import fit
        return fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                   callbacks=callbacks, validation_split=validation_split,
                   validation_data=validation_data, shuffle=shuffle,
                   class_weight=class_weight, sample_weight=sample_weight,
                   initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                   validation_steps=validation_steps,
                   validation_batch_size=validation_batch_size,
                   validation_freq=validation_freq, distribution=distribution)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: int | str = 0, sample_weight: Any = None, steps: int | None = None,
                 callbacks: Sequence[Callback] | None = None, return_dict: bool = False) -> Any:
        """Loss and metrics on ``x`` (arrays with ``y``, or batches as ``fit``
        takes them): a number, a list ``[loss, *metrics]`` or, with
        ``return_dict``, a dict (Keras).

        Args:
            x: the inputs, as ``fit`` takes them.
            y: the targets, as ``fit`` takes them.
            batch_size: samples per batch. Defaults to 32.
            verbose: 0 silent (the default here), 1 a progress bar.
            sample_weight: one weight per sample.
            steps: how many batches to draw when ``x`` yields batches.
            callbacks: ``Callback`` objects (their ``on_test_*`` hooks run).
            return_dict: return ``{name: value}`` instead of a list.

        Returns:
            The loss (a float) when nothing else is reported, else ``[loss, *metrics]``, or
            ``{name: value}`` with ``return_dict``.
        """
        from .training import evaluate
        return evaluate(self, x, y, batch_size=batch_size, verbose=verbose,
                        sample_weight=sample_weight, steps=steps, callbacks=callbacks,
                        return_dict=return_dict)

    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = 0,
                steps: int | None = None, callbacks: Sequence[Callback] | None = None) -> Any:
        """The outputs for ``x`` as NumPy arrays (a list for several outputs).

        Args:
            x: the inputs (an array, a list/dict of arrays, or batches as
                ``fit`` takes them).
            batch_size: samples per batch. Defaults to 32.
            verbose: 0 silent (the default here), 1 a progress bar.
            steps: how many batches to draw when ``x`` yields batches.
            callbacks: ``Callback`` objects (their ``on_predict_*`` hooks run).

        Returns:
            The outputs as NumPy arrays, one array per output (a list, or a dict for dict
            outputs).

        Example:

        >>> from chainrule import layers
        >>> model = cr.Sequential([cr.Input((3,)), layers.Dense(2, activation="softmax")])
        >>> model.predict(np.ones((5, 3), "float32")).shape
        (5, 2)
        """
        from .training import predict
        return predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps,
                       callbacks=callbacks)

    # -- the steps fit, evaluate and predict drive (override them as in Keras) --
    def train_step(self, data: Any) -> dict[str, Any]:
        """One training step on a batch ``data`` (``x``, ``(x, y)`` or
        ``(x, y, sample_weight)``); returns the logs, ``{name: value}``.

        As Keras 3's default: forward pass, ``compute_loss``, gradients of
        the trainable variables, ``optimizer.apply``, ``compute_metrics``.

        Args:
            data: a batch: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``.

        Returns:
            The logs, ``{name: value}``.
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        step = self._compiled("train", self._train_update) if self.jit_compile \
            else self._train_update
        loss, y_pred = step(x, y, sample_weight)
        self._track_loss(loss, y_pred)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _train_update(self, x, y, sample_weight):
        """The part of the default ``train_step`` that ``jit_compile`` compiles:
        forward, loss, gradients, ``optimizer.apply``."""
        from ..autodiff import gradients
        y_pred = self._call_for_step(x, training=True)
        loss = self._compute_loss_compat(x, y, y_pred, sample_weight, training=True)
        variables = self.trainable_variables
        if variables:
            self.optimizer.apply(gradients(loss, variables), variables)
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=3)
        return loss, y_pred

    def _evaluate_batch(self, x, y, sample_weight):
        y_pred = self._call_for_step(x, training=False)
        return self._compute_loss_compat(x, y, y_pred, sample_weight, training=False), y_pred

    def _compiled(self, kind, fn):
        """The ``cr.jit`` of ``fn``, made once per compile() (``jit_compile=True``)."""
        cache = self.__dict__.get("_jit_steps")
        step = None if cache is None else cache.get(kind)
        if step is None or step.optimizer is not self.optimizer:
            from ..compiled import jit
            step = jit(fn)
            step.optimizer = self.optimizer       # a new optimizer needs a new trace
            self.__dict__.setdefault("_jit_steps", {})[kind] = step
        return step

    def test_step(self, data: Any) -> dict[str, Any]:
        """One evaluation step on a batch: loss and metrics, no update.

        Args:
            data: a batch: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``.

        Returns:
            The logs, ``{name: value}``.
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        step = self._compiled("test", self._evaluate_batch) if self.jit_compile \
            else self._evaluate_batch
        loss, y_pred = step(x, y, sample_weight)
        self._track_loss(loss, y_pred)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data: Any) -> Any:
        """The model's outputs for a batch (its ``x``).

        Args:
            data: a batch (only its ``x`` is used).

        Returns:
            The model's outputs (a tensor or a structure of them).
        """
        x, _, _ = unpack_x_y_sample_weight(data)
        if self.jit_compile:
            return self._compiled("predict", self._predict_batch)(x)
        return self._call_for_step(x, training=False)

    def _predict_batch(self, x):
        return self._call_for_step(x, training=False)

    def _call_for_step(self, x, training):
        if isinstance(x, list):
            x = [a if isinstance(a, Tensor) else Tensor._wrap(np.asarray(a)) for a in x]
        elif isinstance(x, np.ndarray):
            x = Tensor._wrap(x)
        return self(x, training=training)

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                     sample_weight: Any = None, training: bool = True) -> Tensor:
        """The total loss of a batch: the compiled loss of ``(y, y_pred)``
        weighted by ``sample_weight``, plus every term of ``self.losses``
        (regularization and ``add_loss``), as Keras 3 ``Trainer.compute_loss``.

        Args:
            x: the batch's inputs.
            y: its targets.
            y_pred: the model's outputs for ``x``.
            sample_weight: one weight per sample, or None.
            training: whether this is a training step.

        Returns:
            The total loss, a 0-d tensor.
        """
        from .. import ops
        total = None
        if self._compile_loss is not None:
            total = self._compile_loss(y, y_pred, sample_weight)
        for term in self.losses:
            if not isinstance(term, Tensor):
                term = Tensor._wrap(np.asarray(term, dtype=np.float32))
            term = ops.sum(term) if term.ndim else term
            total = term if total is None else total + term
        if total is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`, "
                             "add losses with add_loss() in call(), or override train_step "
                             "(or compute_loss) to compute the loss yourself.")
        return total

    def _compute_loss_compat(self, x, y, y_pred, sample_weight, training):
        # An override written before Keras 3.3 has no `training` argument.
        takes = _TAKES_TRAINING.get(type(self))
        if takes is None:
            takes = _TAKES_TRAINING[type(self)] = \
                "training" in inspect.signature(self.compute_loss).parameters
        if takes:
            return self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=training)
        return self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)

    def _track_loss(self, loss, y_pred):
        if self._loss_tracker is not None:
            first = y_pred[0] if isinstance(y_pred, (list, tuple)) else y_pred
            self._loss_tracker.update_state(loss, sample_weight=first.shape[0])

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict[str, Any]:
        """Update the compiled metrics and return every metric's result
        (``get_metrics_result``), as Keras 3.

        Args:
            x: the batch's inputs.
            y: its targets.
            y_pred: the model's outputs for ``x``.
            sample_weight: one weight per sample, or None.

        Returns:
            ``{name: result}`` of every metric.
        """
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict[str, Any]:
        """``{name: result}`` of ``self.metrics``; a dict result is merged in.

        Returns:
            ``{name: result}``.
        """
        results = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                results.update(result)
            else:
                results[metric.name] = result
        return results

    @property
    def metrics(self) -> list[Any]:
        """The loss tracker, the compiled metrics, the per-output losses, then
        metrics assigned as attributes of the model or its layers (Keras' order).
        A subclass may override this property (its metrics are then the ones
        reset at each epoch)."""
        found = []
        if self.compiled:
            if self._loss_tracker is not None:
                found.append(self._loss_tracker)
            if self._compile_metrics is not None:
                found.append(self._compile_metrics)
            if self._compile_loss is not None:
                found.extend(self._compile_loss.metrics)
        found.extend(m for m in self.__dict__.get("_attribute_metrics", {}).values()
                     if all(m is not f for f in found))
        return found

    def __setattr__(self, name, value):
        if name.startswith("_"):        # private state, set on every call: the fast path
            super().__setattr__(name, value)
            return
        from ..metrics import Metric
        # Metrics assigned as attributes are part of self.metrics (Keras tracks them).
        tracked = self.__dict__.get("_attribute_metrics")
        if isinstance(value, Metric):
            if tracked is None:
                tracked = {}
                object.__setattr__(self, "_attribute_metrics", tracked)
            tracked[name] = value
        elif tracked and name in tracked:
            del tracked[name]
        super().__setattr__(name, value)

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        """Reset the state of every metric in ``self.metrics``."""
        for metric in self.metrics:
            metric.reset_state()

    @property
    def trainable_variables(self) -> list[Tensor]:
        """Keras' name for ``trainable_weights``."""
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list[Tensor]:
        return self.non_trainable_weights

    # -- one batch ---------------------------------------------------------------
    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: dict[int, float] | None = None, return_dict: bool = False) -> Any:
        """One ``train_step`` on one batch; the metrics as in ``evaluate``
        (a number, a list, or a dict with ``return_dict``).

        Args:
            x: the batch's inputs.
            y: its targets.
            sample_weight: one weight per sample.
            class_weight: ``{class index: weight}``.
            return_dict: return ``{name: value}`` instead of a list.

        Returns:
            The metrics, as ``evaluate`` returns them.
        """
        from . import training
        return training.on_batch(self, "train", x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Any:
        """One ``test_step`` on one batch; the metrics as in ``evaluate``.

        Args:
            x: the batch's inputs.
            y: its targets.
            sample_weight: one weight per sample.
            return_dict: return ``{name: value}`` instead of a list.

        Returns:
            The metrics, as ``evaluate`` returns them.
        """
        from . import training
        return training.on_batch(self, "test", x, y, sample_weight, None, return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        """The outputs for one batch, as NumPy arrays.

        Args:
            x: the batch's inputs.

        Returns:
            The outputs, as ``predict`` returns them.
        """
        from . import training
        return training.on_batch(self, "predict", x, None, None, None, False)

    # -- saving --------------------------------------------------------------
    def save(self, filepath: str | os.PathLike[str], include_optimizer: bool = True) -> None:
        """Save architecture, weights and optimizer state: ``.keras`` writes Keras 3's
        own file (``keras_format.py``), any other name chainrule's zip (``saving.py``).

        Args:
            filepath: where to write (``.keras`` for Keras' format).
            include_optimizer: also save the optimizer's state.
        """
        from .saving import save_model
        save_model(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath: str | os.PathLike[str]) -> None:
        """Save only the weights: Keras' HDF5 for ``.weights.h5``, else an ``.npz``.

        Args:
            filepath: where to write (``.weights.h5`` or ``.npz``).
        """
        from .saving import save_weights
        save_weights(self, filepath)

    def load_weights(self, filepath: str | os.PathLike[str]) -> None:
        """Load weights saved by ``save_weights`` or ``save`` (chainrule's or Keras')
        into this built model.

        Args:
            filepath: a file written by ``save_weights`` or ``save``.
        """
        from .saving import load_weights
        load_weights(self, filepath)

    def export(self, filepath: str | os.PathLike[str], format: str = "onnx", verbose: bool | None = None,
               input_signature: Any = None, opset_version: int | None = None) -> str:
        """Write the model for serving elsewhere; ``format="onnx"`` (Keras 3's
        name and arguments) writes an ONNX graph with a dynamic batch
        (``onnx_export.py``); the inputs are the model's, so ``input_signature``
        stays None; ``opset_version`` defaults to 17.

        Args:
            filepath: where to write.
            format: ``"onnx"``.
            verbose: print where it was written.
            input_signature: must stay None (the model's own inputs are exported).
            opset_version: the ONNX opset (default 17).

        Returns:
            The path written.
        """
        if format != "onnx":
            raise ValueError(f"export(format={format!r}): chainrule exports format='onnx'")
        if input_signature is not None:
            raise ValueError("export(input_signature=...): chainrule exports the model's own "
                             "inputs (batch dimension dynamic); leave input_signature=None")
        from .onnx_export import OPSET, export_onnx
        path = export_onnx(self, filepath, opset=opset_version or OPSET)
        if verbose:
            print(f"Saved ONNX model '{self.name}' to {path}")
        return path

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer of ``model.layers`` by ``name`` or by ``index`` (Keras).

        Args:
            name: the layer's name.
            index: its position in ``model.layers``.

        Returns:
            The layer.
        """
        if (name is None) == (index is None):
            raise ValueError("get_layer() takes exactly one of name= or index=, e.g. "
                             "model.get_layer('dense') or model.get_layer(index=0)")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer(index={index}): model '{self.name}' has only "
                                 f"{len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in layers]}.")

    def to_json(self, **kwargs: Any) -> str:
        """The model's architecture as a JSON string (no weights), as Keras 3
        ``Model.to_json``: ``cr.saving.serialize_keras_object(model)``;
        ``kwargs`` go to ``json.dumps``. ``cr.models.model_from_json`` reads it.

        Args:
            **kwargs: passed to ``json.dumps``.

        Returns:
            The JSON string.
        """
        import json

        from .. import saving
        return json.dumps(saving.serialize_keras_object(self), **kwargs)

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Model:
        """Recreate a subclassed model from its captured constructor arguments.

        Arguments the constructor does not take (``name``, ``trainable``,
        ``dtype`` when the subclass has no ``**kwargs``) are set afterwards.
        ``Model.from_config`` on a functional model's config rebuilds the
        functional model (Keras).

        Args:
            config: the constructor arguments (or a functional model's config).
            custom_objects: names of your classes and functions.

        Returns:
            A new model.
        """
        from .functional import Functional
        if not issubclass(cls, Functional) and \
                {"layers", "inputs", "nodes", "outputs"} <= set(config):
            return Functional.from_config(config, custom_objects=custom_objects)
        config = dict(config)
        params = inspect.signature(cls.__init__).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            extra = {k: config.pop(k) for k in list(config) if k not in params}
        else:
            extra = {}
        model = cls(**config)
        if "name" in extra:
            model.name = extra["name"]
        if "trainable" in extra:
            model.trainable = extra["trainable"]
        return model

    # -- summary -------------------------------------------------------------
    def summary(self, line_length: int = 80, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print a table of the layers: name (type), output shape, parameters.

        Args:
            line_length: the table's width.
            print_fn: called with each line (default ``print``).

        >>> model.summary()            # doctest: +SKIP
        Model: "sequential"
        """
        if not self.built or (not self.weights and not self.layers):
            raise ValueError(
                f"model '{self.name}' has not been built yet, so its weights do not "
                f"exist. Build it with model.build(input_shape), give the first layer "
                f"input_shape=, start with cr.Input(shape), or call it on data first.")
        print_fn = print_fn or print
        widths = [int(line_length * 0.45), int(line_length * 0.33)]
        widths.append(line_length - sum(widths))

        def row(cells):
            text = ""
            for cell, width in zip(cells, widths):
                text += (" " + str(cell)).ljust(width)[:max(width, len(str(cell)) + 1)] + " "
            return text.rstrip()
        lines = [f'Model: "{self.name}"', "_" * line_length,
                 row(["Layer (type)", "Output Shape", "Param #"]), "=" * line_length]
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape_
            shape = shape if isinstance(shape, str) else \
                (_fmt_shape(shape) if shape is not None else "?")
            lines.append(row([f"{layer.name} ({type(layer).__name__})", shape,
                              f"{layer.count_params():,}"]))
            lines.append("=" * line_length if i == len(self.layers) - 1 else "_" * line_length)
        if not self.layers:
            lines.append("=" * line_length)
        trainable = int(sum(w.size for w in self.trainable_weights))
        non_trainable = int(sum(w.size for w in self.non_trainable_weights))
        lines += [f"Total params: {trainable + non_trainable:,}",
                  f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {non_trainable:,}",
                  "_" * line_length]
        for line in lines:
            print_fn(line)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    def _repr_html_(self) -> str | None:
        """Jupyter shows a model as its ``summary()`` table (its ``repr`` until built)."""
        from .notebook_display import summary_html
        return summary_html(self)


def _is_shape_list(shape):
    return isinstance(shape, (list, tuple)) and len(shape) > 0 and \
        all(isinstance(s, (list, tuple)) for s in shape)


def _functional_arguments(cls, args, kwargs):
    """True for ``CustomModel(inputs, outputs)``: a subclass given Input placeholders."""
    from ..layers.base import SymbolicTensor, _flatten
    from .functional import Functional
    if issubclass(cls, Functional) or not (args or "inputs" in kwargs):
        return False
    inputs = kwargs["inputs"] if "inputs" in kwargs else args[0]
    leaves = _flatten(inputs) if isinstance(inputs, (list, tuple, dict)) else [inputs]
    return bool(leaves) and all(isinstance(t, SymbolicTensor) for t in leaves) and \
        ("outputs" in kwargs or len(args) > 1)


_TWINS: dict[type, type] = {}
_TAKES_TRAINING: dict[type, bool] = {}       # class -> whether its compute_loss takes `training`


def _functional_twin(cls):
    """``cls`` mixed with Functional (made once per class)."""
    from .functional import Functional
    twin = _TWINS.get(cls)
    if twin is None:
        twin = _TWINS[cls] = type(cls.__name__, (cls, Functional),
                                  {"__module__": cls.__module__,
                                   "__qualname__": cls.__qualname__})
    return twin


def model_from_json(json_string: str, custom_objects: dict[str, Any] | None = None) -> Model:
    """A new model (fresh weights) from ``Model.to_json``'s string, as Keras 3
    ``keras.models.model_from_json``; ``custom_objects`` maps names to your
    classes and functions.

    Args:
        json_string: what ``Model.to_json`` returned.
        custom_objects: names of your classes and functions.

    Returns:
        A new model with fresh weights.
    """
    import json

    from .. import saving
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as error:
        raise ValueError(f"model_from_json: not a JSON string ({error}); give what "
                         f"model.to_json() returned") from None
    return saving.deserialize_keras_object(config, custom_objects=custom_objects)
