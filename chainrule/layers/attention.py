"""Attention layers: MultiHeadAttention and Attention, as Keras 3
(``keras/src/layers/attention/multi_head_attention.py``, ``attention.py``).

MultiHeadAttention projects query, key and value into ``num_heads`` heads,

    Q = query·Wq + bq    (batch, T, heads, key_dim)     Wq: (d_query, heads, key_dim)
    K = key·Wk + bk      (batch, S, heads, key_dim)     Wk: (d_key, heads, key_dim)
    V = value·Wv + bv    (batch, S, heads, value_dim)   Wv: (d_value, heads, value_dim)
    O = softmax(Q Kᵀ/√key_dim + mask) V                 one fused op per call
    y = O·Wo + bo        (batch, T, d_out)              Wo: (heads, value_dim, d_out)

with Keras' weight layouts, so ``get_weights``/``set_weights`` exchange
arrays with Keras (query kernel, query bias, key kernel, key bias, value
kernel, value bias, output kernel, output bias).

>>> import chainrule as cr
>>> mha = cr.layers.MultiHeadAttention(num_heads=2, key_dim=4)
>>> x = cr.randn(3, 5, 8)
>>> mha(x, x, use_causal_mask=True).shape
(3, 5, 8)
>>> [w.shape for w in mha.get_weights()][:2]
[(8, 2, 4), (2, 4)]
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence, TYPE_CHECKING

import numpy as np

from .. import graph, initializers, ops, regularizers
from ..errors import ShapeError
from ..masks import mask_array
from ..tensor import Tensor, as_tensor
from ..typing import Shape, TensorLike
from .base import Layer
from .core import check_positive_int, check_rate

if TYPE_CHECKING:
    from .. import constraints

__all__ = ["Attention", "MultiHeadAttention"]

_MASKED = 1e9       # Keras' large negative number for a masked score (float32)


def _mask_array(mask: Any) -> np.ndarray | None:
    if mask is None:
        return None
    return mask_array(mask).astype(bool)


# The masks' NumPy below runs outside any op: graph.replayed makes a compiled
# step (cr.jit) compute it again for each batch instead of freezing it.
@graph.replayed
def _score_penalty(name: str, v_mask: Any, v_steps: tuple[int, ...], scores_shape: tuple[int, ...],
                   use_causal_mask: bool, dtype: Any) -> np.ndarray | None:
    """What Attention subtracts from the scores: 1e9 where a key step is masked
    (the value mask, and the future with ``use_causal_mask``); None: nothing."""
    keep = _mask_array(v_mask)
    if keep is not None:
        if keep.shape != v_steps:
            raise ShapeError(f"Attention layer '{name}': the value mask must have "
                             f"shape (batch, Tv) = {v_steps}, got {keep.shape}")
        keep = keep[:, None, :]
    if use_causal_mask:
        causal = causal_mask(scores_shape[-2], scores_shape[-1])[None]
        keep = causal if keep is None else keep & causal
    return None if keep is None else (~keep * _MASKED).astype(dtype)


@graph.replayed
def _query_keep(q_mask: Any, dtype: Any) -> np.ndarray | None:
    """The query mask as (batch, Tq, 1) zeros and ones, or None."""
    q_keep = _mask_array(q_mask)
    return None if q_keep is None else q_keep[..., None].astype(dtype)


def causal_mask(query_length: int, key_length: int) -> np.ndarray:
    """(T, S) booleans, True where query step i may attend key step j <= i
    (Keras' ``_compute_causal_mask``: the lower triangle).

    Args:
        query_length: T, the number of query steps.
        key_length: S, the number of key steps.

    Returns:
        A boolean array of shape (T, S).

    Example:

    >>> causal_mask(2, 3)
    array([[ True, False, False],
           [ True,  True, False]])
    """
    return np.tril(np.ones((query_length, key_length), bool))


class _HeadProjection(Layer):
    """Keras' EinsumDense as MultiHeadAttention uses it: the last axis of
    (batch, steps, d_in) projected to ``(heads, dim)``, kernel (d_in, heads,
    dim), bias (heads, dim); or, for the output, (batch, steps, heads, dim)
    projected back to ``out_shape`` with kernel (heads, dim, *out_shape)."""

    def __init__(self, kernel_shape: tuple[Any, ...], bias_shape: tuple[Any, ...] | None,
                 kernel_initializer: Any, bias_initializer: Any, kernel_regularizer: Any,
                 bias_regularizer: Any, kernel_constraint: Any, bias_constraint: Any,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel = self.add_weight("kernel", kernel_shape, kernel_initializer,
                                      kernel_regularizer, constraint=kernel_constraint)
        self.bias = (None if bias_shape is None else
                     self.add_weight("bias", bias_shape, bias_initializer, bias_regularizer,
                                     constraint=bias_constraint))
        self.built = True

    def _rows_times_kernel(self, rows: Tensor, n_in: int, n_out: int) -> Tensor:
        """One ``linear`` on a matrix of rows: a single GEMM each way (a
        batched matmul's weight gradient would be one GEMM per sample)."""
        kernel = ops.reshape(self.kernel, (n_in, n_out))
        bias = None if self.bias is None else ops.reshape(self.bias, (n_out,))
        return ops.linear(rows, kernel, bias)

    def project_in(self, x: Tensor) -> Tensor:
        """(batch, steps, d_in) -> (batch, steps, heads, dim)."""
        d_in, heads, dim = self.kernel.shape
        y = self._rows_times_kernel(ops.reshape(x, (-1, d_in)), d_in, heads * dim)
        return ops.reshape(y, x.shape[:-1] + (heads, dim))

    def project_out(self, o: Tensor) -> Tensor:
        """(batch, steps, heads, dim) -> (batch, steps, *out_shape)."""
        heads, dim = self.kernel.shape[:2]
        out_shape = self.kernel.shape[2:]
        y = self._rows_times_kernel(ops.reshape(o, (-1, heads * dim)), heads * dim,
                                    math.prod(out_shape))
        return ops.reshape(y, o.shape[:-2] + out_shape)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al. 2017) with Keras 3's arguments
    and weight layouts (see the module docstring for the formulas).

    Args:
        num_heads: positive int, the number of heads.
        key_dim: positive int, the size of each head for query and key.
        value_dim: the size of each head for value. Defaults to ``key_dim``.
        dropout: dropout rate on the attention weights while training.
        use_bias: whether the projections add biases. Defaults to True.
        output_shape: the last axes of the output (int or tuple). Defaults
            to the query's last axis.
        attention_axes: the step axes attended over (an int or a tuple);
            the other step axes act as batch axes. Defaults to every axis
            between batch and features.
        kernel_initializer: how the kernels start. Defaults to ``"glorot_uniform"``.
        bias_initializer: how the biases start. Defaults to ``"zeros"``.
        kernel_regularizer: a penalty on the kernels, or None.
        bias_regularizer: a penalty on the biases, or None.
        activity_regularizer: a penalty on the layer's output, or None.
        kernel_constraint: a ``cr.constraints`` projection of the kernels after each update.
        bias_constraint: a ``cr.constraints`` projection of the biases after each update.
        seed: the dropout seed.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Call arguments: ``query`` (batch, T, d_query), ``value`` (batch, S,
    d_value), ``key`` (batch, S, d_key; defaults to ``value``),
    ``attention_mask`` (booleans broadcastable to (batch, T, S), True =
    attend; with attention_axes, broadcastable to the scores after Keras'
    expansion), ``return_attention_scores`` (also return the weights,
    (batch, heads, T, S), or (batch, *other steps, heads, *T_A, *S_A) as
    Keras with attention_axes), ``training``, ``use_causal_mask`` (query step i attends key
    steps <= i). ``query_mask``/``value_mask``/``key_mask`` (batch, steps)
    are filled from the inputs' Keras masks and merged as Keras does.

    Example:

    >>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
    >>> q, v = cr.ones(3, 5, 8), cr.ones(3, 7, 6)
    >>> y, scores = mha(q, v, return_attention_scores=True)
    >>> y.shape, scores.shape
    ((3, 5, 8), (3, 2, 5, 7))
    """

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 dropout: float = 0.0, use_bias: bool = True,
                 output_shape: int | Sequence[int] | None = None,
                 attention_axes: int | Sequence[int] | None = None,
                 kernel_initializer: initializers.InitializerLike = "glorot_uniform",
                 bias_initializer: initializers.InitializerLike = "zeros",
                 kernel_regularizer: regularizers.RegularizerLike = None,
                 bias_regularizer: regularizers.RegularizerLike = None,
                 activity_regularizer: regularizers.RegularizerLike = None,
                 kernel_constraint: constraints.ConstraintLike = None,
                 bias_constraint: constraints.ConstraintLike = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("MultiHeadAttention", "num_heads", num_heads)
        self.key_dim = check_positive_int("MultiHeadAttention", "key_dim", key_dim)
        self.value_dim = (self.key_dim if value_dim is None else
                          check_positive_int("MultiHeadAttention", "value_dim", value_dim))
        self.dropout = check_rate("MultiHeadAttention", "dropout", dropout)
        self.use_bias = bool(use_bias)
        if isinstance(output_shape, numbers.Integral):
            output_shape = (int(output_shape),)
        self._output_shape = (None if not output_shape  # an int became a tuple just above
                              else tuple(int(d) for d in output_shape))  # type: ignore[union-attr]
        if isinstance(attention_axes, numbers.Integral):
            attention_axes = (int(attention_axes),)
        self.attention_axes = (None if attention_axes is None
                               else tuple(attention_axes))  # type: ignore[arg-type]  # likewise
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        self.seed = seed
        # A seeded layer owns its generator, so successive calls draw new masks.
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.supports_masking = True        # the output carries the query's mask, as Keras
        self._projections_made = False

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        return self._output_shape

    # -- weights -----------------------------------------------------------
    def build(self, query_shape: Shape, value_shape: Shape | None = None,
              key_shape: Shape | None = None) -> None:
        """Make the projections. Called with the query's shape alone (as the
        framework does on the first call), it waits for the call, which
        knows the value's and key's shapes too.

        Args:
            query_shape: the query's shape.
            value_shape: the value's shape, or None (then the call builds the projections).
            key_shape: the key's shape; None means the value's.
        """
        if value_shape is not None:
            self._make_projections(query_shape, value_shape,
                                   value_shape if key_shape is None else key_shape)

    def _make_projections(self, query_shape: Shape, value_shape: Shape, key_shape: Shape) -> None:
        name = f"MultiHeadAttention layer '{self.name}'"
        for what, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) < 3 or shape[-1] is None:
                raise ShapeError(f"{name}: {what} must be (batch, steps..., features) with a "
                                 f"known feature size, got shape {tuple(shape)}")
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ShapeError(f"{name}: key and value must have the same steps, got value "
                             f"shape {tuple(value_shape)} and key shape {tuple(key_shape)}")
        if len(query_shape) != len(value_shape):
            raise ShapeError(f"{name}: query and value must have the same rank, got shapes "
                             f"{tuple(query_shape)} and {tuple(value_shape)}")
        self._axes(len(query_shape))          # attention_axes checked against the rank
        heads, common = self.num_heads, dict(
            kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer,
            kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint, bias_constraint=self.bias_constraint,
            dtype=self.dtype)         # the projections follow the layer's dtype (Keras' dtype_policy)
        out_shape = self._output_shape or (query_shape[-1],)

        def bias(*shape):
            return shape if self.use_bias else None
        self.query_dense = _HeadProjection((query_shape[-1], heads, self.key_dim),
                                           bias(heads, self.key_dim), name="query", **common)
        self.key_dense = _HeadProjection((key_shape[-1], heads, self.key_dim),
                                         bias(heads, self.key_dim), name="key", **common)
        self.value_dense = _HeadProjection((value_shape[-1], heads, self.value_dim),
                                           bias(heads, self.value_dim), name="value", **common)
        self.output_dense = _HeadProjection((heads, self.value_dim) + out_shape, bias(*out_shape),
                                            name="attention_output", **common)
        self._feature_sizes = (query_shape[-1], value_shape[-1], key_shape[-1])
        self._projections_made = True

    # -- masks -------------------------------------------------------------
    @graph.replayed        # (NumPy on the masks: computed again at each replay of a cr.jit step)
    def _attention_mask(self, query: Tensor, value: Tensor, axes: tuple[int, ...],
                        others: tuple[int, ...], query_mask: Any, value_mask: Any, key_mask: Any,
                        attention_mask: Any, use_causal_mask: bool) -> np.ndarray | None:
        """One boolean mask of shape (batch, *others, heads, T, S) (each axis
        possibly 1), T and S the attended query and key steps flattened: every
        mask given ANDed, as Keras' ``_compute_attention_mask``; or None."""
        batch, n_other = query.shape[0], len(others)
        t = math.prod(query.shape[a] for a in axes)
        s = math.prod(value.shape[a] for a in axes)
        lead = (1,) * n_other + (1,)             # the other step axes and the heads
        mask = None

        def both(a, b):
            return b if a is None else a & b
        for what, given in (("query_mask", query_mask), ("value_mask", value_mask),
                            ("key_mask", key_mask)):
            m = _mask_array(given)
            if m is None:
                continue
            if others:
                raise NotImplementedError(f"MultiHeadAttention layer '{self.name}': {what} "
                                          f"with attention_axes={self.attention_axes} is not "
                                          f"supported; pass attention_mask instead")
            m = m.reshape(m.shape[0], -1)               # the steps flattened
            shape = (m.shape[0],) + lead + ((t, 1) if what == "query_mask" else (1, s))
            mask = both(mask, m.reshape(shape))
        if use_causal_mask:
            mask = both(mask, causal_mask(t, s).reshape((1,) + lead + (t, s)))
        m = _mask_array(attention_mask)
        if m is not None:
            mask = both(mask, self._expanded_attention_mask(m, query, value, axes, others))
        return mask

    def _expanded_attention_mask(self, m: np.ndarray, query: Tensor, value: Tensor,
                                 axes: tuple[int, ...], others: tuple[int, ...]) -> np.ndarray:
        """``attention_mask`` as Keras reads it: new axes inserted before the
        attended ones (``_masked_softmax``'s mask_expansion_axis) until it has
        the scores' rank (batch, *others, heads, *T_A, *S_A); then T_A and S_A
        flattened."""
        t_steps = tuple(query.shape[a] for a in axes)
        s_steps = tuple(value.shape[a] for a in axes)
        scores = ((query.shape[0],) + tuple(query.shape[a] for a in others) +
                  (self.num_heads,) + t_steps + s_steps)
        given = m.shape
        while m.ndim < len(scores):
            m = np.expand_dims(m, -2 * len(axes) - 1)
        try:
            if m.ndim != len(scores):
                raise ValueError
            np.broadcast_shapes(m.shape, scores)
        except ValueError:
            expected = ((query.shape[0],) + tuple(query.shape[a] for a in others) + t_steps
                        + s_steps)
            raise ShapeError(f"MultiHeadAttention layer '{self.name}': attention_mask of shape "
                             f"{given} does not broadcast to (batch, query steps, key steps) "
                             f"= {expected}") from None
        n = len(scores) - 2 * len(axes)
        m = np.broadcast_to(m, m.shape[:n] + t_steps + s_steps)
        return m.reshape(m.shape[:n] + (math.prod(t_steps), math.prod(s_steps)))

    def _axes(self, rank: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The attended axes of rank-``rank`` inputs (default: every step
        axis) and the other step axes, which act as batch axes."""
        steps = tuple(range(1, rank - 1))
        if self.attention_axes is None:
            return steps, ()
        axes = tuple(sorted({rank + a if a < 0 else a for a in self.attention_axes}))
        if not axes or any(a not in steps for a in axes):
            raise ValueError(f"MultiHeadAttention layer '{self.name}': attention_axes="
                             f"{self.attention_axes} must name step axes of rank-{rank} inputs, "
                             f"i.e. among {steps}")
        return axes, tuple(a for a in steps if a not in axes)

    # -- call --------------------------------------------------------------
    def call(self, query: TensorLike, value: TensorLike,  # type: ignore[override]
             key: TensorLike | None = None,
             query_mask: Any = None, value_mask: Any = None, key_mask: Any = None,
             attention_mask: Any = None, return_attention_scores: bool = False,
             training: bool | None = None, use_causal_mask: bool = False) -> Any:
        """Attend from ``query`` to ``value`` (keyed by ``key``).

        Args:
            query: (batch, T, d_query).
            value: (batch, S, d_value).
            key: (batch, S, d_key); None means ``value``.
            query_mask: booleans (batch, T), filled from the query's Keras mask, or None.
            value_mask: booleans (batch, S), filled from the value's mask, or None.
            key_mask: booleans (batch, S), filled from the key's mask, or None.
            attention_mask: booleans broadcastable to (batch, T, S), True = attend, or None.
            return_attention_scores: also return the attention weights.
            training: apply dropout to the weights.
            use_causal_mask: query step i attends key steps <= i only.

        Returns:
            The output (batch, T, d_out); with ``return_attention_scores`` the pair (output,
            weights (batch, heads, T, S)).
        """
        key = value if key is None else key
        query, value, key = (t if isinstance(t, Tensor) else as_tensor(t, self.dtype)
                             for t in (query, value, key))
        if not self._projections_made:
            self._make_projections(query.shape, value.shape, key.shape)
        self._check_features(query, value, key)
        rank = query.ndim
        axes, others = self._axes(rank)
        for a in others:
            if query.shape[a] != value.shape[a]:
                raise ShapeError(f"MultiHeadAttention layer '{self.name}': query and value "
                                 f"must agree on axis {a}, which is not attended over "
                                 f"(attention_axes={self.attention_axes}), got shapes "
                                 f"{query.shape} and {value.shape}")
        mask = self._attention_mask(query, value, axes, others, query_mask, value_mask,
                                    key_mask, attention_mask, use_causal_mask)
        # (B, *steps, H, d) -> (B, *others, H, attended steps flattened, d)
        order = (0,) + others + (rank - 1,) + axes + (rank,)

        def heads_first(x):
            x = ops.transpose(x, order)
            return ops.reshape(x, x.shape[:len(others) + 2] + (-1, x.shape[-1]))
        q = heads_first(self.query_dense.project_in(query))
        k = heads_first(self.key_dense.project_in(key))
        v = heads_first(self.value_dense.project_in(value))
        scale = 1 / math.sqrt(self.key_dim)
        scores: Any = None
        if return_attention_scores or (training and self.dropout > 0):
            # The weights themselves are wanted: attention in ordinary ops.
            logits = ops.matmul(q * scale, ops.swapaxes(k, -1, -2))
            if mask is not None:
                logits = logits + Tensor._wrap(np.where(mask, 0, -_MASKED).astype(logits.dtype))
            scores = ops.softmax(logits, axis=-1)
            weights = ops.dropout(scores, self.dropout, training=bool(training), seed=self._rng)
            o = ops.matmul(weights, v)
        else:
            o = ops.scaled_dot_product_attention(q, k, v, mask, scale)
        # back to (B, *steps, H, dv): unflatten the attended steps, undo the order
        t_steps = tuple(query.shape[a] for a in axes)
        o = ops.reshape(o, o.shape[:-2] + t_steps + o.shape[-1:])
        o = ops.transpose(o, tuple(int(i) for i in np.argsort(order)))
        y = self.output_dense.project_out(o)
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(y))
        if return_attention_scores:
            s_steps = tuple(value.shape[a] for a in axes)
            return y, ops.reshape(scores, scores.shape[:-2] + t_steps + s_steps)
        return y

    def _check_features(self, query: Tensor, value: Tensor, key: Tensor) -> None:
        for what, x, size in zip(("query", "value", "key"), (query, value, key),
                                 self._feature_sizes):
            if x.shape[-1] != size:
                raise ShapeError(f"MultiHeadAttention layer '{self.name}': the {what} has "
                                 f"{x.shape[-1]} features (shape {x.shape}) but the layer was "
                                 f"built for {size}")
        if key.shape[:-1] != value.shape[:-1]:
            raise ShapeError(f"MultiHeadAttention layer '{self.name}': key and value must "
                             f"have the same batch and steps, got key shape {key.shape} and "
                             f"value shape {value.shape}")

    def compute_output_shape(self, query_shape: Shape, value_shape: Shape | None = None,
                             key_shape: Shape | None = None) -> Shape:
        """The output's shape for these input shapes.

        Args:
            query_shape: the query's shape.
            value_shape: the value's shape (unused).
            key_shape: the key's shape (unused).

        Returns:
            The output's shape: the query's with the last axes ``output_shape``.
        """
        return tuple(query_shape[:-1]) + (self._output_shape or (query_shape[-1],))


class Attention(Layer):
    """Dot-product (Luong-style) attention, Keras 3's ``Attention``:
    ``scores = query·keyᵀ`` (times a learned ``scale`` when ``use_scale``),
    or with ``score_mode="concat"`` ``concat_score_weight · Σ tanh(scale·(q
    + k))``; ``softmax(scores)·value``. No projections.

    Args:
        use_scale: learn a scalar ``scale`` (initialized to 1). Default False.
        score_mode: ``"dot"`` (default) or ``"concat"``.
        dropout: dropout rate on the attention weights while training.
        seed: the dropout seed.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Call: ``layer([query, value])`` or ``layer([query, value, key])``
    (batch, Tq, dim) / (batch, Tv, dim); ``mask=[query_mask, value_mask]``
    (masked value steps get -1e9 added to their scores, masked query steps
    give zeros), ``return_attention_scores``, ``use_causal_mask``.

    Example:

    >>> q, v = cr.randn(2, 3, 4), cr.randn(2, 5, 4)
    >>> Attention()([q, v]).shape
    (2, 3, 4)
    """

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention: score_mode must be 'dot' or 'concat', got "
                             f"{score_mode!r}")
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout = check_rate("Attention", "dropout", dropout)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def _check_inputs(self, inputs: Any) -> None:
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"Attention layer '{self.name}' must be called on a list "
                             f"[query, value] or [query, value, key], got "
                             f"{type(inputs).__name__}"
                             + (f" of length {len(inputs)}" if isinstance(inputs, (list, tuple))
                                else ""))

    def build(self, input_shape: Sequence[Shape]) -> None:
        self._check_inputs(input_shape)
        self.scale = self.add_weight("scale", (), "ones") if self.use_scale else None
        self.concat_score_weight = (self.add_weight("concat_score_weight", (), "ones")
                                    if self.score_mode == "concat" else None)

    def call(self, inputs: Sequence[Tensor], mask: Sequence[Any] | None = None,
             training: bool = False, return_attention_scores: bool = False,
             use_causal_mask: bool = False) -> Any:
        """``softmax(scores)·value``.

        Args:
            inputs: ``[query, value]`` or ``[query, value, key]``: (batch, Tq, dim), (batch, Tv,
                dim).
            mask: ``[query_mask, value_mask]`` (booleans (batch, Tq), (batch, Tv); either None), or
                None.
            training: apply dropout to the weights.
            return_attention_scores: also return the weights (batch, Tq, Tv).
            use_causal_mask: query step i attends value steps <= i only.

        Returns:
            The output (batch, Tq, dim); with ``return_attention_scores`` the pair (output,
            weights).
        """
        self._check_inputs(inputs)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        if self.score_mode == "dot":
            if q.shape[-1] != k.shape[-1]:
                raise ShapeError(f"Attention layer '{self.name}': query and key must have the "
                                 f"same last axis for score_mode='dot', got shapes {q.shape} "
                                 f"and {k.shape}")
            scores = ops.matmul(q, ops.swapaxes(k, -1, -2))
            if self.scale is not None:
                scores = scores * self.scale
        else:
            summed = ops.expand_dims(q, -2) + ops.expand_dims(k, -3)
            if self.scale is not None:
                summed = self.scale * summed
            scores = self.concat_score_weight * ops.sum(  # type: ignore[operator]  # made in build
                ops.tanh(summed), axis=-1)
        q_mask, v_mask = (None, None) if mask is None else (mask[0], mask[1])
        penalty = _score_penalty(self.name, v_mask, tuple(v.shape[:2]), scores.shape,
                                 use_causal_mask, scores.dtype)
        if penalty is not None:
            scores = scores - Tensor._wrap(penalty)
        weights = ops.softmax(scores, axis=-1)
        dropped = ops.dropout(weights, self.dropout, training=bool(training), seed=self._rng)
        out = ops.matmul(dropped, v)
        q_keep = _query_keep(q_mask, out.dtype)
        if q_keep is not None:
            out = out * Tensor._wrap(q_keep)
        return (out, weights) if return_attention_scores else out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The query's mask (Keras' Attention.compute_mask).

        Args:
            inputs: the inputs.
            mask: ``[query_mask, value_mask]``, or None.

        Returns:
            The query's mask, or None.
        """
        if mask is None or mask[0] is None:
            return None
        return mask[0]

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)
