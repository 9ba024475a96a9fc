"""Weight penalties added to the loss, with Keras 3's formulas and defaults.

``L1(l1)``: l1·Σ|w|. ``L2(l2)``: l2·Σw² (no factor ½, as Keras).
``L1L2(l1, l2)``: both.

>>> import chainrule as cr
>>> float(cr.regularizers.L2(0.1)(cr.tensor([1.0, 2.0])))
0.5
"""
from . import ops
from .registry import Registry, class_and_snake_names

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize",
           "deserialize"]


def _check(name, value):
    value = float(value)
    if value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value}")
    return value


class Regularizer:
    def __call__(self, weight):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = _check("l1", l1), _check("l2", l2)

    def __call__(self, weight):
        total = 0.0
        if self.l1:
            total = total + self.l1 * ops.sum(ops.abs(weight))
        if self.l2:
            total = total + self.l2 * ops.sum(weight * weight)
        return total if not isinstance(total, float) else ops.sum(weight * 0.0)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


# Keras 3's lowercase spellings: regularizers.l2(0.01) is L2(0.01)
# (as Keras 3 keras/src/regularizers/__init__.py aliases them).
l1, l2, l1_l2 = L1, L2, L1L2


# Keras' names (class names and snake_case: "l1", "l2", "l1l2") plus "l1_l2".
_REGISTRY = Registry("regularizer", {**class_and_snake_names(L1, L2, L1L2), "l1_l2": L1L2})


def serialize(reg):
    return _REGISTRY.serialize(reg)


def deserialize(spec):
    return _REGISTRY.deserialize(spec)


def get(identifier):
    """A regularizer from a name (``"l2"``), a config dict, an object or a callable."""
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
