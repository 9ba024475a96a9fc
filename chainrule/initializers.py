"""Weight initializers with Keras 3's names, defaults and formulas.

An initializer is called with a shape and a dtype and returns a NumPy array:

>>> import chainrule as cr
>>> init = cr.initializers.GlorotUniform(seed=0)
>>> init((784, 512)).shape
(784, 512)

Fans follow Keras: a Dense kernel (in, out) has fan_in = in, fan_out = out; a
convolution kernel (kh, kw, cin, cout) multiplies both by kh·kw.
Randomness follows ``cr.set_seed`` unless a ``seed`` is given.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, Union

import numpy as np

from .random import SeedLike, default_rng
from .registry import Registry, class_and_snake_names
from .typing import DTypeLike

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "deserialize",
    "get",
    "serialize",
]


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras computes them.

    Args:
        shape: a weight's shape; a convolution kernel's is ``(kh, kw, cin, cout)``.

    Returns:
        ``(fan_in, fan_out)``: the sizes of the last two axes, each times the
        product of the axes before them.

    Example:

    >>> compute_fans((3, 3, 16, 32))
    (144, 288)
    """
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``__call__(shape, dtype)`` and a config of its arguments."""

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        """The initial value of a weight.

        Args:
            shape: the weight's shape.
            dtype: the array's dtype.

        Returns:
            A NumPy array of that shape and dtype.
        """
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for ``from_config``.

        Returns:
            A dict of the constructor's keyword arguments.
        """
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """An initializer made from ``get_config``'s dict.

        Args:
            config: the constructor's keyword arguments.

        Returns:
            A new initializer of this class.
        """
        return cls(**config)


class Zeros(Initializer):
    """All zeros.

    Example:

    >>> Zeros()((2, 3))
    array([[0., 0., 0.],
           [0., 0., 0.]], dtype=float32)
    """

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        return np.zeros(shape, dtype)


class Ones(Initializer):
    """All ones.

    Example:

    >>> Ones()((2,), dtype="int32")
    array([1, 1], dtype=int32)
    """

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        return np.ones(shape, dtype)


class Constant(Initializer):
    """Every entry ``value``.

    Args:
        value: the number to fill with.

    Example:

    >>> Constant(0.5)((2, 2))
    array([[0.5, 0.5],
           [0.5, 0.5]], dtype=float32)
    """

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        return np.full(shape, self.value, dtype)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class _Seeded(Initializer):
    def __init__(self, seed: SeedLike = None) -> None:
        self.seed = seed

    def _rng(self) -> np.random.Generator:
        return default_rng(self.seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class RandomNormal(_Seeded):
    """Samples from N(mean, stddev²).

    Args:
        mean: the mean.
        stddev: the standard deviation.
        seed: an int for the same values on every call; None follows ``cr.set_seed``.

    Example:

    >>> w = RandomNormal(stddev=0.01, seed=0)((100, 100))
    >>> w.dtype, bool(abs(w.std() - 0.01) < 1e-3)
    (dtype('float32'), True)
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        return self._rng().normal(self.mean, self.stddev, shape).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(_Seeded):
    """Samples from the uniform distribution on [minval, maxval).

    Args:
        minval: the lower bound.
        maxval: the upper bound.
        seed: an int for the same values on every call; None follows ``cr.set_seed``.

    Example:

    >>> w = RandomUniform(-1.0, 1.0, seed=0)((3, 4))
    >>> w.shape, bool((abs(w) <= 1).all())
    ((3, 4), True)
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05,
                 seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        return self._rng().uniform(self.minval, self.maxval, shape).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_normal(rng: np.random.Generator, stddev: float,
                      shape: Sequence[int]) -> np.ndarray:
    """Normal(0, stddev) with draws beyond two standard deviations redrawn."""
    out = rng.normal(0.0, stddev, shape)
    bad = np.abs(out) > 2 * stddev
    while bad.any():
        out[bad] = rng.normal(0.0, stddev, int(bad.sum()))
        bad = np.abs(out) > 2 * stddev
    return out


class TruncatedNormal(_Seeded):
    """Samples from N(mean, stddev²), redrawn beyond two standard deviations.

    Args:
        mean: the mean.
        stddev: the standard deviation before truncation.
        seed: an int for the same values on every call; None follows ``cr.set_seed``.

    Example:

    >>> w = TruncatedNormal(stddev=1.0, seed=0)((1000,))
    >>> bool((abs(w) <= 2).all())        # nothing beyond two standard deviations
    True
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        return (self.mean + _truncated_normal(self._rng(), self.stddev, shape)).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(_Seeded):
    """Variance ``scale / n`` with n the fan_in, fan_out or their average.

    uniform: limit = sqrt(3·scale/n); truncated normal: stddev =
    sqrt(scale/n) / 0.8796 (the stddev of a normal truncated at 2σ).

    Args:
        scale: the variance's numerator, > 0.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``: which n divides it.
        distribution: ``"truncated_normal"``, ``"untruncated_normal"`` or ``"uniform"``.
        seed: an int for the same values on every call; None follows ``cr.set_seed``.

    Example:

    >>> w = VarianceScaling(2.0, "fan_in", "uniform", seed=0)((100, 10))
    >>> bool(abs(w).max() <= np.sqrt(3 * 2.0 / 100))
    True
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: SeedLike = None) -> None:
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("VarianceScaling: distribution must be truncated_normal, "
                             f"untruncated_normal or uniform, got {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * scale)
            return rng.uniform(-limit, limit, shape).astype(dtype)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, np.sqrt(scale), shape).astype(dtype)
        return _truncated_normal(rng, np.sqrt(scale) / 0.87962566103423978, shape).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "seed": self.seed}


