"""``TensorBoard``: write the training logs as TensorBoard event files.

As Keras 3 ``keras/src/callbacks/tensorboard.py``, without TensorFlow: the
records are written by TensorBoard's own writer
(``tensorboard.summary.writer.event_file_writer.EventFileWriter``) with
TensorBoard's protocol buffers, so ``tensorboard --logdir LOG_DIR`` and its
``EventAccumulator`` read them. Layout and tags follow Keras:

* ``LOG_DIR/train``: ``epoch_<name>`` for each training log at the end of
  each epoch (step = epoch); with ``update_freq="batch"`` or an integer
  ``n``, ``batch_<name>`` every ``n`` batches (step = the training step);
  with ``histogram_freq=k``, a histogram of every weight every ``k`` epochs,
  tagged ``<layer>/<weight>/histogram``;
* ``LOG_DIR/validation``: ``epoch_<name>`` for each ``val_<name>`` log.

Needs the ``tensorboard`` package (``pip install chainrule[tensorboard]``).
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .callbacks import Callback, Logs

__all__ = ["TensorBoard"]


def _tensorboard():
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise ImportError("cr.callbacks.TensorBoard writes with the tensorboard package: "
                          "pip install tensorboard (or pip install chainrule[tensorboard])"
                          ) from None
    return EventFileWriter, event_pb2, summary_pb2


class TensorBoard(Callback):
    """Log scalars per epoch (and per batch with ``update_freq``) and weight
    histograms (``histogram_freq``) for TensorBoard.

    Args:
        log_dir: the folder of the event files (``train/`` and ``validation/``).
        histogram_freq: epochs between weight histograms; 0 for none.
        write_graph: accepted for Keras code (there is no TensorFlow graph).
        write_images: accepted for Keras code.
        write_steps_per_second: log ``epoch_steps_per_second``.
        update_freq: ``"epoch"``, ``"batch"``, or a number of batches between
            ``batch_*`` scalars.
        profile_batch: accepted for Keras code (no profiler).
        embeddings_freq: accepted for Keras code.
        embeddings_metadata: accepted for Keras code.
    """

    chief_only = True       # with DataParallel only rank 0 writes

    def __init__(self, log_dir: str | os.PathLike[str] = "logs", histogram_freq: int = 0,
                 write_graph: bool = True, write_images: bool = False,
                 write_steps_per_second: bool = False, update_freq: str | int = "epoch",
                 profile_batch: int = 0, embeddings_freq: int = 0,
                 embeddings_metadata: Any = None) -> None:
        super().__init__()
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or \
                histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be an integer >= 0 (epochs "
                             f"between histograms, 0 for none), got {histogram_freq!r}")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or
                                       not isinstance(update_freq, int) or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a "
                             f"positive integer (batches), got {update_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.update_freq = update_freq
        self.write_steps_per_second = write_steps_per_second
        # write_graph, write_images, profile_batch and embeddings_* are accepted
        # for Keras code; there is no TensorFlow graph or profiler to write.
        self._writers: dict[str, Any] = {}
        self._train_step = 0

    def _writer(self, kind):
        writer = self._writers.get(kind)
        if writer is None:
            file_writer, _, _ = _tensorboard()
            directory = os.path.join(self.log_dir, kind)
            os.makedirs(directory, exist_ok=True)
            writer = self._writers[kind] = file_writer(directory)
        return writer

    def _write(self, kind, step, values):
        """One event holding ``values``: {tag: float or HistogramProto}."""
        _, event_pb2, summary_pb2 = _tensorboard()
        entries = []
        for tag, value in values.items():
            if isinstance(value, summary_pb2.HistogramProto):
                entries.append(summary_pb2.Summary.Value(tag=tag, histo=value))
            else:
                entries.append(summary_pb2.Summary.Value(tag=tag, simple_value=float(value)))
        if entries:
            event = event_pb2.Event(wall_time=time.time(), step=int(step),
                                    summary=summary_pb2.Summary(value=entries))
            self._writer(kind).add_event(event)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        _tensorboard()          # fail now, with the install hint, not at the first epoch
        self._train_step = 0

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._epoch_steps = 0

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._train_step += 1
        self._epoch_steps = getattr(self, "_epoch_steps", 0) + 1
        if not isinstance(self.update_freq, str) and self._train_step % self.update_freq == 0:
            self._write("train", self._train_step,
                        {f"batch_{k}": v for k, v in (logs or {}).items() if _is_number(v)})

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        train = {f"epoch_{k}": v for k, v in logs.items()
                 if not k.startswith("val_") and _is_number(v)}
        if self.model is not None and getattr(self.model, "optimizer", None) is not None and \
                "epoch_learning_rate" not in train:
            try:
                train["epoch_learning_rate"] = float(self.model.optimizer.learning_rate)
            except (TypeError, ValueError):
                pass
        if self.write_steps_per_second and getattr(self, "_epoch_steps", 0) > 0:
            seconds = time.perf_counter() - self._epoch_start
            train["epoch_steps_per_second"] = self._epoch_steps / max(seconds, 1e-12)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            train.update(self._histograms())
        self._write("train", epoch, train)
        validation = {f"epoch_{k[len('val_'):]}": v for k, v in logs.items()
                      if k.startswith("val_") and _is_number(v)}
        self._write("validation", epoch, validation)
        for writer in self._writers.values():
            writer.flush()

    def _histograms(self):
        _, _, summary_pb2 = _tensorboard()
        out = {}
        for layer, weight in self.model._all_weights():
            values = np.asarray(weight.data, dtype=np.float64).ravel()
            if not values.size or not np.all(np.isfinite(values)):
                continue
            counts, edges = np.histogram(values, bins=30)
            out[f"{layer.name}/{weight.name or 'weight'}/histogram"] = summary_pb2.HistogramProto(
                min=float(values.min()), max=float(values.max()), num=float(values.size),
                sum=float(values.sum()), sum_squares=float(np.dot(values, values)),
                bucket_limit=[float(e) for e in edges[1:]], bucket=[float(c) for c in counts])
        return out

    def on_train_end(self, logs: Logs | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
