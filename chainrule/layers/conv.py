"""Convolutions over channels-last data: Conv1D, Conv2D (dilated, grouped),
Conv1DTranspose, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D, with Keras 3's arguments,
defaults and kernel layouts (``keras/src/layers/convolutional/``).

>>> import chainrule as cr
>>> conv = cr.layers.Conv2D(8, 3, padding="same", activation="relu")
>>> conv(cr.ones(2, 28, 28, 1)).shape
(2, 28, 28, 8)
>>> conv.kernel.shape                         # (kh, kw, C_in, C_out) as Keras
(3, 3, 1, 8)
"""
from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .. import activations, initializers, ops, regularizers
from ..errors import ShapeError
from ..tensor import Tensor
from ..typing import Shape
from .base import InputSpec, Layer
from .core import check_positive_int

if TYPE_CHECKING:
    from .. import constraints

__all__ = ["Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D",
           "SeparableConv2D"]


def normalize_pair(layer_name: str, arg: str, value: Any) -> tuple[int, ...]:
    """An int or a pair of positive ints, as a pair.

    Args:
        layer_name: the layer's class name, for the message.
        arg: the argument's name, for the message.
        value: an int or a pair of positive ints.

    Returns:
        The pair ``(a, b)``.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        pair = tuple(check_positive_int(layer_name, arg, v) for v in value)
    except (TypeError, ValueError):
        pair = ()
    if len(pair) != 2:
        raise ValueError(f"{layer_name}: {arg} must be a positive int or a pair of "
                         f"positive ints, got {value!r}")
    return pair


def normalize_padding(layer_name: str, padding: Any) -> str:
    """Check a padding argument.

    Args:
        layer_name: the layer's class name, for the message.
        padding: ``"valid"`` or ``"same"`` (any case).

    Returns:
        The padding, lower case.
    """
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{layer_name}: padding must be 'valid' or 'same', got {padding!r}")
    return padding.lower()


def check_channels_last(layer_name: str, data_format: str | None) -> None:
    """Refuse a data_format other than channels-last.

    Args:
        layer_name: the layer's class name, for the message.
        data_format: None or ``"channels_last"``; anything else raises.
    """
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{layer_name}: data_format={data_format!r} is not supported; "
                         f"chainrule images are channels-last (batch, height, width, "
                         f"channels). Transpose channels-first data with "
                         f"x.transpose((0, 2, 3, 1)).")


def conv_output_size(size: int | None, kernel: int, stride: int, padding: str,
                     dilation: int = 1) -> int | None:
    """One spatial output size: ceil(size/stride) for 'same' (and 'causal'),
    (size - effective kernel)//stride + 1 for 'valid', the effective kernel
    being dilation·(kernel - 1) + 1.

    Args:
        size: the input's size along the axis, or None.
        kernel: the kernel's size.
        stride: the stride.
        padding: ``"valid"``, ``"same"`` or ``"causal"``.
        dilation: the dilation.

    Returns:
        The output's size, or None when ``size`` is None.

    Example:

    >>> conv_output_size(28, 3, 2, "valid"), conv_output_size(28, 3, 2, "same")
    (13, 14)
    """
    if size is None:
        return None
    if padding in ("same", "causal"):
        return -(-size // stride)
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def check_groups(layer: Layer, groups: int, channels: int, filters: int) -> None:
    """``groups`` must divide the input channels and the filters (Keras' rule).

    Args:
        layer: the layer, for the message.
        groups: the number of groups.
        channels: the input channels.
        filters: the output channels.
    """
    if channels % groups or filters % groups:
        fits = [g for g in range(1, channels + 1) if channels % g == 0 and filters % g == 0]
        raise ValueError(f"{type(layer).__name__} layer '{layer.name}': groups={groups} must "
                         f"divide both the input channels ({channels}) and filters "
                         f"({filters}); e.g. groups in {fits}")


def _channels(layer: Layer, input_shape: Shape) -> int:
    channels = input_shape[-1]
    if channels is None:
        raise ShapeError(f"{type(layer).__name__} layer '{layer.name}': the channel axis "
                         f"(last) of the input must be known, got shape {input_shape}")
    return channels


class Conv2D(Layer):
    """A 2-D convolution layer: ``activation(conv2d(x, kernel) + bias)`` on
    (batch, height, width, channels) images (Keras' ``Conv2D``).

    Each output channel slides one (kh, kw, in_channels) filter over the image
    (cross-correlation, no flip, as every deep-learning library).
    ``padding="same"`` pads as TensorFlow (the odd extra row/column at the
    bottom/right), so with stride 1 the output keeps the input's size.

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int or (kh, kw), the filter's height and width.
        strides: int or (sh, sw), the step between windows. Defaults to 1.
        padding: ``"valid"`` (no padding, the default) or ``"same"``.
        data_format: only ``"channels_last"`` (or None) is supported.
        dilation_rate: int or (dh, dw): the kernel's taps this many pixels
            apart. Defaults to 1.
        groups: positive int dividing the input channels and ``filters``:
            that many independent convolutions side by side, the kernel
            (kh, kw, in_channels // groups, filters). Defaults to 1.
        activation: an activation name or callable; None means linear.
        use_bias: whether the layer adds a bias per output channel.
        kernel_initializer: how the kernel starts. Defaults to ``"glorot_uniform"``.
        bias_initializer: how the bias starts. Defaults to ``"zeros"``.
        kernel_regularizer: a penalty on the kernel added to the loss, or None.
        bias_regularizer: a penalty on the bias, or None.
        activity_regularizer: a penalty on the layer's output, or None.
        kernel_constraint: a projection applied to the kernel after each update, or None.
        bias_constraint: a projection applied to the bias after each update, or None.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Input shape: ``(batch, height, width, channels)``. Output shape:
    ``(batch, new_height, new_width, filters)``; with ``"valid"``,
    new_height = (height - kh) // sh + 1.

    Example:

    >>> layer = Conv2D(8, 3, padding="same", activation="relu")
    >>> layer(cr.ones(2, 28, 28, 1)).shape
    (2, 28, 28, 8)
    >>> [w.shape for w in layer.get_weights()]      # kernel (kh, kw, in, out), bias
    [(3, 3, 1, 8), (8,)]
    """

    input_spec: InputSpec       # set in __init__, never None

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 strides: int | Sequence[int] = (1, 1), padding: str = "valid",
                 data_format: str | None = None, dilation_rate: int | Sequence[int] = (1, 1),
                 groups: int = 1, activation: str | Callable[..., Any] | None = None,
                 use_bias: bool = True,
                 kernel_initializer: initializers.InitializerLike = "glorot_uniform",
                 bias_initializer: initializers.InitializerLike = "zeros",
                 kernel_regularizer: regularizers.RegularizerLike = None,
                 bias_regularizer: regularizers.RegularizerLike = None,
                 activity_regularizer: regularizers.RegularizerLike = None,
                 kernel_constraint: constraints.ConstraintLike = None,
                 bias_constraint: constraints.ConstraintLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        self.filters = check_positive_int("Conv2D", "filters", filters)
        self.kernel_size = normalize_pair("Conv2D", "kernel_size", kernel_size)
        self.strides = normalize_pair("Conv2D", "strides", strides)
        self.padding = normalize_padding("Conv2D", padding)
        check_channels_last("Conv2D", data_format)
        self.dilation_rate = normalize_pair("Conv2D", "dilation_rate", dilation_rate)
        if self.strides != (1, 1) and self.dilation_rate != (1, 1):
            raise ValueError("Conv2D: strides > 1 together with dilation_rate > 1 is not "
                             "supported (as Keras)")
        self.groups = check_positive_int("Conv2D", "groups", groups)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape: Shape) -> None:
        self.input_spec.check(self, input_shape)
        channels = _channels(self, input_shape)
        check_groups(self, self.groups, channels, self.filters)
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels // self.groups,
                                                                    self.filters),
                                      self.kernel_initializer, self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = (self.add_weight("bias", (self.filters,), self.bias_initializer,
                                     self.bias_regularizer, constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})

    def call(self, x: Tensor) -> Tensor:
        """The convolution of ``x``, plus the bias, through the activation.

        Args:
            x: the input, ``(batch, height, width, channels)``.

        Returns:
            The output, ``(batch, new_height, new_width, filters)``.
        """
        y = ops.conv2d(x, self.kernel, self.bias, stride=self.strides, padding=self.padding,
                       dilation=self.dilation_rate, groups=self.groups)
        y = self.activation(y)
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(y))
        return y

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        batch, h, w, _ = input_shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        return (batch, conv_output_size(h, kh, sh, self.padding, dh),
                conv_output_size(w, kw, sw, self.padding, dw), self.filters)


def _normalize_single(layer_name: str, arg: str, value: Any) -> tuple[int]:
    """An int or a 1-tuple of a positive int, as a 1-tuple (Keras' 1-D arguments)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        value = tuple(value) if isinstance(value, (list, tuple)) else value
        if not isinstance(value, tuple) or len(value) != 1:
            raise ValueError(f"{layer_name}: {arg} must be a positive int or a 1-tuple, "
                             f"got {value!r}")
        value = value[0]
    return (check_positive_int(layer_name, arg, value),)


class _ConvBase(Layer):
    """What every convolution layer shares: the activation, the bias, the
    initializers and regularizers, the activity regularizer."""

    bias_constraint: constraints.ConstraintLike       # set by each subclass's __init__

    def _common(self, activation: str | Callable[..., Any] | None, use_bias: bool,
                bias_initializer: initializers.InitializerLike,
                bias_regularizer: regularizers.RegularizerLike,
                activity_regularizer: regularizers.RegularizerLike) -> None:
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def _add_bias(self, size: int) -> None:
        self.bias = (self.add_weight("bias", (size,), self.bias_initializer,
                                     self.bias_regularizer, constraint=self.bias_constraint)
                     if self.use_bias else None)

    def _finish(self, y: Tensor) -> Tensor:
        y = self.activation(y)
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(y))
        return y


class Conv1D(_ConvBase):
    """A 1-D convolution over (batch, steps, channels) sequences (Keras' ``Conv1D``).

    ``padding="causal"`` pads ``dilation_rate·(kernel_size - 1)`` zeros on the
    left only, so output step t sees inputs up to t (as Keras 3
    ``keras/src/layers/convolutional/conv1d.py``). Kernel (kernel_size,
    channels // groups, filters), bias (filters,).

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int (or a 1-tuple), the filter's length.
        strides: int (or a 1-tuple), the step between windows. Defaults to 1.
        padding: ``"valid"`` (the default), ``"same"`` or ``"causal"``.
        data_format: only ``"channels_last"`` (or None) is supported.
        dilation_rate: int (or a 1-tuple): the kernel's taps this many steps apart.
        groups: positive int dividing the input channels and ``filters``.
        activation: an activation name or callable; None means linear.
        use_bias: whether the layer adds a bias per output channel.
        kernel_initializer: how the kernel starts. Defaults to ``"glorot_uniform"``.
        bias_initializer: how the bias starts. Defaults to ``"zeros"``.
        kernel_regularizer: a penalty on the kernel added to the loss, or None.
        bias_regularizer: a penalty on the bias, or None.
        activity_regularizer: a penalty on the layer's output, or None.
        kernel_constraint: a projection applied to the kernel after each update, or None.
        bias_constraint: a projection applied to the bias after each update, or None.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> Conv1D(4, 3, padding="causal")(cr.ones(2, 10, 3)).shape
    (2, 10, 4)
    """

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 strides: int | Sequence[int] = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: int | Sequence[int] = 1,
                 groups: int = 1, activation: str | Callable[..., Any] | None = None,
                 use_bias: bool = True,
                 kernel_initializer: initializers.InitializerLike = "glorot_uniform",
                 bias_initializer: initializers.InitializerLike = "zeros",
                 kernel_regularizer: regularizers.RegularizerLike = None,
                 bias_regularizer: regularizers.RegularizerLike = None,
                 activity_regularizer: regularizers.RegularizerLike = None,
                 kernel_constraint: constraints.ConstraintLike = None,
                 bias_constraint: constraints.ConstraintLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        self.filters = check_positive_int("Conv1D", "filters", filters)
        self.kernel_size = _normalize_single("Conv1D", "kernel_size", kernel_size)
        self.strides = _normalize_single("Conv1D", "strides", strides)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same", "causal"):
            raise ValueError(f"Conv1D: padding must be 'valid', 'same' or 'causal', got "
                             f"{padding!r}")
        self.padding = padding.lower()
        check_channels_last("Conv1D", data_format)
        self.dilation_rate = _normalize_single("Conv1D", "dilation_rate", dilation_rate)
        if self.strides[0] > 1 and self.dilation_rate[0] > 1:
            raise ValueError("Conv1D: strides > 1 together with dilation_rate > 1 is not "
                             "supported (as Keras)")
        self.groups = check_positive_int("Conv1D", "groups", groups)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self._common(activation, use_bias, bias_initializer, bias_regularizer,
                     activity_regularizer)
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape: Shape) -> None:
        channels = _channels(self, input_shape)
        check_groups(self, self.groups, channels, self.filters)
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels // self.groups,
                                                                    self.filters),
                                      self.kernel_initializer, self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self._add_bias(self.filters)
        self.input_spec = InputSpec(ndim=3, axes={-1: channels})

    def call(self, x: Tensor) -> Tensor:
        """The convolution of ``x``, plus the bias, through the activation.

        Args:
            x: the input, ``(batch, steps, channels)``.

        Returns:
            The output, ``(batch, new_steps, filters)``.
        """
        (k,), (d,) = self.kernel_size, self.dilation_rate
        padding = self.padding
        if padding == "causal":
            x = ops.pad(x, ((0, 0), (d * (k - 1), 0), (0, 0)))
            padding = "valid"
        # A sequence is an image one pixel high.
        n, steps, channels = x.shape
        y = ops.conv2d(ops.reshape(x, (n, 1, steps, channels)),
                       ops.reshape(self.kernel, (1,) + self.kernel.shape), self.bias,
                       stride=(1, self.strides[0]), padding=padding, dilation=(1, d),
                       groups=self.groups)
        return self._finish(ops.reshape(y, (n, y.shape[2], self.filters)))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        batch, steps, _ = input_shape
        return (batch, conv_output_size(steps, self.kernel_size[0], self.strides[0],
                                        self.padding, self.dilation_rate[0]), self.filters)


class Conv2DTranspose(_ConvBase):
    """The transposed 2-D convolution (Keras' ``Conv2DTranspose``): the
    gradient of Conv2D with respect to its input, used to upsample. Kernel
    (kh, kw, filters, channels), bias (filters,). Output size (H-1)·s +
    max(kh, s) for ``"valid"``, H·s for ``"same"``, as Keras 3
    (``keras/src/backend/common/backend_utils.py``).

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int or (kh, kw), the filter's height and width.
        strides: int or (sh, sw), the upsampling step. Defaults to 1.
        padding: ``"valid"`` (the default) or ``"same"``.
        output_padding: None, an int or a pair: the extra rows/columns at the end.
        data_format: only ``"channels_last"`` (or None) is supported.
        dilation_rate: int or (dh, dw). Defaults to 1.
        activation: an activation name or callable; None means linear.
        use_bias: whether the layer adds a bias per output channel.
        kernel_initializer: how the kernel starts. Defaults to ``"glorot_uniform"``.
        bias_initializer: how the bias starts. Defaults to ``"zeros"``.
        kernel_regularizer: a penalty on the kernel added to the loss, or None.
        bias_regularizer: a penalty on the bias, or None.
        activity_regularizer: a penalty on the layer's output, or None.
        kernel_constraint: a projection applied to the kernel after each update, or None.
        bias_constraint: a projection applied to the bias after each update, or None.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> Conv2DTranspose(3, 3, strides=2, padding="same")(cr.ones(1, 4, 4, 2)).shape
    (1, 8, 8, 3)
    """

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 strides: int | Sequence[int] = (1, 1), padding: str = "valid",
                 output_padding: int | Sequence[int] | None = None, data_format: str | None = None,
                 dilation_rate: int | Sequence[int] = (1, 1),
                 activation: str | Callable[..., Any] | None = None, use_bias: bool = True,
                 kernel_initializer: initializers.InitializerLike = "glorot_uniform",
                 bias_initializer: initializers.InitializerLike = "zeros",
                 kernel_regularizer: regularizers.RegularizerLike = None,
                 bias_regularizer: regularizers.RegularizerLike = None,
                 activity_regularizer: regularizers.RegularizerLike = None,
                 kernel_constraint: constraints.ConstraintLike = None,
                 bias_constraint: constraints.ConstraintLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        name = "Conv2DTranspose"
        self.filters = check_positive_int(name, "filters", filters)
        self.kernel_size = normalize_pair(name, "kernel_size", kernel_size)
        self.strides = normalize_pair(name, "strides", strides)
        self.padding = normalize_padding(name, padding)
        self.output_padding = (None if output_padding is None else
                               tuple(int(p) for p in ((output_padding,) * 2
                                                      if isinstance(output_padding, int)
                                                      else output_padding)))
        check_channels_last(name, data_format)
        self.dilation_rate = normalize_pair(name, "dilation_rate", dilation_rate)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self._common(activation, use_bias, bias_initializer, bias_regularizer,
                     activity_regularizer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape: Shape) -> None:
        channels = _channels(self, input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, channels),
                                      self.kernel_initializer, self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self._add_bias(self.filters)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})

    def call(self, x: Tensor) -> Tensor:
        """The transposed convolution of ``x``, plus the bias, through the activation.

        Args:
            x: the input, ``(batch, height, width, channels)``.

        Returns:
            The output, ``(batch, new_height, new_width, filters)``.
        """
        y = ops.conv2d_transpose(x, self.kernel, self.bias, stride=self.strides,
                                 padding=self.padding, output_padding=self.output_padding,
                                 dilation=self.dilation_rate)
        return self._finish(y)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        from ..ops.nn import _transpose_crops
        out: list[int | None] = []
        pads = self.output_padding or (None, None)
        for size, k, s, d, p in zip(input_shape[1:3], self.kernel_size, self.strides,
                                    self.dilation_rate, pads):
            if size is None:
                out.append(None)
                continue
            k = d * (k - 1) + 1
            before, after = _transpose_crops(size, k, s, self.padding, p)
            out.append((size - 1) * s + k - before - after)
        return (input_shape[0], *out, self.filters)


