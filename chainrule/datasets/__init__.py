"""Datasets. The small ones ship inside the package; larger ones are found by
``find_file``: the path you give, ``$CHAINRULE_DATA``, the cache
``~/.chainrule/datasets``, then a checked download unless ``$CHAINRULE_OFFLINE``."""
from . import cifar10, mnist, shakespeare
from ._files import ChecksumError, DatasetFileError, DatasetNotFoundError, find_file
from .bundled import load_diabetes, load_digits, load_iris
from .synthetic import make_income_debt

__all__ = ["ChecksumError", "DatasetFileError", "DatasetNotFoundError", "cifar10", "find_file",
           "load_diabetes", "load_digits", "load_iris", "make_income_debt", "mnist", "shakespeare"]
