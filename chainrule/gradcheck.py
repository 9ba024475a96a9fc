"""Check analytic gradients against finite differences, in float64.

``cr.gradcheck(f, *inputs)`` is for users too: whenever you write a new op or
a custom function, check it. For each floating-point input it compares the
gradient that chainrule computes with central differences

    (F(x + eps·e_i) - F(x - eps·e_i)) / (2·eps)

where F(x) = Σ f(x)·v for a fixed random v (so a function with many outputs
needs one pass, and any wrong entry of the Jacobian still shows).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .autodiff import gradients
from .graph import differentiation_scope, no_grad
from .tensor import Tensor
from .typing import TensorLike

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def gradcheck(f: Callable[..., Tensor], *inputs: TensorLike, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Raise :class:`GradcheckError` with the worst entry if gradients disagree.

    >>> cr.gradcheck(lambda x: (x.tanh() ** 2).sum(), cr.randn(3, 4))
    True

    ``inputs`` may be tensors, NumPy arrays or numbers; floating ones are
    checked (in float64), others are passed through unchanged.

    Args:
        f: the function to check; takes the inputs, returns a Tensor.
        *inputs: its arguments (tensors, arrays or numbers).
        eps: the finite-difference step.
        atol: the absolute tolerance of ``|analytic - numeric|``.
        rtol: the tolerance relative to ``|numeric|``.
        seed: seeds the random vector ``v`` that ``f``'s output is projected on.

    Returns:
        True when every entry agrees (otherwise it raises ``GradcheckError``).
    """
    args: list[Any] = []          # float64 Tensors where checked, the input as given elsewhere
    checked: list[int] = []
    for i, x in enumerate(inputs):
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        if data.dtype.kind == "f":
            # C order, so the flat view that _numeric_gradient nudges is a
            # view (a transposed input would otherwise be nudged in a copy).
            args.append(Tensor(np.array(data, dtype=np.float64, order="C"), requires_grad=True))
            checked.append(i)
        else:
            args.append(x)
    if not checked:
        raise ValueError("gradcheck: no floating-point input to check")

    # Inside a differentiation scope, so a gradient computed within f (to
    # check a second derivative) keeps its graph.
    out = differentiation_scope(f)(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: f must return a Tensor, got {type(out).__name__}")
    if out.dtype != np.float64:
        raise GradcheckError(f"gradcheck: f returned {out.dtype} from float64 inputs; "
                             f"an op is casting down, which spoils the check")
    v = np.random.default_rng(seed).standard_normal(out.shape)
    analytic = gradients(out, [args[i] for i in checked], [v], create_graph=False)

    worst = None
    for k, i in enumerate(checked):
        x = args[i]
        g = analytic[k]
        a = np.zeros(x.shape) if g is None else g.data
        if a.shape != x.shape:
            raise GradcheckError(f"gradcheck: the gradient of input {i} has shape {a.shape}, "
                                 f"but the input has shape {x.shape}")
        numeric = _numeric_gradient(f, args, i, v, eps)
        err = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
        if err.size and np.nanmax(np.where(np.isnan(err), np.inf, err)) > 0:
            j = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
            if worst is None or err[j] > worst[0]:
                worst = (err[j], i, j, a[j], numeric[j])
    if worst is not None:
        _, i, j, a, n = worst
        raise GradcheckError(
            f"gradcheck: gradients differ for input {i} at index {tuple(int(t) for t in j)}: "
            f"analytic {a:.10g} vs numerical {n:.10g} (atol={atol}, rtol={rtol})")
    return True


def _numeric_gradient(f, args, i, v, eps):
    x = args[i]
    flat = x.data.reshape(-1)     # a view: nudging it nudges x
    grad = np.zeros(flat.size)
    with no_grad():
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = np.sum(f(*args).data * v)
            flat[j] = orig - eps
            minus = np.sum(f(*args).data * v)
            flat[j] = orig
            grad[j] = (plus - minus) / (2 * eps)
    return grad.reshape(x.shape)
