"""Functional models: ``cr.Input`` and ``cr.Model(inputs, outputs)``.

Calling a layer on the placeholder made by :func:`Input` does not compute
anything: it builds the layer and returns another placeholder
(:class:`~chainrule.layers.SymbolicTensor`) that remembers which layer call
made it. ``Model(inputs, outputs)`` walks those records back from the outputs
to the inputs and keeps the calls in an order where every call comes after
the calls it depends on; running the model replays them on real tensors.

>>> import chainrule as cr
>>> from chainrule import layers
>>> inputs = cr.Input((4,))
>>> hidden = layers.Dense(8, activation="relu")(inputs)
>>> outputs = layers.Dense(3)(hidden)
>>> model = cr.Model(inputs, outputs)
>>> model.predict(np.zeros((2, 4))).shape
(2, 3)

A layer called twice (shared weights) appears once in ``model.layers`` and
its weights are counted once.
"""
import numpy as np

from ..errors import ShapeError
from ..layers.base import (
    Layer,
    SymbolicTensor,
    _flatten,
    _fmt_shape,
    _map,
    deserialize,
    serialize,
)
from ..tensor import Tensor, as_tensor
from .model import Model

__all__ = ["Functional", "Input", "InputLayer"]


class InputLayer(Layer):
    """The layer behind ``cr.Input``: it holds the input's shape and dtype.

    ``shape`` excludes the batch dimension, as in Keras.
    """

    def __init__(self, shape=None, dtype=None, name=None, **kwargs):
        if shape is None:
            raise ValueError("InputLayer needs shape=, the shape of one sample "
                             "without the batch dimension, e.g. shape=(784,)")
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        shape = tuple(None if d is None else int(d) for d in shape)
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.shape = shape
        self.built = True
        output = SymbolicTensor((None,) + shape, self.dtype, history=None, name=self.name)
        output.input_layer = self           # how a model finds the layer again
        object.__setattr__(self, "output", output)

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"shape": list(self.shape), "dtype": self.dtype.name, "name": self.name}


def Input(shape, dtype=None, name=None):
    """A placeholder for the model's input: ``shape`` is one sample's shape.

    >>> import chainrule as cr
    >>> x = cr.Input((28, 28, 1))
    >>> x.shape
    (None, 28, 28, 1)
    """
    return InputLayer(shape=shape, dtype=dtype, name=name).output


