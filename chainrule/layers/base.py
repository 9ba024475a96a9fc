"""The base ``Layer``: lazy build, weight tracking, training flag, config.

Every layer subclasses :class:`Layer` and writes two methods, as in Keras:

* ``build(input_shape)`` creates the weights with ``add_weight`` once the
  first input shape is known (batch dimension included);
* ``call(x, training=False)`` computes the output with chainrule ops, so the
  gradient comes from the engine and nothing here knows about backward.

>>> import chainrule as cr
>>> class Scale(cr.layers.Layer):
...     def __init__(self, factor=2.0, **kwargs):
...         super().__init__(**kwargs)
...         self.factor = factor
...     def build(self, input_shape):
...         self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")
...     def call(self, x):
...         return x * self.w * self.factor
>>> layer = Scale(3.0)
>>> layer(cr.ones(2, 4)).shape
(2, 4)
>>> layer.get_config()["factor"]     # captured from the constructor, no code needed
3.0

Besides Tensors, a layer accepts the :class:`SymbolicTensor` made by
``cr.Input``; it then builds itself, works out its output shape and returns
another ``SymbolicTensor`` that remembers where it came from. Functional
models (``chainrule.models``) replay that history.
"""
from __future__ import annotations

import functools
import inspect
import re
import threading
import warnings
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from .. import constraints, initializers, regularizers
from ..autodiff import note_variables_read, tapes_recording
from ..errors import ShapeError
from ..graph import no_grad
from ..masks import any_masks, get_keras_mask, set_keras_mask
from ..registry import (CustomObjectScope, get_registered_name, get_registered_object,
                        registered_name_or_none)
from ..tensor import Tensor, as_tensor
from ..typing import DTypeLike, Shape, ShapeLike
from ..variables import is_variable

__all__ = ["Layer", "InputSpec", "SymbolicTensor", "serialize", "deserialize",
           "register", "get_registered"]

# class name -> Layer subclass; filled by __init_subclass__ so that loading a
# saved model only ever instantiates classes that were imported, never code.
_REGISTRY: dict[str, type[Layer]] = {}
_NAME_COUNTS: dict[str, int] = {}
_CONTEXT = threading.local()       # the training flag of the outermost call


class placeholder_weights:
    """``with placeholder_weights(accept):`` makes ``add_weight`` in this thread
    skip the initializer: it calls ``accept(shape, dtype)`` (which raises to
    refuse a shape) and creates a read-only zero-cost placeholder, for a
    loader that overwrites every weight afterwards (``models/saving.py``).

    Args:
        accept: a function ``accept(shape, dtype)`` that raises to refuse a weight's shape.
    """

    def __init__(self, accept: Callable[[tuple[int, ...], np.dtype], Any]) -> None:
        self.accept = accept

    def __enter__(self) -> None:
        self.outer = getattr(_CONTEXT, "placeholder_check", None)
        _CONTEXT.placeholder_check = self.accept

    def __exit__(self, *exc: object) -> None:
        _CONTEXT.placeholder_check = self.outer


