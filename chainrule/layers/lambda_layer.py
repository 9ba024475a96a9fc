"""``Lambda`` (a layer from a function) and ``Identity``, as Keras 3
``keras/src/layers/core/lambda_layer.py`` and ``identity.py``.

A ``Lambda`` saves its function by name only: loading never runs code read
from a file. ``load_model`` refuses a file holding a Lambda layer unless
``safe_mode=False`` (Keras' rule), and then finds the function by that name
among the ``custom_objects`` (or objects registered with
``cr.saving.register_keras_serializable``). ``from_config`` (and so
``clone_model``) finds it the same way: register the function, or run inside
``cr.saving.custom_object_scope({"name": fn})``; a Python ``lambda`` has no
name to be found by (Keras would store its bytecode; chainrule never runs code
from a config).

>>> import chainrule as cr
>>> from chainrule import layers
>>> layers.Lambda(lambda x: x * 2)(cr.tensor([1.0, 2.0]))
tensor([2., 4.])
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Sequence

from ..registry import get_registered_name, get_registered_object
from ..typing import Shape
from .base import Layer

__all__ = ["Identity", "Lambda", "check_lambda_layers"]


class Lambda(Layer):
    """Wraps ``function(inputs, **arguments)`` as a layer.

    Args:
        function: a callable of chainrule ops; it also receives ``mask=`` and
            ``training=`` if it takes them.
        output_shape: the output's shape without the batch (a tuple), or a
            function of the input shape; None works it out by running the
            function once on zeros.
        mask: None (the output carries no mask), a mask, or a function
            ``mask(inputs, previous_mask)``.
        arguments: a dict of keyword arguments for ``function``.
        **kwargs: ``name``, ``dtype``, ``trainable`` (see ``Layer``).

    Example:

    >>> layer = Lambda(lambda x, k: x[:, :k], arguments={"k": 2})
    >>> layer(cr.ones(3, 5)).shape
    (3, 2)
    """

    supports_masking = True

    def __init__(self, function: Callable[..., Any],
                 output_shape: Sequence[int | None] | Callable[..., Any] | None = None,
                 mask: Any = None, arguments: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, got {function!r}")
        if output_shape is not None and not callable(output_shape) and \
                not isinstance(output_shape, (list, tuple)):
            raise TypeError(f"Lambda: output_shape must be a tuple, a function or None, got "
                            f"{output_shape!r}")
        self.function = function
        self.output_shape = output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})
        try:
            params: Mapping[str, inspect.Parameter] = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_takes = {name for name in ("mask", "training") if name in params}

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None) -> Any:
        """``function(inputs, **arguments)``.

        Args:
            inputs: the input tensor(s).
            mask: the input's mask, passed on if the function takes ``mask``.
            training: the training flag, passed on if the function takes ``training``.

        Returns:
            What the function returns.
        """
        kwargs = dict(self.arguments)
        if "mask" in self._fn_takes:
            kwargs["mask"] = mask
        if "training" in self._fn_takes:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The output's mask, as the constructor's ``mask`` says.

        Args:
            inputs: the input tensor(s).
            mask: the input's mask.

        Returns:
            The ``mask`` given to the constructor, or what it returns when a function.
        """
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self.output_shape):
            return tuple(self.output_shape(input_shape))
        return (input_shape[0],) + tuple(self.output_shape)

    def get_config(self) -> dict[str, Any]:
        if callable(self.output_shape) or callable(self.mask):
            raise TypeError(f"Lambda layer '{self.name}': a function as output_shape or mask "
                            f"cannot be saved; give a tuple / None")
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name,
                "function": get_registered_name(self.function),
                "output_shape": None if self.output_shape is None else list(self.output_shape),
                "arguments": self.arguments}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Lambda:
        config = dict(config)
        name = config.get("function")
        function = get_registered_object(name) if isinstance(name, str) else None
        if function is None:
            raise ValueError(f"Lambda layer '{config.get('name')}': its function {name!r} is "
                             f"saved by name only; pass custom_objects={{{name!r}: the_function}} "
                             f"to load it (a Python lambda cannot be found again: give the "
                             f"function a name)")
        config["function"] = function
        return cls(**config)


class Identity(Layer):
    """Returns its input unchanged (the mask included); a placeholder layer.

    Example:

    >>> x = cr.ones(2, 3)
    >>> Identity()(x) is x
    True
    """

    supports_masking = True

    def call(self, x: Any) -> Any:
        """The identity.

        Args:
            x: the input tensor.

        Returns:
            ``x`` itself.
        """
        return x

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


def check_lambda_layers(config: Any, safe_mode: bool, source: str) -> None:
    """Refuse a saved config holding a ``Lambda`` layer in safe mode, naming it.

    As Keras 3 (``keras/src/layers/core/lambda_layer.py`` ``from_config``
    raises in safe mode): a Lambda stands for arbitrary Python code, so a file
    with one loads only when its reader says it trusts it, ``safe_mode=False``.

    Args:
        config: a saved model's config (dicts and lists), searched recursively.
        safe_mode: refuse Lambda layers (True is Keras' default).
        source: the file's name, for the message.
    """
    if isinstance(config, dict):
        if config.get("class_name") == "Lambda" and safe_mode:
            inner: Any = config.get("config") if isinstance(config.get("config"), dict) else {}
            name = inner.get("name", config.get("name", "?"))
            raise ValueError(
                f"'{source}': layer '{name}' is a Lambda layer, which stands for Python code "
                f"(function {inner.get('function')!r}); loading it is refused in safe mode. "
                f"Pass safe_mode=False if you trust this file (the function is then looked up "
                f"by name among custom_objects; no code is read from the file)")
        for value in config.values():
            check_lambda_layers(value, safe_mode, source)
    elif isinstance(config, list):
        for value in config:
            check_lambda_layers(value, safe_mode, source)
