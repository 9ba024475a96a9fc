"""Real Keras 3 files: ``.keras`` models and ``.weights.h5`` weights, in and out.

A ``.keras`` file is a zip, as Keras 3 ``keras/src/saving/saving_lib.py``
writes it:

* ``config.json`` — ``serialize_keras_object(model)``: nested dicts of
  ``{"module", "class_name", "config", "registered_name", "build_config"}``,
  plus ``"compile_config"`` on the model (optimizer, loss, metrics);
* ``model.weights.h5`` — an HDF5 file (read and written with ``h5py``) where
  each object keeps its variables at ``<path>/vars/0``, ``/1``... The path of
  a layer is ``layers/<snake_case class name>``, made unique in the order of
  ``model.layers`` (``dense``, ``dense_1``...; Keras ``_save_container_state``),
  a recurrent layer keeps its variables in its ``cell``
  (``layers/lstm/cell/vars/0``), a layer with sublayers under their
  attribute names (``multi_head_attention/query_dense/vars``,
  ``bidirectional/forward_layer/cell/vars``), and the optimizer at ``optimizer/vars``:
  ``iterations``, ``learning_rate``, then its slots (Keras ``build``);
* ``metadata.json`` — the Keras version and the date.

A ``.weights.h5`` file is that HDF5 file alone (Keras ``save_weights``).

Reading translates Keras' config into chainrule's layers through one table,
``KERAS_LAYERS`` (Keras class name -> how to build the chainrule layer);
adding a layer is one entry there. Every Keras argument is either passed on,
or known to mean "off" at the value the file holds (``lora_rank=None``), or
refused with an error naming the layer and the argument: nothing is dropped
silently. Loading never runs code: a Python lambda in the config is refused
(``safe_mode=True``, as Keras), so is any ``Lambda`` layer in safe mode;
classes and functions are looked up by name only. The ops Keras records in
a functional graph to pass masks on (``NotEqual``, ``Any``...) are not
rebuilt: chainrule's layers pass the same masks on themselves.

Writing produces what Keras itself writes for the same model, so
``keras.saving.load_model`` reads a chainrule model and predicts the same
numbers (tests/test_keras_files.py checks it with real Keras).
"""
from __future__ import annotations

import datetime
import io
import json
import os
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, List, Tuple, Union

import numpy as np

from ..registry import snake_case     # Keras' rule: LeakyReLU -> leaky_re_lu

if TYPE_CHECKING:
    from ..layers.base import Layer
    from .functional import Functional
    from .model import Model

PathLike = Union[str, "os.PathLike[str]"]
# Where a layer's variables go: (sub-path under the layer's group, its weights).
WeightPaths = List[Tuple[str, List[Any]]]

__all__ = ["KERAS_LAYERS", "LayerFormat", "is_h5_file", "is_keras_zip", "keras_layer_order",
           "load_keras_model", "load_keras_weights", "save_keras_model", "save_keras_weights"]

CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
WEIGHTS_FILE = "model.weights.h5"
KERAS_FORMAT_VERSION = "3.15.1"     # the Keras release whose file layout this follows
_H5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


# --------------------------------------------------------------------------
# The translation table
# --------------------------------------------------------------------------
def own_weights(layer: Layer) -> WeightPaths:
    """Where Keras keeps most layers' variables: ``<layer>/vars``, those created
    trainable first, each part in creation order (Keras ``save_own_variables``:
    ``_trainable_variables + _non_trainable_variables``).

    Args:
        layer: a chainrule layer.

    Returns:
        ``[("", weights)]``.
    """
    weights = [w for _, w in layer._all_weights()]
    return [("", [w for w in weights if w.requires_grad] +
             [w for w in weights if not w.requires_grad])]


def cell_weights(layer: Layer) -> WeightPaths:
    """A recurrent layer's variables live in its cell: ``<layer>/cell/vars``.

    Args:
        layer: a chainrule recurrent layer.

    Returns:
        ``[("", []), ("cell", weights)]``.
    """
    return [("", []), ("cell", list(layer._weights))]


def sublayer_weights(**paths: str) -> Callable[[Layer], WeightPaths]:
    """Variables kept in sublayers, ``<layer>/<path>/vars`` for each
    ``path=attribute`` (Keras saves a layer's tracked sublayers under their
    attribute names: ``multi_head_attention/query_dense``,
    ``bidirectional/forward_layer/cell``), listed in the order given, which
    is the order Keras creates them (its ``trainable_variables`` order).

    Args:
        **paths: ``keras_path="attribute"``, one per sublayer, in Keras' order.

    Returns:
        A function ``layer -> [(sub-path, weights), ...]``.
    """
    def weights(layer: Layer) -> WeightPaths:
        found: WeightPaths = [("", [])]
        for path, attribute in paths.items():
            inner = getattr(layer, attribute)
            entry = KERAS_LAYERS.get(type(inner).__name__)
            found += [(_join(path, sub), inner_weights)
                      for sub, inner_weights in (entry.weights if entry else own_weights)(inner)]
        return found
    return weights


@dataclass(frozen=True)
class LayerFormat:
    """How one Keras layer class maps onto a chainrule layer.

    ``chainrule`` is the chainrule class name (looked up in the layer
    registry); ``weights(layer)`` lists ``(sub-path, weights)``: where under
    the layer's group Keras keeps which of its variables (``own_weights``,
    or ``cell_weights`` for recurrent layers; a layer with sublayers, such as
    attention, lists one entry per sublayer); ``off`` lists Keras arguments
    chainrule does not take, with the value that makes them irrelevant (any
    other value is refused by name); ``not_in_keras`` lists chainrule config
    keys Keras' class does not take, left out when writing.

    Attributes:
        chainrule: the chainrule class name.
        weights: ``layer -> [(sub-path, weights)]``.
        off: ``{keras argument: the value (or tuple of values) that means off}``.
        not_in_keras: chainrule config keys left out when writing.
    """
    chainrule: str
    weights: Callable[[Any], WeightPaths] = own_weights
    off: dict[str, Any] = field(default_factory=dict)
    not_in_keras: tuple[str, ...] = ()


# ``ANY``: an argument that only matters while another one, itself refused
# unless off, is on (``renorm_momentum`` without ``renorm``).
ANY = "any value (only used when its switch is on)"

_RNN_OFF = {"zero_output_for_mask": (False, True), "activity_regularizer": None,
            "use_cudnn": ("auto", False, True)}
_CONV_OFF = {"activity_regularizer": None, "lora_rank": None, "lora_alpha": None}

