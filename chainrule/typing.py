"""Type aliases for annotating chainrule code (as ``numpy.typing`` does for NumPy).

- ``TensorLike``: what every op accepts where it takes a tensor: a ``Tensor``,
  a NumPy array, a Python number or a nested list of them.
- ``Shape``: a tuple of dimension sizes; ``None`` marks a size not known yet
  (the batch dimension of a Keras ``Input``).
- ``DTypeLike``: anything ``np.dtype`` accepts (``"float32"``, ``np.float64``).
- ``Axis``: one axis, several, or ``None`` for all of them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Tuple, Union

import numpy.typing as npt

if TYPE_CHECKING:                      # tensor.py imports this module
    from .tensor import Tensor

__all__ = ["TensorLike", "Shape", "ShapeLike", "DTypeLike", "Axis"]

TensorLike = Union["Tensor", npt.ArrayLike]
Shape = Tuple[Optional[int], ...]
ShapeLike = Union[int, Sequence[Optional[int]]]
DTypeLike = npt.DTypeLike
Axis = Union[int, Sequence[int], None]

del npt
