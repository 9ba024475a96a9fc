"""Saving and loading models: one zip file, no pickle, written atomically.

``model.save("net.chainrule")`` writes a zip holding (a ``.keras`` or ``.h5``
path goes to Keras 3's own formats instead, in ``keras_format.py``):

* ``metadata.json`` — the format name and version, the chainrule version;
* ``config.json`` — the architecture (``layers.serialize``: class names and
  constructor arguments), the compile arguments (loss, metrics, optimizer
  serialized) and the training counters (shuffling seed, epochs trained);
* ``model.weights.npz`` — every weight, in the model's order (``np.savez``);
* ``optimizer.npz`` — the optimizer's slots and ``iterations``.

The file is written to a temporary file in the same folder and moved over
the target with ``os.replace``, which is atomic: a crash mid-save leaves the
previous file whole.

``cr.load_model(path)`` never executes code from the file: arrays are read
with ``allow_pickle=False`` and only classes registered by importing them
(every ``Layer`` subclass is) or passed in ``custom_objects`` are created.
A file that is not a chainrule model gives a ``ValueError`` that says so.
"""
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from . import keras_format as _keras_format
from ..layers.base import get_registered, serialize
from ..registry import custom_objects_visible

__all__ = ["load_model", "load_weights", "save_model", "save_weights"]

FORMAT_NAME = "chainrule.model"
FORMAT_VERSION = 1
_WEIGHTS_FORMAT = "chainrule.weights"
_MEMBERS = ("metadata.json", "config.json", "model.weights.npz")


def _version():
    from .. import __version__
    return __version__


def _atomic_write(filepath, write):
    """Call ``write(file object)`` on a temporary file next to ``filepath``,
    then move it into place; on any error remove the temporary file."""
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(filepath) + ".",
                               suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _weight_arrays(model):
    return {f"w{i:05d}": w.data for i, w in enumerate(model._ordered_weights())}


# --------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------
def _model_config(model):
    try:
        spec = serialize(model)
        json.dumps(spec)
    except (TypeError, NotImplementedError, ValueError) as e:
        raise ValueError(
            f"cannot save the architecture of {type(model).__name__} '{model.name}': {e}. "
            f"A subclassed model is saved through its constructor arguments, which must be "
            f"numbers, strings, lists or objects with get_config(); otherwise define "
            f"get_config()/from_config(), or save only the weights with "
            f"model.save_weights(path).") from None
    build_shape = model.build_input_shape
    return {"model": spec,
            "build_input_shape": _jsonable_shape(build_shape),
            "compile_config": _compile_config(model),
            "training_state": {"seed": model._training_seed,
                               "epochs_seen": model._epochs_seen}}


def _jsonable_shape(shape):
    if shape is None:
        return None
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [list(s) for s in shape]
    return list(shape)


def _compile_config(model):
    if not getattr(model, "compiled", False):
        return None
    from .. import losses, metrics, optimizers
    config = model._compile_config

    def loss_spec(item):
        return item if isinstance(item, str) else losses.serialize(losses.get(item))

    def metric_spec(item):
        return item if isinstance(item, str) else metrics.serialize(metrics.get(item))

    def convert(value, fn):
        if isinstance(value, dict):
            return {k: convert(v, fn) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v, fn) for v in value]
        return fn(value)
    return {"optimizer": optimizers.serialize(model.optimizer),
            "loss": convert(config["loss"], loss_spec),
            "metrics": convert(config["metrics"] or [], metric_spec),
            "loss_weights": config["loss_weights"]}


