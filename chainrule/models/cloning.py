"""``clone_model``: the same architecture with new layers and fresh weights.

As Keras 3 ``keras/src/models/cloning.py``: each layer is cloned by
``clone_function(layer)`` (by default ``type(layer).from_config(layer.get_config())``,
so its weights are initialized anew), then a Sequential model is rebuilt
from the cloned layers and a functional model by replaying its layer calls
on new inputs. A compiled model's clone is compiled the same way (loss,
metrics, and a new optimizer with the same configuration).

>>> import chainrule as cr
>>> from chainrule import layers
>>> model = cr.Sequential([cr.Input((728,)), layers.Dense(32, activation="relu"),
...                        layers.Dense(1, activation="sigmoid")])
>>> new_model = cr.models.clone_model(model)
>>> new_model.count_params() == model.count_params()
True
>>> new_model.layers[0].kernel is model.layers[0].kernel
False
"""
from __future__ import annotations

from typing import Any, Callable

from ..layers.base import Layer, SymbolicTensor, _flatten, _map
from .functional import Functional, Input
from .model import Model
from .sequential import Sequential

__all__ = ["clone_model"]


def clone_model(model: Model, input_tensors: Any = None,
                clone_function: Callable[[Layer], Layer] | None = None,
                call_function: Callable[..., Any] | None = None,
                recursive: bool = False) -> Model:
    """A copy of ``model`` with new layers (new weights, freshly initialized).

    Args:
        model: a Sequential or functional model (a subclassed model is
            recreated from its config, without the other arguments).
        input_tensors: ``cr.Input`` placeholders to build the copy on (one for a
            Sequential model; the structure of ``model.inputs`` for a functional
            one). By default new inputs of the same shapes, dtypes and names.
        clone_function: ``fn(layer) -> layer`` making each layer of the copy.
            Return the layer itself to share it (and its weights).
        call_function: ``fn(layer, inputs, **kwargs) -> outputs``, how each cloned
            layer is called while a functional model is rebuilt (e.g. to insert a
            layer after it). Functional models only.
        recursive: clone models nested inside ``model`` with ``clone_model``
            (same arguments) instead of ``clone_function``.

    Returns:
        The new model (compiled like ``model`` when it was).
    """
    if not isinstance(model, Model):
        raise TypeError(f"clone_model needs a chainrule Model, got {type(model).__name__}")
    if clone_function is not None and not callable(clone_function):
        raise TypeError(f"clone_function must be a function fn(layer) -> layer, got "
                        f"{clone_function!r}")
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError("call_function only applies to functional models: a Sequential "
                             "model's layers are listed, not called, when it is built")
        clone = _clone_sequential(model, _cloner(clone_function, call_function, recursive),
                                  input_tensors)
    elif isinstance(model, Functional):
        clone = _clone_functional(model, _cloner(clone_function, call_function, recursive),
                                  input_tensors, call_function)
    else:
        if clone_function is not None or input_tensors is not None or call_function is not None:
            raise ValueError(
                f"clone_function, input_tensors and call_function only apply to Sequential "
                f"and functional models; '{model.name}' is a subclassed "
                f"{type(model).__name__}, cloned from its config")
        clone = type(model).from_config(model.get_config())
        if model.built and model.build_input_shape is not None and not clone.built:
            clone.build(model.build_input_shape)
    if model.compiled:
        _compile_like(clone, model)
    return clone


def _cloner(clone_function, call_function, recursive):
    """``clone_function`` with Keras' default, nested models handled per
    ``recursive``, and one clone per layer (a layer used twice stays shared)."""
    cache = {}

    def clone(layer):
        if id(layer) not in cache:
            if recursive and isinstance(layer, (Sequential, Functional)):
                cache[id(layer)] = clone_model(
                    layer, clone_function=clone_function, recursive=True,
                    call_function=call_function if isinstance(layer, Functional) else None)
            elif clone_function is not None:
                cache[id(layer)] = clone_function(layer)
            else:
                cache[id(layer)] = type(layer).from_config(layer.get_config())
        return cache[id(layer)]
    return clone


def _clone_sequential(model, clone, input_tensors):
    new_layers = [clone(layer) for layer in model.layers]
    copy = Sequential(name=model.name, trainable=model.trainable)
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError(f"a Sequential model has one input; input_tensors holds "
                                 f"{len(input_tensors)}")
            input_tensors = input_tensors[0]
        copy.add(_checked_input(input_tensors))
    elif model.build_input_shape is not None:
        copy.add(Input(tuple(model.build_input_shape)[1:], dtype=model._input_dtype))
    for layer in new_layers:
        copy.add(layer)
    return copy


def _clone_functional(model, clone, input_tensors, call_function):
    originals = model.inputs
    if input_tensors is None:
        new_inputs = [Input(t.shape[1:], dtype=t.dtype, name=t.name) for t in originals]
    else:
        new_inputs = [_checked_input(t) for t in _flatten(input_tensors)]
        if len(new_inputs) != len(originals):
            raise ValueError(f"model '{model.name}' has {len(originals)} inputs but "
                             f"input_tensors holds {len(new_inputs)}")
    values = {id(old): new for old, new in zip(originals, new_inputs)}
    for layer, args, kwargs, out in model._nodes:
        new_layer = clone(layer)
        new_args = _map(lambda t: values[id(t)] if isinstance(t, SymbolicTensor) else t, args)
        values[id(out)] = call_function(new_layer, new_args, **kwargs) if call_function \
            else new_layer(new_args, **kwargs)
    outputs = [values[id(t)] for t in model.outputs]
    return Functional(new_inputs[0] if model._single_input else new_inputs,
                      outputs[0] if model._single_output else outputs, name=model.name)


def _checked_input(tensor):
    if not isinstance(tensor, SymbolicTensor) or getattr(tensor, "input_layer", None) is None:
        raise TypeError(f"input_tensors must be placeholders made by cr.Input(shape), got "
                        f"{tensor!r}")
    return tensor


def _compile_like(clone, model):
    """Compile ``clone`` as ``model`` is (as Keras 3): its saved compile
    config, so the optimizer and metrics are new objects."""
    from .saving import _compile_config, _compile_from_config
    _compile_from_config(clone, _compile_config(model))