KERAS_LAYERS = {
    "Dense": LayerFormat("Dense"),
    "Activation": LayerFormat("Activation"),
    "LeakyReLU": LayerFormat("LeakyReLU"),
    "Dropout": LayerFormat("Dropout"),
    "Flatten": LayerFormat("Flatten"),
    "Reshape": LayerFormat("Reshape"),
    "Add": LayerFormat("Add"),
    "Concatenate": LayerFormat("Concatenate"),
    "Conv2D": LayerFormat("Conv2D", off=_CONV_OFF),
    "MaxPooling2D": LayerFormat("MaxPooling2D"),
    "AveragePooling2D": LayerFormat("AveragePooling2D"),
    "GlobalAveragePooling1D": LayerFormat("GlobalAveragePooling1D"),
    "GlobalAveragePooling2D": LayerFormat("GlobalAveragePooling2D"),
    "GlobalMaxPooling1D": LayerFormat("GlobalMaxPooling1D"),
    "GlobalMaxPooling2D": LayerFormat("GlobalMaxPooling2D"),
    "BatchNormalization": LayerFormat(
        "BatchNormalization", off={"synchronized": False, "renorm": False,
                                   "renorm_clipping": ANY, "renorm_momentum": ANY}),
    "Embedding": LayerFormat("Embedding", off={"activity_regularizer": None,
                                               "embeddings_constraint": None}),
    "SimpleRNN": LayerFormat("SimpleRNN", weights=cell_weights, off=_RNN_OFF),
    "LSTM": LayerFormat("LSTM", weights=cell_weights, off=_RNN_OFF),
    "GRU": LayerFormat("GRU", weights=cell_weights, off=_RNN_OFF),
    # issue 17, part A (variables checked against files Keras 3.15.1 writes,
    # tests/keras_refs/gen_keras_files_17.py)
    "MultiHeadAttention": LayerFormat(
        "MultiHeadAttention",
        # Keras' build order (keras/src/layers/attention/multi_head_attention.py)
        weights=sublayer_weights(query_dense="query_dense", key_dense="key_dense",
                                 value_dense="value_dense", output_dense="output_dense"),
        off={"use_gate": False, "sliding_window": None}),
    "Attention": LayerFormat("Attention"),
    "LayerNormalization": LayerFormat("LayerNormalization"),
    "GroupNormalization": LayerFormat("GroupNormalization"),
    "Conv1D": LayerFormat("Conv1D", off=_CONV_OFF),
    "Conv2DTranspose": LayerFormat("Conv2DTranspose"),
    "Conv1DTranspose": LayerFormat("Conv1DTranspose"),
    "DepthwiseConv2D": LayerFormat("DepthwiseConv2D"),
    "SeparableConv2D": LayerFormat("SeparableConv2D"),
    "MaxPooling1D": LayerFormat("MaxPooling1D"),
    "AveragePooling1D": LayerFormat("AveragePooling1D"),
    "UpSampling1D": LayerFormat("UpSampling1D"),
    "UpSampling2D": LayerFormat("UpSampling2D", off={"data_format": "channels_last"}),
    "ZeroPadding1D": LayerFormat("ZeroPadding1D", off={"data_format": "channels_last"}),
    "ZeroPadding2D": LayerFormat("ZeroPadding2D", off={"data_format": "channels_last"}),
    "Cropping1D": LayerFormat("Cropping1D"),
    "Cropping2D": LayerFormat("Cropping2D", off={"data_format": "channels_last"}),
    # issue 17, part B
    "Bidirectional": LayerFormat(
        "Bidirectional",
        weights=sublayer_weights(forward_layer="forward_layer", backward_layer="backward_layer")),
    "TimeDistributed": LayerFormat("TimeDistributed", weights=sublayer_weights(layer="layer")),
    "Masking": LayerFormat("Masking"),
    "Multiply": LayerFormat("Multiply"),
    "Subtract": LayerFormat("Subtract"),
    "Average": LayerFormat("Average"),
    "Maximum": LayerFormat("Maximum"),
    "Minimum": LayerFormat("Minimum"),
    "Dot": LayerFormat("Dot"),
    "Permute": LayerFormat("Permute"),
    "RepeatVector": LayerFormat("RepeatVector"),
    # Keras' SpatialDropout1D/2D take no ``trainable`` (keras/src/layers/regularization/
    # spatial_dropout.py) and fail on it.
    "SpatialDropout1D": LayerFormat("SpatialDropout1D", not_in_keras=("trainable",)),
    "SpatialDropout2D": LayerFormat("SpatialDropout2D", off={"data_format": "channels_last"},
                                    not_in_keras=("trainable",)),
    "GaussianNoise": LayerFormat("GaussianNoise"),
    "GaussianDropout": LayerFormat("GaussianDropout"),
    "Rescaling": LayerFormat("Rescaling"),
    "Normalization": LayerFormat("Normalization"),
    "ReLU": LayerFormat("ReLU"),
    "Softmax": LayerFormat("Softmax"),
    "ELU": LayerFormat("ELU"),
    "PReLU": LayerFormat("PReLU"),
    "Identity": LayerFormat("Identity"),
    "Lambda": LayerFormat("Lambda"),      # only with safe_mode=False, see _Reader.lambda_layer
}

# Wrappers whose config holds whole layers: config key -> the attribute
# holding that layer (Keras 3 ``bidirectional.py``/``time_distributed.py``).
_NESTED_LAYERS = {"Bidirectional": {"layer": "forward_layer", "backward_layer": "backward_layer"},
                  "TimeDistributed": {"layer": "layer"}}

# Arguments every Keras 3 layer may carry that do not change what it computes
# here, with the value that means "off" (a tuple lists several such values).
_COMMON_OFF = {"quantization_config": None, "lora_rank": None, "lora_alpha": None,
               "activity_regularizer": None, "input_length": None, "autocast": True}

# Keras optimizer class -> its slots per variable, in Keras' ``build`` order:
# each inner tuple is one ``add_optimizer_variables`` call (interleaved per
# variable); chainrule's optimizers use the same slot names. Checked against
# ``optimizer.variables`` of Keras 3.15.1: iteration, learning_rate (absent
# for a schedule), the slots, then variables shared by all (Nadam's u_product).
def _optimizer_slot_groups(class_name, config):
    if class_name in ("Adam", "AdamW"):
        return [("momentum", "velocity")] + ([("velocity_hat",)] if config.get("amsgrad") else [])
    if class_name == "SGD":
        return [("momentum",)] if config.get("momentum", 0) else []
    if class_name == "RMSprop":
        return [("velocity",)] + ([("momentum",)] if config.get("momentum", 0) > 0 else []) + \
            ([("average_gradient",)] if config.get("centered") else [])
    if class_name == "Adagrad":
        return [("accumulator",)]
    if class_name == "Adamax":
        return [("momentum", "norm")]
    if class_name == "Adadelta":
        return [("accumulated_grad", "accumulated_delta_var")]
    if class_name == "Ftrl":
        return [("accumulator", "linear")]
    if class_name == "Nadam":
        return [("momentum", "velocity")]
    return None     # Lion, Lamb...: chainrule has no such optimizer


_OPTIMIZER_GLOBALS = {"Nadam": ("u_product",)}      # after the slots, in this order


# Keras optimizer arguments chainrule's optimizers lack, with their "off" value.
# Keras loss and metric arguments chainrule's classes lack, with their "off"
# value (``dtype``: chainrule computes a loss in its inputs' dtype).
_LOSS_OFF = {"ignore_class": None, "dtype": (None, "float32")}

