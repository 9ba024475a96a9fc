"""``chainrule explain "3*(a*b+c)" a=2 b=3 c=4``: :func:`chainrule.explain.explain`
from the shell.

The expression is parsed with :mod:`ast` and only a small whitelist of syntax
is interpreted (numbers, the variables given, ``+ - * / **``, unary minus
and a few functions); it is never passed to ``eval``.
"""
from __future__ import annotations

import argparse
import ast
import math
import sys
from typing import NoReturn, Sequence, cast

import numpy as np

from . import ops
from .explain import explain
from .tensor import Tensor

__all__ = ["FUNCTIONS", "ExpressionError", "parse_expression", "evaluate", "main"]


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


_MAX_LENGTH = 10_000      # characters: a readable explanation is far shorter
_MAX_DEPTH = 200          # nesting levels; a+b+c+... nests one level per term


class ExpressionError(ValueError):
    """An expression outside the whitelist, or a variable without a value."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _depth(tree):
    """The deepest nesting of expressions in ``tree`` (``a+b+c`` is 3: two
    additions and a name), counted without recursion."""
    deepest, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        depth += isinstance(node, ast.expr)
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in ast.iter_child_nodes(node))
    return deepest


def _constant(value):
    """A number of the expression as a float64 (constants are floats, as the
    variables are: ``9**9**9`` is then inf at once, not an exact integer
    that takes forever)."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ExpressionError(f"the number {_short(repr(value))} is beyond float64's range "
                              f"(about 1.8e308)")
    return np.float64(number)


def _short(text, limit=40):
    return text if len(text) <= limit else f"{text[:limit - 20]}...{text[-15:]}"


def parse_expression(text: str, values: dict[str, float]) -> ast.Expression:
    """Check ``text`` against the whitelist and return its ast (never evaluated by Python).

    Allowed: numbers, the names in ``values``, ``+ - * / **``, unary ``-``/``+``,
    parentheses, and calls with one argument to the functions in FUNCTIONS.

    Args:
        text: the expression, e.g. ``"3*(a*b+c)"``.
        values: the variables it may use, ``{name: number}``.

    Returns:
        The checked ``ast.Expression``; raises ``ExpressionError`` on anything else.
    """
    if len(text) > _MAX_LENGTH:
        raise ExpressionError(f"the expression has {len(text)} characters; at most "
                              f"{_MAX_LENGTH} make an explanation one can read")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        why = "a number has more than 4300 digits" if "4300 digits" in e.msg else e.msg
        raise ExpressionError(f"cannot parse {_short(text)!r}: {why} "
                              f"(at column {e.offset})") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"the expression nests too deeply for Python's parser; at "
                              f"most {_MAX_DEPTH} levels") from None
    depth = _depth(tree)
    if depth > _MAX_DEPTH:
        raise ExpressionError(f"the expression nests {depth} levels deep; at most "
                              f"{_MAX_DEPTH} (each term of a+b+c+... or each unary minus is "
                              f"one level)")
    allowed = ", ".join(sorted(FUNCTIONS))

    def check(node):
        if isinstance(node, ast.Expression):
            return check(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ExpressionError(f"only numbers may appear as constants, not "
                                      f"{_short(repr(node.value))}")
            try:
                _constant(node.value)
            except ExpressionError:
                written = ast.get_source_segment(text, node) or repr(node.value)
                raise ExpressionError(f"the number {_short(written)} is beyond float64's "
                                      f"range (about 1.8e308)") from None
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


def evaluate(tree: ast.AST, tensors: dict[str, Tensor]) -> Tensor | np.float64:
    """Interpret a checked ast with chainrule ops; numbers are float64 scalars
    (so an overflow is inf, never a huge exact integer).

    Args:
        tree: what ``parse_expression`` returned (or one of its nodes).
        tensors: the value of each variable, ``{name: Tensor}``.

    Returns:
        The expression's value: a Tensor, or a float64 when no variable is in it.
    """
    node = tree.body if isinstance(tree, ast.Expression) else tree
    if isinstance(node, ast.Constant):
        return _constant(node.value)
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
        return FUNCTIONS[cast(ast.Name, node.func).id](arg)     # parse_expression checked it
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


def main(argv: Sequence[str] | None = None) -> int:
    """``chainrule explain EXPRESSION NAME=VALUE ...``; returns the exit code (2: bad input).

    Args:
        argv: the arguments after ``explain``; None means ``sys.argv[1:]``.

    Returns:
        The exit code: 0 when explained, 2 on bad input.
    """
    parser = _Parser(
        prog="chainrule explain",
        description="Print the forward values and every backward step of an expression.",
        epilog=f'example: chainrule explain "3*(a*b+c)" a=2 b=3 c=4. Functions: '
               f'{", ".join(sorted(FUNCTIONS))}.')
    parser.add_argument("expression", help='e.g. "3*(a*b+c)" (quote it for the shell)')
    parser.add_argument("values", nargs="*", metavar="NAME=VALUE", help="e.g. a=2 b=3 c=4")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--"):
        argv = ["--", *argv]         # an expression such as "-a*b" is not an option
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
        if not np.all(np.isfinite(output.data if isinstance(output, Tensor) else output)):
            at = ", ".join(f"{k}={v:g}" for k, v in values.items())
            print(f"chainrule explain: {_short(args.expression)} is "
                  f"{float(np.asarray(getattr(output, 'data', output))):g} at {at}, not a "
                  f"finite number (a division by zero, an overflow past float64, or a root or "
                  f"log of a negative number); choose other values", file=sys.stderr)
            return 2
        out_name = next(n for n in ("J", "L", "out", "result") if n not in values)
        print(f"{out_name} = {args.expression}")
        print()
        assert isinstance(output, Tensor)      # it uses a variable (checked above): a Tensor
        is_input = any(output is t for t in tensors.values())    # e.g. the expression "a"
        explain(output, inputs=tensors, names=None if is_input else {out_name: output})
    return 0
