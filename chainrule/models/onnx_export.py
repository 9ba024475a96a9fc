"""``model.export("m.onnx", format="onnx")``: a chainrule model as an ONNX graph.

The graph is built with ``onnx.helper`` (the ``onnx`` package, an optional
extra: ``pip install 'chainrule[onnx]'``), opset 17, so onnxruntime, TensorRT
and browser runtimes can serve the model. The batch dimension is dynamic
(``"batch"``); the graph inputs are named after the model's ``cr.Input``
names (a Sequential model without a leading ``cr.Input`` calls it
``"input"``), the outputs after the layers that produce them.

The export runs in inference mode: Dropout disappears, BatchNormalization
uses its moving statistics. Each chainrule layer is translated by one
function in ``CONVERTERS`` (layer class name -> converter); adding a layer
is one entry there. A layer without a converter raises a ``ValueError``
naming it and listing those that have one; so does a layer that makes a
mask (``Embedding(mask_zero=True)``, ``Masking``), since the graph carries
no masks. MultiHeadAttention's converter also gets the call's other
arguments (value, key, use_causal_mask).

Conventions bridged here: chainrule is channels-last (N, H, W, C) while
ONNX's Conv and pooling are channels-first, so each of them is wrapped in
two Transposes; Keras' LSTM gates (i, f, c, o) are reordered to ONNX's
(i, o, f, c); sequences are batch-first in chainrule and time-first in ONNX.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .model import Model

__all__ = ["CONVERTERS", "export_onnx"]

OPSET = 17


def _need_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("exporting to ONNX needs the onnx package: "
                          "pip install 'chainrule[onnx]' (or pip install onnx)") from None
    return onnx


class _Graph:
    """The nodes and weights of the ONNX graph being built, with unique names."""

    def __init__(self, onnx, dtype, opset):
        self.onnx = onnx
        self.opset = opset
        self.helper = onnx.helper
        self.dtype = np.dtype(dtype)
        self.nodes, self.initializers, self.names = [], [], set()

    def name(self, base):
        base = "".join(c if c.isalnum() or c in "_./" else "_" for c in base) or "t"
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def const(self, base, array):
        """A weight (an initializer) holding ``array``."""
        name = self.name(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, base, outputs=1, **attrs):
        """Add a node; returns its output name (or names, for ``outputs`` > 1)."""
        names = [self.name(f"{base}/{op_type}" if k == 0 else f"{base}/{op_type}:{k}")
                 for k in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names,
                                                name=self.name(f"{base}/{op_type}_node"),
                                                **attrs))
        return names[0] if outputs == 1 else names

    def floats(self, base, array):
        return self.const(base, np.asarray(array, dtype=self.dtype))


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------
def _activation(g, fn, x, base, where):
    """Apply a chainrule activation function to ``x`` with ONNX ops."""
    from .. import activations
    name = activations.serialize(fn) if fn is not None else "linear"
    if name == "linear":
        return x
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus",
              "softsign": "Softsign", "exponential": "Exp"}
    if name in simple:
        return g.op(simple[name], [x], base)
    if name == "softmax":
        return g.op("Softmax", [x], base, axis=-1)
    if name == "log_softmax":
        return g.op("LogSoftmax", [x], base, axis=-1)
    if name == "elu":
        return g.op("Elu", [x], base, alpha=1.0)
    if name == "selu":
        # Keras' constants (activations.py), not ONNX's float32-rounded defaults.
        return g.op("Selu", [x], base, alpha=1.6732632423543772, gamma=1.0507009873554805)
    if name == "leaky_relu":
        return g.op("LeakyRelu", [x], base, alpha=0.2)
    if name == "relu6":
        return g.op("Clip", [x, g.floats(f"{base}/zero", 0.0), g.floats(f"{base}/six", 6.0)],
                    base)
    if name == "hard_sigmoid":          # relu6(x + 3) / 6 = clip(x/6 + 1/2, 0, 1)
        return g.op("HardSigmoid", [x], base, alpha=1.0 / 6.0, beta=0.5)
    if name == "gelu":                  # exact, by erf (Keras' default): x·(1 + erf(x/√2))/2
        inner = g.op("Erf", [g.op("Mul", [x, g.floats(f"{base}/rsqrt2", 0.5 ** 0.5)], base)],
                     base)
        return g.op("Mul", [g.op("Mul", [x, g.floats(f"{base}/half", 0.5)], base),
                            g.op("Add", [inner, g.floats(f"{base}/one", 1.0)], base)], base)
    if name in ("hard_silu", "hard_swish"):     # x · relu6(x + 3) / 6
        return g.op("Mul", [x, g.op("HardSigmoid", [x], base, alpha=1.0 / 6.0, beta=0.5)], base)
    if name in ("silu", "swish"):
        return g.op("Mul", [x, g.op("Sigmoid", [x], base)], base)
    if name == "mish":
        return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x], base)], base)], base)
    raise ValueError(f"{where}: the activation '{name}' has no ONNX translation here")


# --------------------------------------------------------------------------
# Layer converters: (graph, layer, input names, input shapes) -> output name
# --------------------------------------------------------------------------
def _dense(g, layer, xs, shapes):
    y = g.op("MatMul", [xs[0], g.floats(f"{layer.name}/kernel", layer.kernel.data)], layer.name)
    if layer.bias is not None:
        y = g.op("Add", [y, g.floats(f"{layer.name}/bias", layer.bias.data)], layer.name)
    return _activation(g, layer.activation, y, layer.name, _where(layer))


def _activation_layer(g, layer, xs, shapes):
    return _activation(g, layer.activation, xs[0], layer.name, _where(layer))


def _leaky_relu(g, layer, xs, shapes):
    return g.op("LeakyRelu", [xs[0]], layer.name, alpha=float(layer.negative_slope))


def _identity(g, layer, xs, shapes):
    return g.op("Identity", [xs[0]], layer.name)      # Dropout at inference


def _flatten(g, layer, xs, shapes):
    return g.op("Flatten", [xs[0]], layer.name, axis=1)


def _reshape(g, layer, xs, shapes):
    target = layer._resolve(tuple(shapes[0][1:]))
    if any(d is None for d in target):
        raise ValueError(f"{_where(layer)}: the input's shape {shapes[0]} is not fully known")
    shape = g.const(f"{layer.name}/shape", np.array((-1,) + tuple(target), np.int64))
    return g.op("Reshape", [xs[0], shape], layer.name)


def _add(g, layer, xs, shapes):
    return g.op("Sum", list(xs), layer.name)


def _concatenate(g, layer, xs, shapes):
    return g.op("Concat", list(xs), layer.name, axis=int(layer.axis))


def _same_pads(size, kernel, stride):
    """TensorFlow's 'same' padding along one axis: (before, after), the odd one after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pads(layer, shape, kernel, strides, dilation=None):
    """ONNX ``pads`` (all befores, then all afters) for the spatial axes of a
    channels-last ``shape``; a dilated kernel spans (k - 1)·d + 1 steps."""
    spatial = len(kernel)
    dilation = dilation or (1,) * spatial
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    if layer.padding == "valid":
        return [0] * (2 * spatial)
    if layer.padding == "causal":       # Keras Conv1D: all the padding on the left
        return [span[0] - 1, 0]
    if any(d is None for d in shape[1:1 + spatial]):
        raise ValueError(f"{_where(layer)}: 'same' padding needs the spatial size, got input "
                         f"shape {shape}")
    pairs = [_same_pads(shape[1 + i], span[i], strides[i]) for i in range(spatial)]
    return [p[0] for p in pairs] + [p[1] for p in pairs]


