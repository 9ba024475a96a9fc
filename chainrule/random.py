"""One seeded random generator for everything random in chainrule.

``cr.set_seed(n)`` makes ``rand``, ``randn``, ``dropout`` (and later
initializers and shuffling) reproducible; a ``seed=`` argument gives a
private generator instead.
"""
import contextlib

import numpy as np

__all__ = ["default_rng", "set_seed", "use_generator"]

_GLOBAL = {"rng": np.random.default_rng()}


def set_seed(seed):
    """Seed chainrule's global random generator."""
    _GLOBAL["rng"] = np.random.default_rng(seed)


def default_rng(seed=None):
    """The global generator, or a fresh one when ``seed`` is given."""
    if seed is None:
        return _GLOBAL["rng"]
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


@contextlib.contextmanager
def use_generator(rng):
    """Make ``rng`` the global generator inside the block, then restore the old one.

    ``fit`` uses it so that each epoch's shuffling and dropout masks come from
    a generator seeded by (seed, epoch), which makes resumed training repeat
    uninterrupted training exactly.
    """
    saved = _GLOBAL["rng"]
    _GLOBAL["rng"] = rng
    try:
        yield rng
    finally:
        _GLOBAL["rng"] = saved
