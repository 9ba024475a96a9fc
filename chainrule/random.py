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
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator, Sequence, Union

import numpy as np

from .graph import replayed
from .typing import DTypeLike, TensorLike

if TYPE_CHECKING:                      # tensor.py imports this module
    from .tensor import Tensor

__all__ = ["default_rng", "set_seed", "use_generator", "SeedGenerator", "normal",
           "uniform", "truncated_normal", "randint", "categorical", "dropout",
           "shuffle", "gamma", "binomial", "beta"]

_GLOBAL: dict[str, np.random.Generator] = {"rng": np.random.default_rng()}
_FLOATX = "float32"


def set_seed(seed: int | None) -> None:
    """Seed chainrule's global random generator.

    Args:
        seed: an int, or None for fresh entropy from the operating system.

    Example:

    >>> cr.random.set_seed(0)
    >>> a = cr.random.normal((3,))
    >>> cr.random.set_seed(0)
    >>> bool((cr.random.normal((3,)).numpy() == a.numpy()).all())
    True
    """
    _GLOBAL["rng"] = np.random.default_rng(seed)


class SeedGenerator:
    """A stream of seeds: each random call given this generator draws new
    numbers, and two generators made with the same ``seed`` give the same
    stream (Keras 3's ``keras.random.SeedGenerator``).

    ``seed=None`` takes a seed from the global generator, so ``cr.set_seed``
    still makes the stream reproducible. ``state`` is ``[seed, calls so far]``.

    Args:
        seed: an int, or None to draw one from the global generator.
        name: a name for the generator (default ``"seed_generator"``).
        **kwargs: none accepted (a TypeError names any given).

    Example:

    >>> gen = SeedGenerator(7)
    >>> a = uniform((3,), seed=gen)
    >>> b = uniform((3,), seed=gen)
    >>> bool((a.numpy() == b.numpy()).all())            # the stream moves on
    False
    >>> gen2 = SeedGenerator(7)
    >>> bool((uniform((3,), seed=gen2).numpy() == a.numpy()).all())   # and repeats
    True
    """

    def __init__(self, seed: int | None = None, name: str | None = None,
                 **kwargs: Any) -> None:
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
    def state(self) -> np.ndarray:
        return np.array([self.seed, self._calls], dtype=np.int64)

    def next(self, ordered: bool = True) -> np.ndarray:
        """Advance the stream; returns the new state (``[seed, calls]``).

        Args:
            ordered: accepted for Keras compatibility; ignored.

        Returns:
            The new state, an int64 array ``[seed, calls]``.
        """
        self._calls += 1
        return self.state

    def generator(self) -> np.random.Generator:
        """A NumPy generator for the next draw (advances the stream).

        Returns:
            A NumPy ``Generator`` seeded by ``[seed, calls]``.
        """
        self._calls += 1
        return np.random.default_rng([self.seed, self._calls])

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for saving.

        Returns:
            ``{"seed": ..., "name": ...}``.
        """
        return {"seed": self.seed, "name": self.name}

    def __repr__(self) -> str:
        return f"SeedGenerator(seed={self.seed}, calls={self._calls})"


SeedLike = Union[int, np.integer, SeedGenerator, np.random.Generator, None]


def default_rng(seed: SeedLike = None) -> np.random.Generator:
    """The global generator, or the generator that ``seed`` names: a fresh one
    for an int, the next draw of a :class:`SeedGenerator`, or a NumPy
    ``Generator`` itself.

    Args:
        seed: None (the global generator), an int, a :class:`SeedGenerator`
            or a NumPy ``Generator``.

    Returns:
        A NumPy ``Generator``.

    Example:

    >>> int(default_rng(3).integers(100)) == int(default_rng(3).integers(100))
    True
    """
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
def use_generator(rng: np.random.Generator) -> Iterator[np.random.Generator]:
    """Make ``rng`` the global generator inside the block, then restore the old one.

    ``fit`` uses it so that each epoch's shuffling and dropout masks come from
    a generator seeded by (seed, epoch), which makes resumed training repeat
    uninterrupted training exactly.

    Args:
        rng: the NumPy ``Generator`` to use inside the block.

    Yields:
        ``rng``.

    Example:

    >>> with use_generator(np.random.default_rng(0)):
    ...     a = normal((2,))
    >>> with use_generator(np.random.default_rng(0)):
    ...     b = normal((2,))
    >>> bool((a.numpy() == b.numpy()).all())
    True
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
@replayed
def normal_noise(seed: SeedLike, mean: float, stddev: float, shape: tuple[int, ...],
                 dtype: DTypeLike) -> np.ndarray:
    """An array of N(mean, stddev²) draws in ``dtype`` (the noise layers').
    A ``cr.jit`` step draws it again at every replay.

    Args:
        seed: a generator, an int or None (see ``default_rng``).
        mean: the mean.
        stddev: the standard deviation.
        shape: the array's shape.
        dtype: the array's dtype.

    Returns:
        A NumPy array.
    """
    return default_rng(seed).normal(mean, stddev, shape).astype(dtype)


