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
import weakref

import numpy as np

from .registry import Registry, class_and_snake_names
from .tensor import Tensor

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm",
           "min_max_norm", "non_neg", "unit_norm", "get", "serialize", "deserialize",
           "set_constraint", "constraint_of"]

EPSILON = 1e-7          # Keras' backend.epsilon()


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


def _as_array(w):
    return np.asarray(w.data if isinstance(w, Tensor) else w)


class Constraint:
    """Base class: ``constraint(w)`` returns the projected weight (unchanged here)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Scale down the weights whose norm along ``axis`` exceeds ``max_value``."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        a = _as_array(w)
        norms = _norms(a, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return Tensor._wrap((a * (desired / (EPSILON + norms))).astype(a.dtype, copy=False))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Negative weights become 0."""

    def __call__(self, w):
        return Tensor._wrap(np.maximum(_as_array(w), 0))


class UnitNorm(Constraint):
    """Weights scaled to norm 1 along ``axis``."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        a = _as_array(w)
        return Tensor._wrap((a / (EPSILON + _norms(a, self.axis))).astype(a.dtype, copy=False))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Norms along ``axis`` moved into [min_value, max_value] (fully at rate 1)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        a = _as_array(w)
        norms = _norms(a, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + \
            (1 - self.rate) * norms
        return Tensor._wrap((a * (desired / (EPSILON + norms))).astype(a.dtype, copy=False))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


# Keras 3's lowercase spellings
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_REGISTRY = Registry("constraint", {**class_and_snake_names(MaxNorm, NonNeg, UnitNorm,
                                                            MinMaxNorm),
                                    "max_norm": MaxNorm, "non_neg": NonNeg,
                                    "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm})


def serialize(constraint):
    return _REGISTRY.serialize(constraint)


def deserialize(spec):
    return _REGISTRY.deserialize(spec)


def get(identifier):
    """A constraint from a name (``"non_neg"``), a config dict, an object or a callable."""
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
_OF = {}


def set_constraint(variable, constraint):
    """Attach ``constraint`` (a callable, or None to remove) to ``variable``."""
    key = id(variable)
    if constraint is None:
        _OF.pop(key, None)
        return
    _OF[key] = (weakref.ref(variable, lambda _, key=key: _OF.pop(key, None)), constraint)


def constraint_of(variable):
    """The constraint attached to ``variable``, or None."""
    entry = _OF.get(id(variable))
    if entry is None or entry[0]() is not variable:
        return None
    return entry[1]


def any_constraints():
    """True when some live weight has a constraint (the optimizers' fast check)."""
    return bool(_OF)
