"""Scratch buffers: work arrays reused from one call to the next.

One rule for every fused op and the optimizers: a buffer is found by its
user's name, shape and dtype, kept per thread, and never leaves the function
that asks for it, so the next call with the same key may overwrite it. A few
dozen keys are kept (several layer sizes at once); past that the cache starts
again, so it cannot grow without bound. A fresh large array costs page faults
when first written, because the allocator hands big blocks back to the system
between training steps (benchmarks/PROFILE-conv.md measures it).
"""
import threading

import numpy as np

__all__ = ["scratch"]

_BUFFERS = threading.local()
_MAX_KEYS = 32


def scratch(name, shape, dtype):
    """The work array for ``(name, shape, dtype)`` in this thread; its contents
    are whatever its last user left there."""
    cache = _BUFFERS.__dict__
    key = (name, tuple(shape), np.dtype(dtype))
    buf = cache.get(key)
    if buf is None:
        if len(cache) >= _MAX_KEYS:
            cache.clear()
        buf = cache[key] = np.empty(key[1], key[2])
    return buf
