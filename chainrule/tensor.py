"""The Tensor: a NumPy array that remembers how it was made.

A :class:`Tensor` holds ``data`` (a ``numpy.ndarray``), ``requires_grad``,
``grad`` (filled by :meth:`Tensor.backward`) and, when an op made it while
gradients were recorded, the :class:`~chainrule.graph.Node` of that op.

Operators (``+ - * / ** @``, indexing, comparisons) and most functions are
methods that call the ops in :mod:`chainrule.ops`, where each op's forward and
derivative stand side by side.
"""
from __future__ import annotations

import builtins
import numbers
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from . import graph
from .errors import ShapeError, creation_error
from .graph import MODE_COUNTS, STATE, TRACER, Node, check_finite
from .masks import get_keras_mask, set_keras_mask
from .rules import Rule
from .random import SeedLike, default_rng
from .typing import Axis, DTypeLike, ShapeLike, TensorLike

__all__ = [
    "Tensor", "tensor", "as_tensor", "record",
    "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye",
    "rand", "randn",
]

DEFAULT_FLOAT = np.dtype(np.float32)


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    A ``Tensor`` holds a NumPy array (``.data``, or ``.numpy()``). Operators and
    functions work as in NumPy, broadcasting included; when a tensor with
    ``requires_grad=True`` takes part, each operation is recorded, and
    ``backward()`` fills ``.grad`` of the leaves by the chain rule (PyTorch's
    ``torch.Tensor``). Make them with ``cr.tensor`` (which copies, as
    ``torch.tensor``), ``cr.as_tensor``, ``cr.zeros``, ``cr.randn``...

    Args:
        data: a number, nested lists, a NumPy array or a ``Tensor``.
        dtype: the NumPy dtype; None keeps an array's dtype and makes
            Python floats ``float32`` and Python ints ``int64``.
        requires_grad: record operations on it so gradients flow back to it
            (floating dtypes only).
        name: a name shown by ``cr.explain`` and ``viz.draw_graph``.

    Example:

    >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad                       # dy/dx = 2x
    tensor([2., 4., 6.])
    >>> x.shape, x.dtype
    ((3,), dtype('float32'))
    """
    __slots__ = ("data", "grad", "requires_grad", "_node", "_retain_grad",
                 "_version", "name", "__weakref__")

    # NumPy defers to our reflected operators (``array * tensor``).
    __array_ufunc__ = None

    data: np.ndarray
    grad: Tensor | None
    requires_grad: bool
    name: str | None
    _node: Any      # its Node, or None (Any: the traversal reads it only where it is set)

    if TYPE_CHECKING:
        # Assigned after the class body (each is the op itself, see the end of
        # this module); declared here so type checkers know them.
        def __add__(self, other: TensorLike) -> Tensor: ...
        def __radd__(self, other: TensorLike) -> Tensor: ...
        def __sub__(self, other: TensorLike) -> Tensor: ...
        def __rsub__(self, other: TensorLike) -> Tensor: ...
        def __mul__(self, other: TensorLike) -> Tensor: ...
        def __rmul__(self, other: TensorLike) -> Tensor: ...
        def __truediv__(self, other: TensorLike) -> Tensor: ...
        def __rtruediv__(self, other: TensorLike) -> Tensor: ...
        def __pow__(self, other: TensorLike) -> Tensor: ...
        def __rpow__(self, other: TensorLike) -> Tensor: ...
        def __matmul__(self, other: TensorLike) -> Tensor: ...
        def __rmatmul__(self, other: TensorLike) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __getitem__(self, index: Any) -> Tensor: ...
        def __eq__(self, other: TensorLike) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other: TensorLike) -> Tensor: ...  # type: ignore[override]
        def __lt__(self, other: TensorLike) -> Tensor: ...
        def __le__(self, other: TensorLike) -> Tensor: ...
        def __gt__(self, other: TensorLike) -> Tensor: ...
        def __ge__(self, other: TensorLike) -> Tensor: ...
        def sum(self, axis: Axis = None, keepdims: bool = False, **numpy_keywords: Any) -> Tensor: ...
        def mean(self, axis: Axis = None, keepdims: bool = False, **numpy_keywords: Any) -> Tensor: ...
        def var(self, axis: Axis = None, keepdims: bool = False, **numpy_keywords: Any) -> Tensor: ...
        def std(self, axis: Axis = None, keepdims: bool = False, **numpy_keywords: Any) -> Tensor: ...
        def max(self, axis: Axis = None, keepdims: bool = False, **numpy_keywords: Any) -> Tensor: ...
        def min(self, axis: Axis = None, keepdims: bool = False, **numpy_keywords: Any) -> Tensor: ...
        def argmax(self, axis: int | None = None, keepdims: bool = False, **numpy_keywords: Any) -> Tensor: ...
        def argmin(self, axis: int | None = None, keepdims: bool = False, **numpy_keywords: Any) -> Tensor: ...
        def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor: ...
        def softmax(self, axis: int = -1) -> Tensor: ...
        def log_softmax(self, axis: int = -1) -> Tensor: ...
        def exp(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def sin(self) -> Tensor: ...
        def cos(self) -> Tensor: ...
        def tanh(self) -> Tensor: ...
        def sigmoid(self) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def leaky_relu(self, alpha: builtins.float = 0.01) -> Tensor: ...
        def elu(self, alpha: builtins.float = 1.0) -> Tensor: ...
        def softplus(self) -> Tensor: ...
        def sign(self) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def clip(self, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor: ...
        def reshape(self, *shape: Any) -> Tensor: ...
        def transpose(self, axes: Sequence[int] | None = None) -> Tensor: ...
        def swapaxes(self, axis1: int, axis2: int) -> Tensor: ...
        def expand_dims(self, axis: int | Sequence[int]) -> Tensor: ...
        def squeeze(self, axis: Axis = None) -> Tensor: ...
        def flatten(self, start_axis: int = 0) -> Tensor: ...
        def broadcast_to(self, shape: Sequence[int]) -> Tensor: ...
        def matmul(self, other: TensorLike) -> Tensor: ...
        def dot(self, other: TensorLike) -> Tensor: ...
        def pad(self, pad_width: Any, value: builtins.float = 0) -> Tensor: ...
        def pow(self, exponent: TensorLike) -> Tensor: ...
        def assign(self, value: TensorLike) -> Tensor: ...
        def assign_add(self, delta: TensorLike) -> Tensor: ...
        def assign_sub(self, delta: TensorLike) -> Tensor: ...
        @property
        def value(self) -> Tensor: ...
        @property
        def grad_fn(self) -> GradFn | None: ...
        def t(self) -> Tensor: ...
        def zero_(self) -> Tensor: ...
        def double(self) -> Tensor: ...
        def float(self) -> Tensor: ...

    def __init__(self, data: TensorLike, dtype: DTypeLike | None = None, requires_grad: bool = False,
                 name: str | None = None) -> None:
        self.data = _to_array(data, dtype)
        self.grad = None
        self.requires_grad = False
        self._node = None
        self._retain_grad = False
        self._version = 0           # bumped by in-place changes (see graph.Node)
        self.name = name
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data: Any) -> Tensor:
        """Fast constructor for op results: ``data`` is trusted."""
        t = cls.__new__(cls)
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t.grad = None
        t.requires_grad = False
        t._node = None
        t._retain_grad = False
        t._version = 0
        t.name = None
        return t

    # -- properties ---------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Tuple of dimensions."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """NumPy dtype."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """Number of elements."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by a recorded op."""
        return self._node is None

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed (``x.transpose()``)."""
        return ops.transpose(self)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (batched matrix transpose)."""
        return ops.swapaxes(self, -1, -2)

    @property
    def _keras_mask(self):
        """The boolean (batch, steps) mask a layer attached to this tensor, or
        None (Keras 3's ``_keras_mask``; kept in ``chainrule.masks``)."""
        return get_keras_mask(self)

    @_keras_mask.setter
    def _keras_mask(self, mask):
        set_keras_mask(self, mask)

    # -- conversion ---------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The underlying NumPy array (shares memory).

        Returns:
            ``self.data``, not a copy.
        """
        if TRACER[0] is not None:
            _check_not_traced(self, "numpy()")
        return self.data

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None:
            return self.data.astype(dtype, copy=bool(copy))
        return self.data.copy() if copy else self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number.

        Returns:
            A Python ``float``, ``int``, ``bool`` or ``complex``.
        """
        if TRACER[0] is not None:
            _check_not_traced(self, "item()")
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a tensor with exactly one element; this one has "
                f"shape {self.shape} ({self.size} elements). Index it first or reduce it with sum()/mean().")
        return self.data.item()

    def __float__(self) -> builtins.float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if TRACER[0] is not None:
            _check_not_traced(self, "a Python branch on it (if/while/and/or)")
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                f"use .any() or .all() style reductions on .numpy()")
        return bool(self.data)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def tolist(self) -> Any:
        """The values as nested Python lists (a number for a 0-d tensor).

        Returns:
            What ``numpy.ndarray.tolist`` returns for ``self.data``.
        """
        if TRACER[0] is not None:
            _check_not_traced(self, "tolist()")
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor with the same data, cut from the graph (no gradient).

        Returns:
            A new constant tensor sharing this one's array.
        """
        return Tensor._wrap(self.data)

    def astype(self, dtype: DTypeLike) -> Tensor:
        """Cast to ``dtype``; the gradient flows back cast to the original dtype.

        Args:
            dtype: the new dtype.

        Returns:
            The cast tensor (recorded, so differentiable).
        """
        return ops.astype(self, dtype)

    def copy(self) -> Tensor:
        """A copy of the data that stays in the graph (``torch.Tensor.clone``).

        Returns:
            A new tensor; the gradient flows back through it.
        """
        return ops.astype(self, self.dtype, copy=True)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (only float tensors can need grads).

        Args:
            requires_grad: whether operations on it are recorded.

        Returns:
            The tensor itself.
        """
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"only floating-point tensors can require gradients; this one is "
                f"{self.data.dtype}. Create it with dtype='float32' (or float64).")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad can only be switched off on a leaf; "
                               "use .detach() for a tensor made by an op")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after ``backward()``.

        Returns:
            The tensor itself.
        """
        self._retain_grad = True
        return self

    def zero_grad(self) -> None:
        """Forget the gradient (``.grad = None``)."""
        self.grad = None

    def backward(self, grad: TensorLike | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Compute the gradient of this tensor with respect to the graph's leaves.

        Gradients are *added* into each leaf's ``.grad`` (like PyTorch); reset
        them with ``t.grad = None`` between steps.

        Args:
            grad: the gradient of the final result with respect to this tensor,
                of its shape; defaults to 1 for a one-element tensor.
            retain_graph: keep the graph for another backward (default: only
                when ``create_graph``).
            create_graph: record the backward, so the gradients are
                differentiable themselves.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: none of its "
                "inputs had requires_grad=True (or it was computed under no_grad()).")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a one-element output; this "
                    f"one has shape {self.shape}. Reduce it first (loss.sum() or "
                    f"loss.mean()) or pass grad= of the same shape.")
            grad = Tensor._wrap(np.ones(self.data.shape, self.data.dtype))
        else:
            grad = Tensor._wrap(np.array(grad.data if isinstance(grad, Tensor) else grad,
                                         dtype=self.dtype))      # a copy: .grad may be updated in place
            if grad.shape != self.shape:
                raise ValueError(f"backward(grad=...) has shape {grad.shape}, but the "
                                 f"tensor has shape {self.shape}; they must match")
        graph.run_backward([self], [grad], create_graph=create_graph,
                           retain_graph=retain_graph)

    # -- printing -----------------------------------------------------------
    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype not in (DEFAULT_FLOAT, np.dtype(np.int64), np.dtype(bool)):
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn={self._node.op}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.data.size > np.get_printoptions()["threshold"]:   # values elided with "..."
            extras.append(f"shape={self.data.shape}")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def _repr_html_(self) -> str:
        """Jupyter's view: shape, dtype and gradient state, then a preview of the values."""
        import html
        state = (f"made by {self._node.op} (grad flows back)" if self._node is not None else
                 "leaf, requires_grad" if self.requires_grad else "constant (no grad)")
        if self.grad is not None:
            state += ", .grad filled"
        name = f" <code>{html.escape(self.name)}</code>" if self.name else ""
        preview = np.array2string(self.data, separator=", ", threshold=100, edgeitems=3,
                                  precision=4)
        return (f"<div><b>Tensor</b>{name} &middot; shape {tuple(self.data.shape)} &middot; "
                f"{self.data.dtype} &middot; {state}</div>"
                f"<pre style='margin: 0.2em 0'>{html.escape(preview)}</pre>")

    # -- in-place assignment ------------------------------------------------
    @graph.effect
    def __setitem__(self, index: Any, value: TensorLike) -> None:
        needs = self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)
        if needs and STATE.grad_enabled:
            raise RuntimeError(
                "assigning into a tensor that takes part in differentiation would "
                "break its gradient. Build the new tensor instead: "
                "cr.where(mask, new, x) replaces entries, cr.concatenate([...]) joins "
                "pieces; or assign under `with cr.no_grad():` to change values only.")
        self.data[index] = value.data if isinstance(value, Tensor) else value
        self._version += 1

    def _inplace(self, other, op, ufunc):
        # x += y: in place when nothing is being differentiated (weight
        # updates under no_grad); otherwise rebinding x to x + y keeps the
        # gradient right.
        other_t = other if isinstance(other, Tensor) else None
        if STATE.grad_enabled and (self.requires_grad or (other_t is not None and other_t.requires_grad)):
            return op(self, other)
        return self._update_in_place(other, op, ufunc)

    @graph.effect
    def _update_in_place(self, other, op, ufunc):
        other_t = other if isinstance(other, Tensor) else None
        try:
            ufunc(self.data, other_t.data if other_t is not None else other,
                  out=self.data, casting="same_kind")
        except ValueError:
            raise ShapeError(f"in-place {op.__name__}: a tensor of shape {self.shape} cannot "
                             f"take an operand of shape {np.shape(other)} in place; the "
                             f"result must keep the shape {self.shape}") from None
        self._version += 1
        return self

    def __iadd__(self, other: TensorLike) -> Tensor: return self._inplace(other, ops.add, np.add)
    def __isub__(self, other: TensorLike) -> Tensor: return self._inplace(other, ops.subtract, np.subtract)
    def __imul__(self, other: TensorLike) -> Tensor: return self._inplace(other, ops.multiply, np.multiply)
    def __itruediv__(self, other: TensorLike) -> Tensor: return self._inplace(other, ops.divide, np.true_divide)

    # Tensors compare elementwise, so identity decides hashing.
    __hash__ = object.__hash__


