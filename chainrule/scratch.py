"""Scratch buffers: work arrays reused from one call to the next.

One rule for every fused op and the optimizers: a buffer is found by its
user's name, shape and dtype, kept per thread, and never leaves the function
that asks for it, so the next call with the same key may overwrite it. A few
dozen keys are kept (several layer sizes at once); past that the cache starts
again, so it cannot grow without bound. A fresh large array costs page faults
when first written, because the allocator hands big blocks back to the system
between training steps (benchmarks/PROFILE-conv.md measures it).
"""
from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["scratch"]

_BUFFERS = threading.local()
_MAX_KEYS = 32


def scratch(name: str, shape: Sequence[int], dtype: npt.DTypeLike) -> np.ndarray:
    """The work array for ``(name, shape, dtype)`` in this thread; its contents
    are whatever its last user left there.

    Args:
        name: who uses it (e.g. ``"conv2d im2col"``), so two users never share one.
        shape: the array's shape.
        dtype: the array's dtype.

    Returns:
        An uninitialized array of that shape and dtype, the same one on every
        call with the same key in this thread (until the cache starts again).
    """
    cache: dict[Any, np.ndarray] = _BUFFERS.__dict__       # keys (name, shape, dtype)
    key = (name, tuple(shape), np.dtype(dtype))
    buf = cache.get(key)
    if buf is None:
        if len(cache) >= _MAX_KEYS:
            cache.clear()
        buf = cache[key] = np.empty(key[1], key[2])
    return buf
