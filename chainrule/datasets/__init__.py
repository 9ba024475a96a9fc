"""Datasets. The small ones ship inside the package; larger ones load from a path."""
from .bundled import load_digits

__all__ = ["load_digits"]
