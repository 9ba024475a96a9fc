"""Callbacks: code that ``fit`` runs at the start and end of training, of each
epoch and of each batch (Keras semantics).

>>> import chainrule as cr
>>> stop = cr.callbacks.EarlyStopping(monitor="val_loss", patience=3,
...                                   restore_best_weights=True)
>>> history = model.fit(x, y, validation_split=0.2, epochs=100,
...                     callbacks=[stop])                       # doctest: +SKIP

A callback sees ``self.model`` (so it can set ``model.stop_training`` or
read ``model.optimizer.learning_rate``) and ``self.params`` (epochs, steps).
``logs`` at the end of an epoch hold ``loss``, the metrics and, with
validation data, ``val_loss`` and ``val_<metric>``.
"""
from __future__ import annotations

import csv
import math
import os
import sys
import time
import warnings
from typing import IO, TYPE_CHECKING, Any, Callable, Dict, Sequence

import numpy as np

from .notebook_display import live_line

if TYPE_CHECKING:
    from .model import Model

Logs = Dict[str, Any]      # what a hook receives: "loss", metrics, "val_loss"...

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]


class Callback:
    """Base class: override the hooks you need; each receives a ``logs`` dict
    (never None, as Keras 3 passes them).

    ``on_train_batch_*`` call the older ``on_batch_*`` by default, as in Keras.
    """

    def __init__(self) -> None:
        # The Model being trained (None until fit calls set_model): Any, since
        # the hooks read and set whatever the model offers (optimizer, stop_training).
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Model | None) -> None:
        """Called by ``fit``/``evaluate``/``predict`` before any hook.

        Args:
            model: the model the callback watches (``self.model``).
        """
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        """Called by ``fit`` with the run's parameters.

        Args:
            params: ``{"epochs", "steps", "verbose"}`` of the run (``self.params``).
        """
        self.params = params

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called at the start of a training batch (Keras' older name of ``on_train_batch_begin``).

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called at the end of a training batch (Keras' older name of ``on_train_batch_end``).

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the start of an epoch.

        Args:
            epoch: the index of the epoch (from 0).
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the end of an epoch; ``logs`` hold the epoch's loss, metrics and ``val_*``.

        Args:
            epoch: the index of the epoch (from 0).
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called at the start of a training batch; calls ``on_batch_begin``.

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs of the moment (a dict; None is read as empty).
        """
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called at the end of a training batch; calls ``on_batch_end``.

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs of the moment (a dict; None is read as empty).
        """
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called at the start of a batch of ``evaluate`` (or of fit's validation).

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called at the end of a batch of ``evaluate`` (or of fit's validation).

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called at the start of a batch of ``predict``.

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called at the end of a batch of ``predict``.

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Called at the start of ``fit``.

        Args:
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Called at the end of ``fit``.

        Args:
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_test_begin(self, logs: Logs | None = None) -> None:
        """Called at the start of ``evaluate``.

        Args:
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_test_end(self, logs: Logs | None = None) -> None:
        """Called at the end of ``evaluate``.

        Args:
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        """Called at the start of ``predict``.

        Args:
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def on_predict_end(self, logs: Logs | None = None) -> None:
        """Called at the end of ``predict``.

        Args:
            logs: the logs of the moment (a dict; None is read as empty).
        """

    def transform_batch(self, batch: int, xs: Sequence[np.ndarray],
                        ys: Sequence[np.ndarray]) -> tuple[Sequence[np.ndarray], Sequence[np.ndarray]]:
        """Return the batch to train on: lists of input and label arrays.

        Not in Keras: the hook that adversarial training
        (``cr.attacks.AdversarialTraining``) uses to replace or extend each
        batch before the step. The default trains on the batch as given.

        Args:
            batch: the index of the batch within the epoch (from 0).
            xs: the batch's input arrays, one per model input.
            ys: the batch's label arrays, one per model output.

        Returns:
            ``(xs, ys)`` to train on.
        """
        return xs, ys


_HOOKS = ("on_batch_begin", "on_batch_end", "on_epoch_begin", "on_epoch_end",
          "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
          "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end",
          "on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
          "on_predict_begin", "on_predict_end")


class CallbackList:
    """The callbacks of one ``fit``/``evaluate``/``predict``: the user's, plus
    History and the progress bar. Every hook passes a ``logs`` dict.

    Args:
        callbacks: the user's callbacks (``Callback`` instances), or None.
        model: the model they watch.
        history: a ``History`` to append last (it records what the others add), or None.
        verbose: 1 or 2 adds a ``ProgbarLogger`` first (unless one is given); 0 none.
        params: the run's parameters (``epochs``, ``steps``, ``verbose``).
    """

    def __init__(self, callbacks: Sequence[Callback] | None = None, model: Model | None = None,
                 history: History | None = None, verbose: int = 0,
                 params: dict[str, Any] | None = None) -> None:
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be cr.callbacks.Callback instances, got "
                                f"{type(cb).__name__}")
        self.callbacks = callbacks
        # As Keras: the progress bar first, History last (so it records what
        # other callbacks add to the logs, such as the learning rate).
        if verbose and not any(isinstance(cb, ProgbarLogger) for cb in callbacks):
            self.callbacks.insert(0, ProgbarLogger())
        if history is not None:
            self.callbacks.append(history)
        self.model = model
        self.params = dict(params or {})
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(dict(self.params))
        self.transforms = any(type(cb).transform_batch is not Callback.transform_batch
                              for cb in self.callbacks)

    def append(self, callback: Callback) -> None:
        """Add one more callback, given the list's model and parameters.

        Args:
            callback: the callback to add.
        """
        callback.set_model(self.model)
        callback.set_params(dict(self.params))
        self.callbacks.append(callback)

    def set_model(self, model: Model | None) -> None:
        """Give every callback the model.

        Args:
            model: the model they watch.
        """
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        """Give every callback (a copy of) the run's parameters.

        Args:
            params: ``{"epochs", "steps", "verbose"}`` of the run.
        """
        self.params = dict(params)
        for cb in self.callbacks:
            cb.set_params(dict(params))

    def _call(self, hook: str, *args: Any) -> None:
        logs = args[-1] if args and args[-1] is not None else {}
        args = args[:-1] + (logs,)
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Pass ``on_train_begin`` on to every callback.

        Args:
            logs: the logs dict (None: an empty one).
        """
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Pass ``on_train_end`` on to every callback.

        Args:
            logs: the logs dict (None: an empty one).
        """
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Pass ``on_epoch_begin`` on to every callback.

        Args:
            epoch: the index of the epoch (from 0).
            logs: the logs dict (None: an empty one).
        """
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Pass ``on_epoch_end`` on to every callback.

        Args:
            epoch: the index of the epoch (from 0).
            logs: the logs dict (None: an empty one).
        """
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Pass ``on_train_batch_begin`` on to every callback.

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs dict (None: an empty one).
        """
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Pass ``on_train_batch_end`` on to every callback.

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs dict (None: an empty one).
        """
        self._call("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        """Pass ``on_test_begin`` on to every callback.

        Args:
            logs: the logs dict (None: an empty one).
        """
        self._call("on_test_begin", logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        """Pass ``on_test_end`` on to every callback.

        Args:
            logs: the logs dict (None: an empty one).
        """
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Pass ``on_test_batch_begin`` on to every callback.

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs dict (None: an empty one).
        """
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Pass ``on_test_batch_end`` on to every callback.

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs dict (None: an empty one).
        """
        self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        """Pass ``on_predict_begin`` on to every callback.

        Args:
            logs: the logs dict (None: an empty one).
        """
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs: Logs | None = None) -> None:
        """Pass ``on_predict_end`` on to every callback.

        Args:
            logs: the logs dict (None: an empty one).
        """
        self._call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Pass ``on_predict_batch_begin`` on to every callback.

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs dict (None: an empty one).
        """
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Pass ``on_predict_batch_end`` on to every callback.

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the logs dict (None: an empty one).
        """
        self._call("on_predict_batch_end", batch, logs)

    def transform_batch(self, batch: int, xs: Sequence[np.ndarray],
                        ys: Sequence[np.ndarray]) -> tuple[Sequence[np.ndarray], Sequence[np.ndarray]]:
        """Let every callback transform the batch in turn.

        Args:
            batch: the index of the batch within the epoch (from 0).
            xs: the batch's input arrays.
            ys: the batch's label arrays.

        Returns:
            ``(xs, ys)`` after the last callback.
        """
        for cb in self.callbacks:
            xs, ys = cb.transform_batch(batch, xs, ys)
        return xs, ys


class History(Callback):
    """Records the epoch logs: ``history.history["loss"][epoch]``; ``history.epoch``.

    Attributes:
        history: ``{name: [value per epoch]}`` for the loss, metrics and ``val_*``.
        epoch: the indices of the epochs recorded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _fmt_logs(logs: Logs) -> str:
    """``loss: 0.1234 - mae: 5.0000e-04``: 4 decimals, or 4 significant digits
    in scientific notation at or below 1e-3 (Keras 3 ``keras/src/utils/progbar.py``).

    Args:
        logs: the logs; only the numbers among them are shown.

    Returns:
        The text.

    Example:

    >>> format_logs({"loss": 0.12345, "mae": 0.0005})
    'loss: 0.1235 - mae: 5.0000e-04'
    """
    return " - ".join(f"{k}: {v:.4f}" if abs(v) > 1e-3 else f"{k}: {v:.4e}"
                      for k, v in logs.items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool))


format_logs = _fmt_logs


def format_per_step(seconds: float, unit: str = "step") -> str:
    """Time per step in Keras Progbar's units: `` 3s/step``, `` 12ms/step``,
    `` 250us/step`` (as Keras 3 ``keras/src/utils/progbar.py`` ``_format_time``).

    Args:
        seconds: the time of one step.
        unit: the word after the slash.

    Returns:
        The text, with a leading space.

    Example:

    >>> format_per_step(0.012)
    ' 12ms/step'
    """
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit}"
    return f" {seconds * 1e6:.0f}us/{unit}"


def format_seconds(seconds: float) -> str:
    """A duration as Keras' progress bar shows it: ``7s``, ``2:05``, ``1:02:05``.

    Args:
        seconds: the duration.

    Returns:
        The text.

    Example:

    >>> format_seconds(125)
    '2:05'
    """
    return _fmt_time(seconds)


def _fmt_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


class ProgbarLogger(Callback):
    """Keras-style progress: with ``verbose=1`` a bar per epoch with the running
    loss and metrics and the time left; with ``verbose=2`` one line per epoch.

    ``fit`` adds it when ``verbose`` is 1 or 2. Redraws at most 10 times a second:
    on a terminal over the same line; in a Jupyter notebook as one display
    updated in place (``notebook_display.py``), so a cell keeps one line per epoch.

    Args:
        stream: where to write; None means ``sys.stdout`` at each write.
        width: the bar's width in characters.
        interval: the least time between two redraws, in seconds.
    """

    def __init__(self, stream: IO[str] | None = None, width: int = 30,
                 interval: float = 0.1) -> None:
        super().__init__()
        self.stream, self.width, self.interval = stream, width, interval

    def _out(self) -> IO[str]:
        return self.stream or sys.stdout

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self.verbose = self.params.get("verbose", 1)
        self.steps = self.params.get("steps")
        self.start = self.last_draw = time.perf_counter()
        self.last_logs: Logs = {}
        self.done = 0
        # Redraw the bar only on a terminal; into a file or a pipe, where `\r`
        # does not go back, write just the line at the end of the epoch (Keras).
        self.dynamic = getattr(self._out(), "isatty", lambda: False)()
        self._out().write(f"Epoch {epoch + 1}/{self.params.get('epochs')}\n")
        # In a Jupyter kernel the bar is one display redrawn in place (notebook_display.py).
        self.live = live_line(self.stream) if self.verbose == 1 else None
        self.dynamic = self.dynamic or self.live is not None

    def _bar(self, done: int) -> str:
        if not self.steps:
            return f"{done}/{done}"
        digits = len(str(self.steps))
        filled = int(self.width * done / self.steps) if self.steps else self.width
        arrow = ">" if filled < self.width else ""
        bar = "=" * max(filled - len(arrow), 0) + arrow
        return f"{done:>{digits}}/{self.steps} [{bar.ljust(self.width, '.')}]"

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self.last_logs = dict(logs or {})
        self.done = batch + 1
        if self.verbose != 1 or not self.dynamic:
            return
        now = time.perf_counter()
        if now - self.last_draw < self.interval and (self.steps is None or
                                                     self.done < self.steps):
            return
        self.last_draw = now
        elapsed = now - self.start
        if self.steps:
            eta = elapsed / self.done * (self.steps - self.done)
            progress = f"{self._bar(self.done)} - ETA: {_fmt_time(eta)}"
        else:       # a generator of unknown length (Keras: "N/Unknown")
            progress = f"{self.done}/Unknown {_fmt_time(elapsed)}"
        self._show(f"{progress} - {_fmt_logs(self.last_logs)}")

    def _show(self, line: str, final: bool = False) -> None:
        """Redraw the bar: the notebook's display in place, else over the line after ``\\r``."""
        if self.live is not None:
            self.live.update(line)
            return
        self._out().write(("\r" if self.dynamic else "") + line + ("\n" if final else ""))
        self._out().flush()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        elapsed = time.perf_counter() - self.start
        done = self.done or self.steps or 1
        per_step = format_per_step(elapsed / done)
        text = _fmt_logs(logs or {})
        # Keras' final lines: "3/3 [...] 0s 2ms/step - loss: ..." (verbose 1) and
        # "3/3 - 0s - 2ms/step - loss: ..." (verbose 2).
        if self.verbose == 1:
            self._show(f"{self._bar(done)} {elapsed:.0f}s{per_step} - {text}", final=True)
        else:
            self._out().write(f"{done}/{self.steps or done} - {elapsed:.0f}s -{per_step} - "
                              f"{text}\n")
        self._out().flush()


# --------------------------------------------------------------------------
# Monitoring a quantity
# --------------------------------------------------------------------------
def _direction(monitor: str, mode: str, who: str) -> str:
    """'min' or 'max' for ``mode`` ('auto' guesses from the name, as Keras)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if any(word in name for word in ("acc", "auc", "precision", "recall")):
        return "max"
    return "min"


def _monitor_value(logs: Logs | None, monitor: str, who: str) -> Any:
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{who} monitors '{monitor}', which is not in the logs; available: "
                      f"{', '.join(logs or {})}. Pass validation data for val_* "
                      f"quantities, or compile with the metric.", RuntimeWarning, stacklevel=3)
    return value


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Improvement means ``current - min_delta < best`` (mode 'min') or
    ``current + min_delta > best`` (mode 'max'). With
    ``restore_best_weights=True`` the weights of the best epoch are put back
    at the end of training (Keras 3: whether or not training stopped early).

    Args:
        monitor: the quantity watched (a key of the epoch logs).
        min_delta: the least change that counts as an improvement.
        patience: epochs without improvement before stopping.
        verbose: 1 prints when it stops and restores.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (from the name: accuracies go up).
        baseline: a value to reach; until then, epochs count toward ``patience``.
        restore_best_weights: put back the weights of the best epoch at the end.
        start_from_epoch: epochs to wait before watching.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__()
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.mode = _direction(monitor, mode, "EarlyStopping")
        self.min_delta = abs(min_delta) * (1 if self.mode == "max" else -1)

    def _improved(self, current: float, reference: float) -> bool:
        # Keras keeps min_delta signed: -|d| in mode 'min', +|d| in mode 'max'.
        if self.mode == "min":
            return current - self.min_delta < reference
        return current - self.min_delta > reference

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = _monitor_value(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (or only its weights) every epoch, or every ``save_freq`` batches.

    ``filepath`` may contain ``{epoch:02d}`` (1-based, as Keras), ``{batch}``
    (1-based, with an integer ``save_freq``) and any log, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.2f}.chainrule"``. With ``save_best_only``
    a file is written only when ``monitor`` improved (mode as in
    EarlyStopping). ``save_freq="epoch"`` saves at the end of each epoch; an
    integer ``n`` after every ``n`` batches, counted across epochs (Keras 3
    ``keras/src/callbacks/model_checkpoint.py``). Files are written atomically.

    Args:
        filepath: where to save; may hold ``{epoch}``, ``{batch}`` and log names.
        monitor: the quantity compared with ``save_best_only``.
        verbose: 1 prints each save.
        save_best_only: save only when ``monitor`` improved.
        save_weights_only: save ``model.save_weights`` instead of the whole model.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        save_freq: ``"epoch"``, or a number of batches between saves.
        initial_value_threshold: the value ``monitor`` must beat first (None: any).
    """

    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss",
                 verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch",
                 initial_value_threshold: float | None = None) -> None:
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = _direction(monitor, mode, "ModelCheckpoint")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or
                                     not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive "
                             f"integer (batches), got {save_freq!r}")
        self.save_freq = save_freq
        self.best = initial_value_threshold if initial_value_threshold is not None else \
            (math.inf if self.mode == "min" else -math.inf)
        self._batches_since_save = 0
        self._current_epoch = 0

    def _path(self, epoch: int, logs: Logs | None, batch: int | None = None) -> str:
        try:
            if batch is None:
                return self.filepath.format(epoch=epoch + 1, **(logs or {}))
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **(logs or {}))
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: filepath '{self.filepath}' refers to {e}, which "
                           f"is not in the logs ({', '.join(logs or {})})") from None

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if isinstance(self.save_freq, str):       # "epoch", the only string __init__ takes
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, logs, batch)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, logs)

    def _save(self, epoch: int, logs: Logs | None, batch: int | None = None) -> None:
        path = self._path(epoch, logs, batch)
        where = f"Epoch {epoch + 1}" + (f", batch {batch + 1}" if batch is not None else "")
        if self.save_best_only:
            current = _monitor_value(logs, self.monitor, "ModelCheckpoint")
            if current is None:
                return
            better = current < self.best if self.mode == "min" else current > self.best
            if not better:
                if self.verbose:
                    print(f"{where}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                print(f"{where}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"{where}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


def _get_lr(model: Any, who: str) -> float:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"{who} needs a compiled model whose optimizer has a learning_rate")
    return float(optimizer.learning_rate)


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)``
    (``epoch`` counts from 0).

    Args:
        schedule: a function ``(epoch, lr) -> new lr``.
        verbose: 1 prints each new rate.
    """

    def __init__(self, schedule: Callable[[int, float], float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError("LearningRateScheduler needs a function schedule(epoch, lr)")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        lr = float(self.schedule(epoch, _get_lr(self.model, "LearningRateScheduler")))
        if not math.isfinite(lr):
            raise ValueError(f"LearningRateScheduler: the schedule returned {lr} for epoch {epoch}")
        self.model.optimizer.learning_rate = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model, "LearningRateScheduler")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved
    for ``patience`` epochs (improvement beyond ``min_delta``); then wait
    ``cooldown`` epochs; never go below ``min_lr``.

    Args:
        monitor: the quantity watched.
        factor: what the learning rate is multiplied by, below 1.
        patience: epochs without improvement before a reduction.
        verbose: 1 prints each reduction.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        min_delta: the least change that counts as an improvement.
        cooldown: epochs to wait after a reduction.
        min_lr: the lowest learning rate.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, got {factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.mode = _direction(monitor, mode, "ReduceLROnPlateau")
        self.min_delta, self.cooldown, self.min_lr = min_delta, cooldown, min_lr
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _improved(self, current: float) -> bool:
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs if logs is not None else {}
        lr = _get_lr(self.model, "ReduceLROnPlateau")
        logs["learning_rate"] = lr
        current = _monitor_value(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience and lr > np.float32(self.min_lr):
                new_lr = max(lr * self.factor, self.min_lr)
                self.model.optimizer.learning_rate = new_lr
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0


class CSVLogger(Callback):
    """Write one row per epoch (``epoch`` then the logs, keys sorted) to a CSV file.

    ``append=True`` adds to an existing file instead of starting a new one.

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: add to an existing file instead of starting a new one.
    """

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",",
                 append: bool = False) -> None:
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.keys: list[str] | None = None
        self._file: IO[str] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        has_rows = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115 (open for the whole fit)
        self._header_written = has_rows
        self.keys = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        assert self._file is not None, "CSVLogger: on_train_begin opens the file"
        writer = csv.writer(self._file, delimiter=self.separator)
        if not self._header_written:
            writer.writerow(["epoch"] + self.keys)
            self._header_written = True
        writer.writerow([epoch] + [logs.get(k, "NA") for k in self.keys])
        self._file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite.

    ``fit`` already does this on its own (see training.py); the callback
    exists for Keras code that lists it.
    """

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Args:
        on_epoch_begin: ``f(epoch, logs)``, or None.
        on_epoch_end: ``f(epoch, logs)``, or None.
        on_train_begin: ``f(logs)``, or None.
        on_train_end: ``f(logs)``, or None.
        on_train_batch_begin: ``f(batch, logs)``, or None.
        on_train_batch_end: ``f(batch, logs)``, or None.
        **kwargs: any other hook by name (``on_test_end=...``).

    Example:

    >>> seen = []
    >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["loss"]))
    >>> cb.on_epoch_end(0, {"loss": 0.5}); seen
    [0.5]
    """

    def __init__(self, on_epoch_begin: Callable[..., Any] | None = None,
                 on_epoch_end: Callable[..., Any] | None = None,
                 on_train_begin: Callable[..., Any] | None = None,
                 on_train_end: Callable[..., Any] | None = None,
                 on_train_batch_begin: Callable[..., Any] | None = None,
                 on_train_batch_end: Callable[..., Any] | None = None,
                 **kwargs: Callable[..., Any]) -> None:
        super().__init__()
        # As Keras: any other hook (on_batch_end, on_test_end...) by keyword.
        unknown = sorted(set(kwargs) - set(_HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback: unknown hook(s) {unknown}; hooks are {list(_HOOKS)}")
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)