_OPTIMIZER_OFF = {"use_ema": False, "ema_momentum": ANY, "ema_overwrite_frequency": ANY,
                  "loss_scale_factor": None, "gradient_accumulation_steps": None}


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------
def _unique(name, used):
    """Keras ``_get_unique_name``: ``dense``, then ``dense_1``, ``dense_2``..."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _need_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading and writing Keras 3 files needs h5py: "
                          "pip install 'chainrule[keras]' (or pip install h5py)") from None
    return h5py


def is_h5_file(filepath: PathLike) -> bool:
    """True if the file starts with the HDF5 signature.

    Args:
        filepath: the file.

    Returns:
        Whether it is HDF5 (False when it cannot be read).
    """
    try:
        with open(filepath, "rb") as f:
            return f.read(8) == _H5_SIGNATURE
    except OSError:
        return False


# What a damaged zip may raise while its directory is read.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
               IndexError, OverflowError, UnicodeDecodeError, NotImplementedError,
               struct.error)


def _zip_names(filepath):
    """The member names of a zip, or None if the file is not a readable zip."""
    try:
        with zipfile.ZipFile(filepath) as archive:
            return set(archive.namelist())
    except _ZIP_ERRORS:
        return None


def is_keras_zip(filepath: PathLike) -> bool:
    """True if the file is a zip holding Keras' ``config.json`` and not
    chainrule's ``model.weights.npz``.

    Args:
        filepath: the file.

    Returns:
        Whether it is a Keras 3 ``.keras`` zip.
    """
    names = _zip_names(filepath)
    return names is not None and CONFIG_FILE in names and "model.weights.npz" not in names


def _atomic_write(filepath, data):
    """Write ``data`` (bytes) to a temporary file beside ``filepath``, then
    ``os.replace`` it into place, so a crash never leaves half a file
    (``saving.atomic_write``: the temporary file names its writer and the next
    save removes a killed writer's; the file gets the umask's mode)."""
    from .saving import atomic_write      # saving imports this module at its top
    atomic_write(filepath, lambda f: f.write(data))


def _describe(where, config):
    name = config.get("name") if isinstance(config, dict) else None
    return f"{where} '{name}'" if name else where


# --------------------------------------------------------------------------
# Keras' order of a functional model's layers
# --------------------------------------------------------------------------
def keras_layer_order(model: Functional) -> list[Layer]:
    """The layers of a chainrule functional ``model`` in the order Keras'
    ``model.layers`` would list them for the same graph (input layers
    included), as Keras 3 ``keras/src/ops/function.py`` ``map_graph``: a
    depth-first walk back from the outputs numbers the layers, every call
    gets a depth (its distance to the outputs), and the layers are sorted by
    decreasing depth, ties by that numbering. The weight paths
    (``layers/dense_1``) follow this order.

    Args:
        model: a functional model.

    Returns:
        Its layers, input layers included, in Keras' order.
    """
    from ..layers.base import SymbolicTensor, _flatten
    inputs = {id(t) for t in model._input_tensors}
    index: dict[int, int] = {}                   # id(layer) -> first time seen
    layers: dict[int, Layer] = {}
    order: list[tuple[Any, int]] = []            # calls, inputs first
    finished: set[Any] = set()
    parents: dict[Any, list[Any]] = {}

    def key_of(t: SymbolicTensor) -> tuple[Any, ...]:
        if t.history is None:
            return ("input", id(t.input_layer))
        return ("call", id(t.history[0]), t.history[3])

    def visit(t: SymbolicTensor) -> None:
        key = key_of(t)
        if key in finished:
            return
        layer = t.input_layer if t.history is None else t.history[0]
        layers[id(layer)] = layer
        index.setdefault(id(layer), len(index))
        parents[key] = []
        if t.history is not None and id(t) not in inputs:
            for parent in _call_tensors(t.history[1], t.history[2]):
                if isinstance(parent, SymbolicTensor):
                    visit(parent)
                    parents[key].append(key_of(parent))
        finished.add(key)
        order.append((key, id(layer)))

    for t in model._output_tensors:
        visit(t)
    depth: dict[Any, int] = {}
    layer_depth: dict[int, int] = {}
    for key, layer_id in reversed(order):
        d = max(depth.setdefault(key, 0), layer_depth.get(layer_id, 0))
        layer_depth[layer_id] = depth[key] = d
        for parent in parents[key]:
            depth[parent] = max(d + 1, depth.get(parent, 0))
    for t in model._input_tensors:               # inputs no output depends on
        layer = t.input_layer
        if id(layer) not in layer_depth:
            layers[id(layer)] = layer
            layer_depth[id(layer)] = 0
            index[id(layer)] = -1
    ranked = sorted(layer_depth, key=lambda i: (-layer_depth[i], index[i]))
    return [layers[i] for i in ranked]


def _call_tensors(args, kwargs):
    """The placeholders a call takes, in Keras' order (``SymbolicArguments``:
    ``tree.flatten((args, kwargs))``, the keyword arguments sorted by name)."""
    from ..layers.base import SymbolicTensor, _flatten
    leaves = _flatten(args) + _flatten([kwargs[k] for k in sorted(kwargs)])
    return [t for t in leaves if isinstance(t, SymbolicTensor)]


def _keras_class_name(layer, class_names=None):
    """The Keras class name a chainrule layer is written under (or, for a
    layer read from a file, the class name the file gave it)."""
    from .functional import Functional, InputLayer
    if class_names and id(layer) in class_names:
        return class_names[id(layer)]
    if isinstance(layer, InputLayer):
        return "InputLayer"
    if isinstance(layer, Functional):
        return "Functional"
    return type(layer).__name__


def _children(model, orders=None):
    """A model's layers in Keras' ``model.layers`` order."""
    from .functional import Functional
    from .sequential import Sequential
    if orders is not None and id(model) in orders:
        return orders[id(model)]
    if isinstance(model, Sequential):
        return model.layers
    if isinstance(model, Functional):
        return keras_layer_order(model)
    return None


def _weight_groups(layer, path, orders=None, class_names=None):
    """``(h5 group path, layer, weights)`` for every object Keras stores
    variables for, in Keras' order: the group is ``<path>/vars``. ``orders``
    and ``class_names`` (by ``id``) come from a file being read: its order
    of each model's layers and the class name of each layer."""
    from .model import Model
    children = _children(layer, orders)
    if children is None and isinstance(layer, Model):
        raise ValueError(f"model '{layer.name}' ({type(layer).__name__}) is a subclassed "
                         f"model; Keras files hold Sequential and functional models. Save "
                         f"it with model.save('{layer.name}.chainrule') instead")
    if children is None:
        entry = KERAS_LAYERS.get(type(layer).__name__)
        # A custom layer: every weight it and its sublayers own, in creation order.
        for sub, weights in (entry.weights if entry else own_weights)(layer):
            yield _join(path, sub), layer, weights
        return
    yield path, layer, []
    used = {}
    for child in children:
        name = _unique(snake_case(_keras_class_name(child, class_names)), used)
        yield from _weight_groups(child, _join(path, "layers", name), orders, class_names)


def _join(*parts):
    return "/".join(p for p in parts if p)


def _keras_trainable(model, orders=None, class_names=None):
    """The trainable weights in Keras' ``model.trainable_variables`` order."""
    trainable = {id(w) for w in model.trainable_weights}
    seen, out = set(), []
    for _, _, weights in _weight_groups(model, "", orders, class_names):
        for w in weights:
            if id(w) in trainable and id(w) not in seen:
                seen.add(id(w))
                out.append(w)
    return out


# --------------------------------------------------------------------------
# Keras config -> chainrule objects
# --------------------------------------------------------------------------
def _strip_keras(spec):
    """``{"module", "class_name", "config", "registered_name"}`` -> chainrule's
    ``{"class_name", "config"}``."""
    return {"class_name": spec["class_name"], "config": spec.get("config") or {}}


def _accepted_args(cls):
    """The keyword arguments ``cls(...)`` takes, following ``**kwargs`` up the classes."""
    import inspect
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        names |= {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                               p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
    names.discard("self")
    return names


def _is_off(value, off):
    if off is ANY:
        return True
    allowed = off if isinstance(off, tuple) else (off,)
    return value is None or any(value == a for a in allowed)


def _dtype_of(value, where):
    """A Keras dtype or ``DTypePolicy`` dict -> a NumPy dtype name."""
    if isinstance(value, dict):
        name = (value.get("config") or {}).get("name")
    else:
        name = value
    if name is None:
        return None
    if not isinstance(name, str) or name.startswith("mixed_") or name == "bfloat16":
        raise ValueError(f"{where}: dtype policy {name!r} is not supported (chainrule computes "
                         f"in one dtype: float32, float64 or float16)")
    return name


def _initializer(spec, where, key):
    from .. import initializers
    if spec is None or isinstance(spec, str):
        return spec
    stripped = _strip_keras(spec)
    try:
        cls = initializers.get(stripped["class_name"]).__class__
    except (ValueError, TypeError) as e:
        raise ValueError(f"{where}: {key}: {e}") from None
    stripped["config"] = _only_accepted(cls, stripped["config"], f"{where}: {key}", {
        "input_axes": None, "output_axes": None})
    try:
        return initializers.deserialize(stripped)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{where}: {key} {stripped}: {e}") from None


def _regularizer(spec, where, key):
    from .. import regularizers
    if spec is None or isinstance(spec, str):
        return spec
    try:
        return regularizers.deserialize(_strip_keras(spec))
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{where}: {key} {spec.get('class_name')!r}: {e}") from None


def _activation(spec, where, key):
    from .. import activations
    name = spec
    if isinstance(spec, dict):
        is_function = spec.get("class_name") == "function"      # Keras' form for a plain function
        name = spec.get("config") if is_function else spec.get("class_name")
    try:
        activations.get(name)
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{where}: {key}={name!r}: {e}") from None
    return name


def _constraint(spec, where, key, accepted):
    if spec is None:
        return None
    name = spec.get("class_name") if isinstance(spec, dict) else spec
    if key in accepted:
        try:
            from .. import constraints
        except ImportError:
            constraints = None
        if constraints is not None:
            try:
                return constraints.deserialize(_strip_keras(spec)) if isinstance(spec, dict) \
                    else constraints.get(spec)
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"{where}: {key}={name!r}: {e}") from None
    raise ValueError(f"{where}: {key}={name!r} is a weight constraint, which this chainrule "
                     f"layer does not support; remove the constraint in Keras before "
                     f"saving, or write the layer as a custom chainrule layer")


def _only_accepted(cls, config, where, off):
    """``config`` without the keys ``cls`` does not take, each of which must be
    at its ``off`` value; anything else is refused by name."""
    accepted = _accepted_args(cls)
    out = {}
    for key, value in config.items():
        if key in accepted:
            out[key] = value
        elif key in off and _is_off(value, off[key]):
            continue
        else:
            raise ValueError(f"{where}: argument {key}={value!r} is not supported by "
                             f"chainrule's {cls.__name__}")
    return out