# --------------------------------------------------------------------------
# Save
# --------------------------------------------------------------------------
def save_model(model, filepath, include_optimizer=True):
    """Write ``model`` to ``filepath`` (see the module docstring)."""
    if _keras_format.route_save(filepath) == "keras":     # Keras 3 .keras zip
        return _keras_format.save_keras_model(model, filepath, include_optimizer)
    from .model import Model
    if not isinstance(model, Model):
        raise TypeError(f"save_model needs a chainrule Model, got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"model '{model.name}' has not been built, so it has no weights to "
                         f"save; call it on data or model.build(input_shape) first")
    config = _model_config(model)
    metadata = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "chainrule_version": _version(),
                "n_weights": len(model._ordered_weights())}
    members = {
        "metadata.json": json.dumps(metadata, indent=2).encode(),
        "config.json": json.dumps(config, indent=2).encode(),
        "model.weights.npz": _npz_bytes(_weight_arrays(model)),
    }
    if include_optimizer and model.optimizer is not None:
        state = model.optimizer.get_state(model.trainable_weights)
        members["optimizer.npz"] = _npz_bytes({k.replace("/", "__"): np.asarray(v)
                                               for k, v in state.items()})

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    _atomic_write(filepath, write)


def save_weights(model, filepath):
    """Write only the weights, as an ``.npz`` (atomically)."""
    if _keras_format.route_weights_save(filepath) == "keras":   # Keras' .weights.h5
        return _keras_format.save_keras_weights(model, filepath)
    if not model.built:
        raise ValueError(f"model '{model.name}' has not been built, so it has no weights")
    arrays = _weight_arrays(model)
    arrays["__format__"] = np.array(_WEIGHTS_FORMAT)
    _atomic_write(filepath, lambda f: np.savez(f, **arrays))


# --------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------
def _not_a_model(filepath, why):
    return ValueError(f"'{filepath}' is not a chainrule model file ({why}). A model file is "
                      f"the zip written by model.save(path).")


def _read_npz(data, filepath, member):
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise _not_a_model(filepath, f"{member} cannot be read: {e}") from None


def _read_archive(filepath):
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"no model file at '{filepath}'")
    if os.path.isdir(filepath):
        raise _not_a_model(filepath, "it is a folder")
    try:
        with zipfile.ZipFile(filepath) as archive:
            names = set(archive.namelist())
            missing = [m for m in _MEMBERS if m not in names]
            if missing:
                raise _not_a_model(filepath, f"the zip has no {', '.join(missing)}")
            members = {name: archive.read(name) for name in names if name in
                       _MEMBERS + ("optimizer.npz",)}
    except zipfile.BadZipFile as e:
        raise _not_a_model(filepath, f"not a valid zip archive: {e}") from None
    except (OSError, EOFError, ValueError) as e:
        if isinstance(e, ValueError) and "chainrule model" in str(e):
            raise
        raise _not_a_model(filepath, f"reading it failed: {e}") from None
    try:
        metadata = json.loads(members["metadata.json"])
        config = json.loads(members["config.json"])
    except (ValueError, UnicodeDecodeError) as e:
        raise _not_a_model(filepath, f"its JSON is damaged: {e}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise _not_a_model(filepath, "metadata.json does not name the chainrule format")
    if metadata.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"'{filepath}' was saved in format version "
                         f"{metadata['format_version']} by chainrule "
                         f"{metadata.get('chainrule_version')}; this chainrule "
                         f"({_version()}) reads up to version {FORMAT_VERSION}")
    return metadata, config, members


def _set_weights(model, arrays, filepath):
    weights = model._ordered_weights()
    keys = sorted(k for k in arrays if k.startswith("w"))
    if len(keys) != len(weights):
        raise ValueError(f"'{filepath}' holds {len(keys)} weight arrays but model "
                         f"'{model.name}' has {len(weights)}; the architectures differ")
    for key, w in zip(keys, weights):
        array = arrays[key]
        if array.shape != w.shape:
            raise ValueError(f"'{filepath}': weight {key[1:]} ('{w.name}') has shape "
                             f"{array.shape} in the file but {w.shape} in the model")
    for key, w in zip(keys, weights):
        w.data[...] = arrays[key]
        w._version += 1


