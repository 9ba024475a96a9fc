"""Layer normalization as one fused op.

    x̂ = (x - μ) / √(σ² + ε),   y = γ·x̂ + β

with μ and σ² (biased) taken over ``axis`` for each remaining index, as
Keras 3 ``keras/src/ops/nn.py`` ``_layer_normalization`` computes it. The
backward, derived by hand (N = number of entries normalized together,
ĝ = g·γ):

    dx = (1/√(σ² + ε)) · (ĝ - mean(ĝ) - x̂ · mean(ĝ·x̂))
    dγ = Σ g·x̂        dβ = Σ g      (over the axes γ, β broadcast along)

The array vjp reuses x̂ and 1/√(σ²+ε) from the forward; the differentiable
vjp writes the same formula with chainrule ops (recomputing x̂ from x, so the
gradient itself can be differentiated).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..rules import PER_CALL, declare
from ..tensor import Tensor, as_tensor, record
from ..typing import Axis, TensorLike
from .elementwise import sqrt
from .reduce import mean
from .shaping import normalize_axes

__all__ = ["layer_norm"]


def layer_norm(x: TensorLike, gamma: TensorLike | None = None, beta: TensorLike | None = None,
               axis: Axis = -1, epsilon: float = 1e-3) -> Tensor:
    """(x - mean) / sqrt(var + epsilon) · gamma + beta, the statistics taken
    over ``axis`` (an int or a tuple). ``gamma`` and ``beta`` (optional)
    broadcast against ``x``: shape ``(D,)`` for ``axis=-1``. ``epsilon``
    defaults to Keras' LayerNormalization's 1e-3.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        gamma: the scale, of the normalized axes' shape (None: 1).
        beta: the offset, of the normalized axes' shape (None: 0).
        axis: the axis or axes normalized over.
        epsilon: added to the variance before the square root.

    Returns:
        A new tensor of ``x``'s shape.

    >>> y = cr.layer_norm(cr.randn(4, 8), cr.ones(8), cr.zeros(8))
    >>> y.shape
    (4, 8)
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "layer_norm")
    params = []
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p is not None:
            p = as_tensor(p)
            try:
                if np.broadcast_shapes(p.shape, x.shape) != x.shape:
                    raise ValueError
            except ValueError:
                raise ShapeError(f"layer_norm: {name} of shape {p.shape} does not broadcast "
                                 f"against the input's shape {x.shape}; for axis={axis} give "
                                 f"shape {tuple(x.shape[a] for a in axes)}") from None
        params.append(p)
    gamma, beta = params
    xd = x.data
    mu = xd.mean(axis=axes, keepdims=True)
    centered = xd - mu
    var = np.mean(centered * centered, axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(var + np.asarray(epsilon, var.dtype))
    x_hat = centered * inv_std
    data = x_hat
    if gamma is not None:
        data = data * gamma.data
    if beta is not None:
        data = data + beta.data
    inputs = tuple(t for t in (x, gamma, beta) if t is not None)
    has_gamma, has_beta = gamma is not None, beta is not None

    def d_layer_norm(g, out, x, *params):
        gamma = params[0] if has_gamma else None
        centered = x - mean(x, axis=axes, keepdims=True)
        inv_std = 1 / sqrt(mean(centered * centered, axis=axes, keepdims=True) + epsilon)
        x_hat = centered * inv_std
        g_hat = g * gamma if has_gamma else g
        dx = inv_std * (g_hat - mean(g_hat, axis=axes, keepdims=True)
                        - x_hat * mean(g_hat * x_hat, axis=axes, keepdims=True))
        grads = [dx]
        if has_gamma:
            grads.append(g * x_hat)          # the traversal sums it to gamma's shape
        if has_beta:
            grads.append(g)
        return tuple(grads)

    def d_layer_norm_arrays(needs, g, out, x, *params):
        gamma = params[0] if has_gamma else None
        grads = [None] * len(params)
        if needs[0]:
            g_hat = g * gamma if has_gamma else g
            dx = g_hat - g_hat.mean(axis=axes, keepdims=True)
            dx -= x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True)
            dx *= inv_std
        else:
            dx = None
        if has_gamma and needs[1]:
            grads[0] = g * x_hat
        if has_beta and needs[-1]:
            grads[-1] = g
        return (dx, *grads)
    return record(LAYER_NORM, data, inputs, d_layer_norm, d_layer_norm_arrays)


LAYER_NORM = declare(
    layer_norm, forward="γ·(x - μ)/√(σ² + ε) + β", inputs="x gamma beta",
    derivative=("(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂))/√(σ² + ε), ĝ = g·γ", "Σ g·x̂", "Σ g"),
    vjp=PER_CALL, array_vjp=PER_CALL)
