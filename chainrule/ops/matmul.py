"""Matrix products: matmul (1-D, 2-D, batched), dot, linear and einsum.

For C = A @ B the chain rule gives dA = dC @ Bᵀ and dB = Aᵀ @ dC: the
gradient of a product is a product again.
"""
from __future__ import annotations

import string
from typing import Any, Sequence

import numpy as np

from ..errors import ShapeError, matmul_error
from ..rules import PER_CALL, ArrayGrads, TensorGrads, declare
from ..tensor import Tensor, as_tensor, record
from ..typing import TensorLike
from .shaping import broadcast_to, reshape, swapaxes

__all__ = ["matmul", "dot", "linear", "einsum"]


def matmul(a: TensorLike, b: TensorLike) -> Tensor:
    """Matrix product with NumPy's rules: vectors are promoted, batches broadcast.

    Args:
        a: the left operand (a tensor, array or nested lists).
        b: the right operand.

    Returns:
        A new tensor.
    """
    a, b = as_tensor(a), as_tensor(b)
    ad, bd = a.data, b.data
    if ad.ndim == 2 and bd.ndim == 2 and ad.shape[1] == bd.shape[0]:
        # The common case (two matrices) first, without the checks below.
        return record(MATMUL, np.matmul(ad, bd), (a, b))
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must have at least one dimension "
                         f"(got shapes {a.shape} and {b.shape}); use * to scale by a number")
    # Vectors become matrices for the product and lose that axis after, so the
    # derivative below only ever sees matrices.
    if a.ndim == 1 and b.ndim == 1:
        if a.shape != b.shape:
            raise matmul_error(a.shape, b.shape)
        return reshape(matmul(reshape(a, (1, -1)), reshape(b, (-1, 1))), ())
    if a.ndim == 1:
        if a.shape[0] != b.shape[-2]:
            raise matmul_error(a.shape, b.shape)
        out = matmul(reshape(a, (1, -1)), b)
        return reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        if a.shape[-1] != b.shape[0]:
            raise matmul_error(a.shape, b.shape)
        out = matmul(a, reshape(b, (-1, 1)))
        return reshape(out, out.shape[:-1])
    if a.shape[-1] != b.shape[-2]:
        raise matmul_error(a.shape, b.shape)
    try:
        data = np.matmul(a.data, b.data)
    except ValueError:
        raise ShapeError(f"matmul: the batch dimensions of {a.shape} and {b.shape} "
                         f"(all but the last two) cannot be broadcast together") from None
    return record(MATMUL, data, (a, b))


def d_matmul(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> TensorGrads:
    return (matmul(g, swapaxes(b, -1, -2)) if a.requires_grad else None,
            matmul(swapaxes(a, -1, -2), g) if b.requires_grad else None)


def d_matmul_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray,
                    a: np.ndarray, b: np.ndarray) -> ArrayGrads:
    # (the transposes are views; .T is the cheapest for matrices)
    return (np.matmul(g, b.T if b.ndim == 2 else np.swapaxes(b, -1, -2)) if needs[0] else None,
            np.matmul(a.T if a.ndim == 2 else np.swapaxes(a, -1, -2), g) if needs[1] else None)


MATMUL = declare(matmul, forward="a @ b", derivative=("g @ bᵀ", "aᵀ @ g"),
                 vjp=d_matmul, array_forward=np.matmul, array_vjp=d_matmul_arrays)


def dot(a: TensorLike, b: TensorLike) -> Tensor:
    """Dot product of vectors, else the matrix product (as ``matmul``).

    Args:
        a: the left operand (a tensor, array or nested lists).
        b: the right operand.

    Returns:
        A new tensor (0-d for two vectors).
    """
    return matmul(a, b)


