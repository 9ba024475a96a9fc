"""The computation graph: how ops record themselves and how gradients flow back.

Every op produces a new :class:`~chainrule.tensor.Tensor`. When gradients are
being recorded and one of the op's inputs requires a gradient, the output gets
a :class:`Node` that remembers the op's name, its input tensors and its
*vector-Jacobian product* (``vjp``): the function that turns the gradient of
the output into gradients of the inputs (the chain rule, one link at a time).

:func:`run_backward` walks the recorded nodes from the output back to the
leaves, iteratively (no recursion, so graphs of any depth work), visiting each
node once, after all of its consumers, so a tensor used many times receives the
sum of all its gradients before passing it on.

A vjp is written with chainrule's own differentiable ops. During an ordinary
backward pass recording is switched off, so those ops cost no graph; with
``create_graph=True`` recording stays on and the gradients are themselves
differentiable (higher-order derivatives).
"""
from __future__ import annotations

import contextlib
import functools
import itertools

import numpy as np

__all__ = [
    "Node", "is_grad_enabled", "no_grad", "enable_grad",
    "set_grad_enabled", "detect_anomaly", "run_backward", "IndexedGrad",
]


class _State:
    """Process-wide switches. One object so the hot path reads one global."""
    __slots__ = ("grad_enabled", "anomaly", "diff_depth")

    def __init__(self):
        self.grad_enabled = True   # record nodes for ops?
        self.anomaly = False       # check every op for NaN/inf?
        self.diff_depth = 0        # how many grad()/GradientTape scopes are open


STATE = _State()


class Node:
    """How a tensor was made: the op's name, its inputs and its vjp.

    ``vjp(g, out, *inputs)`` receives the output's gradient ``g``, the output
    tensor itself and the input tensors, and returns one gradient per input
    (a tuple, or a single tensor for a one-input op; ``None`` where an input
    gets no gradient). Broadcast inputs need no care inside a vjp: the
    traversal sums every gradient back to its input's shape in one place.

    A vjp reads its inputs and output as they were when the op ran; if one was
    changed in place since (its ``_version`` moved on), the gradient would be
    wrong, so the traversal refuses, as PyTorch does.
    """
    __slots__ = ("op", "inputs", "vjp", "versions", "seq")

    def __init__(self, op, inputs, vjp, versions):
        self.op = op
        self.inputs = inputs
        self.vjp = vjp
        self.versions = versions    # the inputs' versions when the op ran
        # Creation order. An op's inputs exist before it runs, so every node
        # is numbered after the nodes of its inputs: sorting by ``seq`` is a
        # topological order (see _topological_order).
        self.seq = _next_seq()

    def __repr__(self):
        return f"<Node {self.op}>"


_next_seq = itertools.count().__next__


def check_finite(array, what):
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        kind = "NaN" if np.isnan(array).any() else "inf"
        raise FloatingPointError(
            f"detect_anomaly: {what} produced {kind} "
            f"(output shape {array.shape}). Look at this op's inputs: a log or "
            f"division of zero, an overflowing exp, or a learning rate that is too high.")


# --------------------------------------------------------------------------
# Grad mode
# --------------------------------------------------------------------------
def is_grad_enabled():
    """True when ops record the graph for differentiation."""
    return STATE.grad_enabled


class _Switch(contextlib.ContextDecorator):
    """Set one field of STATE inside a block (also usable as a decorator);
    blocks nest, each restoring what it found."""

    def __init__(self, field, value):
        self.field = field
        self.value = value
        self._prev = []

    def __enter__(self):
        self._prev.append(getattr(STATE, self.field))
        setattr(STATE, self.field, self.value)
        return self

    def __exit__(self, *exc):
        setattr(STATE, self.field, self._prev.pop())
        return False


class no_grad(_Switch):
    """``with cr.no_grad(): ...`` runs ops without recording a graph.

    Use it for inference and for updating weights by hand. Also a decorator.
    """

    def __init__(self):
        super().__init__("grad_enabled", False)


class enable_grad(_Switch):
    """Turn recording back on inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__("grad_enabled", True)


class set_grad_enabled:
    """Switch recording on or off: at once when called
    (``cr.set_grad_enabled(False)``), or for a block
    (``with cr.set_grad_enabled(False): ...``), as PyTorch's."""

    def __init__(self, mode):
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self._prev
        return False


class detect_anomaly(_Switch):
    """Raise at the first op whose forward or backward gives NaN or inf.

    The error names the op. It costs a finiteness check per op, so use it to
    debug, not to train::

        with cr.detect_anomaly():
            loss = model_loss(x)
            loss.backward()
    """

    def __init__(self):
        super().__init__("anomaly", True)


