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
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Sequence, TypeVar

import numpy as np

if TYPE_CHECKING:                 # tensor.py imports this module
    from .tensor import Tensor

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = [
    "Node", "is_grad_enabled", "no_grad", "enable_grad",
    "set_grad_enabled", "detect_anomaly", "run_backward", "IndexedGrad",
]


class _State(threading.local):
    """The switches, one set per thread (as PyTorch's grad mode): a ``no_grad``
    block in one thread never turns recording off in another. Every new thread
    starts with recording on.

    Reading a thread-local attribute costs several times a plain one, and
    ``record`` runs for every op, so ``MODE_COUNTS`` also counts the threads
    that have recording off (or anomaly detection on): while both counts are
    0, ``record`` knows the answer without reading this object. The counts
    can only be too high (a thread that ends with recording off), never too
    low, so the shortcut is always right.
    """

    def __init__(self):
        self._grad_enabled = True  # record nodes for ops?
        self._anomaly = False      # check every op for NaN/inf?
        self.diff_depth = 0        # how many grad()/GradientTape scopes are open

    @property
    def grad_enabled(self):
        return self._grad_enabled

    @grad_enabled.setter
    def grad_enabled(self, value):
        value = bool(value)
        if value != self._grad_enabled:
            _count(0, -1 if value else 1)
            self._grad_enabled = value

    @property
    def anomaly(self):
        return self._anomaly

    @anomaly.setter
    def anomaly(self, value):
        value = bool(value)
        if value != self._anomaly:
            _count(1, 1 if value else -1)
            self._anomaly = value


MODE_COUNTS = [0, 0]     # threads with recording off, threads detecting anomalies
_COUNT_LOCK = threading.Lock()


class JitError(RuntimeError):
    """A function cannot be traced by ``cr.jit``, or a call does not fit its trace."""


# The jit trace running now (chainrule.jit), or None: record, run_backward and
# the state-changing methods marked with ``effect`` report to it.
TRACER: list[Any] = [None]


def effect(method: _F) -> _F:
    """Mark a method that changes state (an optimizer step, a metric update,
    moving statistics) so that a ``cr.jit`` trace replays the call itself
    rather than the NumPy it does. Outside a trace it costs one call.

    Args:
        method: the state-changing method.

    Returns:
        A function that calls ``method``, or reports the call to the trace.
    """
    def traced_effect(*args: Any, **kwargs: Any) -> Any:
        tracer = TRACER[0]
        if tracer is None or tracer.paused or tracer.stack or \
                tracer.thread != threading.get_ident():      # (inside an op call: part of it)
            return method(*args, **kwargs)
        return tracer.effect(method, args, kwargs)
    # (its name, docstring, type hints and signature are the method's)
    return functools.update_wrapper(traced_effect, method)  # type: ignore[return-value]


# Functions a jit trace calls again at every replay, as it does an op: the
# random draws layers make outside ops (a noise array, a dropout mask).
REPLAYED: set[Callable[..., Any]] = set()


def replayed(fn: _F) -> _F:
    """Mark ``fn`` (a random draw made outside any op) to be called again at
    every replay of a ``cr.jit`` trace instead of frozen into it.

    Args:
        fn: the function making the draw.

    Returns:
        ``fn`` itself.
    """
    REPLAYED.add(fn)
    return fn


def _count(which, step):
    with _COUNT_LOCK:
        MODE_COUNTS[which] += step


STATE = _State()


class Node:
    """How a tensor was made: the op's name, its inputs and its two vjps.

    ``vjp(g, out, *inputs)`` receives the output's gradient ``g``, the output
    tensor itself and the input tensors, and returns one gradient per input
    (a tuple, or a single tensor for a one-input op; ``None`` where an input
    gets no gradient), written with chainrule ops so that it can be
    differentiated again. ``array_vjp(needs, g, out, *inputs)``, when the op
    has one, is the same formula on NumPy arrays (see ``chainrule.rules``).
    Broadcast inputs need no care inside either: the traversal sums every
    gradient back to its input's shape in one place.

    A vjp reads its inputs and output as they were when the op ran; if one was
    changed in place since (its ``_version`` moved on), the gradient would be
    wrong, so the traversal refuses, as PyTorch does.

    Args:
        op: the op's name.
        inputs: the tensors the op read.
        vjp: the differentiable vjp (None once a backward freed it).
        versions: the inputs' ``_version`` when the op ran.
        array_vjp: the vjp on arrays, or None.
    """
    __slots__ = ("op", "inputs", "vjp", "array_vjp", "versions", "seq")

    def __init__(self, op: str, inputs: Sequence[Tensor], vjp: Callable[..., Any] | None,
                 versions: tuple[int, ...], array_vjp: Callable[..., Any] | None = None) -> None:
        self.op = op
        self.inputs = inputs
        self.vjp = vjp
        self.array_vjp = array_vjp
        self.versions = versions    # the inputs' versions when the op ran
        # Creation order. An op's inputs exist before it runs, so every node
        # is numbered after the nodes of its inputs: sorting by ``seq`` is a
        # topological order (see _topological_order).
        self.seq = _next_seq()

    def __repr__(self) -> str:
        return f"<Node {self.op}>"


