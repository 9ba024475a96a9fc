"""The optimizer base class: everything the Keras 3 optimizers share.

One step of any optimizer, as Keras 3 does it::

    grads = clip(grads)                   # clipnorm | global_clipnorm | clipvalue
    for each variable w (not excluded):   # decoupled weight decay, before the step
        w -= weight_decay * lr * w
    for each (g, w): update_step(g, w)    # the optimizer's own rule
    iterations += 1

``lr`` is the learning rate at the current ``iterations`` (a float, or a
schedule evaluated at ``iterations``). Variables are ``cr.Tensor`` leaves; the
update writes their ``.data`` in place with NumPy and records no graph.

A subclass holds only its own rule: ``_build_slots(value)`` returns the
per-variable state (e.g. ``{"momentum": zeros}``) and
``_update_step(grad, value, slots, lr)`` changes ``value`` and ``slots`` in
place. ``self.iterations + 1`` is the step number ``t`` during an update.

Every rule here is elementwise, so small variables of one dtype are updated
together: their gradients and values are concatenated into flat arrays, one
``_update_step`` runs on those (their slots are views into flat slot arrays),
and the results are copied back. Same arithmetic, one call per ufunc instead
of one per variable and ufunc (a dozen-ufunc Adam step on a few small arrays
is mostly call overhead).
"""
from __future__ import annotations

import math
import re
import warnings
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import numpy as np

from .. import constraints, graph
from ..autodiff import GradientTape
from ..scratch import scratch
from ..tensor import Tensor
from . import schedules as _schedules
from .schedules import LearningRateSchedule
from ..typing import TensorLike

# A learning rate: a float, a schedule (evaluated at ``iterations``) or a
# zero-argument callable returning a float.
LearningRateLike = Union[float, LearningRateSchedule, Callable[[], float]]

# Keras 3 config keys chainrule does not implement; accepted at their defaults
# so that a config written by Keras loads.
# Variables with fewer elements than this are stepped together (see above);
# larger ones in place one by one (a copy in and out would cost passes).
FUSE_BELOW = 16384

_KERAS_ONLY_DEFAULTS = {"use_ema": False, "ema_momentum": 0.99,
                        "ema_overwrite_frequency": None, "loss_scale_factor": None,
                        "gradient_accumulation_steps": None}


