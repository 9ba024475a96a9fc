"""Compiled steps: ``cr.jit`` traces a function once and replays it as flat NumPy code.

The first call with given input shapes and dtypes runs ``fn`` eagerly while a
*tracer* watches everything it does to tensors, and writes it down as one
straight-line Python function over NumPy arrays (``compiled.code`` shows it):

- **op calls**: each call of a public op (``chainrule.ops``) is one line. An
  op whose rule declares an ``array_forward`` (``rules.declare``) and whose
  array vjp is fixed becomes a bare NumPy call (``v3 = tanh(v2)``); any other
  op is called again through its own function on the new arrays
  (``o4 = dropout(s4, 0.5, ...)``), so random ops draw fresh numbers and
  per-call vjps (masks, indices) are made fresh;
- **the backward**: ``loss.backward()``, ``cr.grad`` and the tape run through
  the tracer's own traversal, which writes one line per array vjp, in reverse
  order of the forward lines, with the broadcasting sums it needed;
- **effects**: methods that change state (``Optimizer.apply_gradients``,
  ``Metric.update_state``, BatchNormalization's moving statistics,
  ``Variable.assign``) are marked with ``graph.effect``; the tracer writes a
  call of the method with the new arrays, so the optimizer's slots and
  ``iterations`` update in place at every replay, as in eager mode.

Later calls with the same shapes, dtypes and Python arguments run that
function: no ``Node``, no traversal, no layer code. A new shape, dtype or
Python argument traces again (a small cache, as ``tf.function``).

As in JAX and TensorFlow, Python side effects in ``fn`` (a ``print``, a list
append) happen once, at trace time, and Python values are constants of the
trace. Reading a traced tensor's value in Python (``float(loss)``, ``if loss
> 0:``, ``.item()``, ``.numpy()``) would freeze it, so it raises ``JitError``
during the trace: return the tensor instead and read it outside. Reading
``.data`` directly is not caught.
"""
from __future__ import annotations

import functools
import itertools
import sys
import threading
from typing import Any, Callable, Optional

import numpy as np

from . import graph
from .graph import TRACER, IndexedGrad, JitError
from .rules import PER_CALL, RULES, Rule
from .tensor import Tensor

__all__ = ["jit", "Compiled", "JitError", "TensorSpec"]

_wrap = Tensor._wrap


class TensorSpec:
    """The shape and dtype an input of a ``jit`` function must have
    (TensorFlow's ``tf.TensorSpec``; ``None`` in the shape: any size).

    Args:
        shape: the dimensions, ``None`` for a free one.
        dtype: the dtype the input must have (it is not cast).
    """

    def __init__(self, shape: Optional[tuple] = None, dtype: Any = "float32") -> None:
        self.shape = None if shape is None else tuple(shape)
        self.dtype = np.dtype(dtype)

    def check(self, value: np.ndarray, position: int) -> None:
        """Raise ``JitError`` unless ``value`` fits this spec.

        Args:
            value: the input's array.
            position: its place among the function's array inputs (for the message).
        """
        if value.dtype != self.dtype:
            raise JitError(f"input {position} has dtype {value.dtype}, but the function was "
                           f"compiled for {self.dtype} (input_signature). Cast it first "
                           f"(x.astype('{self.dtype}')), or leave out input_signature to let "
                           f"a new dtype trace again.")
        if self.shape is not None and (len(self.shape) != value.ndim or any(
                s is not None and s != v for s, v in zip(self.shape, value.shape))):
            raise JitError(f"input {position} has shape {value.shape}, but the "
                           f"input_signature says {self.shape}")

    def __repr__(self) -> str:
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype})"


# --------------------------------------------------------------------------
# Which calls are op calls
# --------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _op_codes() -> dict:
    """code object -> function, for every public op function (an op call is
    replayed as a unit) and every declared rule's function."""
    from . import ops, random
    codes: dict[Any, Any] = {}
    modules = [m for m in vars(ops).values() if getattr(m, "__name__", "").startswith(
        "chainrule.ops.")] + [random]
    functions = [getattr(module, name, None) for module in modules
                 for name in getattr(module, "__all__", ())]
    for fn in functions + [rule.function for rule in RULES.values()] + list(graph.REPLAYED):
        code = getattr(fn, "__code__", None)
        if code is None:
            continue
        if fn.__closure__ is not None:
            # made by a factory (the comparisons): one code for several
            # functions, told apart at the call by what their closures hold
            candidates = codes.setdefault(code, _Made([]))
            if type(candidates) is _Made and fn not in candidates:
                candidates.append(fn)
            continue
        codes[code] = fn
    from .autodiff import custom_gradient            # its wrapper: one code, many functions
    codes[custom_gradient(_identity_with_gradient).__code__] = _CUSTOM_GRADIENT
    return codes


