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
previous file whole. The temporary file's name holds its writer's process
id, so the next save removes one left by a killed writer; the saved file
gets the umask's mode (0644 under umask 022), as NumPy, PyTorch and Keras.

``cr.load_model(path)`` never executes code from the file: arrays are read
with ``allow_pickle=False`` and only classes registered by importing them
(every ``Layer`` subclass is) or passed in ``custom_objects`` are created.
Nothing is read before it is checked: the zip's member headers (stored, not
encrypted, inside the file), each ``.npy`` header (exactly as many bytes as
its shape), the JSON's nesting, and each weight's shape as the config
builds the model on placeholders (no initializer runs), so memory stays
within the file's size. A file that is not a chainrule model, or any
malformed part of one, gives a ``ValueError`` that names it.
"""
from __future__ import annotations

import io
import json
import os
import re
import secrets
import stat
import struct
import zipfile
from typing import IO, TYPE_CHECKING, Any, Callable, Union

import numpy as np

from . import keras_format as _keras_format
from ..layers.base import get_registered, serialize
from ..layers.lambda_layer import check_lambda_layers
from ..registry import custom_objects_visible

if TYPE_CHECKING:
    from .model import Model

__all__ = ["load_model", "load_weights", "save_model", "save_weights"]

PathLike = Union[str, "os.PathLike[str]"]

FORMAT_NAME = "chainrule.model"
FORMAT_VERSION = 1
_WEIGHTS_FORMAT = "chainrule.weights"
_MEMBERS = ("metadata.json", "config.json", "model.weights.npz")


def _version():
    from .. import __version__
    return __version__


# --------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------
def atomic_write(filepath: PathLike, write: Callable[[IO[bytes]], Any],
                 verify: Callable[[str], Any] | None = None) -> None:
    """Call ``write(binary file)`` on a temporary file next to ``filepath``,
    then (after ``verify(temporary path)``, if given) move it into place with
    ``os.replace``; on any error the temporary file is removed.

    The temporary file is ``.NAME.PID-TOKEN.tmp``: it names its writer, so a
    later save of the same file removes those left by a writer that was
    killed (its process is gone). It is created with mode 0o666 less the
    umask (0644 under umask 022, as NumPy, PyTorch and Keras write), or, when
    ``filepath`` exists, with the mode of the file it replaces.

    Args:
        filepath: the file to write.
        write: ``write(f)`` writes the contents into the open binary file ``f``.
        verify: ``verify(temporary_path)`` checks the written file before it
            replaces ``filepath`` (raise to keep the old one), or None.
    """
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    base = os.path.basename(filepath)
    remove_stale_temporaries(directory, base)
    while True:
        tmp = os.path.join(directory, f".{base}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)          # the kernel applies the umask
            break
        except FileExistsError:
            continue
    try:
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(filepath).st_mode))  # keep the old file's mode
        except OSError:
            pass                                                  # a new file: the umask's
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if verify is not None:
            verify(tmp)
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def remove_stale_temporaries(directory: str, base: str) -> None:
    """Remove ``.BASE.PID-TOKEN.tmp`` files in ``directory`` whose writer
    process no longer runs (killed mid-save); a live writer's file stays.

    Args:
        directory: the folder of the file.
        base: the file's name (without folder).
    """
    pattern = re.compile(r"\." + re.escape(base) + r"\.(\d+)-[0-9a-f]+\.tmp\Z")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        try:
            os.remove(os.path.join(directory, name))
        except OSError:
            pass                # another saver removed it first, or no permission


def _process_alive(pid):
    if pid == os.getpid():
        return True             # another thread of this process may be writing it
    if pid <= 0 or os.name == "nt":
        return True             # no cheap check: leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True             # someone else's process (or an odd number): keep
    return True


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
        if item is None or isinstance(item, str):      # None: compiled without a loss
            return item
        return losses.serialize(losses.get(item))

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
            "loss_weights": config["loss_weights"],
            "weighted_metrics": convert(config.get("weighted_metrics") or [], metric_spec)}


# --------------------------------------------------------------------------
# Save
# --------------------------------------------------------------------------
def save_model(model: Model, filepath: PathLike, include_optimizer: bool = True) -> None:
    """Write ``model`` to ``filepath`` (see the module docstring).

    Args:
        model: a built model.
        filepath: the file; ``.keras`` writes Keras 3's format, anything else chainrule's.
        include_optimizer: also save the optimizer's state.
    """
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
    atomic_write(filepath, write)


def save_weights(model: Model, filepath: PathLike) -> None:
    """Write only the weights, as an ``.npz`` (atomically).

    Args:
        model: a built model.
        filepath: the file; ``.weights.h5`` writes Keras' HDF5 layout.
    """
    if _keras_format.route_weights_save(filepath) == "keras":   # Keras' .weights.h5
        return _keras_format.save_keras_weights(model, filepath)
    if not model.built:
        raise ValueError(f"model '{model.name}' has not been built, so it has no weights")
    arrays = _weight_arrays(model)
    arrays["__format__"] = np.array(_WEIGHTS_FORMAT)
    atomic_write(filepath, lambda f: np.savez(f, **arrays))


# --------------------------------------------------------------------------
# Load: every size and shape is checked from headers before data is read
# --------------------------------------------------------------------------
# chainrule writes stored (uncompressed) zips of small JSON and .npy members,
# so a member never holds more bytes than the file it sits in: anything else
# (compression, encryption, members overlapping or reaching past the end, a
# .npy header declaring more elements than its bytes) is refused before any
# array is allocated, and memory stays within the file's size.
_MAX_JSON_DEPTH = 100           # a deep Functional model's config nests ~20 levels
_NPY_KINDS = "biufcU"           # numbers, and the short text tag of a weights file


def _not_a_model(filepath, why):
    return ValueError(f"'{filepath}' is not a chainrule model file ({why}). A model file is "
                      f"the zip written by model.save(path).")


def _regular_file(filepath, what):
    """``os.stat`` of ``filepath``, refusing folders, FIFOs and devices (which
    could block a read forever or never end)."""
    try:
        info = os.stat(filepath)
    except FileNotFoundError:
        raise FileNotFoundError(f"no {what} at '{filepath}'") from None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError(f"'{filepath}' is a folder, not a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"'{filepath}' is not a regular file (a FIFO, socket or device), "
                         f"so it is not a {what}")
    return info


# What zipfile raises on a damaged archive (a flipped method or version field
# gives NotImplementedError, an encryption flag RuntimeError, ...).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, KeyError,
               IndexError, NotImplementedError, RuntimeError, OverflowError,
               UnicodeDecodeError, struct.error)


def _read_zip(source, size, names, where):
    """``{name: bytes}`` of the members ``names`` (those present) of the zip
    ``source`` (``size`` bytes), after checking each member's header: stored,
    not encrypted, inside the file, not overlapping another. Raises ValueError."""
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
            seen, spans = set(), []
            for info in infos:
                if info.filename in seen:
                    raise ValueError(f"member {info.filename} appears twice")
                seen.add(info.filename)
            wanted = [info for info in infos if names is None or info.filename in names]
            for info in wanted:
                member = info.filename
                if info.compress_type != zipfile.ZIP_STORED:
                    raise ValueError(f"member {member} is compressed (method "
                                     f"{info.compress_type}); chainrule writes stored members")
                if info.flag_bits & 0x1:
                    raise ValueError(f"member {member} is encrypted")
                if info.file_size != info.compress_size or \
                        info.header_offset + info.compress_size > size:
                    raise ValueError(f"member {member} declares {info.file_size} bytes, more "
                                     f"than the {size}-byte file holds")
                spans.append((info.header_offset, info.header_offset + info.compress_size))
            spans.sort()
            if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
                raise ValueError("its members overlap")
            return {info.filename: archive.read(info) for info in wanted}
    except ValueError:
        raise
    except _ZIP_ERRORS as e:
        raise ValueError(f"{where} is not a valid zip archive ({type(e).__name__}: {e})") \
            from None


def _read_npy(data, name):
    """The array in the .npy bytes ``data``, after checking its header: a
    plain numeric dtype and exactly as many bytes as the shape declares."""
    f = io.BytesIO(data)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"unsupported .npy version {version}")
    if dtype.hasobject or dtype.kind not in _NPY_KINDS or dtype.fields is not None \
            or dtype.subdtype is not None:
        raise ValueError(f"{name} has dtype {dtype}; only numeric arrays are read")
    count = 1
    for d in shape:
        count *= d
    if count * dtype.itemsize != len(data) - f.tell():
        raise ValueError(f"{name} declares shape {shape} of {dtype} "
                         f"({count * dtype.itemsize} bytes) but holds {len(data) - f.tell()}")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=f.tell())
    return (array.reshape(shape[::-1]).T if fortran else array.reshape(shape)).copy()


def _read_npz(data, where):
    """``{key: array}`` of the .npz bytes ``data``, every header checked first."""
    members = _read_zip(io.BytesIO(data), len(data), None, where)
    arrays = {}
    for name, raw in members.items():
        if not name.endswith(".npy"):
            raise ValueError(f"{where} holds {name}, which is not a .npy array")
        try:
            arrays[name[:-4]] = _read_npy(raw, name)
        except (ValueError, SyntaxError, TypeError, OverflowError, MemoryError) as e:
            raise ValueError(f"{where}: {name} is damaged ({e})") from None
    return arrays


def _parse_json(data, where):
    """JSON from ``data``, nesting at most ``_MAX_JSON_DEPTH`` (deeper would
    exhaust Python's recursion in the parser)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{where} is not UTF-8 text ({e})") from None
    depth = _json_depth(text)
    if depth > _MAX_JSON_DEPTH:
        raise ValueError(f"{where} nests {depth} levels deep; a model config nests at most "
                         f"{_MAX_JSON_DEPTH}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{where} is damaged JSON ({e})") from None


def _json_depth(text):
    """The deepest bracket nesting in JSON ``text`` (strings skipped)."""
    brackets = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
    steps = np.frombuffer(brackets.encode("utf-8", "replace"), dtype=np.uint8)
    level = np.cumsum((steps == ord("[")) | (steps == ord("{")), dtype=np.int64) \
        - np.cumsum((steps == ord("]")) | (steps == ord("}")), dtype=np.int64)
    return int(level.max()) if level.size else 0


def _read_archive(filepath):
    """``(metadata, config, weights, optimizer arrays or None)`` of a model file,
    every part checked; ValueError naming the part for anything malformed."""
    filepath = os.fspath(filepath)
    size = _regular_file(filepath, "model file").st_size
    try:
        members = _read_zip(filepath, size, _MEMBERS + ("optimizer.npz",), f"'{filepath}'")
    except ValueError as e:
        raise _not_a_model(filepath, str(e).replace(f"'{filepath}' ", "")) from None
    missing = [m for m in _MEMBERS if m not in members]
    if missing:
        raise _not_a_model(filepath, f"the zip has no {', '.join(missing)}")
    try:
        metadata = _parse_json(members["metadata.json"], "metadata.json")
        config = _parse_json(members["config.json"], "config.json")
    except ValueError as e:
        raise _not_a_model(filepath, str(e)) from None
    _check_metadata(metadata, filepath)
    _check_config(config, filepath)
    try:
        weights = _read_npz(members["model.weights.npz"], "model.weights.npz")
        optimizer = _read_npz(members["optimizer.npz"], "optimizer.npz") \
            if "optimizer.npz" in members else None
    except ValueError as e:
        raise _not_a_model(filepath, str(e)) from None
    return metadata, config, weights, optimizer


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_metadata(metadata, filepath):
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise _not_a_model(filepath, "metadata.json does not name the chainrule format")
    version = metadata.get("format_version")
    if not _is_int(version) or version < 1:
        raise _not_a_model(filepath, f"metadata.json: format_version must be a positive "
                                     f"integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(f"'{filepath}' was saved in format version "
                         f"{version} by chainrule "
                         f"{metadata.get('chainrule_version')}; this chainrule "
                         f"({_version()}) reads up to version {FORMAT_VERSION}")


def _check_config(config, filepath):
    """The shape of config.json's top level (the layers check their own arguments)."""
    def bad(part, why):
        return _not_a_model(filepath, f"config.json: {part} {why}")
    if not isinstance(config, dict):
        raise bad("the top level", f"must be an object, got {type(config).__name__}")
    spec = config.get("model")
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
            or not isinstance(spec.get("config"), dict):
        raise bad("model", "must be {\"class_name\": str, \"config\": {...}}")
    shape = config.get("build_input_shape")
    if shape is not None:
        shapes = shape if isinstance(shape, list) and shape and \
            all(isinstance(s, list) for s in shape) else [shape]
        for s in shapes:
            if not isinstance(s, list) or not all(d is None or (_is_int(d) and d > 0)
                                                  for d in s):
                raise bad("build_input_shape", f"must be a list of positive integers or "
                                               f"null, got {shape!r}")
    state = config.get("training_state")
    if state is not None:
        if not isinstance(state, dict):
            raise bad("training_state", f"must be an object, got {state!r}")
        seed, epochs = state.get("seed"), state.get("epochs_seen", 0)
        if not (seed is None or (_is_int(seed) and seed >= 0)):
            raise bad("training_state.seed", f"must be null or an integer >= 0, got {seed!r}")
        if not (_is_int(epochs) and epochs >= 0):
            raise bad("training_state.epochs_seen", f"must be an integer >= 0, got {epochs!r}")
    compile_config = config.get("compile_config")
    if compile_config is not None:
        if not isinstance(compile_config, dict):
            raise bad("compile_config", f"must be an object or null, got {compile_config!r}")
        if not isinstance(compile_config.get("optimizer"), dict):
            raise bad("compile_config.optimizer", "must be a serialized optimizer object")
        if "loss" not in compile_config:
            raise bad("compile_config", "has no loss")


def _weight_keys(arrays):
    keys = sorted(k for k in arrays if k.startswith("w"))
    if not all(re.fullmatch(r"w\d{5,}", k) for k in keys):
        raise ValueError(f"weight names {keys[:5]} are not w00000, w00001, ...")
    return keys


def _set_weights(model, arrays, filepath):
    weights = model._ordered_weights()
    try:
        keys = _weight_keys(arrays)
    except ValueError as e:
        raise _not_a_model(filepath, f"model.weights.npz: {e}") from None
    if len(keys) != len(weights):
        raise ValueError(f"'{filepath}' holds {len(keys)} weight arrays but model "
                         f"'{model.name}' has {len(weights)}; the architectures differ")
    for key, w in zip(keys, weights):
        array = arrays[key]
        if array.shape != w.shape:
            raise ValueError(f"'{filepath}': weight {key[1:]} ('{w.name}') has shape "
                             f"{array.shape} in the file but {w.shape} in the model")
        if array.dtype.kind not in "biuf":
            raise ValueError(f"'{filepath}': weight {key[1:]} ('{w.name}') has dtype "
                             f"{array.dtype} in the file; weights are real numbers")
    for key, w in zip(keys, weights):
        if w.data.flags.writeable:
            w.data[...] = arrays[key]
        else:                   # a placeholder made while loading: give it its own array
            w.data = np.array(arrays[key], dtype=w.dtype)
        w._version += 1


def _placeholder_check(arrays, filepath):
    """The ``accept(shape, dtype)`` for ``placeholder_weights``: each weight the
    config creates must have a shape the file holds (counted), so a config
    declaring a huge layer is refused before anything is allocated."""
    available = {}
    for key in _weight_keys(arrays):
        shape = arrays[key].shape
        available[shape] = available.get(shape, 0) + 1

    def accept(shape, dtype):
        if available.get(shape, 0) == 0:
            raise _not_a_model(filepath, f"config.json builds a weight of shape {shape}, "
                                         f"which model.weights.npz does not hold")
        available[shape] -= 1
    return accept


def _build_model(config, custom_objects, arrays, filepath):
    from ..layers.base import placeholder_weights
    spec = config["model"]
    cls = get_registered(spec["class_name"], custom_objects)
    from .model import Model
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ValueError(f"the file describes a {spec['class_name']}, which is not a Model")  # noqa: TRY004
    shape = config.get("build_input_shape")
    if shape is not None:
        _check_build_size(shape, arrays, filepath)
    with placeholder_weights(_placeholder_check(arrays, filepath)):
        model = cls.from_config(dict(spec["config"]), custom_objects=custom_objects) \
            if _takes_custom_objects(cls) else cls.from_config(dict(spec["config"]))
        if not model.built or not model.weights:
            if shape is None:
                raise ValueError("the saved model has no input shape to build it from")
            model.build([tuple(s) for s in shape] if shape and isinstance(shape[0], list)
                        else tuple(shape))
    return model


def _check_build_size(shape, arrays, filepath):
    """Building runs one sample of ``shape`` through the model: refuse an
    input larger than 2**25 values or the weights themselves."""
    limit = max(2 ** 25, sum(a.size for a in arrays.values()))
    for s in (shape if shape and isinstance(shape[0], list) else [shape]):
        count = 1
        for d in s:
            count *= 1 if d is None else d
        if count > limit:
            raise _not_a_model(filepath, f"config.json: build_input_shape {s} means "
                                         f"{count} values per sample, more than {limit}")


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
                  loss=convert(compile_config["loss"], lambda v: v if v is None or
                               isinstance(v, str) else losses.deserialize(v)),
                  metrics=convert(compile_config.get("metrics") or [],
                                  lambda v: v if isinstance(v, str) else metrics.deserialize(v)),
                  loss_weights=compile_config.get("loss_weights"),
                  weighted_metrics=convert(compile_config.get("weighted_metrics") or [],
                                           lambda v: v if isinstance(v, str)
                                           else metrics.deserialize(v)) or None)


