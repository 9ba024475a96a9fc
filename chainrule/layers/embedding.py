"""Embedding: integer ids to dense vectors, a lookup in a trainable table.

>>> import chainrule as cr
>>> emb = cr.layers.Embedding(input_dim=1000, output_dim=16)
>>> emb(cr.tensor([[4, 20, 7]])).shape
(1, 3, 16)

Row ``i`` of ``embeddings`` (input_dim, output_dim) is the vector of id ``i``.
The lookup is indexing, so the gradient scatters back onto the rows that were
used (added up where an id repeats).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import graph, initializers, ops, regularizers
from ..tensor import Tensor
from ..typing import Shape, TensorLike
from .base import Layer
from .core import check_positive_int

__all__ = ["Embedding"]


class Embedding(Layer):
    """Maps ids in [0, input_dim) to vectors of size ``output_dim``.

    ``embeddings_initializer="uniform"`` is Keras' RandomUniform(-0.05, 0.05).
    With ``mask_zero=True`` id 0 is padding: the output carries the mask
    ``ids != 0`` (``compute_mask``), which recurrent layers, pooling,
    attention and the loss respect, as Keras 3 ``keras/src/layers/core/embedding.py``.

    Args:
        input_dim: positive int, the number of ids (the vocabulary's size).
        output_dim: positive int, the size of each vector.
        embeddings_initializer: how the table starts. Defaults to ``"uniform"``.
        embeddings_regularizer: a penalty on the table, or None.
        mask_zero: whether id 0 is padding, masked out downstream.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Input shape: integer ids ``(batch, steps)``. Output shape:
    ``(batch, steps, output_dim)``.

    Example:

    >>> layer = Embedding(1000, 8)
    >>> layer(cr.tensor([[1, 2, 3]])).shape
    (1, 3, 8)
    >>> Embedding(10, 4, mask_zero=True).compute_mask(np.array([[3, 5, 0, 0]]))
    array([[ True,  True, False, False]])
    """

    def __init__(self, input_dim: int, output_dim: int,
                 embeddings_initializer: initializers.InitializerLike = "uniform",
                 embeddings_regularizer: regularizers.RegularizerLike = None,
                 mask_zero: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_dim = check_positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = check_positive_int("Embedding", "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero

    def build(self, input_shape: Shape) -> None:
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer,
                                          self.embeddings_regularizer)

    def call(self, ids: TensorLike) -> Tensor:
        """Look the ids up in the table.

        Args:
            ids: integer ids in [0, input_dim) (floats holding integers are accepted).

        Returns:
            The vectors, a tensor of shape ``ids.shape + (output_dim,)``.
        """
        ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
        if ids.dtype.kind == "f" and np.all(ids == np.round(ids)):
            ids = ids.astype(np.int64)        # Keras casts float ids to int
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Embedding layer '{self.name}' expects integer ids, got dtype "
                            f"{ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            raise IndexError(f"Embedding layer '{self.name}': ids must lie in [0, "
                             f"{self.input_dim}) (input_dim={self.input_dim}), got values "
                             f"from {ids.min()} to {ids.max()}")
        return ops.take(self.embeddings, ids, axis=0)

    def compute_mask(self, inputs: Any, mask: Any = None) -> np.ndarray | None:
        """``ids != 0`` with ``mask_zero``, else None.

        Args:
            inputs: the ids.
            mask: the incoming mask (ignored).

        Returns:
            The mask ``ids != 0``, or None without ``mask_zero``.
        """
        if not self.mask_zero:
            return None
        return _nonzero(inputs)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape) + (self.output_dim,)


@graph.replayed          # a compiled step computes the mask again for each batch
def _nonzero(ids: Any) -> np.ndarray:
    ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    return ids != 0