def _translate_config(cls, entry, config, where):
    """A Keras layer config -> the keyword arguments of chainrule's ``cls``."""
    accepted = _accepted_args(cls)
    off = {**_COMMON_OFF, **(entry.off if entry else {})}
    out = {}
    for key, value in config.items():
        if key == "dtype":
            value = _dtype_of(value, where)
        elif key.endswith("_initializer"):
            value = _initializer(value, where, key)
        elif key.endswith("_regularizer"):
            value = _regularizer(value, where, key)
        elif key.endswith("_constraint"):
            value = _constraint(value, where, key, accepted)
            if value is None:
                continue
        elif key in ("activation", "recurrent_activation"):
            value = _activation(value, where, key)
        elif key in ("kernel_size", "strides", "pool_size", "dilation_rate", "target_shape") \
                and isinstance(value, list):
            value = tuple(value)
        if key in accepted:
            out[key] = value
        elif key in off and _is_off(value, off[key]):
            continue
        else:
            raise ValueError(f"{where}: argument {key}={value!r} is not supported by "
                             f"chainrule's {cls.__name__}; load the model in Keras, remove "
                             f"that setting, and save it again")
    return out


# The Keras ops a functional model records when masks flow through it
# (Keras 3 ``Layer.__call__`` passes ``mask=`` explicitly and computes it with
# ops: ``Embedding(mask_zero=True)`` -> ``NotEqual``, ``Masking`` -> ``NotEqual``
# then ``Any``, a passed-on mask -> ``ConvertToTensor``). chainrule computes
# the same masks itself (chainrule/masks.py), so these are not rebuilt.
_MASK_OPS = {"NotEqual", "Any", "All", "ConvertToTensor", "LogicalAnd", "LogicalOr",
             "LogicalNot", "Cast", "ExpandDims", "Squeeze"}
_KERAS_MASK = object()          # stands for a mask tensor computed by such ops


def _is_mask_op(spec):
    return (spec.get("module") or "").startswith("keras.src.ops") and \
        spec.get("class_name") in _MASK_OPS


