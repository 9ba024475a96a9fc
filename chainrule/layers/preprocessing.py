"""Preprocessing layers that are arithmetic on the input: ``Rescaling`` and
``Normalization`` (with ``adapt``), as Keras 3 ``keras/src/layers/preprocessing/``.

>>> import numpy as np
>>> import chainrule as cr
>>> norm = cr.layers.Normalization()
>>> norm.adapt(np.array([[0.0, 10.0], [2.0, 30.0]], "float32"))
>>> norm(np.array([[1.0, 20.0]], "float32"))
tensor([[0., 0.]])
"""
from __future__ import annotations

import itertools
import numbers
from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

from ..errors import ShapeError
from ..tensor import Tensor
from ..typing import Shape
from .base import Layer

__all__ = ["Normalization", "Rescaling"]

_EPSILON = 1e-7          # Keras' backend.epsilon()


class Rescaling(Layer):
    """``x · scale + offset`` (Keras 3 ``keras/src/layers/preprocessing/rescaling.py``).

    Args:
        scale: a number (or an array broadcasting against the input).
        offset: a number (or an array), default 0.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Example:

    >>> Rescaling(1 / 127.5, offset=-1)(cr.tensor([0.0, 255.0]))
    tensor([-1.,  1.])
    """

    supports_masking = True

    def __init__(self, scale: npt.ArrayLike, offset: npt.ArrayLike = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for arg, value in (("scale", scale), ("offset", offset)):
            arr = np.asarray(value)
            if isinstance(value, bool) or arr.dtype.kind not in "iuf":
                raise TypeError(f"Rescaling: {arg} must be a number or an array of numbers, "
                                f"got {value!r}")
        self.scale = scale.tolist() if isinstance(scale, np.ndarray) else scale
        self.offset = offset.tolist() if isinstance(offset, np.ndarray) else offset

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name,
                "scale": self.scale, "offset": self.offset}

    def call(self, x: Tensor) -> Tensor:
        """Rescale ``x``.

        Args:
            x: the input tensor (integers become the layer's dtype).

        Returns:
            ``x · scale + offset``.
        """
        if x.dtype.kind != "f":
            x = x.astype(self.dtype)
        return x * np.asarray(self.scale, x.dtype) + np.asarray(self.offset, x.dtype)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


