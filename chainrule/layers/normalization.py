"""BatchNormalization, LayerNormalization and GroupNormalization, as in Keras 3.

Training (``training=True``) normalizes with the statistics of the batch,

    y = gamma · (x - mean_B) / sqrt(var_B + epsilon) + beta

(var_B biased, over every axis but ``axis``), and the gradient flows through
mean_B and var_B too. Each such call also moves the running statistics,

    moving = moving · momentum + batch_statistic · (1 - momentum),

which inference (``training=False``, or a layer with ``trainable=False``)
uses in place of the batch's.

>>> import chainrule as cr
>>> bn = cr.layers.BatchNormalization()
>>> y = bn(cr.randn(32, 4) * 3 + 1, training=True)
>>> [w.name for w in bn.weights]
['gamma', 'beta', 'moving_mean', 'moving_variance']
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

import numpy as np

from .. import constraints, graph, initializers, ops, regularizers
from ..errors import ShapeError
from ..masks import mask_array
from ..graph import no_grad
from ..tensor import Tensor
from ..typing import Shape
from .base import InputSpec, Layer

__all__ = ["BatchNormalization", "GroupNormalization", "LayerNormalization"]


class BatchNormalization(Layer):
    """Normalizes each feature (entry along ``axis``) over the batch.

    While training, ``y = gamma · (x - mean) / sqrt(var + epsilon) + beta``
    with the batch's mean and variance, and the moving statistics follow
    them: ``moving = moving · momentum + batch · (1 - momentum)``; at
    inference the moving statistics are used (Keras 3 ``BatchNormalization``).

    Weights, in Keras' order: gamma (scale), beta (offset), then the
    non-trainable moving_mean and moving_variance.

    Args:
        axis: the feature axis (the channels). Defaults to -1.
        momentum: of the moving statistics. Defaults to 0.99.
        epsilon: added to the variance. Defaults to 1e-3.
        center: whether to learn an offset beta. Defaults to True.
        scale: whether to learn a scale gamma. Defaults to True.
        beta_initializer: how beta starts. Defaults to zeros.
        gamma_initializer: how gamma starts. Defaults to ones.
        moving_mean_initializer: how the moving mean starts. Defaults to zeros.
        moving_variance_initializer: how the moving variance starts. Defaults to ones.
        beta_regularizer: a penalty on beta added to the loss, or None.
        gamma_regularizer: a penalty on gamma added to the loss, or None.
        beta_constraint: a constraint applied to beta after each step, or None.
        gamma_constraint: a constraint applied to gamma after each step, or None.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Example:

    >>> layer = BatchNormalization()
    >>> x = cr.tensor([[1.0, 2.0], [3.0, 6.0]])
    >>> layer(x, training=True).numpy().round(2)       # each column: mean 0, std 1
    array([[-1., -1.],
           [ 1.,  1.]], dtype=float32)
    >>> [w.shape for w in layer.get_weights()]          # gamma, beta, moving mean, variance
    [(2,), (2,), (2,), (2,)]
    """

    # Set in __init__; declared here for type checkers.
    axis: int
    momentum: float
    moving_mean_initializer: Callable[..., Any]
    moving_variance_initializer: Callable[..., Any]
    epsilon: float
    center: bool
    scale: bool
    beta_initializer: Callable[..., Any]
    gamma_initializer: Callable[..., Any]
    beta_regularizer: Callable[..., Any] | None
    gamma_regularizer: Callable[..., Any] | None
    beta_constraint: constraints.ConstraintLike
    gamma_constraint: constraints.ConstraintLike

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True,
                 beta_initializer: initializers.InitializerLike = "zeros",
                 gamma_initializer: initializers.InitializerLike = "ones",
                 moving_mean_initializer: initializers.InitializerLike = "zeros",
                 moving_variance_initializer: initializers.InitializerLike = "ones",
                 beta_regularizer: regularizers.RegularizerLike = None,
                 gamma_regularizer: regularizers.RegularizerLike = None,
                 beta_constraint: constraints.ConstraintLike = None,
                 gamma_constraint: constraints.ConstraintLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"BatchNormalization: axis must be an int, got {axis!r}")
        if not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        if not isinstance(epsilon, numbers.Real) or epsilon <= 0:
            raise ValueError(f"BatchNormalization: epsilon must be a positive number, "
                             f"got {epsilon!r}")
        self.axis = int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint, self.gamma_constraint = beta_constraint, gamma_constraint

    def build(self, input_shape: Shape) -> None:
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ShapeError(f"BatchNormalization layer '{self.name}': axis {self.axis} does "
                             f"not name a feature axis of inputs of shape {input_shape} "
                             f"(axis 0 is the batch)")
        axis = self.axis % ndim
        features = input_shape[axis]
        if features is None:
            raise ShapeError(f"BatchNormalization layer '{self.name}': the size of axis "
                             f"{self.axis} must be known, got shape {input_shape}")
        shape = (features,)
        self.gamma = (self.add_weight("gamma", shape, self.gamma_initializer,
                                      self.gamma_regularizer, constraint=self.gamma_constraint)
                      if self.scale else None)
        self.beta = (self.add_weight("beta", shape, self.beta_initializer,
                                     self.beta_regularizer, constraint=self.beta_constraint)
                     if self.center else None)
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape,
                                               self.moving_variance_initializer, trainable=False)
        # Statistics are taken over every axis but the feature axis; the
        # weights are reshaped to broadcast along those axes.
        self._reduce_axes = tuple(i for i in range(ndim) if i != axis)
        self._broadcast_shape = tuple(features if i == axis else 1 for i in range(ndim))
        self.input_spec = InputSpec(ndim=ndim, axes={axis: features})

    supports_masking = True     # the mask passes on (Keras)

    def call(self, x: Tensor, training: bool = False, mask: Any = None) -> Tensor:
        """Normalize ``x`` (with the batch's statistics while training, else the moving ones).

        Args:
            x: the input tensor.
            training: use (and update) the batch's statistics.
            mask: a boolean (batch, steps) mask: masked steps are left out of the statistics.

        Returns:
            A tensor of ``x``'s shape.
        """
        # A frozen layer (trainable=False) always runs in inference mode, as
        # in Keras 3, so fine-tuning leaves its statistics alone.
        if training and self.trainable:
            if mask is None:
                mean = ops.mean(x, axis=self._reduce_axes)
                variance = ops.var(x, axis=self._reduce_axes)       # biased, as Keras
            else:
                mean, variance = self._masked_moments(x, mask)
            self._update_moving(mean, variance)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        mean = ops.reshape(mean, self._broadcast_shape)
        variance = ops.reshape(variance, self._broadcast_shape)
        y = (x - mean) / ops.sqrt(variance + self.epsilon)
        if self.gamma is not None:
            y = y * ops.reshape(self.gamma, self._broadcast_shape)
        if self.beta is not None:
            y = y + ops.reshape(self.beta, self._broadcast_shape)
        return y

    def _masked_moments(self, x, mask):
        """Mean and variance over the unmasked steps only, a mask (batch, steps)
        on a (batch, steps, features) input (Keras 3 ``batch_normalization.py``
        ``_moments``, its ε = 1e-7 in the denominators included)."""
        keep, count = self._kept_and_count(mask, tuple(x.shape), x.dtype)
        mean = ops.sum(ops.where(keep, x, 0.0), axis=self._reduce_axes) / count
        centered = ops.where(keep, x - ops.reshape(mean, self._broadcast_shape), 0.0)
        return mean, ops.sum(centered * centered, axis=self._reduce_axes) / count

    @graph.replayed       # (NumPy on the mask: a compiled step computes it for each batch)
    def _kept_and_count(self, mask, shape, dtype):
        """The mask spread over the features, and the count of kept entries per
        feature (+ ε); the mask checked to be (batch, steps)."""
        mask = mask_array(mask)
        mask = mask.astype(bool, copy=False)
        if mask.shape != shape[:-1]:
            raise ShapeError(f"BatchNormalization layer '{self.name}': the mask must have the "
                             f"input's shape without its last axis, {shape[:-1]}, "
                             f"got {mask.shape}")
        keep = np.broadcast_to(mask[..., None], shape)
        return keep, keep.sum(axis=self._reduce_axes).astype(dtype) + 1e-7

    @graph.effect
    def _update_moving(self, mean, variance):
        # In place and unrecorded: the running statistics are state, not part
        # of the graph. Bumping _version makes any graph that saved their old
        # values refuse to backpropagate through the new ones.
        with no_grad():
            for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
                moving.data[...] = (moving.data * self.momentum +
                                    batch.data.astype(moving.dtype) * (1 - self.momentum))
                moving._version += 1

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


def _check_epsilon(layer, epsilon):
    if not isinstance(epsilon, numbers.Real) or epsilon <= 0:
        raise ValueError(f"{layer}: epsilon must be a positive number, got {epsilon!r}")
    return float(epsilon)


class LayerNormalization(Layer):
    """Normalizes each sample over ``axis`` (the features), as Keras 3
    ``keras/src/layers/normalization/layer_normalization.py``:

        y = gamma · (x - mean) / sqrt(var + epsilon) + beta

    mean and (biased) var taken over ``axis`` for each sample alone; one fused
    op, ``ops.layer_norm``.

    Args:
        axis: int or list of ints, the axes normalized together. Defaults to -1.
        epsilon: added to the variance. Defaults to 1e-3 (Keras' default;
            PyTorch's LayerNorm uses 1e-5).
        center: whether to add an offset beta. Defaults to True.
        scale: whether to multiply by a scale gamma. Defaults to True.
        beta_initializer: how beta starts. Defaults to ``"zeros"``.
        gamma_initializer: how gamma starts. Defaults to ``"ones"``.
        beta_regularizer: a penalty on beta, or None.
        gamma_regularizer: a penalty on gamma, or None.
        beta_constraint: a constraint on beta, or None.
        gamma_constraint: a constraint on gamma, or None.
        rms_scaling: Keras' deprecated flag: x · rsqrt(var + epsilon) · gamma,
            no centering and no beta.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Weights, in Keras' order: gamma, beta, each of shape
    ``tuple(input_shape[a] for a in axis)``.

    Example:

    >>> ln = LayerNormalization()
    >>> y = ln(cr.randn(4, 8))
    >>> [w.name for w in ln.weights], np.allclose(y.numpy().mean(-1), 0, atol=1e-6)
    (['gamma', 'beta'], True)
    """

    # Set in __init__; declared here for type checkers.
    axis: int | list[int]
    rms_scaling: bool
    epsilon: float
    center: bool
    scale: bool
    beta_initializer: Callable[..., Any]
    gamma_initializer: Callable[..., Any]
    beta_regularizer: Callable[..., Any] | None
    gamma_regularizer: Callable[..., Any] | None
    beta_constraint: constraints.ConstraintLike
    gamma_constraint: constraints.ConstraintLike

    def __init__(self, axis: int | Sequence[int] = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: initializers.InitializerLike = "zeros",
                 gamma_initializer: initializers.InitializerLike = "ones",
                 beta_regularizer: regularizers.RegularizerLike = None,
                 gamma_regularizer: regularizers.RegularizerLike = None,
                 beta_constraint: constraints.ConstraintLike = None,
                 gamma_constraint: constraints.ConstraintLike = None,
                 rms_scaling: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            axis = [int(a) for a in axis]
        elif isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"LayerNormalization: axis must be an int or a list of ints, "
                            f"got {axis!r}")
        self.axis = axis  # type: ignore[assignment]  # (mypy: an int is a numbers.Integral)
        self.epsilon = _check_epsilon("LayerNormalization", epsilon)
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)
        self.supports_masking = True        # a mask passes through, as Keras
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint, self.gamma_constraint = beta_constraint, gamma_constraint

    def build(self, input_shape: Shape) -> None:
        ndim = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -ndim <= a < ndim or a % ndim == 0:
                raise ShapeError(f"LayerNormalization layer '{self.name}': axis {a} does not "
                                 f"name a feature axis of inputs of shape {input_shape} "
                                 f"(use 1..{ndim - 1} or -1..-{ndim - 1})")
        self._axes = tuple(sorted(a % ndim for a in axes))
        shape = tuple(input_shape[a] for a in self._axes)
        if None in shape:
            raise ShapeError(f"LayerNormalization layer '{self.name}': the normalized axes "
                             f"{self._axes} must have known sizes, got shape {input_shape}")
        self._broadcast_shape = tuple(input_shape[i] if i in self._axes else 1
                                      for i in range(ndim))
        self.gamma = (self.add_weight("gamma", shape, self.gamma_initializer,
                                      self.gamma_regularizer, constraint=self.gamma_constraint)
                      if self.scale or self.rms_scaling else None)
        self.beta = (self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer,
                                     constraint=self.beta_constraint)
                     if self.center and not self.rms_scaling else None)
        self.input_spec = InputSpec(ndim=ndim, axes={a: input_shape[a] for a in self._axes})

    def _param(self, w):
        if w is None or self._axes == (len(self._broadcast_shape) - 1,):
            return w
        return ops.reshape(w, self._broadcast_shape)

    def call(self, x: Tensor) -> Tensor:
        """Normalize each sample of ``x`` over ``axis``.

        Args:
            x: the input tensor.

        Returns:
            A tensor of ``x``'s shape.
        """
        if self.rms_scaling:
            y = x / ops.sqrt(ops.var(x, axis=self._axes, keepdims=True) + self.epsilon)
            return y * self._param(self.gamma)
        return ops.layer_norm(x, self._param(self.gamma), self._param(self.beta),
                              axis=self._axes, epsilon=self.epsilon)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


class GroupNormalization(Layer):
    """Normalizes each sample over groups of channels, as Keras 3
    ``keras/src/layers/normalization/group_normalization.py``: the ``groups``
    groups of C/groups channels along ``axis`` are each normalized over
    their channels and every other non-batch axis, then scaled by gamma and
    shifted by beta per channel. ``groups=-1`` is one group per channel
    (instance normalization); ``groups=1`` normalizes everything per sample.

    Args:
        groups: positive int dividing the channels, or -1. Defaults to 32.
        axis: the channel axis. Defaults to -1.
        epsilon: added to the variance. Defaults to 1e-3.
        center: whether to add an offset beta. Defaults to True.
        scale: whether to multiply by a scale gamma. Defaults to True.
        beta_initializer: how beta starts. Defaults to ``"zeros"``.
        gamma_initializer: how gamma starts. Defaults to ``"ones"``.
        beta_regularizer: a penalty on beta, or None.
        gamma_regularizer: a penalty on gamma, or None.
        beta_constraint: a constraint on beta, or None.
        gamma_constraint: a constraint on gamma, or None.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Weights: gamma, beta, each (channels,).

    Example:

    >>> GroupNormalization(groups=2)(cr.randn(2, 5, 4)).shape
    (2, 5, 4)
    """

    # Set in __init__; declared here for type checkers.
    axis: int
    groups: int
    epsilon: float
    center: bool
    scale: bool
    beta_initializer: Callable[..., Any]
    gamma_initializer: Callable[..., Any]
    beta_regularizer: Callable[..., Any] | None
    gamma_regularizer: Callable[..., Any] | None
    beta_constraint: constraints.ConstraintLike
    gamma_constraint: constraints.ConstraintLike

    def __init__(self, groups: int = 32, axis: int = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: initializers.InitializerLike = "zeros",
                 gamma_initializer: initializers.InitializerLike = "ones",
                 beta_regularizer: regularizers.RegularizerLike = None,
                 gamma_regularizer: regularizers.RegularizerLike = None,
                 beta_constraint: constraints.ConstraintLike = None,
                 gamma_constraint: constraints.ConstraintLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or \
                (groups <= 0 and groups != -1):
            raise ValueError(f"GroupNormalization: groups must be a positive int (or -1 for "
                             f"one group per channel), got {groups!r}")
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"GroupNormalization: axis must be an int, got {axis!r}")
        self.groups, self.axis = int(groups), int(axis)
        self.epsilon = _check_epsilon("GroupNormalization", epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.supports_masking = True
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint, self.gamma_constraint = beta_constraint, gamma_constraint

    def build(self, input_shape: Shape) -> None:
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ShapeError(f"GroupNormalization layer '{self.name}': axis {self.axis} does "
                             f"not name a channel axis of inputs of shape {input_shape}")
        self._axis = self.axis % ndim
        channels = input_shape[self._axis]
        if channels is None:
            raise ShapeError(f"GroupNormalization layer '{self.name}': the channel axis must "
                             f"have a known size, got shape {input_shape}")
        groups = channels if self.groups == -1 else self.groups
        if channels % groups:
            raise ValueError(f"GroupNormalization layer '{self.name}': groups={groups} must "
                             f"divide the {channels} channels (axis {self.axis}); use one of "
                             f"{[g for g in range(1, channels + 1) if channels % g == 0]}")
        self._groups = groups
        self.gamma = (self.add_weight("gamma", (channels,), self.gamma_initializer,
                                      self.gamma_regularizer, constraint=self.gamma_constraint)
                      if self.scale else None)
        self.beta = (self.add_weight("beta", (channels,), self.beta_initializer,
                                     self.beta_regularizer, constraint=self.beta_constraint)
                     if self.center else None)
        self.input_spec = InputSpec(ndim=ndim, axes={self._axis: channels})

    def call(self, x: Tensor) -> Tensor:
        """Normalize each group of channels of ``x``.

        Args:
            x: the input tensor.

        Returns:
            A tensor of ``x``'s shape.
        """
        a, g = self._axis, self._groups
        grouped_shape = x.shape[:a] + (g, x.shape[a] // g) + x.shape[a + 1:]
        # (…, G, C/G, …): every axis but the batch and the group axis is normalized.
        broadcast = tuple(grouped_shape[i] if i in (a, a + 1) else 1
                          for i in range(len(grouped_shape)))
        axes = tuple(i for i in range(1, len(grouped_shape)) if i != a)
        gamma = None if self.gamma is None else ops.reshape(self.gamma, broadcast)
        beta = None if self.beta is None else ops.reshape(self.beta, broadcast)
        y = ops.layer_norm(ops.reshape(x, grouped_shape), gamma, beta, axis=axes,
                           epsilon=self.epsilon)
        return ops.reshape(y, x.shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)
