"""Three faces of one engine: ``cr.grad`` (JAX), ``GradientTape`` (TensorFlow)
and ``Tensor.backward`` (PyTorch, in tensor.py).

All of them record the same graph and call the same traversal,
:func:`chainrule.graph.run_backward`. A gradient asked for inside another
differentiation (nested ``grad``, a tape inside a tape, ``hessian``) builds
its own graph, so the outer one can differentiate it again.
"""
from __future__ import annotations

import contextlib
import functools
import math
import numbers
import threading
import warnings
from typing import Any, Callable, Iterator, Literal, Sequence

import numpy as np

from . import graph
from .graph import STATE, differentiation_scope, run_backward
from .ops import reshape, stack
from .tensor import Tensor, as_tensor, record
from .typing import TensorLike

__all__ = ["grad", "value_and_grad", "jacobian", "hessian", "GradientTape", "gradients",
           "UnconnectedGradients", "custom_gradient"]


def gradients(outputs: Tensor | Sequence[Tensor], inputs: Sequence[Tensor],
              grad_outputs: Sequence[TensorLike | None] | None = None,
              create_graph: bool | None = None, retain_graph: bool | None = None,
              since: int = 0) -> list[Tensor | None]:
    """Gradients of ``outputs`` with respect to ``inputs`` (like ``torch.autograd.grad``).

    Leaves' ``.grad`` are not touched.

    Args:
        outputs: a tensor or a list of them (their gradients are summed).
        inputs: the tensors to differentiate with respect to.
        grad_outputs: the gradient of each output (default: ones).
        create_graph: record the backward so the gradients are differentiable;
            defaults to True when called inside another differentiation.
        retain_graph: keep the graph for another backward.
        since: ops recorded before this graph position count as constants
            (``GradientTape.reset``).

    Returns:
        One entry per input, ``None`` where no output depends on it.
    """
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]  # type: ignore[list-item]
    inputs = list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    seeds: list[Tensor] = []
    for out, seed in zip(outputs, grad_outputs):
        if seed is None:
            seed = Tensor._wrap(np.ones_like(out.data))
        else:
            seed = as_tensor(seed, dtype=out.dtype)
        seeds.append(seed)
    if create_graph is None:
        create_graph = STATE.diff_depth > 0
    roots = [(o, s) for o, s in zip(outputs, seeds) if o.requires_grad]
    if not roots:
        return [None] * len(inputs)
    return run_backward([o for o, _ in roots], [s for _, s in roots], targets=inputs,
                        create_graph=create_graph, retain_graph=retain_graph,
                        accumulate=False, since=since)  # type: ignore[return-value]


def _as_source(x):
    """An argument to differentiate with respect to, as a tensor needing grad.

    A tensor that already requires grad is used as it is, so that an outer
    ``grad`` sees through an inner one.
    """
    if isinstance(x, Tensor):
        if x.requires_grad:
            return x
        data = x.data
    else:
        data = np.asarray(x)
        if not isinstance(x, np.ndarray) and data.dtype == np.float64:
            data = data.astype(np.float32)      # Python floats and lists: float32
    if data.dtype.kind not in "fc":
        raise TypeError(f"can only differentiate with respect to floating-point "
                        f"arguments; got dtype {data.dtype}. Pass floats "
                        f"(e.g. 2.0 rather than 2) or an array of float32/float64.")
    return Tensor(data, requires_grad=True)


def _check_scalar(out, who):
    if not isinstance(out, Tensor):
        raise TypeError(f"{who}: the function must return a chainrule Tensor, got {type(out).__name__}")
    if out.size != 1:
        raise ValueError(f"{who}: the function must return a single number, but it returned "
                         f"shape {out.shape}. Reduce it (.sum(), .mean()) or use cr.jacobian.")


def _argnums(argnums):
    """(whether one argument was asked for, the tuple of argument positions)."""
    single = isinstance(argnums, numbers.Integral)
    return single, ((argnums,) if single else tuple(argnums))


def _call_with_sources(f, nums, args):
    """Call ``f`` with the arguments at ``nums`` made into tensors that need
    grad, inside a differentiation scope. Returns (f's result, those tensors)."""
    args = list(args)
    for i in nums:
        if i >= len(args):
            raise IndexError(f"argnums includes {i} but only {len(args)} argument(s) were passed")
        args[i] = _as_source(args[i])
    return differentiation_scope(f)(*args), [args[i] for i in nums]