class Conv1DTranspose(Conv2DTranspose):
    """The transposed 1-D convolution (Keras' ``Conv1DTranspose``) on
    (batch, steps, channels): Conv2DTranspose on a one-step-high image.
    Kernel (kernel_size, filters, channels), bias (filters,); output steps
    (steps-1)·s + max(k, s) for ``"valid"``, steps·s for ``"same"``.

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int (or a 1-tuple), the filter's length.
        strides: int (or a 1-tuple), the upsampling step. Defaults to 1.
        padding: ``"valid"`` (no padding, the default) or ``"same"``.
        output_padding: None or an int: the extra steps at the end.
        data_format: only ``"channels_last"`` (or None) is supported.
        dilation_rate: int (or a 1-tuple). Defaults to 1.
        activation: an activation name or callable; None means linear.
        use_bias: whether the layer adds a bias per output channel.
        kernel_initializer: how the kernel starts. Defaults to ``"glorot_uniform"``.
        bias_initializer: how the bias starts. Defaults to ``"zeros"``.
        kernel_regularizer: a penalty on the kernel added to the loss, or None.
        bias_regularizer: a penalty on the bias, or None.
        activity_regularizer: a penalty on the layer's output, or None.
        kernel_constraint: a projection applied to the kernel after each update, or None.
        bias_constraint: a projection applied to the bias after each update, or None.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> Conv1DTranspose(3, 4, strides=2, padding="same")(cr.ones(2, 5, 2)).shape
    (2, 10, 3)
    """

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 strides: int | Sequence[int] = 1, padding: str = "valid",
                 output_padding: int | list[int] | tuple[int, ...] | None = None,
                 data_format: str | None = None, dilation_rate: int | Sequence[int] = 1,
                 activation: str | Callable[..., Any] | None = None, use_bias: bool = True,
                 kernel_initializer: initializers.InitializerLike = "glorot_uniform",
                 bias_initializer: initializers.InitializerLike = "zeros",
                 kernel_regularizer: regularizers.RegularizerLike = None,
                 bias_regularizer: regularizers.RegularizerLike = None,
                 activity_regularizer: regularizers.RegularizerLike = None,
                 kernel_constraint: constraints.ConstraintLike = None,
                 bias_constraint: constraints.ConstraintLike = None, **kwargs: Any) -> None:
        name = "Conv1DTranspose"
        (k,), (s,), (d,) = (_normalize_single(name, "kernel_size", kernel_size),
                            _normalize_single(name, "strides", strides),
                            _normalize_single(name, "dilation_rate", dilation_rate))
        if output_padding is not None:
            output_padding = (0, int(output_padding[0] if isinstance(output_padding, (list, tuple))
                                     else output_padding))
        super().__init__(filters, (1, k), (1, s), padding, output_padding, data_format, (1, d),
                         activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape: Shape) -> None:
        channels = _channels(self, input_shape)
        self.kernel = self.add_weight("kernel", (self.kernel_size[1], self.filters, channels),
                                      self.kernel_initializer, self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self._add_bias(self.filters)
        self.input_spec = InputSpec(ndim=3, axes={-1: channels})

    def call(self, x: Tensor) -> Tensor:
        """The transposed convolution of ``x``, plus the bias, through the activation.

        Args:
            x: the input, ``(batch, steps, channels)``.

        Returns:
            The output, ``(batch, new_steps, filters)``.
        """
        n, steps, channels = x.shape
        kernel = ops.reshape(self.kernel, (1,) + self.kernel.shape)
        (_, s), (_, d) = self.strides, self.dilation_rate
        padding = None if self.output_padding is None else (0, self.output_padding[1])
        y = ops.conv2d_transpose(ops.reshape(x, (n, 1, steps, channels)), kernel, self.bias,
                                 stride=(1, s), padding=self.padding, output_padding=padding,
                                 dilation=(1, d))
        return self._finish(ops.reshape(y, (n, y.shape[2], self.filters)))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        batch, steps, channels = input_shape
        shape = super().compute_output_shape((batch, 1, steps, channels))
        return (batch, shape[2], self.filters)


class DepthwiseConv2D(_ConvBase):
    """Each input channel convolved with its own ``depth_multiplier`` filters
    (Keras' ``DepthwiseConv2D``): kernel (kh, kw, channels,
    depth_multiplier), output channel c·depth_multiplier + m, bias
    (channels·depth_multiplier,).

    Args:
        kernel_size: int or (kh, kw), the filter's height and width.
        strides: int or (sh, sw), the step between windows. Defaults to 1.
        padding: ``"valid"`` (no padding, the default) or ``"same"``.
        depth_multiplier: positive int, the filters per input channel.
        data_format: only ``"channels_last"`` (or None) is supported.
        dilation_rate: int or (dh, dw): the kernel's taps this many pixels apart. Defaults to 1.
        activation: an activation name or callable; None means linear.
        use_bias: whether the layer adds a bias per output channel.
        depthwise_initializer: how the kernel starts. Defaults to ``"glorot_uniform"``.
        bias_initializer: how the bias starts. Defaults to ``"zeros"``.
        depthwise_regularizer: a penalty on the kernel, or None.
        bias_regularizer: a penalty on the bias, or None.
        activity_regularizer: a penalty on the layer's output, or None.
        depthwise_constraint: a projection applied to the kernel after each update, or None.
        bias_constraint: a projection applied to the bias after each update, or None.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> DepthwiseConv2D(3, depth_multiplier=2)(cr.ones(1, 5, 5, 3)).shape
    (1, 3, 3, 6)
    """

    def __init__(self, kernel_size: int | Sequence[int], strides: int | Sequence[int] = (1, 1),
                 padding: str = "valid", depth_multiplier: int = 1, data_format: str | None = None,
                 dilation_rate: int | Sequence[int] = (1, 1),
                 activation: str | Callable[..., Any] | None = None, use_bias: bool = True,
                 depthwise_initializer: initializers.InitializerLike = "glorot_uniform",
                 bias_initializer: initializers.InitializerLike = "zeros",
                 depthwise_regularizer: regularizers.RegularizerLike = None,
                 bias_regularizer: regularizers.RegularizerLike = None,
                 activity_regularizer: regularizers.RegularizerLike = None,
                 depthwise_constraint: constraints.ConstraintLike = None,
                 bias_constraint: constraints.ConstraintLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.depthwise_constraint, self.bias_constraint = depthwise_constraint, bias_constraint
        name = "DepthwiseConv2D"
        self.kernel_size = normalize_pair(name, "kernel_size", kernel_size)
        self.strides = normalize_pair(name, "strides", strides)
        self.padding = normalize_padding(name, padding)
        self.depth_multiplier = check_positive_int(name, "depth_multiplier", depth_multiplier)
        check_channels_last(name, data_format)
        self.dilation_rate = normalize_pair(name, "dilation_rate", dilation_rate)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self._common(activation, use_bias, bias_initializer, bias_regularizer,
                     activity_regularizer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape: Shape) -> None:
        channels = _channels(self, input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels,
                                                                    self.depth_multiplier),
                                      self.depthwise_initializer, self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint)
        self._add_bias(channels * self.depth_multiplier)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})

    def call(self, x: Tensor) -> Tensor:
        """The convolution of ``x``, plus the bias, through the activation.

        Args:
            x: the input, ``(batch, height, width, channels)``.

        Returns:
            The output, ``(batch, new_height, new_width, channels·depth_multiplier)``.
        """
        return self._finish(ops.depthwise_conv2d(x, self.kernel, self.bias, stride=self.strides,
                                                 padding=self.padding,
                                                 dilation=self.dilation_rate))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        batch, h, w, c = input_shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        return (batch, conv_output_size(h, kh, sh, self.padding, dh),
                conv_output_size(w, kw, sw, self.padding, dw),
                None if c is None else c * self.depth_multiplier)


