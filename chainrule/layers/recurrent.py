"""Recurrent layers: SimpleRNN, LSTM and GRU, with Keras 3's weight layouts.

Input is (batch, time, features). Each layer keeps a state and walks the
sequence one step at a time. With the default activations the whole walk is
one fused op (``cr.ops.lstm``, ``cr.ops.gru``, ``cr.ops.simple_rnn``: a NumPy
loop with a hand-written backpropagation through time); otherwise, or with
``layer.fused = False``, every step is made of chainrule ops and the gradient
flows back through time by the ordinary backward pass.

A mask ((batch, steps) booleans: from ``Embedding(mask_zero=True)``,
``Masking``, or ``layer(x, mask=m)``) makes a masked step keep the states
and repeat the previous output, as Keras 3 ``backend.rnn`` does. The fused
op still runs: each sequence's unmasked steps are moved to the front, and
each step reads the states after its last unmasked step.

The input part of every step does not depend on the state, so ``x @ kernel``
is computed for all steps in one matrix product before the loop; the loop
only adds ``h_prev @ recurrent_kernel``.

>>> import chainrule as cr
>>> lstm = cr.layers.LSTM(8, return_sequences=True)
>>> lstm(cr.randn(2, 5, 3)).shape
(2, 5, 8)
>>> [w.shape for w in lstm.weights]     # kernel, recurrent_kernel, bias; gates i, f, c, o
[(3, 32), (8, 32), (32,)]
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .. import activations, graph, initializers, ops, regularizers
from ..errors import ShapeError
from ..masks import mask_array
from ..random import dropout_scale
from ..tensor import Tensor, as_tensor
from ..typing import Shape
from .base import InputSpec, Layer
from .core import check_positive_int, check_rate

__all__ = ["GRU", "LSTM", "SimpleRNN"]


class _Recurrent(Layer):
    """What the three layers share: arguments, weights, the time loop, outputs.

    A subclass sets ``_gates`` (how many blocks of ``units`` columns the
    kernels have), ``_state_names`` and writes ``_step``.
    """

    _gates = 1
    _state_names: tuple[str, ...] = ("h",)
    input_spec: InputSpec       # set in __init__, never None

    def __init__(self, units: int, activation: str | Callable[..., Any] | None = "tanh",
                 use_bias: bool = True,
                 kernel_initializer: initializers.InitializerLike = "glorot_uniform",
                 recurrent_initializer: initializers.InitializerLike = "orthogonal",
                 bias_initializer: initializers.InitializerLike = "zeros",
                 kernel_regularizer: regularizers.RegularizerLike = None,
                 recurrent_regularizer: regularizers.RegularizerLike = None,
                 bias_regularizer: regularizers.RegularizerLike = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        name = type(self).__name__
        self.units = check_positive_int(name, "units", units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = check_rate(name, "dropout", dropout)
        self.recurrent_dropout = check_rate(name, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        # masked steps output zeros instead of repeating the last output (Keras'
        # RNN argument; Bidirectional sets it to return_sequences)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        if stateful:
            raise NotImplementedError(f"{name}: stateful=True is not supported; pass the "
                                      f"last state back yourself with initial_state=")
        # unroll is accepted for Keras compatibility: the Python loop below is
        # an unrolled loop already.
        self.input_spec = InputSpec(ndim=3)

    # -- weights ---------------------------------------------------------------
    def _bias_shape(self) -> tuple[int, ...]:
        return (self._gates * self.units,)

    def _bias_init(self) -> Any:
        return self.bias_initializer

    def build(self, input_shape: Shape) -> None:
        self.input_spec.check(self, input_shape)
        features = input_shape[-1]
        if features is None:
            raise ShapeError(f"{type(self).__name__} layer '{self.name}': the feature axis "
                             f"(last) of the input must be known, got {input_shape}")
        width = self._gates * self.units
        self.kernel = self.add_weight("kernel", (features, width), self.kernel_initializer,
                                      self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, width),
                                                self.recurrent_initializer,
                                                self.recurrent_regularizer)
        self.bias = (self.add_weight("bias", self._bias_shape(), self._bias_init(),
                                     self.bias_regularizer) if self.use_bias else None)
        self.input_spec = InputSpec(ndim=3, axes={-1: features})

    def _input_bias(self) -> Any:
        """The bias added to ``x @ kernel`` (GRU's reset_after splits it in two)."""
        return self.bias

    # -- the loop --------------------------------------------------------------
    def _dropout_mask(self, shape: tuple[int, ...], rate: float, dtype: Any) -> Tensor:
        """One mask per sequence (the same at every step), scaled by 1/(1-rate)."""
        return Tensor._wrap(dropout_scale(self._rng, shape, rate, dtype))

    def _initial_states(self, batch: int, dtype: Any, initial_state: Any) -> list[Tensor]:
        if initial_state is None:
            return [Tensor(np.zeros((batch, self.units), dtype)) for _ in self._state_names]
        if isinstance(initial_state, (Tensor, np.ndarray)):
            initial_state = [initial_state]
        states = [as_tensor(s) for s in initial_state]
        if len(states) != len(self._state_names) or \
                any(s.shape != (batch, self.units) for s in states):
            raise ShapeError(
                f"{type(self).__name__} layer '{self.name}': initial_state must be "
                f"{len(self._state_names)} tensor(s) ({', '.join(self._state_names)}) of shape "
                f"({batch}, {self.units}), got shapes {[s.shape for s in states]}")
        return states

    def call(self, x: Tensor, training: bool = False, initial_state: Any = None,
             mask: Any = None) -> Any:
        """Walk the sequence.

        Args:
            x: the input, ``(batch, steps, features)``.
            training: apply ``dropout`` and ``recurrent_dropout``.
            initial_state: the starting states (a tensor or a list, one per state), or None for
                zeros.
            mask: booleans ``(batch, steps)`` (False: padding, the states carry over), or None.

        Returns:
            The last output ``(batch, units)``, or every step's ``(batch, steps, units)`` with
            ``return_sequences``; with ``return_state`` a list [output, *final states].
        """
        batch, steps, features = x.shape
        if steps == 0:
            raise ShapeError(f"{type(self).__name__} layer '{self.name}': the input has no "
                             f"time steps (shape {x.shape})")
        mask = self._check_mask(mask, (batch, steps))
        if self.go_backwards:
            x = x[:, ::-1]                     # and the outputs stay in that order (Keras)
            mask = None if mask is None else _reversed_steps(mask)
        if training and self.dropout:
            x = x * ops.reshape(self._dropout_mask((batch, features), self.dropout, x.dtype),
                                (batch, 1, features))
        recurrent_mask = None
        if training and self.recurrent_dropout:
            recurrent_mask = self._dropout_mask((batch, self.units), self.recurrent_dropout,
                                                x.dtype)
        if self.fused and self._fusable():
            # One op for the whole sequence (chainrule.ops.rnn): the same
            # numbers, a fraction of the per-op bookkeeping.
            states = (None if initial_state is None
                      else self._initial_states(batch, x.dtype, initial_state))
            if mask is None:
                output, states = self._fused_call(x, states, recurrent_mask)
            else:
                output, states = self._fused_masked_call(x, mask, states, recurrent_mask)
            return [output] + list(states) if self.return_state else output

        # The input half of every step at once: (batch, time, gates·units).
        x_proj = ops.matmul(x, self.kernel)
        if self.use_bias:
            x_proj = x_proj + self._input_bias()

        states = self._initial_states(batch, x_proj.dtype, initial_state)
        outputs = []
        previous = Tensor(np.zeros((batch, self.units), x_proj.dtype))
        for t in range(steps):
            output, new_states = self._step(x_proj[:, t], states, recurrent_mask)
            if mask is None:
                states = new_states
            else:
                # a masked step keeps the states and repeats the previous output
                # (zeros with zero_output_for_mask), as Keras' backend.rnn
                keep = mask[:, t:t + 1]
                states = [ops.where(keep, new, old) for new, old in zip(new_states, states)]
                output = ops.where(keep, output, 0.0 if self.zero_output_for_mask else previous)
                previous = output
            if self.return_sequences:
                outputs.append(output)
        output = ops.stack(outputs, axis=1) if self.return_sequences else output
        return [output] + list(states) if self.return_state else output

    # A layer with the default activations runs as one fused op; setting
    # ``layer.fused = False`` walks the steps with ordinary ops instead (the
    # tests compare the two).
    fused = True

    def _fusable(self) -> bool:
        return False

    @graph.replayed
    def _check_mask(self, mask: Any, expected: tuple[int, int]) -> np.ndarray | None:
        """The mask as a boolean array of shape ``expected`` (batch, steps), or None."""
        if mask is None:
            return None
        if isinstance(mask, (list, tuple)):      # Keras passes [mask] for nested inputs
            mask = mask[0]
        mask = mask_array(mask)
        if mask.shape != expected:
            raise ShapeError(f"{type(self).__name__} layer '{self.name}': the mask must have "
                             f"shape (batch, steps) = {expected}, got {mask.shape}")
        return mask.astype(bool, copy=False)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The input's mask with ``return_sequences`` (and None for the states), as
        Keras 3 ``keras/src/layers/rnn/rnn.py``; None otherwise.

        Args:
            inputs: the input.
            mask: the input's mask, or None.

        Returns:
            The output's mask (a list with None for each state under ``return_state``), or None.
        """
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self._state_names)
        return output_mask

    def _fused_call(self, x, states, recurrent_mask):
        """(output, final states) from the fused op; ``states`` None means zeros."""
        raise NotImplementedError

    def _fused_sequences(self, x, states, recurrent_mask):
        """Every step's states from the fused op: a list of (batch, time, units)."""
        raise NotImplementedError

    def _fused_masked_call(self, x, mask, states, recurrent_mask):
        """The fused op under a mask. A masked step changes nothing, so the states
        follow each sequence's unmasked steps alone: they are moved to the front
        (in order), the op runs once, and step t reads the states after the last
        unmasked step at or before t (zeros before the first, as Keras' rnn)."""
        batch, steps = mask.shape
        rows = np.arange(batch)[:, None]
        order, seen, last, mask3 = _mask_layout(mask)
        seqs = self._fused_sequences(x[rows, order], states, recurrent_mask)
        zeros = Tensor(np.zeros((batch, 1, self.units), x.dtype))
        outputs = ops.concatenate([zeros, seqs[0]], axis=1)[rows, seen]
        if self.zero_output_for_mask:
            outputs = ops.where(mask3, outputs, 0.0)
        if states is None:
            states = [zeros[:, 0]] * len(seqs)
        final = [ops.concatenate([ops.expand_dims(s0, 1), seq], axis=1)[np.arange(batch), last]
                 for s0, seq in zip(states, seqs)]
        return (outputs if self.return_sequences else outputs[:, -1]), final

    def _step(self, x_t, states, recurrent_mask):
        """One time step: (output, new states) from this step's x @ kernel (+ bias)."""
        raise NotImplementedError

    def _recurrent_input(self, h, recurrent_mask):
        return h if recurrent_mask is None else h * recurrent_mask

    def compute_output_shape(self, input_shape: Shape) -> Any:
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * len(self._state_names)
        return out


class SimpleRNN(_Recurrent):
    """The plain recurrence h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias).

    Weights: kernel (features, units), recurrent_kernel (units, units), bias (units,).

    Args:
        units: positive int, the size of h.
        activation: the activation, default ``"tanh"``.
        **kwargs: ``name``, ``dtype`` and the arguments every recurrent layer takes: ``use_bias``,
            ``kernel_initializer``, ``recurrent_initializer`` (``"orthogonal"``),
            ``bias_initializer``, the regularizers, ``dropout``, ``recurrent_dropout``, ``seed``,
            ``return_sequences``, ``return_state``, ``go_backwards``, ``stateful`` (False only),
            ``unroll``.

    Example:

    >>> layer = SimpleRNN(4, return_state=True)
    >>> output, h = layer(cr.ones(2, 5, 3))
    >>> output.shape, h.shape
    ((2, 4), (2, 4))
    """

    def __init__(self, units: int, activation: str | Callable[..., Any] | None = "tanh",
                 **kwargs: Any) -> None:
        super().__init__(units, activation=activation, **kwargs)

    def _step(self, x_t, states, recurrent_mask):
        (h_prev,) = states
        h = self.activation(x_t + ops.matmul(self._recurrent_input(h_prev, recurrent_mask),
                                             self.recurrent_kernel))
        return h, [h]

    def _fusable(self):
        return self.activation is activations.tanh

    def _fused_call(self, x, states, recurrent_mask):
        h0 = None if states is None else states[0]
        hs = ops.simple_rnn(x, self.kernel, self.recurrent_kernel, self.bias, h0,
                            recurrent_mask)
        last = hs[:, -1]
        return (hs if self.return_sequences else last), [last]

    def _fused_sequences(self, x, states, recurrent_mask):
        h0 = None if states is None else states[0]
        return [ops.simple_rnn(x, self.kernel, self.recurrent_kernel, self.bias, h0,
                               recurrent_mask)]


class LSTM(_Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), Keras' gate order i, f, c, o.

    With z = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias split in four:

        i = σ(z_i)   f = σ(z_f)   o = σ(z_o)        (σ = recurrent_activation)
        c_t = f · c_{t-1} + i · tanh(z_c)            (tanh = activation)
        h_t = o · tanh(c_t)

    Weights: kernel (features, 4u), recurrent_kernel (u, 4u), bias (4u,).
    ``unit_forget_bias`` starts the forget gate's bias at 1, so the cell
    remembers by default. ``return_state`` returns [output, h, c].

    Args:
        units: positive int, the size of h and c.
        activation: for the candidate and the output, default ``"tanh"``.
        recurrent_activation: for the gates, default ``"sigmoid"``.
        unit_forget_bias: start the forget gate's bias at 1. Defaults to True.
        **kwargs: as every recurrent layer: ``use_bias``, ``kernel_initializer``,
            ``recurrent_initializer`` (``"orthogonal"``), ``bias_initializer``,
            the regularizers, ``dropout``, ``recurrent_dropout``, ``seed``,
            ``return_sequences`` (every step's h, not just the last),
            ``return_state``, ``go_backwards``, ``stateful``, ``unroll``,
            and ``name``, ``dtype``.

    Input shape: ``(batch, steps, features)``. Output shape: ``(batch, units)``,
    or ``(batch, steps, units)`` with ``return_sequences=True``.

    Example:

    >>> layer = LSTM(16, return_sequences=True)
    >>> layer(cr.ones(2, 5, 3)).shape
    (2, 5, 16)
    >>> [w.shape for w in layer.get_weights()]    # kernel, recurrent_kernel, bias
    [(3, 64), (16, 64), (64,)]
    """

    _gates = 4
    _state_names = ("h", "c")

    def __init__(self, units: int, activation: str | Callable[..., Any] | None = "tanh",
                 recurrent_activation: str | Callable[..., Any] | None = "sigmoid",
                 unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, init = self.units, self.bias_initializer

        def forget_ones(shape, dtype="float32"):
            # [i | f | c | o]: ones for f, the bias initializer elsewhere.
            return np.concatenate([init((units,), dtype=dtype), np.ones(units, dtype),
                                   init((2 * units,), dtype=dtype)])
        return forget_ones

    def _step(self, x_t, states, recurrent_mask):
        h_prev, c_prev = states
        u = self.units
        z = x_t + ops.matmul(self._recurrent_input(h_prev, recurrent_mask),
                             self.recurrent_kernel)
        i = self.recurrent_activation(z[:, :u])
        f = self.recurrent_activation(z[:, u:2 * u])
        g = self.activation(z[:, 2 * u:3 * u])
        o = self.recurrent_activation(z[:, 3 * u:])
        c = f * c_prev + i * g
        h = o * self.activation(c)
        return h, [h, c]

    def _fusable(self):
        return (self.activation is activations.tanh
                and self.recurrent_activation is activations.sigmoid)

    def _fused_call(self, x, states, recurrent_mask):
        h0, c0 = (None, None) if states is None else states
        hc = ops.lstm(x, self.kernel, self.recurrent_kernel, self.bias, h0, c0, recurrent_mask)
        h, c = hc[0, -1], hc[1, -1]                     # hc: (2, time, batch, units)
        return (ops.swapaxes(hc[0], 0, 1) if self.return_sequences else h), [h, c]

    def _fused_sequences(self, x, states, recurrent_mask):
        h0, c0 = (None, None) if states is None else states
        hc = ops.lstm(x, self.kernel, self.recurrent_kernel, self.bias, h0, c0, recurrent_mask)
        return [ops.swapaxes(hc[0], 0, 1), ops.swapaxes(hc[1], 0, 1)]


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al. 2014), Keras' gate order z, r, h.

    With x_z, x_r, x_h the three blocks of x_t @ kernel + input bias:

        z = σ(x_z + h_{t-1} @ U_z + b'_z)       (update gate)
        r = σ(x_r + h_{t-1} @ U_r + b'_r)       (reset gate)
        reset_after=True (default, cuDNN's):  ĥ = tanh(x_h + r · (h_{t-1} @ U_h + b'_h))
        reset_after=False:                     ĥ = tanh(x_h + (r · h_{t-1}) @ U_h)
        h_t = z · h_{t-1} + (1 - z) · ĥ

    Weights: kernel (features, 3u), recurrent_kernel (u, 3u), and bias (2, 3u)
    with reset_after (row 0 the input bias, row 1 the recurrent bias b'),
    else bias (3u,).

    Args:
        units: positive int, the size of h.
        activation: for the candidate, default ``"tanh"``.
        recurrent_activation: for the gates, default ``"sigmoid"``.
        reset_after: apply the reset gate after the recurrent product (the default, cuDNN's).
        **kwargs: ``name``, ``dtype`` and the arguments every recurrent layer takes: ``use_bias``,
            ``kernel_initializer``, ``recurrent_initializer`` (``"orthogonal"``),
            ``bias_initializer``, the regularizers, ``dropout``, ``recurrent_dropout``, ``seed``,
            ``return_sequences``, ``return_state``, ``go_backwards``, ``stateful`` (False only),
            ``unroll``.

    Example:

    >>> layer = GRU(8)
    >>> layer(cr.ones(2, 5, 3)).shape
    (2, 8)
    >>> [w.shape for w in layer.get_weights()]    # kernel, recurrent_kernel, bias (reset_after)
    [(3, 24), (8, 24), (2, 24)]
    """

    _gates = 3

    def __init__(self, units: int, activation: str | Callable[..., Any] | None = "tanh",
                 recurrent_activation: str | Callable[..., Any] | None = "sigmoid",
                 reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        return self.bias[0] if self.reset_after else self.bias

    def _step(self, x_t, states, recurrent_mask):
        (h_prev,) = states
        u = self.units
        h_in = self._recurrent_input(h_prev, recurrent_mask)
        if self.reset_after:
            inner = ops.matmul(h_in, self.recurrent_kernel)
            if self.use_bias:
                inner = inner + self.bias[1]
        else:
            inner = ops.matmul(h_in, self.recurrent_kernel[:, :2 * u])
        z = self.recurrent_activation(x_t[:, :u] + inner[:, :u])
        r = self.recurrent_activation(x_t[:, u:2 * u] + inner[:, u:2 * u])
        if self.reset_after:
            recurrent_h = r * inner[:, 2 * u:]
        else:
            recurrent_h = ops.matmul(r * h_in, self.recurrent_kernel[:, 2 * u:])
        candidate = self.activation(x_t[:, 2 * u:] + recurrent_h)
        h = z * h_prev + (1 - z) * candidate
        return h, [h]

    def _fusable(self):
        return (self.reset_after and self.activation is activations.tanh
                and self.recurrent_activation is activations.sigmoid)

    def _fused_call(self, x, states, recurrent_mask):
        h0 = None if states is None else states[0]
        hs = ops.gru(x, self.kernel, self.recurrent_kernel, self.bias, h0, recurrent_mask)
        last = hs[:, -1]
        return (hs if self.return_sequences else last), [last]

    def _fused_sequences(self, x, states, recurrent_mask):
        h0 = None if states is None else states[0]
        return [ops.gru(x, self.kernel, self.recurrent_kernel, self.bias, h0, recurrent_mask)]


@graph.replayed           # a compiled step computes the layout again for each batch's mask
def _mask_layout(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For a (batch, steps) mask: the order that moves each sequence's unmasked
    steps to the front, the count of unmasked steps up to each t, its last
    column, and the mask as (batch, steps, 1)."""
    order = np.argsort(~mask, axis=1, kind="stable")
    seen = np.cumsum(mask, axis=1)
    return order, seen, seen[:, -1], mask[:, :, None]


@graph.replayed           # (a compiled step reverses each batch's own mask)
def _reversed_steps(mask: np.ndarray) -> np.ndarray:
    """A (batch, steps) mask with its steps in reverse order (go_backwards)."""
    return mask[:, ::-1]

