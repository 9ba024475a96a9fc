"""Regularization by noise while training, the identity at inference:
``SpatialDropout1D/2D``, ``GaussianNoise``, ``GaussianDropout``, as Keras 3
``keras/src/layers/regularization/``.

Each takes a ``seed``: the layer then owns a generator, so successive calls
draw different noise but a rebuilt layer repeats the same sequence (as
``Dropout``); without one the draw comes from chainrule's global generator.

>>> import chainrule as cr
>>> x = cr.ones(2, 3)
>>> cr.layers.GaussianNoise(0.1)(x) is x      # inference: the input itself
True
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..random import default_rng, dropout_scale, normal_noise
from ..tensor import Tensor
from ..typing import Shape
from .base import InputSpec, Layer
from .core import check_rate

__all__ = ["GaussianDropout", "GaussianNoise", "SpatialDropout1D", "SpatialDropout2D"]


class _Noise(Layer):
    supports_masking = True

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def _generator(self) -> np.random.Generator:
        return default_rng(self._rng)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


class GaussianNoise(_Noise):
    """Adds N(0, stddev²) noise while training (Keras 3 ``gaussian_noise.py``).

    Args:
        stddev: float >= 0, the noise's standard deviation.
        seed: int or None.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> layer = GaussianNoise(0.1, seed=0)
    >>> x = cr.ones(2, 3)
    >>> layer(x) is x                    # inference: no noise
    True
    >>> layer(x, training=True).shape
    (2, 3)
    """

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or stddev < 0:
            raise ValueError(f"GaussianNoise: stddev must be a number >= 0, got {stddev!r}")
        self.stddev = float(stddev)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """``x`` plus noise while training, else ``x``.

        Args:
            x: the input tensor.
            training: add the noise (True) or return ``x`` itself (False).

        Returns:
            A tensor of ``x``'s shape.
        """
        if not training or self.stddev == 0:
            return x
        return x + Tensor._wrap(normal_noise(self._rng, 0.0, self.stddev, x.shape, x.dtype))


class GaussianDropout(_Noise):
    """Multiplies by N(1, rate / (1 - rate)) noise while training
    (Keras 3 ``gaussian_dropout.py``: stddev = √(rate / (1 - rate))).

    Args:
        rate: float in [0, 1), the drop probability this noise imitates.
        seed: int or None.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> layer = GaussianDropout(0.2, seed=0)
    >>> layer(cr.ones(2, 3), training=True).shape
    (2, 3)
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate("GaussianDropout", "rate", rate)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """``x`` times noise while training, else ``x``.

        Args:
            x: the input tensor.
            training: apply the noise (True) or return ``x`` itself (False).

        Returns:
            A tensor of ``x``'s shape.
        """
        if not training or self.rate == 0:
            return x
        stddev = np.sqrt(self.rate / (1.0 - self.rate))
        return x * Tensor._wrap(normal_noise(self._rng, 1.0, stddev, x.shape, x.dtype))


class _SpatialDropout(_Noise):
    """Drops whole channels: one keep/drop draw per (sample, channel), the kept
    ones scaled by 1 / (1 - rate), as Keras' ``Dropout`` with a noise shape
    of 1 on every axis but the batch and the channels."""

    _ndim = 3

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate(type(self).__name__, "rate", rate)
        self.input_spec = InputSpec(ndim=self._ndim)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """``x`` with whole channels dropped while training, else ``x``.

        Args:
            x: the input tensor, channels last.
            training: drop channels (True) or return ``x`` itself (False).

        Returns:
            A tensor of ``x``'s shape.
        """
        if not training or self.rate == 0:
            return x
        shape = (x.shape[0],) + (1,) * (self._ndim - 2) + (x.shape[-1],)
        return x * Tensor._wrap(dropout_scale(self._rng, shape, self.rate, x.dtype))


class SpatialDropout1D(_SpatialDropout):
    """Drops entire feature channels of (batch, steps, channels) input while
    training (Keras 3 ``spatial_dropout.py``).

    Args:
        rate: float in [0, 1), the probability of dropping a channel.
        seed: int or None.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> y = SpatialDropout1D(0.5, seed=0)(cr.ones(2, 4, 3), training=True).numpy()
    >>> bool((y == y[:, :1, :]).all())   # a channel is kept or dropped at every step
    True
    """


class SpatialDropout2D(_SpatialDropout):
    """Drops entire channels of (batch, height, width, channels) input while
    training (Keras 3 ``spatial_dropout.py``; channels-last only).

    Args:
        rate: float in [0, 1), the probability of dropping a channel.
        data_format: None or ``"channels_last"`` (the only layout supported).
        seed: int or None.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> SpatialDropout2D(0.5, seed=0)(cr.ones(2, 4, 4, 3), training=True).shape
    (2, 4, 4, 3)
    """

    _ndim = 4

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        if data_format not in (None, "channels_last"):
            raise ValueError(f"SpatialDropout2D: only data_format='channels_last' is "
                             f"supported, got {data_format!r}")
        super().__init__(rate, seed=seed, **kwargs)
