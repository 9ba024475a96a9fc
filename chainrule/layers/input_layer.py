"""``cr.Input`` and ``InputLayer``: the placeholder a functional model starts from.

``Input(shape)`` returns a :class:`~chainrule.layers.SymbolicTensor` of shape
``(None,) + shape``; calling layers on it records the calls that
``cr.Model(inputs, outputs)`` replays (``chainrule/models/functional.py``).
It lives with the layers so that ``cr.layers.Input`` (Keras 3's spelling)
needs nothing from the models floor.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..typing import DTypeLike, Shape
from .base import Layer, SymbolicTensor

__all__ = ["Input", "InputLayer"]


class InputLayer(Layer):
    """The layer behind ``cr.Input``: it holds the input's shape and dtype.

    ``shape`` excludes the batch dimension, as in Keras; ``batch_shape``
    includes it (its first entry, when not None, is kept as ``batch_size``).

    Args:
        shape: one sample's shape (an int or a tuple; None for a size not known).
        batch_size: a fixed batch size, or None.
        dtype: the input's dtype (default float32).
        batch_shape: the batch's shape, batch first (instead of ``shape``).
        name: the layer's name.
        sparse: must be falsy: sparse inputs are not supported.
        **kwargs: passed to ``Layer``.

    Example:

    >>> layer = InputLayer(shape=(4,))
    >>> layer.batch_shape, layer.output.shape
    ((None, 4), (None, 4))
    """

    def __init__(self, shape: int | Sequence[int | None] | None = None,
                 batch_size: int | None = None, dtype: DTypeLike | None = None,
                 batch_shape: Sequence[int | None] | None = None, name: str | None = None,
                 sparse: bool | None = None, **kwargs: Any) -> None:
        if batch_shape is not None:
            if shape is not None:
                raise ValueError("InputLayer: give shape= (one sample) or batch_shape= "
                                 "(batch first), not both")
            batch_shape = tuple(batch_shape)
            if not batch_shape:
                raise ValueError("InputLayer: batch_shape must include the batch dimension, "
                                 "e.g. batch_shape=(None, 784)")
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            raise ValueError("InputLayer needs shape=, the shape of one sample "
                             "without the batch dimension, e.g. shape=(784,)")
        if sparse:
            raise ValueError("InputLayer: sparse inputs are not supported; chainrule "
                             "tensors are dense")
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        shape = tuple(None if d is None else int(d) for d in shape)
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.shape = shape
        self.batch_size = None if batch_size is None else int(batch_size)
        self.built = True
        output = SymbolicTensor((None,) + shape, self.dtype, history=None, name=self.name)
        output.input_layer = self           # how a model finds the layer again
        # an Input's input and output are the placeholder itself (Keras)
        object.__setattr__(self, "_inbound_nodes", [(output, output)])

    def call(self, inputs: Any) -> Any:
        """The identity.

        Args:
            inputs: the input.

        Returns:
            ``inputs`` unchanged.
        """
        return inputs

    @property
    def batch_shape(self) -> Shape:
        return (self.batch_size,) + self.shape

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype.name, "name": self.name}


def Input(shape: int | Sequence[int | None] | None = None, batch_size: int | None = None,
          dtype: DTypeLike | None = None, sparse: bool | None = None,
          batch_shape: Sequence[int | None] | None = None, name: str | None = None,
          tensor: None = None, optional: bool = False) -> SymbolicTensor:
    """A placeholder for the model's input: ``shape`` is one sample's shape,
    or ``batch_shape`` the batch's (Keras 3's signature).

    Args:
        shape: one sample's shape, without the batch (None for a size not known).
        batch_size: a fixed batch size, or None.
        dtype: the input's dtype (default float32).
        sparse: must be falsy: sparse inputs are not supported.
        batch_shape: the batch's shape, batch first (instead of ``shape``).
        name: the placeholder's name.
        tensor: must be None (Keras wraps an existing tensor; chainrule makes placeholders only).
        optional: must be False.

    Returns:
        A ``SymbolicTensor`` of shape ``(batch_size,) + shape``.

    Example:

    >>> import chainrule as cr
    >>> x = cr.Input((28, 28, 1))
    >>> x.shape
    (None, 28, 28, 1)
    >>> cr.Input(batch_shape=(None, 10)).shape
    (None, 10)
    """
    if tensor is not None:
        raise ValueError("Input(tensor=...) is not supported: chainrule builds placeholders "
                         "only; pass shape= or batch_shape=")
    if optional:
        raise ValueError("Input(optional=True) is not supported")
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                      batch_shape=batch_shape, name=name).output
