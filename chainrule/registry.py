"""One name lookup behind every ``get``/``serialize``/``deserialize``.

Activations, initializers, regularizers, losses, metrics, optimizers and
learning-rate schedules each keep a :class:`Registry` of their names. Every
registry applies the same rules:

1. **Custom objects first**, as Keras 3 ``keras/src/saving/object_registration.py``
   ``get_registered_object``: the innermost ``custom_object_scope``, then the
   global dictionary filled by ``register_keras_serializable`` (keys
   ``"package>name"``) and by ``get_custom_objects()[name] = obj``.
2. **Keras' names**: the snake_case names (``"glorot_uniform"``,
   ``"mean_squared_error"``) and the class names (``"GlorotUniform"``), as
   Keras 3's ``get`` functions accept them (``ALL_OBJECTS_DICT`` in
   ``keras/src/initializers/__init__.py`` and its siblings), plus each
   module's short aliases (``"mse"``).
3. **Then case-insensitively** (Keras' optimizers already accept ``"Adam"``
   and ``"adam"``; chainrule accepts that spelling freedom everywhere).

An unknown name raises :class:`UnknownNameError` (a ``ValueError``) of one
shape, naming the kind, the name, the closest known name and the list:

>>> reg = Registry("activation", {"relu": abs, "tanh": abs})
>>> try:
...     reg.lookup("rleu")
... except UnknownNameError as error:
...     print(error)
unknown activation 'rleu'; did you mean 'relu'? Known activation names: 'relu', 'tanh'

This module imports nothing from chainrule, so every floor can use it;
``chainrule.saving`` is its public face.
"""
from __future__ import annotations

import difflib
import functools
import inspect
import re
import threading
from typing import Any, Callable, Iterable, Mapping, TypeVar

_T = TypeVar("_T")

__all__ = ["Registry", "UnknownNameError", "CustomObjectScope", "custom_object_scope",
           "custom_objects_visible",
           "get_custom_objects", "register_keras_serializable", "get_registered_name",
           "get_registered_object", "snake_case", "class_and_snake_names"]

# "package>name" -> object, and object -> "package>name" (Keras' two dictionaries).
_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
_SCOPE = threading.local()          # .objects: the innermost custom_object_scope's dict