class Normalization(Layer):
    """Shifts and scales the input to zero mean and unit variance per feature.

    As Keras 3 ``keras/src/layers/preprocessing/normalization.py``::

        y = (x - mean) / max(√variance, ε)          (ε = 1e-7)
        invert=True:  y = mean + x · max(√variance, ε)

    ``mean`` and ``variance`` are either given, or learned from data by
    ``adapt(data)``: the mean and (biased) variance over every axis but
    ``axis``, over one array or a stream of batches (merged as Keras does).
    Adapted values are the layer's weights ``mean``, ``variance`` and
    ``count`` (non-trainable, Keras' layout; Keras 3.15 leaves ``count`` at 0).

    Args:
        axis: int, list of ints, or None: the axes that keep their own mean
            and variance (default -1, the features). None: one mean for all.
        mean: an optional number or array, the mean to subtract (with ``variance``).
        variance: an optional number or array (given with ``mean``, or neither).
        invert: apply the inverse, turning normalized values back.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Example:

    >>> layer = Normalization(mean=3.0, variance=4.0)
    >>> layer(cr.tensor([[5.0]]))
    tensor([[1.]])
    """

    supports_masking = True

    def __init__(self, axis: int | Sequence[int] | None = -1, mean: npt.ArrayLike | None = None,
                 variance: npt.ArrayLike | None = None, invert: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        axes = ((axis,) if isinstance(axis, numbers.Integral)
                else tuple(axis))  # type: ignore[arg-type]  # an int took the first branch
        if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes):
            raise TypeError(f"Normalization: axis must be an int, a list of ints or None, "
                            f"got {axis!r}")
        self.axis = tuple(int(a) for a in axes)
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization: give both mean and variance or neither, got "
                             f"mean={mean!r} and variance={variance!r}")
        if mean is not None and np.shape(mean) != np.shape(variance):  # type: ignore[arg-type]
            raise ValueError(f"Normalization: mean and variance must have the same shape, got "
                             f"{np.shape(mean)} and "
                             f"{np.shape(variance)}")  # type: ignore[arg-type]
        if mean is not None and np.ndim(mean) > len(self.axis):
            raise ValueError(f"Normalization: mean has {np.ndim(mean)} dimensions but there "
                             f"are only {len(self.axis)} axes kept (axis={axis!r})")
        self.mean = mean.tolist() if isinstance(mean, np.ndarray) else mean
        self.variance = variance.tolist() if isinstance(variance, np.ndarray) else variance
        self.invert = bool(invert)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name,
                "axis": list(self.axis), "mean": self.mean, "variance": self.variance,
                "invert": self.invert}

    def build(self, input_shape: Shape) -> None:
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ShapeError(f"Normalization layer '{self.name}': axis {self.axis} does not "
                             f"fit input of shape {tuple(input_shape)} ({ndim} dimensions)")
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        if any(input_shape[a] is None for a in self._keep):
            raise ShapeError(f"Normalization layer '{self.name}': the kept axes {self._keep} "
                             f"must have known sizes, got input shape {tuple(input_shape)}")
        self._reduce = tuple(d for d in range(ndim) if d not in self._keep)
        # every kept size is known (checked above)
        self._broadcast: tuple[int, ...] = tuple(
            input_shape[d] if d in self._keep else 1 for d in range(ndim))  # type: ignore[misc]
        stats_shape = tuple(input_shape[d] for d in self._keep)
        if self.mean is None:
            self.adapt_mean = self.add_weight("mean", stats_shape, "zeros", trainable=False)
            self.adapt_variance = self.add_weight("variance", stats_shape, "ones",
                                                  trainable=False)
            self.count = self.add_weight("count", (), "zeros", trainable=False, dtype="int32")

    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance shaped to broadcast against the input."""
        if self.mean is None:
            return (self.adapt_mean.data.reshape(self._broadcast),
                    self.adapt_variance.data.reshape(self._broadcast))
        mean, variance = np.asarray(self.mean, self.dtype), np.asarray(self.variance, self.dtype)
        if mean.ndim:              # the given values sit on the last kept axes
            shape = [1] * len(self._broadcast)
            for i in range(1, mean.ndim + 1):
                shape[self._keep[-i]] = mean.shape[-i]
            mean, variance = mean.reshape(shape), variance.reshape(shape)
        return (np.broadcast_to(mean, self._broadcast), np.broadcast_to(variance, self._broadcast))

    def call(self, x: Tensor) -> Tensor:
        """Normalize ``x``.

        Args:
            x: the input tensor (integers become the layer's dtype).

        Returns:
            The normalized tensor (or the de-normalized one with ``invert``).
        """
        if x.dtype.kind != "f":
            x = x.astype(self.dtype)
        mean, variance = self._stats()
        scale = np.maximum(np.sqrt(variance), _EPSILON).astype(x.dtype)
        mean = mean.astype(x.dtype)
        if self.invert:
            return x * scale + mean
        return (x - mean) / scale

    def adapt(self, data: Any) -> None:
        """Learn ``mean`` and ``variance`` from an array, a Tensor or an iterable
        of batches (Keras merges batch statistics by their counts).

        Args:
            data: an array, a Tensor, or an iterable of batches (arrays or tensors).
        """
        if self.mean is not None:
            raise ValueError(f"Normalization layer '{self.name}' was given mean and variance; "
                             f"adapt() would overwrite them")
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, np.ndarray):
            batches, shape = None, data.shape
        elif hasattr(data, "__iter__"):
            it = iter(data)
            first = next(it, None)
            if first is None:
                raise ValueError("Normalization.adapt() received an empty iterable; give at "
                                 "least one batch")
            first = np.asarray(getattr(first, "data", first))
            batches, shape = itertools.chain([first], it), first.shape
        else:
            raise TypeError(f"Normalization.adapt() takes an array or an iterable of batches, "
                            f"got {type(data).__name__}")
        if not self.built:
            self._maybe_build(tuple(shape))
        elif any(shape[d] != self.build_input_shape[d] for d in self._keep):
            raise ShapeError(f"Normalization layer '{self.name}' was built for input shape "
                             f"{tuple(self.build_input_shape)} but adapt() got data of shape "
                             f"{tuple(shape)}")
        if batches is None:
            mean = np.mean(data, axis=self._reduce)
            var = np.var(data, axis=self._reduce)
        else:
            mean = var = np.zeros(self.adapt_mean.shape)
            total = 0
            for batch in batches:
                batch = np.asarray(getattr(batch, "data", batch), self.dtype)
                if any(batch.shape[d] != shape[d] for d in self._keep):
                    raise ShapeError(f"Normalization.adapt(): a batch of shape {batch.shape} "
                                     f"does not match the first batch's {tuple(shape)}")
                count = int(np.prod([batch.shape[d] for d in self._reduce]))
                b_mean, b_var = batch.mean(axis=self._reduce), batch.var(axis=self._reduce)
                total += count
                w = count / total
                new_mean = mean * (1 - w) + b_mean * w
                var = (var + (mean - new_mean) ** 2) * (1 - w) + \
                    (b_var + (b_mean - new_mean) ** 2) * w
                mean = new_mean
        self.adapt_mean.data[...] = mean
        self.adapt_variance.data[...] = var
        self.adapt_mean._version += 1
        self.adapt_variance._version += 1

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)
