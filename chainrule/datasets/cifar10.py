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
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ._files import find_file

__all__ = ["SafeUnpickler", "class_names", "load_data"]

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


def _numpy_rebuilders():
    # Ask NumPy itself which functions its pickles call, so the list holds on
    # NumPy 1 (numpy.core) and 2 (numpy._core) alike.
    reconstruct = np.zeros(1).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = reconstruct
        allowed[(module, "scalar")] = scalar
    return allowed


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only dicts, lists, strings, numbers and NumPy arrays.

    ``find_class`` is how a pickle names the function it wants called; anything
    but NumPy's array rebuilders raises ``pickle.UnpicklingError``, so reading a
    file never runs code from it.
    """

    ALLOWED = _numpy_rebuilders()

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a CIFAR-10 batch: only NumPy "
                f"arrays, lists and dicts are allowed (is this really a CIFAR-10 file?)"
            ) from None


def _read_batch(f, where):
    """One official batch: (images (N, 32, 32, 3) uint8, labels (N,) uint8)."""
    # encoding="bytes": the batches were pickled by Python 2, whose str is bytes.
    batch = SafeUnpickler(f, encoding="bytes").load()
    items = batch.items() if isinstance(batch, dict) else ()
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in items}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"{where} is not a CIFAR-10 batch: a pickled dict with 'data' "
                         f"and 'labels' (found keys: {sorted(map(str, batch))})")
    data = np.asarray(batch["data"], dtype=np.uint8)
    # Each row holds 1024 red, then 1024 green, then 1024 blue values, each a
    # 32x32 row-major image: (N, 3, 32, 32) -> channels-last (N, 32, 32, 3).
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = np.asarray(batch["labels"], dtype=np.uint8)
    if len(labels) != len(images):
        raise ValueError(f"{where}: {len(images)} images but {len(labels)} labels")
    return images, labels


def _join(batches):
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches]).reshape(-1, 1)
    return np.ascontiguousarray(images), labels


def _load_folder(folder):
    missing = [n for n in TRAIN_BATCHES + (TEST_BATCH,) if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a complete {FOLDER} folder: "
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
                raise ValueError(f"{archive} has no {FOLDER}/{name}: not the CIFAR-10 "
                                 f"python archive")
            # Read the member's bytes; nothing is unpacked onto the disk.
            data = tar.extractfile(members[name]).read()
            return _read_batch(io.BytesIO(data), f"{archive}:{name}")
        return _join([read(n) for n in TRAIN_BATCHES]), _join([read(TEST_BATCH)])


def _load_npz(path):
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in _KEYS if k not in z.files]
        if missing:
            raise ValueError(f"'{path}' is not a CIFAR-10 .npz: it has no "
                             f"{', '.join(missing)} (keys: {z.files})")
        arrays = [z[k] for k in _KEYS]
    for name, x in zip(("x_train", "x_test"), arrays[0::2]):
        if x.ndim != 4 or x.shape[1:] != (32, 32, 3):
            raise ValueError(f"'{path}': {name} has shape {x.shape}, expected "
                             f"(N, 32, 32, 3) channels-last images")
    x_train, y_train, x_test, y_test = arrays
    return ((x_train.astype(np.uint8), y_train.astype(np.uint8).reshape(-1, 1)),
            (x_test.astype(np.uint8), y_test.astype(np.uint8).reshape(-1, 1)))


def load_data(path=None, download=None):
    """``((x_train, y_train), (x_test, y_test))``: images uint8 (N, 32, 32, 3), labels uint8 (N, 1).

    ``path`` is a file (``.npz`` or ``.tar.gz``), a ``cifar-10-batches-py``
    folder, or a folder holding one of those. ``download`` (True/False/None)
    says whether the official archive (163 MiB) may be downloaded into
    ``~/.chainrule/datasets`` when nothing is found; None means yes unless
    ``$CHAINRULE_OFFLINE`` is set. ``class_names[label]`` names a label.
    """
    if path is not None and (Path(path).expanduser() / TRAIN_BATCHES[0]).is_file():
        found = Path(path).expanduser()          # the batches folder, whatever its name
    else:
        found = find_file((FOLDER, ARCHIVE, PARTIAL), path, sha256=SHA256,
                          url=URL, download=download, save_as=ARCHIVE)
    if found.is_dir():
        return _load_folder(found)
    if found.name.endswith((".tar.gz", ".tgz")):
        return _load_archive(found)
    if found.suffix == ".npz":
        return _load_npz(found)
    raise ValueError(f"{found}: not a CIFAR-10 file; expected a .npz, {ARCHIVE} or a "
                     f"{FOLDER} folder")
