"""Models: ``Sequential``, functional ``Model(inputs, outputs)``, subclassed
``Model``; their training loop, callbacks and saving."""
from . import callbacks
from .cloning import clone_model
from .functional import Functional, Input, InputLayer
from .model import Model, model_from_json
from .saving import load_model, save_model
from .sequential import Sequential

__all__ = [
           "Functional",
           "Input",
           "InputLayer",
           "Model",
           "Sequential",
           "callbacks",
           "clone_model",
           "load_model",
           "model_from_json",
           "save_model",
]