_CUSTOM_GRADIENT = object()


def _identity_with_gradient(x: Any) -> tuple[Any, Callable[..., Any]]:
    return x, lambda g: g


class _Made(list):
    """The functions a factory made with one code object."""

    def pick(self, frame):
        """The one whose closure holds what ``frame``'s free variables hold."""
        names = frame.f_code.co_freevars
        for fn in self:
            if all(frame.f_locals.get(n) is c.cell_contents for n, c in zip(names, fn.__closure__)):
                return fn
        return None


# --------------------------------------------------------------------------
# Flattening arguments and results
# --------------------------------------------------------------------------
def _flatten(value, leaves, statics):
    """The structure of ``value`` as a hashable key; its arrays and tensors go
    to ``leaves``, anything else is a static (part of the key)."""
    if isinstance(value, Tensor):
        leaves.append(value)
        return ("T", value.data.shape, value.data.dtype.str, value.requires_grad)
    if isinstance(value, np.ndarray):
        leaves.append(value)
        return ("A", value.shape, value.dtype.str)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_flatten(v, leaves, statics) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _flatten(v, leaves, statics)) for k, v in value.items()))
    try:
        hash(value)
        statics.append(value)
        return ("S", type(value).__name__, value)
    except TypeError:
        statics.append(value)
        return ("O", id(value))


def _structure(value):
    """The shape of a result (containers and kinds of leaves), for comparing
    the result of two traces."""
    if isinstance(value, (Tensor, np.ndarray)):
        return "tensor"
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_structure(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _structure(v)) for k, v in value.items()))
    return type(value).__name__


# --------------------------------------------------------------------------
# Helpers the generated code calls
# --------------------------------------------------------------------------
def _tensor_vjp(node, g, out):
    """An op without an array vjp: its differentiable vjp, recording off."""
    with graph.no_grad():
        in_grads = node.vjp(_wrap(g), out, *node.inputs)
    if type(in_grads) is tuple:
        return tuple(None if gp is None else gp.data for gp in in_grads)
    return None if in_grads is None else in_grads.data


def _subgraph_backward(outputs, seeds, boundary):
    """Gradients of ``boundary`` tensors through an op call that recorded
    several nodes (the eager traversal on that call's small graph)."""
    grads = graph.run_backward(outputs, [_wrap(s) for s in seeds], targets=boundary,
                               accumulate=False, retain_graph=True)
    return tuple(g.data if isinstance(g, Tensor) else g for g in grads)


def _d_square_arrays(needs, g, out, x):
    product = np.multiply(g, x)
    return np.add(product, product, out=product)


def _densify(g, like):
    if type(g) is IndexedGrad:
        dense = np.zeros(like.shape, like.dtype)
        g.add_into(dense)
        return dense
    return g


def _fit(g, like):
    return graph._fit_array(_densify(g, like), like, "jit", False)


# --------------------------------------------------------------------------
# The tracer
# --------------------------------------------------------------------------
class _Unit:
    """One forward line of the trace: an op call or a kernel, with what its
    backward needs."""
    __slots__ = ("kind", "name", "outputs", "node_inputs", "needs", "vjp", "call")

    def __init__(self, kind, name):
        self.kind, self.name = kind, name
        self.outputs = []          # (var name, trace-time Tensor, replay expression of the Tensor)
        self.node_inputs = ()      # a kernel's inputs, the flags of those needing a gradient,
        self.needs = ()            # and its array vjp
        self.vjp = None
        self.call = {}             # an op call's shells: id(the tensor it was given) -> shell