def _preset(name: str, scale: float, mode: str, distribution: str) -> type[VarianceScaling]:
    def __init__(self: VarianceScaling, seed: SeedLike = None) -> None:
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self: VarianceScaling) -> dict[str, Any]:
        """The constructor arguments, for ``from_config``.

        Returns:
            ``{"seed": ...}`` (the preset fixes the rest).
        """
        return {"seed": self.seed}
    doc = (f"VarianceScaling({scale}, {mode!r}, {distribution!r}).\n\n"
           f"Args:\n    seed: an int for the same values on every call; "
           f"None follows ``cr.set_seed``.\n")
    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": doc})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(_Seeded):
    """A (semi-)orthogonal matrix from the QR of a normal matrix, times ``gain``.

    Args:
        gain: the factor the matrix is multiplied by.
        seed: an int for the same values on every call; None follows ``cr.set_seed``.

    Example:

    >>> q = Orthogonal(seed=0)((4, 4))
    >>> np.allclose(q.T @ q, np.eye(4), atol=1e-6)
    True
    """

    def __init__(self, gain: float = 1.0, seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of 2 or more dimensions, got {tuple(shape)}")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = self._rng().normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))          # make it uniform over orthogonal matrices
        if rows < cols:
            q = q.T
        return np.ascontiguousarray(self.gain * q.reshape(shape), dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only).

    Args:
        gain: the factor the identity is multiplied by.

    Example:

    >>> Identity(gain=2.0)((2, 3))
    array([[2., 0., 0.],
           [0., 2., 0.]], dtype=float32)
    """

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        if len(shape) != 2:
            raise ValueError(f"Identity needs a 2-D shape, got {tuple(shape)}")
        return (self.gain * np.eye(shape[0], shape[1])).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


# Keras' names: class names and their snake_case ("glorot_uniform"), plus
# the short names, e.g. "uniform" is RandomUniform(-0.05, 0.05) (Embedding's default).
_REGISTRY = Registry("initializer", {
    **class_and_snake_names(Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform,
                            TruncatedNormal, VarianceScaling, GlorotUniform, GlorotNormal,
                            HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal),
    "uniform": RandomUniform, "normal": RandomNormal, "zero": Zeros, "one": Ones,
})


InitializerLike = Union[str, dict, Initializer, type, Callable[..., Any]]


def serialize(initializer: Initializer) -> dict[str, Any]:
    """The ``{"class_name", "config"}`` dict of an initializer (Keras' config shape).

    Args:
        initializer: an :class:`Initializer`.

    Returns:
        A dict that ``deserialize`` turns back into an equal initializer.

    Example:

    >>> serialize(HeNormal(seed=1))
    {'class_name': 'HeNormal', 'config': {'seed': 1}}
    """
    return _REGISTRY.serialize(initializer)


def deserialize(spec: dict[str, Any]) -> Any:
    """The initializer a ``serialize`` dict describes.

    Args:
        spec: a dict ``{"class_name": ..., "config": {...}}``.

    Returns:
        The initializer.
    """
    return _REGISTRY.deserialize(spec)


def get(identifier: InitializerLike) -> Callable[..., Any]:
    """An initializer from a name (``"glorot_uniform"``), a config dict, or itself.

    Args:
        identifier: a name, a ``serialize`` dict, an :class:`Initializer` class
            or instance, or a function ``(shape, dtype) -> array``.

    Returns:
        The initializer (a callable).

    Example:

    >>> init = get("he_normal")
    >>> type(init).__name__, init.scale, init.mode
    ('HeNormal', 2.0, 'fan_in')
    """
    if isinstance(identifier, Initializer) or callable(identifier) and not isinstance(identifier, (str, dict, type)):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return get(_REGISTRY.lookup(identifier))
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    raise TypeError(f"cannot interpret {identifier!r} as an initializer: pass a name "
                    f"like 'glorot_uniform' or an Initializer")
