"""Learning-rate schedules: the learning rate as a function of the step (Keras 3).

Pass one as an optimizer's ``learning_rate``; the optimizer evaluates it at
its ``iterations`` (0 for the first step).

>>> import chainrule as cr
>>> lr = cr.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> lr(0), lr(10), lr(20)
(0.1, 0.05, 0.025)
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

from ..registry import Registry


def _check_positive(name, value):
    if not value > 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value!r}")


class LearningRateSchedule:
    """Base class: ``schedule(step)`` returns the learning rate (a float) at ``step``.

    A subclass implements ``__call__(step)`` and ``get_config()``; its
    ``from_config`` is ``cls(**config)``.
    """

    def __call__(self, step: float) -> float:
        """The learning rate at ``step``.

        Args:
            step: the optimizer's ``iterations`` (0 for the first step).

        Returns:
            The learning rate, a float.
        """
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  "`__call__(self, step)`.")

    def get_config(self) -> dict[str, Any]:
        """The arguments that recreate this schedule.

        Returns:
            A dict of the constructor's arguments.
        """
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  "`get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """The schedule that ``get_config`` described.

        Args:
            config: what ``get_config`` returned.

        Returns:
            A new schedule of this class.
        """
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is ``floor(step / decay_steps)``, so
    the rate drops in steps.

    Args:
        initial_learning_rate: the learning rate at step 0.
        decay_steps: the number of steps per factor of ``decay_rate`` (> 0).
        decay_rate: the factor per ``decay_steps``.
        staircase: decay at whole multiples of ``decay_steps`` only.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: float) -> float:
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    With ``staircase=True``, ``step / decay_steps`` is floored.

    Args:
        initial_learning_rate: the learning rate at step 0.
        decay_steps: the steps unit (> 0).
        decay_rate: how fast the rate falls.
        staircase: floor ``step / decay_steps``.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay") -> None:
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: float) -> float:
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last.

    Args:
        boundaries: the steps where the rate changes, increasing.
        values: the rates, one more than the boundaries.
        name: the schedule's name.
    """

    def __init__(self, boundaries: Sequence[float], values: Sequence[float],
                 name: str = "PiecewiseConstant") -> None:
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values. "
                             f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                             f"values={values} of length {len(values)}.")
        if any(b >= c for b, c in itertools.pairwise(boundaries)):
            raise ValueError(f"Argument `boundaries` must be strictly increasing. "
                             f"Received: boundaries={boundaries}")
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def __call__(self, step: float) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` in ``decay_steps``::

        step = min(step, decay_steps)
        lr = (initial - end) * (1 - step / decay_steps) ** power + end

    With ``cycle=True`` the decay restarts: ``decay_steps`` becomes the first
    multiple of itself that is >= step (and ``decay_steps`` itself at step 0).

    Args:
        initial_learning_rate: the learning rate at step 0.
        decay_steps: the steps to reach ``end_learning_rate`` (> 0).
        end_learning_rate: the final rate.
        power: the polynomial's power.
        cycle: restart the decay after ``decay_steps``.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float,
                 end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                 name: str = "PolynomialDecay") -> None:
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step: float) -> float:
        step = float(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return ((self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power
                + self.end_learning_rate)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov & Hutter, 2016), after an optional linear warm-up.

    Without ``warmup_target``::

        step = min(step, decay_steps)
        lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) + alpha)

    With ``warmup_target``, the rate first rises linearly from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then
    decays as above from ``warmup_target`` over the next ``decay_steps``.

    Args:
        initial_learning_rate: the learning rate at step 0.
        decay_steps: the steps of the decay (> 0).
        alpha: the floor, as a fraction of the starting rate.
        name: the schedule's name.
        warmup_target: the rate at the end of the warm-up (None: no warm-up).
        warmup_steps: the steps of the warm-up.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: float = 0) -> None:
        _check_positive("decay_steps", decay_steps)
        if warmup_steps < 0:
            raise ValueError(f"Argument `warmup_steps` must be >= 0. Received: warmup_steps={warmup_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step, start_lr):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start_lr * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: float) -> float:
        step = float(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return (self.warmup_target - self.initial_learning_rate) * fraction \
                + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter, 2016).

    The multiplier decays from 1 to ``alpha`` over ``first_decay_steps``, then
    restarts; period ``i`` lasts ``first_decay_steps * t_mul**i`` steps and
    starts at ``m_mul**i`` times the initial rate::

        fraction = step / first_decay_steps
        i = floor(log(1 - fraction (1 - t_mul)) / log(t_mul))   # floor(fraction) if t_mul == 1
        fraction = (fraction - (1 - t_mul**i) / (1 - t_mul)) / t_mul**i   # fraction - i if t_mul == 1
        lr = initial * ((1 - alpha) * 0.5 * m_mul**i * (1 + cos(pi * fraction)) + alpha)

    Args:
        initial_learning_rate: the learning rate at step 0.
        first_decay_steps: the length of the first period (> 0).
        t_mul: how much longer each period is than the one before.
        m_mul: the factor on each period's starting rate.
        alpha: the floor, as a fraction of the starting rate.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate: float, first_decay_steps: float, t_mul: float = 2.0,
                 m_mul: float = 1.0, alpha: float = 0.0, name: str = "SGDRDecay") -> None:
        _check_positive("first_decay_steps", first_decay_steps)
        _check_positive("t_mul", t_mul)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step: float) -> float:
        fraction = float(step) / self.first_decay_steps
        if self.t_mul == 1.0:
            i_restart = math.floor(fraction)
            fraction -= i_restart
        else:
            i_restart = math.floor(math.log(1.0 - fraction * (1.0 - self.t_mul)) / math.log(self.t_mul))
            done = (1.0 - self.t_mul ** i_restart) / (1.0 - self.t_mul)   # periods completed, in units of the first
            fraction = (fraction - done) / self.t_mul ** i_restart
        cosine = 0.5 * self.m_mul ** i_restart * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self.t_mul,
                "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


def _all_schedule_classes(cls=LearningRateSchedule):
    found = {}
    for sub in cls.__subclasses__():
        found[sub.__name__] = sub
        found.update(_all_schedule_classes(sub))
    return found


# Every subclass of LearningRateSchedule, by class name (read at each lookup).
_REGISTRY = Registry("learning rate schedule", _all_schedule_classes)


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` of a schedule.

    Args:
        schedule: a schedule.

    Returns:
        ``{"class_name": ..., "config": ...}``.
    """
    return _REGISTRY.serialize(schedule)


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """The schedule that ``serialize`` described (any subclass of LearningRateSchedule).

    Args:
        config: what ``serialize`` returned (class names are case-insensitive).

    Returns:
        A new schedule.
    """
    return _REGISTRY.deserialize(config)