class _Tracer:
    def __init__(self, name):
        self.name = name
        self.thread = threading.get_ident()
        self.names = {}            # id(array) -> the variable holding it in the code
        self.keep = []             # every array named, kept alive so ids stay unique
        self.ns = {"np": np, "_wrap": _wrap, "_tensor_vjp": _tensor_vjp, "_fit": _fit,
                   "_subgraph_backward": _subgraph_backward}
        self.const_names = {}
        self.lines = []
        self.units = []
        self.stack = []            # op frames being called: [frame, entry or None]
        self.paused = 0
        self.counter = itertools.count()
        self.op_codes = _op_codes()
        self.custom = {}

    # -- names -------------------------------------------------------------
    def fresh(self, prefix):
        return f"{prefix}{next(self.counter)}"

    def name_array(self, array, var):
        self.names[id(array)] = var
        self.keep.append(array)

    def const(self, obj, hint=None):
        """The name the code calls ``obj`` by: ``hint``, a function by its own
        name, a named weight by its name, anything else ``c<n>``."""
        key = id(obj)
        name = self.const_names.get(key)
        if name is None:
            base = hint or (getattr(obj, "__name__", None) if callable(obj) else
                            getattr(obj, "name", None) if isinstance(obj, Tensor) else None)
            base = base.lstrip("_") if isinstance(base, str) else ""
            base = _identifier(base) if base[:1].isalpha() else "c"
            name = base if base != "c" and base not in self.ns else \
                f"{base}_{next(self.counter)}" if base != "c" else self.fresh("c")
            self.const_names[key] = name
            self.ns[name] = obj
            self.keep.append(obj)
        return name

    def traced(self, tensor):
        return not self.paused and id(tensor.data) in self.names and \
            threading.get_ident() == self.thread

    def ref(self, tensor):
        """Code for ``tensor``'s value at replay: its variable, or (a tensor
        from outside, a weight) its live ``.data``."""
        var = self.names.get(id(tensor.data))
        return var if var is not None else f"{self.const(tensor)}.data"

    def shell(self, tensor, var):
        """A Tensor made once, whose ``.data`` the code sets to ``var`` before
        each call that takes it."""
        shell = _wrap(tensor.data)
        shell.requires_grad = tensor.requires_grad
        name = self.const(shell)
        self.lines.append(f"{name}.data = {var}")
        return name, shell

    def arg_code(self, value, shells):
        """Code that rebuilds an argument at replay: traced tensors as shells,
        traced arrays as their variables, everything else as a constant."""
        if isinstance(value, Tensor):
            var = self.names.get(id(value.data))
            if var is None:
                return self.const(value)
            name, shell = self.shell(value, var)
            shells[id(value)] = shell
            return name
        if isinstance(value, np.ndarray):
            return self.names.get(id(value)) or self.const(value)
        if isinstance(value, (list, tuple)) and any(_has_tensor(v) for v in value):
            inner = ", ".join(self.arg_code(v, shells) for v in value)
            return f"[{inner}]" if isinstance(value, list) else f"({inner},)"
        if isinstance(value, dict) and any(_has_tensor(v) for v in value.values()):
            inner = ", ".join(f"{self.const(k)}: {self.arg_code(v, shells)}"
                              for k, v in value.items())
            return "{" + inner + "}"
        return self.const(value)

    # -- the hooks ---------------------------------------------------------
    def profile(self, frame, event, arg):
        if event == "call":
            fn = self.op_codes.get(frame.f_code)
            if type(fn) is _Made:
                fn = fn.pick(frame)
            if fn is not None:
                if fn is _CUSTOM_GRADIENT:      # a cr.custom_gradient function: that wrapper again
                    from .autodiff import custom_gradient
                    user_fn = frame.f_locals["f"]
                    fn = self.custom.get(id(user_fn))
                    if fn is None:
                        fn = self.custom[id(user_fn)] = custom_gradient(user_fn)
                        self.keep.append(user_fn)
                outer = not self.stack and not self.paused
                self.stack.append([frame, (fn, dict(frame.f_locals), []) if outer else None])
        elif event == "return" and self.stack and self.stack[-1][0] is frame:
            _, entry = self.stack.pop()
            if entry is not None and arg is not None:
                self.op_call(*entry, arg)

    def on_record(self, op, out, inputs):
        if self.paused or threading.get_ident() != self.thread:
            return
        if self.stack:
            entry = self.stack[0][1]
            if entry is not None:
                entry[2].append((op, out, inputs))
            return
        if not self.kernel(op, out, inputs):
            name = getattr(op, "name", op)
            raise JitError(f"op '{name}' was recorded outside an op function, and its rule "
                           f"declares no array_forward: jit cannot replay it")

    def on_convert(self, source, result):
        """A traced array converted outside any op (a cast on the way into a
        layer, ``cr.tensor(x)``): the same conversion at replay."""
        if self.paused or self.stack or threading.get_ident() != self.thread:
            return
        var = self.names.get(id(source))
        if var is not None:
            new = self.fresh("v")
            self.lines.append(f"{new} = np.array({var}, dtype={self.const(result.dtype)})")
            self.name_array(result, new)

    # -- forward lines -----------------------------------------------------
    def kernel(self, op, out, inputs, call_args=None):
        """A one-node op whose rule declares its array forward: a bare call.
        (An op with ``replay``: the forward it makes for this call's
        arguments, and this call's own array vjp.)"""
        if type(op) is not Rule:
            return False
        node = out._node
        if op.array_forward is not None and op.array_vjp is not None and op.array_vjp != PER_CALL:
            if node is not None and node.array_vjp is not op.array_vjp:
                return False          # a per-call vjp: the op call replays instead
            forward, vjp = op.array_forward, op.array_vjp
        elif op.replay is not None and call_args is not None:
            forward = op.replay(**call_args)
            vjp = None if node is None else node.array_vjp
            if node is not None and vjp is None:
                return False
        else:
            return False
        if op.name == "multiply" and len(inputs) == 2 and inputs[0] is inputs[1] and \
                vjp is op.array_vjp:
            # x * x: one input, and its gradient g·x + g·x as one product doubled
            # (the same number: doubling is exact)
            inputs, vjp = (inputs[0],), _d_square_arrays
        var = self.fresh("v")
        args = ", ".join(self.ref(t) for t in inputs)
        if len(inputs) == 1 and vjp is _d_square_arrays:
            args = f"{args}, {args}"
        self.lines.append(f"{var} = {self.const(forward, op.name)}({args})")
        unit = _Unit("kernel", op.name)
        unit.outputs = [(var, out, None)]
        unit.node_inputs = tuple(inputs)
        unit.needs = tuple(t.requires_grad for t in inputs)
        unit.vjp = vjp
        self._add_unit(unit, var, out)
        return True

    def op_call(self, fn, args, records, result):
        arrays = (result,) if isinstance(result, np.ndarray) else tuple(result) \
            if isinstance(result, tuple) and result and all(
                isinstance(a, np.ndarray) for a in result) else None
        if arrays is not None:      # a function marked graph.replayed (a draw, a mask's layout)
            fresh = [a for a in arrays if id(a) not in self.names]
            if fresh:
                out = self.fresh("o")
                self.lines.append(f"{out} = {self._call_code(fn, args, {})}")
                for k, a in enumerate(arrays):
                    if id(a) not in self.names:
                        self.name_array(a, out if a is result else f"{out}[{k}]")
            return
        leaves = _leaves(result, ())
        new = [(path, t) for path, t in leaves
               if isinstance(t, Tensor) and id(t.data) not in self.names]
        arrays_out = [(path, a) for path, a in leaves      # beside the tensors (log-probabilities)
                      if isinstance(a, np.ndarray) and id(a) not in self.names]
        if not new and not arrays_out:
            return                      # the op returned tensors it was given
        if len(records) == 1 and len(new) == 1 and records[0][1] is new[0][1] and \
                getattr(records[0][0], "function", None) is fn:
            op, out, inputs = records[0]
            if self.kernel(op, out, inputs, args):
                return
        shells = {}
        out_var = self.fresh("o")
        self.lines.append(f"{out_var} = {self._call_code(fn, args, shells)}")
        unit = _Unit("call", fn.__name__)
        unit.call = shells
        for path, t in new:
            expr = out_var + "".join(f"[{p!r}]" for p in path)
            var = self.fresh("v")
            self.lines.append(f"{var} = {expr}.data")
            unit.outputs.append((var, t, expr))
            self._add_unit(unit, var, t, register_unit=False)
        for path, a in arrays_out:
            self.name_array(a, out_var + "".join(f"[{p!r}]" for p in path))
        self.units.append(unit)

    def _call_code(self, fn, args, shells):
        """Code calling ``fn`` again with the arguments it was called with
        (``args``: its frame's locals at the call), traced ones as at replay."""
        code = fn.__code__
        n_pos = code.co_argcount
        positional = [self.arg_code(args[n], shells) for n in code.co_varnames[:n_pos]]
        extra = []
        index = n_pos + code.co_kwonlyargcount
        if code.co_flags & 0x04:                        # *args
            extra.append("*" + self.arg_code(tuple(args[code.co_varnames[index]]), shells))
            index += 1
        keywords = [f"{n}={self.arg_code(args[n], shells)}"
                    for n in code.co_varnames[n_pos:n_pos + code.co_kwonlyargcount]]
        if code.co_flags & 0x08:                        # **kwargs
            extra.append("**" + self.arg_code(dict(args[code.co_varnames[index]]), shells))
        return f"{self.const(fn)}({', '.join(positional + extra + keywords)})"

    def _add_unit(self, unit, var, out, register_unit=True):
        self.name_array(out.data, var)
        if register_unit:
            self.units.append(unit)

    # -- effects -----------------------------------------------------------
    def effect(self, method, args, kwargs):
        args = tuple(list(a) if _is_iterator(a) else a for a in args)
        # An object may offer a specialised replay of the method: a function of
        # the arrays of some tensors, with the per-call checks made once.
        special = getattr(args[0], "_replay_" + method.__name__, None) if args else None
        prepared = special(*args[1:], **kwargs) if special is not None else None
        if prepared is not None:
            tensors, update = prepared
            refs = [self.ref(t) if isinstance(t, Tensor) else
                    (self.names.get(id(t)) or self.const(t)) for t in tensors]
            self.paused += 1
            try:
                result = update(*[t.data if isinstance(t, Tensor) else t for t in tensors])
            finally:
                self.paused -= 1
            self.lines.append(f"{self.fresh('r')} = {self.const(update)}({', '.join(refs)})"
                              f"   # {method.__name__}")
            return result
        shells = {}
        call = ", ".join([self.arg_code(a, shells) for a in args] +
                         [f"{k}={self.arg_code(v, shells)}" for k, v in kwargs.items()])
        self.paused += 1
        try:
            result = method(*args, **kwargs)
        finally:
            self.paused -= 1
        var = self.fresh("r")
        self.lines.append(f"{var} = {self.const(method)}({call})")
        data = result.data if isinstance(result, Tensor) else result
        if isinstance(data, np.ndarray) and id(data) not in self.names:
            self.name_array(data, var + ".data" if isinstance(result, Tensor) else var)
        return result

    # -- the backward ------------------------------------------------------
    def backward(self, roots, seeds, targets, accumulate, retain_graph):
        grads = {}        # var (or id of an outside leaf) -> [code name, trace-time array]
        leaves = {}       # id -> outside leaf tensor that got a gradient
        self.paused += 1
        try:
            for root, seed in zip(roots, seeds):
                self._add_grad(grads, leaves, root, seed.data, self.ref(seed))
            for unit in reversed(self.units):
                outs = [(var, t, expr) for var, t, expr in unit.outputs if var in grads]
                if not outs:
                    continue
                if unit.kind == "kernel":
                    (var, t, _), = outs
                    g_name, g = grads.pop(var)
                    ins = [self.ref(i) for i in unit.node_inputs]
                    in_grads = unit.vjp(unit.needs, g, t.data, *[i.data for i in unit.node_inputs])
                    code = (f"{self.const(unit.vjp)}({unit.needs!r}, {g_name}, {var}, "
                            f"{', '.join(ins)})")
                    self._spread(grads, leaves, unit.node_inputs, in_grads, code)
                else:
                    self._call_backward(grads, leaves, unit, outs)
        finally:
            self.paused -= 1
        if targets is not None:
            result, seen = [], set()
            for t in targets:
                key = self.names.get(id(t.data))
                if key is None:
                    key = id(t)
                entry = grads.get(key)
                if entry is None:
                    result.append(None)
                    continue
                name, g = entry
                if id(g) in seen:             # the same array for two targets: a copy each
                    g = g.copy()
                    name = self._emit(f"{name}.copy()")
                seen.add(id(g))
                if id(g) not in self.names:
                    self.name_array(g, name)
                result.append(_wrap(g))          # as the eager traversal: tensors
            return result
        if accumulate:
            # A leaf whose .grad was None at trace time gets a fresh .grad at
            # every replay; one that had a .grad accumulates into it (the trace
            # assumes the same pattern at every call, as JAX and tf.function do).
            seen_owners = set()
            for key, leaf in leaves.items():
                name, g = grads[key]
                leaf_name = self.const(leaf)
                if leaf.grad is None:
                    leaf.grad = graph._own_array(g, seen_owners)
                    copied = leaf.grad.data is not g
                    self.lines.append(f"{leaf_name}.grad = _wrap({name}{'.copy()' * copied})")
                else:
                    self.lines.append(f"{leaf_name}.grad = _wrap({leaf_name}.grad.data + {name})")
                    leaf.grad = _wrap(leaf.grad.data + g)
                self.name_array(leaf.grad.data, f"{leaf_name}.grad.data")
        return None

    def _emit(self, expr):
        var = self.fresh("g")
        self.lines.append(f"{var} = {expr}")
        return var

    def _spread(self, grads, leaves, inputs, in_grads, code):
        """Write the vjp ``code`` as a line and add each input's gradient."""
        tmp = self._emit(code)
        if len(inputs) == 1 and type(in_grads) is not tuple:
            in_grads, names = (in_grads,), [tmp]
        else:
            names = [f"{tmp}[{k}]" for k in range(len(inputs))]
        for p, gp, name in zip(inputs, in_grads, names):
            if gp is not None and p.requires_grad:
                self._add_grad(grads, leaves, p, gp, name)

    def _add_grad(self, grads, leaves, p, gp, name):
        """Add ``gp`` (code ``name``) to ``p``'s gradient, summed back to its
        shape and dtype first where it needs to be."""
        pd = p.data
        if type(gp) is not np.ndarray and type(gp) is not IndexedGrad:
            # a NumPy scalar (a 0-d op's vjp): as an array, so that it keeps its name
            gp = np.asarray(gp)
            name = self._emit(f"np.asarray({name})")
        if type(gp) is IndexedGrad or gp.shape != pd.shape or (
                gp.dtype != pd.dtype and pd.dtype.kind == "f"):
            gp = _fit(gp, pd)
            name = self._emit(f"_fit({name}, {self.const(_Like(pd))})")
        var = self.names.get(id(pd))
        if var is None:
            if not p.requires_grad or p._node is not None:
                return
            key = id(p)
            leaves[key] = p
            self.keep.append(p)
        else:
            key = var
        prev = grads.get(key)
        if prev is None:
            grads[key] = [name, gp]
        else:
            total = prev[1] + gp
            grads[key] = [self._emit(f"{prev[0]} + {name}"), total]

    def _call_backward(self, grads, leaves, unit, outs):
        """The backward of an op call: its one node's vjp, or the eager
        traversal over the nodes it recorded."""
        single = len(unit.outputs) == 1 and unit.outputs[0][1]._node is not None and all(
            i._node is None or id(i.data) in self.names or id(i) in unit.call
            for i in unit.outputs[0][1]._node.inputs)
        shells = unit.call
        if single:
            (var, t, expr), = outs
            g_name, g = grads.pop(var)
            node = t._node
            inputs = node.inputs
            needs = tuple(i.requires_grad for i in inputs)
            node_code = self._emit(f"{expr}._node")
            ins = ", ".join(f"{node_code}.inputs[{k}].data" for k in range(len(inputs)))
            if node.array_vjp is not None:
                in_grads = node.array_vjp(needs, g, t.data, *[i.data for i in inputs])
                code = f"{node_code}.array_vjp({needs!r}, {g_name}, {var}, {ins})"
            else:
                in_grads = _tensor_vjp(node, g, t)
                code = f"_tensor_vjp({node_code}, {g_name}, {expr})"
            self._spread(grads, leaves, inputs, in_grads, code)
            return
        # several nodes: the traversal over the call's own graph, from its
        # outputs back to the tensors it was given and the weights it read
        boundary = self._boundary([t for _, t, _ in outs],
                                  {id(t) for _, t, _ in unit.outputs})
        if not boundary:
            for var, _, _ in outs:
                grads.pop(var)
            return
        seeds = [grads.pop(var) for var, _, _ in outs]
        graph_outs = [t for _, t, _ in outs]
        in_grads = _subgraph_backward(graph_outs, [g for _, g in seeds], boundary)
        replay_boundary = "[" + ", ".join(self.const(shells.get(id(b), b)) for b in boundary) + "]"
        code = (f"_subgraph_backward([{', '.join(e for _, _, e in outs)}], "
                f"[{', '.join(n for n, _ in seeds)}], {replay_boundary})")
        tmp = self._emit(code)
        for k, (b, gb) in enumerate(zip(boundary, in_grads)):
            if gb is not None:
                self._add_grad(grads, leaves, b, gb, f"{tmp}[{k}]")

    def _boundary(self, outputs, own):
        """The tensors an op call's graph starts from: traced values made
        before the call and leaves (weights), those that need a gradient."""
        boundary, seen, stack = [], set(), list(outputs)
        while stack:
            t = stack.pop()
            if id(t) in seen:
                continue
            seen.add(id(t))
            if id(t) not in own and (t._node is None or id(t.data) in self.names):
                if t.requires_grad:
                    boundary.append(t)
                continue
            if t._node is not None:
                stack.extend(t._node.inputs)
        return boundary