def snake_case(name: str) -> str:
    """``GlorotUniform`` -> ``glorot_uniform``, as Keras 3 ``keras/src/utils/naming.py``.

    Args:
        name: a CamelCase name (characters that are not word characters are dropped).

    Returns:
        The name in snake_case.

    Example:

    >>> snake_case("GlorotUniform")
    'glorot_uniform'
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def class_and_snake_names(*classes: type) -> dict[str, type]:
    """``{ClassName: cls, class_name: cls}`` for each class (Keras' ALL_OBJECTS_DICT).

    Args:
        *classes: the classes to list.

    Returns:
        A dict from each class's name and its snake_case name to the class
        (a snake_case name already taken keeps its first class).

    Example:

    >>> class GlorotUniform: pass
    >>> sorted(class_and_snake_names(GlorotUniform))
    ['GlorotUniform', 'glorot_uniform']
    """
    names = {}
    for cls in classes:
        names[cls.__name__] = cls
        names.setdefault(snake_case(cls.__name__), cls)
    return names


# --------------------------------------------------------------------------
# Custom objects (the state behind chainrule.saving)
# --------------------------------------------------------------------------
class CustomObjectScope:
    """``with CustomObjectScope({"custom_fn": custom_fn}):`` makes those names
    known to every ``get``/``deserialize`` and to ``load_model`` inside the block.

    A nested scope adds its objects to the enclosing scope's (Keras replaces
    them; adding keeps a ``load_model(custom_objects=...)`` inside a user's
    scope working). ``None`` adds nothing.

    Args:
        custom_objects: a dict ``{name: object}``, or None.

    Example:

    >>> def scaled_tanh(x):
    ...     return 2 * x
    >>> with CustomObjectScope({"scaled_tanh": scaled_tanh}):
    ...     print(get_registered_object("scaled_tanh") is scaled_tanh)
    True
    >>> get_registered_object("scaled_tanh") is None
    True
    """

    def __init__(self, custom_objects: dict[str, Any] | None = None) -> None:
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(f"custom_objects must be a dict {{name: object}}, got "
                            f"{type(custom_objects).__name__}")
        self.custom_objects = dict(custom_objects or {})
        self._outer: dict[str, Any] | None = None

    def __enter__(self) -> CustomObjectScope:
        self._outer = getattr(_SCOPE, "objects", {})
        _SCOPE.objects = {**self._outer, **self.custom_objects}
        return self

    def __exit__(self, *exc: object) -> None:
        _SCOPE.objects = self._outer


custom_object_scope = CustomObjectScope


def custom_objects_visible(load: Callable[..., _T]) -> Callable[..., _T]:
    """Decorator for a loader ``load(path, custom_objects=None, ...)``: its
    ``custom_objects`` are in a scope while it runs, so every name lookup
    (an activation, a loss in the compile config) sees them, as in Keras.

    Args:
        load: the loader function; it must take a ``custom_objects`` argument.

    Returns:
        The loader, wrapped.
    """
    @functools.wraps(load)
    def wrapper(*args: Any, **kwargs: Any) -> _T:
        bound = inspect.signature(load).bind(*args, **kwargs)
        with CustomObjectScope(bound.arguments.get("custom_objects")):
            return load(*args, **kwargs)
    return wrapper


def get_custom_objects() -> dict[str, Any]:
    """The live global dictionary of custom objects (``name -> object``).

    Returns:
        The dictionary itself: assigning to it registers an object.
    """
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package: str = "Custom",
                                name: str | None = None) -> Callable[[_T], _T]:
    """Decorator registering a class or function under ``"package>name"``
    (``name`` defaults to its ``__name__``), as Keras 3.

    A registered class must have ``get_config``.

    Args:
        package: a non-empty string, the first part of the registered name.
        name: the second part; None uses the object's ``__name__``.

    Returns:
        A decorator that registers its argument and returns it unchanged.

    Example:

    >>> @register_keras_serializable(package="Docs")
    ... def double(x):
    ...     return 2 * x
    >>> get_registered_name(double)
    'Docs>double'
    >>> del get_custom_objects()["Docs>double"]
    """
    if not isinstance(package, str) or not package:
        raise ValueError(f"package must be a non-empty string, got {package!r}")

    def decorator(obj: _T) -> _T:
        registered = f"{package}>{name if name is not None else getattr(obj, '__name__')}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"cannot register the class {obj.__name__}: it has no "
                             f"get_config() method, so it could not be saved")
        _GLOBAL_CUSTOM_OBJECTS[registered] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = registered
        return obj
    return decorator


def get_registered_name(obj: Any) -> str:
    """The name ``obj`` was registered under, else its ``__name__`` (Keras).

    Args:
        obj: a class or function.

    Returns:
        Its ``"package>name"`` if it was registered, else its ``__name__``.
    """
    try:
        if obj in _GLOBAL_CUSTOM_NAMES:
            return _GLOBAL_CUSTOM_NAMES[obj]
    except TypeError:       # unhashable objects cannot have been registered
        pass
    own_name: str = obj.__name__
    return own_name


def registered_name_or_none(obj: Any) -> str | None:
    """The ``"package>name"`` of a registered object, else None.

    Args:
        obj: any object (unhashable objects give None).

    Returns:
        The name ``obj`` was registered under, or None.
    """
    try:
        return _GLOBAL_CUSTOM_NAMES.get(obj)
    except TypeError:
        return None


def get_registered_object(name: str, custom_objects: Mapping[str, Any] | None = None,
                          module_objects: Mapping[str, Any] | None = None) -> Any:
    """The object called ``name``: the scope, then the registered objects, then
    ``custom_objects``, then ``module_objects``; None if none has it (Keras' order).

    Args:
        name: the name to look up (``"package>name"`` for a registered object).
        custom_objects: extra ``{name: object}`` to search, or None.
        module_objects: a module's ``{name: object}`` to search last, or None.

    Returns:
        The object found, or None.

    Example:

    >>> get_registered_object("f", module_objects={"f": len})
    <built-in function len>
    """
    scope: Mapping[str, Any] = getattr(_SCOPE, "objects", {})
    source: Mapping[str, Any]
    for source in (scope, _GLOBAL_CUSTOM_OBJECTS, custom_objects or {}, module_objects or {}):
        if name in source:
            return source[name]
    return None


# --------------------------------------------------------------------------
# Registries of built-in names
# --------------------------------------------------------------------------
class UnknownNameError(ValueError):
    """A name no registry knows. ``kind``, ``name``, ``closest`` and ``known``
    say which kind of object, what was asked, the nearest known name and all.

    Args:
        kind: the kind of object (``"activation"``, ``"loss"``...).
        name: the name that was asked for.
        known: every known name of that kind.
    """

    def __init__(self, kind: str, name: Any, known: Iterable[str]) -> None:
        self.kind, self.name, self.known = kind, name, sorted(known)
        self.closest = _closest(name, self.known)
        hint = f"; did you mean {self.closest!r}?" if self.closest else ";"
        listing = ", ".join(repr(k) for k in self.known)
        super().__init__(f"unknown {kind} {name!r}{hint} Known {kind} names: {listing}")


def _closest(name: Any, known: list[str]) -> str | None:
    """The known name most similar to ``name`` (difflib's ratio, ignoring case)."""
    if not known or not isinstance(name, str):
        return None
    lowered = {k.lower(): k for k in known}
    best = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.0)
    return lowered[best[0]] if best else None


class Registry:
    """The names of one kind of object (``"activation"``, ``"loss"``...).

    ``entries`` maps names to objects, or is a function returning that dict
    (read at each lookup, for kinds whose user subclasses count too).

    Args:
        kind: the kind of object, for messages (``"activation"``).
        entries: a dict ``{name: object}``, or a function returning one.
    """

    def __init__(self, kind: str,
                 entries: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        self.kind = kind
        self._entries = entries

    def entries(self) -> dict[str, Any]:
        """The ``{name: object}`` dict of built-in names, as it is now.

        Returns:
            The dict given to the constructor, or what its function returns.
        """
        return self._entries() if callable(self._entries) else self._entries

    def names(self) -> list[str]:
        """Every known built-in name, sorted.

        Returns:
            The sorted list of names.
        """
        return sorted(self.entries())

    def find(self, name: str) -> Any:
        """The object called ``name`` (custom objects first, then the exact
        name, then ignoring case), or None.

        Args:
            name: the name to look up.

        Returns:
            The object, or None if no name (or several, ignoring case) matches.
        """
        custom = get_registered_object(name)
        if custom is not None:
            return custom
        entries = self.entries()
        if name in entries:
            return entries[name]
        matches = {id(obj): obj for key, obj in entries.items() if key.lower() == name.lower()}
        return next(iter(matches.values())) if len(matches) == 1 else None

    def lookup(self, name: Any) -> Any:
        """The object called ``name``; an :class:`UnknownNameError` if none.

        Args:
            name: the name to look up (anything other than a string is unknown).

        Returns:
            The object called ``name``.

        Raises:
            UnknownNameError: no object has that name.
        """
        found = self.find(name) if isinstance(name, str) else None
        if found is None:
            raise self.unknown(name)
        return found

    def unknown(self, name: Any) -> UnknownNameError:
        """The error for a name this registry does not know.

        Args:
            name: the name that was asked for.

        Returns:
            An :class:`UnknownNameError` (to raise) listing the known names.
        """
        return UnknownNameError(self.kind, name, self.names())

    def name_of(self, obj: Any) -> str | None:
        """The first name ``obj`` is listed under: its registered
        ``"package>name"`` if it was registered, else its built-in name, else None.

        Args:
            obj: the object to name.

        Returns:
            Its name, or None.
        """
        registered = registered_name_or_none(obj)
        if registered is not None:
            return registered
        for key, value in self.entries().items():
            if value is obj:
                return key
        return None

    def serialize(self, obj: Any) -> dict[str, Any]:
        """``{"class_name", "config"}`` of an object with ``get_config``, plus
        ``registered_name`` when its class was registered (Keras' config shape).

        Args:
            obj: an object with a ``get_config`` method.

        Returns:
            The dict that ``deserialize`` turns back into an equal object.
        """
        spec = {"class_name": type(obj).__name__, "config": obj.get_config()}
        registered = registered_name_or_none(type(obj))
        if registered is not None:
            spec["registered_name"] = registered
        return spec

    def deserialize(self, spec: dict[str, Any], **from_config_kwargs: Any) -> Any:
        """The object a ``serialize`` dict describes: its ``registered_name`` is
        looked up first, then its ``class_name``; then ``cls.from_config(config)``.

        Args:
            spec: a dict ``{"class_name": ..., "config": {...}}``.
            **from_config_kwargs: passed on to ``cls.from_config``.

        Returns:
            The object built from the config (or the object itself when the
            name is a function rather than a class).
        """
        if not isinstance(spec, dict) or "class_name" not in spec:
            raise ValueError(f"cannot deserialize {spec!r} as a {self.kind}: expected a dict "
                             f"{{'class_name': ..., 'config': {{...}}}}")
        cls: Any = None
        if spec.get("registered_name"):
            cls = get_registered_object(spec["registered_name"])
        if cls is None:
            cls = self.lookup(spec["class_name"])
        config = spec.get("config") or {}
        if not isinstance(cls, type):
            return cls
        return cls.from_config(dict(config), **from_config_kwargs)  # type: ignore[attr-defined]
