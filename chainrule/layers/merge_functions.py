"""Keras 3's functional spellings of the merge layers: ``layers.add([a, b])``
is ``layers.Add()([a, b])`` (as Keras 3 ``keras/src/layers/merging/*.py``
define ``add``, ``concatenate``, ``multiply``, ``subtract``, ``average``,
``maximum``, ``minimum`` and ``dot``).
"""
from __future__ import annotations

from typing import Any, Sequence

from .core import Add, Concatenate
from .merging import Average, Dot, Maximum, Minimum, Multiply, Subtract

__all__ = ["add", "average", "concatenate", "dot", "maximum", "minimum", "multiply",
           "subtract"]


def add(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """The sum of a list of same-shape tensors (``Add(**kwargs)(inputs)``).

    Args:
        inputs: a list of tensors (or placeholders).
        **kwargs: passed to the layer (``name``...).

    Returns:
        The merged tensor (a placeholder when given placeholders).

    Example:

    >>> add([cr.tensor([1.0, 2.0]), cr.tensor([10.0, 20.0])])
    tensor([11., 22.])
    """
    return Add(**kwargs)(inputs)


def concatenate(inputs: Sequence[Any], axis: int = -1, **kwargs: Any) -> Any:
    """A list of tensors joined along ``axis`` (``Concatenate(axis)(inputs)``).

    Args:
        inputs: a list of tensors (or placeholders).
        axis: the axis they are joined along.
        **kwargs: passed to the layer (``name``...).

    Returns:
        The merged tensor (a placeholder when given placeholders).

    Example:

    >>> concatenate([cr.ones(2, 3), cr.zeros(2, 1)]).shape
    (2, 4)
    """
    return Concatenate(axis=axis, **kwargs)(inputs)


def multiply(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """The elementwise product of a list of tensors (``Multiply(**kwargs)(inputs)``).

    Args:
        inputs: a list of tensors (or placeholders).
        **kwargs: passed to the layer (``name``...).

    Returns:
        The merged tensor (a placeholder when given placeholders).

    Example:

    >>> multiply([cr.tensor([1.0, 2.0]), cr.tensor([10.0, 20.0])])
    tensor([10., 40.])
    """
    return Multiply(**kwargs)(inputs)


def subtract(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``inputs[0] - inputs[1]`` (``Subtract(**kwargs)(inputs)``).

    Args:
        inputs: a list of tensors (or placeholders).
        **kwargs: passed to the layer (``name``...).

    Returns:
        The merged tensor (a placeholder when given placeholders).

    Example:

    >>> subtract([cr.tensor([1.0, 2.0]), cr.tensor([10.0, 20.0])])
    tensor([ -9., -18.])
    """
    return Subtract(**kwargs)(inputs)


def average(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """The elementwise mean of a list of tensors (``Average(**kwargs)(inputs)``).

    Args:
        inputs: a list of tensors (or placeholders).
        **kwargs: passed to the layer (``name``...).

    Returns:
        The merged tensor (a placeholder when given placeholders).

    Example:

    >>> average([cr.tensor([1.0, 2.0]), cr.tensor([3.0, 6.0])])
    tensor([2., 4.])
    """
    return Average(**kwargs)(inputs)


def maximum(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """The elementwise maximum of a list of tensors (``Maximum(**kwargs)(inputs)``).

    Args:
        inputs: a list of tensors (or placeholders).
        **kwargs: passed to the layer (``name``...).

    Returns:
        The merged tensor (a placeholder when given placeholders).

    Example:

    >>> maximum([cr.tensor([1.0, 9.0]), cr.tensor([3.0, 6.0])])
    tensor([3., 9.])
    """
    return Maximum(**kwargs)(inputs)


def minimum(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """The elementwise minimum of a list of tensors (``Minimum(**kwargs)(inputs)``).

    Args:
        inputs: a list of tensors (or placeholders).
        **kwargs: passed to the layer (``name``...).

    Returns:
        The merged tensor (a placeholder when given placeholders).

    Example:

    >>> minimum([cr.tensor([1.0, 9.0]), cr.tensor([3.0, 6.0])])
    tensor([1., 6.])
    """
    return Minimum(**kwargs)(inputs)


def dot(inputs: Sequence[Any], axes: int | list[int] | tuple[int, int] = -1,
        **kwargs: Any) -> Any:
    """Sample-wise dot products of two tensors along ``axes`` (``Dot(axes)(inputs)``;
    Keras' functional default is ``axes=-1``).

    Args:
        inputs: two tensors.
        axes: the axis (or one per input) summed over.
        **kwargs: passed to the layer (``name``...).

    Returns:
        The merged tensor (a placeholder when given placeholders).

    Example:

    >>> dot([cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0, 4.0]])], axes=1)
    tensor([[11.]])
    """
    return Dot(axes=axes, **kwargs)(inputs)