@replayed
def dropout_scale(seed: SeedLike, shape: tuple[int, ...], rate: float,
                  dtype: DTypeLike) -> np.ndarray:
    """A dropout mask already scaled: 1/(1 - rate) where an entry is kept
    (probability 1 - rate), else 0, in ``dtype``. A ``cr.jit`` step draws it
    again at every replay.

    Args:
        seed: a generator, an int or None (see ``default_rng``).
        shape: the mask's shape.
        rate: the probability of dropping an entry.
        dtype: the mask's dtype.

    Returns:
        A NumPy array.
    """
    keep = default_rng(seed).random(shape) >= rate
    return (keep / (1.0 - rate)).astype(dtype)


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _wrap(data: Any, dtype: DTypeLike | None) -> Tensor:
    from .tensor import Tensor
    return Tensor._wrap(np.asarray(data).astype(np.dtype(dtype or _FLOATX), copy=False))


def _float(value: TensorLike) -> np.ndarray:
    value = getattr(value, "data", value)
    return np.asarray(value, dtype=np.float64)


def normal(shape: int | Sequence[int], mean: TensorLike = 0.0, stddev: TensorLike = 1.0,
           dtype: DTypeLike | None = None, seed: SeedLike = None) -> Tensor:
    """Samples from N(mean, stddev²).

    Args:
        shape: the shape of the result (an int or a tuple of ints).
        mean: the mean (a number, or an array broadcast to ``shape``).
        stddev: the standard deviation.
        dtype: the result's dtype (default float32).
        seed: None (the global generator), an int (the same numbers each
            call) or a :class:`SeedGenerator` (new numbers each call).

    Returns:
        A tensor of shape ``shape``.

    Example:

    >>> x = normal((1000,), mean=2.0, stddev=0.5, seed=1)
    >>> x.shape, str(x.dtype), round(float(x.numpy().mean()), 1)
    ((1000,), 'float32', 2.0)
    """
    rng = default_rng(seed)
    return _wrap(rng.normal(_float(mean), _float(stddev), _shape(shape)), dtype)


def uniform(shape: int | Sequence[int], minval: TensorLike = 0.0, maxval: TensorLike = 1.0,
            dtype: DTypeLike | None = None, seed: SeedLike = None) -> Tensor:
    """Samples from the uniform distribution on [minval, maxval).

    Args:
        shape: the shape of the result (an int or a tuple of ints).
        minval: the lower bound (included).
        maxval: the upper bound (excluded).
        dtype: the result's dtype (default float32).
        seed: None (the global generator), an int (the same numbers each
            call) or a :class:`SeedGenerator` (new numbers each call).

    Returns:
        A tensor of shape ``shape``.

    Example:

    >>> x = cr.random.uniform((2, 3), minval=-1.0, maxval=1.0, seed=7)
    >>> x.shape, str(x.dtype), bool((abs(x.numpy()) < 1).all())
    ((2, 3), 'float32', True)
    """
    rng = default_rng(seed)
    return _wrap(rng.uniform(_float(minval), _float(maxval), _shape(shape)), dtype)


