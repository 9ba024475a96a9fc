"""Convolution three ways: as the op ``cr.conv2d``, as a sparse matrix, and
through the Fourier transform.

All three compute the same 2-D cross-correlation (what deep-learning
libraries call convolution) of one image with one kernel:

    y[i, j] = Σ_{a, b} kernel[a, b] · image[i·s + a - top, j·s + b - left]

with zero padding ('valid': none; 'same': TensorFlow's rule, the odd extra
row/column at the bottom/right; an int: that many on every side).

>>> image = np.arange(1, 10).reshape(3, 3)
>>> kernel = np.array([[1, 2], [3, 4]])
>>> conv2d_matrix(kernel, image.shape) @ image.ravel()
array([37., 47., 67., 77.])
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import ShapeError
from ..ops.nn import _padding_amounts, _pair
from ..tensor import Tensor
from ..typing import TensorLike

if TYPE_CHECKING:
    import scipy.sparse

__all__ = ["conv2d_matrix", "fft_conv2d"]


def _as_2d(x: TensorLike, name: str, op: str) -> np.ndarray:
    data = np.asarray(x.data if isinstance(x, Tensor) else x)
    if data.ndim != 2:
        raise ShapeError(f"{op}: {name} must be 2-D (height, width), got shape {data.shape}; "
                         f"for channels use cr.conv2d")
    return data if data.dtype.kind == "f" else data.astype(np.float64)


def _geometry(input_shape: tuple[int, ...], kernel_shape: tuple[int, ...],
              stride: int | tuple[int, int], padding: str | int,
              op: str) -> tuple[tuple[int, int], tuple[int, int, int, int], tuple[int, int]]:
    """Padding (top, left) and output size (oh, ow)."""
    (h, w), (kh, kw) = input_shape, kernel_shape
    sh, sw = _pair(stride, "stride")
    if sh < 1 or sw < 1:
        raise ValueError(f"{op}: stride must be >= 1, got {stride}")
    top, bottom = _padding_amounts(padding, h, kh, sh, op)
    left, right = _padding_amounts(padding, w, kw, sw, op)
    hp, wp = h + top + bottom, w + left + right
    if hp < kh or wp < kw:
        raise ShapeError(f"{op}: a {kh}x{kw} kernel does not fit a {h}x{w} image with padding "
                         f"{padding!r}; use padding='same' or a smaller kernel")
    return (sh, sw), (top, bottom, left, right), ((hp - kh) // sh + 1, (wp - kw) // sw + 1)


def conv2d_matrix(kernel: TensorLike, input_shape: Sequence[int], stride: int | tuple[int, int] = 1,
                  padding: str | int = "valid") -> scipy.sparse.csr_matrix:
    """The (oh·ow, H·W) sparse matrix M with M @ image.ravel() = conv2d(image).ravel().

    Row i·ow + j holds the kernel's weights at the columns of the pixels that
    output (i, j) reads; pixels in the zero padding have no column. For
    stride 1 and no padding it is a doubly block Toeplitz matrix: each block
    row is one image row's Toeplitz band, shifted one block per output row.
    Returns a ``scipy.sparse.csr_matrix`` with kh·kw non-zeros per row (fewer
    at a padded border).

    Args:
        kernel: the 2-D kernel (kh, kw).
        input_shape: the image's ``(H, W)``.
        stride: one int or ``(sh, sw)``.
        padding: ``"valid"``, ``"same"`` or a non-negative int (zeros on each side).

    Returns:
        The (oh·ow, H·W) ``scipy.sparse.csr_matrix``.

    Example:

    >>> M = conv2d_matrix(np.array([[1., -1.]]), (2, 3))
    >>> M.shape, M.toarray()[0]
    ((4, 6), array([ 1., -1.,  0.,  0.,  0.,  0.]))
    """
    k = _as_2d(kernel, "kernel", "conv2d_matrix")
    input_shape = tuple(int(v) for v in input_shape)
    if len(input_shape) != 2:
        raise ShapeError(f"conv2d_matrix: input_shape must be (H, W), got {input_shape}")
    (sh, sw), (top, _, left, _), (oh, ow) = _geometry(input_shape, k.shape, stride, padding,
                                                     "conv2d_matrix")
    h, w = input_shape
    out_i, out_j = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    rows, cols, vals = [], [], []
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            src_i, src_j = out_i * sh + a - top, out_j * sw + b - left
            inside = (src_i >= 0) & (src_i < h) & (src_j >= 0) & (src_j < w)
            rows.append((out_i * ow + out_j)[inside])
            cols.append((src_i * w + src_j)[inside])
            vals.append(np.full(int(inside.sum()), k[a, b]))
    import scipy.sparse   # here, not at the top: it costs a quarter second at import
    return scipy.sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(oh * ow, h * w), dtype=k.dtype)


def fft_conv2d(image: TensorLike, kernel: TensorLike, padding: str | int = "valid",
               stride: int | tuple[int, int] = 1) -> np.ndarray | Tensor:
    """conv2d of one 2-D image by the convolution theorem: a product of Fourier
    transforms is a convolution, so

        full = ifft2(fft2(image) · fft2(flipped kernel))      (zero-padded sizes)

    and the cross-correlation is the part of ``full`` where the kernel lies
    inside the (padded) image. Cheaper than sliding for large kernels. Returns
    a NumPy array, or a Tensor (not differentiable; use ``cr.conv2d`` to
    train) when ``image`` or ``kernel`` is one.

    Args:
        image: the 2-D image (H, W).
        kernel: the 2-D kernel (kh, kw).
        padding: ``"valid"``, ``"same"`` or a non-negative int (zeros on each side).
        stride: one int or ``(sh, sw)``.

    Returns:
        The cross-correlation (oh, ow), a Tensor when an input is one.

    Example:

    >>> fft_conv2d(np.arange(6.).reshape(2, 3), np.array([[1., -1.]])).round(6)
    array([[-1., -1.],
           [-1., -1.]])
    """
    img = _as_2d(image, "image", "fft_conv2d")
    k = _as_2d(kernel, "kernel", "fft_conv2d")
    # The float operand sets the dtype (integers were made float64 above).
    given = [np.asarray(getattr(v, "data", v)).dtype for v in (image, kernel)]
    floats = [d for d in given if d.kind == "f"]
    dtype = np.result_type(*floats) if floats else np.float64
    (sh, sw), (top, bottom, left, right), (oh, ow) = _geometry(img.shape, k.shape, stride,
                                                               padding, "fft_conv2d")
    img = np.pad(img, ((top, bottom), (left, right)))
    kh, kw = k.shape
    size = (img.shape[0] + kh - 1, img.shape[1] + kw - 1)   # no wrap-around
    full = np.fft.irfft2(np.fft.rfft2(img, size) * np.fft.rfft2(k[::-1, ::-1], size), size)
    valid = full[kh - 1:img.shape[0], kw - 1:img.shape[1]]
    out = valid[::sh, ::sw][:oh, :ow].astype(dtype)
    return Tensor(out) if isinstance(image, Tensor) or isinstance(kernel, Tensor) else out