def _conv(g, layer, xs, shapes, kernel, bias, groups):
    """ONNX Conv on a channels-last input; ``kernel`` is Keras' (k..., in/groups,
    out), turned into ONNX's (out, in/groups, k...)."""
    spatial = kernel.ndim - 2
    kernel = np.transpose(kernel, (spatial + 1, spatial) + tuple(range(spatial)))
    inputs = [_to_channels_first(g, xs[0], layer.name, spatial + 2),
              g.floats(f"{layer.name}/kernel", kernel)]
    if bias is not None:
        inputs.append(g.floats(f"{layer.name}/bias", bias))
    dilation = tuple(getattr(layer, "dilation_rate", (1,) * spatial))
    y = g.op("Conv", inputs, layer.name, kernel_shape=list(kernel.shape[2:]),
             strides=list(layer.strides), dilations=list(dilation), group=int(groups),
             pads=_pads(layer, shapes[0], kernel.shape[2:], layer.strides, dilation))
    return _to_channels_last(g, y, layer.name, spatial + 2)


def _to_channels_first(g, x, base, rank):
    return g.op("Transpose", [x], base, perm=[0, rank - 1] + list(range(1, rank - 1)))


def _to_channels_last(g, x, base, rank):
    return g.op("Transpose", [x], base, perm=[0] + list(range(2, rank)) + [1])


def _conv2d(g, layer, xs, shapes):
    """Conv2D and Conv1D (Keras 3 ``base_conv.py``): dilation and groups as ONNX's."""
    bias = None if layer.bias is None else layer.bias.data
    y = _conv(g, layer, xs, shapes, layer.kernel.data, bias, getattr(layer, "groups", 1))
    return _activation(g, layer.activation, y, layer.name, _where(layer))


def _depthwise_conv2d(g, layer, xs, shapes):
    """Keras' depthwise kernel (kh, kw, C, m) is a grouped conv with C groups:
    output channel c·m + j uses input channel c (ONNX kernel (C·m, 1, kh, kw))."""
    kh, kw, channels, multiplier = layer.kernel.shape
    kernel = layer.kernel.data.reshape(kh, kw, 1, channels * multiplier)
    bias = None if layer.bias is None else layer.bias.data
    y = _conv(g, layer, xs, shapes, kernel, bias, channels)
    return _activation(g, layer.activation, y, layer.name, _where(layer))


class _Pointwise:
    """SeparableConv2D's second step: a 1×1 convolution, stride 1, no padding."""
    def __init__(self, layer):
        self.name, self.padding = f"{layer.name}/pointwise", "valid"
        self.strides, self.dilation_rate = (1, 1), (1, 1)


def _separable_conv2d(g, layer, xs, shapes):
    kh, kw, channels, multiplier = layer.depthwise_kernel.shape
    depthwise = layer.depthwise_kernel.data.reshape(kh, kw, 1, channels * multiplier)
    y = _conv(g, layer, xs, shapes, depthwise, None, channels)
    bias = None if layer.bias is None else layer.bias.data
    y = _conv(g, _Pointwise(layer), [y], [None], layer.pointwise_kernel.data, bias, 1)
    return _activation(g, layer.activation, y, layer.name, _where(layer))


def _pool2d(op_type):
    """MaxPooling and AveragePooling, 1D and 2D (padding not counted in the average)."""
    def convert(g, layer, xs, shapes):
        rank = len(layer.pool_size) + 2
        y = g.op(op_type, [_to_channels_first(g, xs[0], layer.name, rank)], layer.name,
                 kernel_shape=list(layer.pool_size), strides=list(layer.strides),
                 pads=_pads(layer, shapes[0], layer.pool_size, layer.strides))
        return _to_channels_last(g, y, layer.name, rank)
    return convert


