"""Weight constraints, applied by the optimizer after each update, with Keras 3's
formulas and defaults (as Keras 3 ``keras/src/constraints/constraints.py``).

``MaxNorm(max_value=2, axis=0)``: w · clip(‖w‖, 0, max)/(ε + ‖w‖).
``NonNeg()``: max(w, 0). ``UnitNorm(axis=0)``: w/(ε + ‖w‖).
``MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0)``:
w · (rate·clip(‖w‖, min, max) + (1 − rate)·‖w‖)/(ε + ‖w‖). Norms are taken
along ``axis`` (for a Dense kernel (in, out), axis 0 is each unit's incoming
weights); ε = 1e-7.

A weight created with ``layer.add_weight(constraint=...)`` carries its
constraint here (``constraint_of``), and every optimizer applies it after
updating the weight, as Keras does.

>>> import chainrule as cr
>>> cr.constraints.NonNeg()(cr.tensor([-1.0, 2.0]))
tensor([0., 2.])
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Union, overload

import numpy as np

from .registry import Registry, class_and_snake_names
from .tensor import Tensor
from .typing import Axis, TensorLike

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm",
           "min_max_norm", "non_neg", "unit_norm", "get", "serialize", "deserialize",
           "set_constraint", "constraint_of"]

EPSILON = 1e-7          # Keras' backend.epsilon()


def _norms(w: np.ndarray, axis: Axis) -> np.ndarray:
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


def _as_array(w: TensorLike) -> np.ndarray:
    return np.asarray(w.data if isinstance(w, Tensor) else w)


class Constraint:
    """Base class: ``constraint(w)`` returns the projected weight (unchanged here)."""

    def __call__(self, w: TensorLike) -> TensorLike:
        """Project ``w`` onto the constraint.

        Args:
            w: the weight's value, a tensor or an array.

        Returns:
            The projected weight (here ``w`` itself).
        """
        return w

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for ``from_config``.

        Returns:
            A dict of the constructor's keyword arguments.
        """
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Constraint:
        """A constraint made from ``get_config``'s dict.

        Args:
            config: the constructor's keyword arguments.

        Returns:
            A new constraint of this class.
        """
        return cls(**config)


