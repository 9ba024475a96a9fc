"""``Sequential``: layers applied one after the other.

>>> import chainrule as cr
>>> from chainrule import layers
>>> model = cr.Sequential([
...     cr.Input((784,)),
...     layers.Dense(512, activation="relu"),
...     layers.Dense(10, activation="softmax"),
... ])
>>> model.count_params()
407050

The model is built (its weights exist) as soon as the input shape is known:
from a leading ``cr.Input(shape)``, from ``input_shape=`` on the first
layer, from ``model.build(input_shape)`` or from the first call on data.
"""
from __future__ import annotations

from typing import Any, Sequence

from ..errors import ShapeError
from ..layers.base import Layer, SymbolicTensor, _fmt_shape
from .functional import InputLayer, _deserialize_any
from .model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """A stack of layers, each feeding the next (Keras' ``Sequential``).

    ``model.layers`` lists them (an ``Input`` is not one). A ``Sequential``
    is a ``Model``: ``compile``, ``fit``, ``evaluate``, ``predict``,
    ``summary``, ``save`` work on it.

    Args:
        layers: the layers in order, optionally starting with
            ``cr.Input(shape)`` to build the model right away.
        trainable: whether ``fit`` updates its weights.
        name: the model's name (default ``"sequential"``, numbered when taken).

    Example:

    >>> from chainrule import layers
    >>> model = cr.Sequential([cr.Input((4,)), layers.Dense(8, activation="relu"),
    ...                        layers.Dense(3, activation="softmax")])
    >>> model.count_params()                  # (4*8 + 8) + (8*3 + 3)
    67
    >>> model.predict(np.ones((2, 4), "float32"), verbose=0).shape
    (2, 3)
    """

    def __init__(self, layers: Sequence[Layer | SymbolicTensor] | None = None,
                 trainable: bool = True, name: str | None = None) -> None:
        super().__init__(trainable=trainable, name=name)
        self._input_dtype: Any = None
        self._input_layer: InputLayer | None = None   # the InputLayer the placeholders start from
        self._graph_outputs: list[SymbolicTensor] = []   # the placeholders of the last build
        self._input_name: str | None = None   # a leading cr.Input's name (Keras, ONNX files keep it)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Layer | SymbolicTensor) -> None:
        """Append a layer (or, first, a ``cr.Input`` giving the input shape).

        Args:
            layer: the layer to append, or (first) a ``cr.Input`` placeholder.

        Example:

        >>> model = cr.Sequential()
        >>> model.add(cr.Input((3,)))
        >>> model.add(cr.layers.Dense(2))
        >>> model.count_params()
        8
        """
        if isinstance(layer, SymbolicTensor) and getattr(layer, "input_layer", None) is not None:
            layer = layer.input_layer
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("an Input can only be the first entry of a Sequential model")
            self._input_dtype = layer.dtype
            self._input_name = layer.name
            self._input_layer = layer
            self.build((None,) + layer.shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer, got {type(layer).__name__} "
                            f"({layer!r})")
        self._layers.append(layer)
        declared = getattr(layer, "input_shape_declared", None)
        if len(self._layers) == 1 and declared is not None:
            self.build((None,) + tuple(declared))
        elif self.built and self.build_input_shape is not None:
            # Already built: build the new layer from the current output shape.
            self.built = False
            self.build(self.build_input_shape)

    def pop(self) -> Layer:
        """Remove the last layer.

        Returns:
            The layer removed.
        """
        if not self._layers:
            raise IndexError("pop from an empty Sequential model")
        layer = self._layers.pop()
        if self.build_input_shape is not None:
            self.built = False
            self.build(self.build_input_shape)
        return layer

    def build(self, input_shape: Any = None) -> None:
        """Build every layer by passing a placeholder of ``input_shape`` through.

        Args:
            input_shape: the input's shape, batch first (``(None, 784)``); None
                rebuilds with the shape of the last build.
        """
        if input_shape is None:
            input_shape = self.build_input_shape
            if input_shape is None:
                raise ValueError("Sequential.build() needs input_shape, e.g. (None, 784)")
        input_shape = (None,) + tuple(input_shape)[1:]
        if self._input_layer is None or self._input_layer.output.shape != input_shape:
            self._input_layer = InputLayer(shape=input_shape[1:],
                                           dtype=self._input_dtype or self.dtype)
        # a rebuild (add, pop) replaces the placeholders of the previous build,
        # so each layer keeps one node and layer.output stays defined
        stale = {id(t) for t in self._graph_outputs}
        for layer in self._layers:
            nodes = layer.__dict__.get("_inbound_nodes")
            if nodes:
                nodes[:] = [n for n in nodes if id(n[1]) not in stale]
        x = self._input_layer.output
        self._graph_outputs = []
        for layer in self._layers:
            x = layer(x)
            if isinstance(x, list):
                raise ValueError(f"layer '{layer.name}' returns {len(x)} tensors; a "  # noqa: TRY004
                                 f"Sequential model needs one output per layer "
                                 f"(use the functional API)")
            self._graph_outputs.append(x)
            layer.output_shape_ = x.shape
        self.build_input_shape = input_shape
        self.built = True

    @property
    def inputs(self) -> list[SymbolicTensor]:
        """``[placeholder]``: the input the layers were built from (Keras)."""
        if not self.built or self._input_layer is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined inputs yet: "
                                 f"start it with cr.Input(shape) or build it first")
        return [self._input_layer.output]

    @property
    def outputs(self) -> list[SymbolicTensor]:
        """``[placeholder]``: the last layer's output (Keras)."""
        if not self.built or not self._graph_outputs:
            raise AttributeError(f"Sequential model '{self.name}' has no defined outputs yet: "
                                 f"start it with cr.Input(shape) or build it first")
        return [self._graph_outputs[-1]]

    @property
    def input(self) -> SymbolicTensor:
        """The input placeholder (Keras)."""
        return self.inputs[0]

    @property
    def output(self) -> SymbolicTensor:
        """The last layer's output placeholder (Keras)."""
        return self.outputs[0]

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self.build(input_shape)

    def _input_shapes(self):
        return None if self.build_input_shape is None else [tuple(self.build_input_shape)]

    def _input_error(self, index, expected, received):
        if not self._layers:
            return super()._input_error(index, expected, received)
        first = self._layers[0]
        return ShapeError(
            f"{type(first).__name__} layer '{first.name}' (the first layer of model "
            f"'{self.name}') expects input of shape {_fmt_shape(expected)} (batch "
            f"first) but received {_fmt_shape(received)}.")

    def call(self, inputs: Any, training: bool = False) -> Any:
        """Apply the layers in order.

        Args:
            inputs: the input tensor (or a placeholder, in a functional model).
            training: passed to every layer (Dropout, BatchNormalization...).

        Returns:
            The last layer's output.
        """
        self._check_input_shapes([inputs.shape])
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    @property
    def output_names(self) -> list[str]:
        return [self._layers[-1].name] if self._layers else [self.name]

    # -- config ------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The model's name, trainable flag, layer configs and build shape.

        Returns:
            A JSON-friendly dict that ``from_config`` turns back into an equal model.
        """
        from ..layers.base import serialize
        return {"name": self.name, "trainable": self.trainable,
                "layers": [{**serialize(layer), "name": layer.name} for layer in self._layers],
                "build_input_shape": None if self.build_input_shape is None
                else list(self.build_input_shape)}

    @classmethod
    def from_config(cls, config: dict[str, Any],
                    custom_objects: dict[str, Any] | None = None) -> Sequential:
        """The model ``get_config``'s dict describes, built when it was.

        Args:
            config: what ``get_config`` returned.
            custom_objects: ``{name: class}`` for custom layers.

        Returns:
            A new Sequential model (fresh weights).
        """
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for spec in config["layers"]:
            layer = _deserialize_any(spec, custom_objects)
            if "name" in spec and "name" not in spec.get("config", {}):
                layer.name = spec["name"]        # a custom get_config may leave it out
            model._layers.append(layer)
        if config.get("build_input_shape") is not None:
            model.build(tuple(config["build_input_shape"]))
        return model