def _checked_optimizer_state(arrays, filepath):
    """optimizer.npz as ``set_state`` takes it, after checking ``iterations``
    (an integer >= 0), ``learning_rate`` (a finite number >= 0) and the slots
    (finite numbers)."""
    def bad(why):
        return _not_a_model(filepath, f"optimizer.npz: {why}")
    if "iterations" not in arrays:
        raise bad("it has no iterations")
    iterations = arrays["iterations"]
    if iterations.shape != () or iterations.dtype.kind not in "iu" or iterations < 0:
        raise bad(f"iterations must be one integer >= 0, got {iterations!r}")
    if "learning_rate" in arrays:
        lr = arrays["learning_rate"]
        if lr.shape != () or lr.dtype.kind not in "iuf" or not np.isfinite(lr) or lr < 0:
            raise bad(f"learning_rate must be one finite number >= 0, got {lr!r}")
    for key, value in arrays.items():
        if value.dtype.kind not in "biuf":
            raise bad(f"{key} has dtype {value.dtype}; the state is real numbers")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise bad(f"{key} holds NaN or infinite values")
    return {k.replace("__", "/"): v for k, v in arrays.items()}


# What a damaged config.json can make a constructor or from_config raise.
_CONFIG_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError,
                  OverflowError, ZeroDivisionError, MemoryError)


