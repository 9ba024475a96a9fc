"""``keras.utils.plot_model`` and ``model_to_dot``: a model's layer graph as a picture.

As Keras 3 ``keras/src/utils/model_visualization.py``: one box per layer
(its class, optionally its name, output shape, dtype, activation and
whether it trains), one arrow per connection, drawn by Graphviz's ``dot``
program into ``to_file`` (the format comes from its extension; ``.dot``
writes the Graphviz text itself and needs no Graphviz).

>>> import chainrule as cr
>>> inputs = cr.Input((4,), name="x")
>>> model = cr.Model(inputs, cr.layers.Dense(2, name="out")(inputs))
>>> print(cr.utils.model_to_dot(model, show_layer_names=True).splitlines()[-2])
  "x" -> "out";
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import TYPE_CHECKING, Any

from ..layers.base import SymbolicTensor, _flatten, _fmt_shape

if TYPE_CHECKING:
    from .model import Model

__all__ = ["model_to_dot", "plot_model"]


def _escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _graph(model):
    """``(layers, edges)``: the layers in order and ``(source, target)`` name pairs."""
    from .functional import Functional
    from .sequential import Sequential
    if isinstance(model, Sequential):
        if not model.built:
            raise ValueError(f"plot_model: Sequential model '{model.name}' is not built yet; "
                             f"start it with cr.Input(shape) or call model.build(input_shape)")
        chain = ([model._input_layer] if model._input_layer is not None else []) + model.layers
        return chain, [(a.name, b.name) for a, b in zip(chain, chain[1:])]
    if isinstance(model, Functional):
        edges = []
        for layer, args, kwargs, _ in model._nodes:
            for parent in _flatten(args) + _flatten(list(kwargs.values())):
                if isinstance(parent, SymbolicTensor):
                    source = parent.input_layer if parent.history is None else parent.history[0]
                    if (source.name, layer.name) not in edges:
                        edges.append((source.name, layer.name))
        return model.layers, edges
    raise ValueError(f"plot_model draws Sequential and functional models; "
                     f"'{model.name}' is a subclassed {type(model).__name__} whose call() "
                     f"is Python code, not a graph of layers")


def model_to_dot(model: Model, show_shapes: bool = False, show_dtype: bool = False,
                 show_layer_names: bool = False, rankdir: str = "TB", expand_nested: bool = False,
                 dpi: int = 200, subgraph: bool = False, show_layer_activations: bool = False,
                 show_trainable: bool = False, **kwargs: Any) -> str:
    """The Graphviz DOT text of ``model``'s layer graph (Keras 3's arguments;
    ``expand_nested`` draws a nested model as one box).

    Args:
        model: a Sequential or functional model.
        show_shapes: write each layer's output shape.
        show_dtype: write each layer's dtype.
        show_layer_names: write each layer's name.
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        expand_nested: accepted (a nested model is drawn as one box).
        dpi: the picture's resolution.
        subgraph: accepted for Keras' signature.
        show_layer_activations: write each layer's activation.
        show_trainable: write whether each layer trains.
        **kwargs: accepted for Keras' signature and ignored.

    Returns:
        The DOT text.
    """
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"rankdir must be 'TB' (top to bottom) or 'LR' (left to right), "
                         f"got {rankdir!r}")
    layers, edges = _graph(model)
    lines = [f'digraph "{_escape(model.name)}" {{', f"  rankdir={rankdir};",
             f"  dpi={int(dpi)};", '  node [shape=plaintext, fontname="Helvetica"];']
    for layer in layers:
        rows = [f"<b>{_escape(type(layer).__name__)}</b>"]
        if show_layer_names:
            rows[0] = f"{_escape(layer.name)} ({rows[0]})"
        if show_shapes:
            shape = getattr(layer, "output_shape_", None)
            shape = shape if isinstance(shape, str) or shape is None else \
                ", ".join(_fmt_shape(s) for s in shape) if isinstance(shape, list) \
                else _fmt_shape(shape)
            rows.append(f"Output shape: {_escape(shape or '?')}")
        if show_dtype:
            rows.append(f"Output dtype: {layer.dtype.name}")
        if show_layer_activations and getattr(layer, "activation", None) is not None:
            act = layer.activation
            rows.append(f"Activation: {_escape(getattr(act, '__name__', act))}")
        if show_trainable:
            rows.append(f"Trainable: {'yes' if layer.trainable else 'no'}")
        cells = "".join(f"<tr><td>{row}</td></tr>" for row in rows)
        lines.append(f'  "{_escape(layer.name)}" [label=<<table border="1" cellborder="0" '
                     f'cellpadding="4">{cells}</table>>];')
    lines += [f'  "{_escape(a)}" -> "{_escape(b)}";' for a, b in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_model(model: Model, to_file: str | os.PathLike[str] = "model.png",
               show_shapes: bool = False, show_dtype: bool = False,
               show_layer_names: bool = False, rankdir: str = "TB", expand_nested: bool = False,
               dpi: int = 200, show_layer_activations: bool = False,
               show_trainable: bool = False, **kwargs: Any) -> None:
    """Draw ``model``'s layer graph into ``to_file`` (PNG, SVG, PDF... by its
    extension, with Graphviz's ``dot``; ``.dot`` writes the text). Keras 3's
    arguments and defaults. Raises ImportError naming how to install Graphviz
    when ``dot`` is missing (Keras raises ImportError when its drawing library is).

    Args:
        model: a Sequential or functional model.
        to_file: the file to write; its extension picks the format.
        show_shapes: write each layer's output shape.
        show_dtype: write each layer's dtype.
        show_layer_names: write each layer's name.
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        expand_nested: accepted (a nested model is drawn as one box).
        dpi: the picture's resolution.
        show_layer_activations: write each layer's activation.
        show_trainable: write whether each layer trains.
        **kwargs: accepted for Keras' signature and ignored.
    """
    text = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                        show_layer_names=show_layer_names, rankdir=rankdir,
                        expand_nested=expand_nested, dpi=dpi,
                        show_layer_activations=show_layer_activations,
                        show_trainable=show_trainable)
    fmt = os.path.splitext(str(to_file))[1].lstrip(".").lower() or "png"
    if fmt in ("dot", "gv"):
        data = text.encode("utf-8")
    else:
        dot = shutil.which("dot")
        if dot is None:
            raise ImportError("plot_model needs Graphviz's `dot` program to draw "
                              f"'{to_file}': install Graphviz (apt install graphviz, brew "
                              "install graphviz or conda install graphviz), or give a "
                              "'.dot' file name to get the Graphviz text")
        done = subprocess.run([dot, f"-T{fmt}"], input=text.encode("utf-8"),
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise ValueError(f"plot_model: Graphviz could not draw format '{fmt}' for "
                             f"'{to_file}': {done.stderr.decode(errors='replace').strip()}")
        data = done.stdout
    folder = os.path.dirname(os.path.abspath(to_file))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-plot-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, to_file)               # written whole or not at all
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
