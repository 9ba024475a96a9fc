"""``Model``: a layer that can be compiled, trained, evaluated and saved.

Three ways to make one, as in Keras:

* ``cr.Sequential([...])`` — a stack of layers (``sequential.py``);
* ``cr.Model(inputs, outputs)`` — a graph of layers from ``cr.Input``
  placeholders (``functional.py``);
* a subclass of ``cr.Model`` that creates layers in ``__init__`` and writes
  ``call(self, x, training=False)``.

``Model`` subclasses :class:`~chainrule.layers.Layer`, so layers assigned as
attributes are tracked and their weights show up in ``model.weights``. The
training loop itself lives in ``training.py``; saving in ``saving.py``.

>>> import chainrule as cr
>>> from chainrule import layers
>>> class TwoLayers(cr.Model):
...     def __init__(self, units=16, **kwargs):
...         super().__init__(**kwargs)
...         self.hidden = layers.Dense(units, activation="relu")
...         self.out = layers.Dense(1)
...     def call(self, x, training=False):
...         return self.out(self.hidden(x))
>>> model = TwoLayers()
>>> model.compile(optimizer="adam", loss="mse")
>>> history = model.fit(np.zeros((8, 3)), np.zeros(8), epochs=2, verbose=0)
>>> len(history.history["loss"])
2
"""
import inspect

import numpy as np

from ..errors import ShapeError
from ..graph import no_grad
from ..layers.base import Layer, _fmt_shape
from ..tensor import Tensor

__all__ = ["Model"]


