"""Special functions: erf (the Gaussian error function, behind exact GELU).

erf(x) = 2/√π ∫₀ˣ e^(-t²) dt; its derivative is 2/√π · e^(-x²). The forward
is SciPy's ``scipy.special.erf`` (accurate to the last bit in float64).
"""
import math

import numpy as np
from scipy import special as _special

from ..rules import declare
from ..tensor import as_tensor, record
from .elementwise import exp

__all__ = ["erf"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def erf(x):
    """erf(x) = 2/√π ∫₀ˣ e^(-t²) dt, elementwise (as ``torch.erf``, ``keras.ops.erf``).

    >>> cr.erf(cr.tensor([0.0, 1.0])).numpy().round(4)
    array([0.    , 0.8427], dtype=float32)
    """
    x = as_tensor(x)
    data = _special.erf(x.data)
    if x.dtype.kind == "f":
        data = data.astype(x.dtype, copy=False)
    return record(ERF, data, (x,))


def d_erf(g, out, x):
    return g * (exp(-(x * x)) * _TWO_OVER_SQRT_PI)


def d_erf_arrays(needs, g, out, x):
    return g * (np.exp(-(x * x)) * x.dtype.type(_TWO_OVER_SQRT_PI))


ERF = declare(erf, forward="erf(x)", derivative="2/√π·e^(-x²)", elementwise=True,
              vjp=d_erf, array_vjp=d_erf_arrays)
