"""Every kind of data ``fit``, ``evaluate`` and ``predict`` accept, as batches.

As Keras 3 ``keras/src/trainers/data_adapters/``: one adapter per kind of
input, each giving, epoch after epoch, an iterator of batches
``x``, ``(x, y)`` or ``(x, y, sample_weight)`` of NumPy arrays (the form
``train_step(data)`` receives):

* arrays (NumPy, chainrule or PyTorch tensors, anything ``np.asarray``
  takes), or a list/tuple/dict of them for several inputs or outputs (dicts
  are matched to the model's input and output names): ``ArrayAdapter``
  slices them into batches, shuffled from the epoch's generator;
* ``cr.utils.PyDataset``: ``PyDatasetAdapter`` reads ``dataset[i]`` for
  each batch index (the indices shuffled when ``shuffle=True``, as Keras);
* any other iterable or generator of batches, a PyTorch ``DataLoader``
  included (its tensors become arrays): ``IterableAdapter``.

Inputs are cast as Keras casts them: floating arrays to the model's float
dtype; integer and boolean inputs too, except for a model with an
``Embedding`` (or an integer ``Input``), which needs indices; object
arrays, complex numbers and 0-d inputs are refused with the reason.

``class_weight`` (``{class index: weight}``) becomes a per-sample weight
``class_weight[y]`` (the arg-max of one-hot labels), as Keras'
``data_adapter_utils.class_weight_to_sample_weights``.
"""
from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Union

import numpy as np

from ..tensor import Tensor
from .py_dataset import PyDataset

if TYPE_CHECKING:
    from .model import Model

Adapter = Union["ArrayAdapter", "PyDatasetAdapter", "IterableAdapter"]

__all__ = ["ACCEPTED", "EpochIterator", "get_adapter", "pack_x_y_sample_weight",
           "unpack_x_y_sample_weight"]

ACCEPTED = ("a NumPy array (or a chainrule/PyTorch tensor); a list, tuple or dict of "
            "arrays for several inputs; a cr.utils.PyDataset; or an iterable or "
            "generator of batches x, (x, y) or (x, y, sample_weight), such as a "
            "PyTorch DataLoader")

# Layers that take integer indices: their model's integer inputs stay integers.
_INTEGER_INPUT_LAYERS = {"Embedding", "IntegerLookup", "StringLookup", "Hashing",
                         "CategoryEncoding", "TextVectorization"}


def unpack_x_y_sample_weight(data: Any) -> tuple[Any, Any, Any]:
    """``(x, y, sample_weight)`` from a batch ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)`` (a list counts as a tuple), as Keras.

    Args:
        data: one batch.

    Returns:
        ``(x, y, sample_weight)``, None for the parts it lacks.

    Example:

    >>> unpack_x_y_sample_weight((1, 2))
    (1, 2, None)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"a batch must be x, (x,), (x, y) or (x, y, sample_weight); got a "
                     f"tuple of {len(data)} items")


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> Any:
    """The batch ``train_step`` receives: ``x`` alone when there is no ``y``
    (``(x,)`` when ``x`` is itself a tuple or list), else ``(x, y)`` or
    ``(x, y, sample_weight)``, as Keras.

    Args:
        x: the inputs (an array, or a list/tuple/dict of them).
        y: the targets, or None.
        sample_weight: the sample weights, or None.

    Returns:
        The batch.

    Example:

    >>> pack_x_y_sample_weight(1, 2)
    (1, 2)
    """
    if y is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    if sample_weight is None:
        return x, y
    return x, y, sample_weight


# --------------------------------------------------------------------------
# Arrays
# --------------------------------------------------------------------------
def _is_torch(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def to_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a NumPy array, with the errors Keras users need.

    Args:
        value: an array, a chainrule or PyTorch tensor, or anything ``np.asarray`` takes.
        what: its name in error messages (``"x"``, ``"y[1]"``).

    Returns:
        A numeric array of at least one dimension.
    """
    if isinstance(value, Tensor):
        array = value.data
    elif _is_torch(value):
        array = value.detach().cpu().numpy()
    else:
        try:
            array = np.asarray(value)
        except ValueError as error:          # ragged nested lists
            raise ValueError(f"{what} cannot be made into one array ({error}); give "
                             f"arrays of one shape, e.g. pad sequences with "
                             f"cr.utils.pad_sequences") from None
    if array.dtype.kind == "O":
        raise TypeError(f"{what} has dtype object (arrays of different lengths, or mixed "
                        f"types such as strings and numbers); give a numeric array of one "
                        f"shape (float32 for inputs, integers or floats for labels)")
    if array.dtype.kind in "USV":
        raise TypeError(f"{what} has dtype {array.dtype} (text or bytes); give numbers, "
                        f"e.g. token indices")
    if array.dtype.kind == "c":
        raise TypeError(f"{what} has complex dtype {array.dtype}; chainrule models take real "
                        f"numbers: pass np.real(x), np.abs(x) or the real and imaginary parts "
                        f"as two features")
    if array.ndim == 0:
        raise ValueError(f"{what} is a single number (a 0-d array); give a batch, an array "
                         f"whose first axis indexes the samples, e.g. np.array([[{array.item()}]])")
    return array


