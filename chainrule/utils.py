"""Small helpers, as in ``keras.utils``.

>>> import chainrule as cr
>>> cr.utils.to_categorical([0, 2, 1], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.],
       [0., 1., 0.]], dtype=float32)
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .models.data_adapters import (  # noqa: F401 (keras.utils names)
    PyDataset,
    pack_x_y_sample_weight,
    unpack_x_y_sample_weight,
)
from .models.model_plot import model_to_dot, plot_model  # noqa: F401 (keras.utils names)
from .tensor import Tensor
from .typing import DTypeLike, TensorLike

__all__ = ["PyDataset", "model_to_dot", "pack_x_y_sample_weight", "pad_sequences",
           "plot_model", "to_categorical", "unpack_x_y_sample_weight"]


def to_categorical(y: TensorLike, num_classes: int | None = None) -> np.ndarray:
    """Integer class labels to one-hot rows (float32), as ``keras.utils.to_categorical``.

    ``y`` may have any shape; a trailing axis of 1 is dropped, so labels of
    shape (N,) or (N, 1) both give (N, num_classes). ``num_classes`` defaults to
    max(y) + 1.

    Args:
        y: class indices 0..num_classes-1 (ints, whole floats or bools; any shape).
        num_classes: how many classes; None means ``max(y) + 1``.

    Returns:
        A float32 array of shape ``y.shape + (num_classes,)`` (a trailing 1 dropped).

    Example:

    >>> to_categorical([[1], [0]], num_classes=2)       # labels of shape (N, 1)
    array([[0., 1.],
           [1., 0.]], dtype=float32)
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


def pad_sequences(sequences: Sequence[Any], maxlen: int | None = None,
                  dtype: DTypeLike = "int32", padding: str = "pre", truncating: str = "pre",
                  value: Any = 0.0) -> np.ndarray:
    """Sequences of different lengths to one array of shape (n, maxlen), as
    Keras 3 ``keras/src/utils/sequence_utils.py`` ``pad_sequences``.

    ``maxlen`` defaults to the longest sequence. Shorter sequences are padded
    with ``value`` before (``padding="pre"``, the default) or after
    (``"post"``); longer ones lose their first (``truncating="pre"``) or last
    (``"post"``) elements. Each element may itself be an array (all of one
    shape), which then becomes the trailing axes.

    Args:
        sequences: a list of sequences (lists, arrays or tensors).
        maxlen: the length of every row; None means the longest sequence's.
        dtype: the output's dtype (``object`` or a string dtype to pad strings).
        padding: ``"pre"`` or ``"post"``: where the padding goes.
        truncating: ``"pre"`` or ``"post"``: which end a longer sequence loses.
        value: the padding value.

    Returns:
        An array of shape ``(len(sequences), maxlen) + element_shape``.

    Example:

    >>> pad_sequences([[1], [2, 3], [4, 5, 6]])
    array([[0, 0, 1],
           [0, 2, 3],
           [4, 5, 6]], dtype=int32)
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding="post")
    array([[1, 0],
           [2, 3],
           [5, 6]], dtype=int32)
    """
    if padding not in ("pre", "post"):
        raise ValueError(f'pad_sequences: padding must be "pre" or "post", got {padding!r}')
    if truncating not in ("pre", "post"):
        raise ValueError(f'pad_sequences: truncating must be "pre" or "post", got {truncating!r}')
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences: sequences must be a list of sequences, got "
                         f"{type(sequences).__name__}")
    lengths, sample_shape = [], None
    for i, seq in enumerate(sequences):
        if isinstance(seq, Tensor):
            seq = seq.data
        if not hasattr(seq, "__len__"):
            raise ValueError(f"pad_sequences: sequences must be a list of sequences; item {i} "
                             f"is {seq!r}, not a sequence")
        lengths.append(len(seq))
        if sample_shape is None and len(seq):     # the first non-empty one decides
            sample_shape = np.asarray(seq).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif int(maxlen) != maxlen or maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be a non-negative integer or None, "
                         f"got {maxlen!r}")
    maxlen = int(maxlen)
    text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not text:
        raise ValueError(f"pad_sequences: value {value!r} is a string but dtype is {dtype}; "
                         f"use dtype=object (or a string dtype) to pad strings")
    out = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    for i, seq in enumerate(sequences):
        if isinstance(seq, Tensor):
            seq = seq.data
        if not len(seq) or not maxlen:
            continue
        kept = np.asarray(seq[-maxlen:] if truncating == "pre" else seq[:maxlen], dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(f"pad_sequences: the elements of sequence {i} have shape "
                             f"{kept.shape[1:]} but the first non-empty sequence's have "
                             f"{sample_shape}")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out