def _build_model(config, custom_objects):
    spec = config["model"]
    cls = get_registered(spec["class_name"], custom_objects)
    from .model import Model
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ValueError(f"the file describes a {spec['class_name']}, which is not a Model")  # noqa: TRY004
    model = cls.from_config(dict(spec["config"]), custom_objects=custom_objects) \
        if _takes_custom_objects(cls) else cls.from_config(dict(spec["config"]))
    shape = config.get("build_input_shape")
    if not model.built or not model.weights:
        if shape is None:
            raise ValueError("the saved model has no input shape to build it from")
        model.build([tuple(s) for s in shape] if shape and isinstance(shape[0], list)
                    else tuple(shape))
    return model


def _takes_custom_objects(cls):
    import inspect
    try:
        return "custom_objects" in inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        return False


def _compile_from_config(model, compile_config):
    from .. import losses, metrics, optimizers

    def convert(value, fn):
        if isinstance(value, dict) and "class_name" not in value:
            return {k: convert(v, fn) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v, fn) for v in value]
        return fn(value)
    model.compile(optimizer=optimizers.deserialize(compile_config["optimizer"]),
                  loss=convert(compile_config["loss"], lambda v: v if isinstance(v, str)
                               else losses.deserialize(v)),
                  metrics=convert(compile_config["metrics"], lambda v: v if isinstance(v, str)
                                  else metrics.deserialize(v)),
                  loss_weights=compile_config.get("loss_weights"))


@custom_objects_visible          # chainrule.saving: every name lookup sees them
def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Recreate the model saved by ``model.save``: architecture, weights, and
    (with ``compile=True``) loss, metrics and optimizer with its state.

    ``custom_objects`` maps class names to classes for custom layers or
    models that are not registered by importing them.
    """
    if _keras_format.route_load(filepath) == "keras":     # a Keras 3 .keras file
        return _keras_format.load_keras_model(filepath, custom_objects, compile, safe_mode)
    _, config, members = _read_archive(filepath)
    try:
        model = _build_model(config, custom_objects)
    except (KeyError, TypeError) as e:
        raise _not_a_model(filepath, f"its config cannot be used: {type(e).__name__}: {e}") \
            from None
    _set_weights(model, _read_npz(members["model.weights.npz"], filepath, "model.weights.npz"),
                 filepath)
    state = config.get("training_state") or {}
    model._training_seed = state.get("seed")
    model._epochs_seen = int(state.get("epochs_seen", 0))
    if compile and config.get("compile_config"):
        _compile_from_config(model, config["compile_config"])
        if "optimizer.npz" in members:
            arrays = _read_npz(members["optimizer.npz"], filepath, "optimizer.npz")
            model.optimizer.set_state({k.replace("__", "/"): v for k, v in arrays.items()},
                                      model.trainable_weights)
    return model


def load_weights(model, filepath):
    """Load weights from ``save_weights``' ``.npz`` or from a full model file."""
    if _keras_format.route_weights_load(filepath) == "keras":   # HDF5 or .keras
        return _keras_format.load_keras_weights(model, filepath)
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"no weights file at '{filepath}'")
    if not model.built:
        raise ValueError(f"model '{model.name}' must be built before load_weights; call "
                         f"model.build(input_shape) or run it on data first")
    try:
        with zipfile.ZipFile(filepath) as archive:
            is_model = "model.weights.npz" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        raise ValueError(f"'{filepath}' is not a chainrule weights or model file") from None
    if is_model:
        _, _, members = _read_archive(filepath)
        arrays = _read_npz(members["model.weights.npz"], filepath, "model.weights.npz")
    else:
        with open(filepath, "rb") as f:
            arrays = _read_npz(f.read(), filepath, "the weights")
        if str(arrays.pop("__format__", "")) != _WEIGHTS_FORMAT:
            raise ValueError(f"'{filepath}' is not a chainrule weights file "
                             f"(written by model.save_weights)")
    _set_weights(model, arrays, filepath)
