"""``cr.explain``: a backward pass printed step by step, as you would write it by hand.

For ``J = 3(a·b + c)`` with a=2, b=3, c=4 it prints::

    Forward pass
      a = 2
      b = 3
      c = 4
      u = a·b = 6
      v = u + c = 10
      J = 3·v = 30

    Backward pass (chain rule: dJ/dx = dJ/dy · ∂y/∂x, from J back to the inputs)
      start: dJ/dJ = 1
      J = 3·v    with dJ/dJ = 1
        ∂J/∂v = 3
        dJ/dv = dJ/dJ · ∂J/∂v = 1 · 3 = 3
      ...

    Gradients
      dJ/da = 3b = 9
      dJ/db = 3a = 6
      dJ/dc = 3

It runs in four steps, each a function below: name the tensors, print the
forward pass, walk the backward pass, print the summary. The numbers come
from the engine itself: the graph is ``graph.walk``'s (the same list the
backward traversal uses) and each step calls the node's own vjp. The formulas
come from each op's declaration (``chainrule.rules``): how the op reads and
its derivative, written once there. For elementwise ops the local derivatives
are also combined symbolically into the closing summary (``dJ/da = 3b``).

The command line (``chainrule explain "3*(a*b+c)" a=2 b=3 c=4``) is
``chainrule.explain_cli``.
"""
from __future__ import annotations

import ast
import inspect
import math
import operator
import re
import sys
from typing import IO, Iterable, Iterator, Mapping, Sequence

import numpy as np

from . import ops
from .graph import graph_leaves, no_grad, walk
from .rules import RULES
from .tensor import Tensor

__all__ = ["explain"]


# --------------------------------------------------------------------------
# Numbers and small arrays as a learner reads them
# --------------------------------------------------------------------------
def _num(x):
    """2.0 -> '2', 0.1 -> '0.1', 1/3 -> '0.333333'."""
    x = float(x)
    if math.isfinite(x) and x == round(x) and abs(x) < 1e15:
        return str(round(x)) if x != 0 else "0"
    return f"{x:.6g}"


def _factor_value(array):
    """A value inside a product or sum: negative numbers in parentheses, 3 · (-1)."""
    text = _value(array)
    return f"({text})" if text.startswith("-") else text


def _value(array):
    array = np.asarray(array)
    if array.size == 1:
        return _num(array.reshape(()))
    text = np.array2string(np.asarray(array, dtype=np.float64), precision=4, separator=", ",
                           suppress_small=True, max_line_width=10_000)
    return " ".join(text.split())      # one line, even for a matrix


_SUPERSCRIPTS = {2: "²", 3: "³"}


# --------------------------------------------------------------------------
# A tiny symbolic algebra for the closing summary ("dJ/da = 3b")
# --------------------------------------------------------------------------
class _Sym:
    """A sum of terms coef·Π factor^power, e.g. 3·b or -x/y².

    Factors are strings (names such as ``b`` or opaque pieces such as
    ``(1 - w²)``); equal terms are merged, so ``a·a`` differentiates to
    ``2a``. That is all the algebra the summary needs.
    """

    def __init__(self, terms=None):
        self.terms = {k: c for k, c in (terms or {}).items() if c != 0}

    @classmethod
    def const(cls, c):
        return cls({(): float(c)})

    @classmethod
    def factor(cls, name, power=1, coef=1.0):
        return cls({((name, power),): float(coef)})

    def __add__(self, other):
        terms = dict(self.terms)
        for k, c in other.terms.items():
            terms[k] = terms.get(k, 0.0) + c
        return _Sym(terms)

    def __mul__(self, other):
        terms = {}
        for k1, c1 in self.terms.items():
            for k2, c2 in other.terms.items():
                powers = dict(k1)
                for f, p in k2:
                    powers[f] = powers.get(f, 0) + p
                key = tuple(sorted(((f, p) for f, p in powers.items() if p != 0),
                                   key=_factor_order))
                terms[key] = terms.get(key, 0.0) + c1 * c2
        return _Sym(terms)

    def __str__(self):
        if not self.terms:
            return "0"
        pieces = [_format_term(c, k) for k, c in self.terms.items()]
        text = pieces[0]
        for p in pieces[1:]:
            text += f" - {p[1:]}" if p.startswith("-") else f" + {p}"
        return text


