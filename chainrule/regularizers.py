"""Weight penalties added to the loss, with Keras 3's formulas and defaults.

``L1(l1)``: l1·Σ|w|. ``L2(l2)``: l2·Σw² (no factor ½, as Keras).
``L1L2(l1, l2)``: both.

>>> import chainrule as cr
>>> float(cr.regularizers.L2(0.1)(cr.tensor([1.0, 2.0])))
0.5
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Union, overload

from . import ops
from .registry import Registry, class_and_snake_names

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize",
           "deserialize"]


def _check(name: str, value: float) -> float:
    value = float(value)
    if value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value}")
    return value


class Regularizer:
    """Base class: ``regularizer(weight)`` is a scalar penalty added to the loss."""

    def __call__(self, weight: Tensor) -> Tensor:
        """The penalty on ``weight``.

        Args:
            weight: the weight tensor.

        Returns:
            A scalar tensor, differentiable with respect to ``weight``.
        """
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for ``from_config``.

        Returns:
            A dict of the constructor's keyword arguments.
        """
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        """A regularizer made from ``get_config``'s dict.

        Args:
            config: the constructor's keyword arguments.

        Returns:
            A new regularizer of this class.
        """
        return cls(**config)


class L1L2(Regularizer):
    """``l1·Σ|w| + l2·Σw²`` (as Keras 3 ``keras/src/regularizers/regularizers.py``).

    Args:
        l1: the factor of the L1 penalty, >= 0.
        l2: the factor of the L2 penalty, >= 0.

    Example:

    >>> float(L1L2(l1=0.5, l2=0.1)(cr.tensor([1.0, -2.0])))
    2.0
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = _check("l1", l1), _check("l2", l2)

    def __call__(self, weight: Tensor) -> Tensor:
        total: Any = 0.0
        if self.l1:
            total = total + self.l1 * ops.sum(ops.abs(weight))
        if self.l2:
            total = total + self.l2 * ops.sum(weight * weight)
        return total if not isinstance(total, float) else ops.sum(weight * 0.0)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1·Σ|w|``.

    Args:
        l1: the factor of the penalty, >= 0.

    Example:

    >>> round(float(L1(0.1)(cr.tensor([1.0, -2.0]))), 4)        # 0.1·(1 + 2)
    0.3
    """

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    """``l2·Σw²`` (no factor ½, as Keras).

    Args:
        l2: the factor of the penalty, >= 0.

    Example:

    >>> float(L2(0.1)(cr.tensor([1.0, -2.0])))                  # 0.1·(1 + 4)
    0.5
    >>> get("l2").get_config()
    {'l2': 0.01}
    """

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


# Keras 3's lowercase spellings: regularizers.l2(0.01) is L2(0.01)
# (as Keras 3 keras/src/regularizers/__init__.py aliases them).
l1, l2, l1_l2 = L1, L2, L1L2


# Keras' names (class names and snake_case: "l1", "l2", "l1l2") plus "l1_l2".
_REGISTRY = Registry("regularizer", {**class_and_snake_names(L1, L2, L1L2), "l1_l2": L1L2})


RegularizerLike = Union[str, dict, Regularizer, type, Callable[..., Any], None]


def serialize(reg: Regularizer) -> dict[str, Any]:
    """The ``{"class_name", "config"}`` dict of a regularizer (Keras' config shape).

    Args:
        reg: a :class:`Regularizer`.

    Returns:
        A dict that ``deserialize`` turns back into an equal regularizer.

    Example:

    >>> serialize(L1L2(l1=0.01, l2=0.02))
    {'class_name': 'L1L2', 'config': {'l1': 0.01, 'l2': 0.02}}
    """
    return _REGISTRY.serialize(reg)


def deserialize(spec: dict[str, Any]) -> Any:
    """The regularizer a ``serialize`` dict describes.

    Args:
        spec: a dict ``{"class_name": ..., "config": {...}}``.

    Returns:
        The regularizer.
    """
    return _REGISTRY.deserialize(spec)


@overload
def get(identifier: None) -> None: ...
@overload
def get(identifier: str | dict | Regularizer | type | Callable[..., Any]) -> Callable[..., Any]: ...
def get(identifier: RegularizerLike) -> Callable[..., Any] | None:
    """A regularizer from a name (``"l2"``), a config dict, an object or a callable.

    Args:
        identifier: a name, a ``serialize`` dict, a :class:`Regularizer` class
            or instance, a function ``weight -> scalar penalty``, or None.

    Returns:
        The regularizer (a callable), or None for None.

    Example:

    >>> get("l2").get_config()
    {'l2': 0.01}
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return get(_REGISTRY.lookup(identifier))
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    raise TypeError(f"cannot interpret {identifier!r} as a regularizer")
