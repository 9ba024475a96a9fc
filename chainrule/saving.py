"""``cr.saving``: Keras 3's saving registry and model files, under Keras' names.

Custom classes and functions become known by name, so configs and saved
models that mention them load back:

>>> import chainrule as cr
>>> @cr.saving.register_keras_serializable(package="demo")
... def doubled(x):
...     return x * 2
>>> cr.saving.get_registered_name(doubled)
'demo>doubled'
>>> cr.activations.get("demo>doubled") is doubled
True
>>> layer = cr.layers.Dense(2, activation=doubled)
>>> layer.get_config()["activation"]
'demo>doubled'

Without registering, ``custom_object_scope({"name": obj})`` (or
``load_model(path, custom_objects={...})``) makes a name known for a while.
Every ``get``/``deserialize`` in chainrule looks at these custom objects
first (``chainrule/registry.py`` holds them).

``serialize_keras_object``/``deserialize_keras_object`` write and read
Keras' config shape ``{"module", "class_name", "config", "registered_name"}``.
Deserializing only ever looks names up among classes and functions that
were imported or passed in; it never runs code from a config (a lambda
cannot be saved).
"""
from __future__ import annotations

import types
from typing import Any

import numpy as np

from .models import load_model, save_model
from .registry import (CustomObjectScope, Registry, UnknownNameError, custom_object_scope,
                       get_custom_objects, get_registered_name, get_registered_object,
                       register_keras_serializable, registered_name_or_none)

__all__ = ["CustomObjectScope", "custom_object_scope", "deserialize_keras_object",
           "get_custom_objects", "get_registered_name", "get_registered_object", "load_model",
           "register_keras_serializable", "save_model", "serialize_keras_object"]

_PLAIN = (bool, int, float, str)


def serialize_keras_object(obj: Any) -> Any:
    """A JSON-friendly config of ``obj``, in Keras 3's shape (as Keras 3
    ``keras/src/saving/serialization_lib.py`` ``serialize_keras_object``).

    Plain values, lists and dicts pass through (NumPy values as Python ones,
    arrays as ``{"class_name": "__numpy__", ...}``); a function becomes
    ``{"class_name": "function", "config": its registered name}``; an object
    with ``get_config`` becomes its class name and config.

    Args:
        obj: the value to describe: None, a number, a string, a list, tuple or
            dict of them, a NumPy array, a named function, or an object with
            ``get_config()``.

    Returns:
        The same value made of JSON types only (dicts, lists, strings, numbers).

    Example:

    >>> cr.saving.serialize_keras_object(np.array([1.0, 2.0]))
    {'class_name': '__numpy__', 'config': {'value': [1.0, 2.0], 'dtype': 'float64'}}
    """
    if obj is None or isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(item) for item in obj]
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__",
                "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        if obj.__name__ == "<lambda>":
            raise ValueError("cannot serialize a lambda: loading never runs code, so give the "
                             "function a name (def) and register it with "
                             "@register_keras_serializable()")
        name = get_registered_name(obj)
        return {"module": obj.__module__, "class_name": "function", "config": name,
                "registered_name": name}
    if hasattr(obj, "get_config") and not isinstance(obj, type):
        config = obj.get_config()
        if not isinstance(config, dict):
            raise TypeError(f"{type(obj).__name__}.get_config() must return a dict, "
                            f"got {type(config).__name__}")
        return {"module": type(obj).__module__, "class_name": type(obj).__name__,
                "config": serialize_keras_object(config),
                "registered_name": registered_name_or_none(type(obj))}
    raise TypeError(f"cannot serialize {type(obj).__name__} object {obj!r}: give it a "
                    f"get_config() method (and register its class), or pass numbers, "
                    f"strings, lists, dicts, arrays or functions")


def deserialize_keras_object(config: Any, custom_objects: dict[str, Any] | None = None,
                             safe_mode: bool = True, **kwargs: Any) -> Any:
    """The object a ``serialize_keras_object`` config describes.

    Names are looked up in the custom objects (``custom_objects``, a scope,
    the registered ones), then among chainrule's own layers, activations,
    initializers, regularizers, losses, metrics, optimizers and schedules,
    preferring the family its ``module`` names. ``safe_mode`` is accepted for
    Keras' signature: nothing here ever runs code from a config.

    Args:
        config: what ``serialize_keras_object`` returned (or a name, or a plain value).
        custom_objects: extra names to look up first, ``{"name": class_or_function}``.
        safe_mode: accepted for Keras' signature; loading never runs code anyway.
        **kwargs: accepted for Keras' signature and ignored.

    Returns:
        The rebuilt object (layers, losses... through their ``from_config``).

    Example:

    >>> config = cr.saving.serialize_keras_object(cr.layers.Dense(3))
    >>> cr.saving.deserialize_keras_object(config).units
    3
    """
    with CustomObjectScope(custom_objects):
        return _deserialize(config)


def _deserialize(config):
    if config is None:
        return None
    if isinstance(config, str):
        found = get_registered_object(config)
        return config if found is None else found
    if isinstance(config, _PLAIN):
        return config
    if isinstance(config, (list, tuple)):
        return [_deserialize(item) for item in config]
    if not isinstance(config, dict):
        raise TypeError(f"cannot deserialize {type(config).__name__} {config!r}: expected a "
                        f"config dict, a list, a name or a plain value")
    if "class_name" not in config or "config" not in config:
        return {key: _deserialize(value) for key, value in config.items()}
    class_name, inner = config["class_name"], config["config"]
    if class_name == "__numpy__":
        return np.asarray(inner["value"], dtype=inner["dtype"])
    if class_name == "function":
        return _find(config.get("registered_name") or inner, config.get("module"),
                     want_class=False)
    cls = None
    if config.get("registered_name"):
        cls = get_registered_object(config["registered_name"])
    if cls is None:
        cls = _find(class_name, config.get("module"), want_class=True)
    if not isinstance(cls, type) or not hasattr(cls, "from_config"):
        raise TypeError(f"{class_name!r} names {cls!r}, which has no from_config()")
    return cls.from_config(dict(inner or {}))     # nested configs are the class's to read


def _families():
    """chainrule's registries by family name, imported on first use."""
    from . import activations, initializers, losses, metrics, optimizers, regularizers
    from .layers import base as layer_base
    from .optimizers import schedules
    layer_classes = Registry("layer class", lambda: dict(layer_base._REGISTRY))
    return {"layers": layer_classes, "models": layer_classes,
            "activations": activations._REGISTRY, "initializers": initializers._REGISTRY,
            "regularizers": regularizers._REGISTRY, "losses": losses._REGISTRY,
            "metrics": metrics._REGISTRY, "schedules": schedules._REGISTRY,
            "optimizers": optimizers._REGISTRY}


def _find(name, module, want_class):
    """The class or function called ``name``: custom objects, then the family
    that ``module`` names (``chainrule.losses``, ``keras.losses``...), then every family."""
    found = get_registered_object(name)
    if found is not None:
        return found
    families = _families()
    parts = (module or "").split(".")
    preferred = [families[p] for p in reversed(parts[1:]) if p in families] \
        if parts[0] in ("chainrule", "keras") else []
    for registry in preferred + [r for r in families.values() if r not in preferred]:
        found = registry.find(name)
        if found is not None and (isinstance(found, type) or not want_class):
            return found
    known = sorted({n for r in families.values() for n in r.names()})
    raise UnknownNameError("object", name, known)
