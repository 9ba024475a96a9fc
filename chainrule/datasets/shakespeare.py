"""Tiny Shakespeare: 1,115,394 characters of the plays, for character language models.

>>> from chainrule.datasets import shakespeare
>>> text = shakespeare.load_data()                      # doctest: +SKIP
>>> len(text), text[:14]                                # doctest: +SKIP
(1115394, 'First Citizen:')
>>> vocab, ids = shakespeare.encode(text)                # doctest: +SKIP
>>> len(vocab)                                          # doctest: +SKIP
65

The file is looked for by ``find_file``: at ``path`` (the file itself or the
folder holding it), at ``$CHAINRULE_DATA``, in the caches
``~/.chainrule/datasets/tinyshakespeare.txt`` and Keras', and last downloaded
from its origin, the file ``data/tinyshakespeare/input.txt`` of Andrej
Karpathy's char-rnn repository (SHA-256 checked), unless
``download=False`` or ``$CHAINRULE_OFFLINE`` is set. The plays are in the
public domain.
"""
from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt

from ._files import DatasetFileError, find_file

__all__ = ["load_data", "encode", "decode", "split"]

FILENAME = "tinyshakespeare.txt"
NAMES = (FILENAME,)                       # what `chainrule demo --list` looks for
URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
VALIDATION_FRACTION = 0.1                 # the customary split: the last 10% of the characters


def load_data(path: str | os.PathLike[str] | None = None, download: bool | None = None) -> str:
    """The whole text as one ``str``.

    Raises ``chainrule.datasets.DatasetNotFoundError`` (a ``FileNotFoundError``)
    listing every place looked at when the file is nowhere and cannot be
    downloaded, and ``DatasetFileError`` (a ``ValueError``) naming the file
    when the file found is a folder, empty, or not UTF-8 text.

    Args:
        path: the file itself or the folder holding it; None looks only in the
            usual places (``$CHAINRULE_DATA``, the cache).
        download: True/False, or None for "yes unless ``$CHAINRULE_OFFLINE`` is set".

    Returns:
        The text of the plays.
    """
    place = find_file(FILENAME, path, sha256=SHA256, url=URL, download=download)
    if place.is_dir():
        raise DatasetFileError(f"'{place}' is a folder; the Shakespeare data is one text file "
                         f"named {FILENAME}")
    try:
        text = place.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DatasetFileError(f"'{place}' is not UTF-8 text ({e}); expected the plain-text "
                         f"{FILENAME}") from None
    if not text:
        raise DatasetFileError(f"'{place}' is empty; expected the text of {FILENAME}")
    return text


def encode(text: str, vocabulary: str | None = None) -> tuple[str, np.ndarray]:
    """``(vocabulary, ids)``: the sorted distinct characters, and the text as
    int64 indices into them (a character model's tokens).

    Args:
        text: the text to encode.
        vocabulary: the characters, in id order; None means ``text``'s own, sorted.

    Returns:
        ``(vocabulary, ids)``, ``ids`` an int64 array of ``len(text)``.

    Example:

    >>> from chainrule.datasets import shakespeare
    >>> shakespeare.encode("abba")
    ('ab', array([0, 1, 1, 0]))
    """
    if vocabulary is None:
        vocabulary = "".join(sorted(set(text)))
    lookup = np.full(max(map(ord, vocabulary)) + 1, -1, dtype=np.int64)
    lookup[[ord(c) for c in vocabulary]] = np.arange(len(vocabulary))
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    if codes.size and codes.max() >= lookup.size:
        raise ValueError(f"the text holds the character {chr(int(codes.max()))!r}, which "
                         f"is not in the vocabulary")
    ids = lookup[codes]
    if ids.size and ids.min() < 0:
        bad = chr(int(codes[np.argmin(ids)]))
        raise ValueError(f"the text holds the character {bad!r}, which is not in the vocabulary")
    return vocabulary, ids


def decode(ids: npt.ArrayLike, vocabulary: str) -> str:
    """The text that ``ids`` spell in ``vocabulary`` (the inverse of ``encode``).

    Args:
        ids: integer indices into ``vocabulary`` (any shape; read flat).
        vocabulary: the characters, in id order.

    Returns:
        The text.

    Example:

    >>> from chainrule.datasets import shakespeare
    >>> shakespeare.decode([0, 1, 1, 0], "ab")
    'abba'
    """
    return "".join(vocabulary[i] for i in np.asarray(ids).reshape(-1))


def split(ids: np.ndarray,
          validation_fraction: float = VALIDATION_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """``(train, validation)``: the first ``1 - validation_fraction`` of the ids
    and the rest, in order (nanoGPT's split of this text).

    Args:
        ids: the encoded text (or any sequence that slices).
        validation_fraction: the share kept for validation, in (0, 1).

    Returns:
        ``(train, validation)``.
    """
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {validation_fraction}")
    cut = int(len(ids) * (1 - validation_fraction))
    return ids[:cut], ids[cut:]
