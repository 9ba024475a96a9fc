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
naming it and listing those that have one.

Conventions bridged here: chainrule is channels-last (N, H, W, C) while
ONNX's Conv and pooling are channels-first, so each of them is wrapped in
two Transposes; Keras' LSTM gates (i, f, c, o) are reordered to ONNX's
(i, o, f, c); sequences are batch-first in chainrule and time-first in ONNX.
"""
import os

import numpy as np

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


def _pads(layer, shape, kernel, strides):
    if layer.padding == "valid":
        return [0, 0, 0, 0]
    if shape[1] is None or shape[2] is None:
        raise ValueError(f"{_where(layer)}: 'same' padding needs the image size, got input "
                         f"shape {shape}")
    (top, bottom), (left, right) = (_same_pads(shape[1], kernel[0], strides[0]),
                                    _same_pads(shape[2], kernel[1], strides[1]))
    return [top, left, bottom, right]


def _channels_first(g, x, base):
    return g.op("Transpose", [x], base, perm=[0, 3, 1, 2])


def _channels_last(g, x, base):
    return g.op("Transpose", [x], base, perm=[0, 2, 3, 1])


def _conv2d(g, layer, xs, shapes):
    kernel = np.transpose(layer.kernel.data, (3, 2, 0, 1))     # (kh,kw,in,out) -> (out,in,kh,kw)
    inputs = [_channels_first(g, xs[0], layer.name), g.floats(f"{layer.name}/kernel", kernel)]
    if layer.bias is not None:
        inputs.append(g.floats(f"{layer.name}/bias", layer.bias.data))
    y = g.op("Conv", inputs, layer.name, kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides),
             pads=_pads(layer, shapes[0], layer.kernel_size, layer.strides))
    return _activation(g, layer.activation, _channels_last(g, y, layer.name), layer.name,
                       _where(layer))


def _pool2d(op_type):
    def convert(g, layer, xs, shapes):
        y = g.op(op_type, [_channels_first(g, xs[0], layer.name)], layer.name,
                 kernel_shape=list(layer.pool_size), strides=list(layer.strides),
                 pads=_pads(layer, shapes[0], layer.pool_size, layer.strides))
        return _channels_last(g, y, layer.name)
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
    "MaxPooling2D": _pool2d("MaxPool"),
    "AveragePooling2D": _pool2d("AveragePool"),
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
}


def _where(layer):
    return f"{type(layer).__name__} layer '{layer.name}'"


# --------------------------------------------------------------------------
# Walking the model
# --------------------------------------------------------------------------
def _emit(g, layer, xs, shapes):
    """The output name of ``layer`` applied to the tensors named ``xs``."""
    from .functional import Functional
    from .sequential import Sequential
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
    return converter(g, layer, xs, shapes)


def _emit_functional(g, model, xs):
    from ..layers.base import SymbolicTensor, _flatten
    from .functional import InputLayer
    names = {id(t): x for t, x in zip(model._input_tensors, xs)}
    for layer, args, kwargs, out in model._nodes:
        if isinstance(layer, InputLayer):
            continue
        if kwargs:
            raise ValueError(f"{_where(layer)} is called with {sorted(kwargs)}, which the "
                             f"ONNX export does not handle")
        parents = [t for t in _flatten(args) if isinstance(t, SymbolicTensor)]
        names[id(out)] = _emit(g, layer, [names[id(t)] for t in parents],
                               [t.shape for t in parents])
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


def export_onnx(model, filepath, opset=OPSET):
    """Write ``model`` as an ONNX file at ``filepath`` (atomically); returns the path."""
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
