"""Keras 3's functional spellings of the merge layers: ``layers.add([a, b])``
is ``layers.Add()([a, b])`` (as Keras 3 ``keras/src/layers/merging/*.py``
define ``add``, ``concatenate``, ``multiply``, ``subtract``, ``average``,
``maximum``, ``minimum`` and ``dot``).
"""
from .core import Add, Concatenate
from .merging import Average, Dot, Maximum, Minimum, Multiply, Subtract

__all__ = ["add", "average", "concatenate", "dot", "maximum", "minimum", "multiply",
           "subtract"]


def add(inputs, **kwargs):
    """The sum of a list of same-shape tensors (``Add(**kwargs)(inputs)``)."""
    return Add(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """A list of tensors joined along ``axis`` (``Concatenate(axis)(inputs)``)."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def multiply(inputs, **kwargs):
    """The elementwise product of a list of tensors (``Multiply(**kwargs)(inputs)``)."""
    return Multiply(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``inputs[0] - inputs[1]`` (``Subtract(**kwargs)(inputs)``)."""
    return Subtract(**kwargs)(inputs)


def average(inputs, **kwargs):
    """The elementwise mean of a list of tensors (``Average(**kwargs)(inputs)``)."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """The elementwise maximum of a list of tensors (``Maximum(**kwargs)(inputs)``)."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """The elementwise minimum of a list of tensors (``Minimum(**kwargs)(inputs)``)."""
    return Minimum(**kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """Sample-wise dot products of two tensors along ``axes`` (``Dot(axes)(inputs)``;
    Keras' functional default is ``axes=-1``)."""
    return Dot(axes=axes, **kwargs)(inputs)