def truncated_normal(shape: int | Sequence[int], mean: TensorLike = 0.0,
                     stddev: TensorLike = 1.0, dtype: DTypeLike | None = None,
                     seed: SeedLike = None) -> Tensor:
    """Samples from N(mean, stddev²), redrawn while more than two standard
    deviations from the mean (as Keras 3).

    Args:
        shape: the shape of the result (an int or a tuple of ints).
        mean: the mean.
        stddev: the standard deviation before truncation.
        dtype: the result's dtype (default float32).
        seed: None (the global generator), an int (the same numbers each
            call) or a :class:`SeedGenerator` (new numbers each call).

    Returns:
        A tensor of shape ``shape``.

    Example:

    >>> bool((abs(truncated_normal((1000,), seed=1).numpy()) <= 2).all())
    True
    """
    rng = default_rng(seed)
    shape = _shape(shape)
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return _wrap(values * _float(stddev) + _float(mean), dtype)


def randint(shape: int | Sequence[int], minval: int, maxval: int, dtype: DTypeLike = "int32",
            seed: SeedLike = None) -> Tensor:
    """Integers uniform in [minval, maxval).

    Args:
        shape: the shape of the result (an int or a tuple of ints).
        minval: the smallest integer drawn.
        maxval: one past the largest integer drawn.
        dtype: an integer dtype (default int32).
        seed: None (the global generator), an int (the same numbers each
            call) or a :class:`SeedGenerator` (new numbers each call).

    Returns:
        A tensor of shape ``shape``.

    Example:

    >>> x = randint((2, 3), 0, 5, seed=0)
    >>> x.shape, str(x.dtype), bool(((x.numpy() >= 0) & (x.numpy() < 5)).all())
    ((2, 3), 'int32', True)
    """
    if np.dtype(dtype).kind not in "iu":
        raise ValueError(f"randint: dtype must be an integer dtype, got {dtype!r}")
    rng = default_rng(seed)
    return _wrap(rng.integers(minval, maxval, _shape(shape)), dtype)


def categorical(logits: TensorLike, num_samples: int, dtype: DTypeLike = "int32",
                seed: SeedLike = None) -> Tensor:
    """``num_samples`` class indices per row of ``logits`` (batch, classes),
    drawn with probabilities softmax(logits); result shape (batch, num_samples).

    Args:
        logits: unnormalized log-probabilities, shape (batch, classes).
        num_samples: how many indices to draw per row.
        dtype: an integer dtype for the indices (default int32).
        seed: None (the global generator), an int (the same numbers each
            call) or a :class:`SeedGenerator` (new numbers each call).

    Returns:
        A tensor of class indices, shape (batch, num_samples).

    Example:

    >>> categorical(cr.tensor([[0.0, 1000.0]]), 3, seed=0)     # class 1 all but certain
    tensor([[1, 1, 1]], dtype=int32)
    """
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