@custom_objects_visible          # chainrule.saving: every name lookup sees them
def load_model(filepath: PathLike, custom_objects: dict[str, Any] | None = None,
               compile: bool = True, safe_mode: bool = True) -> Model:
    """Recreate the model saved by ``model.save``: architecture, weights, and
    (with ``compile=True``) loss, metrics and optimizer with its state.

    ``custom_objects`` maps class names to classes for custom layers or
    models that are not registered by importing them.

    A Keras 3 ``.keras`` file is read by ``keras_format.py``; there, as in
    Keras, ``safe_mode=True`` refuses a config holding a Python lambda.

    Never runs code from the file, and checks before reading: the zip's
    member headers, each array's .npy header, the JSON's nesting, each
    weight's shape as the config builds it (no initializer runs). A
    malformed file raises ``ValueError`` naming the part that is wrong.

    Args:
        filepath: a file written by ``model.save`` (or a Keras ``.keras`` file).
        custom_objects: ``{name: class_or_function}`` for unregistered custom objects.
        compile: restore the loss, metrics and optimizer (with its state).
        safe_mode: refuse a ``.keras`` config holding a Python lambda.

    Returns:
        The model.
    """
    if _keras_format.route_load(filepath) == "keras":     # a Keras 3 .keras file
        return _keras_format.load_keras_model(filepath, custom_objects, compile, safe_mode)
    _, config, weights, optimizer_state = _read_archive(filepath)
    check_lambda_layers(config, safe_mode, os.fspath(filepath))   # Keras: Lambda needs trust
    try:
        model = _build_model(config, custom_objects, weights, filepath)
    except _CONFIG_ERRORS as e:
        if isinstance(e, ValueError) and "is not a chainrule model file" in str(e):
            raise
        raise _not_a_model(filepath, f"its config cannot be used: {type(e).__name__}: {e}") \
            from None
    _set_weights(model, weights, filepath)
    state = config.get("training_state") or {}
    model._training_seed = state.get("seed")
    model._epochs_seen = int(state.get("epochs_seen", 0))
    if compile and config.get("compile_config"):
        try:
            _compile_from_config(model, config["compile_config"])
        except _CONFIG_ERRORS as e:
            raise _not_a_model(filepath, f"config.json: compile_config cannot be used: "
                                         f"{type(e).__name__}: {e}") from None
        if optimizer_state is not None:
            state = _checked_optimizer_state(optimizer_state, filepath)
            try:
                model.optimizer.set_state(state, model.trainable_weights)
                known = model.optimizer.get_state(model.trainable_weights)
                unknown = sorted(set(state) - set(known))
                if unknown:
                    raise ValueError(f"{type(model.optimizer).__name__} has no state named "
                                     f"{', '.join(unknown[:5])}")
            except (ValueError, TypeError, KeyError, IndexError) as e:
                raise _not_a_model(filepath, f"optimizer.npz does not fit the model: {e}") \
                    from None
    return model


