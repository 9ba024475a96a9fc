"""Wrappers: a layer run in both directions (``Bidirectional``) or on every
time step (``TimeDistributed``), as Keras 3 ``keras/src/layers/rnn/``.

>>> import chainrule as cr
>>> from chainrule import layers
>>> bi = layers.Bidirectional(layers.LSTM(4, return_sequences=True))
>>> bi(cr.randn(2, 5, 3)).shape              # forward and backward joined
(2, 5, 8)
>>> [w.shape for w in bi.get_weights()]     # forward's weights, then backward's
[(3, 16), (4, 16), (16,), (3, 16), (4, 16), (16,)]
>>> layers.TimeDistributed(layers.Dense(6))(cr.randn(2, 5, 3)).shape
(2, 5, 6)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import graph, ops
from ..errors import ShapeError
from ..masks import mask_array
from ..tensor import Tensor
from ..typing import Shape
from .base import Layer, deserialize, serialize
from .recurrent import _Recurrent

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _renamed_copy(layer: Layer, prefix: str, **changes: Any) -> Any:
    """A fresh copy of ``layer`` from its config, named ``<prefix>_<name>``."""
    spec = serialize(layer)
    config = dict(spec["config"])
    config.update(changes)
    base = layer.name.removeprefix(f"{prefix}_")
    config["name"] = f"{prefix}_{base}"
    return deserialize({**spec, "config": config})


class Bidirectional(Layer):
    """Runs a recurrent layer forward and a copy of it backward, and merges the two.

    As Keras 3 ``keras/src/layers/rnn/bidirectional.py``: the forward layer is
    a copy of ``layer`` named ``forward_<name>``; the backward layer is
    ``backward_layer`` or a copy with ``go_backwards=True`` named
    ``backward_<name>``. With ``return_sequences`` the backward outputs are
    flipped back to the input's order before merging. The weights are the
    forward layer's then the backward layer's (Keras' layout). A mask reaches
    both layers; with ``return_sequences`` their masked steps output zeros
    (Keras sets ``zero_output_for_mask``).

    Args:
        layer: a ``SimpleRNN``, ``GRU`` or ``LSTM``.
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"``, or
            None for the list [forward, backward].
        weights: optional list of arrays, the forward half then the backward half.
        backward_layer: optional recurrent layer with ``go_backwards=True``.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Input shape: ``(batch, steps, features)``. Output shape: ``(batch, steps,
    2·units)`` for concat with ``return_sequences``, ``(batch, 2·units)`` without.

    Example:

    >>> bi = Bidirectional(cr.layers.GRU(4), merge_mode="sum")
    >>> bi(cr.ones(2, 5, 3)).shape
    (2, 4)
    """

    supports_masking = True

    def __init__(self, layer: _Recurrent, merge_mode: str | None = "concat",
                 weights: list[Any] | None = None, backward_layer: _Recurrent | None = None,
                 **kwargs: Any) -> None:
        if not isinstance(layer, _Recurrent):
            raise ValueError(f"Bidirectional: layer must be a recurrent layer (SimpleRNN, GRU, "
                             f"LSTM), got {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, _Recurrent):
            raise ValueError(f"Bidirectional: backward_layer must be a recurrent layer, got "
                             f"{backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {list(_MERGE_MODES)}, "
                             f"got {merge_mode!r}")
        super().__init__(**kwargs)
        self.forward_layer = _renamed_copy(layer, "forward")
        if backward_layer is None:
            backward_layer = _renamed_copy(layer, "backward", go_backwards=True)
        self.backward_layer = backward_layer
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError(f"Bidirectional '{self.name}': the forward and backward layers "
                             f"need different go_backwards values, got "
                             f"{self.forward_layer.go_backwards} for both")
        for attr in ("return_sequences", "return_state"):
            if getattr(self.forward_layer, attr) != getattr(self.backward_layer, attr):
                raise ValueError(f"Bidirectional '{self.name}': the forward and backward "
                                 f"layers need the same {attr}")
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self._initial_weights = weights

    def build(self, input_shape: Shape) -> None:
        self.forward_layer._maybe_build(input_shape)
        self.backward_layer._maybe_build(input_shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, sequences: Tensor, training: bool = False,
             initial_state: list[Tensor] | None = None, mask: Any = None) -> Any:
        """Run both layers and merge their outputs.

        Args:
            sequences: the input, ``(batch, steps, features)``.
            training: the training flag, passed to both layers.
            initial_state: the forward layer's states then the backward layer's, or None.
            mask: booleans ``(batch, steps)`` (False: padding), or None.

        Returns:
            The merged output; a list ``[forward, backward]`` with ``merge_mode=None``; followed by
            the states with ``return_state``.
        """
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        y = self.forward_layer(sequences, training=training, initial_state=forward_state,
                               mask=mask)
        y_rev = self.backward_layer(sequences, training=training,
                                    initial_state=backward_state, mask=mask)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        output: Tensor | list[Tensor]
        if self.merge_mode == "concat":
            output = ops.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = [y, y_rev]
        if self.return_state:
            return (output if isinstance(output, list) else [output]) + states
        return output

    def compute_output_shape(self, input_shape: Shape) -> Any:
        shape = self.forward_layer.compute_output_shape(input_shape)
        state_shapes = []
        if self.return_state:
            shape, state_shapes = shape[0], list(shape[1:])
        if self.merge_mode == "concat":
            shape = tuple(shape[:-1]) + (shape[-1] * 2,)
        output = [shape, shape] if self.merge_mode is None else [shape]
        if self.return_state:
            return output + state_shapes + state_shapes
        return output if self.merge_mode is None else shape

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """As Keras: the input's mask with ``return_sequences``, else none.

        Args:
            inputs: the input.
            mask: the input's mask, or None.

        Returns:
            The output's mask (a list when there are several outputs).
        """
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        mask = mask if self.return_sequences else None
        output = [mask, mask] if self.merge_mode is None else [mask]
        if self.return_state:
            return output + [None] * (2 * len(self.forward_layer._state_names))
        return output if self.merge_mode is None else mask

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name,
                "merge_mode": self.merge_mode, "layer": serialize(self.forward_layer),
                "backward_layer": serialize(self.backward_layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize(config["backward_layer"])
        return cls(**config)


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step: (batch, steps, ...) -> (batch, steps, ...).

    As Keras 3 ``keras/src/layers/rnn/time_distributed.py``; the steps go
    through ``layer`` together, as one batch of batch·steps samples, and the
    weights are ``layer``'s. The input's mask passes through; a mask with
    more axes than (batch, steps) also reaches a ``layer`` that takes one.

    Args:
        layer: any layer taking one tensor.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Example:

    >>> td = TimeDistributed(cr.layers.Dense(2))
    >>> td(cr.ones(4, 3, 5)).shape
    (4, 3, 2)
    """

    supports_masking = True

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: layer must be a Layer instance, got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def _child_shape(self, input_shape: Any) -> Shape:
        if not isinstance(input_shape, tuple) or len(input_shape) < 3:
            raise ShapeError(f"TimeDistributed layer '{self.name}' expects input of at least "
                             f"3 dimensions (batch, steps, ...), got shape {input_shape}")
        return (input_shape[0],) + tuple(input_shape[2:])

    def build(self, input_shape: Shape) -> None:
        self.layer._maybe_build(self._child_shape(input_shape))

    def call(self, x: Tensor, training: bool = False, mask: Any = None) -> Tensor:
        """Apply the layer to every time step.

        Args:
            x: the input, ``(batch, steps, ...)``.
            training: the training flag, passed to the layer.
            mask: booleans starting with ``(batch, steps)``, or None.

        Returns:
            The layer's output for every step, ``(batch, steps, ...)``.
        """
        batch, steps = x.shape[:2]
        if mask is not None:
            mask = _step_mask(self.name, mask, batch, steps)
        kwargs = {}
        if mask is not None and mask.ndim > 2 and "mask" in self.layer._call_param_names:
            # a mask over the inner steps too (ids (batch, steps, words)): each step's own
            kwargs["mask"] = _inner_mask(mask, batch * steps)
        y = self.layer(ops.reshape(x, (batch * steps,) + tuple(x.shape[2:])), training=training,
                       **kwargs)
        if not isinstance(y, Tensor):
            raise ValueError(f"TimeDistributed layer '{self.name}': the wrapped layer must "
                             f"return one tensor")
        return ops.reshape(y, (batch, steps) + tuple(y.shape[1:]))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        return (input_shape[0], input_shape[1]) + tuple(child[1:])

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name,
                "layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        return cls(**config)


# The masks' NumPy runs outside any op: graph.replayed makes a compiled step
# (cr.jit) compute it again for each batch.
@graph.replayed
def _step_mask(name: str, mask: Any, batch: int, steps: int) -> np.ndarray:
    """TimeDistributed's mask as an array, checked to start with (batch, steps)."""
    mask = mask_array(mask)
    if mask.shape[:2] != (batch, steps):
        raise ShapeError(f"TimeDistributed layer '{name}': the mask must start "
                         f"with (batch, steps) = {(batch, steps)}, got shape "
                         f"{mask.shape}")
    return mask


@graph.replayed
def _inner_mask(mask: np.ndarray, rows: int) -> np.ndarray:
    """A (batch, steps, ...) mask as (batch * steps, ...): each step's own."""
    return mask.reshape((rows,) + mask.shape[2:])