class Functional(Model):
    """A model defined by connecting layers from ``Input`` placeholders.

    You usually create it as ``cr.Model(inputs, outputs)``; ``inputs`` and
    ``outputs`` are one placeholder or a list of them.
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self._single_input = not isinstance(inputs, (list, tuple, dict))
        self._single_output = not isinstance(outputs, (list, tuple, dict))
        self._input_tensors = _flatten(inputs)
        self._output_tensors = _flatten(outputs)
        for t in self._input_tensors:
            if not isinstance(t, SymbolicTensor) or getattr(t, "input_layer", None) is None:
                raise TypeError(
                    f"Model(inputs, outputs): every input must come from cr.Input(shape), "
                    f"got {t!r}")
        for t in self._output_tensors:
            if not isinstance(t, SymbolicTensor):
                raise TypeError(
                    f"Model(inputs, outputs): every output must be the result of calling "
                    f"layers on cr.Input placeholders, got {type(t).__name__}")
        self._nodes = self._order_calls()
        input_layers = [t.input_layer for t in self._input_tensors]
        for layer in input_layers + [node[0] for node in self._nodes]:
            if all(layer is not seen for seen in self._layers):
                self._layers.append(layer)
        for layer, _, _, out in self._nodes:
            layer.output_shape_ = out.shape if layer.output_shape_ in (None, out.shape) else "multiple"
        for layer in input_layers:
            layer.output_shape_ = layer.output.shape
        self.built = True
        self.build_input_shape = [t.shape for t in self._input_tensors]
        if self._single_input:
            self.build_input_shape = self.build_input_shape[0]

    def _order_calls(self):
        """The layer calls from the inputs to the outputs, each after its inputs.

        Returns ``[(layer, args, kwargs, output_placeholder), ...]``.
        """
        known = {id(t) for t in self._input_tensors}
        order, state = [], {}            # state: id -> "visiting" | "done"

        def visit(t):
            if id(t) in known or state.get(id(t)) == "done":
                return
            if t.history is None:
                raise ValueError(
                    f"Model(inputs, outputs): the outputs depend on the input "
                    f"'{t.name}', which is not in `inputs`; add it to the list of inputs")
            if state.get(id(t)) == "visiting":
                raise ValueError("Model(inputs, outputs): the layer graph has a cycle")
            state[id(t)] = "visiting"
            layer, args, kwargs, _ = t.history
            for parent in _flatten(args):
                if isinstance(parent, SymbolicTensor):
                    visit(parent)
            state[id(t)] = "done"
            order.append((layer, args, kwargs, t))

        for t in self._output_tensors:
            visit(t)
        return order

    # -- running -----------------------------------------------------------
    def _maybe_build(self, input_shape):
        pass                              # built when it was defined

    def call(self, inputs, training=False):
        xs = _flatten(inputs) if not self._single_input or isinstance(inputs, (list, tuple)) \
            else [inputs]
        if len(xs) != len(self._input_tensors):
            raise ValueError(f"model '{self.name}' has {len(self._input_tensors)} inputs "
                             f"but was called with {len(xs)}")
        xs = [_cast_input(placeholder, x) for placeholder, x in zip(self._input_tensors, xs)]
        self._check_input_shapes([x.shape for x in xs])
        values = {id(placeholder): x for placeholder, x in zip(self._input_tensors, xs)}
        for layer, args, kwargs, out in self._nodes:
            concrete = _map(lambda t: values[id(t)] if isinstance(t, SymbolicTensor) else t, args)
            y = layer(concrete, training=training, **kwargs)
            if isinstance(y, (list, tuple)):
                raise NotImplementedError(
                    f"layer '{layer.name}' returns {len(y)} tensors; functional models "
                    f"support layers with one output")
            values[id(out)] = y
        outs = [values[id(t)] for t in self._output_tensors]
        return outs[0] if self._single_output else outs

    @property
    def inputs(self):
        return list(self._input_tensors)

    @property
    def outputs(self):
        return list(self._output_tensors)

    @property
    def output_names(self):
        return [t.history[0].name if t.history else t.name for t in self._output_tensors]

    def _input_shapes(self):
        return [t.shape for t in self._input_tensors]

    def _input_error(self, index, expected, received):
        return ShapeError(
            f"InputLayer '{self._input_tensors[index].name}' of model '{self.name}' expects "
            f"input of shape {_fmt_shape(expected)} (batch first) but received "
            f"{_fmt_shape(received)}.")

    # -- config ------------------------------------------------------------
    def get_config(self):
        node_index = {id(out): k for k, (_, _, _, out) in enumerate(self._nodes)}
        input_index = {id(t): i for i, t in enumerate(self._input_tensors)}

        def ref(t):
            if not isinstance(t, SymbolicTensor):
                return t
            if id(t) in input_index:
                return {"input": input_index[id(t)]}
            return {"node": node_index[id(t)]}
        return {
            "name": self.name, "trainable": self.trainable,
            "layers": [serialize(layer) for layer in self.layers],
            "inputs": [t.input_layer.name for t in self._input_tensors],
            "nodes": [{"layer": layer.name, "args": _map(ref, args), "kwargs": kwargs}
                      for layer, args, kwargs, _ in self._nodes],
            "outputs": [ref(t) for t in self._output_tensors],
            "single_input": self._single_input, "single_output": self._single_output,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        by_name = {}
        for spec in config["layers"]:
            layer = _deserialize_any(spec, custom_objects)
            by_name[layer.name] = layer
        inputs = [by_name[name].output for name in config["inputs"]]
        produced = []

        def deref(item):
            if isinstance(item, dict) and set(item) == {"input"}:
                return inputs[item["input"]]
            if isinstance(item, dict) and set(item) == {"node"}:
                return produced[item["node"]]
            return item
        for node in config["nodes"]:
            layer = by_name[node["layer"]]
            args = _map_refs(deref, node["args"])
            produced.append(layer(args, **node.get("kwargs", {})))
        outputs = [deref(r) for r in config["outputs"]]
        return cls(inputs[0] if config.get("single_input", len(inputs) == 1) else inputs,
                   outputs[0] if config.get("single_output", len(outputs) == 1) else outputs,
                   name=config.get("name"), trainable=config.get("trainable", True))


def _map_refs(fn, structure):
    # Like _map, but a {"input": i} / {"node": k} dict is a leaf.
    if isinstance(structure, dict) and set(structure) in ({"input"}, {"node"}):
        return fn(structure)
    if isinstance(structure, list):
        return [_map_refs(fn, s) for s in structure]
    if isinstance(structure, dict):
        return {k: _map_refs(fn, v) for k, v in structure.items()}
    return fn(structure)


def _deserialize_any(spec, custom_objects=None):
    """``layers.deserialize`` that also passes custom objects to nested models."""
    from ..layers.base import get_registered
    cls = get_registered(spec["class_name"], custom_objects)
    if isinstance(cls, type) and issubclass(cls, Model):
        return cls.from_config(dict(spec["config"]), custom_objects=custom_objects)
    return deserialize(spec, custom_objects)


def _cast_input(placeholder, x):
    """``x`` as a Tensor, floats cast to the placeholder's dtype."""
    if not isinstance(x, Tensor):
        arr = np.asarray(x)
        return as_tensor(arr, placeholder.dtype if arr.dtype.kind == "f" else None)
    if x.dtype.kind == "f" and x.dtype != placeholder.dtype:
        return x.astype(placeholder.dtype)
    return x