_next_seq = itertools.count().__next__


def next_creation_number() -> int:
    """A number that every node recorded from now on will be at or above.

    Returns:
        The next node's creation number (``Node.seq``).
    """
    return _next_seq()


def check_finite(array: np.ndarray, what: str) -> None:
    """Raise ``FloatingPointError`` if a float array holds NaN or inf.

    Args:
        array: the array to check.
        what: what produced it, for the message (``"the forward of 'log'"``).
    """
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        kind = "NaN" if np.isnan(array).any() else "inf"
        raise FloatingPointError(
            f"detect_anomaly: {what} produced {kind} "
            f"(output shape {array.shape}). Look at this op's inputs: a log or "
            f"division of zero, an overflowing exp, or a learning rate that is too high.")


# --------------------------------------------------------------------------
# Grad mode
# --------------------------------------------------------------------------
def is_grad_enabled() -> bool:
    """Whether ops record the graph for differentiation (in this thread).

    Returns:
        True when recording is on.
    """
    return STATE.grad_enabled


class _Switch(contextlib.ContextDecorator):
    """Set one field of STATE inside a block (also usable as a decorator);
    blocks nest, each restoring what it found."""

    def __init__(self, field: str, value: bool) -> None:
        self.field = field
        self.value = value
        self._prev: list[bool] = []

    def __enter__(self) -> _Switch:
        self._prev.append(getattr(STATE, self.field))
        setattr(STATE, self.field, self.value)
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        setattr(STATE, self.field, self._prev.pop())
        return False


class no_grad(_Switch):
    """``with cr.no_grad(): ...`` runs ops without recording a graph.

    Use it for inference and for updating weights by hand. Also a decorator.
    """

    def __init__(self) -> None:
        super().__init__("grad_enabled", False)


