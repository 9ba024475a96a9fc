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

The numbers come from the engine itself: explain walks the recorded
``graph.Node``s and calls each node's vjp (the same functions
``.backward()`` uses). Only the *formulas* (``∂u/∂a = b``) come from a table
in this file, one entry per op type. Elementwise ops, ``sum``, ``mean``,
``matmul``, ``transpose`` and ``reshape`` are described; any other op is
refused with a message naming it.

``chainrule explain "3*(a*b+c)" a=2 b=3 c=4`` does the same from the shell
(:func:`main`). The expression is parsed with :mod:`ast` and only a small
whitelist of syntax is interpreted; it is never passed to ``eval``.
"""
from __future__ import annotations

import argparse
import ast
import inspect
import math
import sys

import numpy as np

from . import ops
from .graph import no_grad
from .tensor import Tensor

__all__ = ["FUNCTIONS", "explain", "main"]


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
# The table: one entry per op type
# --------------------------------------------------------------------------
class _Operand:
    """What an op's input looks like in a formula: a name, or a constant."""

    def __init__(self, label, constant=None):
        self.label = label          # 'a', 'u', '3'
        self.constant = constant    # the number, for an unnamed scalar constant

    def sym(self):
        if self.constant is not None:
            return _Sym.const(self.constant)
        return _Sym.factor(self.label)

    def reciprocal(self, power=1, coef=1.0):
        """coef / operand^power."""
        if self.constant is not None:
            return _Sym.const(coef / self.constant ** power)
        return _Sym.factor(self.label, -power, coef)


# op -> how its forward reads; {0}, {1} are the operands' labels
FORWARD = {
    "add": "{0} + {1}", "subtract": "{0} - {1}", "multiply": "{0}·{1}",
    "divide": "{0}/{1}", "negative": "-{0}", "power": "{0}^{1}",
    "exp": "exp({0})", "log": "log({0})", "sqrt": "√{0}", "abs": "|{0}|",
    "sin": "sin({0})", "cos": "cos({0})", "tanh": "tanh({0})", "sigmoid": "σ({0})",
    "relu": "relu({0})", "softplus": "softplus({0})",
    "sum": "sum({0})", "mean": "mean({0})", "matmul": "{0} @ {1}",
    "transpose": "{0}ᵀ", "reshape": "reshape({0})",
}

