"""Conv2D: a 2-D convolution over channels-last images.

>>> import chainrule as cr
>>> conv = cr.layers.Conv2D(8, 3, padding="same", activation="relu")
>>> conv(cr.ones(2, 28, 28, 1)).shape
(2, 28, 28, 8)
>>> conv.kernel.shape                         # (kh, kw, C_in, C_out) as Keras
(3, 3, 1, 8)
"""
import numbers

from .. import activations, initializers, ops, regularizers
from ..errors import ShapeError
from .base import InputSpec, Layer
from .core import check_positive_int

__all__ = ["Conv2D"]


def normalize_pair(layer_name, arg, value):
    """An int or a pair of positive ints, as a pair."""
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


def normalize_padding(layer_name, padding):
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{layer_name}: padding must be 'valid' or 'same', got {padding!r}")
    return padding.lower()


def check_channels_last(layer_name, data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{layer_name}: data_format={data_format!r} is not supported; "
                         f"chainrule images are channels-last (batch, height, width, "
                         f"channels). Transpose channels-first data with "
                         f"x.transpose((0, 2, 3, 1)).")


def conv_output_size(size, kernel, stride, padding):
    """One spatial output size: ceil(size/stride) for 'same',
    (size - kernel)//stride + 1 for 'valid'."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


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
        dilation_rate: only 1 is supported.
        activation: an activation name or callable; None means linear.
        use_bias: whether the layer adds a bias per output channel.
        kernel_initializer, bias_initializer: how the weights start.
            Default to ``"glorot_uniform"`` and ``"zeros"``.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties
            added to the loss, or None.
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

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = check_positive_int("Conv2D", "filters", filters)
        self.kernel_size = normalize_pair("Conv2D", "kernel_size", kernel_size)
        self.strides = normalize_pair("Conv2D", "strides", strides)
        self.padding = normalize_padding("Conv2D", padding)
        check_channels_last("Conv2D", data_format)
        if normalize_pair("Conv2D", "dilation_rate", dilation_rate) != (1, 1):
            raise NotImplementedError("Conv2D: dilation_rate other than 1 is not supported")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        self.input_spec.check(self, input_shape)
        channels = input_shape[-1]
        if channels is None:
            raise ShapeError(f"Conv2D layer '{self.name}': the channel axis (last) of the "
                             f"input must be known, got shape {input_shape}")
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels, self.filters),
                                      self.kernel_initializer, self.kernel_regularizer)
        self.bias = (self.add_weight("bias", (self.filters,), self.bias_initializer,
                                     self.bias_regularizer) if self.use_bias else None)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})

    def call(self, x):
        y = ops.conv2d(x, self.kernel, self.bias, stride=self.strides, padding=self.padding)
        y = self.activation(y)
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(y))
        return y

    def compute_output_shape(self, input_shape):
        batch, h, w, _ = input_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        return (batch, conv_output_size(h, kh, sh, self.padding),
                conv_output_size(w, kw, sw, self.padding), self.filters)
