"""Special functions: erf (the Gaussian error function, behind exact GELU).

erf(x) = 2/√π ∫₀ˣ e^(-t²) dt; its derivative is 2/√π · e^(-x²). The forward
is SciPy's ``scipy.special.erf`` (accurate to the last bit in float64).
"""
from __future__ import annotations

import math

from typing import Sequence

import numpy as np
from scipy import special as _special

from ..rules import declare
from ..rules import ArrayGrads, TensorGrads
from ..tensor import Tensor, as_tensor, record
from ..typing import TensorLike
from .elementwise import exp

__all__ = ["erf"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def erf(x: TensorLike) -> Tensor:
    """erf(x) = 2/√π ∫₀ˣ e^(-t²) dt, elementwise (as ``torch.erf``, ``keras.ops.erf``).

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.

    Returns:
        A new tensor.

    >>> cr.erf(cr.tensor([0.0, 1.0])).numpy().round(4)
    array([0.    , 0.8427], dtype=float32)
    """
    x = as_tensor(x)
    data = _special.erf(x.data)
    if x.dtype.kind == "f":
        data = data.astype(x.dtype, copy=False)
    return record(ERF, data, (x,))


def d_erf(g: Tensor, out: Tensor, x: Tensor) -> TensorGrads:
    return g * (exp(-(x * x)) * _TWO_OVER_SQRT_PI)


def d_erf_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                 x: np.ndarray) -> ArrayGrads:
    return g * (np.exp(-(x * x)) * x.dtype.type(_TWO_OVER_SQRT_PI))


ERF = declare(erf, forward="erf(x)", derivative="2/√π·e^(-x²)", elementwise=True,
              vjp=d_erf, array_vjp=d_erf_arrays)
