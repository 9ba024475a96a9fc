"""Derivative rules: every op declares, once, how it differentiates.

A rule names the op and gives:

- ``forward``: how the op reads, in its inputs' names (``"a·b"``);
- ``derivative``: one formula per input. For an *elementwise* op it is the
  local derivative ∂out/∂input (``("b", "a")`` for a·b), which the chain rule
  multiplies by the incoming gradient ``g``; for any other op it is the
  input's whole gradient written with ``g`` (``("g @ bᵀ", "aᵀ @ g")``);
- ``vjp(g, out, *inputs)``: the differentiable vector-Jacobian product,
  written with chainrule ops on tensors, so that it can be differentiated
  again (higher order);
- ``array_vjp(needs, g, out, *inputs)`` (optional, where it pays): the same
  formula on NumPy arrays, arrays in and arrays out. ``needs[k]`` says whether
  input k wants a gradient (return None where it does not).
- ``array_forward(*inputs)`` (optional): the forward on the arrays of the
  recorded inputs, exactly the NumPy the op runs. With it and a fixed array
  vjp, a ``cr.jit`` trace replays the op as that one call (``chainrule.compiled``).
- ``replay(*args, **kwargs)`` (optional, for an op with per-call vjps that
  close over its arguments and shapes only, never its values: sum, mean):
  called once with the op's own arguments, it returns the array forward for
  them; the trace reuses the call's array vjp.

The traversal (``graph.run_backward``) picks the array vjp for an ordinary
backward and the differentiable one when the backward is itself recorded
(``create_graph``, nested ``cr.grad``, a recording tape). Neither reads grad
mode: which one runs is the traversal's choice alone.

Ops whose vjp needs values from their forward (a mask, an index, scratch
buffers) make their vjps per call and pass them to ``record``; their rule says
so with ``vjp=PER_CALL`` (and ``array_vjp=PER_CALL`` when they have one).

The op's docstring, ``cr.explain`` and the tests all read the formulas from
here, so a derivative is written once as text and once per vjp as code.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, Tuple, Union

if TYPE_CHECKING:
    import numpy as np

    from .tensor import Tensor

__all__ = ["Rule", "RULES", "PER_CALL", "declare"]

PER_CALL = "per call"

# A vjp: ``vjp(g, out, *inputs)`` on tensors or ``array_vjp(needs, g, out, *inputs)``
# on arrays, returning one gradient (or None) per input; or PER_CALL.
Vjp = Union[Callable[..., Any], str]
# What a vjp returns: one gradient per input (None where an input needs none),
# or just the gradient for a one-input op; on tensors or on NumPy arrays.
TensorGrads = Union["Tensor", None, Tuple[Optional["Tensor"], ...]]
ArrayGrads = Union["np.ndarray", None, Tuple[Optional["np.ndarray"], ...]]


class Rule:
    """One op's declaration (see the module docstring).

    Args:
        name: the op's unique name.
        function: the op itself.
        inputs: the names of its differentiable inputs.
        forward: how the op reads, in its inputs' names.
        derivative: one formula per input.
        elementwise: whether each formula is a local derivative (multiplied by ``g``).
        vjp: the differentiable vector-Jacobian product, or ``PER_CALL``.
        array_vjp: the same on NumPy arrays, ``PER_CALL`` or None.
        array_forward: the forward on the inputs' arrays, or None.
        replay: makes the array forward of one call from the op's arguments, or None.
    """
    __slots__ = ("name", "function", "inputs", "forward", "derivative", "elementwise", "vjp",
                 "array_vjp", "array_forward", "replay")

    def __init__(self, name: str, function: Callable[..., Any], inputs: tuple[str, ...],
                 forward: str, derivative: tuple[str, ...], elementwise: bool, vjp: Vjp,
                 array_vjp: Vjp | None, array_forward: Callable[..., Any] | None = None,
                 replay: Callable[..., Any] | None = None) -> None:
        self.name = name
        self.function = function      # the op itself
        self.inputs = inputs
        self.forward = forward
        self.derivative = derivative
        self.elementwise = elementwise
        self.vjp = vjp
        self.array_vjp = array_vjp
        self.array_forward = array_forward
        self.replay = replay

    @property
    def has_array_vjp(self) -> bool:
        return self.array_vjp is not None

    def formula_text(self) -> str:
        """The derivative as one line: ``∂/∂a = b, ∂/∂b = a`` or ``grad a = g @ bᵀ``.

        Returns:
            The formulas, one per input, joined by commas.
        """
        if self.elementwise:
            return ", ".join(f"d/d{n} = {d}" for n, d in zip(self.inputs, self.derivative))
        return ", ".join(f"grad {n} = {d}" for n, d in zip(self.inputs, self.derivative))

    def __repr__(self) -> str:
        return f"<Rule {self.name}: {self.formula_text()}>"


RULES: dict[str, Rule] = {}


def declare(op: Callable[..., Any], *, forward: str, derivative: str | Sequence[str],
            vjp: Vjp, array_vjp: Vjp | None = None, inputs: str | Sequence[str] | None = None,
            name: str | None = None, elementwise: bool = False,
            array_forward: Callable[..., Any] | None = None,
            replay: Callable[..., Any] | None = None) -> Rule:
    """Declare the derivative rule of the op function ``op``.

    The formulas are appended to ``op``'s docstring; a module-level vjp without
    a docstring gets one saying what it computes and what it takes.

    Args:
        op: the op function.
        forward: how the op reads, in its inputs' names (``"a·b"``).
        derivative: one formula per input (a string for a one-input op).
        vjp: the differentiable vjp ``vjp(g, out, *inputs)``, or ``PER_CALL``.
        array_vjp: the vjp on NumPy arrays ``array_vjp(needs, g, out, *inputs)``,
            ``PER_CALL`` or None.
        inputs: the names of the differentiable inputs, a string of
            space-separated names (default: the parameters of a module-level
            ``vjp`` after ``g, out``).
        name: the op's name (default ``op.__name__``); it must be unique: it is
            the node's name in the graph, in ``explain`` and in error messages.
        elementwise: whether each formula is the local derivative ∂out/∂input
            (multiplied by ``g``) rather than the input's whole gradient.
        array_forward: the forward on the arrays of the recorded inputs
            (lets ``cr.jit`` replay the op as that one call).
        replay: for an op whose per-call vjps close over its arguments and
            shapes only: called with the op's own arguments, it returns the
            array forward for them.

    Returns:
        The op's ``Rule``, also kept in ``RULES`` under its name.
    """
    name = name or op.__name__
    if name in RULES:
        raise ValueError(f"an op named {name!r} is already declared "
                         f"(by {RULES[name].forward!r}); op names must be unique")
    if vjp is None:
        raise ValueError(f"op {name!r}: every op needs a differentiable vjp")
    if inputs is None:
        if not callable(vjp):
            raise ValueError(f"op {name!r}: name its inputs (inputs='x y') when its vjp is "
                             f"made per call")
        code = vjp.__code__
        inputs = code.co_varnames[2:code.co_argcount]
    elif isinstance(inputs, str):
        inputs = tuple(inputs.split())
    derivative = (derivative,) if isinstance(derivative, str) else tuple(derivative)
    if len(derivative) != len(inputs):
        raise ValueError(f"op {name!r}: {len(inputs)} inputs {inputs} but "
                         f"{len(derivative)} derivative formulas")
    rule = Rule(name, op, tuple(inputs), forward, derivative, elementwise, vjp, array_vjp,
                array_forward, replay)
    RULES[name] = rule
    if op.__doc__ is not None:
        head, sep, rest = op.__doc__.partition("\n")
        op.__doc__ = f"{head}\n\n    Derivative: {rule.formula_text()}\n{sep}{rest}".rstrip() + "\n"
    for function, on_arrays in ((vjp, False), (array_vjp, True)):
        if callable(function) and function.__doc__ is None:
            function.__doc__ = _vjp_doc(rule, function, on_arrays)
    return rule


def _vjp_doc(rule: Rule, function: Callable[..., Any], on_arrays: bool) -> str:
    """The docstring of a declared vjp: what it computes, one line per parameter."""
    code = function.__code__
    names = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    if code.co_flags & 0x04:                 # *args
        names.append("*" + code.co_varnames[len(names)])
    kind = "NumPy arrays" if on_arrays else "tensors (differentiable again)"
    said = {"needs": "one bool per input: whether it wants a gradient.",
            "g": f"the gradient flowing into the output of ``{rule.name}``.",
            "out": f"the output of ``{rule.name}``."}
    lines = [f"The vector-Jacobian product of ``{rule.name}`` on {kind}: "
             f"{rule.formula_text()}.", "", "Args:"]
    lines += [f"    {n}: {said.get(n, f'the input ``{n.lstrip(chr(42))}`` of the op.')}"
              for n in names]
    lines += ["", "Returns:",
              "    The gradient of each input (None where it needs none); the traversal",
              "    sums a broadcast gradient back to its input's shape."]
    return "\n".join(lines)