class enable_grad(_Switch):
    """Turn recording back on inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__("grad_enabled", True)


class set_grad_enabled:
    """Switch recording on or off: at once when called
    (``cr.set_grad_enabled(False)``), or for a block
    (``with cr.set_grad_enabled(False): ...``), as PyTorch's.

    Args:
        mode: True to record, False not to.
    """

    def __init__(self, mode: bool) -> None:
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = bool(mode)

    def __enter__(self) -> set_grad_enabled:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
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

    def __init__(self) -> None:
        super().__init__("anomaly", True)


# --------------------------------------------------------------------------
# The backward traversal
# --------------------------------------------------------------------------
def walk(roots: Iterable[Tensor], everything: bool = False, since: int = 0) -> list[Tensor]:
    """The recorded graph behind ``roots``: every tensor made by a recorded op
    that a root depends on through inputs that require a gradient, each listed
    after everything it depends on (inputs before the ops that use them).

    The one iterator over a graph: the backward traversal, ``cr.explain`` and
    ``viz.draw_graph`` all read it. A plain search (explicit stack, so a chain
    of 100,000 ops needs no recursion) collects the tensors; sorting them by
    their node's creation number ``seq`` then puts every tensor after its
    inputs, because an op's inputs are always made before the op runs.

    ``everything=True`` (for drawing) also lists the leaves and constants
    (first) and follows nodes already freed by a backward instead of refusing.
    ``since``: ops recorded before this creation number are left out, as if
    their outputs were constants (``GradientTape.reset``).

    Args:
        roots: the tensors to start from.
        everything: also list leaves and constants, and follow freed nodes.
        since: the creation number before which ops are left out.

    Returns:
        The tensors, each after everything it depends on.
    """
    found: list[Tensor] = []
    plain: list[Tensor] = []
    seen: set[int] = set()
    for r in roots:                  # (plain loops: a comprehension is a function call)
        if id(r) not in seen and ((r._node is not None and r._node.seq >= since) or everything):
            seen.add(id(r))
            (found if r._node is not None else plain).append(r)
    stack = found[:]
    while stack:
        node = stack.pop()._node
        if node.vjp is None and not everything:
            raise RuntimeError(
                f"backward through the graph a second time: the buffers of "
                f"'{node.op}' were freed by the first backward. Pass "
                f"retain_graph=True to the first backward (or use a persistent "
                f"GradientTape) to differentiate the same graph twice.")
        for p in node.inputs:
            made_by = p._node
            if made_by is not None:
                if (p.requires_grad or everything) and made_by.seq >= since and id(p) not in seen:
                    seen.add(id(p))
                    found.append(p)
                    stack.append(p)
            elif everything and id(p) not in seen:
                seen.add(id(p))
                plain.append(p)
    found.sort(key=_creation_number)
    return plain + found if everything else found


def graph_leaves(order: Iterable[Tensor]) -> list[Tensor]:
    """The leaves (tensors with requires_grad made by no recorded op) that the
    tensors of ``walk``'s list read, in first-use order.

    Args:
        order: tensors made by recorded ops (``walk``'s list).

    Returns:
        The leaves they read.
    """
    leaves: list[Tensor] = []
    seen: set[int] = set()
    for t in order:
        for p in t._node.inputs:
            if p.requires_grad and p._node is None and id(p) not in seen:
                seen.add(id(p))
                leaves.append(p)
    return leaves


def _creation_number(t: Tensor) -> int:
    return t._node.seq


def run_backward(roots: Sequence[Tensor], seeds: Sequence[Tensor],
                 targets: Sequence[Tensor] | None = None, create_graph: bool = False,
                 retain_graph: bool | None = None, accumulate: bool = True,
                 since: int = 0) -> list[Tensor | None] | None:
    """Propagate ``seeds`` (gradients of ``roots``) back through the graph.

    With ``accumulate=True`` (``Tensor.backward``) leaf gradients are added
    into each leaf's ``.grad``. With ``targets`` (``cr.grad``,
    ``GradientTape``) the gradients of those tensors are returned instead, a
    list with ``None`` for a target the roots do not depend on, and no
    ``.grad`` is touched. ``since``: see ``walk``.

    Which vjp runs is chosen here, once per node: for an ordinary backward the
    gradients are NumPy arrays and each node's array vjp runs (an op without
    one gets its differentiable vjp with recording off); with
    ``create_graph`` the gradients are tensors, recording stays on, and every
    node's differentiable vjp runs, so the result can be differentiated again.

    Args:
        roots: the tensors the gradients start from.
        seeds: the gradient of each root, of its shape.
        targets: the tensors whose gradients to return (None: fill leaves' ``.grad``).
        create_graph: record the backward, so the gradients are differentiable.
        retain_graph: keep the graph for another backward (default ``create_graph``).
        accumulate: add the leaves' gradients into their ``.grad``.
        since: ops recorded before this creation number count as constants.

    Returns:
        With ``targets``, their gradients (None where a root does not depend
        on one); else None.
    """
    tracer = TRACER[0]
    if tracer is not None and not create_graph and not tracer.paused and not tracer.stack and \
            tracer.thread == threading.get_ident():
        return tracer.backward(roots, seeds, targets, accumulate, retain_graph)
    if retain_graph is None:
        retain_graph = create_graph
    arrays = not create_graph
    grads: dict[int, Any] = {}  # id(tensor) -> its gradient so far (an array, or a Tensor with create_graph)
    owned: set[int] = set()     # keys of gradient buffers made here, safe to add into in place
    for r, s in zip(roots, seeds):
        s = s.data if arrays else s  # type: ignore[assignment]
        prev = grads.get(id(r))
        grads[id(r)] = s if prev is None else prev + s
    target_ids = {id(t) for t in targets} if targets is not None else ()
    captured = {}
    leaves = {}

    order = walk(roots, since=since)
    state = STATE
    # (the counts first, then the fields: a thread-local read costs; see _State)
    anomaly = bool(MODE_COUNTS[1]) and state._anomaly
    # Recording is on for a recorded backward, and off while a differentiable vjp
    # stands in for a missing array vjp (switched only then: the switch takes a lock).
    prev_mode = not MODE_COUNTS[0] or state._grad_enabled
    if create_graph and not prev_mode:
        state.grad_enabled = True
    try:
        for t in reversed(order):
            tid = id(t)
            g = grads.pop(tid, None)
            if g is None:
                continue
            if tid in target_ids:
                captured[tid] = g
            if t._retain_grad and accumulate:
                _retain(t, g, create_graph)
            node = t._node
            inputs = node.inputs
            # A plain loop, not any(<generator>): this runs once per node.
            for i, v in zip(inputs, node.versions):
                if i._version != v:
                    _raise_modified(node, t)
            if t._version:
                _raise_modified(node, t)
            n = len(inputs)
            if not arrays:
                in_grads = _checked_vjp(node, g, t) if anomaly else node.vjp(g, t, *inputs)
            elif node.array_vjp is not None:
                if n == 1:       # (spelled out: a comprehension is a function call)
                    in_grads = node.array_vjp((True,), g, t.data, inputs[0].data)
                elif n == 2:
                    a, b = inputs
                    in_grads = node.array_vjp((a.requires_grad, b.requires_grad), g, t.data,
                                              a.data, b.data)
                else:
                    in_grads = node.array_vjp(tuple([i.requires_grad for i in inputs]), g,
                                              t.data, *[i.data for i in inputs])
            else:                # no array vjp: the differentiable one, recording off
                if state._grad_enabled:
                    state.grad_enabled = False
                in_grads = _unwrap(_checked_vjp(node, _new_tensor(g), t) if anomaly
                                   else node.vjp(_new_tensor(g), t, *inputs))
            if n == 1 and type(in_grads) is not tuple:
                in_grads = (in_grads,)
            for p, gp in zip(inputs, in_grads):
                if gp is None or not p.requires_grad:
                    continue
                pid = id(p)
                if type(gp) is IndexedGrad:
                    if anomaly:
                        check_finite(np.asarray(gp.values), f"the backward of '{node.op}'")
                    _accumulate_indexed(grads, owned, p, gp)
                elif arrays:
                    pd = p.data
                    # (`is not` on dtypes: NumPy shares one object per builtin dtype, and
                    # a false alarm only costs a call to _fit_array, which compares properly)
                    if gp.shape != pd.shape or gp.dtype is not pd.dtype or anomaly:
                        gp = _fit_array(gp, pd, node.op, anomaly)
                    prev = grads.get(pid)
                    if prev is None:
                        grads[pid] = gp
                    else:
                        grads[pid] = prev + gp
                        owned.add(pid)
                else:
                    if gp.data.shape != p.data.shape or gp.data.dtype is not p.data.dtype or anomaly:
                        gp = _fit_tensor(gp, p, node.op, anomaly)
                    prev = grads.get(pid)
                    grads[pid] = gp if prev is None else prev + gp
                if p._node is None:
                    leaves[pid] = p
            if not retain_graph:
                node.vjp = node.array_vjp = None     # frees the closures and their buffers
                node.inputs = ()
    finally:
        if state._grad_enabled != prev_mode:
            state.grad_enabled = prev_mode

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
        seen: set[int] = set()
        return [None if id(t) not in captured else _own_array(captured[id(t)], seen)
                for t in targets]
    if accumulate:
        _store_leaf_grads(leaves, grads, create_graph)
    return None


def _unwrap(in_grads):
    """A differentiable vjp's tensors as arrays, for an ordinary backward."""
    if type(in_grads) is tuple:
        return tuple([None if gp is None else gp.data for gp in in_grads])
    return None if in_grads is None else in_grads.data


def _retain(t, g, create_graph):
    """``.grad`` of a non-leaf that asked for it (``retain_grad()``)."""
    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
    else:
        t.grad = _new_tensor(g.copy() if t.grad is None else t.grad.data + g)


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


class IndexedGrad:
    """A gradient that is zero except for ``values`` at ``index``.

    Indexing's array vjp returns one, and the traversal adds it into a single
    buffer per input. Scattering into a fresh full-size zero array per slice
    instead would make a loop that reads one time step at a time (a recurrent
    layer) quadratic in the number of steps. Indexing's differentiable vjp
    uses the differentiable ``scatter_add`` instead.

    Args:
        index: where the values go (what indexing read).
        values: the gradient of the slice.
        basic: True when the index repeats no position (a plain ``+=`` is right).
    """
    __slots__ = ("basic", "index", "values")

    def __init__(self, index: Any, values: np.ndarray, basic: bool) -> None:
        self.index, self.values, self.basic = index, values, basic

    def add_into(self, buffer: np.ndarray) -> None:
        """Add the values into ``buffer`` at the index, in place.

        Args:
            buffer: the full-size gradient buffer.
        """
        if self.basic:              # no repeated positions: plain in-place add
            buffer[self.index] += self.values
        else:
            np.add.at(buffer, self.index, self.values)


def _accumulate_indexed(grads, owned, t, g):
    key = id(t)
    prev = grads.get(key)
    if prev is None or key not in owned:
        # A buffer of our own (never a view of another tensor's array).
        prev = grads[key] = (np.zeros(t.data.shape, t.data.dtype) if prev is None
                             else np.array(prev, dtype=t.data.dtype))
        owned.add(key)
    g.add_into(prev)


def _fit_array(g, like, op, anomaly):
    """Sum an array gradient back to its input's shape (undoing broadcasting)
    and cast it to its dtype: the single place where broadcasting is handled
    for every op in an ordinary backward."""
    if g.shape != like.shape:
        g = sum_to_array(g, like.shape)
    if g.dtype != like.dtype and like.dtype.kind == "f":
        g = g.astype(like.dtype)
    if anomaly:
        check_finite(g, f"the backward of '{op}'")
    return g


def _fit_tensor(g, p, op, anomaly):
    """``_fit_array`` for a recorded backward: the same, with differentiable ops."""
    if g.data.shape != p.data.shape:
        from .ops.shaping import sum_to
        g = sum_to(g, p.data.shape)
    if g.data.dtype != p.data.dtype and p.data.dtype.kind == "f":
        g = g.astype(p.data.dtype)
    if anomaly:
        check_finite(g.data, f"the backward of '{op}'")
    return g


def sum_to_array(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``array`` over the axes that broadcasting ``shape`` to it added
    (the NumPy half of ``ops.shaping.sum_to``; shapes are assumed compatible).

    A bias of shape (n,) added to a (batch, n) activation gets
    ``array.sum(axis=0)``.

    Args:
        array: a gradient of the broadcast shape.
        shape: the shape of the input that was broadcast.

    Returns:
        An array of ``shape``.
    """
    if array.ndim == len(shape) + 1 and array.shape[1:] == shape:
        return np.add.reduce(array, axis=0)       # the bias case, directly
    lead = array.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and array.shape[lead + i] != 1)
    out = np.add.reduce(array, axis=axes, keepdims=True) if axes else array
    return out.reshape(shape) if out.shape != shape else out


def _own_array(data, seen_owners):
    """An array gradient as a Tensor on a writable array no other result shares.

    Gradients handed to users (``.grad``, ``cr.grad``) may be updated in place
    by optimizers, while one upstream array may reach several leaves (``a + b``
    gives both the same gradient) or be a read-only broadcast view.
    """
    owner = id(data if data.base is None else data.base)
    if not data.flags.writeable or owner in seen_owners:
        data = data.copy()
        owner = id(data)
    seen_owners.add(owner)
    return _new_tensor(data)


def _store_leaf_grads(leaves, grads, create_graph):
    seen_owners = set()
    for key, leaf in leaves.items():
        g = grads[key]
        if create_graph:
            leaf.grad = g if leaf.grad is None else leaf.grad + g
        elif leaf.grad is None:
            leaf.grad = _own_array(g, seen_owners)
        else:
            leaf.grad = _new_tensor(leaf.grad.data + g)


_new_tensor: Any = None   # Tensor._wrap; tensor.py binds it (it imports this module)


def bind_tensor_type(tensor_type: type[Tensor]) -> None:
    """Called once by tensor.py, so the traversal can make tensors.

    Args:
        tensor_type: the ``Tensor`` class.
    """
    global _new_tensor
    _new_tensor = tensor_type._wrap


def differentiation_scope(fn: _F) -> _F:
    """Mark ``fn`` as running inside a grad()/jacobian() scope.

    Gradients computed while a scope is open build their own graph, so that
    an outer scope can differentiate them again (nested ``cr.grad``,
    ``hessian``, nested tapes). Recording is on inside, even under no_grad.

    Args:
        fn: the function that computes gradients.

    Returns:
        ``fn`` wrapped to open the scope around each call.
    """
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        STATE.diff_depth += 1
        prev, STATE.grad_enabled = STATE.grad_enabled, True   # grad() works under no_grad too
        try:
            return fn(*args, **kwargs)
        finally:
            STATE.diff_depth -= 1
            STATE.grad_enabled = prev
    return wrapper  # type: ignore[return-value]