# --------------------------------------------------------------------------
# linear: x @ W + b as one op
# --------------------------------------------------------------------------
def linear(x: TensorLike, kernel: TensorLike, bias: TensorLike | None = None) -> Tensor:
    """``x @ kernel + bias``, the affine map of a Dense layer, as one op.

    ``kernel`` has shape (in, out) as in Keras (PyTorch's ``F.linear`` takes
    its transpose); ``x`` has any rank >= 1 with ``in`` as its last axis (the
    product acts on that axis); ``bias`` has shape (out,) or is None.

    The leading axes of x and g are folded into one batch axis of rows for
    the derivative, so the kernel's and the bias's gradients sum over every row.

    One recorded node instead of matmul + add: a small network's step is
    mostly per-node bookkeeping.

    Args:
        x: the input, of any rank >= 1 with ``in`` as its last axis.
        kernel: the (in, out) weight matrix.
        bias: the (out,) bias, or None.

    Returns:
        A new tensor of shape ``x.shape[:-1] + (out,)``.

    >>> import chainrule as cr
    >>> linear(cr.ones(5, 3), cr.ones(3, 2), cr.zeros(2)).shape
    (5, 2)
    """
    x, kernel = as_tensor(x), as_tensor(kernel)
    xd, wd = x.data, kernel.data
    if wd.ndim != 2:
        raise ShapeError(f"linear: the kernel must be a matrix of shape (in, out), "
                         f"got shape {wd.shape}")
    if xd.ndim == 0 or xd.shape[-1] != wd.shape[0]:
        raise ShapeError(f"linear: the last axis of x (shape {xd.shape}) must equal the "
                         f"first axis of the kernel (shape {wd.shape}), its number "
                         f"of inputs")
    if bias is None:
        return record(LINEAR, np.matmul(xd, wd), (x, kernel))
    bias = as_tensor(bias)
    bd = bias.data
    if bd.shape != wd.shape[1:]:
        raise ShapeError(f"linear: the bias must have shape ({wd.shape[1]},), one "
                         f"value per output, got shape {bd.shape}")
    return record(LINEAR, _linear_arrays(xd, wd, bd), (x, kernel, bias))