class _Reader:
    """Builds chainrule models from a Keras config, remembering each model's
    layers in the file's order (which names their weight groups)."""

    def __init__(self, custom_objects, safe_mode, source):
        self.custom_objects = dict(custom_objects or {})
        self.safe_mode = safe_mode
        self.source = source
        self.orders = {}
        self.class_names = {}

    def error(self, message):
        return ValueError(f"'{self.source}': config.json: {message}")

    def build(self, spec):
        if not isinstance(spec, dict) or "class_name" not in spec:
            raise self.error(f"expected a layer or model description with 'class_name', got "
                             f"{str(spec)[:80]}")
        class_name = spec["class_name"]
        if class_name == "Sequential":
            built = self.sequential(spec)
        elif class_name in ("Functional", "Model"):
            built = self.functional(spec)
        else:
            built = self.layer(spec)
        self.class_names[id(built)] = class_name
        return built

    def find_class(self, spec):
        """The chainrule class for a Keras layer description, and its table entry."""
        from ..layers.base import _REGISTRY
        class_name = spec["class_name"]
        registered = spec.get("registered_name") or class_name
        config = spec.get("config") or {}
        for key in (registered, class_name):
            if key in self.custom_objects:
                return self.custom_objects[key], None
        try:
            from .. import registry
            found = registry.get_registered_object(registered)
        except ImportError:
            found = None
        if found is not None:
            return found, None
        entry = KERAS_LAYERS.get(class_name)
        module = spec.get("module") or ""
        if entry is not None and (module.startswith("keras") or not module) and \
                entry.chainrule in _REGISTRY:
            return _REGISTRY[entry.chainrule], entry
        if class_name in _REGISTRY and not module.startswith("keras"):
            return _REGISTRY[class_name], None      # a chainrule custom layer, by import
        raise self.error(
            f"{_describe('layer', config)} has class {class_name!r} "
            f"(module {module!r}), which chainrule cannot build: "
            + ("chainrule has no such layer yet" if module.startswith("keras") else
               f"pass custom_objects={{{registered!r}: YourLayer}} or register the class")
            + f". Layers chainrule reads from Keras files: "
            + ", ".join(sorted(k for k, e in KERAS_LAYERS.items() if e.chainrule in _REGISTRY)))

    def layer(self, spec):
        config = dict(spec.get("config") or {})
        where = f"{_describe('layer', config)} ({spec['class_name']})"
        if spec["class_name"] == "Lambda" and "Lambda" not in self.custom_objects:
            return self.lambda_layer(spec, config, where)
        cls, entry = self.find_class(spec)
        for key in _NESTED_LAYERS.get(spec["class_name"], {}):
            if isinstance(config.get(key), dict):
                config[key] = self.nested(config[key])
        kwargs = _translate_config(cls, entry, config, where)
        try:
            return cls.from_config(kwargs)
        except (TypeError, ValueError, NotImplementedError) as e:
            raise self.error(f"{where}: {type(e).__name__}: {e}") from None

    def lambda_layer(self, spec, config, where):
        """A Keras ``Lambda``: refused in safe mode (chainrule's rule for its own
        Lambda, stricter than Keras' for named functions); without it, its
        function is found by name among custom_objects and registered objects,
        never read from the file (a lambda's bytecode is refused outright)."""
        from .. import registry
        from ..layers.lambda_layer import Lambda
        if self.safe_mode:
            raise self.error(f"{where} is a Lambda layer, which stands for Python code; "
                             f"loading it is refused in safe mode. If you trust this file, "
                             f"pass safe_mode=False: its function is then looked up by name "
                             f"among custom_objects (no code is read from the file)")
        function = config.get("function")
        if isinstance(function, dict) and function.get("class_name") == "__lambda__":
            raise self.error(f"{where} holds a Python lambda as bytecode, which chainrule "
                             f"never runs; give the function a name and pass it in "
                             f"custom_objects, or pass custom_objects={{'Lambda': YourLayer}}")
        names = [function]
        if isinstance(function, dict) and function.get("class_name") == "function":
            # Keras writes a registered function's name twice, a plain one's as
            # registered_name "function" (serialization_lib.serialize_keras_object)
            names = [function.get("registered_name"), function.get("config")]
        names = [n for n in names if isinstance(n, str) and n != "function"]
        found = None
        for name in names:
            found = self.custom_objects.get(name) or registry.get_registered_object(name)
            if found is not None:
                break
        name = names[-1] if names else function
        if not callable(found):
            raise self.error(f"{where}: its function {name!r} is not among custom_objects nor "
                             f"registered; pass custom_objects={{{name!r}: the_function}}")
        for key in ("output_shape", "mask"):
            if isinstance(config.get(key), dict):
                raise self.error(f"{where}: a function as {key} is not supported")
        kwargs = {k: v for k, v in config.items() if k not in ("function", "dtype")}
        kwargs["dtype"] = _dtype_of(config.get("dtype"), where)
        try:
            return Lambda(found, **kwargs)
        except (TypeError, ValueError) as e:
            raise self.error(f"{where}: {type(e).__name__}: {e}") from None

    def nested(self, spec):
        """A layer inside a wrapper's config, as chainrule's ``serialize`` dict
        (what the wrapper's ``from_config`` deserializes)."""
        layer = self.layer(spec)
        return {"class_name": type(layer).__name__, "config": layer.get_config()}

    def input_layer(self, spec):
        from .functional import Input
        config = spec.get("config") or {}
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        if shape is None and "shape" in config:
            shape = [None] + list(config["shape"])
        if shape is None:
            raise self.error(f"{_describe('InputLayer', config)} has no batch_shape")
        if config.get("sparse") or config.get("ragged") or config.get("optional"):
            raise self.error(f"{_describe('InputLayer', config)}: sparse, ragged or optional "
                             f"inputs are not supported")
        return Input(tuple(shape[1:]), dtype=config.get("dtype"), name=config.get("name"))

    def sequential(self, spec):
        from .sequential import Sequential
        config = spec.get("config") or {}
        model = Sequential(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_spec in config.get("layers", []):
            if layer_spec.get("class_name") == "InputLayer":
                model.add(self.input_layer(layer_spec))
            else:
                model.add(self.build(layer_spec))
        shape = config.get("build_input_shape") or (spec.get("build_config") or {}).get(
            "input_shape")
        if not model.built and shape is not None:
            model.build(tuple(shape))
        return model

    def functional(self, spec):
        from ..layers.base import SymbolicTensor
        from .functional import Functional
        config = spec.get("config") or {}
        layer_specs = config.get("layers", [])
        tensors, by_name, order = {}, {}, []
        for layer_spec in layer_specs:
            name = layer_spec.get("name") or (layer_spec.get("config") or {}).get("name")
            if _is_mask_op(layer_spec):
                tensors[(name, 0, 0)] = _KERAS_MASK      # chainrule carries masks itself
                order.append(None)
                continue
            if layer_spec.get("class_name") == "InputLayer":
                placeholder = self.input_layer(layer_spec)
                tensors[(name, 0, 0)] = placeholder
                layer = placeholder.input_layer
            else:
                layer = self.build(layer_spec)
            by_name[name] = layer
            order.append(layer)

        def deref(value, where):
            if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
                history = tuple(value["config"]["keras_history"])
                if history not in tensors:
                    raise KeyError(history)
                found = tensors[history]
                if found is _KERAS_MASK and not where.endswith("mask"):
                    raise self.error(
                        f"{where.rsplit(' argument', 1)[0]} takes the output of the Keras op "
                        f"'{history[0]}' as data; chainrule reads Keras ops only where they "
                        f"compute a mask")
                return found
            if isinstance(value, list):
                return [deref(v, where) for v in value]
            if isinstance(value, dict) and "class_name" in value:
                raise self.error(f"{where}: a call argument of kind {value['class_name']!r} "
                                 f"is not supported")
            return value

        # Replay the calls: each layer's calls in order, each once its inputs exist.
        pending = {i: list(s.get("inbound_nodes", [])) for i, s in enumerate(layer_specs)
                   if s.get("class_name") != "InputLayer" and order[i] is not None}
        done = {i: 0 for i in pending}
        progress = True
        while progress and any(pending.values()):
            progress = False
            for i, nodes in pending.items():
                while nodes:
                    layer, node = order[i], nodes[0]
                    where = f"layer '{layer.name}' call {done[i]}"
                    if not isinstance(node, dict):
                        raise self.error(f"{where}: inbound node {str(node)[:60]} is in the "
                                         f"Keras 2 format; re-save the model with Keras 3")
                    try:
                        args = deref(node.get("args", []), f"{where} argument")
                        kwargs = {k: deref(v, f"{where} argument {k}")
                                  for k, v in (node.get("kwargs") or {}).items()}
                    except KeyError:
                        break                         # an input is not computed yet
                    kwargs = self.call_kwargs(kwargs, where)
                    first = (layer._call_param_names or ["inputs"])[0]
                    if not args and first in kwargs:       # mha(query=q, value=v)
                        args = [kwargs.pop(first)]
                    if not args:
                        raise self.error(f"{where}: the call has no positional input")
                    output = layer(*args, **kwargs)
                    outputs = output if isinstance(output, list) else [output]
                    # A nested functional model's node 0 is its own construction
                    # in Keras, so its calls count from 1 (Keras functional_from_config).
                    index = done[i] + isinstance(layer, Functional)
                    for k, out in enumerate(outputs):
                        tensors[(layer.name, index, k)] = out
                    done[i] += 1
                    nodes.pop(0)
                    progress = True
        stuck = [order[i].name for i, nodes in pending.items() if nodes]
        if stuck:
            raise self.error(f"model '{config.get('name')}': the calls of layer(s) {stuck} "
                             f"depend on tensors no layer produces (a broken graph)")

        def endpoints(value, what):
            single = bool(value) and isinstance(value[0], str)
            refs = [value] if single else value
            try:
                found = [tensors[tuple(r)] for r in refs]
            except (KeyError, TypeError):
                raise self.error(f"model '{config.get('name')}': {what} {value} names a tensor "
                                 f"the layers do not produce") from None
            return found[0] if single else found
        inputs = endpoints(config.get("input_layers", []), "input_layers")
        outputs = endpoints(config.get("output_layers", []), "output_layers")
        if isinstance(outputs, SymbolicTensor) and isinstance(config.get("output_layers"), list) \
                and config["output_layers"] and isinstance(config["output_layers"][0], list):
            outputs = [outputs]
        model = Functional(inputs, outputs, name=config.get("name"),
                           trainable=config.get("trainable", True))
        self.orders[id(model)] = [layer for layer in order if layer is not None]
        return model

    def call_kwargs(self, kwargs, where):
        """Keyword arguments of a recorded call, less those Keras adds that mean nothing here."""
        out = {}
        for key, value in kwargs.items():
            if key == "training":
                if value in (None, False):
                    continue
                raise self.error(f"{where}: the layer is called with training={value!r} inside "
                                 f"the model (e.g. Monte Carlo dropout), which chainrule's "
                                 f"functional models do not support")
            if (key == "mask" or key.endswith("_mask")) and \
                    all(v is None or v is _KERAS_MASK for v in (value if isinstance(
                        value, list) else [value])):
                continue          # the mask chainrule's layers pass on themselves
            out[key] = value
        return out


def _check_safe(config, safe_mode, source, where="config.json"):
    """Refuse a Python lambda anywhere in the config unless ``safe_mode=False``."""
    if isinstance(config, dict):
        if config.get("class_name") == "__lambda__":
            if safe_mode:
                raise ValueError(
                    f"'{source}': {where} holds a Python lambda (code) and loading it could "
                    f"execute arbitrary code, so it is refused. If you trust this file, "
                    f"pass safe_mode=False (chainrule still cannot run Keras code: supply "
                    f"the layer through custom_objects)")
            return
        here = where
        if isinstance(config.get("config"), dict) and config["config"].get("name"):
            here = f"{where}: {config.get('class_name')} '{config['config']['name']}'"
        for value in config.values():
            _check_safe(value, safe_mode, source, here)
    elif isinstance(config, list):
        for value in config:
            _check_safe(value, safe_mode, source, where)


# --------------------------------------------------------------------------
# Reading weights
# --------------------------------------------------------------------------
def _open_h5(data, source, part):
    h5py = _need_h5py()
    try:
        return h5py.File(io.BytesIO(data) if isinstance(data, bytes) else data, "r")
    except (OSError, ValueError) as e:
        raise ValueError(f"'{source}': {part} is not a readable HDF5 file (truncated or "
                         f"damaged?): {e}") from None


def _group_datasets(h5, path, source, part):
    """The datasets ``<path>/vars/0, 1, ...``, not read yet (empty if the group
    is absent): their shapes are checked against the model before any byte of
    data is read, so a file declaring huge arrays costs nothing."""
    group_path = _join(path, "vars")
    try:
        if group_path not in h5:
            return []
        group = h5[group_path]
        keys = list(group.keys())
        bad = [k for k in keys if not k.isdigit()]
        if bad:
            raise ValueError(f"'{source}': {part} '{group_path}/{bad[0]}' is not a Keras "
                             f"variable name (0, 1, ...)")
        datasets = [group[k] for k in sorted(keys, key=int)]
        for key, dataset in zip(sorted(keys, key=int), datasets):
            if not hasattr(dataset, "shape"):
                raise ValueError(f"'{source}': {part} '{group_path}/{key}' is a group, "
                                 f"not an array")
            if dataset.attrs.get("dtype") == "bfloat16":
                raise ValueError(f"'{source}': {part} '{group_path}/{key}' is bfloat16, "
                                 f"which chainrule does not support")
        return datasets
    except (OSError, KeyError, TypeError, RuntimeError) as e:
        raise ValueError(f"'{source}': {part} group '{group_path}' cannot be read "
                         f"(truncated or damaged?): {e}") from None


def _read(dataset, source, part):
    try:
        return np.asarray(dataset[()])
    except (OSError, KeyError, TypeError, RuntimeError, ValueError) as e:
        raise ValueError(f"'{source}': {part} '{dataset.name}' cannot be read (truncated "
                         f"or damaged?): {e}") from None


def _assign_weights(model, h5, source, part, orders=None, class_names=None):
    """Check every group against the model, then read and copy all the arrays in."""
    plan = []
    for path, layer, weights in _weight_groups(model, "", orders, class_names):
        datasets = _group_datasets(h5, path, source, part)
        if len(datasets) != len(weights):
            raise ValueError(
                f"'{source}': {part} '{_join(path, 'vars')}' holds {len(datasets)} arrays but "
                f"{type(layer).__name__} '{layer.name}' has {len(weights)} weights "
                f"({', '.join(w.name or '?' for w in weights) or 'none'}); the architectures "
                f"differ")
        for k, (dataset, w) in enumerate(zip(datasets, weights)):
            if tuple(dataset.shape) != tuple(w.shape):
                raise ValueError(
                    f"'{source}': {part} '{_join(path, 'vars', str(k))}' has shape "
                    f"{tuple(dataset.shape)} but weight '{w.name}' of {type(layer).__name__} "
                    f"'{layer.name}' has shape {w.shape}")
            plan.append((w, dataset))
    arrays = [(w, _read(dataset, source, part)) for w, dataset in plan]
    for w, array in arrays:
        if not w.data.flags.writeable:
            w.data = np.array(array, dtype=w.dtype)
        else:
            w.data[...] = array
        w._version += 1


def _assign_optimizer(model, h5, source, part, orders=None, class_names=None):
    """Restore the optimizer's ``iterations``, learning rate and slots, when
    chainrule knows the layout of that Keras optimizer; else warn."""
    optimizer = model.optimizer
    from ..optimizers.schedules import LearningRateSchedule
    arrays = _group_datasets(h5, "optimizer", source, part)
    if not arrays:
        return
    groups = _optimizer_slot_groups(type(optimizer).__name__, optimizer.get_config())
    if groups is None:
        warnings.warn(f"'{source}': the state of the {type(optimizer).__name__} optimizer is "
                      f"not restored (chainrule does not map its Keras variables yet); "
                      f"training continues from a fresh optimizer state", stacklevel=3)
        return
    variables = _keras_trainable(model, orders, class_names)
    has_lr = not (isinstance(optimizer._learning_rate, LearningRateSchedule)
                  or callable(optimizer._learning_rate))
    shared = _OPTIMIZER_GLOBALS.get(type(optimizer).__name__, ())
    expected = 1 + has_lr + sum(len(g) for g in groups) * len(variables) + len(shared)
    if len(arrays) != expected:
        raise ValueError(f"'{source}': {part} 'optimizer/vars' holds {len(arrays)} arrays but "
                         f"a {type(optimizer).__name__} for this model has {expected}")
    position = {id(w): i for i, w in enumerate(model.trainable_weights)}
    if any(tuple(a.shape) != () for a in arrays[:1 + has_lr]):
        raise ValueError(f"'{source}': {part} 'optimizer/vars/0' (iterations) and the "
                         f"learning rate must be scalars")
    state = {"iterations": _read(arrays[0], source, part).astype(np.int64)}
    k = 1
    if has_lr:
        state["learning_rate"] = _read(arrays[1], source, part).astype(np.float64)
        k = 2
    for group in groups:
        for w in variables:
            for slot in group:
                dataset = arrays[k]
                if tuple(dataset.shape) != tuple(w.shape):
                    raise ValueError(f"'{source}': {part} 'optimizer/vars/{k}' ({slot} of "
                                     f"'{w.name}') has shape {tuple(dataset.shape)}, "
                                     f"expected {w.shape}")
                state[f"{position[id(w)]}/{slot}"] = _read(dataset, source, part)
                k += 1
    for name in shared:
        state[name] = _read(arrays[k], source, part)
        k += 1
    optimizer.set_state(state, model.trainable_weights)


# --------------------------------------------------------------------------
# Reading: the public functions
# --------------------------------------------------------------------------
def _read_zip(filepath):
    filepath = os.fspath(filepath)
    try:
        with zipfile.ZipFile(filepath) as archive:
            names = set(archive.namelist())
            if CONFIG_FILE not in names:
                raise ValueError(f"'{filepath}' is not a Keras 3 model file: the zip has no "
                                 f"{CONFIG_FILE}")
            if WEIGHTS_FILE not in names:
                other = " (Keras' npz weights format is not supported)" \
                    if "model.weights.npz" in names else ""
                raise ValueError(f"'{filepath}': the Keras zip has no {WEIGHTS_FILE}{other}")
            for member in (CONFIG_FILE, WEIGHTS_FILE):
                info = archive.getinfo(member)
                # A member that would inflate far beyond the file is a zip bomb, not weights.
                if info.file_size > 100 * max(info.compress_size, 1) + (1 << 20):
                    raise ValueError(f"'{filepath}': {member} would inflate from "
                                     f"{info.compress_size} to {info.file_size} bytes; "
                                     f"refused as a zip bomb")
            config_bytes = archive.read(CONFIG_FILE)
            weights = archive.read(WEIGHTS_FILE)
    except zipfile.BadZipFile as e:
        raise ValueError(f"'{filepath}' is not a valid .keras file (not a zip, or a "
                         f"truncated one: {e})") from None
    except _ZIP_ERRORS as e:
        raise ValueError(f"'{filepath}': reading the zip failed (truncated?): "
                         f"{type(e).__name__}: {e}") from None
    try:
        config = json.loads(config_bytes)
    except RecursionError:
        raise ValueError(f"'{filepath}': {CONFIG_FILE} nests too deeply to be a model") \
            from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"'{filepath}': {CONFIG_FILE} is not valid JSON: {e}") from None
    return config, weights


