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
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeError
from ..layers.base import (
    SymbolicTensor,
    _flatten,
    _fmt_shape,
    _map,
    deserialize,
    serialize,
)
from ..layers.input_layer import Input, InputLayer
from ..tensor import Tensor, as_tensor
from .model import Model

__all__ = ["Functional", "Input", "InputLayer"]


class Functional(Model):
    """A model defined by connecting layers from ``Input`` placeholders.

    You usually create it as ``cr.Model(inputs, outputs)``; ``inputs`` and
    ``outputs`` are one placeholder or a list of them.

    Args:
        inputs: the ``cr.Input`` placeholder(s) (one, a list, or a dict).
        outputs: the placeholder(s) made by calling layers on them.
        name: the model's name (default ``"functional"``, numbered when taken).
        trainable: whether ``fit`` updates its weights.
        dtype: the model's dtype policy (None: the default float).
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None,
                 trainable: bool = True, dtype: Any = None) -> None:
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
            shape = [o.shape for o in out] if isinstance(out, list) else out.shape
            layer.output_shape_ = shape if layer.output_shape_ in (None, shape) else "multiple"
        for layer in input_layers:
            layer.output_shape_ = layer.output.shape
        self.built = True
        self.build_input_shape = [t.shape for t in self._input_tensors]
        if self._single_input:
            self.build_input_shape = self.build_input_shape[0]

    def _order_calls(self) -> list[tuple[Any, Any, Any, Any]]:
        """The layer calls from the inputs to the outputs, each after its inputs.

        Returns ``[(layer, args, kwargs, outputs), ...]``; ``outputs`` is the
        placeholder the call made (a list for a layer with several outputs).
        """
        known = {id(t) for t in self._input_tensors}
        order: list[tuple[Any, Any, Any, Any]] = []
        state: dict[tuple[int, int], str] = {}      # call key -> "visiting" | "done"

        def visit(t: SymbolicTensor) -> None:
            if id(t) in known:
                return
            if t.history is None:
                raise ValueError(
                    f"Model(inputs, outputs): the outputs depend on the input "
                    f"'{t.name}', which is not in `inputs`; add it to the list of inputs")
            layer, args, kwargs, index = t.history
            key = (id(layer), index)
            if state.get(key) == "done":
                return
            if state.get(key) == "visiting":
                raise ValueError("Model(inputs, outputs): the layer graph has a cycle")
            state[key] = "visiting"
            for parent in _flatten(args) + _flatten(list(kwargs.values())):
                if isinstance(parent, SymbolicTensor):
                    visit(parent)
            state[key] = "done"
            order.append((layer, args, kwargs, _call_outputs(t)))

        for t in self._output_tensors:
            visit(t)
        return order

    # -- running -----------------------------------------------------------
    def _maybe_build(self, input_shape: Any) -> None:
        pass                              # built when it was defined

    def call(self, inputs: Any, training: bool = False) -> Any:
        """Replay the recorded layer calls on ``inputs``.

        Args:
            inputs: one tensor or array per ``cr.Input`` (one, or a list).
            training: passed to every layer (Dropout, BatchNormalization...).

        Returns:
            The output tensor, or a list for several outputs.
        """
        xs = _flatten(inputs) if not self._single_input or isinstance(inputs, (list, tuple)) \
            else [inputs]
        if len(xs) != len(self._input_tensors):
            raise ValueError(f"model '{self.name}' has {len(self._input_tensors)} inputs "
                             f"but was called with {len(xs)}")
        xs = [_cast_input(placeholder, x) for placeholder, x in zip(self._input_tensors, xs)]
        self._check_input_shapes([x.shape for x in xs])
        values = {id(placeholder): x for placeholder, x in zip(self._input_tensors, xs)}
        def concrete(t):
            return values[id(t)] if isinstance(t, SymbolicTensor) else t
        for layer, args, kwargs, out in self._nodes:
            y = layer(_map(concrete, args), training=training, **_map(concrete, kwargs))
            placeholders = out if isinstance(out, list) else [out]
            results = list(y) if isinstance(y, (list, tuple)) else [y]
            if len(results) != len(placeholders):
                raise ValueError(f"layer '{layer.name}' returned {len(results)} tensor(s) but "
                                 f"returned {len(placeholders)} when the model was defined")
            for placeholder, result in zip(placeholders, results):
                values[id(placeholder)] = result
        outs = [values[id(t)] for t in self._output_tensors]
        return outs[0] if self._single_output else outs

    @property
    def inputs(self) -> list[SymbolicTensor]:
        """The input placeholders, as a list."""
        return list(self._input_tensors)

    @property
    def outputs(self) -> list[SymbolicTensor]:
        """The output placeholders, as a list."""
        return list(self._output_tensors)

    @property
    def input(self) -> SymbolicTensor | list[SymbolicTensor]:
        """The input placeholder (a list for several inputs), as Keras' ``model.input``."""
        return self.inputs[0] if self._single_input else self.inputs

    @property
    def output(self) -> SymbolicTensor | list[SymbolicTensor]:
        """The output placeholder (a list for several outputs)."""
        return self.outputs[0] if self._single_output else self.outputs

    @property
    def output_names(self) -> list[str]:
        return [t.history[0].name if t.history else t.name for t in self._output_tensors]

    def _input_shapes(self):
        return [t.shape for t in self._input_tensors]

    def _input_error(self, index, expected, received):
        return ShapeError(
            f"InputLayer '{self._input_tensors[index].name}' of model '{self.name}' expects "
            f"input of shape {_fmt_shape(expected)} (batch first) but received "
            f"{_fmt_shape(received)}.")

    # -- config ------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The layers' configs and the recorded calls, placeholders as references.

        Returns:
            A JSON-friendly dict that ``from_config`` turns back into an equal model.
        """
        where: dict[int, dict[str, int]] = {}       # id(placeholder) -> reference
        for k, (_, _, _, out) in enumerate(self._nodes):
            if isinstance(out, list):
                where.update({id(o): {"node": k, "index": i} for i, o in enumerate(out)})
            else:
                where[id(out)] = {"node": k}
        where.update({id(t): {"input": i} for i, t in enumerate(self._input_tensors)})

        def ref(t: Any) -> Any:
            return where[id(t)] if isinstance(t, SymbolicTensor) else t

        def layer_entry(layer: Any) -> dict[str, Any]:
            # the name also outside the config: a custom get_config may leave it out
            return {**serialize(layer), "name": layer.name}
        return {
            "name": self.name, "trainable": self.trainable,
            "layers": [layer_entry(layer) for layer in self.layers],
            "inputs": [t.input_layer.name for t in self._input_tensors],
            "nodes": [{"layer": layer.name, "args": _map(ref, args),
                       "kwargs": _map(ref, kwargs)}
                      for layer, args, kwargs, _ in self._nodes],
            "outputs": [ref(t) for t in self._output_tensors],
            "single_input": self._single_input, "single_output": self._single_output,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any],
                    custom_objects: dict[str, Any] | None = None) -> Functional:
        """The model ``get_config``'s dict describes: its layers called as recorded.

        Args:
            config: what ``get_config`` returned.
            custom_objects: ``{name: class}`` for custom layers.

        Returns:
            A new functional model (fresh weights).
        """
        by_name = {}
        for spec in config["layers"]:
            layer = _deserialize_any(spec, custom_objects)
            if "name" in spec and "name" not in spec.get("config", {}):
                layer.name = spec["name"]
            by_name[layer.name] = layer
        inputs = [by_name[name].output for name in config["inputs"]]
        produced: list[Any] = []

        def deref(item: Any) -> Any:
            if _is_ref(item) and "input" in item:
                return inputs[item["input"]]
            if _is_ref(item):
                out = produced[item["node"]]
                return out[item["index"]] if "index" in item else out
            return item
        for node in config["nodes"]:
            layer = by_name[node["layer"]]
            args = _map_refs(deref, node["args"])
            kwargs = _map_refs(deref, node.get("kwargs", {}))
            produced.append(layer(args, **kwargs))
        outputs = [deref(r) for r in config["outputs"]]
        return cls(inputs[0] if config.get("single_input", len(inputs) == 1) else inputs,
                   outputs[0] if config.get("single_output", len(outputs) == 1) else outputs,
                   name=config.get("name"), trainable=config.get("trainable", True))


def _is_ref(item: Any) -> bool:
    return isinstance(item, dict) and set(item) in ({"input"}, {"node"}, {"node", "index"})


def _call_outputs(t: SymbolicTensor) -> Any:
    """All the placeholders made by the layer call that made ``t``."""
    assert t.history is not None         # only called for placeholders a layer made
    layer, _, _, index = t.history
    nodes = layer.__dict__.get("_inbound_nodes", [])
    for _, outputs in nodes:
        if isinstance(outputs, list) and any(o is t for o in outputs):
            return outputs
    return t


def _map_refs(fn: Any, structure: Any) -> Any:
    # Like _map, but a {"input": i} / {"node": k} dict is a leaf.
    if _is_ref(structure):
        return fn(structure)
    if isinstance(structure, list):
        return [_map_refs(fn, s) for s in structure]
    if isinstance(structure, dict):
        return {k: _map_refs(fn, v) for k, v in structure.items()}
    return fn(structure)


def _deserialize_any(spec: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Any:
    """``layers.deserialize`` that also passes custom objects to nested models."""
    from ..layers.base import get_registered
    cls = get_registered(spec["class_name"], custom_objects)
    if isinstance(cls, type) and issubclass(cls, Model):
        return cls.from_config(dict(spec["config"]), custom_objects=custom_objects)
    return deserialize(spec, custom_objects)


def _cast_input(placeholder: SymbolicTensor, x: Any) -> Tensor:
    """``x`` as a Tensor, floats cast to the placeholder's dtype."""
    if not isinstance(x, Tensor):
        arr = np.asarray(x)
        return as_tensor(arr, placeholder.dtype if arr.dtype.kind == "f" else None)
    if x.dtype.kind == "f" and x.dtype != placeholder.dtype:
        return x.astype(placeholder.dtype)
    return x
