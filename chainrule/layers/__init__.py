"""Keras-style layers: a base ``Layer`` and one layer family per file."""
from .base import Layer, InputSpec, SymbolicTensor, serialize, deserialize, register  # noqa: F401
