"""The loop behind ``fit``, ``evaluate`` and ``predict``.

One training step, the hot path::

    outputs = model(x_batch, training=True)              # records the graph
    loss = Σ_i w_i · loss_i(y_i, outputs_i) + Σ model.losses   # + regularization
    grads = gradients(loss, trainable_weights)           # frees the graph
    optimizer.apply_gradients(zip(grads, trainable_weights))

``gradients`` returns the gradients without touching ``.grad`` (nothing to
zero between steps) and drops every node it visits, so a step keeps nothing
alive for the next one.

Conventions (Keras):

* The history holds, per epoch, the mean of the per-batch losses (weighted
  by batch size) and the metrics over every sample, both computed from the
  forward pass *before* each update.
* ``validation_split`` takes the *last* fraction of the samples, before
  shuffling.
* A loss that becomes NaN or infinite stops training: the step is not
  applied (the weights stay those of the last good step), a
  ``RuntimeWarning`` explains what happened and ``fit`` returns the history
  so far. (Keras needs the ``TerminateOnNaN`` callback; here it is always on.)

Reproducible and resumable shuffling: the first ``fit`` draws a training
seed from chainrule's global generator (``cr.set_seed``). Epoch ``k`` of the
model's life (counted across ``fit`` calls and saved with the model) runs
with a generator seeded by ``(seed, k)``: it draws the batch order and, for
the length of the epoch, it is the global generator, so dropout masks follow
it too. Training 2 epochs, saving, loading and training 2 more therefore
sees the same batches and masks as 4 epochs in one go.

Data parallelism: ``fit(..., distribution=strategy)`` hands each global
batch's rows to ``strategy.shard`` and each step's gradients to
``strategy.reduce_step`` (see ``chainrule/distributed/data_parallel.py``).
The strategy is duck-typed: this module never imports it, nor mpi4py.
"""
import contextlib
import math
import time
import warnings

import numpy as np

from .. import random as _random
from ..autodiff import gradients
from ..graph import no_grad
from ..tensor import Tensor
from . import callbacks as callbacks_module

__all__ = ["evaluate", "fit", "predict"]


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
def _n_inputs(model):
    return len(model._input_tensors) if hasattr(model, "_input_tensors") else 1


def _as_arrays(data, count, what):
    """``data`` as a list of ``count`` NumPy arrays (one per input/output)."""
    if data is None:
        raise ValueError(f"{what} is required")
    if isinstance(data, dict):
        data = list(data.values())
    if count == 1:
        if isinstance(data, (list, tuple)) and len(data) == 1 and \
                isinstance(data[0], (np.ndarray, Tensor)):
            data = data[0]
        return [_to_numpy(data)]
    if not isinstance(data, (list, tuple)) or len(data) != count:
        got = len(data) if isinstance(data, (list, tuple)) else "one array"
        raise ValueError(f"the model has {count} {what}s, so {what} must be a list of "
                         f"{count} arrays; got {got}")
    return [_to_numpy(d) for d in data]