class MaxNorm(Constraint):
    """Scale down the weights whose norm along ``axis`` exceeds ``max_value``.

    ``w · clip(‖w‖, 0, max_value) / (ε + ‖w‖)``.

    Args:
        max_value: the largest norm allowed.
        axis: the axis (or axes) the norms are taken along; 0 for a Dense
            kernel ``(in, out)`` is each unit's incoming weights.

    Example:

    >>> MaxNorm(max_value=1.0)(np.array([[3.0], [4.0]])).numpy().round(4)
    array([[0.6],
           [0.8]])
    """

    def __init__(self, max_value: float = 2, axis: Axis = 0) -> None:
        self.max_value, self.axis = max_value, axis

    def __call__(self, w: TensorLike) -> Tensor:
        a = _as_array(w)
        norms = _norms(a, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return Tensor._wrap((a * (desired / (EPSILON + norms))).astype(a.dtype, copy=False))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Negative weights become 0: ``max(w, 0)``."""

    def __call__(self, w: TensorLike) -> Tensor:
        return Tensor._wrap(np.maximum(_as_array(w), 0))


class UnitNorm(Constraint):
    """Weights scaled to norm 1 along ``axis``: ``w / (ε + ‖w‖)``.

    Args:
        axis: the axis (or axes) the norms are taken along.

    Example:

    >>> UnitNorm()(np.array([[3.0], [4.0]])).numpy().round(4)
    array([[0.6],
           [0.8]])
    """

    def __init__(self, axis: Axis = 0) -> None:
        self.axis = axis

    def __call__(self, w: TensorLike) -> Tensor:
        a = _as_array(w)
        return Tensor._wrap((a / (EPSILON + _norms(a, self.axis))).astype(a.dtype, copy=False))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Norms along ``axis`` moved into [min_value, max_value] (fully at rate 1).

    ``w · (rate·clip(‖w‖, min, max) + (1 − rate)·‖w‖) / (ε + ‖w‖)``.

    Args:
        min_value: the smallest norm allowed.
        max_value: the largest norm allowed.
        rate: how far toward the interval each application moves the norm
            (1 moves it all the way).
        axis: the axis (or axes) the norms are taken along.

    Example:

    >>> w = MinMaxNorm(min_value=1.0, max_value=2.0)(np.array([[6.0], [8.0]]))
    >>> float(np.linalg.norm(w.numpy())).__round__(4)
    2.0
    """

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0,
                 axis: Axis = 0) -> None:
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w: TensorLike) -> Tensor:
        a = _as_array(w)
        norms = _norms(a, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + \
            (1 - self.rate) * norms
        return Tensor._wrap((a * (desired / (EPSILON + norms))).astype(a.dtype, copy=False))

    def get_config(self) -> dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


# Keras 3's lowercase spellings
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_REGISTRY = Registry("constraint", {**class_and_snake_names(MaxNorm, NonNeg, UnitNorm,
                                                            MinMaxNorm),
                                    "max_norm": MaxNorm, "non_neg": NonNeg,
                                    "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm})


ConstraintLike = Union[str, dict, Constraint, type, Callable[..., Any], None]


def serialize(constraint: Constraint) -> dict[str, Any]:
    """The ``{"class_name", "config"}`` dict of a constraint (Keras' config shape).

    Args:
        constraint: a :class:`Constraint`.

    Returns:
        A dict that ``deserialize`` turns back into an equal constraint.

    Example:

    >>> serialize(MaxNorm(3.0))
    {'class_name': 'MaxNorm', 'config': {'max_value': 3.0, 'axis': 0}}
    """
    return _REGISTRY.serialize(constraint)


def deserialize(spec: dict[str, Any]) -> Any:
    """The constraint a ``serialize`` dict describes.

    Args:
        spec: a dict ``{"class_name": ..., "config": {...}}``.

    Returns:
        The constraint.
    """
    return _REGISTRY.deserialize(spec)


@overload
def get(identifier: None) -> None: ...
@overload
def get(identifier: str | dict | Constraint | type | Callable[..., Any]) -> Callable[..., Any]: ...
def get(identifier: ConstraintLike) -> Callable[..., Any] | None:
    """A constraint from a name (``"non_neg"``), a config dict, an object or a callable.

    Args:
        identifier: a name, a ``serialize`` dict, a :class:`Constraint` class
            or instance, a function ``weight -> projected weight``, or None.

    Returns:
        The constraint (a callable), or None for None.

    Example:

    >>> get("non_neg")
    <chainrule.constraints.NonNeg object at ...>
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return get(_REGISTRY.lookup(identifier))
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"cannot interpret {identifier!r} as a constraint: pass a name such as "
                    f"'non_neg', a Constraint or a function weight -> projected weight")


# The constraint of each weight, by identity (a Tensor compares elementwise, so
# it cannot be a dictionary key); the entry goes when the weight does.
_OF: dict[int, tuple[weakref.ref[Any], Callable[..., Any]]] = {}


def set_constraint(variable: Tensor, constraint: Callable[..., Any] | None) -> None:
    """Attach ``constraint`` (a callable, or None to remove) to ``variable``.

    Args:
        variable: the weight to constrain.
        constraint: a callable ``weight -> projected weight``, or None to remove
            the weight's constraint.
    """
    key = id(variable)
    if constraint is None:
        _OF.pop(key, None)
        return
    def forget(_ref: weakref.ref[Any], key: int = key) -> None:
        _OF.pop(key, None)
    _OF[key] = (weakref.ref(variable, forget), constraint)


def constraint_of(variable: Tensor) -> Callable[..., Any] | None:
    """The constraint attached to ``variable``, or None.

    Args:
        variable: a weight.

    Returns:
        The callable given to ``set_constraint``, or None.
    """
    entry = _OF.get(id(variable))
    if entry is None or entry[0]() is not variable:
        return None
    return entry[1]


def any_constraints() -> bool:
    """True when some live weight has a constraint (the optimizers' fast check).

    Returns:
        Whether any live weight has a constraint.
    """
    return bool(_OF)