class _Like:
    """Shape and dtype of an array, without keeping the array."""
    __slots__ = ("shape", "dtype")

    def __init__(self, array):
        self.shape, self.dtype = array.shape, array.dtype


def _has_tensor(value):
    if isinstance(value, (Tensor, np.ndarray)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(_has_tensor(v) for v in value.values())
    return False


def _is_iterator(value):
    return hasattr(value, "__next__") and not isinstance(value, (Tensor, np.ndarray))


def _leaves(value, path):
    """(path, leaf) for the tensors and arrays inside a result (tuples, lists, dicts)."""
    if isinstance(value, (Tensor, np.ndarray)):
        return [(path, value)]
    if isinstance(value, (list, tuple)):
        value = dict(enumerate(value))
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, path + (k,))]
    return []


# --------------------------------------------------------------------------
# The compiled function
# --------------------------------------------------------------------------
class _Program:
    """One trace: the generated function and what it was traced for."""

    def __init__(self, fn, code, structure):
        self.fn, self.code, self.structure = fn, code, structure


_NONE = ("None",)


class Compiled:
    """A function compiled by ``cr.jit``; call it as the function.

    Args:
        fn: the function to compile.
        input_signature: a ``TensorSpec`` per array argument, or None.
        max_traces: how many traces to keep.

    Attributes:
        code: the generated replay code of the latest trace (to read).
        traces: how many traces it holds.
    """

    def __init__(self, fn: Callable, input_signature: Optional[list] = None,
                 max_traces: int = 8) -> None:
        if not callable(fn):
            raise TypeError(f"jit needs a function, got {type(fn).__name__}")
        self.fn = fn
        self.input_signature = None if input_signature is None else list(input_signature)
        self.max_traces = int(max_traces)
        self._lock = threading.RLock()
        self._cache: dict[Any, _Program] = {}      # the general key -> its _Program
        self._by_shape: dict[Any, _Program] = {}   # arrays-in calls: shapes and dtypes -> it
        self._structure = None
        self._latest: Optional[_Program] = None
        functools.update_wrapper(self, fn)

    @property
    def code(self) -> str:
        return "" if self._latest is None else self._latest.code

    @property
    def traces(self) -> int:
        return len(self._cache)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function: replay its trace for these shapes and dtypes, or
        trace it (the first call with them).

        Args:
            *args: the function's arguments (arrays and tensors are traced).
            **kwargs: its keyword arguments.

        Returns:
            What the function returns, with fresh tensors for traced values.
        """
        if TRACER[0] is not None:        # inside another trace: be part of it
            return self.fn(*args, **kwargs)
        if not kwargs and self.input_signature is None:
            # the usual call, arrays in: a flat key without the general walk
            flat = tuple([(a.shape, a.dtype) if type(a) is np.ndarray else
                          _NONE if a is None else None for a in args])
            if None not in flat:
                program = self._by_shape.get((flat, graph.is_grad_enabled()))
                if program is not None:
                    # one replay at a time: the code's shells (tensors whose .data it
                    # sets before an op call) are shared by every call
                    with self._lock:
                        if _NONE in flat:
                            return program.fn(*[a for a in args if a is not None])
                        return program.fn(*args)
        leaves: list[Any] = []
        statics: list[Any] = []
        key = (_flatten((args, kwargs), leaves, statics), graph.is_grad_enabled())
        if self.input_signature is not None:
            arrays = [t.data if isinstance(t, Tensor) else t for t in leaves]
            if len(arrays) != len(self.input_signature):
                raise JitError(f"{getattr(self.fn, '__name__', 'fn')} was compiled for {len(self.input_signature)} "
                               f"inputs (input_signature); got {len(arrays)}")
            for k, (spec, a) in enumerate(zip(self.input_signature, arrays)):
                spec.check(a, k)
        program = self._cache.get(key)
        if program is None:
            with self._lock:
                result = self._trace(key, args, kwargs, leaves)
            if not kwargs and self._latest is not None and \
                    all(type(a) is np.ndarray or a is None for a in args):
                flat = tuple((a.shape, a.dtype) if a is not None else _NONE for a in args)
                self._by_shape[(flat, key[1])] = self._latest
            return result
        with self._lock:
            return program.fn(*[t.data if type(t) is Tensor else t for t in leaves])

    def _trace(self, key, args, kwargs, leaves):
        tracer = _Tracer(getattr(self.fn, "__name__", "fn"))
        inputs = []
        for k, leaf in enumerate(leaves):
            array = leaf.data if isinstance(leaf, Tensor) else leaf
            tracer.name_array(array, f"a{k}")
            inputs.append(f"a{k}")
        previous = sys.getprofile()
        TRACER[0] = tracer
        sys.setprofile(tracer.profile)
        try:
            result = self.fn(*args, **kwargs)
        finally:
            TRACER[0] = None
            if previous is not None and not callable(previous) and hasattr(previous, "enable"):
                previous.enable()          # cProfile's profiler: it puts itself back
            else:
                sys.setprofile(previous)
        structure = _structure(result)
        if self._structure is not None and structure != self._structure:
            raise JitError(f"{tracer.name} returned {structure} on this trace but "
                           f"{self._structure} on an earlier one: a compiled function must "
                           f"return the same structure for every input shape")
        self._structure = structure
        body = tracer.lines + [f"return {_result_code(result, tracer)}"]
        source = (f"def {_identifier(tracer.name)}_replay({', '.join(inputs)}):\n    "
                  + "\n    ".join(body) + "\n")
        namespace = dict(tracer.ns)
        exec(compile(source, f"<jit {tracer.name}>", "exec"), namespace)   # our own code only
        program = _Program(namespace[f"{_identifier(tracer.name)}_replay"], source, structure)
        if len(self._cache) >= self.max_traces:
            oldest = self._cache.pop(next(iter(self._cache)))
            self._by_shape = {k: p for k, p in self._by_shape.items() if p is not oldest}
        self._cache[key] = program
        self._latest = program
        tracer.stack.clear()
        return result


def _identifier(name):
    return "".join(c if c.isalnum() else "_" for c in name) or "fn"


def _result_code(value, tracer):
    if isinstance(value, Tensor):
        var = tracer.names.get(id(value.data))
        return f"_wrap({var})" if var is not None else tracer.const(value)
    if isinstance(value, np.ndarray):
        return tracer.names.get(id(value)) or tracer.const(value)
    if isinstance(value, tuple):
        return "(" + "".join(_result_code(v, tracer) + ", " for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_result_code(v, tracer) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{tracer.const(k)}: {_result_code(v, tracer)}"
                               for k, v in value.items()) + "}"
    return tracer.const(value)


def jit(fn: Optional[Callable] = None, *, input_signature: Optional[list] = None,
        max_traces: int = 8) -> Any:
    """Compile ``fn``: trace it once per input shape and dtype, then replay
    the trace as flat NumPy code (JAX's ``jax.jit``, TensorFlow's ``tf.function``).

    Args:
        fn: the function; its tensor and array arguments are traced, any other
            argument is a constant of the trace (a new value traces again).
        input_signature: a list of ``TensorSpec``, one per array argument:
            a call whose dtype or shape does not fit raises ``JitError``.
        max_traces: how many traces to keep (the oldest goes first).

    Returns:
        A ``Compiled`` function (use ``cr.jit`` as a decorator too).

    Example:

    >>> import numpy as np, chainrule as cr
    >>> w = cr.tensor(np.ones((2, 1)), requires_grad=True)
    >>> @cr.jit
    ... def step(x):
    ...     loss = ((x @ w) ** 2).mean()
    ...     (g,) = cr.autodiff.gradients(loss, [w])
    ...     return loss, g
    >>> loss, g = step(np.ones((4, 2)))       # traced
    >>> loss, g = step(np.ones((4, 2)))       # replayed
    >>> float(loss), g.shape, step.traces
    (4.0, (2, 1), 1)
    """
    if fn is None:
        return lambda f: Compiled(f, input_signature, max_traces)
    return Compiled(fn, input_signature, max_traces)