def _to_numpy(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _float_dtype(model):
    """float64 when any layer of the model is float64, else float32."""
    for layer in model._walk():
        if layer.dtype == np.float64:
            return np.dtype(np.float64)
    return np.dtype(np.float32)


def _cast(arrays, dtype):
    return [a.astype(dtype) if a.dtype.kind == "f" and a.dtype != dtype else a for a in arrays]


def _check_lengths(xs, ys):
    lengths = {len(a) for a in xs}
    if len(lengths) > 1:
        raise ValueError(f"the inputs have different numbers of samples: "
                         f"{[len(a) for a in xs]}; every input needs one row per sample")
    n = len(xs[0])
    if ys is not None:
        for y in ys:
            if len(y) != n:
                raise ValueError(
                    f"x and y have different numbers of samples: x has {n}, y has {len(y)}. "
                    f"They must match (one label per sample).")
    if n == 0:
        raise ValueError("x has no samples")
    return n


def _probe(model, xs):
    """Run one sample through the model (builds it, checks the input shape
    before training starts) and return the output arrays."""
    model._check_input_shapes([x.shape for x in xs])     # message with the full shapes
    with no_grad():
        out = model([x[:1] for x in xs] if len(xs) > 1 else xs[0][:1], training=False)
    return [o.data for o in out] if isinstance(out, (list, tuple)) else [out.data]


def _check_labels(model, ys, outputs):
    """Labels that cannot fit the outputs are reported before training starts."""
    for i, (fn, y, out) in enumerate(zip(model._loss_fns, ys, outputs)):
        kind = type(fn).__name__.lower() + " " + str(getattr(fn, "name", "")).lower()
        units = out.shape[-1] if out.ndim > 1 else 1
        where = f"output '{model.output_names[i]}'" if len(ys) > 1 else "the model's output"
        if "sparse" in kind:
            labels = y.reshape(len(y), -1) if y.ndim > 1 else y
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
        elif "categorical" in kind and units > 1 and (y.ndim != out.ndim or y.shape[-1] != units):
            raise ValueError(
                f"categorical cross-entropy needs one-hot labels of shape (N, {units}) for "
                f"{where}, but y has shape {y.shape}. For integer labels use "
                f"loss='sparse_categorical_crossentropy' or "
                f"cr.utils.to_categorical(y, {units}).")


def _split_validation(xs, ys, validation_split):
    if not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    n = len(xs[0])
    split_at = math.floor(n * (1.0 - validation_split))
    if split_at == 0 or split_at == n:
        raise ValueError(f"training data contains {n} samples, which is not enough to split "
                         f"into a training and a validation set with "
                         f"validation_split={validation_split}")
    return ([x[:split_at] for x in xs], [y[:split_at] for y in ys],
            [x[split_at:] for x in xs], [y[split_at:] for y in ys])


# --------------------------------------------------------------------------
# Loss and metrics
# --------------------------------------------------------------------------
def _compute_loss(model, ys, outs):
    """(total loss Tensor, [per-output loss Tensors])."""
    total, parts = None, []
    for fn, weight, y, out in zip(model._loss_fns, model._loss_weights, ys, outs):
        value = fn(y, out)
        parts.append(value)
        term = value if weight == 1.0 else value * weight
        total = term if total is None else total + term
    for penalty in model.losses:          # regularization and add_loss terms
        total = total + penalty
    return total, parts


class _Tracker:
    """Running epoch means of the loss (weighted by batch size) and the metrics."""

    def __init__(self, model):
        self.model = model
        self.names = model.output_names
        self.metric_objects = None         # resolved at the first batch (needs y, y_pred)
        self.reset()

    def reset(self):
        self.loss_sum, self.count = 0.0, 0
        self.part_sums = [0.0] * len(self.names)
        for _, _, metric in self.metric_objects or []:
            metric.reset_state()

    def _resolve(self, ys, outs):
        from .. import metrics as metrics_module
        self.metric_objects = []
        multi = len(self.names) > 1
        for i, ids in enumerate(self.model._metric_ids):
            for identifier in ids:
                metric = metrics_module.get(identifier, loss=self.model._loss_fns[i],
                                            y_true=ys[i], y_pred=outs[i])
                metric.reset_state()
                name = identifier if isinstance(identifier, str) else metric.name
                self.metric_objects.append((i, f"{self.names[i]}_{name}" if multi else name,
                                            metric))

    def update(self, ys, outs, loss_value, part_values, n):
        if self.metric_objects is None:
            self._resolve(ys, outs)
        self.loss_sum += loss_value * n
        self.count += n
        for k, value in enumerate(part_values):
            self.part_sums[k] += value * n
        for i, _, metric in self.metric_objects:
            metric.update_state(ys[i], outs[i])

    def result(self):
        logs = {"loss": self.loss_sum / max(self.count, 1)}
        if len(self.names) > 1:
            for name, total in zip(self.names, self.part_sums):
                logs[f"{name}_loss"] = total / max(self.count, 1)
        for _, name, metric in self.metric_objects or []:
            logs[name] = float(metric.result())
        return logs


# --------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------
def _forward(model, xs, training):
    inputs = [Tensor._wrap(x) for x in xs]
    out = model(inputs if len(inputs) > 1 else inputs[0], training=training)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _train_step(model, xs, ys, params):
    """One update. Returns (loss, [per-output losses], [output arrays]) or, when the
    loss is not finite, the same with the update skipped."""
    outs = _forward(model, xs, training=True)
    total, parts = _compute_loss(model, ys, outs)
    loss_value = float(total.data)
    part_values = [float(p.data) for p in parts] if len(parts) > 1 else []
    out_arrays = [o.data for o in outs]
    if not math.isfinite(loss_value):
        return loss_value, part_values, out_arrays
    if params is None:
        params = model.trainable_weights
    grads = gradients(total, params)
    model.optimizer.apply_gradients(zip(grads, params))
    return loss_value, part_values, out_arrays


def _distributed_train_step(model, xs, ys, params, distribution, n_global):
    """One synchronous data-parallel update (see chainrule/distributed): this
    rank's gradients of its shard's mean loss go to ``distribution.reduce_step``,
    which averages them over the ranks weighted by shard size; every rank
    then applies the same update. Returns (local loss, [local per-output
    losses], [local output arrays], global loss); a non-finite global loss
    skips the update on every rank."""
    n_local = len(xs[0])
    if n_local:
        outs = _forward(model, xs, training=True)
        total, parts = _compute_loss(model, ys, outs)
        loss_value = float(total.data)
        part_values = [float(p.data) for p in parts] if len(parts) > 1 else []
        out_arrays = [o.data for o in outs]
        grads = gradients(total, params)
    else:       # a global batch smaller than the number of ranks: nothing to do here
        loss_value, part_values, out_arrays, grads = 0.0, [], [], [None] * len(params)
    grads, (global_loss,) = distribution.reduce_step(grads, params, [loss_value],
                                                     n_local, n_global)
    if math.isfinite(global_loss):
        model.optimizer.apply_gradients(zip(grads, params))
    return loss_value, part_values, out_arrays, global_loss


def _zero_logs(tracker):
    """The keys ``tracker.result()`` would give, all 0: the logs of a rank that
    has seen no sample yet (they weigh 0 in the average over ranks)."""
    logs = {"loss": 0.0}
    if len(tracker.names) > 1:
        logs.update({f"{name}_loss": 0.0 for name in tracker.names})
    logs.update({name: 0.0 for _, name, _ in tracker.metric_objects or []})
    return logs


def _global_logs(tracker, distribution):
    """The tracker's logs; with a distribution, averaged over the ranks."""
    if distribution is None:
        return tracker.result()
    logs = tracker.result() if tracker.count else _zero_logs(tracker)
    return distribution.average_logs(logs, tracker.count)


def _batches(n, batch_size, order=None):
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size] if order is not None else slice(start, start + batch_size)


