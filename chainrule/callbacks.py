"""``cr.callbacks``: Keras-style callbacks for ``Model.fit``
(defined in :mod:`chainrule.models.callbacks`)."""
from .models.backup_and_restore import BackupAndRestore  # noqa: F401
from .models.callbacks import (  # noqa: F401
                               Callback,
                               CallbackList,
                               CSVLogger,
                               EarlyStopping,
                               History,
                               LambdaCallback,
                               LearningRateScheduler,
                               ModelCheckpoint,
                               ProgbarLogger,
                               ReduceLROnPlateau,
                               TerminateOnNaN,
)
from .models.callbacks import __all__ as _base
from .models.tensorboard import TensorBoard  # noqa: F401

__all__ = sorted([*_base, "BackupAndRestore", "TensorBoard"])
