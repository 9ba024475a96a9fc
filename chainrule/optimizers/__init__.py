"""Optimizers with the update rules and defaults of Keras 3.

>>> import chainrule as cr
>>> opt = cr.optimizers.get("adam")
>>> opt.learning_rate
0.001

``get`` accepts a Keras name ("sgd", "adam", ...), a ``{"class_name",
"config"}`` dict or an optimizer; ``serialize``/``deserialize`` convert to and
from that dict. Learning-rate schedules live in ``cr.optimizers.schedules``.
"""
from __future__ import annotations

from typing import Any

from ..registry import Registry
from . import schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .base import Optimizer
from .ftrl import Ftrl
from .nadam import Nadam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "Nadam", "Optimizer",
           "RMSprop", "deserialize", "get", "schedules", "serialize"]

# Keras' string identifiers are the class names in lower case ("sgd", "adamw",
# ...), as Keras 3 ``keras/src/optimizers/__init__.py``; the class names match too.
_REGISTRY = Registry("optimizer", {
    cls.__name__.lower(): cls
    for cls in [SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam, Ftrl]})


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` describing ``optimizer``.

    Args:
        optimizer: an optimizer.

    Returns:
        ``{"class_name": ..., "config": ...}``.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"serialize takes an Optimizer, got {type(optimizer).__name__}")
    return _REGISTRY.serialize(optimizer)


def deserialize(config: dict[str, Any]) -> Optimizer:
    """The optimizer that ``serialize`` described (class names are case-insensitive).

    Args:
        config: what ``serialize`` returned (class names are case-insensitive).

    Returns:
        A new optimizer.
    """
    return _REGISTRY.deserialize(config)


def get(identifier: str | dict[str, Any] | Optimizer | type[Optimizer]) -> Optimizer:
    """An optimizer from a Keras name ("adam"), a serialized dict or an optimizer.

    Args:
        identifier: a Keras name (``"adam"``), a serialized dict, an optimizer (returned as
            it is) or an optimizer class.

    Returns:
        An optimizer.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return get(_REGISTRY.lookup(identifier))
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()  # type: ignore[call-arg]  # each subclass has a default learning rate
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}; pass a name like "
                     f"'adam', a dict {{'class_name', 'config'}} or an Optimizer")