def _zeros_for_none(grads, sources):
    return [g if g is not None else Tensor._wrap(np.zeros_like(s.data))
            for g, s in zip(grads, sources)]


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., tuple[Any, Any]]:
    """``f``'s value and its gradient with respect to the arguments in ``argnums``.

    >>> val, g = cr.value_and_grad(lambda x: (x ** 2).sum())(cr.tensor([1.0, 2.0]))
    >>> g
    tensor([2., 4.])

    An argument the value does not depend on gets zeros (as JAX).

    Args:
        f: a function of tensors returning a scalar tensor (or ``(scalar, aux)``).
        argnums: an int gives one gradient, a tuple a tuple of them.
        has_aux: ``f`` returns ``(value, aux)``; the result is then
            ``((value, aux), grads)``.

    Returns:
        A function taking ``f``'s arguments and returning ``(value, grads)``.
    """
    single, nums = _argnums(argnums)

    def wrapper(*args: Any) -> tuple[Any, Any]:
        result, sources = _call_with_sources(f, nums, args)
        out, aux = (result if has_aux else (result, None))
        _check_scalar(out, "grad")
        grads = _zeros_for_none(gradients(out, sources), sources)
        value = out if STATE.diff_depth > 0 else out.detach()
        value = (value, aux) if has_aux else value
        return value, (grads[0] if single else tuple(grads))
    return wrapper


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """The function that returns ``f``'s gradient (JAX's ``grad``).

    Args:
        f: a function of tensors (numbers and arrays are turned into tensors)
            that returns a scalar tensor, or ``(scalar, aux)`` with ``has_aux``.
        argnums: which positional argument(s) to differentiate with respect
            to: an int, or a tuple of ints for a tuple of gradients.
        has_aux: ``f`` returns ``(value, aux)``; the new function then
            returns ``(gradient, aux)``.

    Returns:
        A function taking the same arguments as ``f`` and returning the
        gradient(s), with the shape of the argument(s). Nest ``grad`` for
        higher derivatives.

    Example:

    >>> df = cr.grad(lambda x: x ** 3)
    >>> df(2.0)
    tensor(12.)
    >>> cr.grad(cr.grad(lambda x: x ** 3))(2.0)     # second derivative: 6x
    tensor(12.)
    """
    vg = value_and_grad(f, argnums, has_aux)

    def wrapper(*args: Any) -> Any:
        value, g = vg(*args)
        return (g, value[1]) if has_aux else g
    return wrapper


def jacobian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The function that returns the Jacobian of ``f``: shape out.shape + x.shape.

    Computed one output entry at a time (reverse mode), so it suits functions
    with few outputs.

    Args:
        f: a function of tensors returning a tensor.
        argnums: an int gives one Jacobian, a tuple a tuple of them.

    Returns:
        A function taking ``f``'s arguments and returning the Jacobian(s).
    """
    single, nums = _argnums(argnums)

    def wrapper(*args: Any) -> Any:
        out, sources = _call_with_sources(f, nums, args)
        if not isinstance(out, Tensor):
            raise TypeError(f"jacobian: the function must return a chainrule Tensor, got {type(out).__name__}")
        rows: list[list[Tensor]] = [[] for _ in sources]
        for k in range(out.size):
            seed = np.zeros(out.size, dtype=out.dtype)
            seed[k] = 1
            gs = gradients(out, sources, [seed.reshape(out.shape)], retain_graph=True)
            for row, g in zip(rows, _zeros_for_none(gs, sources)):
                row.append(g)
        jacs = []
        for row, s in zip(rows, sources):
            if row:
                jacs.append(reshape(stack(row), out.shape + s.shape))
            else:
                jacs.append(Tensor._wrap(np.zeros(out.shape + s.shape, dtype=s.dtype)))
        return jacs[0] if single else tuple(jacs)
    return wrapper


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The function that returns the Hessian of a scalar ``f``: the Jacobian of its gradient.

    Args:
        f: a function of tensors returning a scalar tensor.
        argnums: which positional argument(s) to differentiate with respect to.

    Returns:
        A function taking ``f``'s arguments and returning the Hessian(s).
    """
    return jacobian(grad(f, argnums), argnums)