def load_weights(model: Model, filepath: PathLike) -> None:
    """Load weights from ``save_weights``' ``.npz`` or from a full model file.

    Args:
        model: a built model of the same architecture.
        filepath: the weights file (or a model file, or Keras' ``.weights.h5``/``.keras``).
    """
    if _keras_format.route_weights_load(filepath) == "keras":   # HDF5 or .keras
        return _keras_format.load_keras_weights(model, filepath)
    filepath = os.fspath(filepath)
    size = _regular_file(filepath, "weights file").st_size
    if not model.built:
        raise ValueError(f"model '{model.name}' must be built before load_weights; call "
                         f"model.build(input_shape) or run it on data first")
    try:
        with zipfile.ZipFile(filepath) as archive:      # reads only the zip's directory
            is_model = "model.weights.npz" in archive.namelist()
    except _ZIP_ERRORS + (ValueError,):
        raise ValueError(f"'{filepath}' is not a chainrule weights or model file") from None
    if is_model:
        _, _, arrays, _ = _read_archive(filepath)
    else:
        with open(filepath, "rb") as f:
            data = f.read()
        try:
            arrays = _read_npz(data, "the weights")
        except ValueError as e:
            raise ValueError(f"'{filepath}' is not a chainrule weights file ({e})") from None
        if str(arrays.pop("__format__", "")) != _WEIGHTS_FORMAT:
            raise ValueError(f"'{filepath}' is not a chainrule weights file "
                             f"(written by model.save_weights)")
    _set_weights(model, arrays, filepath)
