"""Layers that rearrange a sample's values: ``Permute`` (its axes) and
``RepeatVector`` (copies along a new axis), as Keras 3 ``keras/src/layers/reshaping/``.

>>> import chainrule as cr
>>> from chainrule import layers
>>> layers.Permute((2, 1))(cr.ones(4, 10, 64)).shape
(4, 64, 10)
>>> layers.RepeatVector(3)(cr.ones(4, 32)).shape
(4, 3, 32)
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

from .. import ops
from ..tensor import Tensor
from ..typing import Shape
from .base import InputSpec, Layer
from .core import check_positive_int

__all__ = ["Permute", "RepeatVector"]


class Permute(Layer):
    """Permutes the axes of each sample: ``dims`` is a permutation of 1..ndim-1
    (the batch axis 0 stays first), as Keras 3 ``reshaping/permute.py``.

    Args:
        dims: tuple of ints, e.g. ``(2, 1)`` swaps the two axes after the batch.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> Permute((2, 1))(cr.ones(4, 10, 64)).shape
    (4, 64, 10)
    """


    def __init__(self, dims: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        perm = tuple(dims) if isinstance(dims, (list, tuple)) else None
        if perm is None or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool)
                                   for d in perm) or sorted(perm) != list(range(1, len(perm) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(perm or ())} "
                             f"(axis 0, the batch, is not included), got {perm!r}")
        self.dims = tuple(int(d) for d in perm)
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, x: Tensor) -> Tensor:
        """Permute the axes of each sample.

        Args:
            x: the input tensor, batch first.

        Returns:
            ``x`` with the axes after the batch permuted.
        """
        return ops.transpose(x, (0,) + self.dims)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features): the input repeated ``n`` times
    (Keras 3 ``reshaping/repeat_vector.py``).

    Args:
        n: positive int, how many copies.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> RepeatVector(2)(cr.tensor([[1.0, 2.0]]))
    tensor([[[1., 2.],
             [1., 2.]]])
    """

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = check_positive_int("RepeatVector", "n", n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, x: Tensor) -> Tensor:
        """Repeat each sample ``n`` times along a new axis 1.

        Args:
            x: the input, ``(batch, features)``.

        Returns:
            A tensor of shape ``(batch, n, features)``.
        """
        return ops.stack([x] * self.n, axis=1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.n, input_shape[1])