class UnconnectedGradients:
    """What ``GradientTape.gradient`` returns for a source the target does not
    depend on (TensorFlow's ``tf.UnconnectedGradients``): ``NONE`` gives None,
    ``ZERO`` zeros of the source's shape. The strings ``"none"``/``"zero"`` work too."""
    NONE = "none"
    ZERO = "zero"


def _flatten(structure):
    """The tensors of a nested list/tuple/dict, in order, and a function that
    puts a flat list back into the same structure."""
    if isinstance(structure, dict):
        keys = list(structure)
        parts = [_flatten(structure[k]) for k in keys]
    elif isinstance(structure, (list, tuple)):
        keys = None
        parts = [_flatten(item) for item in structure]
    else:
        return [structure], lambda flat: flat[0]
    leaves = [leaf for part, _ in parts for leaf in part]
    sizes = [len(part) for part, _ in parts]

    def rebuild(flat):
        out, at = [], 0
        for (_, rebuild_part), n in zip(parts, sizes):
            out.append(rebuild_part(flat[at:at + n]))
            at += n
        if keys is not None:
            return dict(zip(keys, out))
        return type(structure)(out) if isinstance(structure, tuple) else out
    return leaves, rebuild


def _is_float(t):
    return isinstance(t, Tensor) and t.dtype.kind in "fc"


_RECORDING = threading.local()      # .tapes: the tapes open in this thread


def note_variables_read(variables: Sequence[Tensor]) -> None:
    """Tell the open tapes of this thread that ``variables`` were read (a
    layer calls it with its weights), so ``watched_variables()`` lists them.

    Args:
        variables: the weights read.
    """
    for tape in getattr(_RECORDING, "tapes", ()):
        if tape.watch_accessed_variables:
            for v in variables:
                if v.requires_grad and all(v is not seen for seen in tape._accessed):
                    tape._accessed.append(v)


def tapes_recording() -> bool:
    """Whether a GradientTape is open in this thread (one attribute read).

    Returns:
        True while one is open.
    """
    return bool(getattr(_RECORDING, "tapes", None))


