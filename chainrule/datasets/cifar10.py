"""CIFAR-10: 32x32 colour images in 10 classes, loaded as Keras does.

>>> from chainrule.datasets import cifar10
>>> (x_train, y_train), (x_test, y_test) = cifar10.load_data()    # doctest: +SKIP
>>> x_train.shape, x_train.dtype, y_train.shape                     # doctest: +SKIP
((50000, 32, 32, 3), dtype('uint8'), (50000, 1))
>>> cifar10.class_names[8]
'ship'

Three file layouts are read (looked for with ``find_file``: ``path``, then
``$CHAINRULE_DATA``, then ``~/.chainrule/datasets``, then a download of the
official archive when allowed):

- the official ``cifar-10-batches-py`` folder (``data_batch_1`` .. ``_5``, ``test_batch``);
- the official archive ``cifar-10-python.tar.gz`` (read in place, not unpacked);
- an ``.npz`` with ``x_train, y_train, x_test, y_test`` (e.g. ``cifar10_partial.npz``).

The official batches are Python pickles. Unpickling can run arbitrary code,
so they are read with :class:`SafeUnpickler`, which only lets the names that
rebuild NumPy arrays through: a file that asks for anything else is refused.
"""
from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ._files import DatasetFileError, DatasetNotFoundError, find_file, read_npz

__all__ = ["SafeUnpickler", "UnsafePickleError", "class_names", "load_data"]

class_names = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
PARTIAL = "cifar10_partial.npz"
SHA256 = {
    ARCHIVE: "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    PARTIAL: "d0f502dc92fa73a8077cc0207416bed1a536342a7adc40d43dc84af1b0e81004",
}
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
_KEYS = ("x_train", "y_train", "x_test", "y_test")


_MAX_ARRAY_BYTES = 2 ** 28        # one official batch is 30 MB


class UnsafePickleError(DatasetFileError, pickle.UnpicklingError):
    """A CIFAR-10 batch asked the unpickler for something other than NumPy arrays."""


