"""Where data files come from: the one place that finds (and, if allowed, downloads) them.

Every loader asks :func:`find_file`, which looks, in this order, at

1. ``path``, the argument a user gave (the file itself, or the folder holding it);
2. ``$CHAINRULE_DATA`` (a folder, a file, or several folders joined by ``os.pathsep``);
3. the cache ``~/.chainrule/datasets``, then Keras' ``~/.keras/datasets``
   (``$KERAS_HOME/datasets``), both checked against the known SHA-256;
4. the canonical address ``url``, only when downloading is allowed: ``download=True``,
   or ``download=None`` (the default) while ``$CHAINRULE_OFFLINE`` is unset.

A download lands in the cache atomically (a temporary file in the same folder,
then ``os.replace``) and only after its SHA-256 matched; any network failure
(unreachable, timed out, cut mid-download) becomes the :class:`DatasetNotFoundError`
below. Only regular files (or folders) are used: a FIFO or a link to a device
where a data file should be is skipped and named in that error, never read. When nothing is found,
:class:`DatasetNotFoundError` (a ``FileNotFoundError``) lists every place looked at
and says exactly where to put the file.

>>> from chainrule.datasets import find_file
>>> find_file("mnist.npz", "/work/shared/data")             # doctest: +SKIP
PosixPath('/work/shared/data/mnist.npz')

Files you put in place yourself (``path`` and ``$CHAINRULE_DATA``) are used as they
are, so a subset or a tiny test file works; files in the cache must have one of
the known digests, since the cache is what downloads fill.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import stat
import sys
from pathlib import Path
from typing import Collection, Mapping, Sequence, Union

import numpy as np

__all__ = ["ChecksumError", "DatasetFileError", "DatasetNotFoundError", "cache_dir", "download_allowed",
           "find_file", "keras_cache_dir", "sha256sum"]

PathLike = Union[str, "os.PathLike[str]"]
Digests = Union[str, Collection[str], Mapping[str, Union[str, Collection[str]]], None]

DATA_ENV = "CHAINRULE_DATA"
OFFLINE_ENV = "CHAINRULE_OFFLINE"


class DatasetNotFoundError(FileNotFoundError):
    """A data file is in none of the places looked at; the message says where to put it."""


class DatasetFileError(ValueError):
    """A data file was found but cannot be used (truncated, damaged, not the
    dataset's layout or values); the message names the file."""


class ChecksumError(DatasetFileError):
    """A data file's SHA-256 is not the one expected (a truncated download, another file)."""


def cache_dir() -> Path:
    """``~/.chainrule/datasets``, where downloads go (``$HOME`` decides ``~``)."""
    return Path(os.path.expanduser("~")) / ".chainrule" / "datasets"


def keras_cache_dir() -> Path:
    """``$KERAS_HOME/datasets``, else ``~/.keras/datasets``: where Keras'
    ``get_file`` keeps downloads (Keras 3 ``keras/src/backend/config.py``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def download_allowed(download: bool | None = None) -> bool:
    """``download`` if it is True/False; for None, True unless ``$CHAINRULE_OFFLINE`` is set.

    ``CHAINRULE_OFFLINE`` counts as set for any value except ``""``, ``0``, ``false``, ``no``.

    Args:
        download: True/False to decide, or None to ask the environment.

    Returns:
        Whether a download may happen.
    """
    if download is not None:
        return bool(download)
    flag = os.environ.get(OFFLINE_ENV, "").strip().lower()
    return flag in ("", "0", "false", "no")


def sha256sum(path: PathLike) -> str:
    """The SHA-256 of a file as 64 hex digits, read in 1 MiB chunks.

    Args:
        path: the file.

    Returns:
        The digest as 64 lowercase hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _accepted(sha256, name):
    """The digests a file called ``name`` may have (None: not checked)."""
    if isinstance(sha256, dict):
        sha256 = sha256.get(name)
    if sha256 is None:
        return None
    digests = [sha256] if isinstance(sha256, str) else list(sha256)
    return tuple(dict.fromkeys(d.lower() for d in digests))      # in the order given


def _check(path, accepted, what):
    if accepted is None or path.is_dir():
        return
    actual = sha256sum(path)
    if actual not in accepted:
        raise ChecksumError(
            f"{what} {path} has SHA-256 {actual}, expected "
            f"{' or '.join(accepted)}. The file is truncated or a different file: "
            f"delete it and put a correct copy there (or let chainrule download it again).")


MAX_DOWNLOAD_BYTES = 2 ** 31    # the largest dataset here (CIFAR-10) is 163 MiB


def _fetch(url, out):
    """Copy the bytes at ``url`` into the open binary file ``out`` (tests replace this)."""
    import urllib.request  # here, so `import chainrule` does not load http and ssl
    with urllib.request.urlopen(url, timeout=60) as response:
        expected = response.headers.get("Content-Length")
        received = 0
        for chunk in iter(lambda: response.read(1 << 20), b""):
            out.write(chunk)
            received += len(chunk)
            if received > MAX_DOWNLOAD_BYTES:      # a server that never stops
                raise OSError(f"more than {MAX_DOWNLOAD_BYTES} bytes, larger than any "
                              f"dataset chainrule downloads")
    # read(n) returns b"" when the server closes early: a cut connection
    # would otherwise look like a complete (if wrong) file.
    if expected is not None and expected.isdigit() and received < int(expected):
        raise http.client.IncompleteRead(b"", int(expected) - received)


def _download(url, destination, accepted):
    # Lazy: the models floor is heavy and only a download needs its writer.
    from ..models.saving import atomic_write
    destination.parent.mkdir(parents=True, exist_ok=True)
    print(f"chainrule: downloading {url} to {destination}", file=sys.stderr)
    # A temporary file in the cache named by this process, checked, then
    # os.replace: the cache never holds half a file, and a download killed
    # midway is removed by the next one.
    atomic_write(destination, lambda out: _fetch(url, out),
                 verify=lambda tmp: _check(Path(tmp), accepted,
                                           f"the download from {url}, saved as"))
    return destination


# What a failed download raises: URLError, timeouts, resets and a full disk
# are OSError; a connection cut mid-body is http.client.IncompleteRead; a
# malformed address is ValueError.
_NETWORK_ERRORS = (OSError, http.client.HTTPException, ValueError)


def _kind(path):
    """``"file"``, ``"folder"``, None (nothing there), or why ``path`` cannot
    be read as data: a FIFO, socket or device would block or never end."""
    try:
        mode = os.stat(path).st_mode       # follows links: a link to /dev/zero is a device
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"cannot be read: {e.strerror}"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    what = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"{what}, not a regular file: not read"


MAX_NPZ_MEMBER_BYTES = 2 ** 28   # MNIST's largest array is 47 MB, CIFAR-10's 150 MB


def read_npz(path: PathLike, keys: Sequence[str], what: str) -> list[np.ndarray]:
    """``[arrays]`` for ``keys`` from the .npz at ``path``, whose members'
    declared sizes are checked before any is inflated (a small compressed
    file can declare gigabytes). Any damage is a :class:`DatasetFileError`
    naming ``path`` and ``what`` it should be.

    Args:
        path: the ``.npz`` file.
        keys: the members to read, in the order returned.
        what: what the file should be, for the error message ("an MNIST file...").

    Returns:
        The arrays, one per key.
    """
    try:
        with open(path, "rb") as f:
            if f.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
                # np.load would call it pickled data and suggest allow_pickle=True
                raise DatasetFileError(f"'{path}' is not {what}: an .npz is a zip archive "
                                       f"and this file is not one")
            f.seek(0)
            with np.load(f, allow_pickle=False) as data:
                missing = [k for k in keys if k not in data.files]
                if missing:
                    raise DatasetFileError(f"'{path}' is not {what}: it has no "
                                           f"{', '.join(missing)} (keys: {data.files})")
                for info in data.zip.infolist():
                    if info.file_size > MAX_NPZ_MEMBER_BYTES:
                        raise DatasetFileError(f"'{path}': {info.filename} declares "
                                               f"{info.file_size} bytes, more than {what} "
                                               f"holds")
                return [data[k] for k in keys]
    except DatasetFileError:
        raise
    except Exception as e:     # noqa: BLE001 -- a damaged zip or .npy header raises
        # anything from zipfile's BadZipFile to the header parser's SyntaxError
        raise DatasetFileError(f"'{path}' cannot be read as {what} ({type(e).__name__}: "
                               f"{e}); it is truncated or not an .npz: delete it and put a "
                               f"complete copy there") from None


def _env_places():
    value = os.environ.get(DATA_ENV, "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p]


def find_file(filename: PathLike | Sequence[PathLike], path: PathLike | None = None, *,
              sha256: Digests = None, url: str | None = None, download: bool | None = None,
              save_as: PathLike | None = None) -> Path:
    """Return the ``pathlib.Path`` of a data file, looking where the module docstring says.

    Args:
        filename: the file's name (``"mnist.npz"``), or a sequence of names that would
            each do, tried in order (``("cifar-10-batches-py", "cifar-10-python.tar.gz")``;
            a name may be a folder).
        path: the file itself or the folder holding it, or None.
        sha256: the expected SHA-256 (hex), a collection of accepted ones, or a dict
            ``{name: digest(s)}`` when the names differ; checked on downloads and on
            files in the cache.
        url: the canonical address to download from, or None if there is none.
        download: True/False, or None for "yes unless ``$CHAINRULE_OFFLINE`` is set".
        save_as: the name a download is saved as in the cache (default: the first name).

    Raises:
        DatasetNotFoundError: the file is nowhere and could not be downloaded.
        ChecksumError: a cached or downloaded file has the wrong SHA-256.
    """
    asked = [filename] if isinstance(filename, (str, os.PathLike)) else list(filename)
    names = [os.fspath(n) for n in asked]
    if not names:
        raise ValueError("find_file needs at least one file name")
    save_as = os.fspath(save_as) if save_as is not None else names[0]
    looked = []

    def look_in_folder(folder, why):
        for name in names:
            candidate = folder / name
            kind = _kind(candidate)
            if kind in ("file", "folder"):
                return candidate
            looked.append(f"{candidate} ({why}" + (f": {kind})" if kind else ")"))
        return None

    if path is not None:
        given = Path(os.fspath(path)).expanduser()
        kind = _kind(given)
        if kind == "file" or (kind == "folder" and given.name in names):
            return given
        if kind == "folder":
            found = look_in_folder(given, "the path argument")
            if found is not None:
                return found
        else:
            looked.append(f"{given} (the path argument: {kind or 'no such file or folder'})")

    env = _env_places()
    for place in env:
        kind = _kind(place)
        if kind == "file" and place.name in names:
            return place
        if kind == "folder":
            found = look_in_folder(place, f"${DATA_ENV}")
            if found is not None:
                return found
        else:
            what = f"not {' or '.join(names)}" if kind == "file" else \
                kind or "no such file or folder"
            looked.append(f"{place} (${DATA_ENV}: {what})")
    if not env:
        looked.append(f"${DATA_ENV} (not set)")

    cache = cache_dir()
    found = look_in_folder(cache, "the cache")
    if found is not None:
        _check(found, _accepted(sha256, found.name), "the cached file")
        return found

    keras_cache = keras_cache_dir()       # where Keras users already have mnist.npz
    found = look_in_folder(keras_cache, "Keras' cache")
    if found is not None:
        _check(found, _accepted(sha256, found.name), "the file in Keras' cache")
        return found

    accepted = _accepted(sha256, save_as)
    if url is None:
        why_not = "there is no address to download it from"
    elif not download_allowed(download):
        why_not = ("downloading is off (download=False)" if download is False else
                   f"downloading is off (${OFFLINE_ENV} is set)")
    else:
        try:
            return _download(url, cache / save_as, accepted)
        except ChecksumError:
            raise
        except _NETWORK_ERRORS as e:
            why_not = f"the download from {url} failed ({str(e) or type(e).__name__})"

    wanted = " or ".join(names)
    lines = [f"{wanted} was not found. Looked at:"]
    lines += [f"  - {place}" for place in looked]
    lines.append(f"Not downloaded: {why_not}.")
    lines.append(f"Put {save_as} in {cache}{os.sep} (mkdir -p {cache}), or in a folder "
                 f"named by ${DATA_ENV}, or pass its path (the file or its folder): "
                 f"load_data(path=...), or `chainrule demo NAME --data PATH`.")
    if url is not None:
        lines.append(f"Its canonical address is {url}"
                     + (f" (SHA-256 {' or '.join(accepted)})." if accepted else "."))
    raise DatasetNotFoundError("\n".join(lines))