class GradientTape:
    """Record operations to differentiate them later (TensorFlow's tape).

    >>> x = cr.tensor(3.0)
    >>> with cr.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = x * x
    >>> tape.gradient(y, x)
    tensor(6.)

    Every tensor with ``requires_grad=True`` is watched (with
    ``watch_accessed_variables=False`` only those passed to ``watch``);
    ``watch(t)`` sets ``requires_grad`` on ``t`` (for good, like
    ``requires_grad_()``). A
    non-persistent tape answers one ``gradient`` call; ``persistent=True``
    answers many. A source the target does not depend on gives None (or zeros
    with ``unconnected_gradients="zero"``). As in TensorFlow, watching an
    integer tensor warns and its gradient is None. A tape used while another
    is recording produces gradients the outer tape can differentiate (second
    derivatives).

    Args:
        persistent: answer any number of ``gradient`` calls, not just one.
        watch_accessed_variables: watch every tensor with ``requires_grad``
            (False: only those passed to ``watch``).
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._recording = False
        self._used = False
        self._watched: list[Tensor] = []    # tensors passed to watch(), in order
        self._accessed: list[Tensor] = []   # trainable leaves found behind the targets
        self._since = 0             # graph position of the last reset()

    def __enter__(self) -> GradientTape:
        if self._recording:
            raise RuntimeError("this GradientTape is already recording")
        self._recording = True
        self._prev_grad_mode = STATE.grad_enabled
        STATE.grad_enabled = True
        STATE.diff_depth += 1
        _RECORDING.tapes = getattr(_RECORDING, "tapes", ()) + (self,)
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self._recording = False
        STATE.grad_enabled = self._prev_grad_mode
        STATE.diff_depth -= 1
        _RECORDING.tapes = tuple(t for t in getattr(_RECORDING, "tapes", ()) if t is not self)
        return False

    @contextlib.contextmanager
    def stop_recording(self) -> Iterator[None]:
        """``with tape.stop_recording(): ...`` runs ops without recording them
        (TensorFlow's), e.g. to compute a logged value inside the tape. While it
        is open no enclosing tape or ``cr.grad`` records either.

        Yields:
            Nothing: the block runs with recording off.
        """
        if not self._recording:
            raise RuntimeError("GradientTape.stop_recording: the tape is not recording; "
                               "use it inside the `with cr.GradientTape() as tape:` block")
        prev, STATE.grad_enabled = STATE.grad_enabled, False
        try:
            yield
        finally:
            STATE.grad_enabled = prev

    def reset(self) -> None:
        """Forget everything recorded so far, as if the tape had just been
        entered (TensorFlow's): later ``gradient`` calls see only the ops run
        after the reset, and the watched tensors are forgotten."""
        self._watched, self._accessed, self._used = [], [], False
        self._since = graph.next_creation_number()

    def watch(self, tensor: Any) -> None:
        """Record operations on ``tensor`` (or a nested list/dict of tensors) from now on.

        An integer or boolean tensor cannot have a gradient: as TensorFlow,
        this warns and its gradient will be None.

        Args:
            tensor: a tensor, or a nested list, tuple or dict of them.
        """
        for t in _flatten(tensor)[0]:
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch takes chainrule Tensors, got {type(t).__name__}; "
                                f"wrap it with cr.tensor(...) first")
            if not _is_float(t):
                warnings.warn(f"GradientTape.watch: the dtype of the watched tensor must be "
                              f"floating (e.g. float32), got {t.dtype}; its gradient will be "
                              f"None", stacklevel=2)
            elif not t.requires_grad:
                t.requires_grad_(True)
            if all(t is not seen for seen in self._watched):
                self._watched.append(t)

    def watched_variables(self) -> list[Tensor]:
        """The tensors this tape watches (TensorFlow's ``watched_variables``):
        those passed to ``watch``, then, with ``watch_accessed_variables``,
        the trainable weights of every layer called while it recorded and
        the trainable leaves behind the targets of ``gradient`` calls so far.
        A trainable tensor used outside any layer is known only from the
        targets of a ``gradient`` call (chainrule's ops log no reads).

        Returns:
            The watched tensors, in the order they were met.
        """
        out = [t for t in self._watched if _is_float(t)]
        if self.watch_accessed_variables:
            out += [t for t in self._accessed if all(t is not seen for seen in out)]
        return out

    def _note_accessed(self, targets: Sequence[Any]) -> None:
        # the leaves that need a gradient behind the targets (iterative walk)
        seen: set[int] = set()
        stack = [t for t in targets if isinstance(t, Tensor)]
        while stack:
            t = stack.pop()
            if id(t) in seen:
                continue
            seen.add(id(t))
            node = t._node
            if node is None:
                if t.requires_grad and all(t is not a for a in self._accessed):
                    self._accessed.append(t)
                continue
            stack.extend(i for i in reversed(getattr(node, "inputs", ()) or ())
                         if isinstance(i, Tensor))

    def gradient(self, target: Any, sources: Any, output_gradients: Any = None,
                 unconnected_gradients: str = UnconnectedGradients.NONE) -> Any:
        """d target / d sources, in the structure of ``sources``.

        Args:
            target: a tensor or a nested list, tuple or dict of tensors;
                several targets are summed (as TensorFlow), and a non-scalar
                target is summed too, unless ``output_gradients`` weighs it.
            sources: a tensor or a nested list, tuple or dict of tensors.
            output_gradients: the weights of the target's entries, in the
                structure of ``target``.
            unconnected_gradients: ``"none"`` (default) gives None for a
                source the target does not depend on, ``"zero"`` gives zeros.

        Returns:
            The gradients, in the structure of ``sources``.
        """
        mode = getattr(unconnected_gradients, "value", unconnected_gradients)
        mode = str(mode).lower()
        if mode not in (UnconnectedGradients.NONE, UnconnectedGradients.ZERO):
            raise ValueError(f"unconnected_gradients must be 'none' or 'zero' "
                             f"(cr.UnconnectedGradients.NONE / .ZERO), got {unconnected_gradients!r}")
        if self._used and not self.persistent:
            raise RuntimeError("a non-persistent GradientTape can compute gradients only "
                               "once; use GradientTape(persistent=True) for several")
        self._used = True
        flat, rebuild = _flatten(sources)
        for s in flat:
            if not isinstance(s, Tensor):
                raise TypeError(f"GradientTape.gradient: every source must be a chainrule "
                                f"Tensor, got {type(s).__name__}")
        targets = _flatten(target)[0]
        seeds = None if output_gradients is None else _flatten(output_gradients)[0]
        if seeds is not None and len(seeds) != len(targets):
            raise ValueError(f"output_gradients has {len(seeds)} entries but there are "
                             f"{len(targets)} targets; give one per target")
        # a target that is no tensor or needs no gradient contributes nothing
        keep = [i for i, t in enumerate(targets) if isinstance(t, Tensor) and t.requires_grad]
        targets = [targets[i] for i in keep]
        seeds = None if seeds is None else [seeds[i] for i in keep]
        self._note_accessed(targets)
        floats = [i for i, s in enumerate(flat) if _is_float(s)]   # integers get None
        grads: list[Tensor | None] = [None] * len(flat)
        if targets and floats:
            outer_depth = STATE.diff_depth - (1 if self._recording else 0)
            # The graph is kept (retain_graph): a tape owns its record only until
            # it is dropped, so two tapes over the same ops each get gradients.
            found = gradients(targets, [flat[i] for i in floats], seeds,
                              create_graph=outer_depth > 0, retain_graph=True,
                              since=self._since)
            for i, g in zip(floats, found):
                grads[i] = g
        if not self.watch_accessed_variables:
            grads = [g if any(s is w for w in self._watched) else None
                     for g, s in zip(grads, flat)]
        if mode == UnconnectedGradients.ZERO:
            grads = [Tensor._wrap(np.zeros_like(s.data)) if g is None and _is_float(s) else g
                     for g, s in zip(grads, flat)]
        return rebuild(grads)

    def _one_call(self) -> bool:
        if self._used and not self.persistent:
            raise RuntimeError("a non-persistent GradientTape can compute gradients only "
                               "once; use GradientTape(persistent=True) for several")
        self._used = True
        return STATE.diff_depth - (1 if self._recording else 0) > 0

    def _rows(self, target: Tensor, source: Tensor, seeds: Sequence[np.ndarray],
              create_graph: bool) -> list[Tensor | None]:
        """d(Σ seed·target)/d source for each seed: the rows of a Jacobian."""
        rows = []
        for seed in seeds:
            (g,) = gradients([target], [source], [seed], create_graph=create_graph,
                             retain_graph=True, since=self._since)
            rows.append(g)
        return rows

    def jacobian(self, target: TensorLike, sources: Any,
                 unconnected_gradients: str = UnconnectedGradients.NONE,
                 parallel_iterations: int | None = None,
                 experimental_use_pfor: bool = True) -> Any:
        """The Jacobian of ``target`` with respect to each source: shape
        ``target.shape + source.shape`` (TensorFlow's ``tape.jacobian``). One
        backward pass per entry of ``target``.

        Args:
            target: the tensor to differentiate.
            sources: a tensor or a nested list, tuple or dict of tensors.
            unconnected_gradients: ``"none"`` gives None for a source the
                target does not depend on, ``"zero"`` zeros.
            parallel_iterations: TensorFlow's; ignored.
            experimental_use_pfor: TensorFlow's; ignored.

        Returns:
            The Jacobians, in the structure of ``sources``.
        """
        create_graph = self._one_call()
        flat, rebuild = _flatten(sources)
        zero = str(getattr(unconnected_gradients, "value", unconnected_gradients)).lower() == "zero"
        target = as_tensor(target)
        seeds: list[np.ndarray] = []
        for k in range(target.size):
            seed = np.zeros(target.size, dtype=target.dtype)
            seed[k] = 1
            seeds.append(seed.reshape(target.shape))
        out: list[Tensor | None] = []
        for s in flat:
            rows = self._rows(target, s, seeds, create_graph) if target.requires_grad else []
            if not rows or all(r is None for r in rows):
                out.append(Tensor._wrap(np.zeros(target.shape + s.shape, s.dtype)) if zero
                           else None)
                continue
            filled = [Tensor._wrap(np.zeros_like(s.data)) if r is None else r for r in rows]
            out.append(reshape(stack(filled), target.shape + s.shape))
        return rebuild(out)

    def batch_jacobian(self, target: TensorLike, source: Tensor,
                       unconnected_gradients: str = UnconnectedGradients.NONE,
                       parallel_iterations: int | None = None,
                       experimental_use_pfor: bool = True) -> Tensor | None:
        """Per-sample Jacobians (TensorFlow's ``tape.batch_jacobian``). One
        backward pass per entry of a single sample's target (the seed selects
        that entry in every sample at once).

        Args:
            target: a tensor (b, ...) whose sample i depends only on sample i
                of ``source``.
            source: a tensor (b, ...).
            unconnected_gradients: ``"none"`` gives None when the target does
                not depend on the source, ``"zero"`` zeros.
            parallel_iterations: TensorFlow's; ignored.
            experimental_use_pfor: TensorFlow's; ignored.

        Returns:
            A tensor of shape ``(b,) + target.shape[1:] + source.shape[1:]``.
        """
        create_graph = self._one_call()
        target = as_tensor(target)
        if target.ndim < 1 or source.ndim < 1 or target.shape[0] != source.shape[0]:
            raise ValueError(f"batch_jacobian: target and source need the same first "
                             f"(batch) dimension, got shapes {target.shape} and {source.shape}")
        batch, per_sample = target.shape[0], math.prod(target.shape[1:])
        seeds: list[np.ndarray] = []
        for j in range(per_sample):
            seed = np.zeros((batch, per_sample), dtype=target.dtype)
            seed[:, j] = 1
            seeds.append(seed.reshape(target.shape))
        rows = self._rows(target, source, seeds, create_graph) if target.requires_grad else []
        zero = str(getattr(unconnected_gradients, "value", unconnected_gradients)).lower() == "zero"
        shape = (batch,) + target.shape[1:] + source.shape[1:]
        if not rows or all(r is None for r in rows):
            return Tensor._wrap(np.zeros(shape, source.dtype)) if zero else None
        filled = [Tensor._wrap(np.zeros_like(source.data)) if r is None else r for r in rows]
        return reshape(stack(filled, axis=1), shape)


def custom_gradient(f: Callable[..., tuple[Any, Callable[..., Any]]]) -> Callable[..., Tensor]:
    """Give ``f`` a gradient of your own (TensorFlow's ``tf.custom_gradient``).

    ``f`` returns ``(value, grad_fn)``: ``grad_fn(upstream)`` turns the
    gradient of the value into the gradients of ``f``'s tensor arguments (one,
    or a tuple with one per tensor argument, in order). Works with
    ``.backward()``, ``cr.grad`` and tapes; higher order works where
    ``grad_fn`` is written with chainrule ops (tensors captured from the
    forward stay connected to the inputs).

    >>> @cr.custom_gradient
    ... def log1pexp(x):
    ...     e = cr.exp(x)
    ...     def grad_fn(upstream):
    ...         return upstream * (1 - 1 / (1 + e))
    ...     return cr.log(1 + e), grad_fn
    >>> cr.grad(log1pexp)(cr.tensor(100.0))
    tensor(1.)

    Args:
        f: a function of tensors returning ``(value, grad_fn)``.

    Returns:
        A function with ``f``'s arguments returning the value, recorded with
        ``grad_fn`` as its derivative.
    """
    name = f"custom_gradient({getattr(f, '__name__', 'f')})"

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Tensor:
        result = f(*args, **kwargs)
        if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
            raise TypeError(f"{name}: the function must return (value, grad_fn), got "
                            f"{type(result).__name__}")
        value, grad_fn = result
        value = as_tensor(value)
        inputs = tuple(a for a in args if isinstance(a, Tensor))

        def vjp(g: Tensor, out: Tensor, *ins: Tensor) -> tuple[Tensor | None, ...]:
            grads = grad_fn(g)
            grads = tuple(grads) if isinstance(grads, (list, tuple)) else (grads,)
            if len(grads) != len(ins):
                raise ValueError(f"{name}: grad_fn returned {len(grads)} gradient(s) for "
                                 f"{len(ins)} tensor argument(s); return one per argument")
            return tuple(None if gr is None else as_tensor(gr) for gr in grads)
        return record(name, value.data, inputs, vjp)
    return wrapper