class SeparableConv2D(_ConvBase):
    """A depthwise convolution followed by a 1x1 pointwise one (Keras'
    ``SeparableConv2D``): depthwise_kernel (kh, kw, channels,
    depth_multiplier), pointwise_kernel (1, 1, channels·depth_multiplier,
    filters), bias (filters,).

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int or (kh, kw), the filter's height and width.
        strides: int or (sh, sw), the step between windows. Defaults to 1.
        padding: ``"valid"`` (no padding, the default) or ``"same"``.
        data_format: only ``"channels_last"`` (or None) is supported.
        dilation_rate: int or (dh, dw): the kernel's taps this many pixels apart. Defaults to 1.
        depth_multiplier: positive int, the depthwise filters per input channel.
        activation: an activation name or callable; None means linear.
        use_bias: whether the layer adds a bias per output channel.
        depthwise_initializer: how the depthwise kernel starts.
        pointwise_initializer: how the pointwise kernel starts.
        bias_initializer: how the bias starts. Defaults to ``"zeros"``.
        depthwise_regularizer: a penalty on the depthwise kernel, or None.
        pointwise_regularizer: a penalty on the pointwise kernel, or None.
        bias_regularizer: a penalty on the bias, or None.
        activity_regularizer: a penalty on the layer's output, or None.
        depthwise_constraint: a projection applied to the depthwise kernel after each update, or
            None.
        pointwise_constraint: a projection applied to the pointwise kernel after each update, or
            None.
        bias_constraint: a projection applied to the bias after each update, or None.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Example:

    >>> SeparableConv2D(4, 3, padding="same")(cr.ones(1, 5, 5, 3)).shape
    (1, 5, 5, 4)
    """

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 strides: int | Sequence[int] = (1, 1), padding: str = "valid",
                 data_format: str | None = None, dilation_rate: int | Sequence[int] = (1, 1),
                 depth_multiplier: int = 1, activation: str | Callable[..., Any] | None = None,
                 use_bias: bool = True,
                 depthwise_initializer: initializers.InitializerLike = "glorot_uniform",
                 pointwise_initializer: initializers.InitializerLike = "glorot_uniform",
                 bias_initializer: initializers.InitializerLike = "zeros",
                 depthwise_regularizer: regularizers.RegularizerLike = None,
                 pointwise_regularizer: regularizers.RegularizerLike = None,
                 bias_regularizer: regularizers.RegularizerLike = None,
                 activity_regularizer: regularizers.RegularizerLike = None,
                 depthwise_constraint: constraints.ConstraintLike = None,
                 pointwise_constraint: constraints.ConstraintLike = None,
                 bias_constraint: constraints.ConstraintLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.depthwise_constraint, self.pointwise_constraint = (depthwise_constraint,
                                                                pointwise_constraint)
        self.bias_constraint = bias_constraint
        name = "SeparableConv2D"
        self.filters = check_positive_int(name, "filters", filters)
        self.kernel_size = normalize_pair(name, "kernel_size", kernel_size)
        self.strides = normalize_pair(name, "strides", strides)
        self.padding = normalize_padding(name, padding)
        check_channels_last(name, data_format)
        self.dilation_rate = normalize_pair(name, "dilation_rate", dilation_rate)
        self.depth_multiplier = check_positive_int(name, "depth_multiplier", depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self._common(activation, use_bias, bias_initializer, bias_regularizer,
                     activity_regularizer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape: Shape) -> None:
        channels = _channels(self, input_shape)
        mult = self.depth_multiplier
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", self.kernel_size + (channels, mult), self.depthwise_initializer,
            self.depthwise_regularizer, constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", (1, 1, channels * mult, self.filters),
            self.pointwise_initializer, self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        self._add_bias(self.filters)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})

    def call(self, x: Tensor) -> Tensor:
        """The convolution of ``x``, plus the bias, through the activation.

        Args:
            x: the input, ``(batch, height, width, channels)``.

        Returns:
            The output, ``(batch, new_height, new_width, filters)``.
        """
        y = ops.depthwise_conv2d(x, self.depthwise_kernel, stride=self.strides,
                                 padding=self.padding, dilation=self.dilation_rate)
        return self._finish(ops.conv2d(y, self.pointwise_kernel, self.bias))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        batch, h, w, _ = input_shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        return (batch, conv_output_size(h, kh, sh, self.padding, dh),
                conv_output_size(w, kw, sw, self.padding, dw), self.filters)
