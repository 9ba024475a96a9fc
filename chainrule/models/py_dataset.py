"""``cr.utils.PyDataset``: a dataset of batches that ``fit`` reads by index.

As Keras 3 ``keras/src/trainers/data_adapters/py_dataset_adapter.py``: a
subclass defines ``__len__`` (the number of batches) and ``__getitem__(index)``
(one batch: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``), and may define
``on_epoch_end`` (called after every epoch, e.g. to reshuffle) and
``on_epoch_begin``.

>>> import numpy as np, chainrule as cr
>>> class Squares(cr.utils.PyDataset):
...     def __init__(self, n, batch_size, **kwargs):
...         super().__init__(**kwargs)
...         self.x = np.arange(n, dtype="float32")[:, None]
...         self.batch_size = batch_size
...     def __len__(self):
...         return -(-len(self.x) // self.batch_size)
...     def __getitem__(self, index):
...         rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
...         return self.x[rows], self.x[rows] ** 2
>>> len(Squares(10, 4))
3

``workers``, ``use_multiprocessing`` and ``max_queue_size`` are accepted for
Keras code that passes them; batches are read in the training thread.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PyDataset"]


class PyDataset:
    """Base class of a dataset read batch by batch (Keras' ``PyDataset``).

    Args:
        workers: accepted for Keras code; batches are read in the training thread.
        use_multiprocessing: accepted for Keras code (no effect).
        max_queue_size: accepted for Keras code (no effect).
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10) -> None:
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    @property
    def workers(self) -> int:
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self) -> bool:
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self) -> int:
        return getattr(self, "_max_queue_size", 10)

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index), "
                                  f"returning one batch (x, y)")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__(), the number "
                                  f"of batches in an epoch")

    @property
    def num_batches(self) -> int:
        """The number of batches (``len(self)``), as Keras."""
        return len(self)

    def on_epoch_begin(self) -> None:
        """Called before each epoch."""

    def on_epoch_end(self) -> None:
        """Called after each epoch (e.g. to shuffle the samples)."""