def _factor_order(item):
    """Plain names first (3b·(1 - w), not 3(1 - w)·b), then alphabetical."""
    return (not item[0].isidentifier(), item[0])


def _power_text(base, p):
    if not base.isidentifier() and not base.startswith("(") and p != 1:
        base = f"({base})"
    if p == 1:
        return base
    return base + _SUPERSCRIPTS.get(p, f"^{_num(p)}")


def _format_term(coef, key):
    numer = [_power_text(f, p) for f, p in key if p > 0]
    denom = [_power_text(f, -p) for f, p in key if p < 0]
    if not numer:
        head = _num(coef) if coef != 1 or not denom else "1"
        if coef == -1 and denom:
            head = "-1"
    elif coef == 1:
        head = "·".join(numer)
    elif coef == -1:
        head = "-" + "·".join(numer)
    else:
        glue = "" if numer[0][0].isalpha() and numer[0].replace("_", "").isalnum() else "·"
        head = _num(coef) + glue + "·".join(numer)
    if denom:
        head += "/" + (denom[0] if len(denom) == 1 else "(" + "·".join(denom) + ")")
    return head


# --------------------------------------------------------------------------
# Reading a declared formula
# --------------------------------------------------------------------------
class _Operand:
    """What an op's input looks like in a formula: a name, or a constant."""

    def __init__(self, label, constant=None):
        self.label = label          # 'a', 'u', '3'
        self.constant = constant    # the number, for an unnamed scalar constant


def _substitute(text, names):
    """``text`` with each declared input name replaced by its label."""
    if not names:
        return text
    # (ASCII word boundaries: in "out²" the ² ends the name)
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    pattern = rf"(?<![A-Za-z0-9_])({alternatives})(?![A-Za-z0-9_])"
    return re.sub(pattern, lambda m: names[m.group(1)], text)


_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
               ast.Div: operator.truediv, ast.USub: operator.neg}