def _numpy_rebuilders():
    # Ask NumPy itself which functions its pickles call, so the list holds on
    # NumPy 1 (numpy.core) and 2 (numpy._core) alike.
    reconstruct = np.zeros(1).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]

    def ndarray(*args, **kwargs):
        # A pickle names the class only to hand it to _reconstruct; calling it
        # would allocate any shape it asks for.
        raise UnsafePickleError("refusing to call numpy.ndarray from a CIFAR-10 batch")

    def guarded_reconstruct(subtype, shape, dtype):
        # NumPy pickles an array as an empty _reconstruct then its bytes (which
        # must match the shape); a first shape with elements would be allocated
        # without bytes behind it.
        if subtype is not ndarray or np.prod(shape, dtype=object) > _MAX_ARRAY_BYTES:
            raise UnsafePickleError("refusing a NumPy array rebuild that is not how "
                                         "NumPy pickles arrays")
        return reconstruct(np.ndarray, shape, dtype)

    allowed = {("numpy", "ndarray"): ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = guarded_reconstruct
        allowed[(module, "scalar")] = scalar
    return allowed


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only dicts, lists, strings, numbers and NumPy arrays.

    ``find_class`` is how a pickle names the function it wants called; anything
    but NumPy's array rebuilders raises ``pickle.UnpicklingError``, so reading a
    file never runs code from it. The rebuilders are guarded so that an array
    never gets more elements than the bytes the pickle holds for it.
    """

    ALLOWED = _numpy_rebuilders()

    def find_class(self, module: str, name: str) -> object:
        """The NumPy rebuilder a pickle asks for; anything else raises ``UnsafePickleError``.

        Args:
            module: the module the pickle names.
            name: the function or class in it.

        Returns:
            The allowed (guarded) rebuilder.
        """
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load {module}.{name} from a CIFAR-10 batch: only NumPy "
                f"arrays, lists and dicts are allowed (is this really a CIFAR-10 file?)"
            ) from None


def _read_batch(f, where):
    """One official batch: (images (N, 32, 32, 3) uint8, labels (N,) uint8).

    ``data`` must be an integer NumPy array (N, 3072) of values 0..255 and
    ``labels`` a flat list (or 1-D array) of N integers 0..9, as the official
    files hold them: anything else is refused before it is converted, so
    nothing wraps around silently and nested lists are never expanded.
    """
    # encoding="bytes": the batches were pickled by Python 2, whose str is bytes.
    try:
        batch = SafeUnpickler(f, encoding="bytes").load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, MemoryError, OverflowError, UnicodeDecodeError, RecursionError,
            SystemError) as e:     # SystemError: NumPy's setstate on some damaged bytes
        raise DatasetFileError(f"{where} is not a readable CIFAR-10 batch ({type(e).__name__}: "
                         f"{e}); it may be truncated") from None
    items = batch.items() if isinstance(batch, dict) else ()
    batch = {k.decode("utf-8", "replace") if isinstance(k, bytes) else k: v for k, v in items}
    if "data" not in batch or "labels" not in batch:
        raise DatasetFileError(f"{where} is not a CIFAR-10 batch: a pickled dict with 'data' "
                         f"and 'labels' (found keys: {sorted(map(str, batch))})")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "iu" or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        shape = getattr(data, "shape", None)
        raise DatasetFileError(f"{where}: 'data' must be an integer NumPy array of shape (N, 3072), "
                         f"got {type(data).__name__} {shape or ''}".rstrip())
    _check_range(data, 255, f"{where}: pixel values", "0..255")
    labels = _flat_labels(batch["labels"], where)
    if len(labels) != len(data):
        raise DatasetFileError(f"{where}: {len(data)} images but {len(labels)} labels")
    # Each row holds 1024 red, then 1024 green, then 1024 blue values, each a
    # 32x32 row-major image: (N, 3, 32, 32) -> channels-last (N, 32, 32, 3).
    images = data.astype(np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels.astype(np.uint8)


def _flat_labels(labels, where):
    """``labels`` as an int64 array, if it is a flat list or 1-D array of integers 0..9."""
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise DatasetFileError(f"{where}: 'labels' must be a flat list of integers, got an "
                             f"array of shape {labels.shape} and dtype {labels.dtype}")
        out = labels.astype(np.int64)
    elif isinstance(labels, list) and all(type(v) is int for v in labels):
        out = np.array(labels, dtype=np.int64) if labels else np.zeros(0, np.int64)
    else:
        raise DatasetFileError(f"{where}: 'labels' must be a flat list of integers 0..9")
    _check_range(out, len(class_names) - 1, f"{where}: labels", "0..9")
    return out


def _check_range(values, high, what, expected):
    if values.size and (values.min() < 0 or values.max() > high):
        raise DatasetFileError(f"{what} run {values.min()}..{values.max()}; expected {expected}")


def _join(batches):
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches]).reshape(-1, 1)
    return np.ascontiguousarray(images), labels


def _load_folder(folder):
    missing = [n for n in TRAIN_BATCHES + (TEST_BATCH,) if not (folder / n).is_file()]
    if missing:
        raise DatasetNotFoundError(f"{folder} is not a complete {FOLDER} folder: "
                                f"{', '.join(missing)} missing")

    def read(name):
        with open(folder / name, "rb") as f:
            return _read_batch(f, folder / name)
    return _join([read(n) for n in TRAIN_BATCHES]), _join([read(TEST_BATCH)])


def _load_archive(archive):
    with tarfile.open(archive, "r:gz") as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}

        def read(name):
            if name not in members:
                raise DatasetFileError(f"{archive} has no {FOLDER}/{name}: not the CIFAR-10 "
                                       f"python archive")
            if members[name].size > _MAX_ARRAY_BYTES:     # declared in its tar header
                raise DatasetFileError(f"{archive}: {name} declares {members[name].size} "
                                       f"bytes; a CIFAR-10 batch is about 31 MB")
            # Read the member's bytes; nothing is unpacked onto the disk.
            data = tar.extractfile(members[name]).read()
            return _read_batch(io.BytesIO(data), f"{archive}:{name}")
        return _join([read(n) for n in TRAIN_BATCHES]), _join([read(TEST_BATCH)])


def _load_npz(path):
    arrays = read_npz(path, _KEYS, "a CIFAR-10 .npz")
    for name, x in zip(("x_train", "x_test"), arrays[0::2]):
        if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or x.dtype.kind not in "iuf":
            raise DatasetFileError(f"'{path}': {name} has shape {x.shape} and dtype {x.dtype}, "
                             f"expected (N, 32, 32, 3) channels-last images")
        _check_range(x, 255, f"'{path}': {name} values", "0..255")
        if x.dtype.kind == "f" and not np.array_equal(x, np.round(x)):
            raise DatasetFileError(f"'{path}': {name} holds fractional values; expected whole "
                             f"pixel values 0..255 (not images scaled to [0, 1])")
    for name, x, y in (("y_train", arrays[0], arrays[1]), ("y_test", arrays[2], arrays[3])):
        if y.dtype.kind not in "iu" or y.size != len(x) or y.shape[1:] not in ((), (1,)):
            raise DatasetFileError(f"'{path}': {name} has shape {y.shape} and dtype {y.dtype}, "
                             f"expected {len(x)} integer labels")
        _check_range(y, len(class_names) - 1, f"'{path}': {name}", "0..9")
    x_train, y_train, x_test, y_test = arrays
    return ((x_train.astype(np.uint8), y_train.astype(np.uint8).reshape(-1, 1)),
            (x_test.astype(np.uint8), y_test.astype(np.uint8).reshape(-1, 1)))


def load_data(path: str | os.PathLike[str] | None = None,
              download: bool | None = None) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``((x_train, y_train), (x_test, y_test))``: images uint8 (N, 32, 32, 3), labels uint8 (N, 1).

    ``path`` is a file (``.npz`` or ``.tar.gz``), a ``cifar-10-batches-py``
    folder, or a folder holding one of those. ``download`` (True/False/None)
    says whether the official archive (163 MiB) may be downloaded into
    ``~/.chainrule/datasets`` when nothing is found; None means yes unless
    ``$CHAINRULE_OFFLINE`` is set. ``class_names[label]`` names a label.

    Args:
        path: a ``.npz``, a ``.tar.gz``, a ``cifar-10-batches-py`` folder or a
            folder holding one; None looks only in the usual places.
        download: True/False, or None for "yes unless ``$CHAINRULE_OFFLINE`` is set".

    Returns:
        ``((x_train, y_train), (x_test, y_test))``.
    """
    if path is not None and (Path(path).expanduser() / TRAIN_BATCHES[0]).is_file():
        found = Path(path).expanduser()          # the batches folder, whatever its name
    else:
        found = find_file((FOLDER, ARCHIVE, PARTIAL), path, sha256=SHA256,
                          url=URL, download=download, save_as=ARCHIVE)
    if found.is_dir():
        return _load_folder(found)
    try:
        if found.name.endswith((".tar.gz", ".tgz")):
            return _load_archive(found)
        if found.suffix == ".npz":
            return _load_npz(found)
    except DatasetFileError:
        raise
    except Exception as e:     # noqa: BLE001 -- a damaged archive or .npz raises anything
        raise DatasetFileError(f"'{found}' cannot be read ({type(e).__name__}: {e}); it is "
                         f"truncated or damaged: delete it and put a complete copy there") \
            from None
    raise DatasetFileError(f"{found}: not a CIFAR-10 file; expected a .npz, {ARCHIVE} or a "
                     f"{FOLDER} folder")
