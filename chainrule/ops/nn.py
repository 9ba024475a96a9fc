"""Neural-network ops: softmax, convolution, pooling, dropout, one-hot.

Convolution and pooling rest on one pair of ops. ``extract_patches`` cuts an
image into the (kh, kw) windows a kernel sees ("im2col"); its derivative,
``fold_patches``, adds each window's gradient back onto the image, and the
derivative of that is ``extract_patches`` again. With the patches in hand a
convolution is one matrix product and max pooling a max over each window.

``conv2d`` and ``max_pool2d`` are each one fused op for speed (the training
hot path of a convnet): the forward and the array vjp run on NumPy arrays
directly (the convolution and both of its gradients are single GEMMs). Their
differentiable vjps are written with the ops above (``extract_patches``,
``matmul``, ``fold_patches``), so gradients of any order still work.
``softmax_cross_entropy`` and ``softmax_cross_entropy_sum`` are the fused
losses of classification (the hot path of every classifier's step).

NumPy note that shapes the code below: an elementwise ufunc over a strided
view whose contiguous runs are short (channels-last windows: runs of C
floats) pays a per-run overhead and can be 10x slower than on contiguous
arrays, while copies between such views are fast. So windows are copied
into contiguous buffers first and the arithmetic runs there.
"""
from __future__ import annotations

import numbers

from typing import Sequence

import numpy as np
import numpy.typing as npt

from ..errors import ShapeError
from ..random import SeedLike, default_rng
from ..rules import PER_CALL, declare
from ..scratch import scratch
from ..tensor import Tensor, as_tensor, record
from ..typing import DTypeLike, TensorLike
from .elementwise import exp, multiply
from .matmul import matmul
from .reduce import mean
from .reduce import sum as reduce_sum
from .index import getitem, scatter_add
from .shaping import normalize_axes, pad, reshape, swapaxes, transpose

__all__ = [
    "avg_pool2d",
    "conv2d",
    "conv2d_transpose",
    "depthwise_conv2d",
    "dilate_kernel",
    "dropout",
    "extract_patches",
    "fold_patches",
    "log_softmax",
    "max_pool2d",
    "one_hot",
    "softmax",
    "softmax_cross_entropy",
    "softmax_cross_entropy_sum",
]