def _run_evaluation(model, xs, ys, batch_size, tracker=None):
    tracker = tracker or _Tracker(model)
    tracker.reset()
    with no_grad():
        for idx in _batches(len(xs[0]), batch_size):
            xb, yb = [x[idx] for x in xs], [y[idx] for y in ys]
            outs = _forward(model, xb, training=False)
            total, parts = _compute_loss(model, yb, outs)
            tracker.update(yb, [o.data for o in outs], float(total.data),
                           [float(p.data) for p in parts] if len(parts) > 1 else [], len(xb[0]))
    return tracker.result()


@contextlib.contextmanager
def _epoch_generator(seed, epoch):
    """Make a generator seeded by (seed, epoch) the global one for the epoch."""
    with _random.use_generator(np.random.default_rng([seed, epoch])) as rng:
        yield rng


# --------------------------------------------------------------------------
# fit / evaluate / predict
# --------------------------------------------------------------------------
def _rank_generator(distribution, seed, epoch):
    """With several ranks, each draws its dropout masks from its own generator
    (the batch order still comes from the shared one); otherwise nothing changes."""
    rng = distribution.rank_generator(seed, epoch) if distribution is not None else None
    return _random.use_generator(rng) if rng is not None else contextlib.nullcontext()


def _require_compiled(model, who):
    if not getattr(model, "compiled", False):
        raise RuntimeError(f"call model.compile(optimizer, loss, metrics) before {who}()")


