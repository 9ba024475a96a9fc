"""The one loop behind ``fit``, ``evaluate`` and ``predict``.

``fit`` turns the data into batches (``data_adapters.py``), then, for each
batch, asks the strategy for this process's share and calls the model's
``train_step(data)``, the step a subclass may override exactly as in Keras 3
("Customizing what happens in fit()"). The default step::

    y_pred = model(x, training=True)                          # records the graph
    loss = model.compute_loss(x, y, y_pred, sample_weight)    # compiled loss + model.losses
    grads = gradients(loss, model.trainable_variables)        # frees the graph
    model.optimizer.apply(grads, model.trainable_variables)
    return model.compute_metrics(x, y, y_pred, sample_weight) # {"loss": ..., "accuracy": ...}

``evaluate`` drives ``test_step`` and ``predict`` drives ``predict_step`` the
same way, without recording a graph.

One path for one process and many: the strategy. On one process it is
``OneProcess``, whose ``shard`` keeps the whole batch and whose reduction
returns the gradients unchanged; ``fit(..., distribution=DataParallel())``
swaps in the MPI strategy (``chainrule/distributed/data_parallel.py``, duck
typed: this module never imports it, nor mpi4py). While ``fit`` runs, every
``optimizer.apply`` (the default step's, or a custom ``train_step``'s) goes
through a ``_GradientGuard``: the strategy's all-reduce, then a check that
every gradient is finite. A non-finite gradient skips the update, warns
with the epoch, the batch and the variable, and stops training, as
``TerminateOnNaN`` would but before the weights are spoiled.

Conventions (Keras):

* The logs hold the running means over the epoch: the loss weighted by
  batch size (Keras' loss tracker) and the metrics over every sample, both
  from the forward pass *before* each update. Nested dicts (a
  ``CompileMetrics`` result) are flattened into the logs.
* ``validation_split`` takes the *last* fraction of the samples, before
  shuffling; validation runs every ``validation_freq`` epochs through
  ``test_step``, with the ``on_test_*`` hooks.
* A loss that becomes NaN or infinite stops training with a warning
  (Keras needs the ``TerminateOnNaN`` callback; here it is always on).

Reproducible and resumable shuffling: the first ``fit`` draws a training
seed from chainrule's global generator (``cr.set_seed``). Epoch ``k`` of the
model's life (counted across ``fit`` calls and saved with the model) runs
with a generator seeded by ``(seed, k)``: it draws the batch order and, for
the length of the epoch, it is the global generator, so dropout masks follow
it too. Training 2 epochs, saving, loading and training 2 more therefore
sees the same batches and masks as 4 epochs in one go.
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import random as _random
from ..graph import no_grad
from ..tensor import Tensor
from . import callbacks as callbacks_module
from . import data_adapters
from .data_adapters import (
    EpochIterator,
    batch_rows,
    map_structure,
    pack_x_y_sample_weight,
    unpack_x_y_sample_weight,
)

if TYPE_CHECKING:
    from .callbacks import Callback, History
    from .model import Model

__all__ = ["OneProcess", "evaluate", "fit", "predict"]


# --------------------------------------------------------------------------
# The strategy of one process
# --------------------------------------------------------------------------
class OneProcess:
    """The strategy of a ``fit`` on one process: the same methods as
    ``DataParallel``, each doing nothing (the whole batch is this process's
    share; gradients and logs are already the global ones)."""

    world_size, rank, is_chief = 1, 0, True

    def begin_fit(self, model: Model, seed: int, epochs_seen: int) -> tuple[int, int]:
        """Agree on the training seed and the epochs trained (one process: as given).

        Args:
            model: the model being trained.
            seed: this process's training seed.
            epochs_seen: the epochs the model has trained.

        Returns:
            ``(seed, epochs_seen)``, the same on every process.
        """
        return seed, epochs_seen

    def check_data(self, arrays: Any, val_arrays: Any = None) -> None:
        """Check that every process has the same data (one process: nothing to check).

        Args:
            arrays: the training arrays.
            val_arrays: the validation arrays, or None.
        """
        pass

    def shard_bounds(self, count: int) -> tuple[int, int]:
        """This process's share of ``count`` samples.

        Args:
            count: the number of samples in the batch.

        Returns:
            ``(start, stop)``: the whole batch here.
        """
        return 0, count

    def rank_generator(self, seed: int, epoch: int) -> np.random.Generator | None:
        """A generator of this process's own for an epoch (one process: none needed).

        Args:
            seed: the training seed.
            epoch: the epoch.

        Returns:
            None: the epoch's generator serves.
        """
        return None

    def reduce_step(self, grads: Sequence[Any], params: Sequence[Tensor], values: Any,
                    n_local: int, n_global: int) -> tuple[Sequence[Any], Any]:
        """Combine the processes' gradients and values of one step (one process: unchanged).

        Args:
            grads: this process's gradients.
            params: the variables they belong to.
            values: other values to combine.
            n_local: the samples this process stepped on.
            n_global: the samples of the whole step.

        Returns:
            ``(grads, values)``, global.
        """
        return grads, values

    def average_logs(self, logs: dict[str, Any], count: int) -> dict[str, Any]:
        """Average the epoch's logs over the processes (one process: unchanged).

        Args:
            logs: this process's logs.
            count: the samples behind them.

        Returns:
            The global logs.
        """
        return logs

    def end_epoch(self, model: Model) -> None:
        """Called at the end of each epoch (one process: nothing to do).

        Args:
            model: the model being trained.
        """
        pass

    def select_callbacks(self, callbacks: Sequence[Callback] | None,
                         verbose: int | str) -> tuple[Sequence[Callback] | None, int | str]:
        """The callbacks and verbosity of this process (one process: all of them).

        Args:
            callbacks: the callbacks of the fit.
            verbose: the verbosity asked for.

        Returns:
            ``(callbacks, verbose)``.
        """
        return callbacks, verbose


def _leaves(adapter):
    """The arrays an ArrayAdapter holds (x, y, sample weights), in order."""
    arrays = []
    map_structure(arrays.append, (adapter.x, adapter.y, adapter.sample_weight))
    return arrays


class _GradientGuard:
    """Installed on the optimizer while ``fit`` runs: every ``apply`` hands its
    gradients here first. They are all-reduced by the strategy, then checked:
    one that is not finite makes the step a no-op and is remembered (its
    variable's name and what it held) for the loop's warning."""

    def __init__(self, model, strategy):
        self.model, self.strategy = model, strategy
        self.n_local = self.n_global = 0
        self.bad = None

    def __call__(self, grads, variables):
        grads, _ = self.strategy.reduce_step(grads, variables, [], self.n_local, self.n_global)
        # The cheap test: one sum per gradient, and one look at their total (a NaN or
        # an infinity anywhere makes it non-finite). Only then, which an overflow
        # could also cause, is each gradient looked at closely.
        # (np.add.reduce: array.sum() goes through a Python-level wrapper)
        total, reduce = 0.0, np.add.reduce
        for grad in grads:
            if grad is not None:
                array = grad.data if type(grad) is Tensor else grad
                if array.dtype.kind == "f":
                    total += reduce(array, axis=None)
        if math.isfinite(total):
            return grads
        for grad, var in zip(grads, variables):
            if grad is None:
                continue
            array = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                kind = "nan" if np.isnan(array).any() else "inf"
                self.bad = (self._name(var), kind)
                return None
        return grads

    def _name(self, var):
        for layer, weight in self.model._all_weights():
            if weight is var:
                return f"'{layer.name}/{weight.name}'" if weight.name else f"'{layer.name}' weight"
        return f"'{var.name}'" if getattr(var, "name", None) else f"of shape {var.shape}"


@contextlib.contextmanager
def _guarded(model, guard):
    """Install ``guard`` on the model's optimizer and on any other optimizer it
    holds as an attribute (a GAN's ``d_optimizer`` and ``g_optimizer``)."""
    from ..optimizers.base import Optimizer
    found = [model.optimizer] + [v for v in vars(model).values() if isinstance(v, Optimizer)]
    optimizers = [o for i, o in enumerate(found)
                  if o is not None and all(o is not p for p in found[:i])]
    previous = [o.__dict__.get("_gradient_guard") for o in optimizers]
    for optimizer in optimizers:
        optimizer._gradient_guard = guard
    try:
        yield guard
    finally:
        for optimizer, old in zip(optimizers, previous):
            optimizer._gradient_guard = old


def _default_step(model, name):
    """True when ``model`` keeps Model's own ``train_step``/``test_step``: only
    then is it run on a sample before the loop (a GAN or a VAE may have no call)."""
    from .model import Model
    return getattr(type(model), name) is getattr(Model, name)


# --------------------------------------------------------------------------
# Checks before the first step
# --------------------------------------------------------------------------
def _probe(model, x):
    """Run one sample through the model (builds it, checks the input shape
    before training starts) and return the output arrays."""
    xs = x if isinstance(x, list) else [x]
    model._check_input_shapes([a.shape for a in xs])     # message with the full shapes
    with no_grad():
        out = model([a[:1] for a in xs] if isinstance(x, list) else x[:1], training=False)
    return [o.data for o in out] if isinstance(out, (list, tuple)) else [out.data]


def _check_labels(model, y, outputs):
    """Labels that cannot fit the outputs are reported before training starts."""
    ys = y if isinstance(y, list) else [y]
    for i, (fn, labels_in, out) in enumerate(zip(model._loss_fns, ys, outputs)):
        if fn is None or labels_in is None:
            continue
        kind = type(fn).__name__.lower() + " " + str(getattr(fn, "name", "")).lower()
        units = out.shape[-1] if out.ndim > 1 else 1
        where = f"output '{model.output_names[i]}'" if len(ys) > 1 else "the model's output"
        if "sparse" in kind:
            labels = labels_in.reshape(len(labels_in), -1) if labels_in.ndim > 1 else labels_in
            if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
                raise ValueError(f"sparse labels must be integers 0..{units - 1}; "
                                 f"y holds non-integer values such as "
                                 f"{labels[labels != np.round(labels)].ravel()[0]}")
            bad = (labels < 0) | (labels >= units)
            if bad.any():
                raise ValueError(
                    f"label {labels[bad].ravel()[0].item()!r} is outside [0, {units}): {where} has "
                    f"{units} units, so sparse labels must be integers 0..{units - 1}. Check "
                    f"the labels, or give the last layer as many units as there are classes.")
        elif "categorical" in kind and units > 1 and \
                (labels_in.ndim != out.ndim or labels_in.shape[-1] != units):
            raise ValueError(
                f"categorical cross-entropy needs one-hot labels of shape (N, {units}) for "
                f"{where}, but y has shape {labels_in.shape}. For integer labels use "
                f"loss='sparse_categorical_crossentropy' or "
                f"cr.utils.to_categorical(y, {units}).")


def _check_arrays_before_training(model, adapter):
    """For array data: input shapes, labels, and the compiled metrics' names."""
    outputs = _probe(model, adapter.x)
    if adapter.y is not None:
        _check_labels(model, adapter.y, outputs)
    compiled = model._compile_metrics
    if compiled is not None and not compiled.built:
        first = (lambda a: a[:1])  # noqa: E731
        preds = outputs if len(outputs) > 1 else outputs[0]
        compiled.build(map_structure(first, adapter.y), preds)
    return outputs


# --------------------------------------------------------------------------
# Helpers of the loop
# --------------------------------------------------------------------------
def _pythonify_logs(logs):
    """Floats for numbers, nested dicts flattened, keys in sorted order (Keras 3
    ``keras/src/utils/python_utils.py`` ``pythonify_logs``)."""
    if logs is not None and not isinstance(logs, dict):
        raise TypeError(f"train_step/test_step must return a dict of logs such as "
                        f"{{'loss': loss}}, got {type(logs).__name__}")
    out = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            out.update(_pythonify_logs(value))
            continue
        if isinstance(value, Tensor):
            value = value.data
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(())[()]
        if isinstance(value, (np.floating, np.integer)):
            value = float(value)
        out[key] = value
    return out


@contextlib.contextmanager
def _epoch_generator(seed, epoch):
    """Make a generator seeded by (seed, epoch) the global one for the epoch."""
    with _random.use_generator(np.random.default_rng([seed, epoch])) as rng:
        yield rng


def _rank_generator(strategy, seed, epoch):
    """With several ranks, each draws its dropout masks from its own generator
    (the batch order still comes from the shared one); otherwise nothing changes."""
    rng = strategy.rank_generator(seed, epoch)
    return _random.use_generator(rng) if rng is not None else contextlib.nullcontext()


def _shard(data, strategy):
    """This process's rows of a global batch (all of them with one process)."""
    n_global = batch_rows(data)
    start, stop = strategy.shard_bounds(n_global)
    if (start, stop) != (0, n_global):
        data = map_structure(lambda a: a[start:stop], data)
    return data, stop - start, n_global


def _transform(cbs, step, data):
    """Let callbacks replace the batch (``Callback.transform_batch``)."""
    if not cbs.transforms:
        return data
    x, y, weight = unpack_x_y_sample_weight(data)
    if y is None or isinstance(x, dict) or isinstance(y, dict):
        return data
    xs, ys = cbs.transform_batch(step, x if isinstance(x, list) else [x],
                                 y if isinstance(y, list) else [y])
    return pack_x_y_sample_weight(xs if isinstance(x, list) else xs[0],
                                  ys if isinstance(y, list) else ys[0], weight)


def _require_compiled(model, who):
    if not getattr(model, "compiled", False):
        raise RuntimeError(f"call model.compile(optimizer, loss, metrics) before {who}()")


def _check_batch_size(batch_size):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
            batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def _check_verbose(verbose):
    if verbose not in (0, 1, 2, "auto"):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return 1 if verbose == "auto" else verbose


def _callback_list(callbacks, model, verbose, params, history=None):
    if isinstance(callbacks, callbacks_module.CallbackList):
        callbacks.set_model(model)
        callbacks.set_params(params)
        return callbacks
    return callbacks_module.CallbackList(callbacks, model=model, history=history,
                                         verbose=verbose, params=params)


def _nan_warning(epoch, step, loss, guard):
    where = f"Epoch {epoch + 1}, batch {step + 1}"
    causes = ("Usual causes: a learning rate too high, inputs that are not scaled (e.g. "
              "pixels 0-255 instead of 0-1), NaN/inf in the data, or an operation outside "
              "its domain (sqrt or log of 0, division by 0).")
    skipped = " and this step was not applied, so the weights are those after the " \
              "previous step" if guard.bad else ""
    if loss is not None and not math.isfinite(loss):
        extra = f" (the gradient of {guard.bad[0]} is {guard.bad[1]})" if guard.bad else ""
        message = f"{where}: the loss is {loss}; training stopped{skipped}{extra}. {causes}"
    else:
        name, kind = guard.bad
        message = (f"{where}: the gradient of {name} is {kind} (not finite); training "
                   f"stopped{skipped}. {causes}")
    warnings.warn(message, RuntimeWarning, stacklevel=4)


# --------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------
def fit(model: Model, x: Any = None, y: Any = None, batch_size: int | None = None,
        epochs: int = 1, verbose: int | str = "auto",
        callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0,
        validation_data: Any = None, shuffle: bool = True,
        class_weight: dict[int, float] | None = None, sample_weight: Any = None,
        initial_epoch: int = 0, steps_per_epoch: int | None = None,
        validation_steps: int | None = None, validation_batch_size: int | None = None,
        validation_freq: int = 1, distribution: Any = None) -> History:
    """Train ``model`` (see ``Model.fit``, which documents the arguments).

    ``distribution`` (e.g. ``chainrule.distributed.DataParallel()``) is used
    only through the methods of ``OneProcess`` (duck typing).

    Args:
        model: a compiled model.
        x: the inputs (or batches), as ``Model.fit`` takes them.
        y: the targets.
        batch_size: samples per step (default 32).
        epochs: the epoch to stop at.
        verbose: 0, 1, 2 or ``"auto"``.
        callbacks: ``Callback`` objects.
        validation_split: the fraction of the data held out for validation.
        validation_data: ``(x_val, y_val)``.
        shuffle: shuffle the samples before each epoch.
        class_weight: ``{class index: weight}``.
        sample_weight: one weight per sample.
        initial_epoch: the epoch to start at.
        steps_per_epoch: batches per epoch.
        validation_steps: batches per validation.
        validation_batch_size: samples per validation batch.
        validation_freq: validate every that many epochs.
        distribution: a strategy with ``OneProcess``'s methods, or None.

    Returns:
        The ``History`` callback.
    """
    _require_compiled(model, "fit")
    batch_size = _check_batch_size(batch_size)
    verbose = _check_verbose(verbose)
    if isinstance(validation_freq, bool) or not isinstance(validation_freq, (int, np.integer)) \
            or validation_freq < 1:
        raise ValueError(f"validation_freq must be a positive integer (validate every that "
                         f"many epochs), got {validation_freq!r}")
    strategy = distribution if distribution is not None else OneProcess()
    adapter = data_adapters.get_adapter(model, x, y, sample_weight, batch_size, shuffle,
                                        class_weight)
    is_arrays = isinstance(adapter, data_adapters.ArrayAdapter)
    val_adapter = None
    if validation_data is not None:
        val_adapter = _validation_adapter(model, validation_data,
                                          _check_batch_size(validation_batch_size or batch_size))
    elif validation_split:
        if not is_arrays:
            raise ValueError("validation_split works only with arrays; with a generator, "
                             "PyDataset or DataLoader give validation_data instead")
        (tx, ty, tw), (vx, vy, vw) = adapter.split(validation_split)  # type: ignore[union-attr]
        if class_weight is not None:
            vw = None           # class weights weight training only (Keras)
        adapter = data_adapters.ArrayAdapter(tx, ty, tw, batch_size, shuffle)
        val_adapter = data_adapters.ArrayAdapter(vx, vy, vw, batch_size, False)
    if strategy.world_size > 1 and not is_arrays:
        raise ValueError("fit(distribution=...) on several processes takes arrays: every "
                         "rank shards the same global batches of them")
    if is_arrays:       # several processes: every rank holds the same data, or all stop here
        strategy.check_data(_leaves(adapter), _leaves(val_adapter) if isinstance(
            val_adapter, data_adapters.ArrayAdapter) else None)

    # Everything that can be wrong with array data is reported here, before
    # the first update: input shapes (through the layers' own checks), labels.
    if is_arrays and _default_step(model, "train_step"):
        outputs = _check_arrays_before_training(model, adapter)
        if isinstance(val_adapter, data_adapters.ArrayAdapter) and val_adapter.y is not None:
            _check_labels(model, val_adapter.y, outputs)

    iterator = EpochIterator(adapter, steps_per_epoch)
    history = callbacks_module.History()
    callbacks, verbose = strategy.select_callbacks(callbacks, verbose)
    cbs = _callback_list(callbacks, model, verbose, history=history, params={
        "epochs": epochs, "steps": iterator.num_steps, "verbose": verbose,
        "batch_size": batch_size,
        "samples": adapter.num_samples if is_arrays else None})  # type: ignore[union-attr]
    if model._training_seed is None:
        model._training_seed = int(_random.default_rng().integers(2 ** 62))
    model.stop_training = False
    model._initial_epoch = None
    # Every rank starts from rank 0's weights, seed and epoch count (so all
    # draw the same batch order), and validates on its share of val (one
    # process: the same seed and count, all of val).
    model._training_seed, model._epochs_seen = strategy.begin_fit(
        model, model._training_seed, model._epochs_seen)
    if isinstance(val_adapter, data_adapters.ArrayAdapter) and \
            val_adapter.num_samples >= strategy.world_size:
        start, stop = strategy.shard_bounds(val_adapter.num_samples)
        if (start, stop) != (0, val_adapter.num_samples):
            rows = lambda a: a[start:stop]  # noqa: E731
            val_adapter = data_adapters.ArrayAdapter(
                map_structure(rows, val_adapter.x), map_structure(rows, val_adapter.y),
                map_structure(rows, val_adapter.sample_weight), val_adapter.batch_size, False)
    val_iterator = EpochIterator(val_adapter, validation_steps) if val_adapter else None
    guard = _GradientGuard(model, strategy)
    epoch_logs, train_logs = {}, {}
    with _guarded(model, guard):
        cbs.on_train_begin({})
        # BackupAndRestore sets model._initial_epoch when it restores a backup (Keras).
        initial_epoch = model._initial_epoch or initial_epoch
        for epoch in range(initial_epoch, epochs):
            model.reset_metrics()
            cbs.on_epoch_begin(epoch, {})
            stopped_by_nan, seen, logs = False, 0, None
            with _epoch_generator(model._training_seed, model._epochs_seen) as rng, \
                    _rank_generator(strategy, model._training_seed, model._epochs_seen):
                for step, data in iterator.epoch(rng):
                    cbs.on_train_batch_begin(step, {})
                    data, n_local, n_global = _shard(data, strategy)
                    guard.n_local, guard.n_global, guard.bad = n_local, n_global, None
                    if n_local:
                        data = _transform(cbs, step, data)
                        logs = _pythonify_logs(model.train_step(data))
                    else:      # a global batch smaller than the number of ranks
                        variables = model.trainable_variables
                        model.optimizer.apply([None] * len(variables), variables)
                        logs = _pythonify_logs(model.get_metrics_result())
                    seen += n_local
                    logs = strategy.average_logs(logs, seen)
                    cbs.on_train_batch_end(step, logs)
                    loss = logs.get("loss")
                    bad_loss = isinstance(loss, float) and not math.isfinite(loss)
                    if guard.bad or bad_loss:
                        _nan_warning(epoch, step, loss, guard)
                        model.stop_training = stopped_by_nan = True
                    if model.stop_training:
                        break
            if iterator.ran_out:
                model.stop_training = True
            model._epochs_seen += 1
            strategy.end_epoch(model)     # e.g. average BatchNorm's moving statistics
            if logs is None:
                logs = strategy.average_logs(_pythonify_logs(model.get_metrics_result()), seen)
            epoch_logs, train_logs = dict(logs), dict(logs)
            if val_iterator is not None and not stopped_by_nan and \
                    (epoch + 1) % validation_freq == 0:
                val_logs = _test_loop(model, val_iterator, cbs)
                val_logs = strategy.average_logs(
                    val_logs, val_adapter.num_samples if isinstance(
                        val_adapter, data_adapters.ArrayAdapter) else 1)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            adapter.on_epoch_end()
            if model.stop_training:
                break
        cbs.on_train_end(dict(epoch_logs or train_logs))
    model.history = history
    return history


def _validation_adapter(model, validation_data, batch_size):
    """The adapter of ``validation_data``: ``(x, y)``, ``(x, y, sample_weight)``,
    a PyDataset or an iterable of batches."""
    is_batches = isinstance(validation_data, list) and validation_data and \
        all(isinstance(b, tuple) for b in validation_data)
    if isinstance(validation_data, (list, tuple)) and not is_batches:
        if len(validation_data) not in (2, 3):
            raise ValueError(f"validation_data must be (x_val, y_val), (x_val, y_val, "
                             f"val_sample_weight) or an iterable of batches; got a "
                             f"{type(validation_data).__name__} of {len(validation_data)} items")
        vx, vy, vw = unpack_x_y_sample_weight(tuple(validation_data))
        return data_adapters.get_adapter(model, vx, vy, vw, batch_size, False)
    return data_adapters.get_adapter(model, validation_data, None, None, batch_size, False)


# --------------------------------------------------------------------------
# evaluate / predict
# --------------------------------------------------------------------------
def _test_loop(model, iterator, cbs):
    """Run ``test_step`` over one pass of ``iterator``; the logs at the end."""
    model.reset_metrics()
    cbs.on_test_begin({})
    logs = None
    with no_grad():
        for step, data in iterator.epoch(None):
            cbs.on_test_batch_begin(step, {})
            logs = _pythonify_logs(model.test_step(data))
            cbs.on_test_batch_end(step, logs)
    logs = logs if logs is not None else _pythonify_logs(model.get_metrics_result())
    iterator.adapter.on_epoch_end()
    cbs.on_test_end(dict(logs))
    return logs


def _flatten_in_order(model, logs):
    """The logs as ``evaluate`` returns them without ``return_dict``: the
    values of ``model.metrics`` in their order, then the others by sorted
    name; one value alone is returned as a number (Keras 3
    ``Trainer._flatten_metrics_in_order``)."""
    names = [m.name for m in model.metrics]
    values = [logs[name] for name in names if name in logs]
    values += [logs[key] for key in sorted(logs) if key not in names]
    return values[0] if len(values) == 1 else values


def evaluate(model: Model, x: Any = None, y: Any = None, batch_size: int | None = None,
             verbose: int | str = "auto", sample_weight: Any = None, steps: int | None = None,
             callbacks: Sequence[Callback] | None = None, return_dict: bool = False) -> Any:
    """Loss and metrics of ``model`` on ``x`` (see ``Model.evaluate``).

    Args:
        model: a compiled model.
        x: the inputs (or batches), as ``Model.fit`` takes them.
        y: the targets.
        batch_size: samples per batch (default 32).
        verbose: 0, 1, 2 or ``"auto"``.
        sample_weight: one weight per sample.
        steps: how many batches to draw when ``x`` yields batches.
        callbacks: ``Callback`` objects.
        return_dict: return ``{name: value}``.

    Returns:
        The loss, ``[loss, *metrics]``, or a dict with ``return_dict``.
    """
    _require_compiled(model, "evaluate")
    batch_size = _check_batch_size(batch_size)
    verbose = _check_verbose(verbose)
    adapter = data_adapters.get_adapter(model, x, y, sample_weight, batch_size, False)
    if isinstance(adapter, data_adapters.ArrayAdapter) and _default_step(model, "test_step"):
        _check_arrays_before_training(model, adapter)
    iterator = EpochIterator(adapter, steps)
    cbs = _callback_list(callbacks, model, 0, params={
        "epochs": 1, "steps": iterator.num_steps, "verbose": verbose})
    start = time.perf_counter()
    logs = _test_loop(model, iterator, cbs)
    if verbose:
        seconds = time.perf_counter() - start
        steps_done = max(iterator.steps_done, 1)
        print(f"{steps_done}/{steps_done} - {callbacks_module.format_seconds(seconds)}"
              f"{callbacks_module.format_per_step(seconds / steps_done)} - " +
              callbacks_module.format_logs(logs))
    if return_dict:
        return logs
    return _flatten_in_order(model, logs)


def predict(model: Model, x: Any, batch_size: int | None = None, verbose: int | str = "auto",
            steps: int | None = None, callbacks: Sequence[Callback] | None = None) -> Any:
    """The model's outputs for ``x`` as NumPy arrays, batch by batch, through
    ``predict_step`` in inference mode and without recording a graph.

    Args:
        model: the model.
        x: the inputs (or batches), as ``Model.fit`` takes them.
        batch_size: samples per batch (default 32).
        verbose: 0, 1, 2 or ``"auto"``.
        steps: how many batches to draw when ``x`` yields batches.
        callbacks: ``Callback`` objects.

    Returns:
        One array per output (a list, or a dict for dict outputs).
    """
    batch_size = _check_batch_size(batch_size)
    _check_verbose(verbose)
    adapter = data_adapters.get_adapter(model, x, None, None, batch_size, False,
                                        for_predict=True)
    if isinstance(adapter, data_adapters.ArrayAdapter):
        xs = adapter.x if isinstance(adapter.x, list) else [adapter.x]
        model._check_input_shapes([a.shape for a in xs])
    iterator = EpochIterator(adapter, steps)
    cbs = _callback_list(callbacks, model, 0, params={
        "epochs": 1, "steps": iterator.num_steps, "verbose": 0})
    cbs.on_predict_begin({})
    chunks: Any
    structure: Any
    chunks, structure = None, None
    with no_grad():
        for step, data in iterator.epoch(None):
            cbs.on_predict_batch_begin(step, {})
            out = model.predict_step(data)
            flat = list(out) if isinstance(out, (list, tuple)) else [out]
            structure = type(out) if isinstance(out, (list, tuple)) else None
            arrays = [o.data if isinstance(o, Tensor) else np.asarray(o) for o in flat]
            if chunks is None:
                chunks = [[] for _ in arrays]
            for chunk, array in zip(chunks, arrays):
                chunk.append(array)
            cbs.on_predict_batch_end(step, {"outputs": arrays if structure else arrays[0]})
    adapter.on_epoch_end()
    cbs.on_predict_end({})
    if chunks is None:
        raise ValueError("predict received no batches: the data is empty")
    results = [np.concatenate(c, axis=0) for c in chunks]
    return results[0] if structure is None else list(results)


def on_batch(model: Model, kind: str, x: Any, y: Any, sample_weight: Any,
             class_weight: dict[int, float] | None, return_dict: bool) -> Any:
    """``train_on_batch`` / ``test_on_batch`` / ``predict_on_batch``: one step on
    arrays taken as one batch (Keras 3: the metrics keep accumulating).

    Args:
        model: the model.
        kind: ``"train"``, ``"test"`` or ``"predict"``.
        x: the batch's inputs.
        y: its targets.
        sample_weight: one weight per sample.
        class_weight: ``{class index: weight}``.
        return_dict: return ``{name: value}``.

    Returns:
        The outputs (predict), or the metrics as ``evaluate`` returns them.
    """
    if kind != "predict":
        _require_compiled(model, f"{kind}_on_batch")
    adapter = data_adapters.get_adapter(model, x, y, sample_weight, 1, False, class_weight,
                                        for_predict=kind == "predict")
    if not isinstance(adapter, data_adapters.ArrayAdapter):
        raise TypeError(f"{kind}_on_batch takes arrays (one batch); got {type(x).__name__}")
    data = pack_x_y_sample_weight(adapter.x, adapter.y, adapter.sample_weight)
    if kind == "predict":
        with no_grad():
            out = model.predict_step(data)
        if isinstance(out, (list, tuple)):
            return [o.data if isinstance(o, Tensor) else np.asarray(o) for o in out]
        return out.data if isinstance(out, Tensor) else np.asarray(out)
    if kind == "train":
        logs = model.train_step(data)
    else:
        with no_grad():
            logs = model.test_step(data)
    logs = _pythonify_logs(logs)
    if return_dict:
        return logs
    return _flatten_in_order(model, logs)