class Model(Layer):
    """Base class of every model; ``Model(inputs, outputs)`` makes a functional one."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            # cr.Model(inputs, outputs) is a functional model (as Keras does it).
            from .functional import Functional
            return Functional.__new__(Functional, *args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, trainable=True, name=None, dtype=None, **kwargs):
        if args:
            raise TypeError(f"{type(self).__name__}.__init__ got unexpected positional "
                            f"arguments {args}; a subclass passes only name=, "
                            f"trainable= or dtype= to super().__init__()")
        super().__init__(trainable=trainable, name=name, dtype=dtype, **kwargs)
        self.optimizer = None
        self.stop_training = False
        self.history = None
        self.compiled = False
        self._compile_config = None
        # Shuffling seed and epochs trained: saved with the model, so a resumed
        # fit draws the same batches as an uninterrupted one (training.py).
        self._training_seed = None
        self._epochs_seen = 0

    # -- building ----------------------------------------------------------
    def _maybe_build(self, input_shape):
        # Called by __call__ before call(): a subclassed model's layers build
        # themselves during that first call, so nothing to do beforehand.
        if not self.built:
            self.build_input_shape = input_shape
            self.built = True

    def build(self, input_shape):
        """Create the weights by running a batch of zeros of ``input_shape``
        (``None`` dimensions count as 1) through the model."""
        def zeros(shape):
            return Tensor(np.zeros(tuple(1 if d is None else d for d in shape), self.dtype))
        shapes = [tuple(s) for s in input_shape] if _is_shape_list(input_shape) \
            else tuple(input_shape)
        dummy = [zeros(s) for s in shapes] if isinstance(shapes, list) else zeros(shapes)
        with no_grad():
            self(dummy, training=False)
        self.build_input_shape = shapes

    def compute_output_shape(self, input_shape):
        """Output shape(s) for ``input_shape`` (batch first), by running zeros."""
        def zeros(shape):
            return Tensor(np.zeros(tuple(1 if d is None else d for d in shape), self.dtype))
        dummy = [zeros(s) for s in input_shape] if _is_shape_list(input_shape) \
            else zeros(input_shape)
        with no_grad():
            out = self._call_with_training(dummy, False, {})
        if isinstance(out, (list, tuple)):
            return [(None,) + tuple(o.shape[1:]) for o in out]
        return (None,) + tuple(out.shape[1:])

    def _input_shapes(self):
        """The input shapes the model expects (batch first), when known. A
        subclassed model's ``call`` may accept many shapes: None."""
        return None  # noqa: RET501

    def _input_error(self, index, expected, received):
        return ShapeError(f"model '{self.name}' expects input {index} of shape "
                          f"{_fmt_shape(expected)} (batch first) but received "
                          f"{_fmt_shape(received)}.")

    def _check_input_shapes(self, shapes):
        """Raise the ShapeError of the first input whose shape does not fit."""
        for i, (expected, received) in enumerate(zip(self._input_shapes() or [], shapes)):
            if len(expected) != len(received) or any(
                    e is not None and e != r for e, r in zip(expected[1:], received[1:])):
                raise self._input_error(i, expected, received)

    @property
    def output_names(self):
        return [self.name]

    # -- compile / fit / evaluate / predict -------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None):
        """Choose the optimizer, the loss and the metrics to report.

        Each accepts a Keras string (``"adam"``, ``"sparse_categorical_crossentropy"``,
        ``"accuracy"``) or an object. For several outputs ``loss`` may be a list
        (one per output) or a dict keyed by output name; ``loss_weights``
        likewise, and the training loss is ``Σ weight_i · loss_i``.
        """
        from .. import losses, optimizers
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='mse' or "
                             "loss='sparse_categorical_crossentropy'")
        names = self.output_names
        self.optimizer = optimizers.get(optimizer)
        loss_list = _per_output(loss, names, "loss")
        self._loss_fns = [losses.get(item) for item in loss_list]
        weights = [1.0] * len(names) if loss_weights is None else \
            [float(w) for w in _per_output(loss_weights, names, "loss_weights")]
        self._loss_weights = weights
        if metrics is None:
            metrics = []
        if isinstance(metrics, dict):
            metric_lists = [list(_as_list(metrics.get(n, []))) for n in names]
        elif len(names) > 1 and metrics and all(isinstance(m, (list, tuple)) for m in metrics):
            metric_lists = [list(m) for m in metrics]
        else:
            metric_lists = [list(_as_list(metrics)) for _ in names]
        self._metric_ids = metric_lists
        self._compile_config = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights}
        self.compiled = True

    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose=1, callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            distribution=None):
        """Train for ``epochs`` epochs; returns a ``History`` (see training.py).

        ``distribution=chainrule.distributed.DataParallel()`` trains on several
        MPI processes, ``batch_size`` being the global batch (see that class).
        """
        from .training import fit
        return fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                   callbacks=callbacks, validation_split=validation_split,
                   validation_data=validation_data, shuffle=shuffle,
                   initial_epoch=initial_epoch, distribution=distribution)

    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, return_dict=False):
        """Loss and metrics on ``(x, y)``: a number, a list ``[loss, *metrics]``
        or, with ``return_dict``, a dict (Keras)."""
        from .training import evaluate
        return evaluate(self, x, y, batch_size=batch_size, verbose=verbose,
                        return_dict=return_dict)

    def predict(self, x, batch_size=32, verbose=0):
        """The outputs for ``x`` as NumPy arrays (a list for several outputs)."""
        from .training import predict
        return predict(self, x, batch_size=batch_size, verbose=verbose)

    # -- saving --------------------------------------------------------------
    def save(self, filepath, include_optimizer=True):
        """Save architecture, weights and optimizer state: ``.keras`` writes Keras 3's
        own file (``keras_format.py``), any other name chainrule's zip (``saving.py``)."""
        from .saving import save_model
        save_model(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath):
        """Save only the weights: Keras' HDF5 for ``.weights.h5``, else an ``.npz``."""
        from .saving import save_weights
        save_weights(self, filepath)

    def load_weights(self, filepath):
        """Load weights saved by ``save_weights`` or ``save`` (chainrule's or Keras')
        into this built model."""
        from .saving import load_weights
        load_weights(self, filepath)

    def export(self, filepath, format="onnx"):
        """Write the model for serving elsewhere; ``format="onnx"`` (Keras 3's
        name) writes an ONNX graph with a dynamic batch (``onnx_export.py``)."""
        if format != "onnx":
            raise ValueError(f"export(format={format!r}): chainrule exports format='onnx'")
        from .onnx_export import export_onnx
        return export_onnx(self, filepath)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Recreate a subclassed model from its captured constructor arguments.

        Arguments the constructor does not take (``name``, ``trainable``,
        ``dtype`` when the subclass has no ``**kwargs``) are set afterwards.
        """
        config = dict(config)
        params = inspect.signature(cls.__init__).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            extra = {k: config.pop(k) for k in list(config) if k not in params}
        else:
            extra = {}
        model = cls(**config)
        if "name" in extra:
            model.name = extra["name"]
        if "trainable" in extra:
            model.trainable = extra["trainable"]
        return model

    # -- summary -------------------------------------------------------------
    def summary(self, line_length=80, print_fn=None):
        """Print a table of the layers: name (type), output shape, parameters.

        >>> model.summary()            # doctest: +SKIP
        Model: "sequential"
        """
        if not self.built or (not self.weights and not self.layers):
            raise ValueError(
                f"model '{self.name}' has not been built yet, so its weights do not "
                f"exist. Build it with model.build(input_shape), give the first layer "
                f"input_shape=, start with cr.Input(shape), or call it on data first.")
        print_fn = print_fn or print
        widths = [int(line_length * 0.45), int(line_length * 0.33)]
        widths.append(line_length - sum(widths))

        def row(cells):
            text = ""
            for cell, width in zip(cells, widths):
                text += (" " + str(cell)).ljust(width)[:max(width, len(str(cell)) + 1)] + " "
            return text.rstrip()
        lines = [f'Model: "{self.name}"', "_" * line_length,
                 row(["Layer (type)", "Output Shape", "Param #"]), "=" * line_length]
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape_
            shape = shape if isinstance(shape, str) else \
                (_fmt_shape(shape) if shape is not None else "?")
            lines.append(row([f"{layer.name} ({type(layer).__name__})", shape,
                              f"{layer.count_params():,}"]))
            lines.append("=" * line_length if i == len(self.layers) - 1 else "_" * line_length)
        if not self.layers:
            lines.append("=" * line_length)
        trainable = int(sum(w.size for w in self.trainable_weights))
        non_trainable = int(sum(w.size for w in self.non_trainable_weights))
        lines += [f"Total params: {trainable + non_trainable:,}",
                  f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {non_trainable:,}",
                  "_" * line_length]
        for line in lines:
            print_fn(line)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    def _repr_html_(self):
        """Jupyter shows a model as its ``summary()`` table (its ``repr`` until built)."""
        from .notebook_display import summary_html
        return summary_html(self)


def _is_shape_list(shape):
    return isinstance(shape, (list, tuple)) and len(shape) > 0 and \
        all(isinstance(s, (list, tuple)) for s in shape)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _per_output(value, names, what):
    """One entry per output from a single value, a list or a dict by name."""
    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        if missing:
            raise ValueError(f"compile({what}=...): the dict has no entry for output(s) "
                             f"{missing}; the outputs are {names}")
        return [value[n] for n in names]
    if isinstance(value, (list, tuple)) and not (what == "loss_weights" and len(names) == 1
                                                  and len(value) == 1):
        if len(value) != len(names):
            raise ValueError(f"compile({what}=...): got {len(value)} entries but the model "
                             f"has {len(names)} output(s) {names}")
        return list(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value] * len(names)