def dropout(inputs: TensorLike, rate: float, noise_shape: Sequence[int | None] | None = None,
            seed: SeedLike = None) -> Tensor:
    """Zero each entry with probability ``rate`` and scale the rest by
    1/(1 - rate); ``noise_shape`` (broadcast to the input) shares one mask
    along its axes of size 1. Differentiable in ``inputs``.

    Args:
        inputs: the tensor to drop entries of.
        rate: the probability of zeroing an entry, in [0, 1).
        noise_shape: the mask's shape (None entries take the input's size),
            or None for the input's shape.
        seed: None (the global generator), an int (the same numbers each
            call) or a :class:`SeedGenerator` (new numbers each call).

    Returns:
        A tensor of the input's shape.

    Example:

    >>> y = dropout(cr.ones(1000), 0.5, seed=0).numpy()
    >>> sorted(set(y.tolist()))                       # dropped, or scaled by 1/(1 - 0.5)
    [0.0, 2.0]
    """
    from .tensor import Tensor, as_tensor
    x = as_tensor(inputs)
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    shape = x.shape if noise_shape is None else \
        tuple(x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    keep = default_rng(seed).random(shape) >= rate
    scale = np.where(keep, x.dtype.type(1 / (1 - rate)), x.dtype.type(0))
    return x * Tensor._wrap(scale.astype(x.dtype))


def shuffle(x: TensorLike, axis: int = 0, seed: SeedLike = None) -> Tensor:
    """``x`` with its entries along ``axis`` in a random order (a permutation;
    differentiable in ``x``).

    Args:
        x: the tensor to shuffle.
        axis: the axis whose entries are permuted.
        seed: None (the global generator), an int (the same numbers each
            call) or a :class:`SeedGenerator` (new numbers each call).

    Returns:
        A tensor of the input's shape.

    Example:

    >>> sorted(shuffle(cr.tensor([1.0, 2.0, 3.0]), seed=0).numpy().tolist())
    [1.0, 2.0, 3.0]
    """
    from .tensor import as_tensor
    tensor = as_tensor(x)
    order = default_rng(seed).permutation(tensor.shape[axis])
    return tensor[(slice(None),) * (axis % tensor.ndim) + (order,)]


def gamma(shape: int | Sequence[int], alpha: TensorLike, dtype: DTypeLike | None = None,
          seed: SeedLike = None) -> Tensor:
    """Samples from the Gamma distribution with shape ``alpha`` and scale 1.

    Args:
        shape: the shape of the result (an int or a tuple of ints).
        alpha: the distribution's shape parameter, > 0.
        dtype: the result's dtype (default float32).
        seed: None (the global generator), an int (the same numbers each
            call) or a :class:`SeedGenerator` (new numbers each call).

    Returns:
        A tensor of shape ``shape``.

    Example:

    >>> bool((gamma((100,), alpha=2.0, seed=0).numpy() > 0).all())
    True
    """
    return _wrap(default_rng(seed).gamma(_float(alpha), 1.0, _shape(shape)), dtype)


def binomial(shape: int | Sequence[int], counts: TensorLike, probabilities: TensorLike,
             dtype: DTypeLike | None = None, seed: SeedLike = None) -> Tensor:
    """Samples from Binomial(counts, probabilities) (as floats by default, Keras).

    Args:
        shape: the shape of the result (an int or a tuple of ints).
        counts: the number of trials.
        probabilities: the probability of success of each trial.
        dtype: the result's dtype (default float32).
        seed: None (the global generator), an int (the same numbers each
            call) or a :class:`SeedGenerator` (new numbers each call).

    Returns:
        A tensor of shape ``shape``.

    Example:

    >>> binomial((4,), counts=10, probabilities=1.0, seed=0)
    tensor([10., 10., 10., 10.])
    """
    rng = default_rng(seed)
    return _wrap(rng.binomial(np.asarray(getattr(counts, "data", counts)).astype(np.int64),
                              _float(probabilities), _shape(shape)), dtype)


def beta(shape: int | Sequence[int], alpha: TensorLike,
         beta: TensorLike,  # noqa: A002 (Keras' name)
         dtype: DTypeLike | None = None, seed: SeedLike = None) -> Tensor:
    """Samples from the Beta(alpha, beta) distribution.

    Args:
        shape: the shape of the result (an int or a tuple of ints).
        alpha: the first shape parameter, > 0.
        beta: the second shape parameter, > 0.
        dtype: the result's dtype (default float32).
        seed: None (the global generator), an int (the same numbers each
            call) or a :class:`SeedGenerator` (new numbers each call).

    Returns:
        A tensor of shape ``shape``.

    Example:

    >>> x = beta((100,), alpha=2.0, beta=5.0, seed=0).numpy()
    >>> bool(((x > 0) & (x < 1)).all())
    True
    """
    return _wrap(default_rng(seed).beta(_float(alpha), _float(beta), _shape(shape)), dtype)
