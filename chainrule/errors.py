"""Errors that teach: each names the op, shows the shapes, and says what would fit."""
from __future__ import annotations

from typing import Any, Sequence

__all__ = ["ShapeError", "broadcast_error", "matmul_error", "creation_error"]


class ShapeError(ValueError):
    """Shapes that an op cannot combine. A ValueError, like NumPy's."""


def _fmt(shape: Sequence[int | None]) -> str:
    return str(tuple(shape))


def broadcast_error(op: str, a_shape: Sequence[int], b_shape: Sequence[int]) -> ShapeError:
    """Explain why two shapes do not broadcast, naming the first clash.

    Args:
        op: the name of the op that tried to broadcast, for the message.
        a_shape: the shape of the first operand.
        b_shape: the shape of the second operand.

    Returns:
        A ``ShapeError`` (to raise) that names the first clashing dimension.

    Example:

    >>> print(broadcast_error("add", (2, 3), (4,)))  # doctest: +ELLIPSIS
    add: shapes (2, 3) and (4,) cannot be broadcast together: dimension -1 is 3 ...
    """
    a, b = tuple(a_shape), tuple(b_shape)
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    clash = next((i for i in range(n - 1, -1, -1)
                  if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1), None)
    where = ""
    if clash is not None:
        where = (f": dimension {clash - n} is {pa[clash]} in the first and "
                 f"{pb[clash]} in the second")
    return ShapeError(
        f"{op}: shapes {_fmt(a)} and {_fmt(b)} cannot be broadcast together{where}. "
        f"Aligned from the right, each pair of dimensions must be equal or one of "
        f"them 1; reshape or expand_dims one operand so they line up.")


def matmul_error(a_shape: Sequence[int], b_shape: Sequence[int]) -> ShapeError:
    """Explain a matmul shape mismatch and suggest a transpose when one fits.

    Args:
        a_shape: the shape of the left operand.
        b_shape: the shape of the right operand.

    Returns:
        A ``ShapeError`` (to raise) whose message suggests ``W.T`` or ``x.T``
        where a transpose would make the shapes fit.

    Example:

    >>> print(matmul_error((2, 3), (2, 3)))  # doctest: +ELLIPSIS
    matmul: shapes (2, 3) @ (2, 3) do not fit: ... Did you mean x @ W.T (W.T has shape (3, 2)), ...?
    """
    a, b = tuple(a_shape), tuple(b_shape)
    k_a = a[-1]
    k_b = b[-2] if len(b) >= 2 else b[0]
    msg = (f"matmul: shapes {_fmt(a)} @ {_fmt(b)} do not fit: the last dimension "
           f"of the left operand ({k_a}) must equal the "
           f"{'second-to-last' if len(b) >= 2 else 'only'} dimension of the right "
           f"operand ({k_b}).")
    hints = []
    if len(b) >= 2 and b[-1] == k_a:
        bt = b[:-2] + (b[-1], b[-2])
        hints.append(f"x @ W.T (W.T has shape {_fmt(bt)})")
    if len(a) >= 2 and a[-2] == k_b:
        at = a[:-2] + (a[-1], a[-2])
        hints.append(f"x.T @ W (x.T has shape {_fmt(at)})")
    if hints:
        msg += " Did you mean " + ", or ".join(hints) + "?"
    return ShapeError(msg)


def creation_error(data: Any, why: str) -> TypeError:
    """Explain why ``data`` cannot become a tensor.

    Args:
        data: the object that was passed to the tensor constructor.
        why: what was wrong with it, in a few words.

    Returns:
        A ``TypeError`` (to raise) saying what a tensor can be made from.
    """
    kind = type(data).__name__
    return TypeError(
        f"cannot make a tensor from this {kind}: {why}. A tensor holds numbers in "
        f"a regular grid: pass a number, a nested list whose rows all have the "
        f"same length, or a numeric NumPy array.")