def float_dtype(model: Model) -> np.dtype:
    """float64 when any layer of the model is float64, else float32.

    Args:
        model: the model.

    Returns:
        The dtype inputs and targets are cast to.
    """
    for layer in model._walk():
        if layer.dtype == np.float64:
            return np.dtype(np.float64)
    return np.dtype(np.float32)


def _input_dtypes(model: Model) -> list[np.dtype | None]:
    """One target dtype (or None: leave integers) per model input."""
    dtype: np.dtype | None = float_dtype(model)
    if any(type(layer).__name__ in _INTEGER_INPUT_LAYERS for layer in model._walk()):
        dtype = None
    tensors = getattr(model, "_input_tensors", None)
    if not tensors:
        return [dtype]
    return [dtype if np.dtype(t.dtype).kind == "f" else None for t in tensors]


def _cast_input(array: np.ndarray, dtype: np.dtype | None) -> np.ndarray:
    if array.dtype.kind == "f":
        target = dtype if dtype is not None else None
        return array.astype(target) if target is not None and array.dtype != target else array
    if array.dtype.kind in "iub" and dtype is not None:
        return array.astype(dtype)     # Keras casts inputs to the compute dtype
    return array


def _cast_float(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return array.astype(dtype) if array.dtype.kind == "f" and array.dtype != dtype else array


def _n_inputs(model: Model) -> int:
    tensors = getattr(model, "_input_tensors", None)
    return len(tensors) if tensors else 1


def _input_names(model: Model) -> list[Any]:
    tensors = getattr(model, "_input_tensors", None) or []
    return [getattr(t, "input_layer", None) and t.input_layer.name for t in tensors]


def _by_name(data: dict[str, Any], names: list[Any], what: str) -> list[Any]:
    """A dict of arrays ordered as ``names`` (the model's inputs or outputs)."""
    missing = [n for n in names if n not in data]
    unknown = [k for k in data if k not in names]
    if missing or unknown:
        raise ValueError(f"{what} is a dict with keys {sorted(data)}, but the model's "
                         f"{'inputs' if what.startswith('x') else 'outputs'} are named "
                         f"{names}" + (f"; missing: {missing}" if missing else "") +
                         (f"; unknown: {unknown}" if unknown else ""))
    return [data[n] for n in names]


def standardize_x(model: Model, x: Any, what: str = "x") -> np.ndarray | list[np.ndarray]:
    """The model's inputs as one array (one input) or a list of arrays.

    Args:
        model: the model the inputs are for.
        x: an array, or a list/tuple/dict of arrays (by input name).
        what: its name in error messages.

    Returns:
        One array, or a list of arrays in the model's input order (cast as Keras casts).
    """
    count = _n_inputs(model)
    if isinstance(x, dict):
        names = _input_names(model)
        if count > 1 or (names and names[0] in x):
            x = _by_name(x, names, what)
        elif len(x) == 1:
            x = list(x.values())
        else:
            raise ValueError(f"{what} is a dict with keys {sorted(x)}, but the model has one "
                             f"input" + (f" named {names[0]!r}" if names else "") +
                             "; give one array, or a dict with that one key")
    dtypes = _input_dtypes(model)
    if count == 1:
        is_array = lambda a: isinstance(a, (np.ndarray, Tensor)) or _is_torch(a)  # noqa: E731
        if isinstance(x, (list, tuple)) and len(x) == 1 and is_array(x[0]):
            x = x[0]
        elif isinstance(x, (list, tuple)) and len(x) > 1 and all(is_array(a) for a in x):
            # Keras reads a list or tuple of arrays as several inputs.
            raise ValueError(f"{what} is a {type(x).__name__} of {len(x)} arrays, but the model "
                             f"has one input; give one array (and the targets apart: "
                             f"fit(x, y)), or a model with {len(x)} inputs")
        return _cast_input(to_array(x, what), dtypes[0])
    if not isinstance(x, (list, tuple)) or len(x) != count:
        got = f"{len(x)} arrays" if isinstance(x, (list, tuple)) else "one array"
        raise ValueError(f"the model has {count} inputs, so {what} must be a list of {count} "
                         f"arrays (or a dict by input name); got {got}")
    return [_cast_input(to_array(a, f"{what}[{i}]"), d)
            for i, (a, d) in enumerate(zip(x, dtypes))]


def standardize_y(model: Model, y: Any,
                  what: str = "y") -> np.ndarray | list[np.ndarray] | None:
    """Targets as one array or a list (one per output); floats cast to the model's.

    Args:
        model: the model the targets are for.
        y: an array, or a list/tuple/dict of arrays (by output name), or None.
        what: its name in error messages.

    Returns:
        One array, a list of arrays in output order, or None.
    """
    if y is None:
        return None
    names = model.output_names
    if isinstance(y, dict):
        y = _by_name(y, names, what) if len(names) > 1 or names[0] in y else list(y.values())
    dtype = float_dtype(model)
    if len(names) == 1:
        if isinstance(y, (list, tuple)) and len(y) == 1:
            y = y[0]
        return _cast_float(to_array(y, what), dtype)
    if not isinstance(y, (list, tuple)) or len(y) != len(names):
        got = f"{len(y)} arrays" if isinstance(y, (list, tuple)) else "one array"
        raise ValueError(f"the model has {len(names)} outputs {names}, so {what} must be a "
                         f"list of {len(names)} arrays (or a dict by output name); got {got}")
    return [_cast_float(to_array(a, f"{what}[{i}]"), dtype) for i, a in enumerate(y)]


def standardize_sample_weight(model: Model, sample_weight: Any,
                              what: str = "sample_weight") -> Any:
    """Sample weights as one array, or a list (one per output, None allowed).

    Args:
        model: the model the weights are for.
        sample_weight: an array, a list per output, a dict by output name, or None.
        what: its name in error messages.

    Returns:
        Arrays of the model's float dtype, in output order, or None.
    """
    if sample_weight is None:
        return None
    dtype = float_dtype(model)
    if isinstance(sample_weight, dict):
        names = model.output_names
        return [None if sample_weight.get(n) is None else
                to_array(sample_weight[n], f"{what}[{n!r}]").astype(dtype) for n in names]
    if isinstance(sample_weight, (list, tuple)) and len(model.output_names) > 1:
        return [None if w is None else to_array(w, f"{what}[{i}]").astype(dtype)
                for i, w in enumerate(sample_weight)]
    return to_array(sample_weight, what).astype(dtype)


def class_weight_to_sample_weight(y: Any, class_weight: dict[int, float]) -> np.ndarray:
    """``class_weight[label]`` per sample (labels: integers, or one-hot rows).

    Args:
        y: the labels: class indices, or one-hot rows.
        class_weight: ``{class index: weight}``, with every class present.

    Returns:
        One weight per sample (float64).

    Example:

    >>> class_weight_to_sample_weight(np.array([0, 1, 1]), {0: 1.0, 1: 3.0})
    array([1., 3., 3.])
    """
    if isinstance(y, list):
        raise ValueError("class_weight is supported only for models with a single output; "
                         "use sample_weight (one array per output) instead")
    labels = np.asarray(y)
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = labels.argmax(axis=-1)
    elif labels.ndim > 1:
        labels = labels[..., 0]
    labels = np.round(labels).astype(np.int64)
    keys = sorted(int(k) for k in class_weight)
    table = np.ones(max(max(keys), int(labels.max(initial=0))) + 1, dtype=np.float64)
    for key, weight in class_weight.items():
        table[int(key)] = float(weight)
    missing = sorted(set(np.unique(labels).tolist()) - set(keys))
    if missing:
        raise ValueError(f"class_weight has no entry for class(es) {missing}; give a weight "
                         f"for every class, e.g. {{0: 1.0, 1: 2.0}}")
    return table[labels]


def _rows(data: Any) -> int:
    """The number of samples in a structure of arrays."""
    for leaf in _leaves(data):
        return len(leaf)
    return 0


def _leaves(data: Any) -> Iterator[Any]:
    if data is None:
        return
    if isinstance(data, (list, tuple)):
        for item in data:
            yield from _leaves(item)
    elif isinstance(data, dict):
        for item in data.values():
            yield from _leaves(item)
    else:
        yield data


def map_structure(fn: Callable[[Any], Any], data: Any) -> Any:
    """``fn`` applied to every array in a structure of tuples, lists and dicts.

    Args:
        fn: what to do with each leaf.
        data: the structure (None stays None).

    Returns:
        The same structure with ``fn``'s results.

    Example:

    >>> map_structure(lambda a: a * 2, (1, [2], {"k": 3}))
    (2, [4], {'k': 6})
    """
    if data is None:
        return None
    if isinstance(data, tuple):
        return tuple(map_structure(fn, d) for d in data)
    if isinstance(data, list):
        return [map_structure(fn, d) for d in data]
    if isinstance(data, dict):
        return {k: map_structure(fn, v) for k, v in data.items()}
    return fn(data)


def batch_rows(data: Any) -> int:
    """The number of samples in a batch (its first array's length).

    Args:
        data: the batch.

    Returns:
        Its number of rows.
    """
    first = data[0] if isinstance(data, tuple) and data else data
    if isinstance(first, np.ndarray):          # the usual batch: (x, y) of arrays
        return len(first)
    return _rows(data)


class ArrayAdapter:
    """Arrays sliced into batches of ``batch_size`` rows, in order or shuffled.

    Args:
        x: the inputs (an array, or a list/tuple/dict of them).
        y: the targets, or None.
        sample_weight: the sample weights, or None.
        batch_size: the rows per batch (the last batch may be smaller).
        shuffle: shuffle the rows each epoch.
    """

    reiterable = True

    def __init__(self, x: Any, y: Any = None, sample_weight: Any = None, batch_size: int = 32,
                 shuffle: bool = False) -> None:
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size, self.shuffle = batch_size, bool(shuffle)
        counts: dict[str, int] = {}
        for what, part in (("x", x), ("y", y), ("sample_weight", sample_weight)):
            lengths = [len(a) for a in _leaves(part)]
            if len(set(lengths)) > 1:
                raise ValueError(f"the arrays of {what} have different numbers of samples: "
                                 f"{lengths}; each needs one row per sample")
            if lengths:
                counts[what] = lengths[0]
        if len(set(counts.values())) > 1:
            raise ValueError(f"x and y have different numbers of samples: " +
                             ", ".join(f"{k} has {v}" for k, v in counts.items()) +
                             ". They must match (one label per sample).")
        sizes = list(counts.values())
        self.num_samples = sizes[0] if sizes else 0
        if self.num_samples == 0:
            raise ValueError("x has no samples")
        self.num_batches = math.ceil(self.num_samples / batch_size)

    def batches(self, rng: np.random.Generator | None = None) -> Iterator[Any]:
        """The epoch's batches.

        Args:
            rng: the generator that shuffles (with ``shuffle=True``); None keeps the order.

        Yields:
            ``x``, ``(x, y)`` or ``(x, y, sample_weight)`` of arrays.
        """
        n, size = self.num_samples, self.batch_size
        order = rng.permutation(n) if self.shuffle and rng is not None else None
        for start in range(0, n, size):
            rows: Any = (order[start:start + size] if order is not None     # indices or a slice
                         else slice(start, start + size))
            take = lambda a: a[rows]  # noqa: E731
            yield pack_x_y_sample_weight(map_structure(take, self.x), map_structure(take, self.y),
                                         map_structure(take, self.sample_weight))

    def split(self, validation_split: float) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """(training adapter arrays, validation arrays): the last fraction held out.

        Args:
            validation_split: the fraction of samples held out, in [0, 1).

        Returns:
            ``((x, y, sample_weight), (x_val, y_val, sample_weight_val))``.
        """
        if not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        n = self.num_samples
        split_at = math.floor(n * (1.0 - validation_split))
        if split_at == 0 or split_at == n:
            raise ValueError(f"training data contains {n} samples, which is not enough to "
                             f"split into a training and a validation set with "
                             f"validation_split={validation_split}")
        head = lambda a: a[:split_at]  # noqa: E731
        tail = lambda a: a[split_at:]  # noqa: E731
        parts = (self.x, self.y, self.sample_weight)
        return (tuple(map_structure(head, p) for p in parts),
                tuple(map_structure(tail, p) for p in parts))

    def on_epoch_end(self) -> None:
        """Nothing to do for arrays (the other adapters tell their data)."""


class PyDatasetAdapter:
    """``dataset[i]`` for each batch index (shuffled with ``shuffle=True``).

    Args:
        dataset: the ``cr.utils.PyDataset``.
        prepare: turns one batch into standardized arrays.
        shuffle: read the batch indices in a new random order each epoch.
    """

    reiterable = True

    def __init__(self, dataset: PyDataset, prepare: Callable[[Any], Any],
                 shuffle: bool = False) -> None:
        self.dataset, self.prepare, self.shuffle = dataset, prepare, bool(shuffle)
        self.num_batches = len(dataset)      # PyDataset's own error names what to define

    def batches(self, rng: np.random.Generator | None = None) -> Iterator[Any]:
        """The epoch's batches (``on_epoch_begin`` called first).

        Args:
            rng: the generator that shuffles the indices (with ``shuffle=True``).

        Yields:
            Each batch, prepared.
        """
        self.dataset.on_epoch_begin()
        order = np.arange(self.num_batches)
        if self.shuffle and rng is not None:
            order = rng.permutation(self.num_batches)
        for index in order:
            yield self.prepare(self.dataset[int(index)])

    def on_epoch_end(self) -> None:
        """Call the dataset's ``on_epoch_end`` (e.g. to reshuffle)."""
        self.dataset.on_epoch_end()


class IterableAdapter:
    """Any iterable or generator of batches (a PyTorch DataLoader included).

    A re-iterable object (a list, a DataLoader) starts over each epoch; a
    generator is read on, so it must yield ``steps_per_epoch * epochs``
    batches (Keras' rule).

    Args:
        data: the iterable or generator of batches.
        prepare: turns one batch into standardized arrays.
    """

    def __init__(self, data: Iterable[Any], prepare: Callable[[Any], Any]) -> None:
        self.data, self.prepare = data, prepare
        # A generator (an iterator) is read once; a list or a DataLoader anew each pass.
        self.reiterable = not hasattr(data, "__next__")
        self.num_batches: int | None
        try:
            self.num_batches = len(data)  # type: ignore[arg-type]  # a generator has none: None
        except TypeError:
            self.num_batches = None
        self._iterator: Iterable[Any] | None = None

    def batches(self, rng: np.random.Generator | None = None) -> Iterator[Any]:
        """The batches of this pass (a generator goes on where it stopped).

        Args:
            rng: unused (an iterable's order is its own).

        Yields:
            Each batch, prepared.
        """
        if self.reiterable or self._iterator is None:
            self._iterator = iter(self.data) if hasattr(self.data, "__iter__") else self.data
        for batch in self._iterator:
            yield self.prepare(batch)

    def on_epoch_end(self) -> None:
        """Nothing to do: a generator goes on, an iterable starts over by itself."""


class EpochIterator:
    """The batches of one epoch after another, ``steps_per_epoch`` at a time.

    Without ``steps_per_epoch`` an epoch is one pass over the data. With it,
    an epoch is that many batches, read on from where the last epoch
    stopped; a pass that ends starts the next one at an epoch boundary when
    the data can be read again. Data that runs out in the middle of an epoch
    ends training with a warning, as Keras does.

    Args:
        adapter: the data's adapter (``get_adapter``'s result).
        steps_per_epoch: batches per epoch; None means one pass over the data.
    """

    def __init__(self, adapter: Adapter, steps_per_epoch: int | None = None) -> None:
        if steps_per_epoch is not None and (not isinstance(steps_per_epoch, (int, np.integer))
                                            or steps_per_epoch < 1):
            raise ValueError(f"steps_per_epoch must be a positive integer or None, got "
                             f"{steps_per_epoch!r}")
        self.adapter, self.steps = adapter, steps_per_epoch
        self._current: Iterator[Any] | None = None
        self._fresh = False          # the current pass was just started
        self.steps_done = 0          # batches read in the last epoch
        self.ran_out = False

    @property
    def num_steps(self) -> int | None:
        """Batches per epoch (None for a generator of unknown length)."""
        return self.steps if self.steps is not None else self.adapter.num_batches

    def epoch(self, rng: np.random.Generator | None = None) -> Iterator[tuple[int, Any]]:
        """The batches of one epoch, with their step index.

        Args:
            rng: the epoch's generator (shuffling).

        Yields:
            ``(step, batch)``.
        """
        self.steps_done = 0
        if self.steps is None:
            for count, batch in enumerate(self.adapter.batches(rng)):
                self.steps_done = count + 1
                yield count, batch
            if not self.steps_done:
                self._out_of_data()
            return
        step = 0
        while step < self.steps:
            if self._current is None:
                self._current = self.adapter.batches(rng)
            try:
                batch = next(self._current)
            except StopIteration:
                self._current = None
                if step == 0 and self.adapter.reiterable and not self._fresh:
                    self._fresh = True      # start a new pass once, then give up
                    continue
                self._out_of_data()
                return
            self._fresh = False
            self.steps_done = step + 1
            yield step, batch
            step += 1

    def _out_of_data(self) -> None:
        self.ran_out = True
        warnings.warn("Your input ran out of data; interrupting training. Make sure that "
                      "your dataset or generator can generate at least "
                      "`steps_per_epoch * epochs` batches.", UserWarning, stacklevel=4)


def get_adapter(model: Model, x: Any, y: Any = None, sample_weight: Any = None,
                batch_size: int = 32, shuffle: bool = False,
                class_weight: dict[int, float] | None = None,
                for_predict: bool = False) -> Adapter:
    """The adapter for ``x`` (and ``y``, ``sample_weight``, ``class_weight``).

    Args:
        model: the model the data is for.
        x: arrays, a ``PyDataset``, or an iterable of batches (see the module docstring).
        y: the targets (arrays only), or None.
        sample_weight: the sample weights (arrays only), or None.
        batch_size: the rows per batch of arrays.
        shuffle: shuffle each epoch.
        class_weight: ``{class index: weight}``, turned into sample weights.
        for_predict: ignore ``y`` (``predict``).

    Returns:
        An ``ArrayAdapter``, ``PyDatasetAdapter`` or ``IterableAdapter``.
    """
    is_dataset = isinstance(x, PyDataset)
    is_array_like = isinstance(x, (np.ndarray, Tensor, list, tuple, dict)) or \
        _is_torch(x) or hasattr(x, "__array__")
    if isinstance(x, list) and y is None and x and all(isinstance(b, tuple) for b in x):
        is_array_like = False           # a list of (x, y) batches
    if not is_array_like and not is_dataset and x is not None and \
            not hasattr(x, "__iter__") and not hasattr(x, "__next__"):
        raise TypeError(f"x of type {type(x).__name__} is not data fit/evaluate/predict can "
                        f"read; give {ACCEPTED}")
    if isinstance(x, (str, bytes)):
        raise TypeError(f"x is a string; give {ACCEPTED}")
    if x is None:
        raise ValueError(f"x is required: give {ACCEPTED}")

    def prepare(batch: Any) -> Any:
        bx, by, bw = unpack_x_y_sample_weight(batch)
        bx = standardize_x(model, bx)
        by = None if by is None or for_predict else standardize_y(model, by)
        bw = standardize_sample_weight(model, bw)
        if class_weight is not None and by is not None:
            if bw is not None:
                raise ValueError("give class_weight or sample_weight, not both")
            bw = class_weight_to_sample_weight(by, class_weight).astype(float_dtype(model))
        return pack_x_y_sample_weight(bx, by, bw)

    if not is_array_like:
        kind = "a PyDataset" if is_dataset else f"a {type(x).__name__} (batches)"
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(f"{name} must not be given when x is {kind}: its batches "
                                 f"carry the labels and weights, as (x, y[, sample_weight])")
        if is_dataset:
            return PyDatasetAdapter(x, prepare, shuffle=shuffle)
        return IterableAdapter(x, prepare)
    xs = standardize_x(model, x)
    ys = None if for_predict else standardize_y(model, y)
    ws = standardize_sample_weight(model, sample_weight)
    if class_weight is not None:
        if ws is not None:
            raise ValueError("give class_weight or sample_weight, not both")
        if ys is None:
            raise ValueError("class_weight needs y (the labels)")
        ws = class_weight_to_sample_weight(ys, class_weight).astype(float_dtype(model))
    return ArrayAdapter(xs, ys, ws, batch_size=batch_size, shuffle=shuffle)