def load_keras_model(filepath: PathLike, custom_objects: dict[str, Any] | None = None,
                     compile: bool = True, safe_mode: bool = True) -> Model:
    """Build the chainrule model a Keras 3 ``.keras`` file describes and load
    its weights (and, with ``compile``, its compile config and optimizer state).

    Args:
        filepath: the ``.keras`` file.
        custom_objects: ``{name: class_or_function}`` for custom objects.
        compile: restore the loss, metrics and optimizer (with its state).
        safe_mode: refuse a Python lambda or a ``Lambda`` layer in the config.

    Returns:
        The model.
    """
    filepath = os.fspath(filepath)
    config, weights = _read_zip(filepath)
    reader = _Reader(custom_objects, safe_mode, filepath)
    from .model import Model
    try:
        _check_safe(config, safe_mode, filepath)
        model = reader.build(config)
    except RecursionError:
        raise ValueError(f"'{filepath}': {CONFIG_FILE} nests too deeply to be a model") \
            from None
    if not isinstance(model, Model):
        raise ValueError(f"'{filepath}': {CONFIG_FILE} describes a {config.get('class_name')}, "
                         f"not a model")
    with _open_h5(weights, filepath, WEIGHTS_FILE) as h5:
        _assign_weights(model, h5, filepath, WEIGHTS_FILE, reader.orders, reader.class_names)
        if compile and config.get("compile_config"):
            _compile_from_keras(model, config["compile_config"], filepath)
            _assign_optimizer(model, h5, filepath, WEIGHTS_FILE, reader.orders,
                              reader.class_names)
    return model


def load_keras_weights(model: Model, filepath: PathLike) -> None:
    """Load a Keras ``.weights.h5`` (or the weights inside a ``.keras`` zip);
    as Keras, a compiled model also gets the optimizer state the file holds.

    Args:
        model: a built model of the same architecture.
        filepath: the ``.weights.h5`` (or ``.keras``) file.
    """
    filepath = os.fspath(filepath)
    if not model.built:
        raise ValueError(f"model '{model.name}' must be built before load_weights; call "
                         f"model.build(input_shape) or run it on data first")
    if is_h5_file(filepath):
        with open(filepath, "rb") as f:
            data = f.read()
        part = "the weights file"
    else:
        _, data = _read_zip(filepath)
        part = WEIGHTS_FILE
    with _open_h5(data, filepath, part) as h5:
        _assign_weights(model, h5, filepath, part)
        if getattr(model, "optimizer", None) is not None:
            _assign_optimizer(model, h5, filepath, part)


def _compile_from_keras(model, compile_config, source):
    """``model.compile(...)`` from Keras' compile config."""
    from .. import losses, metrics, optimizers
    where = f"'{source}': compile_config"
    spec = compile_config.get("optimizer")
    try:
        if isinstance(spec, dict):
            opt_config = dict(spec.get("config") or {})
            cls = optimizers.get(spec["class_name"]).__class__
            lr = opt_config.get("learning_rate")
            if isinstance(lr, dict):
                opt_config["learning_rate"] = _strip_keras(lr)
            opt_config = _only_accepted(cls, opt_config, f"optimizer {spec['class_name']}",
                                        _OPTIMIZER_OFF)
            optimizer = optimizers.deserialize({"class_name": spec["class_name"],
                                                "config": opt_config})
        else:
            optimizer = optimizers.get(spec or "rmsprop")

        def convert(value, fn):
            if isinstance(value, dict) and "class_name" not in value:
                return {k: convert(v, fn) for k, v in value.items()}
            if isinstance(value, list):
                return [convert(v, fn) for v in value]
            return fn(value)
        def from_keras(module, kind):
            def build(value):
                if isinstance(value, str) or value is None:
                    return value
                spec = _strip_keras(value)
                found = module.get(spec["class_name"])
                cls = found if isinstance(found, type) else type(found)
                spec["config"] = _only_accepted(cls, spec["config"],
                                                f"{kind} {spec['class_name']}", _LOSS_OFF)
                return module.deserialize(spec)
            return build
        loss = convert(compile_config.get("loss"), from_keras(losses, "loss"))
        metric_list = convert(compile_config.get("metrics"), from_keras(metrics, "metric"))
        if compile_config.get("weighted_metrics"):
            raise ValueError("weighted_metrics are not supported")
        model.compile(optimizer=optimizer, loss=loss, metrics=metric_list,
                      loss_weights=compile_config.get("loss_weights"))
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{where}: {e}. Load with compile=False to get the model without its "
                         f"training setup") from None


