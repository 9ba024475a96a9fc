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
  vjp, a ``cr.jit`` trace replays the op as that one call (``chainrule.jit``).

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

__all__ = ["Rule", "RULES", "PER_CALL", "declare"]

PER_CALL = "per call"


class Rule:
    """One op's declaration (see the module docstring)."""
    __slots__ = ("name", "function", "inputs", "forward", "derivative", "elementwise", "vjp",
                 "array_vjp", "array_forward")

    def __init__(self, name, function, inputs, forward, derivative, elementwise, vjp, array_vjp,
                 array_forward=None):
        self.name = name
        self.function = function      # the op itself
        self.inputs = inputs
        self.forward = forward
        self.derivative = derivative
        self.elementwise = elementwise
        self.vjp = vjp
        self.array_vjp = array_vjp
        self.array_forward = array_forward

    @property
    def has_array_vjp(self):
        return self.array_vjp is not None

    def formula_text(self):
        """The derivative as one line: ``∂/∂a = b, ∂/∂b = a`` or ``grad a = g @ bᵀ``."""
        if self.elementwise:
            return ", ".join(f"d/d{n} = {d}" for n, d in zip(self.inputs, self.derivative))
        return ", ".join(f"grad {n} = {d}" for n, d in zip(self.inputs, self.derivative))

    def __repr__(self):
        return f"<Rule {self.name}: {self.formula_text()}>"


RULES: dict[str, Rule] = {}


def declare(op, *, forward, derivative, vjp, array_vjp=None, inputs=None, name=None,
            elementwise=False, array_forward=None):
    """Declare the derivative rule of the op function ``op``; returns the Rule.

    ``name`` (default ``op.__name__``) must be unique: it is the node's name in
    the graph, in ``explain`` and in error messages. ``inputs``: the names of
    the differentiable inputs, a string of space-separated names (default: the
    parameters of a module-level ``vjp`` after ``g, out``). ``derivative``: one
    formula per input (a string for a one-input op). The formulas are appended
    to ``op``'s docstring.
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
                array_forward)
    RULES[name] = rule
    if op.__doc__ is not None:
        head, sep, rest = op.__doc__.partition("\n")
        op.__doc__ = f"{head}\n\n    Derivative: {rule.formula_text()}\n{sep}{rest}".rstrip() + "\n"
    return rule
