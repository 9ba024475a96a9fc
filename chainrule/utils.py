"""Small helpers, as in ``keras.utils``.

>>> import chainrule as cr
>>> cr.utils.to_categorical([0, 2, 1], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.],
       [0., 1., 0.]], dtype=float32)
"""
import numpy as np

from .tensor import Tensor

__all__ = ["to_categorical"]


def to_categorical(y, num_classes=None):
    """Integer class labels to one-hot rows (float32), as ``keras.utils.to_categorical``.

    ``y`` may have any shape; a trailing axis of 1 is dropped, so labels of
    shape (N,) or (N, 1) both give (N, num_classes). ``num_classes`` defaults to
    max(y) + 1.
    """
    labels = np.asarray(y.data if isinstance(y, Tensor) else y)
    if labels.dtype.kind == "f":
        if not np.all(labels == np.round(labels)):
            bad = labels[labels != np.round(labels)].ravel()[0]
            raise ValueError(f"to_categorical: labels must be whole numbers (class indices), got {bad}")
        labels = labels.astype(np.int64)
    elif labels.dtype.kind == "b":
        labels = labels.astype(np.int64)
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"to_categorical: labels must be integers, got dtype {labels.dtype}")
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if labels.size and labels.min() < 0:
        raise ValueError(f"to_categorical: label {labels.min()} is negative; labels must be "
                         f"class indices 0..num_classes-1")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    else:
        if int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"to_categorical: num_classes must be a positive integer, got {num_classes}")
        num_classes = int(num_classes)
        if labels.size and labels.max() >= num_classes:
            raise ValueError(f"to_categorical: label {labels.max()} is too large for "
                             f"num_classes={num_classes}; labels must be 0..{num_classes - 1}")
    one_hot = np.zeros((labels.size, num_classes), dtype=np.float32)
    one_hot[np.arange(labels.size), labels] = 1
    return one_hot.reshape(shape + (num_classes,))