# --------------------------------------------------------------------------
# chainrule -> Keras config
# --------------------------------------------------------------------------
_OBJECT_MODULES = {"_initializer": "keras.initializers", "_regularizer": "keras.regularizers",
                   "_constraint": "keras.constraints"}


def _policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy",
            "config": {"name": np.dtype(dtype).name}, "registered_name": None}


def _keras_object(spec, module):
    return {"module": module, "class_name": spec["class_name"],
            "config": spec.get("config") or {}, "registered_name": None}


def _shape_list(shape):
    if shape is None:
        return None
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [_shape_list(s) for s in shape]
    return [None if d is None else int(d) for d in shape]


def _layer_to_keras(layer):
    """One chainrule layer as Keras 3 ``serialize_keras_object`` writes it."""
    from ..layers.base import serialize
    class_name = _keras_class_name(layer)
    config = serialize(layer)["config"]
    import inspect
    own = inspect.signature(type(layer).__init__).parameters
    for key in ("input_shape", "input_dim"):
        if key not in own:                 # Keras takes the shape from the InputLayer
            config.pop(key, None)
    for key, value in list(config.items()):
        if key == "dtype":
            config[key] = _policy(value)
        elif isinstance(value, dict) and "class_name" in value:
            module = next((m for suffix, m in _OBJECT_MODULES.items() if key.endswith(suffix)),
                          None)
            if module is not None:
                config[key] = _keras_object(value, module)
    for key in getattr(KERAS_LAYERS.get(class_name), "not_in_keras", ()):
        config.pop(key, None)
    for key, attribute in _NESTED_LAYERS.get(class_name, {}).items():
        config[key] = _layer_to_keras(getattr(layer, attribute))
    if class_name == "Lambda":            # Keras' form of a named function
        config["function"] = {"module": layer.function.__module__, "class_name": "function",
                              "config": layer.function.__name__,
                              "registered_name": config["function"]}
    if class_name in KERAS_LAYERS:
        module, registered = "keras.layers", None
    else:
        module = type(layer).__module__
        try:
            from .. import registry
            registered = registry.get_registered_name(type(layer))
        except ImportError:
            registered = class_name
    spec = {"module": module, "class_name": class_name, "config": config,
            "registered_name": registered}
    if layer.build_input_shape is not None:
        spec["build_config"] = {"input_shape": _shape_list(layer.build_input_shape)}
    return spec


def _input_to_keras(input_layer, name=None):
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": [None] + list(input_layer.shape),
                       "dtype": np.dtype(input_layer.dtype).name, "sparse": False,
                       "ragged": False, "name": name or input_layer.name, "optional": False},
            "registered_name": None}


def _model_to_keras(model):
    from .functional import Functional
    from .sequential import Sequential
    if isinstance(model, Sequential):
        return _sequential_to_keras(model)
    if isinstance(model, Functional):
        return _functional_to_keras(model)
    raise ValueError(f"model '{model.name}' ({type(model).__name__}) is a subclassed model; "
                     f"Keras files hold Sequential and functional models. Save it with "
                     f"model.save('{model.name}.chainrule') instead")


def _sequential_to_keras(model):
    from .model import Model
    if model.build_input_shape is None:
        raise ValueError(f"model '{model.name}' has not been built; build it before saving")
    shape = list(model.build_input_shape)
    dtype = model._input_dtype or model.dtype
    name = getattr(model, "_input_name", None) or f"{model.name}_input"
    layers = [_input_to_keras(_InputInfo(tuple(shape[1:]), dtype), name)]
    for layer in model.layers:
        layers.append(_model_to_keras(layer) if isinstance(layer, Model) else
                      _layer_to_keras(layer))
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": model.name, "trainable": model.trainable,
                       "dtype": _policy(model.dtype), "layers": layers,
                       "build_input_shape": _shape_list(shape)},
            "registered_name": None, "build_config": {"input_shape": _shape_list(shape)}}


@dataclass
class _InputInfo:
    shape: tuple[Any, ...]
    dtype: Any
    name: str | None = None


def _functional_to_keras(model):
    from ..layers.base import SymbolicTensor, _map
    from .functional import Functional, InputLayer
    from .model import Model
    calls = {}                     # id(output placeholder) -> (layer name, call index)
    per_layer = {}
    inbound = {}
    build_shapes = {}              # a layer built from several inputs' shapes
    for layer, args, kwargs, out in model._nodes:
        if type(layer).__name__ == "MultiHeadAttention" and id(layer) not in build_shapes:
            # Keras builds it from each input's shape: build_config {"shapes_dict":
            # {"query_shape", "value_shape"[, "key_shape"]}} (Layer.get_build_config)
            build_shapes[id(layer)] = {f"{k}_shape": _shape_list(t.shape) for k, t in
                                       (("query", args), ("value", kwargs.get("value")),
                                        ("key", kwargs.get("key")))
                                       if isinstance(t, SymbolicTensor)}
        k = per_layer.get(id(layer), 0)
        per_layer[id(layer)] = k + 1
        # Keras counts a nested functional model's calls from 1 (node 0 is its own graph).
        calls[id(out)] = (layer.name, k + isinstance(layer, Functional))

        def ref(t):
            if not isinstance(t, SymbolicTensor):
                return t
            if t.history is None:
                history = [t.input_layer.name, 0, 0]
            else:
                history = [*calls[id(t)], 0]
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": _shape_list(t.shape), "dtype": t.dtype.name,
                               "keras_history": history}}
        # chainrule keeps a call's further positional tensors as keyword
        # arguments (MultiHeadAttention's value, key): Keras reads them as such.
        inbound.setdefault(id(layer), []).append({"args": [_map(ref, args)],
                                                  "kwargs": _map(ref, dict(kwargs))})
    layers = []
    for layer in keras_layer_order(model):
        if isinstance(layer, InputLayer):
            spec = _input_to_keras(layer)
        elif isinstance(layer, Model):
            spec = _model_to_keras(layer)
        else:
            spec = _layer_to_keras(layer)
        spec["name"] = layer.name
        spec["inbound_nodes"] = inbound.get(id(layer), [])
        if id(layer) in build_shapes:
            spec["build_config"] = {"shapes_dict": build_shapes[id(layer)]}
        layers.append(spec)

    def endpoint(t):
        if t.history is None:
            return [t.input_layer.name, 0, 0]
        return [*calls[id(t)], 0]
    inputs = [endpoint(t) for t in model._input_tensors]
    outputs = [endpoint(t) for t in model._output_tensors]
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": model.name, "trainable": model.trainable, "layers": layers,
                       "input_layers": inputs[0] if model._single_input else inputs,
                       "output_layers": outputs[0] if model._single_output else outputs},
            "registered_name": "Functional", "build_config": {"input_shape": None}}


