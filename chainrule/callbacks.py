"""``cr.callbacks``: Keras-style callbacks for ``Model.fit``
(defined in :mod:`chainrule.models.callbacks`)."""
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
                               __all__,
)
