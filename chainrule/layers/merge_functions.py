"""Keras 3's functional spellings of the merge layers: ``layers.add([a, b])``
is ``layers.Add()([a, b])`` (as Keras 3 ``keras/src/layers/merging/add.py``
and ``concatenate.py`` define them).

Only the merges whose layer exists are here; ``multiply``, ``subtract``,
``average``, ``maximum``, ``minimum`` and ``dot`` come with their layers.
"""
from .core import Add, Concatenate

__all__ = ["add", "concatenate"]


def add(inputs, **kwargs):
    """The sum of a list of same-shape tensors (``Add(**kwargs)(inputs)``)."""
    return Add(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """A list of tensors joined along ``axis`` (``Concatenate(axis)(inputs)``)."""
    return Concatenate(axis=axis, **kwargs)(inputs)