def _global_pool(op_type, axes):
    def convert(g, layer, xs, shapes):
        if g.opset >= 18:      # the axes became an input in opset 18
            axes_input = g.const(f"{layer.name}/axes", np.array(axes, np.int64))
            return g.op(op_type, [xs[0], axes_input], layer.name, keepdims=int(layer.keepdims))
        return g.op(op_type, [xs[0]], layer.name, axes=list(axes),
                    keepdims=int(layer.keepdims))
    return convert


def _batch_norm(g, layer, xs, shapes):
    # The same arithmetic as BatchNormalization.call at inference:
    # (x - mean) / sqrt(var + eps) · gamma + beta, broadcast along the feature axis.
    ndim = len(shapes[0])
    axis = layer.axis % ndim
    dtype = layer.moving_mean.dtype
    features = layer.moving_mean.shape[0]
    broadcast = tuple(features if i == axis else 1 for i in range(1, ndim))   # batch left out

    def const(tag, array):
        return g.floats(f"{layer.name}/{tag}", np.asarray(array, dtype).reshape(broadcast))
    std = np.sqrt(layer.moving_variance.data + np.asarray(layer.epsilon, dtype))
    y = g.op("Sub", [xs[0], const("moving_mean", layer.moving_mean.data)], layer.name)
    y = g.op("Div", [y, const("std", std)], layer.name)
    if layer.gamma is not None:
        y = g.op("Mul", [y, const("gamma", layer.gamma.data)], layer.name)
    if layer.beta is not None:
        y = g.op("Add", [y, const("beta", layer.beta.data)], layer.name)
    return y


def _layer_norm(g, layer, xs, shapes):
    """ONNX LayerNormalization (opset 17): (x - mean)/sqrt(var + eps)·gamma + beta
    over the trailing ``axis`` (Keras 3 ``layer_normalization.py``)."""
    rank = len(shapes[0])
    axes = tuple(sorted(a % rank for a in layer._axes))
    if axes != tuple(range(axes[0], rank)):
        raise ValueError(f"{_where(layer)}: only normalization over the last axes has an ONNX "
                         f"export here, got axis={layer.axis}")
    if layer.rms_scaling:
        raise ValueError(f"{_where(layer)}: rms_scaling=True has no ONNX export here")
    shape = tuple(shapes[0][a] for a in axes)
    dtype = g.dtype
    gamma = layer.gamma.data if layer.gamma is not None else np.ones(shape, dtype)
    beta = layer.beta.data if layer.beta is not None else np.zeros(shape, dtype)
    scale = g.floats(f"{layer.name}/gamma", gamma.reshape(shape))
    shift = g.floats(f"{layer.name}/beta", beta.reshape(shape))
    if g.opset >= 17:
        return g.op("LayerNormalization", [xs[0], scale, shift], layer.name, axis=axes[0],
                    epsilon=float(layer.epsilon))
    # before opset 17, the same arithmetic in plain nodes
    name = layer.name
    diff = g.op("Sub", [xs[0], _reduce_mean(g, xs[0], axes, name)], name)
    variance = _reduce_mean(g, g.op("Mul", [diff, diff], name), axes, name)
    std = g.op("Sqrt", [g.op("Add", [variance, g.floats(f"{name}/epsilon", layer.epsilon)],
                             name)], name)
    return g.op("Add", [g.op("Mul", [g.op("Div", [diff, std], name), scale], name), shift],
                name)


def _reduce_mean(g, x, axes, base):
    if g.opset >= 18:          # the axes became an input in opset 18
        return g.op("ReduceMean", [x, _int64s(g, f"{base}/axes", axes)], base, keepdims=1)
    return g.op("ReduceMean", [x], base, axes=list(axes), keepdims=1)