def _number(text):
    """The value of ``text`` if it is plain arithmetic on numbers, else None."""
    try:
        tree = ast.parse(text.replace("·", "*"), mode="eval").body
    except SyntaxError:
        return None

    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return _ARITHMETIC[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _ARITHMETIC:
            return _ARITHMETIC[type(node.op)](value(node.operand))
        raise ValueError
    try:
        return value(tree)
    except (ValueError, ZeroDivisionError):
        return None


def _split_top(text, separators):
    """Split at the separators that are outside brackets."""
    pieces, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "([" and 1 or (-1 if ch in ")]" else 0)
        if depth == 0 and ch in separators:
            pieces.append(current)
            current = ""
            pieces.append(ch)
            continue
        current += ch
    pieces.append(current)
    return pieces


_POWERS = {"²": 2, "³": 3}


def _factor(text, operands, out_label):
    """One factor of a product (``b``, ``a^(b - 1)``, ``exp(x)``, ``3``) as a _Sym."""
    power = 1.0
    if text and text[-1] in _POWERS:
        text, power = text[:-1], _POWERS[text[-1]]
    elif "^" in text and _split_top(text, "^")[1:2] == ["^"]:
        base, _, exponent = text.partition("^")
        labels = {n: (_num(o.constant) if o.constant is not None else o.label)
                  for n, o in operands.items()}
        value = _number(_substitute(exponent, labels))
        if value is None:                   # a symbolic exponent: keep it as it reads
            return _Sym.factor(_substitute(text, {**labels, "out": out_label}))
        text, power = base, value
    number = _number(text)
    if number is not None:
        return _Sym.const(number ** power)
    if text in operands:
        operand = operands[text]
        if operand.constant is not None:
            return _Sym.const(operand.constant ** power)
        return _Sym.factor(operand.label, power) if power else _Sym.const(1)
    if text == "out":
        return _Sym.factor(out_label, power)
    labels = {n: o.label for n, o in operands.items()}
    return _Sym.factor(_substitute(text, {**labels, "out": out_label}), power)


def local_derivative(formula: str, operands: Mapping[str, _Operand], out_label: str) -> _Sym:
    """A declared elementwise derivative (``"-a/b²"``) as a _Sym in the operands' labels.

    A formula is a product of factors joined by ``·``, with an optional
    leading minus and one ``/`` before the factors that divide.

    Args:
        formula: the derivative as the op declared it (``"-a/b²"``).
        operands: the op's declared input names -> how each reads (label or constant).
        out_label: the label of the op's output (what ``out`` stands for).

    Returns:
        The derivative as a polynomial in the labels (its ``str`` is the formula).
    """
    text = formula.strip()
    sign = 1.0
    if text.startswith("-"):
        sign, text = -1.0, text[1:]
    pieces = _split_top(text, "·/")
    result, dividing = _Sym.const(sign), False
    for piece in pieces:
        if piece == "/":
            dividing = True
        elif piece not in ("·", ""):
            factor = _factor(piece.strip(), operands, out_label)
            if dividing:
                factor = _Sym({tuple((f, -p) for f, p in key): 1 / c
                               for key, c in factor.terms.items()})
            result = result * factor
    return result


# --------------------------------------------------------------------------
# Step 1: names
# --------------------------------------------------------------------------
_POOL = "uvwzpqrsghkmnt"


def _caller_names(frame):
    """{id(tensor): variable name} for the tensors the caller holds in variables."""
    found = {}
    if frame is None:
        return found
    for var, value in frame.f_locals.items():
        if isinstance(value, Tensor) and not var.startswith("_"):
            found.setdefault(id(value), var)
    return found


def _fresh(pool):
    yield from pool
    for i in range(1, 10_000):
        yield f"{pool[0]}{i}"


def name_tensors(output: Tensor, order: Sequence[Tensor], leaves: list[Tensor],
                 inputs: Iterable[Tensor], names: Mapping[str, Tensor] | None,
                 caller: Mapping[int, str]) -> dict[int, str]:
    """{id(tensor): label}: ``names`` first, then a tensor's ``.name``, then the
    caller's variable holding it, then x1, x2, ... (inputs) and u, v, w, ...
    (intermediate values). The output is J unless named.

    Args:
        output: the scalar explained.
        order: the recorded tensors, inputs before users (``graph.walk``'s list).
        leaves: the graph's leaf tensors.
        inputs: the tensors whose gradients are reported.
        names: ``{label: tensor}`` chosen by the user, or None.
        caller: ``{id(tensor): variable name}`` in the caller's frame.

    Returns:
        ``{id(tensor): label}`` for every tensor named.
    """
    label = {id(t): str(name) for name, t in (names or {}).items()}
    taken = set(label.values())

    def pick(t: Tensor, fallback: Iterable[str]) -> None:
        if id(t) in label:
            return
        for candidate in (t.name, caller.get(id(t))):
            if candidate and candidate not in taken:
                break
        else:
            candidate = next(n for n in fallback if n not in taken)
        label[id(t)] = candidate
        taken.add(candidate)

    pick(output, ["J", "L", "out"] + [f"J{i}" for i in range(1, 100)])
    for t in leaves + list(inputs):
        pick(t, _fresh([f"x{i}" for i in range(1, 10_000)]))
    for t in order:
        pick(t, _fresh(list(_POOL)))
    return label


def _operand(t, label, caller):
    """How input ``t`` of a node reads in a formula."""
    if id(t) in label:
        return _Operand(label[id(t)])
    if t.size == 1:
        return _Operand(_num(t.data.reshape(())), constant=float(t.data.reshape(())))
    named = t.name or caller.get(id(t))
    if named:
        label[id(t)] = named
        return _Operand(named)
    return _Operand(_value(t.data) if t.size <= 4 else f"C{t.shape}")


def _operands(node, label, caller):
    """{declared input name: _Operand} for a node's inputs."""
    rule = RULES[node.op]
    args = [_operand(p, label, caller) for p in node.inputs]
    return dict(zip(rule.inputs, args)), args


def _forward_text(node, label, caller):
    rule = RULES[node.op]
    operands, args = _operands(node, label, caller)
    if len(args) > len(rule.inputs):          # a list of inputs (concatenate, einsum)
        return f"{node.op}({', '.join(a.label for a in args)})"
    return _substitute(rule.forward, {n: o.label for n, o in operands.items()})


# --------------------------------------------------------------------------
# The graph explain reads
# --------------------------------------------------------------------------
def _recorded_graph(output):
    """``graph.walk``'s list for ``output``, after checking explain can read it."""
    try:
        order = walk([output])
    except RuntimeError:
        raise RuntimeError(
            "explain: this graph was already used by a backward pass, which freed it. "
            "Call cr.explain(J) before J.backward() (or pass retain_graph=True to "
            "backward).") from None
    for t in order:
        node = t._node
        if t._version or any(i._version != v for i, v in zip(node.inputs, node.versions)):
            raise RuntimeError(
                f"explain: a value that '{node.op}' used was changed in place after it ran, "
                f"so its recorded derivative no longer holds; rebuild the expression.")
        if node.op not in RULES:
            raise ValueError(
                f"explain cannot describe the op '{node.op}': it has no declared rule "
                f"(chainrule.rules.declare), so explain has no formula to print. Use "
                f"J.backward() or cr.grad for this graph (the gradients are the same).")
    return order


# --------------------------------------------------------------------------
# Step 2: the forward pass
# --------------------------------------------------------------------------
def forward_lines(order: Sequence[Tensor], leaves: Sequence[Tensor], label: dict[int, str],
                  caller: Mapping[int, str]) -> Iterator[str]:
    """The lines of the forward pass: each leaf's value, then each node's formula and value.

    Args:
        order: the recorded tensors, inputs before users.
        leaves: the graph's leaf tensors.
        label: ``{id(tensor): label}`` from ``name_tensors``.
        caller: ``{id(tensor): variable name}`` in the caller's frame.

    Yields:
        One line of text at a time.
    """
    yield "Forward pass"
    for t in leaves:
        yield f"  {label[id(t)]} = {_value(t.data)}"
    for t in order:
        yield f"  {label[id(t)]} = {_forward_text(t._node, label, caller)} = {_value(t.data)}"


# --------------------------------------------------------------------------
# Step 3: the backward pass
# --------------------------------------------------------------------------
def _as_tuple(grads, node):
    return grads if type(grads) is tuple or len(node.inputs) != 1 else (grads,)


def backward_lines(order: Sequence[Tensor], output: Tensor, label: dict[int, str],
                   caller: Mapping[int, str], grads: dict[int, np.ndarray],
                   sym: dict[int, _Sym]) -> Iterator[str]:
    """Walk ``order`` back from ``output``, filling ``grads`` (id -> array) and
    ``sym`` (id -> the gradient as a _Sym, while it has one), yielding lines.

    Args:
        order: the recorded tensors, inputs before users.
        output: the scalar explained.
        label: ``{id(tensor): label}`` from ``name_tensors``.
        caller: ``{id(tensor): variable name}`` in the caller's frame.
        grads: ``{id(tensor): gradient}``, holding the output's ones; filled in.
        sym: ``{id(tensor): symbolic gradient}``, holding the output's 1; filled in.

    Yields:
        One line of text at a time.
    """
    J = label[id(output)]
    yield ""
    yield f"Backward pass (chain rule: d{J}/dx = d{J}/dy · ∂y/∂x, from {J} back to the inputs)"
    yield f"  start: d{J}/d{J} = 1"
    with no_grad():
        for t in reversed(order):
            node, name = t._node, label[id(t)]
            assert node is not None          # every tensor of order was made by an op
            g = grads.get(id(t))
            if g is None:
                continue
            rule = RULES[node.op]
            operands, _ = _operands(node, label, caller)
            yield f"  {name} = {_forward_text(node, label, caller)}    with d{J}/d{name} = {_value(g)}"
            products = _as_tuple(node.vjp(Tensor._wrap(g), t, *node.inputs), node)
            if rule.elementwise:
                ones = _as_tuple(node.vjp(Tensor._wrap(np.ones_like(t.data)), t, *node.inputs),
                                 node)
            for k, p in enumerate(node.inputs):
                if not p.requires_grad or products[k] is None:
                    continue
                pname = label[id(p)]
                value = _fit(products[k], p)
                d_in = f"d{J}/d{pname}"
                formula = rule.derivative[min(k, len(rule.derivative) - 1)]
                if rule.elementwise:
                    local = local_derivative(formula, operands, name)
                    local_value = np.asarray(ones[k].data)
                    local_text, local_value_text = str(local), _value(local_value)
                    yield (f"    ∂{name}/∂{pname} = {local_text}" if local_text == local_value_text
                           else f"    ∂{name}/∂{pname} = {local_text} = {local_value_text}")
                    times = "·" if t.size == 1 else "⊙"
                    line = (f"{d_in} = d{J}/d{name} {times} ∂{name}/∂{pname} = "
                            f"{_factor_value(g)} {times} {_factor_value(local_value)}")
                    if p.shape != t.shape:
                        line += f", summed to the shape {p.shape} of {pname}"
                    yield f"    {line} = {_value(value)}"
                    contribution = (sym[id(t)] * local if id(t) in sym and t.size == 1
                                    and p.size == 1 else None)
                else:
                    rule_text = _substitute(formula, {"g": f"d{J}/d{name}", "out": name,
                                                      **{n: o.label for n, o in operands.items()}})
                    yield f"    {d_in} = {rule_text} = {_value(value)}"
                    contribution = sym[id(t)] if (node.op == "reshape" and id(t) in sym
                                                  and p.size == 1) else None
                if id(p) in grads:
                    total = grads[id(p)] + value
                    yield (f"    {pname} is used more than once, so its gradients add up: "
                           f"{d_in} = {_value(grads[id(p)])} + {_factor_value(value)} = "
                           f"{_value(total)}")
                    grads[id(p)] = total
                    if id(p) in sym and contribution is not None:
                        sym[id(p)] = sym[id(p)] + contribution
                    else:
                        sym.pop(id(p), None)
                else:
                    grads[id(p)] = value
                    if contribution is not None:
                        sym[id(p)] = contribution


def _fit(gradient, like):
    """A vjp's result summed back to the input's shape and dtype, as the traversal does."""
    if gradient.shape != like.shape:
        gradient = ops.sum_to(gradient, like.shape)
    data = np.asarray(gradient.data)
    if like.data.dtype.kind == "f" and data.dtype != like.data.dtype:
        data = data.astype(like.data.dtype)
    return data


# --------------------------------------------------------------------------
# Step 4: the summary
# --------------------------------------------------------------------------
def summary_lines(inputs: Iterable[Tensor], J: str, label: dict[int, str],
                  grads: dict[int, np.ndarray], sym: dict[int, _Sym],
                  result: dict[str, float | np.ndarray]) -> Iterator[str]:
    """The gradient of each input, symbolic where the algebra followed; fills ``result``.

    Args:
        inputs: the tensors whose gradients are reported.
        J: the output's label.
        label: ``{id(tensor): label}`` from ``name_tensors``.
        grads: the gradients ``backward_lines`` computed.
        sym: the symbolic gradients ``backward_lines`` kept.
        result: filled with ``{label: gradient}``.

    Yields:
        One line of text at a time.
    """
    yield ""
    yield "Gradients"
    for t in inputs:
        name = label[id(t)]
        g = grads.get(id(t))
        if g is None:
            g = np.zeros_like(t.data)
            yield f"  d{J}/d{name} = 0   ({J} does not depend on {name})"
        else:
            value_text = _value(g)
            formula = str(sym[id(t)]) if id(t) in sym else None
            if formula is None or formula == value_text:
                yield f"  d{J}/d{name} = {value_text}"
            else:
                yield f"  d{J}/d{name} = {formula} = {value_text}"
        result[name] = float(g.reshape(())) if t.ndim == 0 else np.array(g)


# --------------------------------------------------------------------------
# explain
# --------------------------------------------------------------------------
def explain(output: Tensor, inputs: Sequence[Tensor] | dict[str, Tensor] | None = None,
            names: Mapping[str, Tensor] | None = None,
            file: IO[str] | None = None) -> dict[str, float | np.ndarray]:
    """Print the forward values and every backward step of a scalar; return its gradients.

    ``output`` is a scalar Tensor built from tensors with ``requires_grad=True``.
    For each node it prints its formula and value; then, walking back from
    the output, each local derivative (formula and value), the chain-rule
    product ``dJ/dx = dJ/dy · ∂y/∂x`` and, when a tensor is used more than
    once, how its gradient accumulates. Every op with a declared rule can be
    explained; elementwise ops also get a symbolic summary.

    Names: ``names={"a": a, ...}`` names tensors; otherwise a tensor's
    ``.name``, then the caller's variable holding it, then ``x1, x2, ...``
    (inputs) and ``u, v, w, ...`` (intermediate values). The output is
    ``J`` unless named.

    ``inputs``: the tensors (or a dict name -> tensor) whose gradients to
    return; default every leaf with ``requires_grad=True``. Returns a dict
    name -> gradient (a float for a scalar, else a NumPy array), the same
    numbers ``J.backward()`` gives; ``.grad`` is not touched and the graph
    stays usable, so ``J.backward()`` can follow.

    Args:
        output: the scalar Tensor to explain.
        inputs: the tensors (or ``{name: tensor}``) whose gradients to return;
            None means every leaf with ``requires_grad=True``.
        names: ``{label: tensor}`` to name tensors in the printout.
        file: where to print; None means ``sys.stdout``.

    Returns:
        ``{name: gradient}``: a float for a scalar input, else a NumPy array.

    >>> import chainrule as cr
    >>> import io
    >>> a, b, c = (cr.tensor(v, dtype="float64", requires_grad=True) for v in (2., 3., 4.))
    >>> grads = cr.explain(3 * (a * b + c), names={"a": a, "b": b, "c": c}, file=io.StringIO())
    >>> grads
    {'a': 9.0, 'b': 6.0, 'c': 3.0}
    """
    out_file = sys.stdout if file is None else file
    if not isinstance(output, Tensor):
        raise TypeError(f"explain: expected a chainrule Tensor, got {type(output).__name__}")
    if output.size != 1:
        raise ValueError(f"explain: the output must be a scalar (one value), got shape "
                         f"{output.shape}; reduce it first, e.g. J = loss.sum()")
    if not output.requires_grad:
        raise ValueError("explain: the output does not depend on any tensor with "
                         "requires_grad=True, so there is nothing to differentiate. Create "
                         "the inputs with cr.tensor(..., requires_grad=True).")
    if isinstance(inputs, dict):
        names = {**inputs, **(names or {})}
        inputs = list(inputs.values())
    frame = inspect.currentframe()
    caller = _caller_names(frame.f_back if frame is not None else None)
    del frame

    order: list[Tensor] = _recorded_graph(output) if output._node is not None else []
    leaves = graph_leaves(order) if order else [output]
    if inputs is None:
        inputs = leaves
    label = name_tensors(output, order, leaves, inputs, names, caller)
    grads = {id(output): np.ones_like(output.data)}
    sym = {id(output): _Sym.const(1)}
    result: dict[str, float | np.ndarray] = {}
    J = label[id(output)]
    for lines in (forward_lines(order, leaves, label, caller),
                  backward_lines(order, output, label, caller, grads, sym),
                  summary_lines(inputs, J, label, grads, sym, result)):
        for line in lines:
            print(line, file=out_file)
    return result
