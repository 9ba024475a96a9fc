"""The mask a tensor carries between layers, as Keras 3's ``_keras_mask``.

Keras attaches a boolean mask (True = a real step, False = padding) to a
layer's output tensor, and the next layer reads it (as Keras 3
``keras/src/backend/common/masking.py`` ``get_keras_mask``/``set_keras_mask``).
chainrule's ``Tensor`` has fixed slots, so the masks live in a side table
keyed by the tensor's identity; an entry goes away with its tensor. An op
makes a new tensor, which carries no mask, as in Keras.

This module imports nothing from chainrule, so layers (which set masks) and
losses (which read them) can both use it.

>>> import numpy as np
>>> import chainrule as cr
>>> from chainrule.masks import get_keras_mask, set_keras_mask
>>> x = cr.zeros(2, 3, 4)
>>> set_keras_mask(x, np.array([[True, True, False], [True, False, False]]))
>>> int(get_keras_mask(x).sum())
3
>>> get_keras_mask(x + 1) is None        # an op's result has no mask
True
"""
from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

__all__ = ["any_masks", "get_keras_mask", "set_keras_mask", "mask_array"]

# id(tensor) -> (weak reference to it, boolean array)
_MASKS: dict[int, tuple[weakref.ref[Any], np.ndarray]] = {}
_LOCK = threading.Lock()


def any_masks() -> bool:
    """Whether any live tensor carries a mask (layers skip the mask work when not).

    Returns:
        True if at least one live tensor has a mask attached.
    """
    return bool(_MASKS)


def get_keras_mask(x: Any) -> np.ndarray | None:
    """The boolean NumPy mask attached to ``x``, or None.

    Args:
        x: a tensor (any object; only its identity is used).

    Returns:
        The boolean array set by ``set_keras_mask``, or None if ``x`` has none.
    """
    entry = _MASKS.get(id(x))
    if entry is None or entry[0]() is not x:
        return None
    return entry[1]


def set_keras_mask(x: Any, mask: Any) -> None:
    """Attach ``mask`` (array-like of booleans; None removes it) to ``x``.

    Args:
        x: the tensor to carry the mask (must support weak references).
        mask: a boolean array-like or a tensor of booleans (True = a real step);
            None removes ``x``'s mask.
    """
    key = id(x)
    if mask is None:
        with _LOCK:
            _MASKS.pop(key, None)
        return
    mask = mask_array(mask).astype(bool, copy=False)

    def forget(_ref: weakref.ref[Any], key: int = key) -> None:
        with _LOCK:
            entry = _MASKS.get(key)
            if entry is not None and entry[0] is _ref:
                del _MASKS[key]
    with _LOCK:
        _MASKS[key] = (weakref.ref(x, forget), mask)


def mask_array(mask: Any) -> np.ndarray:
    """A mask given as a tensor, an array or nested lists, as a NumPy array
    (an array as it is: its own ``.data`` is a memoryview, not its values).

    Args:
        mask: the mask.

    Returns:
        A NumPy array.
    """
    return mask if isinstance(mask, np.ndarray) else np.asarray(getattr(mask, "data", mask))