# --------------------------------------------------------------------------
# The backward traversal
# --------------------------------------------------------------------------
def _topological_order(roots):
    """Non-leaf tensors reachable from ``roots``, each after all it depends on.

    A plain search (explicit stack, so a chain of 100,000 ops needs no
    recursion) collects the reachable tensors; sorting them by their node's
    creation number ``seq`` then puts every tensor after its inputs, because
    an op's inputs are always made before the op runs.
    """
    found, seen = [], set()
    for r in roots:                  # (plain loops: a comprehension is a function call)
        if r._node is not None and id(r) not in seen:
            seen.add(id(r))
            found.append(r)
    stack = found[:]
    while stack:
        node = stack.pop()._node
        if node.vjp is None:
            raise RuntimeError(
                f"backward through the graph a second time: the buffers of "
                f"'{node.op}' were freed by the first backward. Pass "
                f"retain_graph=True to the first backward (or use a persistent "
                f"GradientTape) to differentiate the same graph twice.")
        for p in node.inputs:
            if p._node is not None and p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                found.append(p)
                stack.append(p)
    found.sort(key=_creation_number)
    return found


def _creation_number(t):
    return t._node.seq


def run_backward(roots, seeds, targets=None, create_graph=False,
                 retain_graph=None, accumulate=True):
    """Propagate ``seeds`` (gradients of ``roots``) back through the graph.

    With ``accumulate=True`` (``Tensor.backward``) leaf gradients are added
    into each leaf's ``.grad``. With ``targets`` (``cr.grad``,
    ``GradientTape``) the gradients of those tensors are returned instead, a
    list with ``None`` for a target the roots do not depend on, and no
    ``.grad`` is touched.
    """
    if retain_graph is None:
        retain_graph = create_graph
    grads = {}
    owned = set()      # keys of gradient buffers made here, safe to add into in place
    for r, s in zip(roots, seeds):
        _accumulate(grads, r, s)
    target_ids = {id(t) for t in targets} if targets is not None else ()
    captured = {}
    leaves = {}

    order = _topological_order(roots)
    anomaly = STATE.anomaly
    prev_mode, STATE.grad_enabled = STATE.grad_enabled, create_graph
    try:
        for t in reversed(order):
            tid = id(t)
            g = grads.pop(tid, None)
            if g is None:
                continue
            if tid in target_ids:
                captured[tid] = g
            if t._retain_grad and accumulate:
                own = g if create_graph else _new_tensor(g.data.copy())
                t.grad = own if t.grad is None else t.grad + own
            node = t._node
            inputs = node.inputs
            # A plain loop, not any(<generator>): this runs once per node.
            for i, v in zip(inputs, node.versions):
                if i._version != v:
                    _raise_modified(node, t)
            if t._version:
                _raise_modified(node, t)
            if anomaly:
                in_grads = _checked_vjp(node, g, t)
            else:
                in_grads = node.vjp(g, t, *inputs)
            if len(inputs) == 1 and type(in_grads) is not tuple:
                in_grads = (in_grads,)
            for p, gp in zip(inputs, in_grads):
                if gp is None or not p.requires_grad:
                    continue
                if type(gp) is IndexedGrad:
                    _accumulate_indexed(grads, owned, p, gp)
                else:
                    gd, pd = gp.data, p.data
                    # (`is not` on dtypes: NumPy shares one object per builtin dtype, and
                    # a false alarm only costs a call to _fit_to, which compares properly)
                    if gd.shape != pd.shape or gd.dtype is not pd.dtype or anomaly:
                        gp = _fit_to(gp, p, node.op)
                    pid = id(p)                   # _accumulate, inlined
                    prev = grads.get(pid)
                    if prev is None:
                        grads[pid] = gp
                    else:           # (an ordinary backward adds the arrays, no op)
                        grads[pid] = (prev + gp if create_graph else
                                      _new_tensor(prev.data + gp.data))
                        owned.add(pid)
                if p._node is None:
                    leaves[id(p)] = p
            if not retain_graph:
                node.vjp = None        # frees the closure and its buffers
                node.inputs = ()
    finally:
        STATE.grad_enabled = prev_mode

    # What is left in ``grads`` now are leaves (and roots that are leaves).
    for r in roots:
        if r._node is None and r.requires_grad:
            leaves[id(r)] = r
    if targets is not None:
        for key, leaf in leaves.items():
            if key in target_ids:
                captured[key] = grads[key]
        if create_graph:
            return [captured.get(id(t)) for t in targets]
        seen = set()
        return [None if id(t) not in captured else _own_array(captured[id(t)], seen)
                for t in targets]
    if accumulate:
        _store_leaf_grads(leaves, grads, create_graph)
    return None


def _raise_modified(node, out):
    changed = [f"input {k} (shape {i.shape})" for k, (i, v) in enumerate(zip(node.inputs, node.versions))
               if i._version != v]
    if out._version:
        changed.append(f"its output (shape {out.shape})")
    raise RuntimeError(
        f"the backward of '{node.op}' needs values that were changed in place after it "
        f"ran: {', '.join(changed)}. Modify a copy (x.copy()) or build a new tensor "
        f"with where/concatenate instead of assigning into one the graph still uses.")


