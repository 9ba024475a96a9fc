"""BatchNormalization, as in Keras 3.

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
import numbers

from .. import initializers, ops, regularizers
from ..errors import ShapeError
from ..graph import no_grad
from .base import InputSpec, Layer

__all__ = ["BatchNormalization"]


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
        center, scale: whether to learn beta, gamma. Default to True.
        beta_initializer, gamma_initializer, moving_mean_initializer,
            moving_variance_initializer: how each starts (zeros, ones, zeros, ones).
        beta_regularizer, gamma_regularizer: penalties added to the loss, or None.
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

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **kwargs):
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

    def build(self, input_shape):
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
                                      self.gamma_regularizer) if self.scale else None)
        self.beta = (self.add_weight("beta", shape, self.beta_initializer,
                                     self.beta_regularizer) if self.center else None)
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape,
                                               self.moving_variance_initializer, trainable=False)
        # Statistics are taken over every axis but the feature axis; the
        # weights are reshaped to broadcast along those axes.
        self._reduce_axes = tuple(i for i in range(ndim) if i != axis)
        self._broadcast_shape = tuple(features if i == axis else 1 for i in range(ndim))
        self.input_spec = InputSpec(ndim=ndim, axes={axis: features})

    def call(self, x, training=False):
        # A frozen layer (trainable=False) always runs in inference mode, as
        # in Keras 3, so fine-tuning leaves its statistics alone.
        if training and self.trainable:
            mean = ops.mean(x, axis=self._reduce_axes)
            variance = ops.var(x, axis=self._reduce_axes)           # biased, as Keras
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

    def _update_moving(self, mean, variance):
        # In place and unrecorded: the running statistics are state, not part
        # of the graph. Bumping _version makes any graph that saved their old
        # values refuse to backpropagate through the new ones.
        with no_grad():
            for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
                moving.data[...] = (moving.data * self.momentum +
                                    batch.data.astype(moving.dtype) * (1 - self.momentum))
                moving._version += 1

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)