def _group_norm(g, layer, xs, shapes):
    """Keras 3 ``group_normalization.py`` for channels last: the C channels in
    G groups, each group normalized over its channels and the spatial axes."""
    rank = len(shapes[0])
    if layer._axis != rank - 1:
        raise ValueError(f"{_where(layer)}: only axis=-1 has an ONNX export here")
    channels, groups = shapes[0][-1], layer._groups
    name, x = layer.name, xs[0]
    grouped = g.op("Reshape", [x, _int64s(g, f"{name}/grouped", [0, -1, groups,
                                                                  channels // groups])], name)
    diff = g.op("Sub", [grouped, _reduce_mean(g, grouped, (1, 3), name)], name)
    variance = _reduce_mean(g, g.op("Mul", [diff, diff], name), (1, 3), name)
    std = g.op("Sqrt", [g.op("Add", [variance, g.floats(f"{name}/epsilon", layer.epsilon)],
                             name)], name)
    y = g.op("Reshape", [g.op("Div", [diff, std], name), g.op("Shape", [x], name)], name)
    if layer.gamma is not None:
        y = g.op("Mul", [y, g.floats(f"{name}/gamma", layer.gamma.data)], name)
    if layer.beta is not None:
        y = g.op("Add", [y, g.floats(f"{name}/beta", layer.beta.data)], name)
    return y


def _conv_transpose(g, layer, xs, shapes):
    """Conv2DTranspose and Conv1DTranspose as ONNX ConvTranspose: the full
    output, cropped (``pads``) or extended (``output_padding``) by Keras'
    rule (ops.nn._transpose_crops)."""
    from ..ops.nn import _transpose_crops
    spatial = layer.kernel.ndim - 2
    # Conv1DTranspose keeps 2-D settings for a one-step-high image: the last ones count
    kernel_size, strides = layer.kernel_size[-spatial:], layer.strides[-spatial:]
    dilation = layer.dilation_rate[-spatial:]
    output_padding = (layer.output_padding or (None,) * 2)[-spatial:]
    before, after, extra = [], [], []
    for size, k, s, d, p in zip(shapes[0][1:1 + spatial], kernel_size, strides, dilation,
                                output_padding):
        crop_before, crop_after = _transpose_crops(size, d * (k - 1) + 1, s, layer.padding, p)
        before.append(crop_before)
        after.append(max(crop_after, 0))
        extra.append(max(-crop_after, 0))
    # Keras' kernel (k..., out, in) -> ONNX's (in, out, k...)
    kernel = np.transpose(layer.kernel.data, (spatial + 1, spatial) + tuple(range(spatial)))
    inputs = [_to_channels_first(g, xs[0], layer.name, spatial + 2),
              g.floats(f"{layer.name}/kernel", kernel)]
    if layer.bias is not None:
        inputs.append(g.floats(f"{layer.name}/bias", layer.bias.data))
    y = g.op("ConvTranspose", inputs, layer.name, kernel_shape=list(kernel_size),
             strides=list(strides), dilations=list(dilation), pads=before + after,
             output_padding=extra)
    return _activation(g, layer.activation, _to_channels_last(g, y, layer.name, spatial + 2),
                       layer.name, _where(layer))


def _int64s(g, base, values):
    return g.const(base, np.array(values, np.int64))


def _multi_head_attention(g, layer, xs, shapes, call=None):
    """Keras 3 ``multi_head_attention.py`` in MatMul/Softmax/Transpose nodes:
    per head softmax(Q·Kᵀ/√key_dim + mask)·V, then the output projection."""
    call = call or {}
    where = _where(layer)
    query, value = xs[0], call["value"][0]
    key = call["key"][0] if "key" in call else value
    q_shape, v_shape = shapes[0], call["value"][1]
    if len(q_shape) != 3 or len(v_shape) != 3:
        raise ValueError(f"{where}: only (batch, steps, features) inputs have an ONNX export "
                         f"here, got query {q_shape} and value {v_shape}")
    for unsupported in ("attention_mask", "return_attention_scores"):
        if call.get(unsupported) not in (None, False):
            raise ValueError(f"{where}: {unsupported} has no ONNX export here")
    heads, name = layer.num_heads, layer.name

    def project(x, dense, tag, perm):          # (B, T, d) -> (B, H, T, k) or (B, H, k, T)
        d_in, h, dim = dense.kernel.shape
        y = g.op("MatMul", [x, g.floats(f"{name}/{tag}/kernel",
                                        dense.kernel.data.reshape(d_in, h * dim))], name)
        if dense.bias is not None:
            y = g.op("Add", [y, g.floats(f"{name}/{tag}/bias", dense.bias.data.reshape(-1))],
                     name)
        y = g.op("Reshape", [y, _int64s(g, f"{name}/{tag}/heads", [0, -1, h, dim])], name)
        return g.op("Transpose", [y], name, perm=perm)
    q = project(query, layer.query_dense, "query", [0, 2, 1, 3])
    k = project(key, layer.key_dense, "key", [0, 2, 3, 1])
    v = project(value, layer.value_dense, "value", [0, 2, 1, 3])
    q = g.op("Mul", [q, g.floats(f"{name}/scale", 1.0 / np.sqrt(layer.key_dim))], name)
    scores = g.op("MatMul", [q, k], name)                          # (B, H, T, S)
    if call.get("use_causal_mask"):
        t, s_len = q_shape[1], v_shape[1]
        if t is None or s_len is None:
            raise ValueError(f"{where}: use_causal_mask needs known step counts, got query "
                             f"{q_shape} and value {v_shape}")
        from ..layers.attention import _MASKED, causal_mask
        bias = np.where(causal_mask(t, s_len), 0.0, -_MASKED)
        scores = g.op("Add", [scores, g.floats(f"{name}/causal_mask", bias)], name)
    weights = g.op("Softmax", [scores], name, axis=-1)
    o = g.op("MatMul", [weights, v], name)                         # (B, H, T, dv)
    o = g.op("Transpose", [o], name, perm=[0, 2, 1, 3])
    out = layer.output_dense
    h, dim = out.kernel.shape[:2]
    out_shape = out.kernel.shape[2:]
    o = g.op("Reshape", [o, _int64s(g, f"{name}/merge_heads", [0, -1, h * dim])], name)
    y = g.op("MatMul", [o, g.floats(f"{name}/attention_output/kernel",
                                    out.kernel.data.reshape(h * dim, -1))], name)
    if out.bias is not None:
        y = g.op("Add", [y, g.floats(f"{name}/attention_output/bias",
                                     out.bias.data.reshape(-1))], name)
    if len(out_shape) > 1:
        y = g.op("Reshape", [y, _int64s(g, f"{name}/out_shape", [0, -1, *out_shape])], name)
    return y


def _attention(g, layer, xs, shapes):
    """Keras' ``Attention``: softmax(scores)·V, scores = scale·Q·Kᵀ ("dot") or
    concat_score_weight·Σ tanh(scale·(q + k)) over features ("concat")."""
    q, v = xs[0], xs[1]
    k = xs[2] if len(xs) > 2 else v
    name = layer.name
    if layer.score_mode == "dot":
        scores = g.op("MatMul", [q, g.op("Transpose", [k], name, perm=[0, 2, 1])], name)
        if layer.scale is not None:
            scores = g.op("Mul", [scores, g.floats(f"{name}/scale", layer.scale.data)], name)
    else:
        summed = g.op("Add", [g.op("Unsqueeze", [q, _int64s(g, f"{name}/axis2", [2])], name),
                              g.op("Unsqueeze", [k, _int64s(g, f"{name}/axis1", [1])], name)],
                      name)                                       # (B, Tq, Tv, dim)
        if layer.scale is not None:
            summed = g.op("Mul", [summed, g.floats(f"{name}/scale", layer.scale.data)], name)
        scores = g.op("ReduceSum", [g.op("Tanh", [summed], name),
                                    _int64s(g, f"{name}/features", [-1])], name, keepdims=0)
        scores = g.op("Mul", [scores, g.floats(f"{name}/concat_score_weight",
                                               layer.concat_score_weight.data)], name)
    weights = g.op("Softmax", [scores], layer.name, axis=-1)
    return g.op("MatMul", [weights, v], layer.name)


def _fold(op_type):
    """Merge layers folded pairwise, as Keras' ``_merge_function``."""
    def convert(g, layer, xs, shapes):
        y = xs[0]
        for x in xs[1:]:
            y = g.op(op_type, [y, x], layer.name)
        return y
    return convert


def _average(g, layer, xs, shapes):
    return g.op("Mean", list(xs), layer.name)


def _dot(g, layer, xs, shapes):
    """Keras ``Dot`` (batch_dot): each sample's axis a0 of x against axis a1 of y,
    after optional L2 normalization x·min(1/‖x‖, 1/ε), as merging.Dot."""
    a0, a1 = layer._axes_for([tuple(s) for s in shapes])
    x, y = xs
    if layer.normalize:
        def normalize(t, axis, tag):
            squares = g.op("ReduceSum", [g.op("Mul", [t, t], layer.name),
                                         _int64s(g, f"{layer.name}/{tag}_axis", [axis])],
                           layer.name, keepdims=1)
            inverse = g.op("Min", [g.op("Reciprocal", [g.op("Sqrt", [squares], layer.name)],
                                        layer.name),
                                   g.floats(f"{layer.name}/{tag}_cap", 1.0 / 1e-7)], layer.name)
            return g.op("Mul", [t, inverse], layer.name)
        x, y = normalize(x, a0, "x"), normalize(y, a1, "y")
    letters = "bcdefghijklmnopqrstuvwxyz"
    rank_x, rank_y = len(shapes[0]), len(shapes[1])
    x_sub = ["a"] + list(letters[1:rank_x])
    y_sub = ["a"] + list(letters[rank_x:rank_x + rank_y - 1])
    y_sub[a1] = x_sub[a0]                              # the contracted axis
    out = [c for i, c in enumerate(x_sub) if i != a0] + \
        [c for i, c in enumerate(y_sub) if i not in (0, a1)]
    result = g.op("Einsum", [x, y], layer.name,
                  equation=f"{''.join(x_sub)},{''.join(y_sub)}->{''.join(out)}")
    if len(out) == 1:                                  # (batch,) becomes (batch, 1)
        result = g.op("Unsqueeze", [result, _int64s(g, f"{layer.name}/axis1", [1])], layer.name)
    return result


def _relu_layer(g, layer, xs, shapes):
    """Keras 3 ``ReLU`` (activations.relu with negative_slope, max_value, threshold):
    y = x·[x > t] (or relu), clipped at max_value, minus slope·relu(t - x)."""
    x, name = xs[0], layer.name
    slope, top, threshold = layer.negative_slope, layer.max_value, layer.threshold
    if slope and top is None and threshold == 0:
        return g.op("LeakyRelu", [x], name, alpha=float(slope))
    if threshold:
        above = g.op("Greater", [x, g.floats(f"{name}/threshold", threshold)], name)
        y = g.op("Mul", [x, g.op("Cast", [above], name,
                                 to=g.onnx.helper.np_dtype_to_tensor_dtype(g.dtype))], name)
    else:
        y = g.op("Relu", [x], name)
    if top is not None:
        y = g.op("Clip", [y, g.floats(f"{name}/zero", 0.0), g.floats(f"{name}/max", top)], name)
    if slope:
        negative = g.op("Relu", [g.op("Sub", [g.floats(f"{name}/t", threshold), x], name)], name)
        y = g.op("Sub", [y, g.op("Mul", [negative, g.floats(f"{name}/slope", slope)], name)],
                 name)
    return y


def _softmax_layer(g, layer, xs, shapes):
    if not isinstance(layer.axis, int):
        raise ValueError(f"{_where(layer)}: a softmax over several axes has no ONNX export here")
    return g.op("Softmax", [xs[0]], layer.name, axis=int(layer.axis))


def _elu_layer(g, layer, xs, shapes):
    return g.op("Elu", [xs[0]], layer.name, alpha=float(layer.alpha))


def _prelu(g, layer, xs, shapes):
    # relu(x) - alpha·relu(-x) is ONNX's PRelu (alpha broadcast over the batch)
    return g.op("PRelu", [xs[0], g.floats(f"{layer.name}/alpha", layer.alpha.data)], layer.name)


def _rescaling(g, layer, xs, shapes):
    # integer images are cast first, as Rescaling.call (a no-op for floats)
    x = g.op("Cast", [xs[0]], layer.name, to=g.onnx.helper.np_dtype_to_tensor_dtype(g.dtype))
    y = g.op("Mul", [x, g.floats(f"{layer.name}/scale", layer.scale)], layer.name)
    return g.op("Add", [y, g.floats(f"{layer.name}/offset", layer.offset)], layer.name)


def _normalization(g, layer, xs, shapes):
    """(x - mean) / max(√variance, ε), or its inverse (preprocessing.Normalization)."""
    from ..layers.preprocessing import _EPSILON
    mean, variance = layer._stats()
    scale = np.maximum(np.sqrt(variance), _EPSILON)
    mean_name = g.floats(f"{layer.name}/mean", mean)
    scale_name = g.floats(f"{layer.name}/scale", scale)
    if layer.invert:
        return g.op("Add", [g.op("Mul", [xs[0], scale_name], layer.name), mean_name],
                    layer.name)
    return g.op("Div", [g.op("Sub", [xs[0], mean_name], layer.name), scale_name], layer.name)


def _permute(g, layer, xs, shapes):
    return g.op("Transpose", [xs[0]], layer.name, perm=[0] + [int(d) for d in layer.dims])


def _repeat_vector(g, layer, xs, shapes):
    y = g.op("Unsqueeze", [xs[0], _int64s(g, f"{layer.name}/axis1", [1])], layer.name)
    return g.op("Tile", [y, _int64s(g, f"{layer.name}/repeats", [1, layer.n, 1])], layer.name)


def _zero_padding(g, layer, xs, shapes):
    pairs = [layer.padding] if isinstance(layer.padding[0], int) else list(layer.padding)
    rank = len(shapes[0])
    before = [0] + [int(p[0]) for p in pairs] + [0] * (rank - 1 - len(pairs))
    after = [0] + [int(p[1]) for p in pairs] + [0] * (rank - 1 - len(pairs))
    return g.op("Pad", [xs[0], _int64s(g, f"{layer.name}/pads", before + after)], layer.name)


def _cropping(g, layer, xs, shapes):
    pairs = [layer.cropping] if isinstance(layer.cropping[0], int) else list(layer.cropping)
    starts, ends = [], []
    for i, (front, back) in enumerate(pairs, start=1):
        if shapes[0][i] is None:
            raise ValueError(f"{_where(layer)}: cropping needs the size of axis {i}, got input "
                             f"shape {shapes[0]}")
        starts.append(int(front))
        ends.append(int(shapes[0][i] - back))
    axes = list(range(1, len(pairs) + 1))
    return g.op("Slice", [xs[0], _int64s(g, f"{layer.name}/starts", starts),
                          _int64s(g, f"{layer.name}/ends", ends),
                          _int64s(g, f"{layer.name}/axes", axes)], layer.name)


def _upsampling(g, layer, xs, shapes):
    """Nearest-neighbour repetition of every step (UpSampling1D/2D): each
    spatial axis gets a new axis after it, tiled, then merged back."""
    if getattr(layer, "interpolation", "nearest") != "nearest":
        raise ValueError(f"{_where(layer)}: interpolation={layer.interpolation!r} has no ONNX "
                         f"export here (only 'nearest')")
    sizes = [layer.size] if isinstance(layer.size, int) else list(layer.size)
    shape = shapes[0]
    if any(d is None for d in shape[1:]):
        raise ValueError(f"{_where(layer)}: needs a fully known input shape, got {shape}")
    spatial = len(sizes)
    expanded_axes = [2 + 2 * i for i in range(spatial)]          # after each spatial axis
    y = g.op("Unsqueeze", [xs[0], _int64s(g, f"{layer.name}/axes", expanded_axes)], layer.name)
    repeats = [1]
    for size in sizes:
        repeats += [1, int(size)]
    repeats += [1]
    y = g.op("Tile", [y, _int64s(g, f"{layer.name}/repeats", repeats)], layer.name)
    target = [0] + [int(shape[1 + i]) * int(sizes[i]) for i in range(spatial)] + \
        [int(d) for d in shape[1 + spatial:]]
    return g.op("Reshape", [y, _int64s(g, f"{layer.name}/shape", target)], layer.name)


def _embedding(g, layer, xs, shapes):
    ids = g.op("Cast", [xs[0]], layer.name, to=g.onnx.TensorProto.INT64)
    return g.op("Gather", [g.floats(f"{layer.name}/embeddings", layer.embeddings.data), ids],
                layer.name, axis=0)


def _recurrent(op_type, gate_order):
    """LSTM / GRU / SimpleRNN as ONNX's op of the same name (time-first)."""
    def convert(g, layer, xs, shapes):
        from .. import activations
        where = _where(layer)
        if layer.return_state:
            raise ValueError(f"{where}: return_state=True has no ONNX export here")
        acts = [activations.serialize(layer.activation)]
        if hasattr(layer, "recurrent_activation"):
            acts.insert(0, activations.serialize(layer.recurrent_activation))
        if acts[-1] != "tanh" or (len(acts) == 2 and acts[0] != "sigmoid"):
            raise ValueError(f"{where}: only the default activations (tanh, and sigmoid for "
                             f"the gates) have an ONNX export here, got {acts}")
        u = layer.units
        blocks = len(gate_order)

        def reorder(matrix):          # Keras' gate blocks (columns) -> ONNX's order, (gates·u, in)
            parts = [matrix[..., k * u:(k + 1) * u] for k in range(blocks)]
            return np.concatenate([parts[k] for k in gate_order], axis=-1).T
        dtype = layer.kernel.dtype
        w = reorder(layer.kernel.data)[None]
        r = reorder(layer.recurrent_kernel.data)[None]
        bias = np.zeros((2, blocks * u), dtype)
        if layer.bias is not None:
            b = layer.bias.data.reshape(-1, blocks * u)       # GRU reset_after: (2, 3u)
            bias[:b.shape[0]] = b
        bias = np.concatenate([reorder(bias[:1])[:, 0], reorder(bias[1:])[:, 0]])[None]
        x = xs[0]
        if layer.go_backwards:
            x = g.op("Slice", [x, g.const(f"{layer.name}/start", np.array([-1], np.int64)),
                               g.const(f"{layer.name}/stop", np.array([-2 ** 62], np.int64)),
                               g.const(f"{layer.name}/axis", np.array([1], np.int64)),
                               g.const(f"{layer.name}/step", np.array([-1], np.int64))],
                     layer.name)
        x = g.op("Transpose", [x], layer.name, perm=[1, 0, 2])        # (time, batch, features)
        attrs = {"hidden_size": u}
        if op_type == "GRU":
            attrs["linear_before_reset"] = int(layer.reset_after)
        y, y_h = g.op(op_type, [x, g.floats(f"{layer.name}/W", w), g.floats(f"{layer.name}/R", r),
                                g.floats(f"{layer.name}/B", bias)],
                      layer.name, outputs=2, **attrs)
        if not layer.return_sequences:
            axis0 = g.const(f"{layer.name}/axis0", np.array([0], np.int64))
            return g.op("Squeeze", [y_h, axis0], layer.name)          # (batch, units)
        axis1 = g.const(f"{layer.name}/axis1", np.array([1], np.int64))
        y = g.op("Squeeze", [y, axis1], layer.name)                    # (time, batch, units)
        return g.op("Transpose", [y], layer.name, perm=[1, 0, 2])
    return convert


def _reverse_steps(g, x, base):
    """x[:, ::-1]: the time axis reversed."""
    return g.op("Slice", [x, _int64s(g, f"{base}/start", [-1]),
                          _int64s(g, f"{base}/stop", [-2 ** 62]),
                          _int64s(g, f"{base}/axis", [1]), _int64s(g, f"{base}/step", [-1])],
                base)


def _bidirectional(g, layer, xs, shapes):
    """Keras 3 ``bidirectional.py``: the forward and the backward layer, the
    backward sequence put back in time order, merged by ``merge_mode``."""
    where = _where(layer)
    if layer.return_state or layer.merge_mode is None:
        raise ValueError(f"{where}: return_state=True or merge_mode=None has no ONNX export "
                         f"here")
    forward = _emit(g, layer.forward_layer, xs, shapes)
    backward = _emit(g, layer.backward_layer, xs, shapes)
    if layer.return_sequences:
        backward = _reverse_steps(g, backward, layer.name)
    if layer.merge_mode == "concat":
        return g.op("Concat", [forward, backward], layer.name, axis=-1)
    if layer.merge_mode == "sum":
        return g.op("Add", [forward, backward], layer.name)
    if layer.merge_mode == "mul":
        return g.op("Mul", [forward, backward], layer.name)
    return g.op("Mean", [forward, backward], layer.name)             # "ave"


def _time_distributed(g, layer, xs, shapes):
    """The inner layer on (batch·steps, ...), reshaped back to (batch, steps, ...)."""
    shape = shapes[0]
    if shape[1] is None:
        raise ValueError(f"{_where(layer)}: needs a known number of steps, got input shape "
                         f"{shape}")
    inner_shape = (None,) + tuple(shape[2:])
    flat = g.op("Reshape", [xs[0], _int64s(g, f"{layer.name}/merge_steps",
                                           [-1] + [int(d) for d in shape[2:]])], layer.name)
    y = _emit(g, layer.layer, [flat], [inner_shape])
    out = layer.layer.compute_output_shape(inner_shape)
    return g.op("Reshape", [y, _int64s(g, f"{layer.name}/split_steps",
                                       [-1, int(shape[1])] + [int(d) for d in out[1:]])],
                layer.name)


CONVERTERS = {
    "Dense": _dense,
    "Activation": _activation_layer,
    "LeakyReLU": _leaky_relu,
    "Dropout": _identity,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Add": _add,
    "Concatenate": _concatenate,
    "Conv2D": _conv2d,
    "Conv1D": _conv2d,
    "DepthwiseConv2D": _depthwise_conv2d,
    "SeparableConv2D": _separable_conv2d,
    "MaxPooling2D": _pool2d("MaxPool"),
    "AveragePooling2D": _pool2d("AveragePool"),
    "MaxPooling1D": _pool2d("MaxPool"),
    "AveragePooling1D": _pool2d("AveragePool"),
    "GlobalAveragePooling2D": _global_pool("ReduceMean", (1, 2)),
    "GlobalMaxPooling2D": _global_pool("ReduceMax", (1, 2)),
    "GlobalAveragePooling1D": _global_pool("ReduceMean", (1,)),
    "GlobalMaxPooling1D": _global_pool("ReduceMax", (1,)),
    "BatchNormalization": _batch_norm,
    "Embedding": _embedding,
    # Keras' gate blocks are (i, f, c, o) and (z, r, h); ONNX wants (i, o, f, c) and (z, r, h).
    "LSTM": _recurrent("LSTM", (0, 3, 1, 2)),
    "GRU": _recurrent("GRU", (0, 1, 2)),
    "SimpleRNN": _recurrent("RNN", (0,)),
    # issue 17's layers
    "LayerNormalization": _layer_norm,
    "GroupNormalization": _group_norm,
    "Conv2DTranspose": _conv_transpose,
    "Conv1DTranspose": _conv_transpose,
    "MultiHeadAttention": _multi_head_attention,
    "Attention": _attention,
    "Multiply": _fold("Mul"),
    "Subtract": _fold("Sub"),
    "Maximum": _fold("Max"),
    "Minimum": _fold("Min"),
    "Average": _average,
    "Dot": _dot,
    "ReLU": _relu_layer,
    "Softmax": _softmax_layer,
    "ELU": _elu_layer,
    "PReLU": _prelu,
    "Identity": _identity,
    "GaussianNoise": _identity,            # noise layers do nothing at inference
    "GaussianDropout": _identity,
    "SpatialDropout1D": _identity,
    "SpatialDropout2D": _identity,
    "Rescaling": _rescaling,
    "Normalization": _normalization,
    "Permute": _permute,
    "RepeatVector": _repeat_vector,
    "ZeroPadding1D": _zero_padding,
    "ZeroPadding2D": _zero_padding,
    "Cropping1D": _cropping,
    "Cropping2D": _cropping,
    "UpSampling1D": _upsampling,
    "UpSampling2D": _upsampling,
    "Bidirectional": _bidirectional,
    "TimeDistributed": _time_distributed,
}

# Converters that also take the call's other arguments (tensors as
# ``(name, shape)``): MultiHeadAttention's value, key and use_causal_mask.
_TAKES_CALL_ARGUMENTS = {"MultiHeadAttention"}


def _where(layer):
    return f"{type(layer).__name__} layer '{layer.name}'"


# --------------------------------------------------------------------------
# Walking the model
# --------------------------------------------------------------------------
def _emit(g, layer, xs, shapes, call=None):
    """The output name of ``layer`` applied to the tensors named ``xs``."""
    from .functional import Functional
    from .sequential import Sequential
    if call and isinstance(layer, (Sequential, Functional)):
        raise ValueError(f"model '{layer.name}' is called with {sorted(call)} inside the "
                         f"model, which the ONNX export does not handle")
    if isinstance(layer, Sequential):
        x, shape = xs[0], shapes[0]
        for inner in layer.layers:
            x, shape = _emit(g, inner, [x], [shape]), inner.compute_output_shape(shape)
        return x
    if isinstance(layer, Functional):
        return _emit_functional(g, layer, xs)
    converter = CONVERTERS.get(type(layer).__name__)
    if converter is None:
        raise ValueError(f"{_where(layer)} has no ONNX export; layers that have one: "
                         f"{', '.join(sorted(CONVERTERS))}")
    if getattr(layer, "mask_zero", False) or type(layer).__name__ == "Masking":
        raise ValueError(f"{_where(layer)} makes a mask, which the ONNX export does not carry "
                         f"(the exported graph would attend to the padded steps)")
    if type(layer).__name__ in _TAKES_CALL_ARGUMENTS:
        return converter(g, layer, xs, shapes, call=call or {})
    if call:
        raise ValueError(f"{_where(layer)} is called with {sorted(call)}, which the ONNX "
                         f"export does not handle")
    return converter(g, layer, xs, shapes)


def _emit_functional(g, model, xs):
    from ..layers.base import SymbolicTensor, _flatten
    from .functional import InputLayer
    names = {id(t): x for t, x in zip(model._input_tensors, xs)}
    for layer, args, kwargs, out in model._nodes:
        if isinstance(layer, InputLayer):
            continue
        call = {k: (names[id(v)], v.shape) if isinstance(v, SymbolicTensor) else v
                for k, v in kwargs.items() if v is not None}
        parents = [t for t in _flatten(args) if isinstance(t, SymbolicTensor)]
        names[id(out)] = _emit(g, layer, [names[id(t)] for t in parents],
                               [t.shape for t in parents], call)
    outs = [names[id(t)] for t in model._output_tensors]
    return outs[0] if model._single_output else outs


def _input_specs(model):
    """``[(name, shape batch-first, dtype)]`` of the model's inputs."""
    from .functional import Functional
    from .sequential import Sequential
    if isinstance(model, Functional):
        return [(t.input_layer.name, t.shape, t.dtype) for t in model._input_tensors]
    if isinstance(model, Sequential) and model.build_input_shape is not None:
        return [(getattr(model, "_input_name", None) or "input", tuple(model.build_input_shape),
                 np.dtype(model._input_dtype or model.dtype))]
    raise ValueError(f"model '{model.name}' ({type(model).__name__}) cannot be exported to "
                     f"ONNX: only built Sequential and functional models can (a subclassed "
                     f"model's call() is Python code)")


def _output_shapes(model):
    from .functional import Functional
    if isinstance(model, Functional):
        return [t.shape for t in model._output_tensors]
    shape = model.compute_output_shape(tuple(model.build_input_shape))
    return shape if isinstance(shape, list) else [shape]


def export_onnx(model: Model, filepath: str | os.PathLike[str], opset: int = OPSET) -> str:
    """Write ``model`` as an ONNX file at ``filepath`` (atomically); returns the path.

    Args:
        model: a built model.
        filepath: the ``.onnx`` file to write.
        opset: the ONNX opset version, at least 14.

    Returns:
        The path written.
    """
    onnx = _need_onnx()
    if not model.built:
        raise ValueError(f"model '{model.name}' has not been built; build it before exporting")
    specs = _input_specs(model)
    if not isinstance(opset, int) or opset < 14:
        raise ValueError(f"export: opset_version must be an int >= 14 (LSTM and GRU as used "
                         f"here need it), got {opset!r}")
    g = _Graph(onnx, model.dtype, opset)
    inputs = []
    for name, shape, dtype in specs:
        g.names.add(name)
        elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        dims = ["batch"] + [d if d is not None else f"{name}_dim{i}"
                            for i, d in enumerate(shape[1:], start=1)]
        inputs.append(onnx.helper.make_tensor_value_info(name, elem, dims))
    outs = _emit(g, model, [s[0] for s in specs], [s[1] for s in specs])
    outs = outs if isinstance(outs, list) else [outs]
    out_names = model.output_names if len(model.output_names) == len(outs) else \
        [f"output_{i}" for i in range(len(outs))]
    outputs = []
    elem = onnx.helper.np_dtype_to_tensor_dtype(g.dtype)
    for inner, wanted, shape in zip(outs, out_names, _output_shapes(model)):
        name = g.name(wanted)
        g.nodes.append(onnx.helper.make_node("Identity", [inner], [name],
                                             name=g.name(f"{name}/output")))
        dims = ["batch"] + [d if d is not None else f"{name}_dim{i}"
                            for i, d in enumerate(shape[1:], start=1)]
        outputs.append(onnx.helper.make_tensor_value_info(name, elem, dims))
    graph = onnx.helper.make_graph(g.nodes, model.name, inputs, outputs, g.initializers)
    from .. import __version__
    proto = onnx.helper.make_model(graph, producer_name="chainrule", producer_version=__version__,
                                   opset_imports=[onnx.helper.make_opsetid("", opset)])
    proto.ir_version = min(proto.ir_version, 8)      # readable by onnxruntime >= 1.14
    onnx.checker.check_model(proto)
    from .keras_format import _atomic_write
    _atomic_write(os.fspath(filepath), proto.SerializeToString())
    return os.fspath(filepath)