def _check_batch_size(batch_size):
    if batch_size is None:
        return 32
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def fit(model, x, y, batch_size=32, epochs=1, verbose=1, callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
        distribution=None):
    """Train ``model`` (see ``Model.fit``); returns the ``History`` callback.

    ``distribution`` (e.g. ``chainrule.distributed.DataParallel()``) is used
    only through the methods called below (duck typing): this floor never
    imports the distributed package, nor mpi4py.
    """
    _require_compiled(model, "fit")
    batch_size = _check_batch_size(batch_size)
    if verbose not in (0, 1, 2, "auto"):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    verbose = 1 if verbose == "auto" else verbose
    n_out = len(model.output_names)
    xs = _as_arrays(x, _n_inputs(model), "x")
    ys = _as_arrays(y, n_out, "y")
    _check_lengths(xs, ys)
    dtype = _float_dtype(model)
    xs, ys = _cast(xs, dtype), _cast(ys, dtype)
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (list, tuple)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a tuple (x_val, y_val)")
        vx = _cast(_as_arrays(validation_data[0], _n_inputs(model), "validation x"), dtype)
        vy = _cast(_as_arrays(validation_data[1], n_out, "validation y"), dtype)
        _check_lengths(vx, vy)
        val = (vx, vy)
    elif validation_split:
        xs, ys, vx, vy = _split_validation(xs, ys, validation_split)
        val = (vx, vy)

    # Everything that can be wrong with the data is reported here, before
    # the first update: input shapes (through the layers' own checks), labels.
    outputs = _probe(model, xs)
    _check_labels(model, ys, outputs)
    if val is not None:
        _check_labels(model, val[1], outputs)

    n = len(xs[0])
    steps = math.ceil(n / batch_size)
    history = callbacks_module.History()
    if distribution is not None:      # only rank 0 prints and writes files
        callbacks, verbose = distribution.select_callbacks(callbacks, verbose)
    cbs = callbacks_module.CallbackList(
        callbacks, model=model, history=history, verbose=verbose,
        params={"epochs": epochs, "steps": steps, "verbose": verbose,
                "batch_size": batch_size, "samples": n})
    if model._training_seed is None:
        model._training_seed = int(_random.default_rng().integers(2 ** 62))
    model.stop_training = False
    tracker, val_tracker = _Tracker(model), _Tracker(model)
    params = None
    if distribution is not None:
        # Every rank starts from rank 0's weights, seed and epoch count (so all
        # draw the same batch order), knows the metric names before its first
        # sample (a rank may get none), and validates on its share of val.
        model._training_seed, model._epochs_seen = distribution.begin_fit(
            model, model._training_seed, model._epochs_seen)
        params = model.trainable_weights
        for t in (tracker, val_tracker):
            t._resolve([y_[:1] for y_ in ys], outputs)
        if val is not None and len(val[0][0]) >= distribution.world_size:
            start, stop = distribution.shard_bounds(len(val[0][0]))
            val = ([v[start:stop] for v in val[0]], [v[start:stop] for v in val[1]])
    cbs.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        tracker.reset()
        cbs.on_epoch_begin(epoch)
        stopped_by_nan = False
        with _epoch_generator(model._training_seed, model._epochs_seen) as rng, \
                _rank_generator(distribution, model._training_seed, model._epochs_seen):
            order = rng.permutation(n) if shuffle else None
            for step, idx in enumerate(_batches(n, batch_size, order)):
                cbs.on_train_batch_begin(step)
                if distribution is not None:      # this rank's share of the global batch
                    rows = np.arange(n)[idx] if isinstance(idx, slice) else idx
                    n_global, idx = len(rows), distribution.shard(rows)
                xb, yb = [x_[idx] for x_ in xs], [y_[idx] for y_ in ys]
                if len(xb[0]):
                    xb, yb = cbs.transform_batch(step, xb, yb)
                if distribution is None:
                    loss, parts, outs = _train_step(model, xb, yb, params)
                    global_loss = loss
                else:
                    loss, parts, outs, global_loss = _distributed_train_step(
                        model, xb, yb, params, distribution, n_global)
                if params is None:
                    params = model.trainable_weights      # the model is built by now
                if len(xb[0]):
                    tracker.update(yb, outs, loss, parts, len(xb[0]))
                logs = _global_logs(tracker, distribution)
                cbs.on_train_batch_end(step, logs)
                loss = global_loss
                if not math.isfinite(loss):
                    warnings.warn(
                        f"Epoch {epoch + 1}, batch {step + 1}: the loss is {loss}; training "
                        f"stopped and this step was not applied, so the weights are those "
                        f"after the previous step. Usual causes: a learning rate too high, "
                        f"inputs that are not scaled (e.g. pixels 0-255 instead of 0-1), "
                        f"or NaN/inf in the data.", RuntimeWarning, stacklevel=3)
                    model.stop_training = stopped_by_nan = True
                if model.stop_training:
                    break
        model._epochs_seen += 1
        if distribution is not None:
            distribution.end_epoch(model)     # e.g. average BatchNorm's moving statistics
        epoch_logs = _global_logs(tracker, distribution)
        if val is not None and not stopped_by_nan:
            val_logs = _run_evaluation(model, val[0], val[1], batch_size, val_tracker)
            if distribution is not None:
                val_logs = distribution.average_logs(val_logs, len(val[0][0]))
            epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    cbs.on_train_end()
    model.history = history
    return history


