"""Datasets. The small ones ship inside the package; larger ones load from a path."""
from . import mnist
from .bundled import load_diabetes, load_digits, load_iris

__all__ = ["load_diabetes", "load_digits", "load_iris", "mnist"]