def _linear_arrays(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    data = np.matmul(x, kernel)
    if bias is None:
        return data
    if bias.dtype is data.dtype:
        data += bias                # in place: the product is a fresh array
    else:
        data = data + bias          # (let NumPy promote, as x @ W + b would)
    return data


def d_linear(g: Tensor, out: Tensor, x: Tensor, kernel: Tensor,
             bias: Tensor | None = None) -> TensorGrads:
    n_in, n_out = kernel.shape
    xr, gr = reshape(x, (-1, n_in)), reshape(g, (-1, n_out))
    return (matmul(g, swapaxes(kernel, 0, 1)) if x.requires_grad else None,
            matmul(swapaxes(xr, 0, 1), gr) if kernel.requires_grad else None,
            gr.sum(axis=0) if bias is not None and bias.requires_grad else None)


def d_linear_arrays(needs: Sequence[bool], g: np.ndarray, out: np.ndarray, x: np.ndarray,
                    kernel: np.ndarray, bias: np.ndarray | None = None) -> ArrayGrads:
    xr, gr = _rows(x), _rows(g)
    return (np.matmul(g, kernel.T) if needs[0] else None,
            np.matmul(xr.T, gr) if needs[1] else None,
            np.add.reduce(gr, axis=0) if bias is not None and needs[2] else None)


LINEAR = declare(linear, forward="x @ W + b", inputs="x W b",
                 derivative=("g @ Wᵀ", "xᵀ @ g", "Σ g over the rows"),
                 vjp=d_linear, array_forward=_linear_arrays, array_vjp=d_linear_arrays)


def _rows(a: np.ndarray) -> np.ndarray:
    """``a`` as a matrix of rows: every axis but the last folded into one."""
    return a if a.ndim == 2 else a.reshape(-1, a.shape[-1])


# --------------------------------------------------------------------------
# einsum
# --------------------------------------------------------------------------
def _parse_einsum(subscripts, shapes):
    """Explicit subscripts with ``...`` spelled out as letters."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        ins, out = subscripts.split("->")
    else:
        ins, out = subscripts, None
    ins = ins.split(",")
    if len(ins) != len(shapes):
        raise ShapeError(f"einsum: '{subscripts}' names {len(ins)} operand(s) but "
                         f"{len(shapes)} were given")
    used = set("".join(ins) + (out or ""))
    free = [c for c in string.ascii_letters if c not in used]
    n_ell = 0
    for spec, shape in zip(ins, shapes):
        if "..." in spec:
            n_ell = max(n_ell, len(shape) - (len(spec) - 3))
    ell = "".join(free[:n_ell])
    specs = []
    for spec, shape in zip(ins, shapes):
        if "..." in spec:
            k = len(shape) - (len(spec) - 3)
            spec = spec.replace("...", ell[n_ell - k:] if k else "")
        specs.append(spec)
    if out is None:
        counts = {}
        for c in "".join(specs):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return specs, out


def einsum(subscripts: str, *operands: TensorLike) -> Tensor:
    """Einstein summation, as ``numpy.einsum``.

    The derivative for one operand is another einsum: the output's gradient
    contracted with the other operands, onto that operand's indices.

    Args:
        subscripts: NumPy's subscripts (``"ij,jk->ik"``; ``...`` allowed).
        *operands: the tensors.

    Returns:
        A new tensor.
    """
    tensors = [as_tensor(o) for o in operands]
    try:
        data = np.einsum(subscripts, *[o.data for o in tensors], optimize=len(tensors) > 2)
    except ValueError as e:
        shapes = ", ".join(str(o.shape) for o in tensors)
        raise ShapeError(f"einsum '{subscripts}' does not fit shapes {shapes}: {e}") from None
    specs, out_spec = _parse_einsum(subscripts, [o.shape for o in tensors])

    def d_einsum(g, out, *ops):
        grads = []
        for i, op in enumerate(ops):
            if not op.requires_grad:
                grads.append(None)
                continue
            others = [o for j, o in enumerate(ops) if j != i]
            other_specs = [s for j, s in enumerate(specs) if j != i]
            grads.append(_einsum_operand_grad(g, out_spec, others, other_specs, specs[i], op.shape))
        return tuple(grads)
    return record(EINSUM, np.asarray(data), tuple(tensors), d_einsum)


EINSUM = declare(einsum, forward="einsum(x)", inputs="x",
                 derivative="an einsum of g with the other operands, onto x's indices",
                 vjp=PER_CALL)


def _einsum_operand_grad(g: Tensor, out_spec: str, others: Sequence[Any],
                         other_specs: list[str], spec: str, shape: tuple[int, ...]) -> Tensor:
    available = set(out_spec + "".join(other_specs))
    # A letter repeated in this operand (a diagonal, as in 'ii->') is first
    # computed once and then put back on the diagonal with identity matrices.
    unique = "".join(dict.fromkeys(spec))
    target = "".join(c for c in unique if c in available)
    result = einsum(f"{','.join([out_spec] + other_specs)}->{target}", g, *others)
    # Letters summed over in this operand only: the gradient is constant
    # along them, so broadcast.
    sizes = dict(zip(spec, shape))
    if target != unique:
        result = reshape(result, [sizes[c] if c in target else 1 for c in unique])
        result = broadcast_to(result, [sizes[c] for c in unique])
    if unique != spec:
        fresh = [c for c in string.ascii_letters if c not in spec + out_spec + "".join(other_specs)]
        renamed, eyes, eye_specs = [], [], []
        seen = set()
        for c in spec:
            if c in seen:
                new = fresh.pop(0)
                renamed.append(new)
                eyes.append(np.eye(sizes[c], dtype=g.dtype))
                eye_specs.append(c + new)
            else:
                seen.add(c)
                renamed.append(c)
        result = einsum(f"{','.join([unique] + eye_specs)}->{''.join(renamed)}", result, *eyes)
    return result
