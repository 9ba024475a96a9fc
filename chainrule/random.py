"""One seeded random generator for everything random in chainrule, and
Keras 3's ``keras.random`` functions on top of it.

``cr.set_seed(n)`` makes ``rand``, ``randn``, ``dropout``, initializers and
shuffling reproducible; a ``seed=`` argument gives a private generator
instead.

The Keras 3 functions (as Keras 3 ``keras/src/random/random.py``) take
``seed=`` as:

* ``None``: draw from the global generator (``cr.set_seed`` fixes it);
* an int: the same numbers on every call with that int;
* a :class:`SeedGenerator`: new numbers on every call, reproducible from the
  generator's own seed (what a layer keeps, e.g. ``self.seed_generator =
  cr.random.SeedGenerator(1337)`` in ``__init__``).

>>> import chainrule as cr
>>> gen = cr.random.SeedGenerator(42)
>>> a = cr.random.normal((2, 3), seed=gen)
>>> b = cr.random.normal((2, 3), seed=gen)       # the next numbers
>>> bool((a.numpy() == b.numpy()).all())
False
"""
import contextlib

import numpy as np

__all__ = ["default_rng", "set_seed", "use_generator", "SeedGenerator", "normal",
           "uniform", "truncated_normal", "randint", "categorical", "dropout",
           "shuffle", "gamma", "binomial", "beta"]

_GLOBAL = {"rng": np.random.default_rng()}
_FLOATX = "float32"


def set_seed(seed):
    """Seed chainrule's global random generator."""
    _GLOBAL["rng"] = np.random.default_rng(seed)


class SeedGenerator:
    """A stream of seeds: each random call given this generator draws new
    numbers, and two generators made with the same ``seed`` give the same
    stream (Keras 3's ``keras.random.SeedGenerator``).

    ``seed=None`` takes a seed from the global generator, so ``cr.set_seed``
    still makes the stream reproducible. ``state`` is ``[seed, calls so far]``.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"SeedGenerator: unexpected keyword argument(s) {sorted(kwargs)}")
        if seed is None:
            seed = int(_GLOBAL["rng"].integers(2 ** 31))
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"SeedGenerator(seed=...) must be an int or None, got {seed!r}")
        self.seed = int(seed)
        self.name = name or "seed_generator"
        self._calls = 0

    @property
    def state(self):
        return np.array([self.seed, self._calls], dtype=np.int64)

    def next(self, ordered=True):
        """Advance the stream; returns the new state (``[seed, calls]``)."""
        self._calls += 1
        return self.state

    def generator(self):
        """A NumPy generator for the next draw (advances the stream)."""
        self._calls += 1
        return np.random.default_rng([self.seed, self._calls])

    def get_config(self):
        return {"seed": self.seed, "name": self.name}

    def __repr__(self):
        return f"SeedGenerator(seed={self.seed}, calls={self._calls})"


def default_rng(seed=None):
    """The global generator, or the generator that ``seed`` names: a fresh one
    for an int, the next draw of a :class:`SeedGenerator`, or a NumPy
    ``Generator`` itself."""
    if seed is None:
        return _GLOBAL["rng"]
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, SeedGenerator):
        return seed.generator()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be None, an int, a cr.random.SeedGenerator or a NumPy "
                        f"Generator; got {type(seed).__name__} {seed!r}")
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


# --------------------------------------------------------------------------
# keras.random (results are chainrule Tensors; tensor.py imports this module,
# so the Tensor class is imported inside the functions)
# --------------------------------------------------------------------------
def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _wrap(data, dtype):
    from .tensor import Tensor
    return Tensor._wrap(np.asarray(data).astype(np.dtype(dtype or _FLOATX), copy=False))


def _float(value):
    value = getattr(value, "data", value)
    return np.asarray(value, dtype=np.float64)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from N(mean, stddev²)."""
    rng = default_rng(seed)
    return _wrap(rng.normal(_float(mean), _float(stddev), _shape(shape)), dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples from the uniform distribution on [minval, maxval)."""
    rng = default_rng(seed)
    return _wrap(rng.uniform(_float(minval), _float(maxval), _shape(shape)), dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from N(mean, stddev²), redrawn while more than two standard
    deviations from the mean (as Keras 3)."""
    rng = default_rng(seed)
    shape = _shape(shape)
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return _wrap(values * _float(stddev) + _float(mean), dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers uniform in [minval, maxval)."""
    if np.dtype(dtype).kind not in "iu":
        raise ValueError(f"randint: dtype must be an integer dtype, got {dtype!r}")
    rng = default_rng(seed)
    return _wrap(rng.integers(minval, maxval, _shape(shape)), dtype)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (batch, classes),
    drawn with probabilities softmax(logits); result shape (batch, num_samples)."""
    logits = _float(logits)
    if logits.ndim != 2:
        raise ValueError(f"categorical: logits must have shape (batch_size, num_classes), "
                         f"got shape {logits.shape}")
    rng = default_rng(seed)
    shifted = logits - logits.max(axis=1, keepdims=True)      # stable softmax
    probs = np.exp(shifted)
    cumulative = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((logits.shape[0], int(num_samples)))
    picks = (draws[:, :, None] > cumulative[:, None, :-1]).sum(axis=2)
    return _wrap(picks, dtype)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each entry with probability ``rate`` and scale the rest by
    1/(1 - rate); ``noise_shape`` (broadcast to the input) shares one mask
    along its axes of size 1. Differentiable in ``inputs``."""
    from .tensor import Tensor, as_tensor
    x = as_tensor(inputs)
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    shape = x.shape if noise_shape is None else \
        tuple(x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    keep = default_rng(seed).random(shape) >= rate
    scale = np.where(keep, x.dtype.type(1 / (1 - rate)), x.dtype.type(0))
    return x * Tensor._wrap(scale.astype(x.dtype))


def shuffle(x, axis=0, seed=None):
    """``x`` with its entries along ``axis`` in a random order (a permutation;
    differentiable in ``x``)."""
    from .tensor import as_tensor
    x = as_tensor(x)
    order = default_rng(seed).permutation(x.shape[axis])
    return x[(slice(None),) * (axis % x.ndim) + (order,)]


def gamma(shape, alpha, dtype=None, seed=None):
    """Samples from the Gamma distribution with shape ``alpha`` and scale 1."""
    return _wrap(default_rng(seed).gamma(_float(alpha), 1.0, _shape(shape)), dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Samples from Binomial(counts, probabilities) (as floats by default, Keras)."""
    rng = default_rng(seed)
    return _wrap(rng.binomial(np.asarray(getattr(counts, "data", counts)).astype(np.int64),
                              _float(probabilities), _shape(shape)), dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):  # noqa: A002  (Keras' name)
    """Samples from the Beta(alpha, beta) distribution."""
    return _wrap(default_rng(seed).beta(_float(alpha), _float(beta), _shape(shape)), dtype)
