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
from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

import numpy as np

from . import initializers
from .tensor import Tensor
from .typing import DTypeLike, TensorLike

__all__ = ["Variable", "is_variable"]

_MADE: dict[int, weakref.ref[Tensor]] = {}  # id -> weakref of the tensors made by Variable (layers track them)


def Variable(initializer: TensorLike | str | Callable[..., Any],  # noqa: N802
             shape: Sequence[int] | None = None, dtype: DTypeLike | None = None,
             trainable: bool = True, autocast: bool = True, aggregation: str = "none",
             synchronization: str = "auto", name: str | None = None,
             **kwargs: Any) -> Tensor:
    """A new variable (a Tensor) with Keras 3's arguments.

    Args:
        initializer: the initial value (array, number, tensor), or an
            initializer (its name or a callable), which then needs ``shape``.
        shape: the shape (needed with an initializer; checked against a value).
        dtype: the dtype (default: the value's; ``float32`` for an initializer
            or Python floats).
        trainable: whether it needs a gradient (floating dtypes only).
        autocast: accepted for compatibility with Keras.
        aggregation: accepted for compatibility with Keras.
        synchronization: accepted for compatibility with Keras.
        name: the variable's name.
        **kwargs: none are accepted (a TypeError names them).

    Returns:
        The variable: a ``Tensor`` that ``is_variable`` recognises.
    """
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
    _MADE[key] = weakref.ref(variable, lambda _, key=key: _MADE.pop(key, None))  # type: ignore[misc]
    return variable


def is_variable(x: object) -> bool:
    """Whether ``x`` was made by :func:`Variable`.

    Args:
        x: any object.

    Returns:
        True for a tensor made by :func:`Variable`.
    """
    ref = _MADE.get(id(x))
    return ref is not None and ref() is x
