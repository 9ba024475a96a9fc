"""Core layers: Dense, Activation, Dropout, Flatten, Reshape and the merges.

>>> import chainrule as cr
>>> layer = cr.layers.Dense(3, activation="relu")
>>> layer(cr.ones(2, 4)).shape
(2, 3)
>>> [w.shape for w in layer.weights]          # kernel (in, out), bias (out,)
[(4, 3), (3,)]
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from .. import activations, graph, initializers, ops, regularizers
from ..errors import ShapeError
from ..tensor import Tensor
from ..typing import Shape
from .base import InputSpec, Layer

__all__ = [
    "Activation",
    "Add",
    "Concatenate",
    "Dense",
    "Dropout",
    "Flatten",
    "LeakyReLU",
    "Reshape",
]


def check_positive_int(layer_name: str, arg: str, value: Any) -> int:
    """Validate an argument that counts something (units, filters...).

    Args:
        layer_name: the layer's class name, for the message.
        arg: the argument's name.
        value: the value given.

    Returns:
        ``value`` as an int.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{layer_name}: {arg} must be a positive integer, got {value!r}")
    return int(value)


def check_rate(layer_name: str, arg: str, value: Any) -> float:
    """Validate a probability in [0, 1).

    Args:
        layer_name: the layer's class name, for the message.
        arg: the argument's name.
        value: the value given.

    Returns:
        ``value`` as a float.
    """
    if not isinstance(value, numbers.Real) or not 0 <= value < 1:  # type: ignore[operator]
        raise ValueError(f"{layer_name}: {arg} must be a number in [0, 1), got {value!r}")
    return float(value)


class Dense(Layer):
    """A fully connected layer: ``output = activation(x @ kernel + bias)``.

    ``kernel`` has shape (in, units) as in Keras, so ``get_weights`` arrays
    move between the two. On N-D input the product acts on the last axis.
    The weights are made on the first call, when the input's last axis is known.

    Args:
        units: positive int, the size of the output's last axis.
        activation: an activation name (``"relu"``, ``"softmax"``...) or a
            callable; None means linear, ``a(x) = x``.
        use_bias: whether the layer adds a bias vector.
        kernel_initializer: how ``kernel`` starts (name or initializer).
            Defaults to ``"glorot_uniform"``.
        bias_initializer: how ``bias`` starts. Defaults to ``"zeros"``.
        kernel_regularizer: a penalty on the kernel, added to the loss
            (``"l2"``, ``cr.regularizers.L2(1e-4)``...), or None.
        bias_regularizer: a penalty on the bias, or None.
        activity_regularizer: a penalty on the layer's output, or None.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` (see ``Layer``).

    Input shape: ``(batch, ..., in)``. Output shape: ``(batch, ..., units)``.

    Example:

    >>> layer = Dense(10, activation="softmax")
    >>> layer(cr.ones(5, 7, 4)).shape
    (5, 7, 10)
    >>> [w.shape for w in layer.get_weights()]          # kernel, bias
    [(4, 10), (10,)]
    """

    supports_masking = True      # passes its input's mask on (Keras)
    input_spec: InputSpec        # (set in __init__, never None here)

    def __init__(self, units: int, activation: activations.ActivationLike = None, use_bias: bool = True,
                 kernel_initializer: initializers.InitializerLike = "glorot_uniform",
                 bias_initializer: initializers.InitializerLike = "zeros",
                 kernel_regularizer: regularizers.RegularizerLike = None,
                 bias_regularizer: regularizers.RegularizerLike = None,
                 activity_regularizer: regularizers.RegularizerLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("Dense", "units", units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: Shape) -> None:
        self.input_spec.check(self, input_shape)      # at least (batch, features)
        in_features = input_shape[-1]
        if in_features is None:
            raise ShapeError(f"Dense layer '{self.name}': the last axis of the input must "
                             f"be known to build the kernel, got shape {input_shape}")
        self.kernel = self.add_weight("kernel", (in_features, self.units),
                                      self.kernel_initializer, self.kernel_regularizer)
        self.bias = (self.add_weight("bias", (self.units,), self.bias_initializer,
                                     self.bias_regularizer) if self.use_bias else None)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_features})

    def call(self, x: Tensor) -> Tensor:
        """``activation(x @ kernel + bias)``.

        Args:
            x: the input tensor.

        Returns:
            A tensor of shape ``x.shape[:-1] + (units,)``.
        """
        y = ops.linear(x, self.kernel, self.bias)     # x @ kernel + bias, one op
        y = self.activation(y)
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(y))
        return y

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)