def evaluate(model, x, y, batch_size=32, verbose=0, return_dict=False):
    """Loss and metrics of ``model`` on ``(x, y)`` (see ``Model.evaluate``)."""
    _require_compiled(model, "evaluate")
    batch_size = _check_batch_size(batch_size)
    xs = _as_arrays(x, _n_inputs(model), "x")
    ys = _as_arrays(y, len(model.output_names), "y")
    _check_lengths(xs, ys)
    dtype = _float_dtype(model)
    xs, ys = _cast(xs, dtype), _cast(ys, dtype)
    _check_labels(model, ys, _probe(model, xs))
    start = time.perf_counter()
    logs = _run_evaluation(model, xs, ys, batch_size)
    if verbose:
        print(f"evaluate: {len(xs[0])} samples in {time.perf_counter() - start:.1f}s - " +
              " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=32, verbose=0):
    """The model's outputs for ``x`` as NumPy arrays, batch by batch, in
    inference mode and without recording a graph."""
    batch_size = _check_batch_size(batch_size)
    xs = _as_arrays(x, _n_inputs(model), "x")
    _check_lengths(xs, None)
    xs = _cast(xs, _float_dtype(model))
    model._check_input_shapes([x.shape for x in xs])
    chunks = None
    with no_grad():
        for idx in _batches(len(xs[0]), batch_size):
            outs = _forward(model, [x_[idx] for x_ in xs], training=False)
            if chunks is None:
                chunks = [[] for _ in outs]
            for chunk, out in zip(chunks, outs):
                chunk.append(out.data)
    results = [np.concatenate(c, axis=0) for c in chunks]
    return results[0] if len(results) == 1 else results