def check_range(name: str, value: float, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """Raise ValueError naming ``name`` unless ``value`` is a number in the range.

    ``low_open``/``high_open`` exclude the bounds: rho in [0, 1) is
    ``check_range("rho", rho, 0, 1, high_open=True)``.

    Args:
        name: the argument's name, for the message.
        value: the value to check.
        low: the lower bound (None: none).
        high: the upper bound (None: none).
        low_open: exclude ``low`` itself.
        high_open: exclude ``high`` itself.

    Returns:
        ``value`` as a float.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Argument `{name}` must be a number. Received: {name}={value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high or math.isnan(value):
        left = "-inf" if low is None else f"{low}"
        right = "inf" if high is None else f"{high}"
        interval = f"{'(' if low_open or low is None else '['}{left}, {right}{')' if high_open or high is None else ']'}"
        raise ValueError(f"Argument `{name}` must be in {interval}. Received: {name}={value!r}")
    return float(value)


class Optimizer:
    """Base class of the optimizers (Keras 3's ``BaseOptimizer``).

    Args:
        learning_rate: a float >= 0, a ``LearningRateSchedule`` (evaluated at
            ``iterations``) or a zero-argument callable returning a float.
        weight_decay: if set, each step first does ``w -= weight_decay * lr * w``.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global L2 norm.
            At most one of the three clipping options may be set.
        name: a name for the optimizer.
        **kwargs: Keras' options chainrule does not implement (``use_ema``,
            ...), accepted at their defaults so Keras' configs load.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = cr.optimizers.SGD(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(cr.tensor([1.0, 1.0]), w)])
    >>> w
    tensor([0.9, 1.9], requires_grad=True)
    """

    # Step small variables together (module docstring); off where a rule is a
    # single ufunc per variable and the copies would cost more than they save.
    _fuse_small = True

    def __init__(self, learning_rate: LearningRateLike, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None,
                 **kwargs: Any) -> None:
        for key, default in _KERAS_ONLY_DEFAULTS.items():
            if key in kwargs and kwargs.pop(key) != default:
                raise NotImplementedError(f"chainrule optimizers do not implement `{key}`")
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        set_clips = {k: v for k, v in [("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                       ("global_clipnorm", global_clipnorm)] if v is not None}
        if len(set_clips) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        for key, value in set_clips.items():
            check_range(key, value, 0)
        if weight_decay is not None:
            check_range("weight_decay", weight_decay, 0)
        self.name = name if name is not None else type(self).__name__.lower()
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.iterations = 0
        self._learning_rate = self._checked_learning_rate(learning_rate)
        self._slots: dict[Tensor, dict[str, np.ndarray]] = {}  # Tensor (hashed by identity) -> {slot name: ndarray}
        self._globals: dict[str, np.ndarray] = {}  # state shared by all variables (Nadam's u_product)
        self._fused: dict[tuple[Tensor, ...], _FusedGroup] = {}  # tuple of small variables -> their _FusedGroup
        self._exclude_ids: set[int] = set()
        self._exclude_pattern: re.Pattern[str] | None = None

    # -- learning rate ------------------------------------------------------
    @staticmethod
    def _checked_learning_rate(learning_rate):
        if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
            return learning_rate
        if isinstance(learning_rate, bool) or not isinstance(
                learning_rate, (int, float, np.integer, np.floating)):
            raise TypeError("Argument `learning_rate` should be a float, a LearningRateSchedule "
                             f"or a callable. Received: learning_rate={learning_rate!r}")
        return check_range("learning_rate", learning_rate, 0)

    @property
    def learning_rate(self) -> float:
        """The learning rate now: a schedule is evaluated at ``iterations``."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self.iterations))
        if callable(lr):
            return float(lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value: LearningRateLike) -> None:
        is_schedule = isinstance(value, LearningRateSchedule) or callable(value)
        if isinstance(self._learning_rate, LearningRateSchedule) and not is_schedule:
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not "
                            "settable. If you need the learning rate to be settable, you should "
                            "instantiate the optimizer with a float `learning_rate` argument.")
        self._learning_rate = self._checked_learning_rate(value)

    # -- weight decay exclusions -------------------------------------------
    def exclude_from_weight_decay(self, var_list: Sequence[Tensor] | None = None,
                                  var_names: Sequence[str] | None = None) -> None:
        """Skip weight decay for the tensors in ``var_list`` and for every tensor
        whose ``name`` contains one of the strings in ``var_names`` (e.g. "bias").

        Args:
            var_list: tensors to leave out of weight decay.
            var_names: substrings of the names of tensors to leave out.
        """
        self._exclude_ids = {id(v) for v in (var_list or [])}
        self._exclude_pattern = re.compile("|".join(map(re.escape, var_names))) if var_names else None

    def _use_weight_decay(self, var):
        if id(var) in self._exclude_ids:
            return False
        name = getattr(var, "name", None)
        return not (self._exclude_pattern is not None and name
                    and self._exclude_pattern.search(str(name)))

    # -- the step -----------------------------------------------------------
    def build(self, variables: Sequence[Tensor]) -> None:
        """Create the state (slots) of each variable now rather than at its first step.

        Args:
            variables: the variables this optimizer will update.
        """
        for var in variables:
            self._slots_of(var)

    def _slots_of(self, var):
        slots = self._slots.get(var)
        if slots is None:
            slots = self._slots[var] = self._build_slots(var.data)
        return slots

    def _scratch_like(self, value):
        """A work array shaped like ``value``, reused across variables and steps
        (an update that needs a temporary writes it here instead of allocating
        a weight-sized array every step). Not part of the saved state."""
        return scratch("optimizer update", value.shape, value.dtype)

    def _build_slots(self, value):
        """Per-variable state, as a dict of arrays shaped like ``value``."""
        return {}

    def _update_step(self, grad, value, slots, lr):
        """Change ``value`` (and ``slots``) in place, given its gradient."""
        raise NotImplementedError

    def _before_updates(self):
        """Once per step, before the variables' updates (for state shared by all)."""

    # While fit runs, training.py's _GradientGuard: all-reduces the gradients
    # of a distributed step and skips a step whose gradients are not finite.
    _gradient_guard = None

    def apply(self, grads: Iterable[TensorLike | None],
              trainable_variables: Sequence[Tensor] | None = None) -> int:
        """One step for ``grads`` and their variables, in the same order
        (Keras 3's ``optimizer.apply``; ``apply_gradients`` takes pairs).

        Without ``trainable_variables``, the variables given to ``build``.
        Returns the new ``iterations``.

        Args:
            grads: one gradient per variable (None skips it).
            trainable_variables: the variables (default: those given to ``build``).

        Returns:
            The new ``iterations``.
        """
        grads = list(grads)
        variables = list(self._slots) if trainable_variables is None else list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"apply: got {len(grads)} gradients for {len(variables)} variables"
                             + ("" if trainable_variables is not None else
                                " (the variables given to build(); pass trainable_variables)"))
        return self.apply_gradients(zip(grads, variables))

    @graph.effect
    def apply_gradients(self, grads_and_vars: Iterable[tuple[TensorLike | None, Tensor]]) -> int:
        """Apply one step for (gradient, variable) pairs; a None gradient is skipped.

        Returns the new ``iterations``.

        Args:
            grads_and_vars: (gradient, variable) pairs.

        Returns:
            The new ``iterations``.
        """
        if self._gradient_guard is not None:
            pairs = list(grads_and_vars)
            guarded = self._gradient_guard([g for g, _ in pairs], [v for _, v in pairs])
            if guarded is None:            # not finite: this step is skipped
                return self.iterations
            grads_and_vars = zip(guarded, [v for _, v in pairs])
        grads, variables = [], []
        skipped = []
        for grad, var in grads_and_vars:
            if type(var) is not Tensor and not isinstance(var, Tensor):
                raise TypeError(f"apply_gradients updates chainrule Tensors; got a variable of type "
                                f"{type(var).__name__}")
            if grad is None:
                skipped.append(var.name or f"tensor of shape {var.shape}")
                continue
            g, value = grad.data if type(grad) is Tensor else None, var.data
            if g is None or g.shape != value.shape or g.dtype != value.dtype:
                g = self._as_gradient(grad, var)      # checks the shape, casts the dtype
            grads.append(g)
            variables.append(var)
        if not grads:
            raise ValueError("No gradients provided for any variable.")
        if skipped:
            warnings.warn(f"Gradients do not exist for variables {skipped} when minimizing the loss.",
                          stacklevel=2)
        grads = self._clip_gradients(grads)
        lr = self.learning_rate
        if self.weight_decay:
            for var in variables:
                if self._use_weight_decay(var):
                    value = self._writable(var)
                    value -= value * value.dtype.type(self.weight_decay * lr)
        self._before_updates()
        alone, groups = self._plan(variables)
        self._step(grads, alone, groups, lr)
        if constraints.any_constraints():       # as Keras: project after the update
            for var in variables:
                constraint = constraints.constraint_of(var)
                if constraint is not None:
                    var.assign(constraint(var))
        self.iterations += 1
        return self.iterations

    def _replay_apply_gradients(self, grads_and_vars):
        """``apply_gradients`` for a compiled step (``chainrule.compiled``):
        returns ``(grads, update)``, where ``update(*grad_arrays)`` does what
        ``apply_gradients(zip(grads, variables))`` does, with the checks on
        shapes, dtypes and missing gradients made once, here. None when the
        general path is needed (a missing gradient, a dtype to cast)."""
        pairs = list(grads_and_vars)
        grads = [g for g, _ in pairs]
        variables = [v for _, v in pairs]
        for grad, var in pairs:
            g = grad.data if isinstance(grad, Tensor) else grad
            if not isinstance(var, Tensor) or not isinstance(g, np.ndarray) or \
                    g.shape != var.data.shape or g.dtype != var.data.dtype:
                return None
        alone, groups = self._plan(variables)

        def update(*grads):
            if (self.clipnorm or self.global_clipnorm or self.clipvalue or self.weight_decay or
                    constraints.any_constraints()):
                return self.apply_gradients(zip(grads, variables))
            if self._gradient_guard is not None:       # (fit's: see apply_gradients)
                checked = list(grads)
                guarded = self._gradient_guard(checked, variables)
                if guarded is None:
                    return self.iterations
                if guarded is not checked:             # (all-reduced by a distributed fit)
                    grads = tuple([g.data if isinstance(g, Tensor) else g for g in guarded])
            lr = self.learning_rate
            self._before_updates()
            self._step(grads, alone, groups, lr)
            self.iterations += 1
            return self.iterations
        return grads, update

    def _plan(self, variables):
        """How a step goes over ``variables``: ``alone``, (position, variable,
        dtype) for those stepped one by one, and ``groups``, (dtype, [(position,
        variable)]) for the small ones of one dtype stepped together."""
        small: dict[np.dtype, list[tuple[int, Tensor]]] = {}
        alone = []
        for k, var in enumerate(variables):
            if var.data.size < FUSE_BELOW and self._fuse_small:
                small.setdefault(var.data.dtype, []).append((k, var))
            else:
                alone.append((k, var, var.data.dtype))
        groups = [(dtype, group) for dtype, group in small.items() if len(group) > 1]
        alone += [(k, var, dtype) for dtype, group in small.items() if len(group) == 1
                  for k, var in group]
        return alone, groups

    def _step(self, grads, alone, groups, lr):
        """One ``_update_step`` per variable of ``alone`` and per group (see
        ``_plan``); ``grads`` by position, ``lr`` in each variable's dtype."""
        update_step, slots_of, typed = self._update_step, self._slots.get, {}
        for k, var, dtype in alone:
            typed_lr = typed.get(dtype)
            if typed_lr is None:
                typed_lr = typed[dtype] = dtype.type(lr)
            slots = slots_of(var)
            if slots is None:
                slots = self._slots_of(var)
            value = var.data
            if not value.flags.writeable:       # (a broadcast placeholder)
                value = self._writable(var)
            update_step(grads[k], value, slots, typed_lr)
            var._version += 1       # the engine detects in-place changes by this counter
        for dtype, group in groups:
            self._fused_step([(grads[k], var) for k, var in group], dtype.type(lr))

    def _fused_step(self, pairs, lr):
        """One ``_update_step`` for several small variables of one dtype, on
        flat concatenations of their gradients, values and slots."""
        variables = tuple(var for _, var in pairs)
        group = self._fused.get(variables)
        if group is None or group.shapes != [var.data.shape for var in variables]:
            # A variable belongs to one group at a time: its slots are views
            # into that group's arrays, so groups sharing a variable go.
            ids = {id(var) for var in variables}
            self._fused = {key: g for key, g in self._fused.items()
                           if not ids.intersection(map(id, key))}
            group = self._fused[variables] = _FusedGroup(self, variables)
        np.concatenate([g.reshape(-1) for g, _ in pairs], out=group.grads)
        np.concatenate([var.data.reshape(-1) for var in variables], out=group.values)
        self._update_step(group.grads, group.values, group.slots, lr)
        for var, new_value in zip(variables, group.value_views):
            np.copyto(var.data, new_value)
            var._version += 1

    @staticmethod
    def _as_gradient(grad, var):
        g = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
        if g.shape != var.shape:
            raise ValueError(f"Gradient of shape {g.shape} does not match its variable of shape "
                             f"{var.shape}")
        return g.astype(var.dtype, copy=False)

    @staticmethod
    def _writable(var):
        if not var.data.flags.writeable:
            var.data = var.data.copy()
        return var.data

    def _clip_gradients(self, grads):
        if self.clipnorm:
            # g * c / max(||g||, c): unchanged when the norm is already <= c
            return [g * (self.clipnorm / max(float(np.sqrt(np.sum(np.square(g, dtype=np.float64)))),
                                             self.clipnorm)) for g in grads]
        if self.global_clipnorm:
            norm = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads)))
            scale = self.global_clipnorm / max(norm, self.global_clipnorm) if np.isfinite(norm) \
                else float("nan")   # as Keras: a non-finite norm gives NaN updates
            return [g * g.dtype.type(scale) for g in grads]
        if self.clipvalue:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def minimize(self, loss_fn: Callable[[], Tensor],
                 var_list: Sequence[Tensor] | Callable[[], Sequence[Tensor]]) -> Tensor:
        """Compute ``loss_fn()``, its gradients for ``var_list``, and apply one step.

        ``var_list`` is a list of tensors or a zero-argument callable returning
        one. Returns the loss.

        Args:
            loss_fn: a zero-argument function returning the loss.
            var_list: the variables, or a zero-argument callable returning them.

        Returns:
            The loss.
        """
        variables = list(var_list() if callable(var_list) else var_list)
        with GradientTape() as tape:
            tape.watch(variables)
            loss = loss_fn()
        grads = tape.gradient(loss, variables)
        self.apply_gradients(zip(grads, variables))
        return loss

    # -- config and state ---------------------------------------------------
    def __getstate__(self):
        # Pickling and deepcopy copy the fused groups' views as separate
        # arrays; drop the groups (the next step rebuilds them from the slots).
        state = self.__dict__.copy()
        state["_fused"] = {}
        return state

    def get_config(self) -> dict[str, Any]:
        """The arguments that recreate this optimizer (Keras' ``get_config``).

        Returns:
            A dict of JSON-friendly values (a schedule serialized as a dict).
        """
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = _schedules.serialize(lr)
        elif callable(lr):
            lr = float(lr())    # a plain callable cannot be serialized; keep its value now
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Optimizer:
        """The optimizer that ``get_config`` described.

        Args:
            config: what ``get_config`` returned.

        Returns:
            A new optimizer of this class.
        """
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def get_state(self, variables: Sequence[Tensor]) -> dict[str, np.ndarray]:
        """The optimizer's state as ``{"iterations": ..., "learning_rate": ...,
        "<i>/<slot>": ...}``, ``i`` the position of the variable in ``variables``
        (plus any state shared by all variables, such as Nadam's "u_product").

        Args:
            variables: the variables, in the order ``set_state`` will get them.

        Returns:
            The state, a dict of arrays.
        """
        state = {"iterations": np.asarray(self.iterations, dtype=np.int64)}
        if not (isinstance(self._learning_rate, LearningRateSchedule) or callable(self._learning_rate)):
            state["learning_rate"] = np.asarray(self._learning_rate, dtype=np.float64)
        for name, array in self._globals.items():
            state[name] = np.array(array)
        for i, var in enumerate(variables):
            for slot, array in self._slots.get(var, {}).items():
                state[f"{i}/{slot}"] = array.copy()
        return state

    def set_state(self, state: Mapping[str, Any], variables: Sequence[Tensor]) -> None:
        """Restore what ``get_state`` returned, for the same list of variables.

        Args:
            state: what ``get_state`` returned.
            variables: the same variables, in the same order.
        """
        self.iterations = int(state["iterations"])
        if "learning_rate" in state and not callable(self._learning_rate):
            self._learning_rate = float(state["learning_rate"])     # a schedule stays a schedule
        for name in self._globals:
            if name in state:
                self._globals[name] = np.array(state[name], dtype=self._globals[name].dtype)
        for i, var in enumerate(variables):
            slots = self._slots_of(var)
            for slot, array in slots.items():
                key = f"{i}/{slot}"
                if key not in state:
                    continue    # the variable had not been stepped when the state was saved
                saved = np.asarray(state[key])
                if saved.shape != array.shape:
                    raise ValueError(f"Optimizer state {key!r} has shape {saved.shape}, but its "
                                     f"variable has shape {array.shape}")
                array[...] = saved

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self.learning_rate:g})"


class _FusedGroup:
    """Flat work arrays for stepping a tuple of small variables together.

    The variables' slots become views into flat slot arrays (state saved
    before is copied in), so ``get_state``/``set_state`` and a later
    variable-by-variable step see the same numbers.
    """

    def __init__(self, optimizer, variables):
        self.shapes = shapes = [var.data.shape for var in variables]
        stops = np.cumsum([var.data.size for var in variables])
        starts = np.concatenate([[0], stops[:-1]])
        dtype = variables[0].data.dtype
        self.grads = np.empty(stops[-1], dtype=dtype)
        self.values = np.empty(stops[-1], dtype=dtype)
        self.value_views = [self.values[a:b].reshape(shape)
                            for a, b, shape in zip(starts, stops, shapes)]
        per_var = [optimizer._slots_of(var) for var in variables]
        self.slots = {}
        for name in per_var[0]:
            self.slots[name] = flat = np.concatenate([slots[name].reshape(-1) for slots in per_var])
            for slots, a, b, shape in zip(per_var, starts, stops, shapes):
                slots[name] = flat[a:b].reshape(shape)