def _to_array(data: Any, dtype: DTypeLike | None = None) -> np.ndarray:
    """Turn user data into an ndarray following the dtype rules of API.md §9.

    Python floats and lists of floats become float32, Python ints int64, NumPy
    arrays keep their dtype unless ``dtype`` is given.
    """
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        try:
            arr = np.array(data)
        except ValueError as e:  # ragged nested lists
            raise creation_error(data, str(e)) from None
        if arr.dtype == np.float64 and dtype is None:
            arr = arr.astype(DEFAULT_FLOAT)
    if arr.dtype.kind not in "biufc":
        raise creation_error(data, f"its NumPy dtype is {arr.dtype}")
    if dtype is not None:
        converted = arr.astype(np.dtype(dtype), copy=False)
        if TRACER[0] is not None and converted is not arr:
            TRACER[0].on_convert(arr, converted)
        arr = converted
    return arr


def tensor(data: TensorLike, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Create a tensor from a number, a (nested) list or a NumPy array; the data
    are copied, as ``torch.tensor`` does (``cr.as_tensor`` shares them when it can).

    Args:
        data: a number, nested lists, a NumPy array or a ``Tensor``.
        dtype: a NumPy dtype or its name (``"float32"``, ``cr.float64``);
            None keeps an array's dtype and makes Python floats ``float32``
            and Python ints ``int64``.
        requires_grad: record operations on it so ``backward()`` fills its
            ``.grad`` (floating dtypes only).

    Returns:
        A new ``Tensor``.

    Example:

    >>> x = cr.tensor([[1, 2], [3, 4]], dtype="float32", requires_grad=True)
    >>> x.shape, x.dtype
    ((2, 2), dtype('float32'))
    >>> cr.tensor(2.5), cr.tensor([1, 2]).dtype
    (tensor(2.5), dtype('int64'))
    """
    arr = _to_array(data, dtype)
    copy = np.array(arr)
    if TRACER[0] is not None:
        TRACER[0].on_convert(arr, copy)
    return Tensor(copy, requires_grad=requires_grad)


def as_tensor(x: TensorLike, dtype: DTypeLike | None = None) -> Tensor:
    """``x`` as a Tensor, without copying when it already is one.

    Args:
        x: a tensor, a NumPy array, a number or nested lists.
        dtype: cast to this dtype (None: keep the dtype, as ``cr.tensor``).

    Returns:
        ``x`` itself when it is a tensor of that dtype, else a tensor sharing
        ``x``'s array where NumPy can.
    """
    if isinstance(x, Tensor):
        if dtype is not None and x.dtype != np.dtype(dtype):
            return x.astype(dtype)
        return x
    return Tensor._wrap(_to_array(x, dtype))


def record(op: Rule | str, data: Any, inputs: Sequence[Tensor],
           vjp: Callable[..., Any] | None = None,
           array_vjp: Callable[..., Any] | None = None) -> Tensor:
    """Wrap ``data`` (an op's NumPy result) in a Tensor and record its Node.

    Every op ends with this call. It is on the hot path, so it does only what
    it must: the node is made only when recording is on and an input needs a
    gradient.

    Args:
        op: the op's declared ``Rule`` (see ``chainrule.rules``), whose vjps
            the node takes unless the op made its own for this call; or a name
            (a string), with a ``vjp``, for a one-off op of your own.
        data: the op's result, a NumPy array.
        inputs: the tensors the op read.
        vjp: this call's differentiable vjp (a closure over forward values).
        array_vjp: this call's vjp on arrays.

    Returns:
        The output tensor, with its node when a gradient will flow back.
    """
    out = _new(Tensor)            # Tensor._wrap, inlined: this runs for every op
    out.data = data if type(data) is np.ndarray else np.asarray(data)
    out.grad = None
    out.requires_grad = False
    out._node = None
    out._retain_grad = False
    out._version = 0
    out.name = None
    if MODE_COUNTS[1] and STATE._anomaly:
        check_finite(out.data, f"the forward of '{getattr(op, 'name', op)}'")
    if not MODE_COUNTS[0] or STATE._grad_enabled:    # (graph.MODE_COUNTS: skip the thread-local)
        for t in inputs:
            if t.requires_grad:
                out.requires_grad = True
                name = op
                if type(op) is Rule:
                    if vjp is None:
                        vjp, array_vjp = op.vjp, op.array_vjp  # type: ignore[assignment]
                    name = op.name
                elif vjp is None:
                    raise TypeError(f"record({op!r}, ...): give the op's Rule or a vjp")
                # the inputs' versions now (spelled out for one to three inputs:
                # a list comprehension is a function call in Python 3.11)
                n = len(inputs)
                versions = ((inputs[0]._version,) if n == 1 else
                            (inputs[0]._version, inputs[1]._version) if n == 2 else
                            (inputs[0]._version, inputs[1]._version, inputs[2]._version)
                            if n == 3 else      # (linear: x, kernel, bias)
                            tuple([i._version for i in inputs]))
                out._node = Node(name, inputs, vjp, versions, array_vjp)  # type: ignore[arg-type]
                break
    if TRACER[0] is not None:
        TRACER[0].on_record(op, out, inputs)
    return out


def _check_not_traced(tensor: Tensor, what: str) -> None:
    """Inside a ``cr.jit`` trace, a traced tensor's value read in Python would
    be frozen into the trace: say so instead."""
    tracer = TRACER[0]
    if tracer.traced(tensor):
        raise graph.JitError(
            f"{what} reads the value of a tensor traced by cr.jit (shape {tensor.shape}): "
            f"inside a compiled function that value would be frozen at trace time. Return the "
            f"tensor from the function and read it outside, use an op instead of a Python "
            f"branch (cr.where), or call the function without jit.")


_new = object.__new__
graph.bind_tensor_type(Tensor)


# --------------------------------------------------------------------------
# Creation functions
# --------------------------------------------------------------------------
def _shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
        return tuple(shape[0])
    return tuple(shape)


def _dtype_arg(dtype: DTypeLike | None) -> np.dtype:
    return DEFAULT_FLOAT if dtype is None else np.dtype(dtype)


def zeros(*shape: Any, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros; ``zeros(2, 3)`` and ``zeros((2, 3))`` both work.

    Args:
        *shape: the sizes, or one sequence of them.
        dtype: the dtype (default ``float32``).
        requires_grad: whether it is a leaf that needs a gradient.

    Returns:
        A new tensor.
    """
    return Tensor(np.zeros(_shape_arg(shape), _dtype_arg(dtype)), requires_grad=requires_grad)


def ones(*shape: Any, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones.

    Args:
        *shape: the sizes, or one sequence of them.
        dtype: the dtype (default ``float32``).
        requires_grad: whether it is a leaf that needs a gradient.

    Returns:
        A new tensor.
    """
    return Tensor(np.ones(_shape_arg(shape), _dtype_arg(dtype)), requires_grad=requires_grad)


def full(shape: ShapeLike, fill_value: Any, dtype: DTypeLike | None = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``.

    Args:
        shape: the sizes (an int for one dimension).
        fill_value: the value of every element.
        dtype: the dtype (default ``int64`` for an int value, else ``float32``).
        requires_grad: whether it is a leaf that needs a gradient.

    Returns:
        A new tensor.
    """
    if dtype is None:
        dtype = np.int64 if isinstance(fill_value, numbers.Integral) and not isinstance(fill_value, bool) else DEFAULT_FLOAT
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)  # type: ignore[assignment,arg-type]
    return Tensor(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)


def zeros_like(x: TensorLike, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``x``'s shape.

    Args:
        x: a tensor or array.
        dtype: the dtype (default: ``x``'s).
        requires_grad: whether it is a leaf that needs a gradient.

    Returns:
        A new tensor.
    """
    x = np.asarray(x.data if isinstance(x, Tensor) else x)
    return Tensor(np.zeros(x.shape, dtype or x.dtype), requires_grad=requires_grad)


def ones_like(x: TensorLike, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``x``'s shape.

    Args:
        x: a tensor or array.
        dtype: the dtype (default: ``x``'s).
        requires_grad: whether it is a leaf that needs a gradient.

    Returns:
        A new tensor.
    """
    x = np.asarray(x.data if isinstance(x, Tensor) else x)
    return Tensor(np.ones(x.shape, dtype or x.dtype), requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: DTypeLike | None = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in ``[start, stop)``; int64 for integer arguments.

    Args:
        start: the first value (or ``stop``, from 0, when ``stop`` is None).
        stop: the end, not included.
        step: the spacing.
        dtype: the dtype (default ``int64`` for ints, else ``float32``).
        requires_grad: whether it is a leaf that needs a gradient.

    Returns:
        A new 1-d tensor.
    """
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, stop, step))
        dtype = np.int64 if ints else DEFAULT_FLOAT
    return Tensor(np.arange(start, stop, step, dtype=dtype), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: DTypeLike | None = None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix (n rows, m columns).

    Args:
        n: the number of rows.
        m: the number of columns (default ``n``).
        dtype: the dtype (default ``float32``).
        requires_grad: whether it is a leaf that needs a gradient.

    Returns:
        A new 2-d tensor.
    """
    return Tensor(np.eye(n, m, dtype=_dtype_arg(dtype)), requires_grad=requires_grad)


def rand(*shape: Any, dtype: DTypeLike | None = None, requires_grad: bool = False,
         seed: SeedLike = None) -> Tensor:
    """Uniform samples in [0, 1); reproducible with ``cr.set_seed``.

    Args:
        *shape: the sizes, or one sequence of them.
        dtype: the dtype (default ``float32``).
        requires_grad: whether it is a leaf that needs a gradient.
        seed: a seed or generator for these samples (default: the global one).

    Returns:
        A new tensor.
    """
    rng = default_rng(seed)
    data = rng.random(_shape_arg(shape)).astype(_dtype_arg(dtype))
    return Tensor(data, requires_grad=requires_grad)


def randn(*shape: Any, dtype: DTypeLike | None = None, requires_grad: bool = False,
          seed: SeedLike = None) -> Tensor:
    """Standard normal samples; reproducible with ``cr.set_seed``.

    Args:
        *shape: the sizes, or one sequence of them.
        dtype: the dtype (default ``float32``).
        requires_grad: whether it is a leaf that needs a gradient.
        seed: a seed or generator for these samples (default: the global one).

    Returns:
        A new tensor.
    """
    rng = default_rng(seed)
    data = rng.standard_normal(_shape_arg(shape)).astype(_dtype_arg(dtype))
    return Tensor(data, requires_grad=requires_grad)


from . import ops  # noqa: E402  (ops build on Tensor; Tensor's methods call ops)


def _reflected(op: Callable[[Any, Any], Tensor]) -> Callable[[Tensor, TensorLike], Tensor]:
    def method(self: Tensor, other: TensorLike) -> Tensor:
        return op(other, self)
    return method


# Operators. Each is the op itself, so ``a + b`` costs one call.
# (mypy: "method-assign", by design; the class body declares their types.)
Tensor.__add__, Tensor.__radd__ = ops.add, _reflected(ops.add)  # type: ignore[method-assign]
Tensor.__sub__, Tensor.__rsub__ = ops.subtract, _reflected(ops.subtract)  # type: ignore[method-assign]
Tensor.__mul__, Tensor.__rmul__ = ops.multiply, _reflected(ops.multiply)  # type: ignore[method-assign]
Tensor.__truediv__, Tensor.__rtruediv__ = ops.divide, _reflected(ops.divide)  # type: ignore[method-assign]
Tensor.__pow__, Tensor.__rpow__ = ops.power, _reflected(ops.power)  # type: ignore[method-assign]
Tensor.__matmul__, Tensor.__rmatmul__ = ops.matmul, _reflected(ops.matmul)  # type: ignore[method-assign]
Tensor.__neg__ = ops.negative  # type: ignore[method-assign]
Tensor.__abs__ = ops.abs  # type: ignore[method-assign]
Tensor.__getitem__ = ops.getitem  # type: ignore[method-assign]
Tensor.__eq__, Tensor.__ne__ = ops.equal, ops.not_equal  # type: ignore[method-assign]
Tensor.__lt__, Tensor.__le__ = ops.less, ops.less_equal  # type: ignore[method-assign]
Tensor.__gt__, Tensor.__ge__ = ops.greater, ops.greater_equal  # type: ignore[method-assign]

# Methods that read naturally on a tensor: x.sum(axis=0), x.reshape(2, 3)...
for _name in ("sum", "mean", "var", "std", "max", "min", "argmax", "argmin",
              "logsumexp", "softmax", "log_softmax", "exp", "log", "sqrt", "sin",
              "cos", "tanh", "sigmoid", "relu", "leaky_relu", "elu", "softplus",
              "sign", "abs", "clip", "reshape", "transpose", "swapaxes",
              "expand_dims", "squeeze", "flatten", "broadcast_to", "matmul",
              "dot", "pad"):
    setattr(Tensor, _name, getattr(ops, _name))
del _name


# --------------------------------------------------------------------------
# NumPy's reduction functions: np.mean(t, dtype=...) and friends call these
# methods with NumPy's keywords (dtype, out, ...), so they accept them.
# --------------------------------------------------------------------------
def _numpy_reduction(op: Callable[..., Tensor], takes_dtype: bool = True) -> Callable[..., Any]:
    def method(self: Tensor, axis: Axis = None, keepdims: bool = False, *,
               dtype: DTypeLike | None = None, out: np.ndarray | None = None, **kwargs: Any) -> Any:
        if dtype is None and out is None and not kwargs:     # t.sum(): straight to the op
            return op(self, axis, keepdims)
        x = self if dtype is None else ops.astype(self, dtype)
        unknown = set(kwargs) - {"ddof", "where", "initial"}
        if unknown:
            raise TypeError(f"Tensor.{op.__name__}() got unexpected keyword argument(s) "
                            f"{sorted(unknown)}")
        if kwargs.get("initial", None) is not None or kwargs.get("where", True) is not True:
            # NumPy-only options: compute on the array, as NumPy would.
            result = getattr(np, op.__name__)(x.data, axis=axis, keepdims=keepdims, **kwargs)
            result = Tensor._wrap(np.asarray(result))
        elif "ddof" in kwargs:
            result = op(x, axis, keepdims, ddof=kwargs["ddof"])
        else:
            result = op(x, axis, keepdims)
        if out is not None:                # NumPy's out=: fill it and return it
            out[...] = result.data
            return out
        return result
    method.__name__ = op.__name__
    method.__doc__ = (op.__doc__ or "").rstrip() + _NUMPY_KEYWORDS
    if not takes_dtype:
        method.__doc__ = method.__doc__ + "\n(``dtype`` casts the input first.)"
    return method


# Appended to the reductions' docstrings: the keywords NumPy passes (np.mean(t, dtype=...)).
_NUMPY_KEYWORDS = """

    NumPy's keywords, for ``np.sum(t, ...)`` and friends:

    Args:
        dtype: cast the input to this dtype first.
        out: an array to write the result into (it is returned).
        **kwargs: ``ddof`` (var, std), ``where`` and ``initial``, as NumPy.
"""


for _op in (ops.sum, ops.mean, ops.var, ops.std, ops.max, ops.min, ops.argmax, ops.argmin):
    setattr(Tensor, _op.__name__, _numpy_reduction(_op))
del _op


# --------------------------------------------------------------------------
# Variables (Keras 3): a weight is a Tensor; these update it in place.
# --------------------------------------------------------------------------
@graph.effect
def _assign_value(self: Tensor, value: TensorLike, how: str) -> Tensor:
    value = value.data if isinstance(value, Tensor) else np.asarray(value)
    if not self.data.flags.writeable:      # a read-only view (e.g. a broadcast placeholder)
        self.data = np.array(self.data)
    try:
        new = np.broadcast_to(value, self.shape) if how == "assign" else value
        if how == "assign":
            np.copyto(self.data, new, casting="unsafe")
        elif how == "add":
            np.add(self.data, new, out=self.data, casting="unsafe")
        else:
            np.subtract(self.data, new, out=self.data, casting="unsafe")
    except ValueError:
        raise ShapeError(f"assign{'' if how == 'assign' else '_' + how}: the variable has "
                         f"shape {self.shape} but the value has shape {np.shape(value)}; "
                         f"they must match (or the value broadcast to it)") from None
    self._version += 1
    return self


def _assign(self: Tensor, value: TensorLike) -> Tensor:
    """Set the value in place, as Keras' ``variable.assign(value)``.

    Shape and dtype stay; the update is not recorded (not differentiable),
    like an optimizer's step.

    Args:
        value: the new value, of the variable's shape (or broadcast to it).

    Returns:
        The variable.
    """
    return _assign_value(self, value, "assign")


def _assign_add(self: Tensor, delta: TensorLike) -> Tensor:
    """``variable += delta`` in place (Keras' ``assign_add``).

    Args:
        delta: what to add.

    Returns:
        The variable.
    """
    return _assign_value(self, delta, "add")


def _assign_sub(self: Tensor, delta: TensorLike) -> Tensor:
    """``variable -= delta`` in place (Keras' ``assign_sub``).

    Args:
        delta: what to subtract.

    Returns:
        The variable.
    """
    return _assign_value(self, delta, "sub")


def _value(self: Tensor) -> Tensor:
    """The variable itself, as a tensor (Keras' ``variable.value``): ops on it
    stay differentiable with respect to the variable."""
    return self


Tensor.assign, Tensor.assign_add, Tensor.assign_sub = _assign, _assign_add, _assign_sub  # type: ignore[method-assign]
Tensor.value = property(_value)  # type: ignore[assignment,misc]


# --------------------------------------------------------------------------
# PyTorch spellings
# --------------------------------------------------------------------------
class GradFn:
    """What ``t.grad_fn`` returns for a tensor made by a recorded op (PyTorch's
    ``grad_fn``): ``name()`` gives e.g. ``'MultiplyBackward'``; ``op`` the op's name.

    Args:
        op: the name of the op that made the tensor.
    """

    __slots__ = ("op",)

    def __init__(self, op: str) -> None:
        self.op = op

    def name(self) -> str:
        """The PyTorch-style name of the backward.

        Returns:
            The op's name in CamelCase followed by ``Backward``.
        """
        return "".join(part.capitalize() for part in self.op.split("_")) + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"


def _grad_fn(self: Tensor) -> GradFn | None:
    return None if self._node is None else GradFn(self._node.op)


def _t(self: Tensor) -> Tensor:
    """The transpose of a tensor of at most 2 dimensions (``torch.Tensor.t``).

    Returns:
        The transposed tensor (the tensor itself for 0 or 1 dimensions).
    """
    if self.ndim > 2:
        raise ValueError(f"t() expects a tensor of at most 2 dimensions, got shape "
                         f"{self.shape}; use transpose(axes) or .mT for batches")
    return ops.transpose(self)


def _zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place (``torch.Tensor.zero_``, as in ``w.grad.zero_()``).

    Returns:
        The tensor itself.
    """
    self.data[...] = 0
    self._version += 1
    return self


def _double(self: Tensor) -> Tensor:
    """Cast to float64 (``torch.Tensor.double``); differentiable.

    Returns:
        The cast tensor.
    """
    return ops.astype(self, np.float64)


def _float(self: Tensor) -> Tensor:
    """Cast to float32 (``torch.Tensor.float``); differentiable.

    Returns:
        The cast tensor.
    """
    return ops.astype(self, np.float32)


Tensor.grad_fn = property(_grad_fn, doc="None for a leaf, else an object with name().")  # type: ignore[assignment,misc]
Tensor.t = _t  # type: ignore[method-assign]
Tensor.zero_ = _zero_  # type: ignore[method-assign]
Tensor.pow = ops.power  # type: ignore[method-assign,assignment]
Tensor.double = _double  # type: ignore[method-assign]
Tensor.float = _float  # type: ignore[method-assign]
