"""Showing training in Jupyter: a progress line redrawn in place, and HTML tables.

In a terminal the progress bar goes back with ``\\r`` and overwrites itself.
A notebook has no terminal: Keras 3 writes ``\\r``/``\\b`` to the cell's text
stream when ``"ipykernel" in sys.modules`` (``keras/src/utils/progbar.py``) and
lets the front end fold them. Here, inside a Jupyter kernel, the bar is one
*display* (``IPython.display.display(..., display_id=True)``) whose content is
replaced on every redraw, so the notebook keeps exactly one line per epoch
however many batches there are, and saved notebooks hold only the final line.

Nothing here imports IPython unless code runs inside a kernel.
"""
from __future__ import annotations

import html
import sys
from typing import IO, TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from .model import Model

__all__ = ["in_notebook", "live_line", "LiveLine", "html_table", "summary_html"]


def in_notebook() -> bool:
    """True when this code runs inside a Jupyter kernel (IPython's ``ZMQInteractiveShell``).

    Plain IPython in a terminal, and a script that merely imported ``ipykernel``,
    are not notebooks: they have a real stdout to redraw with ``\\r``.

    Returns:
        Whether a notebook shows this process's output.
    """
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveLine:
    """One line of text in the notebook's output, replaced by each ``update``
    (in a Jupyter kernel only)::

        line = LiveLine()
        line.update(" 3/10 [=========.....................]")

    Args:
        text: the line's first text.
    """

    def __init__(self, text: str = "") -> None:
        from IPython.display import display
        self.text = text
        self._handle = display(self._bundle(text), raw=True, display_id=True)

    @staticmethod
    def _bundle(text: str) -> dict[str, str]:
        # Plain text for any front end, and <pre> so HTML front ends keep the spacing.
        return {"text/plain": text,
                "text/html": f"<pre style='margin: 0'>{html.escape(text)}</pre>"}

    def update(self, text: str) -> None:
        """Replace the line's text (the notebook redraws it where it is).

        Args:
            text: the new text.
        """
        self.text = text
        self._handle.update(self._bundle(text), raw=True)


def live_line(stream: IO[str] | None = None) -> LiveLine | None:
    """A ``LiveLine`` when progress would go to a notebook cell, else None.

    ``stream`` is where the caller would write: None or ``sys.stdout`` means
    the cell's output; any other stream (a file, a ``StringIO``) keeps its text.

    Args:
        stream: where the progress would be written.

    Returns:
        A new ``LiveLine``, or None outside a notebook (or for another stream).
    """
    if stream is not None and stream is not sys.stdout:
        return None
    return LiveLine() if in_notebook() else None


def html_table(header: Sequence[Any], rows: Sequence[Sequence[Any]],
               caption: str | None = None) -> str:
    """An HTML table (escaped): ``header`` is a list of column names, ``rows`` lists of cells.

    Args:
        header: the column names.
        rows: the rows, each a list of cells (shown with ``str``).
        caption: a caption above the table, or None.

    Returns:
        The ``<table>`` HTML.

    Example:

    >>> html_table(["a"], [[1], ["<b>"]])
    "<table><thead><tr><th style='text-align: left'>a</th></tr></thead><tbody><tr><td style='text-align: left'>1</td></tr><tr><td style='text-align: left'>&lt;b&gt;</td></tr></tbody></table>"
    """
    head = "".join(f"<th style='text-align: left'>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='text-align: left'>{html.escape(str(c))}</td>"
                                    for c in row) + "</tr>" for row in rows)
    title = f"<caption style='text-align: left'>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def summary_html(model: Model) -> str | None:
    """``model.summary()``'s table as HTML (monospace, as Keras prints it), or None when
    the model is not built yet (the notebook then shows its plain ``repr``).

    Args:
        model: the model.

    Returns:
        ``<pre>`` HTML, or None for a model not built.
    """
    lines: list[str] = []
    try:
        model.summary(print_fn=lines.append)
    except ValueError:
        return None
    return f"<pre>{html.escape(chr(10).join(lines))}</pre>"
