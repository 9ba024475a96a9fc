"""Seeing it: the computation graph, training curves, decision boundaries, images.

>>> import chainrule as cr
>>> from chainrule import viz
>>> a, b = cr.tensor(2.0, requires_grad=True), cr.tensor(3.0, requires_grad=True)
>>> J = 3 * (a * b + 4)
>>> J.backward(retain_graph=True)     # keep the graph to draw it with its gradients
>>> dot = viz.draw_graph(J)          # Graphviz DOT text: a str you can print or save
>>> "multiply" in dot
True
>>> # dot.render needs Graphviz's `dot` program; in a notebook the graph shows itself
>>> dot.render("graph.svg")          # doctest: +SKIP

``draw_graph`` needs nothing but chainrule. The plotting functions need
matplotlib (``pip install "chainrule[viz]"``), imported when they run; each
returns the matplotlib ``Figure`` (call ``fig.savefig(path)`` or ``plt.show()``).
The core library never imports this module.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import TYPE_CHECKING, Any, Sequence, Union

import numpy as np

from .graph import walk

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from .models.callbacks import History
    from .tensor import Tensor
    from .typing import TensorLike

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["GraphDot", "draw_graph", "image_grid", "plot_decision_boundary", "plot_history"]

_INSTALL_GRAPHVIZ = (
    "Graphviz's `dot` program is not installed, so the graph cannot be drawn as an image. "
    "Install Graphviz (Debian/Ubuntu: `sudo apt install graphviz`; macOS: `brew install "
    "graphviz`; conda: `conda install graphviz`; Windows: https://graphviz.org/download/), "
    "or keep the DOT text: save it with .save('graph.dot') and paste it into any "
    "Graphviz viewer.")


# ---------------------------------------------------------------- the graph


class GraphDot(str):
    """Graphviz DOT text (a ``str``) that can also save and render itself.

    In Jupyter it shows itself: as SVG when Graphviz's ``dot`` program is
    installed, else as an HTML table of its nodes; ``str(graph)`` stays the DOT text.
    """

    def save(self, path: PathLike) -> PathLike:
        """Write the DOT text to ``path`` (atomically) and return the path.

        Args:
            path: the file to write (``graph.dot``).

        Returns:
            ``path``.
        """
        _write_atomically(path, str(self).encode())
        return path

    def render(self, path: PathLike, format: str | None = None) -> PathLike:
        """Draw the graph to ``path`` with Graphviz's ``dot``; the format comes from the
        suffix (``.svg``, ``.png``, ``.pdf``) unless ``format`` is given.

        Raises ``RuntimeError`` saying how to install Graphviz when ``dot`` is missing.

        Args:
            path: the image file to write.
            format: ``"svg"``, ``"png"`` or ``"pdf"``; None reads it from the suffix.

        Returns:
            ``path``.
        """
        fmt = format or os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
        if fmt not in ("svg", "png", "pdf"):
            raise ValueError(f"render: cannot tell the image format of {path!r}; use a .svg, "
                             f".png or .pdf name, or pass format='svg'")
        _write_atomically(path, self._dot(fmt))
        return path

    def _dot(self, fmt):
        """The graph drawn by Graphviz's ``dot`` in format ``fmt``, as bytes."""
        dot = shutil.which("dot")
        if dot is None:
            raise RuntimeError(_INSTALL_GRAPHVIZ)
        done = subprocess.run([dot, f"-T{fmt}"], input=str(self).encode(),
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"dot failed: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def _repr_pretty_(self, printer, cycle):
        """IPython's plain-text view: the DOT text itself, not a quoted string."""
        printer.text(str(self))

    def _repr_svg_(self):
        """Jupyter's picture of the graph (only when Graphviz's ``dot`` is installed)."""
        return self._dot("svg").decode() if shutil.which("dot") else None

    def _repr_html_(self):
        """Jupyter's view without Graphviz: the nodes as a table. None when ``dot`` is
        there, since notebooks rank HTML above SVG and the picture should win."""
        return None if shutil.which("dot") else self.html_table()

    def nodes(self) -> list[dict[str, Any]]:
        """The tensors of the graph, inputs first: dicts with ``id``, ``op`` (the op
        that made it, or ``""`` for a leaf or constant), ``inputs`` (ids) and
        ``label`` (the lines of its box: name, shape, value, grad).

        Returns:
            One dict per tensor box, in post-order (every input before its user).
        """
        unescape = {"n": "\n", '"': '"', "\\": "\\"}
        labels: dict[str, str] = {}
        ops: dict[str, str] = {}
        inputs: dict[str, list[str]] = {}
        made_by: dict[str, str] = {}
        for line in str(self).splitlines():
            box = re.match(r'\s*(\w+) \[shape=(box|ellipse).*label="((?:[^"\\]|\\.)*)"\];', line)
            edge = re.match(r"\s*(\w+) -> (\w+);", line)
            if box:
                text = re.sub(r"\\(.)", lambda m: unescape.get(m.group(1), m.group(1)),
                              box.group(3))
                (labels if box.group(2) == "box" else ops)[box.group(1)] = text
            elif edge and edge.group(1) in ops:              # op -> its output
                made_by[edge.group(2)] = edge.group(1)
            elif edge:                                        # input -> op
                inputs.setdefault(edge.group(2), []).append(edge.group(1))
        order: list[str] = []
        done: set[str] = set()
        for root in labels:                     # post-order: every input before its user
            stack = [(root, False)]
            while stack:
                node, expanded = stack.pop()
                if expanded:
                    order.append(node)
                elif node not in done:
                    done.add(node)
                    stack.append((node, True))
                    stack.extend((i, False) for i in reversed(inputs.get(made_by.get(node, ""), [])))
        return [{"id": node, "label": labels[node].split("\n"),
                 "op": ops[made_by[node]].split("\n")[0] if node in made_by else "",
                 "inputs": inputs.get(made_by.get(node, ""), [])}
                for node in order if node in labels]

    def html_table(self) -> str:
        """The graph as an HTML table, one row per tensor, inputs first.

        Returns:
            The ``<table>`` HTML.
        """
        from .models.notebook_display import html_table
        rows = []
        for node in self.nodes():
            fields = {"": node["label"][0] if not node["label"][0].startswith("shape ") else ""}
            for line in node["label"]:
                key, _, value = line.partition(" ")
                if key in ("shape", "value", "grad"):
                    fields[key] = value
            made = f"{node['op']}({', '.join(node['inputs'])})" if node["op"] else "input"
            rows.append([node["id"], fields[""], made, fields.get("shape", ""),
                         fields.get("value", ""), fields.get("grad", "")])
        return html_table(["tensor", "name", "made by", "shape", "value", "grad"], rows,
                          caption="Computation graph (install Graphviz to see it drawn)")


def _write_atomically(path, data):
    # the one atomic writer: the umask's mode, no temporary file left behind
    from .models.saving import atomic_write
    atomic_write(path, lambda f: f.write(data))


def _summary(array, max_elements):
    """A short text for an array: its values when small, else its range."""
    array = np.asarray(array)
    if array.size <= max_elements:
        if array.ndim == 0:
            return f"{array.item():.4g}"
        return np.array2string(array, precision=4, separator=", ", max_line_width=60)
    return f"mean {array.mean():.4g}, in [{array.min():.4g}, {array.max():.4g}]"


def _escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def draw_graph(tensor: Tensor, max_elements: int = 4, rankdir: str = "LR") -> GraphDot:
    """The computation graph that produced ``tensor``, as Graphviz DOT text.

    Each tensor is a box with its name (when it has one), shape, value and
    gradient (``.grad`` after ``backward``; intermediate tensors keep theirs
    only with ``retain_grad()``); each op is an ellipse between its inputs and
    its output. ``backward()`` frees the graph behind it, so to see values and
    gradients together call ``backward(retain_graph=True)`` first. Arrays with more than ``max_elements`` values are summarised by
    their mean and range. Returns a :class:`GraphDot`, a ``str`` with
    ``.render("graph.svg")`` and ``.save("graph.dot")``.

    Args:
        tensor: the output whose graph to draw.
        max_elements: arrays with more values are summarised (mean and range).
        rankdir: Graphviz's layout direction: ``"LR"`` (left to right) or ``"TB"``.

    Returns:
        The DOT text, a :class:`GraphDot`.

    Example:

    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> [(node["id"], node["op"], node["inputs"]) for node in draw_graph(x * x).nodes()]
    [('t1', '', []), ('t0', 'multiply', ['t1', 't1'])]
    """
    ids: dict[int, str] = {}

    def node_id(t):
        return ids.setdefault(id(t), f"t{len(ids)}")

    lines = ["digraph chainrule {", f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=11];']
    for t in reversed(walk([tensor], everything=True)):     # the output first
        title = t.name or ("leaf" if t._node is None and t.requires_grad
                           else "constant" if t._node is None else "")
        label = [title] if title else []
        label.append(f"shape {tuple(t.shape)}")
        label.append(f"value {_summary(t.data, max_elements)}")
        if t.grad is not None:
            grad = t.grad.data if hasattr(t.grad, "data") else t.grad
            label.append(f"grad {_summary(grad, max_elements)}")
        style = "filled" if t.requires_grad else "dashed"
        lines.append(f'  {node_id(t)} [shape=box, style={style}, fillcolor="#e8f0fe", '
                     f'label="{_escape(chr(10).join(label))}"];')
        if t._node is not None:
            op, op_label = f"{node_id(t)}_op", t._node.op
            if t._node.vjp is None and not t._node.inputs:
                # backward() frees the graph behind it unless told to keep it.
                op_label += "\n(inputs freed by backward:\ncall backward(retain_graph=True))"
            lines.append(f'  {op} [shape=ellipse, label="{_escape(op_label)}"];')
            for source in t._node.inputs:
                lines.append(f"  {node_id(source)} -> {op};")
            lines.append(f"  {op} -> {node_id(t)};")
    lines.append("}")
    return GraphDot("\n".join(lines) + "\n")


# ---------------------------------------------------------------- plots


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("chainrule.viz plots need matplotlib: pip install "
                          "'chainrule[viz]' (or pip install matplotlib)") from e
    return plt


def _root(figure: Any) -> Figure:
    """The top-level Figure of a (sub)figure."""
    while getattr(figure, "figure", figure) is not figure:
        figure = figure.figure
    return figure


def plot_history(history: History | dict[str, list[float]], ax: Axes | None = None) -> Figure:
    """Loss per epoch (and validation loss, and accuracy on a second axis if recorded).

    ``history`` is what ``model.fit`` returns (a ``History``) or its ``.history``
    dict. Returns the Figure; in a notebook it shows once, as the cell's value.

    Args:
        history: ``fit``'s History, or a dict with a ``"loss"`` list.
        ax: the matplotlib Axes to draw on; None makes a new figure.

    Returns:
        The matplotlib Figure.
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or "loss" not in logs:
        raise ValueError("plot_history: expected fit's History or a dict with a 'loss' list, "
                         f"got {type(history).__name__}")
    created = ax is None
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(6, 4))
    epochs = np.arange(1, len(logs["loss"]) + 1)
    ax.plot(epochs, logs["loss"], "o-", label="loss", color="C0")
    if "val_loss" in logs:
        ax.plot(epochs, logs["val_loss"], "s--", label="val_loss", color="C1")
    ax.set_xlabel("epoch")
    ax.set_xticks(epochs if len(epochs) <= 10 else np.linspace(1, len(epochs), 6).round())
    ax.set_ylabel("loss")
    handles, names = ax.get_legend_handles_labels()
    accuracy_keys = [k for k in ("accuracy", "val_accuracy") if k in logs]
    if accuracy_keys:
        twin = ax.twinx()
        for k, color in zip(accuracy_keys, ("C2", "C3")):
            twin.plot(epochs, logs[k], ":", marker=".", label=k, color=color)
        twin.set_ylabel("accuracy")
        more_handles, more_names = twin.get_legend_handles_labels()
        handles, names = handles + more_handles, names + more_names
    ax.legend(handles, names, loc="center right")
    ax.grid(alpha=0.3)
    return _shown_once(_root(ax.figure), created)


def _shown_once(figure: Figure, created: bool) -> Figure:
    """Jupyter's inline backend shows every open pyplot figure at the end of a cell,
    and the returned Figure shows again as the cell's value: close the figure made
    here (it still draws as the value, or with ``display(fig)``) so it shows once."""
    if created and "inline" in _pyplot().get_backend():
        _pyplot().close(figure)
    return figure


def _as_numpy(values: Any) -> np.ndarray:
    values = values.numpy() if hasattr(values, "numpy") else values
    return np.asarray(values)


def plot_decision_boundary(model: Any, X: TensorLike, y: TensorLike, ax: Axes | None = None,
                           resolution: int = 200) -> Figure:
    """Colour the plane by the class ``model`` predicts, and scatter ``X`` coloured by ``y``.

    ``X`` has two columns. ``model`` is an object with ``predict`` (a Keras-style
    model, a scikit-learn estimator) or a callable from an (n, 2) array to
    predictions: class labels, one score per sample (positive, or above 0.5 for
    probabilities in [0, 1], means the second class) or one column per class
    (the largest wins). Returns the Figure.

    Args:
        model: an object with ``predict``, or a callable from (n, 2) inputs to predictions.
        X: the points, shape (n, 2).
        y: their classes, shape (n,).
        ax: the matplotlib Axes to draw on; None makes a new figure.
        resolution: grid points per axis of the coloured plane.

    Returns:
        The matplotlib Figure.
    """
    X, y = np.asarray(X), np.asarray(y).ravel()
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (n, 2), got {X.shape}")
    predict = getattr(model, "predict", model)
    if not callable(predict):
        raise TypeError("plot_decision_boundary: model must have .predict or be callable")
    pad = 0.05 * (X.max(axis=0) - X.min(axis=0) + 1e-12)
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(X.dtype if X.dtype.kind == "f" else np.float64)
    out = _as_numpy(predict(grid))
    if out.ndim == 2 and out.shape[1] > 1:
        regions = out.argmax(axis=1)
    else:
        out = out.ravel()
        classes = np.unique(y)
        if np.isin(np.unique(out), classes).all():
            regions = out                                   # class labels already
        else:
            threshold = 0.5 if out.min() >= 0 and out.max() <= 1 else 0.0
            regions = np.where(out > threshold, classes[-1], classes[0])
    created = ax is None
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(6, 5))
    ax.contourf(xx, yy, regions.reshape(xx.shape).astype(float), alpha=0.3, cmap="coolwarm")
    scatter = ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="k", s=25)
    ax.legend(*scatter.legend_elements(), title="class", loc="best")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    return _shown_once(_root(ax.figure), created)


def image_grid(images: TensorLike, labels: Sequence[Any] | np.ndarray | None = None,
               predictions: Sequence[Any] | np.ndarray | None = None, ncols: int = 8,
               class_names: Sequence[str] | None = None, fig: Figure | SubFigure | None = None,
               cmap: str = "gray") -> Figure:
    """Images in a grid, titled by label, or by prediction with wrong ones in red.

    ``images``: (n, H, W), (n, H, W, 1) or (n, H, W, 3), any numeric dtype
    (floats are shown over their own range). With ``predictions``, a title is
    the prediction, and for a mistake "prediction (true label)" in red.
    ``class_names`` maps labels to names. ``fig`` draws into an existing
    (sub)figure. Returns the Figure.

    Args:
        images: (n, H, W), (n, H, W, 1) or (n, H, W, 3).
        labels: the true labels, or None.
        predictions: the predicted labels, or None.
        ncols: images per row.
        class_names: names for the labels, indexed by label.
        fig: a matplotlib (sub)figure to draw into; None makes a new one.
        cmap: the colormap of one-channel images.

    Returns:
        The matplotlib Figure.
    """
    images = _as_numpy(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise ValueError("image_grid: images must have shape (n, H, W), (n, H, W, 1) or "
                         f"(n, H, W, 3), got {images.shape}")
    n = len(images)
    if n == 0:
        raise ValueError("image_grid: no images to show")
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)

    def name(label: Any) -> str:
        label = label.item() if hasattr(label, "item") else label
        return str(class_names[int(label)]) if class_names is not None else str(label)

    created = fig is None
    if fig is None:
        fig = _pyplot().figure(figsize=(1.3 * ncols, 1.45 * nrows + 0.3))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        image = images[i]
        if image.ndim == 3 and image.dtype.kind == "f":     # colour floats: to [0, 1]
            image = (image - image.min()) / (np.ptp(image) + 1e-12)
        ax.imshow(image, cmap=cmap if image.ndim == 2 else None, interpolation="nearest")
        if predictions is not None:
            right = labels is None or predictions[i] == labels[i]
            title = (name(predictions[i]) if right or labels is None
                     else f"{name(predictions[i])} ({name(labels[i])})")
            ax.set_title(title, fontsize=9, color="black" if right else "red",
                         fontweight="normal" if right else "bold")
        elif labels is not None:
            ax.set_title(name(labels[i]), fontsize=9)
    return _shown_once(_root(fig), created)