# --------------------------------------------------------------------------
# Softmax
# --------------------------------------------------------------------------
def softmax(x: TensorLike, axis: int = -1) -> Tensor:
    """e^x / Σ e^x along ``axis``, shifted by the max so it never overflows.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis the probabilities sum to 1 along.

    Returns:
        A new tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    (ax,) = normalize_axes(axis, x.ndim, "softmax")
    e = np.exp(x.data - np.max(x.data, axis=ax, keepdims=True))
    data = e / np.sum(e, axis=ax, keepdims=True)

    def d_softmax(g, out, x):
        return out * (g - reduce_sum(g * out, ax, keepdims=True))
    return record(SOFTMAX, data, (x,), d_softmax)


SOFTMAX = declare(softmax, forward="softmax(x)", inputs="x", derivative="out·(g - Σ g·out)",
                  vjp=PER_CALL)


def log_softmax(x: TensorLike, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis``.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        axis: the axis normalized along.

    Returns:
        A new tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    (ax,) = normalize_axes(axis, x.ndim, "log_softmax")
    shifted = x.data - np.max(x.data, axis=ax, keepdims=True)
    data = shifted - np.log(np.sum(np.exp(shifted), axis=ax, keepdims=True))

    def d_log_softmax(g, out, x):
        return g - exp(out) * reduce_sum(g, ax, keepdims=True)
    return record(LOG_SOFTMAX, data, (x,), d_log_softmax)


LOG_SOFTMAX = declare(log_softmax, forward="log_softmax(x)", inputs="x",
                      derivative="g - e^out·Σ g", vjp=PER_CALL)


# --------------------------------------------------------------------------
# Softmax cross-entropy, fused
# --------------------------------------------------------------------------
def _shifted_exps(xd):
    shifted = xd - np.max(xd, axis=-1, keepdims=True)        # no overflow in exp
    exps = np.exp(shifted)
    return shifted, exps, np.sum(exps, axis=-1, keepdims=True)


def softmax_cross_entropy(logits: TensorLike, labels: TensorLike) -> Tensor:
    """-log softmax(x)[label] along the last axis, one value per sample:
    logsumexp(x) - x[label], without ever forming the softmax.

    ``labels``: integer class indices of shape ``logits.shape[:-1]``, already
    checked (``losses.softmax_cross_entropy`` checks them for users).

    Args:
        logits: unnormalized scores, (..., classes).
        labels: integer class labels, of the logits' shape without the last axis (a
            constant).

    Returns:
        The per-sample losses, a tensor of the labels' shape.
    """
    x = as_tensor(logits)
    labels = np.asarray(labels)
    classes = x.shape[-1]
    rows = np.arange(labels.size)
    flat_labels = labels.reshape(-1)
    shifted, exps, sums = _shifted_exps(x.data)
    picked = shifted.reshape(-1, classes)[rows, flat_labels].reshape(labels.shape)
    data = np.log(sums[..., 0]) - picked

    def d_softmax_cross_entropy(g, out, x):
        one_hot = np.zeros(x.shape, dtype=x.dtype)
        one_hot.reshape(-1, classes)[rows, flat_labels] = 1
        return reshape(g, g.shape + (1,)) * (softmax(x, axis=-1) - Tensor._wrap(one_hot))

    def d_softmax_cross_entropy_arrays(needs, g, out, x):
        grad = exps / sums                     # the forward's exponentials, reused
        grad.reshape(-1, classes)[rows, flat_labels] -= 1
        grad *= g[..., None]
        return grad
    return record(SOFTMAX_CROSS_ENTROPY, data, (x,), d_softmax_cross_entropy,
                  d_softmax_cross_entropy_arrays)


SOFTMAX_CROSS_ENTROPY = declare(
    softmax_cross_entropy, forward="-log softmax(x)[label]", inputs="x",
    derivative="g·(softmax(x) - onehot(label))", vjp=PER_CALL, array_vjp=PER_CALL)


def softmax_cross_entropy_sum(logits: TensorLike, targets: npt.ArrayLike, scale: float = 1.0,
                              return_log_probs: bool = False) -> Tensor | tuple[Tensor, np.ndarray]:
    """The scalar ``-scale · Σᵢⱼ yᵢⱼ · log softmax(xᵢ)ⱼ`` for dense targets y
    (one-hot, soft or sample-weighted rows; an array, not differentiated).

    With ``return_log_probs`` also the log-probabilities as an array (callers
    that report a clipped loss reuse them). One op instead of log_softmax, a
    product, a sum and two scalings.

    Args:
        logits: unnormalized scores, (batch, classes).
        targets: dense targets y of the logits' shape (an array, not differentiated).
        scale: the factor on the sum.
        return_log_probs: also return the log-probabilities, as an array.

    Returns:
        The scalar loss, or ``(loss, log_probs)`` with ``return_log_probs``.
    """
    x = as_tensor(logits)
    y = np.asarray(targets)
    shifted, exps, sums = _shifted_exps(x.data)
    log_p = shifted
    log_p -= np.log(sums)
    data = np.asarray(-scale * np.sum(y * log_p), dtype=x.dtype)

    def d_softmax_cross_entropy_sum(g, out, x):
        row_sums = Tensor._wrap(np.sum(y, axis=-1, keepdims=True).astype(x.dtype))
        target = Tensor._wrap(np.asarray(y, dtype=x.dtype))
        return g * scale * (softmax(x, axis=-1) * row_sums - target)

    def d_softmax_cross_entropy_sum_arrays(needs, g, out, x):
        grad = exps / sums                     # in place on one array from here
        grad *= np.sum(y, axis=-1, keepdims=True)
        grad -= y
        grad *= g * scale
        return grad
    loss = record(SOFTMAX_CROSS_ENTROPY_SUM, data, (x,), d_softmax_cross_entropy_sum,
                  d_softmax_cross_entropy_sum_arrays)
    return (loss, log_p) if return_log_probs else loss


SOFTMAX_CROSS_ENTROPY_SUM = declare(
    softmax_cross_entropy_sum, forward="-scale·Σ y·log softmax(x)", inputs="x",
    derivative="g·scale·(softmax(x)·Σⱼ y - y)", vjp=PER_CALL, array_vjp=PER_CALL)


# --------------------------------------------------------------------------
# Patches: the windows a kernel slides over
# --------------------------------------------------------------------------
def _pair(v, name):
    if isinstance(v, numbers.Integral):
        return int(v), int(v)
    v = tuple(int(i) for i in v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v}")
    return v


def _out_size(size, k, s):
    return (size - k) // s + 1


def _check_fits(shape, kh, kw):
    h, w = shape[1], shape[2]
    if h < kh or w < kw:
        raise ShapeError(f"a {kh}x{kw} window does not fit an image of {h}x{w} "
                         f"(input shape {shape}); use padding='same' or a smaller kernel")


def _window(image, i, j, oh, ow, sh, sw):
    """What kernel offset (i, j) sees in each of the oh x ow windows of an
    (N, H, W, C) array: a strided view of shape (N, oh, ow, C)."""
    return image[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]


def _patches(image, kh, kw, sh, sw):
    """im2col on arrays: a new contiguous (N, oh, ow, kh, kw, C) array."""
    n, h, w, c = image.shape
    oh, ow = _out_size(h, kh, sh), _out_size(w, kw, sw)
    out = np.empty((n, oh, ow, kh, kw, c), image.dtype)
    if c >= _MANY_CHANNELS:
        # One copy of the transposed window view, pixel by pixel.
        _copy_pixels(out, _windows(image, kh, kw, sh, sw).transpose(0, 1, 2, 4, 5, 3))
    else:
        # One channel: that copy would move one float per step; kh*kw copies
        # of whole windows are several times faster.
        for i in range(kh):
            for j in range(kw):
                out[:, :, :, i, j, :] = _window(image, i, j, oh, ow, sh, sw)
    return out


_MANY_CHANNELS = 2


def _fold(patches, image_shape, sh, sw):
    """col2im on arrays: add each window of (N, oh, ow, kh, kw, C) back onto a
    zero image: kh*kw strided adds, one per kernel offset."""
    _, oh, ow, kh, kw, c = patches.shape
    image = np.zeros(image_shape, patches.dtype)
    part = scratch("fold", patches.shape[:3] + (c,), patches.dtype)
    for i in range(kh):
        for j in range(kw):
            _copy_pixels(part, patches[:, :, :, i, j, :])   # contiguous first (see the top)
            target = _window(image, i, j, oh, ow, sh, sw)
            target += part
    return image


def _copy_pixels(dst, src):
    """``np.copyto(dst, src)`` moving whole pixels (the C channel values) as
    one opaque item each, which is faster than runs of C floats."""
    c = src.shape[-1]
    if (c and src.dtype == dst.dtype and src.strides[-1] == src.itemsize
            and dst.strides[-1] == dst.itemsize):
        pixel = np.dtype((np.void, c * src.itemsize))
        np.copyto(dst.view(pixel)[..., 0], src.view(pixel)[..., 0])
    else:
        np.copyto(dst, src)


def _fold_taps(tap_patches, image_shape, sh, sw):
    """``_fold`` for patches laid out offset first: (kh, kw, N, oh, ow, C)."""
    kh, kw, _, oh, ow, _ = tap_patches.shape
    image = np.zeros(image_shape, tap_patches.dtype)
    for i in range(kh):
        for j in range(kw):
            target = _window(image, i, j, oh, ow, sh, sw)
            target += tap_patches[i, j]
    return image


def extract_patches(x: TensorLike, kernel_size: int | Sequence[int], stride: int | Sequence[int] = 1) -> Tensor:
    """Windows of an (N, H, W, C) tensor: shape (N, oh, ow, kh, kw, C).

    Args:
        x: the images, (N, H, W, C).
        kernel_size: an int or a (kh, kw) pair.
        stride: an int or a (sh, sw) pair.

    Returns:
        The windows, (N, oh, ow, kh, kw, C).
    """
    x = as_tensor(x)
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride, "stride")
    _check_fits(x.shape, kh, kw)
    data = _patches(x.data, kh, kw, sh, sw)

    def d_extract_patches(g, out, x):
        return fold_patches(g, x.shape, (sh, sw))
    return record(EXTRACT_PATCHES, data, (x,), d_extract_patches)


EXTRACT_PATCHES = declare(extract_patches, forward="patches(x)", inputs="x",
                          derivative="fold_patches(g): each window's gradient added back",
                          vjp=PER_CALL)


def fold_patches(patches: TensorLike, image_shape: Sequence[int], stride: int | Sequence[int] = 1) -> Tensor:
    """Add windows (N, oh, ow, kh, kw, C) back onto an image of ``image_shape``.

    The adjoint of extract_patches.

    Args:
        patches: windows, (N, oh, ow, kh, kw, C).
        image_shape: the (N, H, W, C) shape of the result.
        stride: an int or a (sh, sw) pair.

    Returns:
        A new tensor of ``image_shape``.
    """
    patches = as_tensor(patches)
    sh, sw = _pair(stride, "stride")
    kh, kw = patches.shape[3:5]
    data = _fold(patches.data, tuple(image_shape), sh, sw)

    def d_fold_patches(g, out, patches):
        return extract_patches(g, (kh, kw), (sh, sw))
    return record(FOLD_PATCHES, data, (patches,), d_fold_patches)


FOLD_PATCHES = declare(fold_patches, forward="fold(p)", inputs="p",
                       derivative="extract_patches(g)", vjp=PER_CALL)


def _padding_amounts(padding, size, k, s, op):
    """(before, after) padding of one spatial axis, TensorFlow's 'same' rule."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        return total // 2, total - total // 2      # the odd one goes after
    if isinstance(padding, numbers.Integral) and padding >= 0:
        return int(padding), int(padding)
    raise ValueError(f"{op}: padding must be 'valid', 'same' or a non-negative int, got {padding!r}")


