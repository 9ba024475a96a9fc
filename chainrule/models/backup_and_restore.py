"""``BackupAndRestore``: resume a ``fit`` that was interrupted (a crash, a kill).

As Keras 3 ``keras/src/callbacks/backup_and_restore.py``: the callback
backs the training state up into ``backup_dir`` at the end of every epoch
(or every ``save_freq`` batches); when ``fit`` starts again with the same
callback and finds a backup, it restores it and training goes on from the
epoch the backup was made in. At the end of a ``fit`` that finishes, the
backup is deleted (``delete_checkpoint=True``).

The backup is one file, ``backup_dir/backup.npz``, written atomically
(temporary file + ``os.replace``), so a kill in the middle of a write
leaves the previous backup whole. It holds the weights, the optimizer's
state, the epoch to resume at and chainrule's shuffling seed and epoch
count, so a run resumed after an epoch-end backup draws the same batches
and reaches the same weights as one never interrupted.

>>> backup = cr.callbacks.BackupAndRestore("/tmp/backup")          # doctest: +SKIP
>>> model.fit(x, y, epochs=10, callbacks=[backup])  # killed at epoch 6  # doctest: +SKIP
>>> model.fit(x, y, epochs=10, callbacks=[backup])  # resumes at epoch 6  # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np

from .callbacks import Callback, Logs
from .saving import atomic_write     # the one atomic writer (temporary file + os.replace)

__all__ = ["BackupAndRestore"]

_FILE = "backup.npz"


class BackupAndRestore(Callback):
    """Back up the training state to ``backup_dir`` and restore it when ``fit`` restarts.

    Args:
        backup_dir: the folder of the backup (``backup.npz``).
        save_freq: ``"epoch"``, or a number of batches between backups.
        double_checkpoint: keep the previous backup too (``backup.npz.previous``).
        delete_checkpoint: delete the backup when ``fit`` finishes.
    """

    def __init__(self, backup_dir: str | os.PathLike[str], save_freq: str | int = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore needs backup_dir, a folder for the backup")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or
                                     not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' or a positive "
                             f"integer (batches), got {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._current_epoch = 0
        self._batches_since_save = 0

    @property
    def _path(self) -> str:
        return os.path.join(self.backup_dir, _FILE)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if not os.path.exists(self._path):
            return
        if not self.model.built or not self.model.weights:
            raise ValueError(f"BackupAndRestore: model '{self.model.name}' must be built before "
                             f"fit() to restore a backup (build it, or call it on a batch)")
        with np.load(self._path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            weights = [archive[f"weight/{i}"] for i in range(meta["weights"])]
            state = {key[len("optimizer/"):]: archive[key] for key in archive.files
                     if key.startswith("optimizer/")}
        self.model.set_weights(weights)
        if state and self.model.optimizer is not None:
            self.model.optimizer.set_state(state, self.model.trainable_weights)
        self.model._training_seed = meta["training_seed"]
        self.model._epochs_seen = meta["epochs_seen"]
        self.model._initial_epoch = meta["epoch"]
        self._current_epoch = meta["epoch"]

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._current_epoch = epoch
        self._epochs_seen_at_start = self.model._epochs_seen

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if isinstance(self.save_freq, str):       # "epoch", the only string __init__ takes
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            # Mid-epoch: resuming runs this epoch again from the saved weights.
            self._save(self._current_epoch, self._epochs_seen_at_start)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            # The epoch is over: resume at the next one.
            self._save(epoch + 1, self.model._epochs_seen)

    def _save(self, resume_epoch: int, epochs_seen: int) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            shutil.copyfile(self._path, self._path + ".previous")
        weights = self.model.get_weights()
        arrays = {f"weight/{i}": w for i, w in enumerate(weights)}
        if self.model.optimizer is not None:
            state = self.model.optimizer.get_state(self.model.trainable_weights)
            arrays.update({f"optimizer/{key}": np.asarray(v) for key, v in state.items()})
        meta = {"epoch": int(resume_epoch), "weights": len(weights),
                "training_seed": self.model._training_seed, "epochs_seen": int(epochs_seen)}
        arrays["meta"] = np.array(json.dumps(meta))
        atomic_write(self._path, lambda f: np.savez(f, **arrays))

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.delete_checkpoint and os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir, ignore_errors=True)
