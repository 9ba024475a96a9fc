"""Scaled dot-product attention as one fused op.

    S = scale · Q Kᵀ  (+ -10⁹ where the mask is False),   P = softmax(S),   O = P V

``q``: (..., Lq, d), ``k``: (..., Lk, d), ``v``: (..., Lk, dv), the leading
axes broadcasting (PyTorch's ``scaled_dot_product_attention`` layout; heads
are a leading axis). ``scale`` defaults to 1/√d. The backward, derived by
hand:

    dV = Pᵀ g          dP = g Vᵀ          dS = P ⊙ (dP - Σⱼ dP ⊙ P)
    dQ = scale · dS K  dK = scale · dSᵀ Q

The array vjp reuses P from the forward; the differentiable vjp writes the
same formulas with chainrule ops (P recomputed from q and k), so the
gradient can be differentiated again.

A masked-out score gets -10⁹ added, as Keras 3's ``Softmax`` layer does
under a mask (``keras/src/layers/activations/softmax.py``): its weight is 0,
and a row with every key masked out attends uniformly (where PyTorch's -inf
would give NaN).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..rules import PER_CALL, declare
from ..tensor import Tensor, as_tensor, record
from ..typing import TensorLike
from .matmul import matmul
from .nn import softmax
from .reduce import sum as reduce_sum
from .shaping import swapaxes

__all__ = ["scaled_dot_product_attention"]

_MASKED = -1e9      # Keras' _large_negative_number for float32/float64


def _mask_bias(mask, scores_shape, dtype):
    """The additive bias of a boolean mask (True = attend), checked."""
    mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if mask.dtype != bool:
        raise TypeError(f"scaled_dot_product_attention: mask must be boolean (True = "
                        f"attend), got dtype {mask.dtype}")
    try:
        np.broadcast_shapes(mask.shape, scores_shape)
        if len(mask.shape) > len(scores_shape):
            raise ValueError
    except ValueError:
        raise ShapeError(f"scaled_dot_product_attention: a mask of shape {mask.shape} does "
                         f"not broadcast to the attention scores' shape {scores_shape} "
                         f"(..., query length, key length)") from None
    return np.where(mask, 0, _MASKED).astype(dtype)


def scaled_dot_product_attention(q: TensorLike, k: TensorLike, v: TensorLike,
                                 mask: TensorLike | None = None,
                                 scale: float | None = None) -> Tensor:
    """softmax(scale · q kᵀ + mask) v, one op (see the module docstring).

    Args:
        q: the queries, (..., Tq, d).
        k: the keys, (..., Tk, d).
        v: the values, (..., Tk, dv).
        mask: a boolean mask broadcastable to (..., Tq, Tk): True where a query may attend
            (a constant).
        scale: the factor on the scores (default 1/√d).

    Returns:
        The attended values, (..., Tq, dv).

    >>> q = cr.randn(2, 4, 5, 8)                 # (batch, heads, length, depth)
    >>> cr.scaled_dot_product_attention(q, q, q).shape
    (2, 4, 5, 8)
    """
    q, k, v = as_tensor(q), as_tensor(k), as_tensor(v)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ShapeError(f"scaled_dot_product_attention: q, k and v need at least 2 axes "
                         f"(length, depth), got shapes {q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"scaled_dot_product_attention: the query depth {q.shape[-1]} "
                         f"(q shape {q.shape}) must equal the key depth {k.shape[-1]} "
                         f"(k shape {k.shape})")
    if k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"scaled_dot_product_attention: keys and values must have the same "
                         f"length, got {k.shape[-2]} (k shape {k.shape}) and {v.shape[-2]} "
                         f"(v shape {v.shape})")
    if scale is None:
        scale = 1 / math.sqrt(q.shape[-1])
    scores = np.matmul(q.data, np.swapaxes(k.data, -1, -2))
    scores *= scores.dtype.type(scale)
    bias = None
    if mask is not None:
        bias = _mask_bias(mask, scores.shape, scores.dtype)
        scores += bias
    scores -= scores.max(axis=-1, keepdims=True)          # no overflow in exp
    probs = np.exp(scores, out=scores)
    probs /= probs.sum(axis=-1, keepdims=True)
    data = np.matmul(probs, v.data)

    def d_scaled_dot_product_attention(g, out, q, k, v):
        s = matmul(q, swapaxes(k, -1, -2)) * scale
        if bias is not None:
            s = s + Tensor._wrap(bias)
        p = softmax(s, axis=-1)
        dv = matmul(swapaxes(p, -1, -2), g)
        dp = matmul(g, swapaxes(v, -1, -2))
        ds = p * (dp - reduce_sum(dp * p, axis=-1, keepdims=True))
        return matmul(ds, k) * scale, matmul(swapaxes(ds, -1, -2), q) * scale, dv

    def d_scaled_dot_product_attention_arrays(needs, g, out, q, k, v):
        dv = np.matmul(np.swapaxes(probs, -1, -2), g) if needs[2] else None
        dq = dk = None
        if needs[0] or needs[1]:
            ds = np.matmul(g, np.swapaxes(v, -1, -2))
            ds -= (ds * probs).sum(axis=-1, keepdims=True)
            ds *= probs
            ds *= ds.dtype.type(scale)
            dq = np.matmul(ds, k) if needs[0] else None
            dk = np.matmul(np.swapaxes(ds, -1, -2), q) if needs[1] else None
        return dq, dk, dv
    return record(SCALED_DOT_PRODUCT_ATTENTION, data, (q, k, v), d_scaled_dot_product_attention,
                  d_scaled_dot_product_attention_arrays)


SCALED_DOT_PRODUCT_ATTENTION = declare(
    scaled_dot_product_attention, forward="softmax(scale·q kᵀ + mask) v", inputs="q k v",
    derivative=("scale·dS k, with P = softmax(scale·q kᵀ + mask), dS = P⊙(g vᵀ - Σ P⊙g vᵀ)",
                "scale·dSᵀ q", "Pᵀ g"), vjp=PER_CALL, array_vjp=PER_CALL)