class Activation(Layer):
    """Applies an activation function: ``Activation("relu")``.

    Args:
        activation: an activation name or a callable (None: the identity).
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).
    """

    supports_masking = True      # passes its input's mask on (Keras)

    def __init__(self, activation: activations.ActivationLike, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, x: Tensor) -> Tensor:
        """The activation applied to ``x``.

        Args:
            x: the input tensor.

        Returns:
            A tensor of ``x``'s shape.
        """
        return self.activation(x)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


class LeakyReLU(Layer):
    """x if x > 0 else negative_slope·x, with Keras' layer default slope 0.3.

    Args:
        negative_slope: the slope for x < 0, >= 0.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).
    """

    supports_masking = True      # passes its input's mask on (Keras)

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(negative_slope, numbers.Real) or negative_slope < 0:
            raise ValueError(f"LeakyReLU: negative_slope must be a number >= 0, "
                             f"got {negative_slope!r}")
        self.negative_slope: float = float(negative_slope)

    def call(self, x: Tensor) -> Tensor:
        """The leaky ReLU of ``x``.

        Args:
            x: the input tensor.

        Returns:
            A tensor of ``x``'s shape.
        """
        return ops.leaky_relu(x, alpha=self.negative_slope)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the entries while training and scales the
    rest by 1/(1 - rate); the identity at inference (Keras' ``Dropout``).

    With a ``seed`` the layer owns a generator, so successive calls draw
    different masks but a rebuilt layer repeats the same sequence.

    Args:
        rate: float in [0, 1), the fraction of the entries to drop.
        noise_shape: not supported; leave it None.
        seed: int or None (draw from chainrule's global generator).
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Example:

    >>> layer = Dropout(0.5, seed=0)
    >>> x = cr.ones(2, 4)
    >>> layer(x)                                  # inference: unchanged
    tensor([[1., 1., 1., 1.],
            [1., 1., 1., 1.]])
    >>> kept = layer(x, training=True).numpy()
    >>> sorted(set(kept.ravel().tolist()))        # dropped, or scaled by 1/(1 - 0.5)
    [0.0, 2.0]
    """

    supports_masking = True      # passes its input's mask on (Keras)

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = check_rate("Dropout", "rate", rate)
        if noise_shape is not None:
            raise NotImplementedError("Dropout: noise_shape is not supported; leave it None "
                                      "(an independent draw for every entry)")
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Drop entries of ``x`` while training.

        Args:
            x: the input tensor.
            training: drop only when True.

        Returns:
            A tensor of ``x``'s shape (``x`` itself at inference).
        """
        if not training or self.rate == 0:
            return x
        # The layer's own generator when seeded, else chainrule's global one.
        return ops.dropout(x, self.rate, training=True, seed=self._rng)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1·d2·...); a (batch,) input gives (batch, 1).

    Args:
        data_format: None or ``"channels_last"`` (chainrule is channels-last).
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).
    """

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError("Flatten: only data_format='channels_last' is supported "
                             f"(chainrule is channels-last), got {data_format!r}")

    def call(self, x: Tensor) -> Tensor:
        """``x`` with everything but the batch axis flattened.

        Args:
            x: the input tensor.

        Returns:
            A tensor of shape (batch, d1·d2·...).
        """
        return ops.reshape(x, (x.shape[0], -1))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))  # type: ignore[arg-type]
        return (input_shape[0], size)


class Reshape(Layer):
    """Reshapes everything but the batch axis to ``target_shape`` (one entry may be -1).

    Args:
        target_shape: the shape of one sample after the layer.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    >>> Reshape((2, -1))(cr.ones(5, 6)).shape
    (5, 2, 3)
    """

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        target = tuple(int(d) for d in target_shape)
        if any(d == 0 or d < -1 for d in target) or target.count(-1) > 1:
            raise ValueError(f"Reshape: target_shape must hold positive sizes and at most "
                             f"one -1, got {tuple(target_shape)}")
        self.target_shape = target

    def _resolve(self, rest):
        """``target_shape`` with the -1 worked out for a sample of shape ``rest``."""
        if any(d is None for d in rest):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = int(np.prod(rest, dtype=np.int64))
        known = int(np.prod([d for d in self.target_shape if d != -1], dtype=np.int64))
        if -1 in self.target_shape:
            ok = known > 0 and size % known == 0
            resolved = tuple(size // known if d == -1 else d for d in self.target_shape) if ok else None
        else:
            ok = known == size
            resolved = self.target_shape
        if not ok:
            raise ShapeError(f"Reshape layer '{self.name}': cannot reshape a sample of shape "
                             f"{tuple(rest)} ({size} values) into target_shape "
                             f"{self.target_shape}; the number of values must stay the same")
        return resolved

    def call(self, x: Tensor) -> Tensor:
        """``x`` reshaped, batch axis kept.

        Args:
            x: the input tensor.

        Returns:
            A tensor of shape ``(batch,) + target_shape``.
        """
        return ops.reshape(x, (x.shape[0],) + self._resolve(x.shape[1:]))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0],) + self._resolve(input_shape[1:])


class _Merge(Layer):
    """Base of the layers that take a list of tensors.

    The output's mask is the OR of the inputs' masks, None if one has none
    (as Keras 3 ``keras/src/layers/merging/base_merge.py`` ``compute_mask``).
    """

    supports_masking = True

    @graph.replayed        # (NumPy on the masks: a compiled step computes it for each batch)
    def compute_mask(self, inputs, mask=None):
        if not isinstance(mask, (list, tuple)) or \
                any(m is None for m in mask):
            return None
        return np.logical_or.reduce([np.asarray(m, bool) for m in mask])

    def _check_inputs(self, shapes):
        if not isinstance(shapes, (list, tuple)) or len(shapes) < 2 or \
                not all(isinstance(s, tuple) for s in shapes):
            raise ValueError(f"{type(self).__name__} layer '{self.name}' must be called on a "
                             f"list of at least 2 inputs, got {shapes!r}")

    def build(self, input_shape):
        self._check_inputs(input_shape)


class Add(_Merge):
    """Sum of a list of same-shape inputs: ``Add()([a, b])``."""

    def build(self, input_shape: Sequence[Shape]) -> None:
        super().build(input_shape)
        self._check_shapes(input_shape)

    def _check_shapes(self, shapes):
        first = shapes[0]
        for s in shapes[1:]:
            if len(s) != len(first) or any(a != b and None not in (a, b)
                                           for a, b in zip(s[1:], first[1:])):
                raise ShapeError(f"Add layer '{self.name}': all inputs must have the same "
                                 f"shape, got {', '.join(map(str, shapes))}")

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        """The sum of the inputs.

        Args:
            inputs: the tensors, all of one shape.

        Returns:
            A tensor of their shape.
        """
        self._check_shapes([tuple(x.shape) for x in inputs])
        total = inputs[0]
        for x in inputs[1:]:
            total = total + x
        return total

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        return tuple(input_shape[0])


class Concatenate(_Merge):
    """Joins a list of inputs along ``axis`` (default the last): ``Concatenate()([a, b])``.

    Args:
        axis: the axis to join along (not the batch axis).
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"Concatenate: axis must be an int, got {axis!r}")
        self.axis: int = int(axis)

    def build(self, input_shape: Sequence[Shape]) -> None:
        super().build(input_shape)
        self._check_shapes(input_shape)

    def _check_shapes(self, shapes):
        ndim = len(shapes[0])
        if any(len(s) != ndim for s in shapes) or not -ndim <= self.axis < ndim or \
                self.axis % ndim == 0:
            raise ShapeError(f"Concatenate layer '{self.name}': cannot join shapes "
                             f"{', '.join(map(str, shapes))} along axis {self.axis}; the "
                             f"inputs need the same number of dimensions and the axis must "
                             f"not be the batch axis")
        axis = self.axis % ndim
        for i in range(1, ndim):
            sizes = {s[i] for s in shapes} - {None}
            if i != axis and len(sizes) > 1:
                raise ShapeError(f"Concatenate layer '{self.name}': shapes "
                                 f"{', '.join(map(str, shapes))} differ on axis {i}; only "
                                 f"axis {self.axis} may differ")

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        """The inputs joined along ``axis``.

        Args:
            inputs: the tensors, equal but along ``axis``.

        Returns:
            A new tensor.
        """
        return ops.concatenate(list(inputs), axis=self.axis)

    @graph.replayed        # (NumPy on the masks: a compiled step computes it for each batch)
    def compute_mask(self, inputs: Sequence[Tensor], mask: Any = None) -> np.ndarray | None:
        """As Keras 3 ``merging/concatenate.py``: each mask spread over its input
        (all True for an input without one), joined along ``axis``, then any()
        over the last axis.

        Args:
            inputs: the input tensors.
            mask: one mask (or None) per input.

        Returns:
            The output's mask, or None.
        """
        if not isinstance(mask, (list, tuple)) or \
                all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask):
            shape = tuple(x.shape)
            m = np.ones(shape, bool) if m is None else np.asarray(m, bool)
            if m.ndim < len(shape):
                m = np.broadcast_to(m[..., None], shape)
            masks.append(m)
        return np.concatenate(masks, axis=self.axis).any(axis=-1)  # type: ignore[return-value]

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        axis = self.axis % len(input_shape[0])
        out = list(input_shape[0])
        sizes = [s[axis] for s in input_shape]
        out[axis] = None if None in sizes else int(sum(sizes))  # type: ignore[arg-type]
        return tuple(out)