ELEMENTWISE = {"add", "subtract", "multiply", "divide", "negative", "power", "exp", "log",
               "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "softplus"}


def _local_derivative(op, k, args, out):
    """∂out/∂(input k) of an elementwise op, as a _Sym in the operands' names."""
    x = args[0]
    y = args[1] if len(args) > 1 else None
    if op == "add":
        return _Sym.const(1)
    if op == "subtract":
        return _Sym.const(1 if k == 0 else -1)
    if op == "multiply":
        return args[1 - k].sym()                                # ∂(xy)/∂x = y
    if op == "divide":
        if k == 0:
            return y.reciprocal()                               # ∂(x/y)/∂x = 1/y
        return _Sym.const(-1) * x.sym() * y.reciprocal(2)       # ∂(x/y)/∂y = -x/y²
    if op == "negative":
        return _Sym.const(-1)
    if op == "power":
        if k == 0 and y.constant is not None:                   # ∂xⁿ/∂x = n·xⁿ⁻¹
            n = y.constant
            return _Sym.factor(x.label, n - 1, n) if n != 1 else _Sym.const(1)
        if k == 0:
            return y.sym() * _Sym.factor(f"{x.label}^({y.label} - 1)")
        return _Sym.factor(out) * _Sym.factor(f"log({x.label})")   # ∂xʸ/∂y = xʸ·log x
    unary = {
        "exp": lambda: _Sym.factor(f"exp({x.label})"),
        "log": lambda: x.reciprocal(),
        "sqrt": lambda: _Sym.factor(f"√{x.label}", -1, 0.5),
        "abs": lambda: _Sym.factor(f"sign({x.label})"),
        "sin": lambda: _Sym.factor(f"cos({x.label})"),
        "cos": lambda: _Sym.factor(f"sin({x.label})", 1, -1.0),
        "tanh": lambda: _Sym.factor(f"(1 - {out}²)"),
        "sigmoid": lambda: _Sym.factor(out) * _Sym.factor(f"(1 - {out})"),
        "relu": lambda: _Sym.factor(f"[{x.label} > 0]"),
        "softplus": lambda: _Sym.factor(f"σ({x.label})"),
    }
    return unary[op]()


def _structural_rule(op, k, args, out, J):
    """How dJ/d(input) follows from dJ/d(out) for the non-elementwise ops."""
    x = args[0].label
    d_out = f"d{J}/d{out}"
    if op == "sum":
        return f"{d_out} · ∂{out}/∂{x}ᵢ = {d_out} · 1, for every entry of {x}"
    if op == "mean":
        return f"{d_out} · ∂{out}/∂{x}ᵢ = {d_out} · 1/n, for every entry of {x}"
    if op == "matmul":
        if k == 0:
            return f"{d_out} @ {args[1].label}ᵀ"
        return f"{x}ᵀ @ {d_out}"
    if op == "transpose":
        return f"({d_out})ᵀ"
    if op == "reshape":
        return f"{d_out} reshaped back to the shape of {x}"
    raise AssertionError(op)


# --------------------------------------------------------------------------
# explain
# --------------------------------------------------------------------------
_POOL = "uvwzpqrsghkmnt"


def _graph(output):
    """Tensors made by recorded ops, inputs before the ops that use them."""
    order, seen, stack = [], set(), [(output, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        node = t._node
        if node.vjp is None:
            raise RuntimeError(
                "explain: this graph was already used by a backward pass, which freed it. "
                "Call cr.explain(J) before J.backward() (or pass retain_graph=True to backward).")
        if t._version or any(i._version != v for i, v in zip(node.inputs, node.versions)):
            raise RuntimeError(
                f"explain: a value that '{node.op}' used was changed in place after it ran, "
                f"so its recorded derivative no longer holds; rebuild the expression.")
        if node.op not in FORWARD:
            raise ValueError(
                f"explain cannot describe the op '{node.op}': it describes only "
                f"{', '.join(sorted(FORWARD))}. Use J.backward() or cr.grad for this graph "
                f"(the gradients are the same; only the step-by-step text is missing).")
        for p in reversed(node.inputs):
            if p.requires_grad and p._node is not None and id(p) not in seen:
                stack.append((p, False))
    return order


def _leaves(order):
    leaves, seen = [], set()
    for t in order:
        for p in t._node.inputs:
            if p.requires_grad and p._node is None and id(p) not in seen:
                seen.add(id(p))
                leaves.append(p)
    return leaves


def _caller_names(frame):
    """{id(tensor): variable name} for the tensors the caller holds in variables."""
    found = {}
    if frame is None:
        return found
    for var, value in frame.f_locals.items():
        if isinstance(value, Tensor) and not var.startswith("_"):
            found.setdefault(id(value), var)
    return found


def explain(output, inputs=None, names=None, file=None):
    """Print the forward values and every backward step of a scalar; return its gradients.

    ``output`` is a scalar Tensor built from a few tensors with
    ``requires_grad=True`` (elementwise ops, ``sum``, ``mean``, ``matmul``).
    For each node it prints its formula and value; then, walking back from
    the output, each local derivative (formula and value), the chain-rule
    product ``dJ/dx = dJ/dy · ∂y/∂x`` and, when a tensor is used more than
    once, how its gradient accumulates.

    Names: ``names={"a": a, ...}`` names tensors; otherwise a tensor's
    ``.name``, then the caller's variable holding it, then ``x1, x2, ...``
    (inputs) and ``u, v, w, ...`` (intermediate values). The output is
    ``J`` unless named.

    ``inputs``: the tensors (or a dict name -> tensor) whose gradients to
    return; default every leaf with ``requires_grad=True``. Returns a dict
    name -> gradient (a float for a scalar, else a NumPy array), the same
    numbers ``J.backward()`` gives; ``.grad`` is not touched and the graph
    stays usable, so ``J.backward()`` can follow.

    >>> import chainrule as cr
    >>> import io
    >>> a, b, c = (cr.tensor(v, dtype="float64", requires_grad=True) for v in (2., 3., 4.))
    >>> grads = cr.explain(3 * (a * b + c), names={"a": a, "b": b, "c": c}, file=io.StringIO())
    >>> grads
    {'a': 9.0, 'b': 6.0, 'c': 3.0}
    """
    out_file = sys.stdout if file is None else file

    def say(text=""):
        print(text, file=out_file)

    if not isinstance(output, Tensor):
        raise TypeError(f"explain: expected a chainrule Tensor, got {type(output).__name__}")
    if output.size != 1:
        raise ValueError(f"explain: the output must be a scalar (one value), got shape "
                         f"{output.shape}; reduce it first, e.g. J = loss.sum()")
    if not output.requires_grad:
        raise ValueError("explain: the output does not depend on any tensor with "
                         "requires_grad=True, so there is nothing to differentiate. Create "
                         "the inputs with cr.tensor(..., requires_grad=True).")

    # ---- names --------------------------------------------------------
    label = {}                                   # id(tensor) -> name
    if isinstance(inputs, dict):
        names = {**inputs, **(names or {})}
        inputs = list(inputs.values())
    for name, t in (names or {}).items():
        label[id(t)] = str(name)
    frame = inspect.currentframe()
    caller = _caller_names(frame.f_back if frame is not None else None)
    del frame

    order = _graph(output) if output._node is not None else []
    leaves = _leaves(order) if order else [output]
    if inputs is None:
        inputs = leaves

    taken = set(label.values())

    def pick(t, fallback):
        if id(t) in label:
            return label[id(t)]
        for candidate in (t.name, caller.get(id(t))):
            if candidate and candidate not in taken:
                break
        else:
            candidate = next(n for n in fallback if n not in taken)
        label[id(t)] = candidate
        taken.add(candidate)
        return candidate

    def fresh(prefix_pool):
        yield from prefix_pool
        for i in range(1, 10_000):
            yield f"{prefix_pool[0]}{i}"

    pick(output, ["J", "L", "out"] + [f"J{i}" for i in range(1, 100)])
    for t in leaves + list(inputs):
        pick(t, fresh([f"x{i}" for i in range(1, 10_000)]))
    for t in order:
        pick(t, fresh(list(_POOL)))

    def operand(t):
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

    # ---- forward ------------------------------------------------------
    say("Forward pass")
    for t in leaves:
        say(f"  {label[id(t)]} = {_value(t.data)}")
    for t in order:
        args = [operand(p) for p in t._node.inputs]
        formula = FORWARD[t._node.op].format(*[a.label for a in args])
        say(f"  {label[id(t)]} = {formula} = {_value(t.data)}")

    # ---- backward -----------------------------------------------------
    J = label[id(output)]
    grads = {id(output): np.ones_like(output.data)}
    sym = {id(output): _Sym.const(1)}
    say()
    say(f"Backward pass (chain rule: d{J}/dx = d{J}/dy · ∂y/∂x, from {J} back to the inputs)")
    say(f"  start: d{J}/d{J} = 1")
    with no_grad():
        for t in reversed(order):
            node, name = t._node, label[id(t)]
            g = grads.get(id(t))
            if g is None:
                continue
            args = [operand(p) for p in node.inputs]
            formula = FORWARD[node.op].format(*[a.label for a in args])
            say(f"  {name} = {formula}    with d{J}/d{name} = {_value(g)}")
            g_tensor = Tensor._wrap(g)
            products = node.vjp(g_tensor, t, *node.inputs)
            if len(node.inputs) == 1 and not isinstance(products, tuple):
                products = (products,)
            elementwise = node.op in ELEMENTWISE
            if elementwise:
                ones = node.vjp(Tensor._wrap(np.ones_like(t.data)), t, *node.inputs)
                if len(node.inputs) == 1 and not isinstance(ones, tuple):
                    ones = (ones,)
            for k, p in enumerate(node.inputs):
                if not p.requires_grad or products[k] is None:
                    continue
                pname = label[id(p)]
                value = _fit(products[k], p)
                d_in = f"d{J}/d{pname}"
                if elementwise:
                    local = _local_derivative(node.op, k, args, name)
                    local_value = np.asarray(ones[k].data)
                    local_text, local_value_text = str(local), _value(local_value)
                    shown = (f"∂{name}/∂{pname} = {local_text}" if local_text == local_value_text
                             else f"∂{name}/∂{pname} = {local_text} = {local_value_text}")
                    say(f"    {shown}")
                    times = "·" if t.size == 1 else "⊙"
                    line = (f"{d_in} = d{J}/d{name} {times} ∂{name}/∂{pname} = "
                            f"{_factor_value(g)} {times} {_factor_value(local_value)}")
                    if p.shape != t.shape:
                        line += f", summed to the shape {p.shape} of {pname}"
                    say(f"    {line} = {_value(value)}")
                    if id(t) in sym and t.size == 1 and p.size == 1:
                        contribution = sym[id(t)] * local
                    else:
                        contribution = None
                else:
                    rule = _structural_rule(node.op, k, args, name, J)
                    say(f"    {d_in} = {rule} = {_value(value)}")
                    contribution = sym[id(t)] if (node.op == "reshape" and id(t) in sym
                                                  and p.size == 1) else None
                if id(p) in grads:
                    total = grads[id(p)] + value
                    say(f"    {pname} is used more than once, so its gradients add up: "
                        f"{d_in} = {_value(grads[id(p)])} + {_factor_value(value)} = {_value(total)}")
                    grads[id(p)] = total
                    if id(p) in sym and contribution is not None:
                        sym[id(p)] = sym[id(p)] + contribution
                    else:
                        sym.pop(id(p), None)
                else:
                    grads[id(p)] = value
                    if contribution is not None:
                        sym[id(p)] = contribution

    # ---- summary ------------------------------------------------------
    say()
    say("Gradients")
    result = {}
    for t in inputs:
        name = label[id(t)]
        g = grads.get(id(t))
        if g is None:
            g = np.zeros_like(t.data)
            say(f"  d{J}/d{name} = 0   ({J} does not depend on {name})")
        else:
            value_text = _value(g)
            formula = str(sym[id(t)]) if id(t) in sym else None
            if formula is None or formula == value_text:
                say(f"  d{J}/d{name} = {value_text}")
            else:
                say(f"  d{J}/d{name} = {formula} = {value_text}")
        result[name] = float(g.reshape(())) if t.ndim == 0 else np.array(g)
    return result


def _fit(gradient, like):
    """A vjp's result summed back to the input's shape and dtype, as the traversal does."""
    if gradient.shape != like.shape:
        gradient = ops.sum_to(gradient, like.shape)
    data = np.asarray(gradient.data)
    if like.data.dtype.kind == "f" and data.dtype != like.data.dtype:
        data = data.astype(like.data.dtype)
    return data


# --------------------------------------------------------------------------
# The command line: chainrule explain "3*(a*b+c)" a=2 b=3 c=4
# --------------------------------------------------------------------------
FUNCTIONS = {
    "exp": ops.exp, "log": ops.log, "sqrt": ops.sqrt, "abs": ops.abs,
    "sin": ops.sin, "cos": ops.cos, "tanh": ops.tanh, "sigmoid": ops.sigmoid,
    "relu": ops.relu, "softplus": ops.softplus,
}
_BINARY = {ast.Add: lambda x, y: x + y, ast.Sub: lambda x, y: x - y,
           ast.Mult: lambda x, y: x * y, ast.Div: lambda x, y: x / y,
           ast.Pow: lambda x, y: x ** y}
_UNARY = {ast.USub: lambda x: -x, ast.UAdd: lambda x: x}

_WHAT = {ast.Attribute: "attribute access", ast.Subscript: "subscripts (indexing)",
         ast.Lambda: "lambda", ast.Call: "a call", ast.Compare: "comparisons",
         ast.BoolOp: "and/or", ast.IfExp: "if/else", ast.List: "lists", ast.Tuple: "tuples",
         ast.Dict: "dicts", ast.Set: "sets", ast.NamedExpr: ":=",
         ast.ListComp: "comprehensions", ast.GeneratorExp: "generators",
         ast.JoinedStr: "f-strings", ast.Starred: "*unpacking"}


class ExpressionError(ValueError):
    """An expression outside the whitelist, or a variable without a value."""


def parse_expression(text, values):
    """Check ``text`` against the whitelist and return its ast (never evaluated by Python).

    Allowed: numbers, the names in ``values``, ``+ - * / **``, unary ``-``/``+``,
    parentheses, and calls with one argument to the functions in FUNCTIONS.
    """
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"cannot parse {text!r}: {e.msg} (at column {e.offset})") from None
    allowed = ", ".join(sorted(FUNCTIONS))

    def check(node):
        if isinstance(node, ast.Expression):
            return check(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ExpressionError(f"only numbers may appear as constants, not {node.value!r}")
            return
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise ExpressionError(f"'{node.id}' is a function: call it, e.g. {node.id}(a)")
            if node.id not in values:
                raise ExpressionError(
                    f"the name '{node.id}' has no value: give it one on the command line, "
                    f"e.g. {node.id}=1.5 (allowed functions: {allowed})")
            return
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise ExpressionError(f"the operator {type(node.op).__name__} is not allowed; "
                                      f"use + - * / **")
            check(node.left)
            check(node.right)
            return
        if isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise ExpressionError(f"the unary operator {type(node.op).__name__} is not "
                                      f"allowed; use - or +")
            check(node.operand)
            return
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                what = ast.unparse(node.func)
                raise ExpressionError(f"calling {what!r} is not allowed; the functions are: "
                                      f"{allowed}")
            if len(node.args) != 1 or node.keywords:
                raise ExpressionError(f"{node.func.id}() takes exactly one argument, "
                                      f"e.g. {node.func.id}(a)")
            check(node.args[0])
            return
        what = _WHAT.get(type(node), type(node).__name__)
        raise ExpressionError(f"not allowed in an expression: {what} ({ast.unparse(node)!r}); "
                              f"use numbers, variables, + - * / ** and the functions {allowed}")

    check(tree)
    return tree


def evaluate(tree, tensors):
    """Interpret a checked ast with chainrule ops (numbers stay Python numbers)."""
    node = tree.body if isinstance(tree, ast.Expression) else tree
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return tensors[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](evaluate(node.left, tensors), evaluate(node.right, tensors))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](evaluate(node.operand, tensors))
    if isinstance(node, ast.Call):
        arg = evaluate(node.args[0], tensors)
        if not isinstance(arg, Tensor):
            arg = Tensor(np.float64(arg))
        return FUNCTIONS[node.func.id](arg)
    raise ExpressionError(f"unexpected {type(node).__name__}")   # parse_expression stops these


def _parse_assignment(text):
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ExpressionError(f"expected NAME=NUMBER (e.g. a=2), got {text!r}")
    if name in FUNCTIONS:
        raise ExpressionError(f"'{name}' is a function name; choose another variable name")
    try:
        number = float(value)
    except ValueError:
        raise ExpressionError(f"the value of {name} must be a number, got {value!r} "
                              f"(e.g. {name}=2)") from None
    if not math.isfinite(number):
        raise ExpressionError(f"the value of {name} must be a finite number, got {value!r}")
    return name, number


def main(argv=None):
    """``chainrule explain EXPRESSION NAME=VALUE ...``; returns the exit code (2: bad input)."""
    parser = argparse.ArgumentParser(
        prog="chainrule explain",
        description="Print the forward values and every backward step of an expression.",
        epilog=f'example: chainrule explain "3*(a*b+c)" a=2 b=3 c=4. Functions: '
               f'{", ".join(sorted(FUNCTIONS))}.')
    parser.add_argument("expression", help='e.g. "3*(a*b+c)" (quote it for the shell)')
    parser.add_argument("values", nargs="*", metavar="NAME=VALUE", help="e.g. a=2 b=3 c=4")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:          # --help (0) or a usage error (2): report, don't exit
        return int(e.code or 0)
    try:
        values = dict(_parse_assignment(v) for v in args.values)
        tree = parse_expression(args.expression, values)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        unused = sorted(set(values) - used)
        if unused:
            raise ExpressionError(f"{', '.join(unused)} given a value but not used in "
                                  f"{args.expression!r}")
        if not used:
            raise ExpressionError(f"{args.expression!r} has no variables to differentiate; "
                                  f"use names such as a, b and give them values (a=2)")
    except ExpressionError as e:
        print(f"chainrule explain: {e}", file=sys.stderr)
        return 2
    tensors = {}
    for name, number in values.items():     # in the order given on the command line
        t = Tensor(np.float64(number), requires_grad=True)
        t.name = name
        tensors[name] = t
    with np.errstate(all="ignore"):
        output = evaluate(tree, tensors)
        out_name = next(n for n in ("J", "L", "out", "result") if n not in values)
        print(f"{out_name} = {args.expression}")
        print()
        is_input = any(output is t for t in tensors.values())    # e.g. the expression "a"
        explain(output, inputs=tensors, names=None if is_input else {out_name: output})
    return 0
