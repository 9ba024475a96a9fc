"""``cr.Variable``: a weight made by hand, as Keras 3's ``keras.Variable``.

A variable is a :class:`~chainrule.Tensor` that needs a gradient when
``trainable`` (so tapes, ``backward`` and optimizers treat it as a weight),
with ``assign``/``assign_add``/``assign_sub``/``.value`` like every weight.
Assigned as an attribute of a layer (``self.w = cr.Variable(...)``) it is
tracked in ``layer.weights``, as Keras tracks variables.

As Keras 3 ``keras/src/backend/common/variables.py``: ``initializer`` is a
value (array, number, tensor; its dtype is kept, Python floats become
float32) or an initializer (name or callable), which then needs ``shape``.

>>> import chainrule as cr
>>> v = cr.Variable(cr.ops.zeros((2,)), name="v")
>>> v.assign_add([1.0, 2.0])
tensor([1., 2.], requires_grad=True)
>>> cr.Variable("ones", shape=(2, 2), trainable=False).requires_grad
False
"""
import weakref

import numpy as np

from . import initializers
from .tensor import Tensor

__all__ = ["Variable", "is_variable"]

_MADE = {}          # id -> weakref of the tensors made by Variable (layers track them)


def Variable(initializer, shape=None, dtype=None, trainable=True, autocast=True,  # noqa: N802
             aggregation="none", synchronization="auto", name=None, **kwargs):
    """A new variable (a Tensor) with Keras 3's arguments; ``autocast``,
    ``aggregation`` and ``synchronization`` are accepted for compatibility."""
    if kwargs:
        raise TypeError(f"Variable: unexpected keyword argument(s) {sorted(kwargs)}")
    if isinstance(initializer, str) or (callable(initializer) and
                                        not isinstance(initializer, (Tensor, np.ndarray))):
        if shape is None:
            raise ValueError(f"Variable: when creating a variable from an initializer "
                             f"({initializer!r}), shape= is needed, e.g. shape=(3, 4)")
        dtype = np.dtype(dtype or "float32")
        value = np.asarray(initializers.get(initializer)(tuple(shape), dtype=dtype), dtype)
    else:
        data = initializer.data if isinstance(initializer, Tensor) else np.asarray(initializer)
        if dtype is None and data.dtype == np.float64 and not isinstance(
                initializer, (np.ndarray, Tensor)):
            dtype = "float32"               # Python floats: float32, as Keras' floatx
        value = np.array(data, dtype=dtype)
        if shape is not None and tuple(shape) != value.shape:
            raise ValueError(f"Variable: the initial value has shape {value.shape} but "
                             f"shape={tuple(shape)} was given")
    variable = Tensor(value, name=name, requires_grad=bool(trainable) and value.dtype.kind in "fc")
    key = id(variable)
    _MADE[key] = weakref.ref(variable, lambda _, key=key: _MADE.pop(key, None))
    return variable


def is_variable(x):
    """True for a tensor made by :func:`Variable`."""
    ref = _MADE.get(id(x))
    return ref is not None and ref() is x