def _pad_image(x: Tensor, kh: int, kw: int, sh: int, sw: int, padding: str, op: str,
               value: float = 0.0) -> Tensor:
    top, bottom = _padding_amounts(padding, x.shape[1], kh, sh, op)
    left, right = _padding_amounts(padding, x.shape[2], kw, sw, op)
    if top or bottom or left or right:
        x = pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), value=value)
    return x


# --------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------
def conv2d(x: TensorLike, w: TensorLike, b: TensorLike | None = None, stride: int | Sequence[int] = 1,
           padding: str = "valid", dilation: int | Sequence[int] = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as every framework computes it).

    ``x``: (N, H, W, C_in) channels-last; ``w``: (kh, kw, C_in/groups, C_out)
    as Keras; ``b``: (C_out,). ``padding``: 'valid', 'same' (TensorFlow's
    rule: the extra row/column goes at the bottom/right) or an int.
    ``dilation``: the kernel's taps spread ``dilation`` pixels apart (the
    kernel dilated with zeros, ``dilate_kernel``). ``groups``: the channels
    split into ``groups`` independent convolutions, output channel f seeing
    input group f // (C_out/groups) (Keras' and PyTorch's layout).

    It is a matrix product: patches (N·oh·ow, kh·kw·C_in) @ w (kh·kw·C_in, C_out).

    Args:
        x: the images, (N, H, W, C).
        w: the kernel, (kh, kw, C_in // groups, C_out).
        b: the bias, (C_out,), or None.
        stride: an int or a (sh, sw) pair.
        padding: ``"valid"`` or ``"same"``.
        dilation: an int or a (dh, dw) pair: the spacing between kernel taps.
        groups: the number of channel groups convolved separately.

    Returns:
        The feature maps, (N, oh, ow, C_out).

    >>> y = cr.conv2d(cr.randn(1, 28, 28, 1), cr.randn(3, 3, 1, 8), padding="same")
    >>> y.shape
    (1, 28, 28, 8)
    """
    x, w = as_tensor(x), as_tensor(w)
    if x.ndim != 4:
        raise ShapeError(f"conv2d: input must be 4-D (N, H, W, C) channels-last, got shape "
                         f"{x.shape}" + (f"; for a single image use x[None] (shape (1,) + {x.shape})"
                                         if x.ndim == 3 else ""))
    if w.ndim != 4:
        raise ShapeError(f"conv2d: kernel must be 4-D (kh, kw, C_in, C_out), got shape {w.shape}")
    groups = _check_groups(groups, x.shape[3], w.shape, "conv2d")
    kh, kw, cin, cout = w.shape
    cin *= groups
    if x.shape[3] != cin:
        hint = ""
        if x.shape[1] == cin:
            hint = (" The input looks channels-first (N, C, H, W): transpose it with "
                    "x.transpose((0, 2, 3, 1)).")
        raise ShapeError(f"conv2d: the input has {x.shape[3]} channels (shape {x.shape}) but "
                         f"the kernel expects C_in = {cin} (kernel shape {w.shape}); the last "
                         f"axis of the input must equal the third axis of the kernel.{hint}")
    sh, sw = _pair(stride, "stride")
    if b is not None:
        b = as_tensor(b)
        if b.shape != (cout,):
            raise ShapeError(f"conv2d: bias must have shape ({cout},) (one per output "
                             f"channel), got {b.shape}")
    if _pair(dilation, "dilation") != (1, 1):
        w = dilate_kernel(w, dilation)
        kh, kw = w.shape[:2]
    x = _pad_image(x, kh, kw, sh, sw, padding, "conv2d")
    _check_fits(x.shape, kh, kw)
    if groups != 1:
        return _grouped_conv2d(x, w, b, sh, sw, groups)
    return _conv2d_valid(x, w, b, sh, sw)


def _check_groups(groups, channels, kernel_shape, op):
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    cout = kernel_shape[-1]
    if channels % groups or cout % groups:
        raise ValueError(f"{op}: groups={groups} must divide both the input channels "
                         f"({channels}) and the output channels ({cout})")
    return int(groups)


def dilate_kernel(w: TensorLike, dilation: int | Sequence[int]) -> Tensor:
    """A (kh, kw, ...) kernel with ``dilation - 1`` zeros between its taps:
    shape (dh·(kh-1)+1, dw·(kw-1)+1, ...). A dilated convolution is the
    ordinary one with this kernel.

    Args:
        w: a (kh, kw, ...) kernel.
        dilation: an int or a (dh, dw) pair.

    Returns:
        The dilated kernel (differentiable).
    """
    w = as_tensor(w)
    dh, dw = _pair(dilation, "dilation")
    kh, kw = w.shape[:2]
    shape = (dh * (kh - 1) + 1, dw * (kw - 1) + 1) + w.shape[2:]
    return scatter_add(w, (slice(None, None, dh), slice(None, None, dw)), shape)


def _grouped_conv2d(x, w, b, sh, sw, groups):
    """``groups`` convolutions side by side as one batched matrix product:
    (G, M, kh·kw·C_in/G) @ (G, kh·kw·C_in/G, C_out/G), written with ops."""
    kh, kw, cg, cout = w.shape
    fg = cout // groups
    patches = extract_patches(x, (kh, kw), (sh, sw))           # (N, oh, ow, kh, kw, C)
    n, oh, ow = patches.shape[:3]
    m = n * oh * ow
    cols = transpose(reshape(patches, (m, kh, kw, groups, cg)), (3, 0, 1, 2, 4))
    cols = reshape(cols, (groups, m, kh * kw * cg))
    kernels = transpose(reshape(w, (kh, kw, cg, groups, fg)), (3, 0, 1, 2, 4))
    y = matmul(cols, reshape(kernels, (groups, kh * kw * cg, fg)))  # (G, M, C_out/G)
    y = reshape(transpose(y, (1, 0, 2)), (n, oh, ow, cout))
    return y if b is None else y + b


def depthwise_conv2d(x: TensorLike, w: TensorLike, b: TensorLike | None = None,
                     stride: int | Sequence[int] = 1, padding: str = "valid",
                     dilation: int | Sequence[int] = 1) -> Tensor:
    """Each input channel convolved with its own ``depth_multiplier`` filters:
    ``w`` (kh, kw, C_in, depth_multiplier) as Keras' DepthwiseConv2D, output
    channel c·depth_multiplier + m. It is conv2d with groups=C_in and the
    kernel read as (kh, kw, 1, C_in·depth_multiplier).

    Args:
        x: the images, (N, H, W, C).
        w: the kernel, (kh, kw, C, depth_multiplier).
        b: the bias, (C·depth_multiplier,), or None.
        stride: an int or a (sh, sw) pair.
        padding: ``"valid"`` or ``"same"``.
        dilation: an int or a (dh, dw) pair: the spacing between kernel taps.

    Returns:
        The feature maps, (N, oh, ow, C·depth_multiplier).
    """
    x, w = as_tensor(x), as_tensor(w)
    if w.ndim != 4:
        raise ShapeError(f"depthwise_conv2d: kernel must be 4-D (kh, kw, C_in, "
                         f"depth_multiplier), got shape {w.shape}")
    kh, kw, cin, mult = w.shape
    if x.ndim == 4 and x.shape[3] != cin:
        raise ShapeError(f"depthwise_conv2d: the input has {x.shape[3]} channels (shape "
                         f"{x.shape}) but the kernel expects {cin} (kernel shape {w.shape})")
    return conv2d(x, reshape(w, (kh, kw, 1, cin * mult)), b, stride, padding, dilation,
                  groups=cin)


def _transpose_crops(size, k, s, padding, output_padding):
    """(crop before, crop after) of a transposed convolution's full output,
    (size-1)·s + k long; a negative crop after means zeros appended. Keras 3's
    rule (``keras/src/backend/common/backend_utils.py``,
    ``_convert_conv_transpose_padding_args_from_keras_to_jax``)."""
    if padding == "valid":
        extra = max(k, s) - k if output_padding is None else output_padding
        return 0, -extra
    if padding != "same":
        raise ValueError(f"conv2d_transpose: padding must be 'valid' or 'same', "
                         f"got {padding!r}")
    pad_len = s + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    left = min(pad_len // 2 + pad_len % 2, k - 1)
    return k - 1 - left, k - 1 - (pad_len - left)


def conv2d_transpose(x: TensorLike, w: TensorLike, b: TensorLike | None = None,
                     stride: int | Sequence[int] = 1, padding: str = "valid",
                     output_padding: int | Sequence[int] | None = None,
                     dilation: int | Sequence[int] = 1) -> Tensor:
    """The transposed convolution (the gradient of conv2d with respect to its
    input), as Keras' Conv2DTranspose: ``w`` (kh, kw, C_out, C_in), output
    (N, (H-1)·s + max(k, s), ...) for 'valid' and (N, H·s, W·s, C_out) for
    'same'.

    Written with ops: each input pixel spreads its kernel-weighted copy over
    a (kh, kw) window, x (M, C_in) @ w (C_in, kh·kw·C_out), and
    ``fold_patches`` adds the overlapping windows up; the edges are then
    cropped by Keras' rule.

    Args:
        x: the images, (N, H, W, C).
        w: the kernel, (kh, kw, C_out, C_in).
        b: the bias, (C_out,), or None.
        stride: an int or a (sh, sw) pair.
        padding: ``"valid"`` or ``"same"``.
        output_padding: extra rows/columns on the output's far side (an int or a pair; None:
            Keras' default).
        dilation: an int or a (dh, dw) pair: the spacing between kernel taps.

    Returns:
        The feature maps, (N, H', W', C_out).
    """
    x, w = as_tensor(x), as_tensor(w)
    _check_image(x, "conv2d_transpose")
    if w.ndim != 4 or w.shape[3] != x.shape[3]:
        raise ShapeError(f"conv2d_transpose: kernel must be (kh, kw, C_out, C_in) with C_in = "
                         f"{x.shape[3]} (the input's channels), got shape {w.shape}")
    if _pair(dilation, "dilation") != (1, 1):
        w = dilate_kernel(w, dilation)
    kh, kw, cout, cin = w.shape
    sh, sw = _pair(stride, "stride")
    n, h, wd, _ = x.shape
    spread = matmul(reshape(x, (n * h * wd, cin)),
                    reshape(transpose(w, (3, 0, 1, 2)), (cin, kh * kw * cout)))
    full = fold_patches(reshape(spread, (n, h, wd, kh, kw, cout)),
                        (n, (h - 1) * sh + kh, (wd - 1) * sw + kw, cout), (sh, sw))
    pads = _pair(output_padding, "output_padding") if output_padding is not None else (None, None)
    crops = [_transpose_crops(size, k, s, padding, op)
             for size, k, s, op in zip((h, wd), (kh, kw), (sh, sw), pads)]
    appended = [(0, max(-after, 0)) for _, after in crops]
    if any(a for _, a in appended):
        full = pad(full, ((0, 0), appended[0], appended[1], (0, 0)))
    index = tuple(slice(before, full.shape[i + 1] - max(after, 0))
                  for i, (before, after) in enumerate(crops))
    y = getitem(full, (slice(None),) + index)
    return y if b is None else y + b


def _conv2d_valid(x, w, b, sh, sw):
    """The fused op on an already padded input: one GEMM forward, one per gradient.

    With M = N·oh·ow output pixels and K = kh·kw·C_in:
        y  = cols @ w (+ b)        cols = patches of x, (M, K);  w as (K, C_out)
        dw = colsᵀ @ g             (K, C_out)
        dx = fold(g @ wᵀ)          the (M, K) patch gradients added back onto x
        db = Σ over the M rows of g
    """
    kh, kw, cin, cout = w.shape
    patches = _patches(x.data, kh, kw, sh, sw)
    n, oh, ow = patches.shape[:3]
    m, k = n * oh * ow, kh * kw * cin
    cols = patches.reshape(m, k)
    y = cols @ w.data.reshape(k, cout)
    if b is not None:
        if y.dtype == np.result_type(y, b.data):
            # In place, with the bias tiled over one image's pixels: adding a
            # (C_out,) vector row by row would run in short runs of C_out.
            rows = y.reshape(n, oh * ow * cout)
            rows += np.tile(b.data, oh * ow)
        else:
            y = y + b.data

    def d_conv2d(g, out, x, w, b=None):
        return _d_conv2d_recorded(g, x, w, b, sh, sw)

    def d_conv2d_arrays(needs, g, out, x, w, b=None):
        g2 = g.reshape(m, cout)        # a copy only if g is not contiguous
        dx = dw = db = None
        if needs[0]:
            # One GEMM, not one per kernel offset: on a busy machine every
            # multi-threaded BLAS call can stall until its second thread is
            # scheduled again, so fewer, larger calls win.
            w2 = w.reshape(k, cout)
            dcols = np.matmul(g2, w2.T, out=scratch("conv2d dcols", (m, k),
                                                    np.result_type(g2, w2)))
            dx = _fold(dcols.reshape(n, oh, ow, kh, kw, cin), x.shape, sh, sw)
        if needs[1]:
            dw = (cols.T @ g2).reshape(w.shape)
        if b is not None and needs[2]:
            db = _column_sums(g2)
        return (dx, dw) if b is None else (dx, dw, db)
    inputs = (x, w) if b is None else (x, w, b)
    return record(CONV2D, y.reshape(n, oh, ow, cout), inputs, d_conv2d, d_conv2d_arrays)


def _column_sums(a):
    """``a.sum(axis=0)`` for a tall, narrow (M, C) array, several times faster:
    summing C-float rows one at a time runs in short runs, so first sum
    blocks of rows laid side by side as long rows."""
    m, c = a.shape
    rows = next(r for r in (64, 32, 16, 8, 4, 2, 1) if m % r == 0)
    return a.reshape(m // rows, rows * c).sum(axis=0).reshape(rows, c).sum(axis=0)


def _d_conv2d_recorded(g, x, w, b, sh, sw):
    """conv2d's vjp written with chainrule ops, so it can be differentiated again."""
    kh, kw, cin, cout = w.shape
    n, oh, ow = g.shape[:3]
    m, k = n * oh * ow, kh * kw * cin
    g2 = reshape(g, (m, cout))
    dx = dw = db = None
    if x.requires_grad:
        dcols = matmul(g2, swapaxes(reshape(w, (k, cout)), 0, 1))
        dx = fold_patches(reshape(dcols, (n, oh, ow, kh, kw, cin)), x.shape, (sh, sw))
    if w.requires_grad:
        cols = reshape(extract_patches(x, (kh, kw), (sh, sw)), (m, k))
        dw = reshape(matmul(swapaxes(cols, 0, 1), g2), w.shape)
    if b is not None and b.requires_grad:
        db = reduce_sum(g2, axis=0)
    return (dx, dw) if b is None else (dx, dw, db)


CONV2D = declare(conv2d, forward="conv2d(x, w) + b", inputs="x w b",
                 derivative=("fold(g @ wᵀ)", "patches(x)ᵀ @ g", "Σ g over the pixels"),
                 vjp=PER_CALL, array_vjp=PER_CALL)


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------
def _check_image(x, op):
    if x.ndim != 4:
        raise ShapeError(f"{op}: input must be 4-D (N, H, W, C) channels-last, got shape {x.shape}")


def max_pool2d(x: TensorLike, pool_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: str = "valid") -> Tensor:
    """Largest value in each window; ``stride`` defaults to ``pool_size`` (Keras).

    Gradient: to the largest entry of each window.

    Args:
        x: the images, (N, H, W, C).
        pool_size: an int or a (kh, kw) pair.
        stride: an int or a pair (default ``pool_size``).
        padding: ``"valid"`` or ``"same"``.

    Returns:
        The pooled maps, (N, oh, ow, C).
    """
    x = as_tensor(x)
    _check_image(x, "max_pool2d")
    kh, kw = _pair(pool_size, "pool_size")
    sh, sw = _pair(stride if stride is not None else (kh, kw), "stride")
    if padding != "valid":
        # The padding must never win a window. -inf does that, but trips
        # detect_anomaly; the lowest finite number does too unless the input
        # itself holds -inf (then only -inf is right).
        if x.dtype.kind != "f":
            lowest: float = np.iinfo(x.dtype).min
        elif np.isneginf(x.data).any():
            lowest = -np.inf
        else:
            lowest = np.finfo(x.dtype).min
        x = _pad_image(x, kh, kw, sh, sw, padding, "max_pool2d", value=lowest)
    _check_fits(x.shape, kh, kw)
    return _max_pool2d_valid(x, kh, kw, sh, sw)


def _max_pool2d_valid(x, kh, kw, sh, sw):
    """The fused op on an already padded input.

    Forward: what each kernel offset sees in every window is copied, by one
    transposing copy, into a contiguous (kh, kw, N, oh, ow, C) buffer, which
    is then reduced over its first two axes. Backward: each window's gradient
    goes to its first largest entry in row-major order (as PyTorch and
    TensorFlow do with ties, frequent after a relu), and is copied back the
    same way.
    """
    n, h, w, c = x.shape
    oh, ow = _out_size(h, kh, sh), _out_size(w, kw, sw)
    stacked = np.empty((kh, kw, n, oh, ow, c), x.dtype)
    _copy_pixels(stacked, _offset_major(_windows(x.data, kh, kw, sh, sw)))
    data = stacked.max(axis=(0, 1))

    def d_max_pool2d(g, out, x):
        masks = _first_max_masks(stacked.reshape((kh * kw,) + data.shape), data)
        mask = np.stack(list(masks), axis=3).reshape(n, oh, ow, kh, kw, c)
        spread = reshape(g, (n, oh, ow, 1, 1, c)) * Tensor._wrap(mask.astype(g.dtype))
        return fold_patches(spread, x.shape, (sh, sw))

    def d_max_pool2d_arrays(needs, g, out, x):
        masks = _first_max_masks(stacked.reshape((kh * kw,) + data.shape), data)
        spread = scratch("max_pool2d", stacked.shape, g.dtype)   # (kh, kw, N, oh, ow, C)
        for part, mask in zip(spread.reshape((kh * kw,) + data.shape), masks):
            np.multiply(g, mask, out=part)
        if sh >= kh and sw >= kw:      # windows do not overlap: one copy puts all back
            dx = np.zeros(x.shape, g.dtype)
            _copy_pixels(_offset_major(_windows(dx, kh, kw, sh, sw, writeable=True)), spread)
        else:
            dx = _fold_taps(spread, x.shape, sh, sw)
        return dx
    return record(MAX_POOL2D, data, (x,), d_max_pool2d, d_max_pool2d_arrays)


MAX_POOL2D = declare(max_pool2d, forward="max_pool2d(x)", inputs="x",
                     derivative="g to the first largest entry of each window",
                     vjp=PER_CALL, array_vjp=PER_CALL)


def _windows(image, kh, kw, sh, sw, writeable=False):
    """All windows of an (N, H, W, C) array as a view (N, oh, ow, C, kh, kw).
    ``writeable`` only where windows do not overlap."""
    view = np.lib.stride_tricks.sliding_window_view(image, (kh, kw), axis=(1, 2),
                                                    writeable=writeable)
    return view[:, ::sh, ::sw]


def _offset_major(windows):
    """(N, oh, ow, C, kh, kw) -> (kh, kw, N, oh, ow, C), a view."""
    return windows.transpose(4, 5, 0, 1, 2, 3)


def _first_max_masks(stacked, top):
    """For each kernel offset (a row of ``stacked``), the windows whose first
    largest entry sits at that offset."""
    unplaced = None                          # windows whose max has no home yet
    for k, values in enumerate(stacked):
        mask = values == top
        if unplaced is None:
            unplaced = ~mask
        else:
            mask &= unplaced
            if k + 1 < len(stacked):
                unplaced ^= mask
        yield mask


def _fits(x, kh, kw):
    return x.shape[1] >= kh and x.shape[2] >= kw


def _tiles(x, kh, kw):
    """Non-overlapping windows as two extra axes: (n, oh, kh, ow, kw, c).

    When the stride equals the window, pooling is a reshape and a reduction:
    no patch copies, and the backward needs no fold_patches. Rows and columns
    that do not fill a window are dropped, as 'valid' pooling does.
    """
    n, h, w, c = x.shape
    oh, ow = h // kh, w // kw
    if (oh * kh, ow * kw) != (h, w):
        x = x[:, :oh * kh, :ow * kw, :]
    return reshape(x, (n, oh, kh, ow, kw, c))


def avg_pool2d(x: TensorLike, pool_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: str = "valid") -> Tensor:
    """Mean of each window; with 'same' padding the padded zeros are not counted
    (as Keras/TensorFlow).   Gradient: 1/(window size) to each entry.

    Args:
        x: the images, (N, H, W, C).
        pool_size: an int or a (kh, kw) pair.
        stride: an int or a pair (default ``pool_size``).
        padding: ``"valid"`` or ``"same"``.

    Returns:
        The pooled maps, (N, oh, ow, C).
    """
    x = as_tensor(x)
    _check_image(x, "avg_pool2d")
    kh, kw = _pair(pool_size, "pool_size")
    sh, sw = _pair(stride if stride is not None else (kh, kw), "stride")
    if padding == "valid":
        if (sh, sw) == (kh, kw) and _fits(x, kh, kw):
            return mean(_tiles(x, kh, kw), axis=(2, 4))
        return mean(extract_patches(x, (kh, kw), (sh, sw)), axis=(3, 4))
    padded = _pad_image(x, kh, kw, sh, sw, padding, "avg_pool2d")
    sums = reduce_sum(extract_patches(padded, (kh, kw), (sh, sw)), axis=(3, 4))
    ones = Tensor._wrap(np.ones((1,) + x.shape[1:3] + (1,), dtype=x.dtype))
    counts = reduce_sum(extract_patches(_pad_image(ones, kh, kw, sh, sw, padding, "avg_pool2d"),
                                        (kh, kw), (sh, sw)), axis=(3, 4))
    return sums / counts


# --------------------------------------------------------------------------
# Dropout and one-hot
# --------------------------------------------------------------------------
def dropout(x: TensorLike, rate: float, training: bool = True, seed: SeedLike = None) -> Tensor:
    """Zero each entry with probability ``rate`` and scale the rest by 1/(1-rate),
    so the expected value is unchanged. Identity when not training.

    Gradient: the same mask and scale.

    Args:
        x: a tensor, or anything ``cr.tensor`` takes.
        rate: the probability of zeroing an entry, in [0, 1).
        training: False returns ``x`` unchanged.
        seed: a seed or generator for the mask (default: the global one).

    Returns:
        A new tensor of ``x``'s shape.
    """
    x = as_tensor(x)
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    if not training or rate == 0:
        return x
    keep = default_rng(seed).random(x.shape) >= rate
    scale = np.where(keep, x.dtype.type(1 / (1 - rate)), x.dtype.type(0))   # in x's dtype
    return multiply(x, Tensor._wrap(scale))


def one_hot(labels: TensorLike, num_classes: int | None = None, dtype: DTypeLike = "float32") -> Tensor:
    """Integer labels (any shape) to one-hot vectors along a new last axis.

    Args:
        labels: integer labels, any shape.
        num_classes: the length of the new axis (default: the largest label + 1).
        dtype: the result's dtype.

    Returns:
        A tensor of shape ``labels.shape + (num_classes,)`` (no gradient).

    >>> cr.one_hot([0, 2], 3).numpy()
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    labels = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if labels.dtype.kind == "f" and labels.size and np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)].ravel()[0]
        raise ValueError(f"one_hot: label {bad} is outside [0, {num_classes}); "
                         f"labels must be 0..num_classes-1")
    out = np.zeros(labels.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, labels[..., None].astype(np.intp), 1, axis=-1)
    return Tensor._wrap(out)