def _checked_vjp(node, g, out):
    """Run a vjp under detect_anomaly, blaming the op whose backward it is."""
    try:
        return node.vjp(g, out, *node.inputs)
    except FloatingPointError as e:
        raise FloatingPointError(
            f"detect_anomaly: the backward of '{node.op}' produced NaN or inf "
            f"(output shape {out.shape}); inside it, {str(e).split(': ', 1)[-1]}") from None


def _accumulate(grads, t, g, owned=None):
    key = id(t)
    prev = grads.get(key)
    if prev is None:
        grads[key] = g
    else:
        grads[key] = prev + g
        if owned is not None:
            owned.add(key)


class IndexedGrad:
    """A gradient that is zero except for ``values`` at ``index``.

    Indexing's vjp returns one during an ordinary backward (not recorded), and
    the traversal adds it into a single buffer per input. Scattering into a
    fresh full-size zero array per slice instead would make a loop that reads
    one time step at a time (a recurrent layer) quadratic in the number of
    steps. With ``create_graph`` the vjp uses the differentiable
    ``scatter_add`` instead.
    """
    __slots__ = ("basic", "index", "values")

    def __init__(self, index, values, basic):
        self.index, self.values, self.basic = index, values, basic

    def add_into(self, buffer):
        if self.basic:              # no repeated positions: plain in-place add
            buffer[self.index] += self.values
        else:
            np.add.at(buffer, self.index, self.values)


def _accumulate_indexed(grads, owned, t, g):
    key = id(t)
    prev = grads.get(key)
    if prev is None or key not in owned:
        # A buffer of our own (never a view of another tensor's array).
        data = (np.zeros(t.data.shape, t.data.dtype) if prev is None
                else np.array(prev.data, dtype=t.data.dtype))
        prev = grads[key] = _new_tensor(data)
        owned.add(key)
    g.add_into(prev.data)


def _fit_to(g, p, op):
    """Sum a gradient back to its input's shape (undoing broadcasting) and dtype.

    This is the single place where broadcasting is handled for every op.
    """
    if g.data.shape != p.data.shape:
        if STATE.grad_enabled:                # create_graph: a differentiable sum
            from .ops.shape import sum_to
            g = sum_to(g, p.data.shape)
        else:                                 # an ordinary backward: NumPy directly
            g = _new_tensor(sum_to_array(g.data, p.data.shape))
    if g.data.dtype != p.data.dtype and p.data.dtype.kind == "f":
        g = _new_tensor(g.data.astype(p.data.dtype)) if not STATE.grad_enabled else g.astype(p.data.dtype)
    if STATE.anomaly:
        check_finite(g.data, f"the backward of '{op}'")
    return g


def sum_to_array(array, shape):
    """Sum ``array`` over the axes that broadcasting ``shape`` to it added
    (the NumPy half of ``ops.shape.sum_to``; shapes are assumed compatible).

    A bias of shape (n,) added to a (batch, n) activation gets
    ``array.sum(axis=0)``.
    """
    if array.ndim == len(shape) + 1 and array.shape[1:] == shape:
        return np.add.reduce(array, axis=0)       # the bias case, directly
    lead = array.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and array.shape[lead + i] != 1)
    out = np.add.reduce(array, axis=axes, keepdims=True) if axes else array
    return out.reshape(shape) if out.shape != shape else out


def _own_array(g, seen_owners):
    """``g`` cut from the graph, on a writable array no other result shares.

    Gradients handed to users (``.grad``, ``cr.grad``) may be updated in place
    by optimizers, while one upstream array may reach several leaves (``a + b``
    gives both the same gradient) or be a read-only broadcast view.
    """
    data = g.data
    owner = id(data if data.base is None else data.base)
    if not data.flags.writeable or owner in seen_owners or g._node is not None:
        data = data.copy()
        owner = id(data)
        g = _new_tensor(data)
    seen_owners.add(owner)
    return g


def _store_leaf_grads(leaves, grads, create_graph):
    seen_owners = set()
    for key, leaf in leaves.items():
        g = grads[key]
        if not create_graph:
            g = _own_array(g, seen_owners)
        if leaf.grad is None:
            leaf.grad = g
        elif create_graph:
            leaf.grad = leaf.grad + g
        else:
            leaf.grad = _new_tensor(leaf.grad.data + g.data)


_new_tensor = None   # Tensor._wrap; tensor.py binds it (it imports this module)


def bind_tensor_type(tensor_type):
    """Called once by tensor.py, so the traversal can make tensors."""
    global _new_tensor
    _new_tensor = tensor_type._wrap


def differentiation_scope(fn):
    """Mark ``fn`` as running inside a grad()/jacobian() scope.

    Gradients computed while a scope is open build their own graph, so that
    an outer scope can differentiate them again (nested ``cr.grad``,
    ``hessian``, nested tapes). Recording is on inside, even under no_grad.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        STATE.diff_depth += 1
        prev, STATE.grad_enabled = STATE.grad_enabled, True   # grad() works under no_grad too
        try:
            return fn(*args, **kwargs)
        finally:
            STATE.diff_depth -= 1
            STATE.grad_enabled = prev
    return wrapper