def _compile_to_keras(model):
    """Keras' ``compile_config`` for a compiled chainrule model (else None)."""
    if not getattr(model, "compiled", False):
        return None
    from .. import losses, metrics, optimizers
    config = model._compile_config

    def convert(value, fn):
        if isinstance(value, dict):
            return {k: convert(v, fn) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v, fn) for v in value]
        return fn(value)

    def loss_spec(item):
        if isinstance(item, str) or item is None:
            return item
        return _keras_object(losses.serialize(losses.get(item)), "keras.losses")

    def metric_spec(item):
        if isinstance(item, str) or item is None:
            return item
        return _keras_object(metrics.serialize(metrics.get(item)), "keras.metrics")
    opt = optimizers.serialize(model.optimizer)
    opt_config = dict(opt["config"])
    if isinstance(opt_config.get("learning_rate"), dict):
        opt_config["learning_rate"] = _keras_object(opt_config["learning_rate"],
                                                    "keras.optimizers.schedules")
    return {"optimizer": {"module": "keras.optimizers", "class_name": opt["class_name"],
                          "config": opt_config, "registered_name": None},
            "loss": convert(config["loss"], loss_spec),
            "loss_weights": config["loss_weights"],
            "metrics": convert(config["metrics"], metric_spec) if config["metrics"] else None,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


# --------------------------------------------------------------------------
# Writing weights
# --------------------------------------------------------------------------
def _h5_bytes(model, include_optimizer):
    """The HDF5 file Keras writes for ``model`` (its ``model.weights.h5``)."""
    h5py = _need_h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        for path, layer, weights in _weight_groups(model, ""):
            group = h5.create_group(_join(path, "vars"))
            group.attrs["name"] = f"{snake_case(type(layer).__name__)}_cell" \
                if path.endswith("/cell") else layer.name
            for k, w in enumerate(weights):
                group.create_dataset(str(k), data=np.asarray(w.data))
        if include_optimizer and model.optimizer is not None:
            _write_optimizer(h5, model)
    return buffer.getvalue()


def _write_optimizer(h5, model):
    from ..optimizers.schedules import LearningRateSchedule
    optimizer = model.optimizer
    groups = _optimizer_slot_groups(type(optimizer).__name__, optimizer.get_config())
    if groups is None:
        warnings.warn(f"the state of the {type(optimizer).__name__} optimizer is not written "
                      f"to the Keras file (its Keras variables are not mapped yet); Keras "
                      f"will start it fresh", stacklevel=4)
        return
    state = optimizer.get_state(model.trainable_weights)
    position = {id(w): i for i, w in enumerate(model.trainable_weights)}
    group = h5.create_group("optimizer/vars")
    group.attrs["name"] = optimizer.name
    arrays = [np.asarray(state["iterations"], dtype=np.int64)]
    if not (isinstance(optimizer._learning_rate, LearningRateSchedule)
            or callable(optimizer._learning_rate)):
        # float64, not Keras' float32, so chainrule's own value survives a round
        # trip exactly; Keras casts it to its variable's dtype when loading.
        arrays.append(np.asarray(state["learning_rate"], dtype=np.float64))
    for slots in groups:
        for w in _keras_trainable(model):
            for slot in slots:
                key = f"{position[id(w)]}/{slot}"
                arrays.append(np.asarray(state[key]) if key in state
                              else np.zeros(w.shape, w.dtype))    # not stepped yet
    for name in _OPTIMIZER_GLOBALS.get(type(optimizer).__name__, ()):
        arrays.append(np.asarray(state[name], dtype=np.float64))
    for k, array in enumerate(arrays):
        group.create_dataset(str(k), data=array)


def _check_savable(model, filepath):
    from .model import Model
    if not isinstance(model, Model):
        raise TypeError(f"saving needs a chainrule Model, got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"model '{model.name}' has not been built, so it has no weights to "
                         f"save to '{filepath}'; call it on data or model.build(input_shape)")


def save_keras_model(model: Model, filepath: PathLike, include_optimizer: bool = True) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` zip (atomically).

    Args:
        model: a built model.
        filepath: the ``.keras`` file.
        include_optimizer: also write the optimizer's variables.
    """
    filepath = os.fspath(filepath)
    _check_savable(model, filepath)
    config = _model_to_keras(model)
    compile_config = _compile_to_keras(model)
    if compile_config is not None:
        config["compile_config"] = compile_config
    try:
        config_json = json.dumps(config)
    except TypeError as e:
        raise ValueError(f"cannot write the config of model '{model.name}' as JSON: {e}") \
            from None
    from .. import __version__
    metadata = {"keras_version": KERAS_FORMAT_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "saved_by": f"chainrule {__version__}"}
    weights = _h5_bytes(model, include_optimizer)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(METADATA_FILE, json.dumps(metadata))
        archive.writestr(CONFIG_FILE, config_json)
        archive.writestr(WEIGHTS_FILE, weights)
    _atomic_write(filepath, buffer.getvalue())


def save_keras_weights(model: Model, filepath: PathLike) -> None:
    """Write the weights as Keras 3 ``save_weights`` does: an HDF5 file with
    the optimizer's state too when the model is compiled.

    Args:
        model: a built model.
        filepath: the ``.weights.h5`` file.
    """
    filepath = os.fspath(filepath)
    _check_savable(model, filepath)
    _atomic_write(filepath, _h5_bytes(model, include_optimizer=True))


# --------------------------------------------------------------------------
# Which format a path means (saving.py asks before doing anything)
# --------------------------------------------------------------------------
def _is_chainrule_zip(filepath):
    names = _zip_names(filepath)     # None when damaged: the loader says what is wrong
    return names is not None and "model.weights.npz" in names


def route_save(filepath: PathLike) -> str:
    """``"keras"`` for a ``.keras`` path, ``"chainrule"`` otherwise; a legacy
    ``.h5`` model path is refused (Keras 3 writes models as ``.keras``).

    Args:
        filepath: where the model is to be saved.

    Returns:
        ``"keras"`` or ``"chainrule"``.

    Example:

    >>> route_save("model.keras"), route_save("model.chainrule")
    ('keras', 'chainrule')
    """
    name = os.fspath(filepath).lower()
    if name.endswith(".keras"):
        return "keras"
    if name.endswith((".h5", ".hdf5")):
        raise ValueError(f"'{os.fspath(filepath)}': chainrule saves whole models as .keras "
                         f"(Keras 3's format) or .chainrule (its own zip), not as legacy "
                         f".h5; for weights only use model.save_weights('....weights.h5')")
    return "chainrule"


def route_weights_save(filepath: PathLike) -> str:
    """``"keras"`` for an ``.h5`` path (Keras' ``.weights.h5``), else ``"chainrule"`` (npz).

    Args:
        filepath: where the weights are to be saved.

    Returns:
        ``"keras"`` or ``"chainrule"``.
    """
    return "keras" if os.fspath(filepath).lower().endswith((".h5", ".hdf5")) else "chainrule"


def route_load(filepath: PathLike) -> str:
    """``"keras"`` or ``"chainrule"`` from the file's content. A Keras file
    named ``.chainrule`` is refused; a chainrule zip named ``.keras`` (what
    chainrule before 0.4 wrote) loads, with a warning saying how to rename it.

    Args:
        filepath: the model file.

    Returns:
        ``"keras"`` or ``"chainrule"``.
    """
    filepath = os.fspath(filepath)
    if not os.path.isfile(filepath):
        return "chainrule"               # its loader says what is wrong with the path
    if is_h5_file(filepath):
        raise ValueError(f"'{filepath}' is an HDF5 file: a weights file (load it with "
                         f"model.load_weights) or a legacy Keras 2 .h5 model, which chainrule "
                         f"does not read; re-save that model in Keras 3 as .keras")
    if _is_chainrule_zip(filepath):
        if filepath.lower().endswith(".keras"):
            warnings.warn(f"'{filepath}' is a chainrule zip (model.weights.npz), not a Keras 3 "
                          f"file, though named .keras (chainrule before 0.4 wrote that); it "
                          f"loads, but rename it to '{filepath[:-6]}.chainrule' so that Keras "
                          f"and chainrule agree on what it is", UserWarning, stacklevel=3)
        return "chainrule"
    if is_keras_zip(filepath):
        if filepath.lower().endswith(".chainrule"):
            raise ValueError(f"'{filepath}' is a Keras 3 file (config.json + "
                             f"model.weights.h5) named .chainrule; rename it to .keras")
        return "keras"
    # Not a zip of either kind: the loader its name promises says what is wrong.
    return "keras" if filepath.lower().endswith(".keras") else "chainrule"


def route_weights_load(filepath: PathLike) -> str:
    """``"keras"`` for HDF5 weights or a Keras zip, else ``"chainrule"``; a
    chainrule npz named ``.h5`` (chainrule before 0.4) loads with a warning.

    Args:
        filepath: the weights file.

    Returns:
        ``"keras"`` or ``"chainrule"``.
    """
    filepath = os.fspath(filepath)
    if not os.path.isfile(filepath):
        return "chainrule"
    if is_h5_file(filepath):
        return "keras"
    if _is_chainrule_zip(filepath):
        return "chainrule"
    if is_keras_zip(filepath):
        return "keras"
    if filepath.lower().endswith((".h5", ".hdf5")):
        if zipfile.is_zipfile(filepath):
            warnings.warn(f"'{filepath}' holds chainrule's npz weights, not HDF5, though named "
                          f".h5 (chainrule before 0.4 wrote that); it loads, but re-save it "
                          f"with model.save_weights so Keras can read it too", UserWarning,
                          stacklevel=3)
            return "chainrule"
        raise ValueError(f"'{filepath}' is named .h5 but is not an HDF5 file (truncated or "
                         f"another format?)")
    return "chainrule"