def _snake(name: str) -> str:
    """Keras' rule: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, SimpleRNN -> simple_rnn."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def _marks_built(build):
    """Wrap a layer's ``build`` so that calling it directly, as
    ``layer.build(shape)``, marks the layer built (as Keras does); otherwise
    the first call would build it a second time, with a second set of weights."""
    @functools.wraps(build)
    def wrapper(self, input_shape, *args, **kwargs):
        result = build(self, input_shape, *args, **kwargs)
        if not self.built:
            self.build_input_shape = input_shape
            self.built = True
        return result
    return wrapper


def unique_name(base: str) -> str:
    """``dense``, ``dense_1``, ``dense_2``... as Keras names layers.

    Args:
        base: the name to start from (``"dense"``).

    Returns:
        ``base`` the first time, then ``base_1``, ``base_2``...
    """
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _fmt_shape(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


class InputSpec:
    """What a built layer accepts: a number of dimensions and fixed axis sizes.

    ``axes`` maps an axis (negative counts from the end) to its required size.

    Args:
        ndim: the exact number of dimensions, or None.
        min_ndim: the least number of dimensions, or None.
        axes: ``{axis: size}`` of the sizes required, or None.
        dtype_kind: the NumPy dtype kind required (``"f"``), or None.
    """

    def __init__(self, ndim: int | None = None, min_ndim: int | None = None,
                 axes: Mapping[int, int | None] | None = None,
                 dtype_kind: str | None = None) -> None:
        self.ndim, self.min_ndim = ndim, min_ndim
        self.axes = dict(axes or {})
        self.dtype_kind = dtype_kind

    def check(self, layer: Layer, shape: Sequence[int | None]) -> None:
        """Raise a ``ShapeError`` naming what is expected if ``shape`` does not fit.

        Args:
            layer: the layer being called, for the message.
            shape: the input's shape, batch first.
        """
        shape = tuple(shape)
        expected = self.expected_shape(len(shape))
        problem = None
        if self.ndim is not None and len(shape) != self.ndim:
            problem = f"{self.ndim} dimensions"
        elif self.min_ndim is not None and len(shape) < self.min_ndim:
            problem = f"at least {self.min_ndim} dimensions"
        else:
            for axis, size in self.axes.items():
                if -len(shape) <= axis < len(shape) and shape[axis] not in (size, None):
                    problem = f"size {size} on axis {axis}"
                    break
        if problem:
            raise ShapeError(
                f"{type(layer).__name__} layer '{layer.name}' expects input of shape "
                f"{_fmt_shape(expected)} ({problem}, batch first) but received "
                f"{_fmt_shape(shape)}.")

    def expected_shape(self, ndim_received: int) -> Shape:
        """The shape this spec describes, for messages.

        Args:
            ndim_received: the number of dimensions of the input received.

        Returns:
            The shape this spec expects, with None for free sizes.
        """
        ndim = self.ndim or max(self.min_ndim or 0, ndim_received,
                                max((a + 1 if a >= 0 else -a for a in self.axes), default=0))
        shape: list[int | None] = [None] * ndim
        for axis, size in self.axes.items():
            if -ndim <= axis < ndim:
                shape[axis] = size
        return tuple(shape)


class SymbolicTensor:
    """A placeholder for a batch that does not exist yet (Keras' KerasTensor).

    ``shape`` has ``None`` for the batch. ``history`` is ``(layer, inputs,
    kwargs, index)``: the layer call that made it (``None`` for an Input), so a
    functional ``Model`` can replay the calls in order.

    Args:
        shape: the shape, None for the batch (and any size not known).
        dtype: the dtype of the real tensors it stands for.
        history: ``(layer, inputs, kwargs, index)`` of the call that made it, or None.
        name: a name, or None.
    """

    _keras_mask: SymbolicTensor | None = None   # set when the real tensor will carry a mask
    input_layer: Layer                           # set on an Input's placeholder only

    def __init__(self, shape: Sequence[int | None], dtype: DTypeLike = "float32",
                 history: tuple[Any, ...] | None = None, name: str | None = None) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.history = history
        self.name = name

    @property
    def ndim(self) -> int:
        """The number of dimensions, the batch included."""
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={_fmt_shape(self.shape)} dtype={self.dtype.name} name={self.name}>"


def _flatten(structure: Any) -> list[Any]:
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    if isinstance(structure, dict):
        return [leaf for item in structure.values() for leaf in _flatten(item)]
    return [structure]


def _map(fn: Callable[[Any], Any], structure: Any) -> Any:
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: _map(fn, v) for k, v in structure.items()}
    return fn(structure)


def _is_shape(x: Any) -> bool:
    return isinstance(x, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in x)


def _map_shapes(fn: Callable[[Any], Any], structure: Any) -> Any:
    """``_map`` over a structure whose leaves are shape tuples."""
    if _is_shape(structure):
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map_shapes(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: _map_shapes(fn, v) for k, v in structure.items()}
    return fn(structure)


def _shape_of(x: Any) -> Shape:
    return tuple(x.shape)


class Layer:
    """Base class of every layer (and of ``Model``).

    Args:
        trainable: whether the optimizer updates the layer's weights.
        name: the layer's name; None makes a unique one from the class name (``dense_1``).
        dtype: the dtype of its weights (default float32).
        input_shape: the input's shape without the batch, as Keras' ``input_shape=`` (checked on
            the first call).
        input_dim: the size of a 1-D input, short for ``input_shape=(input_dim,)``.
        **kwargs: none accepted: a TypeError names any given.
    """

    # Set with object.__setattr__ (past the tracking __setattr__) or by __init_subclass__.
    _layers: list[Layer]
    _weights: list[Tensor]
    _trainable: bool
    _init_args: tuple[tuple[Any, ...], dict[str, Any]]
    _call_takes_training: bool
    _call_param_names: tuple[str, ...]

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        # Remember the constructor arguments: get_config returns them, so a
        # custom layer saves without writing get_config by hand.
        object.__setattr__(self, "_init_args", (args, kwargs))
        return self

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY.setdefault(cls.__name__, cls)
        if "build" in cls.__dict__:
            cls.build = _marks_built(cls.__dict__["build"])
        try:
            params = inspect.signature(cls.call).parameters
            cls._call_takes_training = "training" in params or any(
                p.kind == p.VAR_KEYWORD for p in params.values())
            cls._call_param_names = tuple(params)[1:]      # (without self): the masks call() takes
        except (TypeError, ValueError):
            cls._call_takes_training = False
            cls._call_param_names = ()

    def __init__(self, trainable: bool = True, name: str | None = None,
                 dtype: DTypeLike | None = None, input_shape: Sequence[int | None] | None = None,
                 input_dim: int | None = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) "
                            f"{sorted(kwargs)}")
        object.__setattr__(self, "_layers", [])
        object.__setattr__(self, "_weights", [])
        self.name = name or unique_name(_snake(type(self).__name__))
        self.trainable = trainable
        self.dtype = np.dtype(dtype or "float32")
        self.built = False
        self.input_spec: InputSpec | None = None
        self.regularizers: dict[int, Callable[..., Any]] = {}    # id(weight) -> regularizer
        self._activity_losses: list[Tensor] = []
        self.input_shape_declared: Shape | None = None
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if input_shape is not None:
            self.input_shape_declared = tuple(input_shape)
        self.build_input_shape: Any = None
        self.output_shape_: Any = None

    # -- tracking ------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_") and "_layers" in self.__dict__:
            for item in _flatten(value) if isinstance(value, (list, tuple, dict)) else [value]:
                if isinstance(item, Layer) and item is not self and \
                        all(item is not seen for seen in self._layers):
                    self._layers.append(item)
                elif isinstance(item, Tensor) and is_variable(item) and \
                        all(item is not w for w in self._weights):
                    self._weights.append(item)      # cr.Variable: tracked as Keras does
        object.__setattr__(self, name, value)

    def add_weight(self, *args: Any, shape: int | Sequence[int] | None = None,
                   initializer: Any = None,
                   dtype: DTypeLike | None = None, trainable: bool = True, autocast: bool = True,
                   regularizer: regularizers.RegularizerLike = None,
                   constraint: constraints.ConstraintLike = None, aggregation: str = "none",
                   overwrite_with_gradient: bool = False, name: str | None = None) -> Tensor:
        """Create a weight Tensor, initialized now, tracked by this layer.

        Keras 3's signature and defaults (as Keras 3 ``keras/src/layers/layer.py``
        ``add_weight``): ``shape`` defaults to ``()``; ``initializer`` to
        ``"glorot_uniform"`` for a float dtype, ``"zeros"`` otherwise; ``dtype``
        to the layer's; ``name`` is optional. Up to three positional arguments
        are ``shape, initializer, dtype`` as Keras. chainrule's older spelling
        ``add_weight("kernel", shape, initializer, regularizer, trainable, dtype)``
        (a name first) still works. ``constraint`` (a ``cr.constraints`` name,
        object or function) is applied by the optimizer after each update;
        ``autocast``, ``aggregation`` and ``overwrite_with_gradient`` are
        accepted for compatibility (one device, one dtype: nothing to do).

        Args:
            *args: ``shape, initializer, dtype`` by position, or the older ``name, shape,
                initializer, regularizer, trainable, dtype``.
            shape: the weight's shape, an int or a tuple of ints.
            initializer: a name, an initializer, a number or an array.
            dtype: its dtype; None takes the layer's.
            trainable: whether the optimizer updates it.
            autocast: accepted for Keras compatibility.
            regularizer: a penalty added to ``losses``, or None.
            constraint: a projection the optimizer applies after each update, or None.
            aggregation: accepted for Keras compatibility.
            overwrite_with_gradient: accepted for Keras compatibility.
            name: the weight's name.

        Returns:
            The weight, a ``Tensor`` tracked by the layer.
        """
        if args and isinstance(args[0], str):
            legacy = ("name", "shape", "initializer", "regularizer", "trainable", "dtype")
            if len(args) > len(legacy):
                raise TypeError(f"add_weight() takes at most {len(legacy)} positional "
                                f"arguments in the (name, shape, ...) form; got {len(args)}")
            given = dict(zip(legacy, args))
            name = given["name"]
            shape = given.get("shape", shape)
            initializer = given.get("initializer", initializer)
            regularizer = given.get("regularizer", regularizer)
            trainable = given.get("trainable", trainable)
            dtype = given.get("dtype", dtype)
            if initializer is None:
                initializer = "glorot_uniform"
        elif args:
            if len(args) > 3:
                raise TypeError(f"add_weight() takes at most 3 positional arguments "
                                f"(shape, initializer, dtype) but {len(args)} were given")
            for key, value in zip(("shape", "initializer", "dtype"), args):
                if locals()[key] is not None:
                    raise TypeError(f"add_weight(): `{key}` was given both positionally "
                                    f"and as a keyword argument")
            shape = args[0]
            initializer = args[1] if len(args) > 1 else initializer
            dtype = args[2] if len(args) > 2 else dtype
        if shape is None:
            shape = ()
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        try:
            shape = tuple(int(d) for d in shape)
        except TypeError:
            raise TypeError(f"add_weight(shape=...) must be a tuple of integers (no None), "
                            f"got {shape!r}") from None
        dtype = np.dtype(dtype or self.dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
        accept = getattr(_CONTEXT, "placeholder_check", None)
        if accept is not None:     # a loader fills the weights: no initializer, no memory
            accept(shape, dtype)
            value = np.broadcast_to(np.zeros((), dtype), shape)
        elif isinstance(initializer, (int, float, np.ndarray, Tensor)) and \
                not isinstance(initializer, bool):
            value = np.broadcast_to(np.asarray(initializer), shape)
        else:
            value = initializers.get(initializer)(shape, dtype=dtype)
        weight = Tensor(value if accept is not None else np.array(value, dtype=dtype), name=name,
                        requires_grad=bool(trainable) and dtype.kind in "fc")
        self._weights.append(weight)
        if regularizer is not None:
            self.regularizers[id(weight)] = regularizers.get(regularizer)
        if constraint is not None:
            constraint = constraints.get(constraint)
            self.__dict__.setdefault("constraints", {})[id(weight)] = constraint
            constraints.set_constraint(weight, constraint)    # the optimizer applies it
        return weight

    @property
    def layers(self) -> list[Layer]:
        """The layers tracked directly inside this one."""
        return list(self._layers)

    def _walk(self) -> Iterator[Layer]:
        yield self
        for layer in self._layers:
            yield from layer._walk()

    def _all_weights(self) -> list[tuple[Layer, Tensor]]:
        seen, out = set(), []
        for layer in self._walk():
            for w in layer._weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append((layer, w))
        return out

    @property
    def weights(self) -> list[Tensor]:
        """Every weight, trainable first as Keras lists them."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable(self) -> bool:
        """Whether the optimizer updates this layer's weights.

        Setting it sets every sublayer too, recursively (a model inside a
        model included), as Keras 3 ``keras/src/layers/layer.py``; a sublayer
        can then be switched back on its own. A frozen BatchNormalization
        runs in inference mode.
        """
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        object.__setattr__(self, "_trainable", bool(value))
        for layer in self._layers:
            layer.trainable = value

    @property
    def trainable_weights(self) -> list[Tensor]:
        """Weights created trainable whose own layer is trainable; none at all
        when this layer is frozen (Keras 3's rule)."""
        if not self.trainable:
            return []
        return [w for layer, w in self._all_weights() if w.requires_grad and layer.trainable]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        if not self.trainable:
            return [w for _, w in self._all_weights()]
        return [w for layer, w in self._all_weights()
                if not (w.requires_grad and layer.trainable)]

    @property
    def losses(self) -> list[Tensor]:
        """Regularization penalties of every weight, plus losses added in call."""
        out = []
        for layer in self._walk():
            for w in layer._weights:
                reg = layer.regularizers.get(id(w))
                if reg is not None:
                    out.append(reg(w))
            out.extend(layer._activity_losses)
        return out

    def add_loss(self, value: Tensor) -> None:
        """Add a loss term (a scalar Tensor) from inside ``call``.

        Args:
            value: a scalar tensor, added to the training loss.
        """
        self._activity_losses.append(value)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the ``.grad`` of every weight (PyTorch's ``Module.zero_grad``,
        which Keras 3 layers have on the torch backend): None by default, zeros
        with ``set_to_none=False``.

        Args:
            set_to_none: set each ``.grad`` to None rather than to zeros.
        """
        for _, w in self._all_weights():
            if set_to_none or w.grad is None:
                w.grad = None
            else:
                w.grad.zero_()

    def count_params(self) -> int:
        """How many numbers the weights hold.

        Returns:
            The total number of weight entries.
        """
        return int(sum(w.size for w in self.weights))

    def get_weights(self) -> list[np.ndarray]:
        """The weights as NumPy arrays (copies), in Keras' order and layout.

        Returns:
            A list of NumPy arrays (copies).
        """
        return [w.data.copy() for w in self._ordered_weights()]

    def set_weights(self, arrays: Iterable[npt.ArrayLike]) -> None:
        """Load NumPy arrays into the weights, checking count and shapes.

        Args:
            arrays: one array per weight, in ``get_weights``' order and shapes.
        """
        weights = self._ordered_weights()
        arrays = list(arrays)
        if len(arrays) != len(weights):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' has {len(weights)} weight arrays "
                f"({', '.join(w.name or '?' for w in weights)}) but set_weights "
                f"received {len(arrays)}.")
        for w, a in zip(weights, arrays):
            a = np.asarray(a)
            if a.shape != w.shape:
                raise ShapeError(
                    f"{type(self).__name__} '{self.name}': weight '{w.name}' has shape "
                    f"{w.shape} but the array given for it has shape {a.shape}.")
            w.data[...] = a
            w._version += 1

    def _ordered_weights(self) -> list[Tensor]:
        # Creation order within the layer tree (Keras' get_weights order for
        # a single layer: kernel, bias; gamma, beta, moving_mean, moving_variance).
        return [w for _, w in self._all_weights()]

    # -- calling ---------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create the weights. The default has none.

        Args:
            input_shape: the input's shape, batch first (None where unknown); a list of shapes for
                several inputs.
        """

    def call(self, inputs: Any) -> Any:
        """The layer's computation, written with chainrule ops (a subclass defines it).

        Args:
            inputs: the input tensor (or a list or dict of tensors).

        Returns:
            The output tensor(s).
        """
        raise NotImplementedError(f"{type(self).__name__} must define call()")

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape for an input shape (batch first, may be None).

        The default runs ``call`` on a batch of zeros, which is always right
        for the layers here; override it when that would be costly.

        Args:
            input_shape: the input's shape, batch first (None where unknown).

        Returns:
            The output's shape (a list of shapes for several outputs).
        """
        def dummy(shape):
            return Tensor(np.zeros(tuple(1 if d is None else d for d in shape), self.dtype))
        self._maybe_build(input_shape)
        with no_grad():
            out = self._call_with_training(_map_shapes(dummy, input_shape), False, {})
        return _map(lambda t: (None,) + tuple(t.shape[1:]), out)

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self.build_input_shape = input_shape
            self.build(input_shape)
            self.built = True

    def _call_with_training(self, inputs: Any, training: bool, kwargs: dict[str, Any]) -> Any:
        if self._call_takes_training:
            return self.call(inputs, training=training, **kwargs)  # type: ignore[call-arg]
        return self.call(inputs, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the layer: ``layer(inputs, training=None, **kwargs)``.

        More positional tensors are passed on to ``call`` by its parameter
        names (Keras allows ``call(self, targets, logits)``, called as
        ``layer(targets, logits)``).

        Args:
            *args: the inputs (a tensor, an array, a ``SymbolicTensor``, or a list or dict of
                them), then more of ``call``'s arguments by position.
            **kwargs: ``training`` (None: inherit the outer call's flag, else False) and the other
                arguments of ``call`` (``mask``...).

        Returns:
            ``call``'s output; ``SymbolicTensor`` placeholders when called on them.
        """
        if args:
            inputs, extra = args[0], args[1:]
        elif "inputs" in kwargs:
            inputs, extra = kwargs.pop("inputs"), ()
        else:
            raise TypeError(f"{type(self).__name__} layer '{self.name}' was called without "
                            f"inputs; call it as layer(inputs, ...)")
        if extra:
            kwargs = self._positional_as_keywords(extra, kwargs)
        training = kwargs.pop("training", None)
        if type(inputs) is Tensor and not kwargs:        # the usual call, told apart cheaply
            shapes = inputs.data.shape
        else:
            leaves = _flatten(inputs) + _flatten(list(kwargs.values()))
            if any(isinstance(x, SymbolicTensor) for x in leaves):
                return self._symbolic_call(inputs, kwargs)
            if not isinstance(inputs, (list, tuple, dict)):
                if not isinstance(inputs, Tensor):
                    inputs = as_tensor(inputs, self.dtype if np.asarray(inputs).dtype.kind == "f"
                                       else None)
            else:
                inputs = _map(lambda x: x if isinstance(x, Tensor) else as_tensor(x), inputs)
            shapes = _map(_shape_of, inputs)
        if self.input_shape_declared is not None and not self.built and \
                isinstance(shapes, tuple) and shapes[1:] != self.input_shape_declared:
            raise ShapeError(
                f"{type(self).__name__} layer '{self.name}' was declared with "
                f"input_shape={self.input_shape_declared} (batch excluded) but received "
                f"input of shape {shapes}.")
        self._maybe_build(shapes)
        if self.input_spec is not None and isinstance(shapes, tuple):
            self.input_spec.check(self, shapes)
        outer = getattr(_CONTEXT, "training", None)
        if training is None:
            training = bool(outer) if outer is not None else False
        previous_mask = None
        if any_masks():               # no mask anywhere (the usual case): nothing to pass on
            kwargs, previous_mask = self._fill_masks(inputs, kwargs)
        _CONTEXT.training = training
        self._activity_losses = []
        if tapes_recording() and self.trainable:   # an open GradientTape lists the weights read
            note_variables_read(self._weights)
        try:
            outputs = self._call_with_training(inputs, training, kwargs)
        finally:
            _CONTEXT.training = outer
        if previous_mask is not None or type(self).compute_mask is not Layer.compute_mask:
            self._attach_masks(inputs, outputs, previous_mask)
        return outputs

    # -- masks (as Keras 3 ``keras/src/layers/layer.py`` ``__call__`` steps 6 and 8) --
    @property
    def supports_masking(self) -> bool:
        """Whether this layer passes a mask on (through ``compute_mask``).

        True when the layer overrides ``compute_mask`` or sets it (Keras' rule);
        a layer that does not support masking drops the mask of its input.
        """
        explicit = self.__dict__.get("_supports_masking")
        if explicit is not None:
            return explicit
        return type(self).compute_mask is not Layer.compute_mask

    @supports_masking.setter
    def supports_masking(self, value):
        object.__setattr__(self, "_supports_masking", bool(value))

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        """The mask of the output (boolean, ``(batch, steps)``); by default the input's.

        Args:
            inputs: the layer's inputs.
            previous_mask: the mask the inputs carried, or None.

        Returns:
            The output's mask, or None.
        """
        return previous_mask

    def _fill_masks(self, inputs, kwargs):
        """Give ``call`` the masks its inputs carry: ``mask`` for one tensor
        argument, ``<name>_mask`` for each of several (``query_mask``...).
        Returns the keyword arguments and the mask passed on by default."""
        params = self._call_param_names
        if not any(p == "mask" or p.endswith("_mask") for p in params):
            return kwargs, _map(get_keras_mask, inputs)
        tensors = {p: kwargs[p] for p in params
                   if isinstance(kwargs.get(p), (Tensor, list, tuple))}
        first = self._call_param_names[0] if self._call_param_names else "inputs"
        kwargs = dict(kwargs)
        if not tensors and "mask" in params and kwargs.get("mask") is None:
            mask = _map(get_keras_mask, inputs)
            if any(m is not None for m in _flatten(mask)):
                kwargs["mask"] = mask
        elif tensors:
            for name, value in [(first, inputs)] + list(tensors.items()):
                if f"{name}_mask" in params and kwargs.get(f"{name}_mask") is None:
                    mask = _map(get_keras_mask, value)
                    if any(m is not None for m in _flatten(mask)):
                        kwargs[f"{name}_mask"] = mask
        previous = kwargs.get("mask")
        return kwargs, previous if previous is not None else _map(get_keras_mask, inputs)

    def _attach_masks(self, inputs, outputs, previous_mask):
        """Set ``compute_mask``'s masks on the outputs that have none yet."""
        flat_outputs = [o for o in _flatten(outputs) if isinstance(o, Tensor)]
        if not self.supports_masking:
            if any(m is not None for m in _flatten(previous_mask)):
                warnings.warn(f"Layer '{self.name}' (of type {type(self).__name__}) was passed "
                              f"an input with a mask attached to it. However, this layer does "
                              f"not support masking and will therefore destroy the mask "
                              f"information. Downstream layers will not see the mask.",
                              stacklevel=3)
            return
        if all(get_keras_mask(o) is not None for o in flat_outputs):
            return
        masks = self.compute_mask(inputs, previous_mask)
        if masks is None:
            return
        for tensor, mask in zip(flat_outputs, _flatten(masks)):
            if get_keras_mask(tensor) is None and mask is not None:
                set_keras_mask(tensor, mask)

    def _positional_as_keywords(self, extra, kwargs):
        """Name the positional arguments after ``inputs`` by ``call``'s parameters."""
        params = list(inspect.signature(self.call).parameters.values())[1:]
        named = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(extra) > len(named):
            raise TypeError(f"{type(self).__name__}.call takes {len(named) + 1} positional "
                            f"argument(s) but the layer was called with {len(extra) + 1}")
        out = dict(kwargs)
        for param, value in zip(named, extra):
            if param.name in out:
                raise TypeError(f"{type(self).__name__} layer '{self.name}' got argument "
                                f"'{param.name}' both by position and by keyword")
            out[param.name] = value
        return out

    def _symbolic_call(self, inputs, kwargs):
        shapes = _map(_shape_of, inputs)
        self._maybe_build(shapes)
        if self.input_spec is not None and isinstance(shapes, tuple):
            self.input_spec.check(self, shapes)
        if any(isinstance(x, SymbolicTensor) for x in _flatten(list(kwargs.values()))):
            # placeholders among the other arguments: run call on zeros for them all
            def dummy(t):
                if not isinstance(t, SymbolicTensor):
                    return t
                return Tensor(np.zeros(tuple(1 if d is None else d for d in t.shape), t.dtype))
            with no_grad():
                out = self._call_with_training(_map(dummy, inputs), False, _map(dummy, kwargs))
            if isinstance(out, tuple):      # several outputs (y, scores): one placeholder each
                out = list(out)
            out_shape = _map(lambda t: (None,) + tuple(t.shape[1:]), out)
        else:
            out_shape = self.compute_output_shape(shapes)
        self._activity_losses = []          # from the trial call on zeros
        index = getattr(self, "_symbolic_calls", 0)
        object.__setattr__(self, "_symbolic_calls", index + 1)

        def make(shape):
            return SymbolicTensor(shape, self.dtype, history=(self, inputs, kwargs, index),
                                  name=self.name)
        outputs = [make(s) for s in out_shape] if isinstance(out_shape, list) else make(out_shape)
        self._symbolic_masks(inputs, outputs)
        self.__dict__.setdefault("_inbound_nodes", []).append((inputs, outputs))
        return outputs

    def _symbolic_masks(self, inputs, outputs):
        """Give the placeholders the masks their real tensors will carry (Keras'
        symbolic ``_keras_mask``): ``compute_mask`` on a batch of zeros, with
        all-True masks where the inputs carry one, says which outputs get one."""
        in_masks = _map(lambda t: getattr(t, "_keras_mask", None), inputs)
        has_mask = any(m is not None for m in _flatten(in_masks))
        if not self.supports_masking or \
                (not has_mask and type(self).compute_mask is Layer.compute_mask):
            return

        def zeros(t):
            if not isinstance(t, SymbolicTensor):
                return t
            return Tensor(np.zeros(tuple(1 if d is None else d for d in t.shape), t.dtype))

        def all_true(m):
            return None if m is None else np.ones(tuple(1 if d is None else d for d in m.shape),
                                                  bool)
        with no_grad():
            masks = self.compute_mask(_map(zeros, inputs), _map(all_true, in_masks))
        if masks is None:
            return
        for out, mask in zip(_flatten(outputs), _flatten(masks)):
            if mask is not None:
                ndim = np.ndim(getattr(mask, "data", mask))      # the output's leading axes
                out._keras_mask = SymbolicTensor(out.shape[:ndim], "bool",
                                                 name=f"{self.name}_mask")

    def _only_node(self, what):
        nodes = self.__dict__.get("_inbound_nodes", [])
        if not nodes:
            raise AttributeError(
                f"layer '{self.name}' has never been called on a cr.Input placeholder, so "
                f"it has no symbolic {what}; use it in a functional or Sequential model first")
        if len(nodes) > 1:
            raise AttributeError(
                f"layer '{self.name}' has been called {len(nodes)} times on placeholders "
                f"(shared), so its {what} is ambiguous (Keras raises here too)")
        return nodes[0]

    @property
    def input(self) -> Any:
        """The placeholder(s) this layer was called on in a functional model (Keras)."""
        return self._only_node("input")[0]

    @property
    def output(self) -> Any:
        """The placeholder(s) this layer produced in a functional model (Keras)."""
        return self._only_node("output")[1]

    # -- config ----------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (captured automatically) plus name/trainable/dtype.

        Values must be JSON-friendly; initializer and regularizer objects are
        serialized, tuples become lists.

        Returns:
            A JSON-friendly dict that ``from_config`` turns back into an equal layer.
        """
        args, kwargs = self._init_args
        try:
            bound = inspect.signature(type(self).__init__).bind(self, *args, **kwargs)
        except TypeError:
            bound = None
        config = {}
        if bound is not None:
            for key, value in list(bound.arguments.items())[1:]:
                param = bound.signature.parameters[key]
                if param.kind == param.VAR_KEYWORD:
                    config.update(value)
                elif param.kind == param.VAR_POSITIONAL:
                    if value:
                        raise TypeError(f"{type(self).__name__}: *args cannot be saved")
                else:
                    config[key] = value
        base = dict(name=self.name, trainable=self.trainable, dtype=self.dtype.name)
        params = inspect.signature(type(self).__init__).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            # a constructor without **kwargs gets only the base keys it takes
            # (as Keras 3 ``keras/src/ops/operation.py`` get_config)
            base = {k: v for k, v in base.items() if k in params}
        config.update(base)
        return {k: _jsonable(v) for k, v in config.items()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """A layer made from ``get_config``'s dict.

        Args:
            config: what ``get_config`` returned.

        Returns:
            A new layer of this class.
        """
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, Layer):
        return serialize(value)
    if hasattr(value, "get_config") and not isinstance(value, type):
        return _with_registered_name({"class_name": type(value).__name__,
                                      "config": value.get_config()}, type(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if callable(value) and hasattr(value, "__name__"):
        return get_registered_name(value)      # activations given as functions
    raise TypeError(f"cannot save {type(value).__name__} value {value!r} in a layer config; "
                    f"use numbers, strings, lists or objects with get_config()")


def register(cls: type[Layer] | None = None, name: str | None = None) -> Any:
    """Register a custom layer class under a name for loading saved models.

    Args:
        cls: the class (when used as ``@register``), or None.
        name: the name to register it under; None uses the class name.

    Returns:
        The class itself, or a decorator when ``cls`` is None.
    """
    def deco(c):
        _REGISTRY[name or c.__name__] = c
        return c
    return deco(cls) if cls is not None else deco


def _with_registered_name(spec: dict[str, Any], cls: type) -> dict[str, Any]:
    """Add Keras' ``registered_name`` to a config when ``cls`` was registered
    with ``chainrule.saving.register_keras_serializable``."""
    registered = registered_name_or_none(cls)
    if registered is not None:
        spec["registered_name"] = registered
    return spec


def get_registered(class_name: str, custom_objects: Mapping[str, Any] | None = None) -> Any:
    # custom objects first: a scope, register_keras_serializable, the argument (Keras' order)
    """The layer class called ``class_name``: custom objects first, then every
    imported Layer subclass.

    Args:
        class_name: the name a layer class was saved under.
        custom_objects: extra ``{name: class}`` to search, or None.

    Returns:
        The layer class.
    """
    custom = get_registered_object(class_name, custom_objects)
    if custom is not None:
        return custom
    if class_name not in _REGISTRY:
        raise ValueError(f"unknown layer class '{class_name}': import the module that "
                         f"defines it, or pass custom_objects={{'{class_name}': cls}}")
    return _REGISTRY[class_name]


def serialize(layer: Layer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` as Keras writes a layer.

    Args:
        layer: the layer.

    Returns:
        ``{"class_name": ..., "config": {...}}`` (plus ``registered_name`` when registered).
    """
    return _with_registered_name({"class_name": type(layer).__name__,
                                  "config": layer.get_config()}, type(layer))


def deserialize(spec: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Layer:
    """The layer a ``serialize`` dict describes. Its ``registered_name`` is
    looked up first; ``custom_objects`` are visible to everything the layer's
    ``from_config`` looks up by name (a custom activation, say).

    Args:
        spec: what ``serialize`` returned.
        custom_objects: extra ``{name: object}`` to look names up in, or None.

    Returns:
        The layer.
    """
    cls = get_registered_object(spec["registered_name"], custom_objects) \
        if spec.get("registered_name") else None
    with CustomObjectScope(custom_objects):
        if cls is None:
            cls = get_registered(spec["class_name"], custom_objects)
        return cls.from_config(dict(spec["config"]))
