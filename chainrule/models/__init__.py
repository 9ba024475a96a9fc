"""Models: ``Sequential``, functional ``Model(inputs, outputs)``, subclassed
``Model``; their training loop, callbacks and saving."""
from . import callbacks
from .functional import Functional, Input, InputLayer
from .model import Model
from .saving import load_model, save_model
from .sequential import Sequential

__all__ = [
           "Functional",
           "Input",
           "InputLayer",
           "Model",
           "Sequential",
           "callbacks",
           "load_model",
           "save_model",
]
