"""Adversarial examples: small changes to an input that change a model's answer.

A classifier's loss J(θ, x, y) is a function of the input x as much as of
the weights θ. Training moves θ downhill; an attack moves x *uphill*, within
a budget eps that keeps the change hard to see (Goodfellow et al. 2015,
"Explaining and harnessing adversarial examples"):

    fgsm:    x' = clip(x + eps · sign(∇x J(θ, x, y)))          one step
    pgd:     x' ← clip(Π_eps(x' + α · sign(∇x J(θ, x', y))))    repeated, from a
             random start in the eps-ball (Madry et al. 2018); Π_eps projects
             back into [x - eps, x + eps]
    linear:  x' = x + scale · w                                 for a linear model
             (logistic regression: moving x along w moves wᵀx + b the most)

A *targeted* attack asks for a chosen label instead: it walks *downhill* on
the loss of that label, x' = x - eps · sign(∇x J(θ, x, target)).

>>> import chainrule as cr
>>> x_adv = cr.attacks.fgsm(model, x_test, y_test, eps=8 / 255)    # doctest: +SKIP
>>> cr.attacks.robust_accuracy(model, x_test, y_test, [0, 2 / 255, 8 / 255])  # doctest: +SKIP
{0: 0.95, 0.00784...: 0.61, 0.03137...: 0.04}

Every attack takes a ``cr.Model`` (called with ``training=False``, so
dropout is off and BatchNorm's moving statistics stay as they are) or any
function from a batch Tensor to outputs. Only the gradient with respect to
the *input* is computed (``autodiff.gradients``): the weights, their
``.grad``, the optimizer and chainrule's global random generator are left
alone. ``x`` and ``y`` may be NumPy arrays or Tensors; the result has ``x``'s
kind. Labels ``y`` are integer classes (N,) for a model with several output
units, or 0/1 of shape (N,) or (N, 1) for a single logit.
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Callable, Sequence, Union, cast

import numpy as np

from . import losses as losses_module
from .autodiff import gradients
from .callbacks import Callback
from .graph import enable_grad, no_grad
from .layers.base import Layer
from .tensor import Tensor
from .typing import TensorLike

if TYPE_CHECKING:
    from .models.model import Model

# What an attack accepts as the model: a cr.Model, or a function batch -> outputs.
Attackable = Union["Model", Callable[[Tensor], Tensor]]
LossLike = Union[str, Callable[..., Any], None]
Clip = Union[Sequence[float], None]

__all__ = ["AdversarialTraining", "fgsm", "linear_attack", "pgd", "robust_accuracy"]

_RANGE_TOLERANCE = 1e-6     # float rounding of x / 255 and the like


# --------------------------------------------------------------------------
# Checking the arguments (every message says what was wrong and what is right)
# --------------------------------------------------------------------------
def _check_eps(eps, name="eps"):
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not math.isfinite(eps):
        raise ValueError(f"{name} must be a finite number >= 0 (the largest change of one "
                         f"pixel, e.g. 8/255 for images in [0, 1]); got {eps!r}")
    if eps < 0:
        raise ValueError(f"{name} must be >= 0 (the size of the change: 0 leaves x as it is, "
                         f"e.g. 8/255 for images in [0, 1]); got {eps}")
    return float(eps)


def _check_clip(clip):
    if clip is None:
        return None
    try:
        low, high = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise ValueError(f"clip must be a pair (low, high) such as (0, 1), or None for no "
                         f"clipping; got {clip!r}") from None
    if not low < high:
        raise ValueError(f"clip must be (low, high) with low < high, such as (0, 1); got {clip!r}")
    return low, high


def _as_input(x, clip):
    """``x`` as a floating NumPy array (float64 stays float64, everything else
    becomes float32) and whether it came as a Tensor; checks the declared range."""
    was_tensor = isinstance(x, Tensor)
    data = np.asarray(x.data if was_tensor else x)
    if data.dtype.kind not in "fiub":
        raise TypeError(f"x must hold numbers, got dtype {data.dtype}")
    if data.ndim == 0:
        raise ValueError("x must be a batch of inputs (first axis: samples), got a scalar")
    data = data.astype(np.float64 if data.dtype == np.float64 else np.float32)
    if clip is not None and data.size:
        low, high = clip
        seen_low, seen_high = float(data.min()), float(data.max())
        if seen_low < low - _RANGE_TOLERANCE or seen_high > high + _RANGE_TOLERANCE:
            hint = (" Images stored as 0..255 need x / 255 first (or clip=(0, 255))."
                    if seen_high > 1 and high <= 1 else "")
            raise ValueError(
                f"x has values in [{seen_low:g}, {seen_high:g}] but clip=({low:g}, {high:g}) declares "
                f"the valid range as [{low:g}, {high:g}]; x must lie inside it.{hint} Pass "
                f"clip=None to attack without a range.")
    return data, was_tensor


def _as_output_kind(data, was_tensor):
    return Tensor(data) if was_tensor else data


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


# --------------------------------------------------------------------------
# The model, its loss and its decisions
# --------------------------------------------------------------------------
def _call(model, x_tensor):
    """The model's outputs on one batch, in inference mode when it has one."""
    out = model(x_tensor, training=False) if isinstance(model, Layer) else model(x_tensor)
    if isinstance(out, (list, tuple)):
        raise TypeError(f"attacks need a model with one output; this one returned "
                         f"{len(out)} outputs")
    if not isinstance(out, Tensor):
        raise TypeError(f"the model must return a chainrule Tensor of outputs (logits), got "
                        f"{type(out).__name__}")
    return out


def _units(out):
    """Number of output units: 1 for a single logit of shape (N,) or (N, 1)."""
    return 1 if out.ndim == 1 else int(out.shape[-1])


def _resolve_loss(model, loss, units):
    """The loss to climb: ``loss`` when given, else the model's compiled loss,
    else cross-entropy from logits (binary for one unit, softmax for several)."""
    if loss is not None:
        return losses_module.get(loss)
    if getattr(model, "compiled", False) and len(getattr(model, "_loss_fns", [])) == 1:
        return model._loss_fns[0]
    if units == 1:
        return losses_module.BinaryCrossentropy(from_logits=True)
    return losses_module.SparseCategoricalCrossentropy(from_logits=True)


def _outputs_are_probabilities(loss_fn):
    """A model compiled with ``from_logits=False`` outputs probabilities."""
    return isinstance(loss_fn, (losses_module.BinaryCrossentropy,
                                losses_module.CategoricalCrossentropy,
                                losses_module.SparseCategoricalCrossentropy)) \
        and not loss_fn.from_logits


def _decide(out_data, units, threshold):
    """Predicted labels: argmax over several units, or one unit above the threshold."""
    if units == 1:
        return (out_data.reshape(len(out_data)) > threshold).astype(np.int64)
    return out_data.argmax(axis=-1).astype(np.int64)


def _check_labels(y, n, units):
    """Integer labels of shape (N,): classes 0..units-1, or 0/1 for one unit."""
    data = np.asarray(y.data if isinstance(y, Tensor) else y)
    right = ("integer class labels of shape ({n},) or ({n}, 1), one per sample"
             if units > 1 else "0/1 labels of shape ({n},) or ({n}, 1), one per sample")
    right = right.format(n=n)
    if data.ndim == 2 and data.shape[1] == 1:
        data = data[:, 0]
    if data.ndim != 1 or len(data) != n:
        hint = (" One-hot labels? Pass y.argmax(axis=1)."
                if data.ndim == 2 and data.shape[1] == units > 1 else "")
        raise ValueError(f"y has shape {data.shape} but x has {n} samples and the model has "
                         f"{units} output unit(s), so y must hold {right}.{hint}")
    if data.dtype.kind == "f" and not np.all(data == np.round(data)):
        raise ValueError(f"y must hold {right}; got non-integer values such as "
                         f"{data[data != np.round(data)][0]}")
    if data.dtype.kind not in "fiub":
        raise ValueError(f"y must hold {right}; got dtype {data.dtype}")
    labels = data.astype(np.int64)
    top = max(units, 2) - 1
    if labels.size and (labels.min() < 0 or labels.max() > top):
        bad = labels[(labels < 0) | (labels > top)][0]
        raise ValueError(f"label {bad} is outside 0..{top}: the model has {units} output "
                         f"unit(s), so y must hold {right}")
    return labels


def _is_cross_entropy_from_logits(loss_fn):
    ce = (losses_module.BinaryCrossentropy, losses_module.CategoricalCrossentropy,
          losses_module.SparseCategoricalCrossentropy)
    return isinstance(loss_fn, ce) and loss_fn.from_logits \
        and not getattr(loss_fn, "label_smoothing", 0)


def _cross_entropy_direction(logits, labels, units):
    """∂J/∂z of cross-entropy from logits z, divided per sample by a positive
    number so that it cannot vanish.

    Why: once a model is sure, J's gradient underflows. For one logit
    ∂J/∂z = σ(z) - y, and in float32 σ(z) rounds to exactly 1 for z > 17, so
    the gradient would be 0 and the attack would leave a confidently
    classified input untouched: a confident model would *look* robust
    ("gradient masking"). FGSM and PGD use only the sign of ∇x J, which a
    positive factor per sample does not change, so the factor is chosen to
    keep every entry representable:

        one logit:    (σ(z) - y) / |σ(z) - y|   = 1 - 2y
        softmax:      (p - onehot(y)) / (1 - p_y) = q on the other classes and
                      -1 on class y, with q = softmax of z over the classes ≠ y
    """
    if units == 1:
        flat = 1.0 - 2.0 * labels.astype(logits.dtype)
        return (flat.reshape((len(labels),) + (1,) * (logits.ndim - 1))
                * np.ones_like(logits))
    rows = np.arange(len(labels))
    others = logits.astype(logits.dtype, copy=True)
    others[rows, labels] = -np.inf
    others = np.exp(others - others.max(axis=-1, keepdims=True))
    direction = others / others.sum(axis=-1, keepdims=True)
    direction[rows, labels] = -1.0
    return direction


class _Target:
    """One model prepared for attacking: its loss, its decision rule, and the
    gradient of the loss with respect to a batch of inputs."""

    def __init__(self, model, loss, x_probe):
        if not callable(model):
            raise TypeError(f"model must be a chainrule Model or a function from a batch "
                            f"Tensor to outputs, got {type(model).__name__}")
        self.model = model
        with no_grad():
            out = _call(model, Tensor(x_probe))
        self.units = _units(out)
        self.loss_fn = _resolve_loss(model, loss, self.units)
        probabilities = _outputs_are_probabilities(self.loss_fn)
        self.threshold = 0.5 if probabilities else 0.0
        # Categorical cross-entropy wants one-hot targets; the attacks take integers.
        self.one_hot = isinstance(self.loss_fn, losses_module.CategoricalCrossentropy)
        self.closed_form = _is_cross_entropy_from_logits(self.loss_fn)

    def predict(self, x_batch):
        with no_grad():
            out = _call(self.model, Tensor(x_batch))
        return _decide(out.data, self.units, self.threshold)

    def input_gradient(self, x_batch, labels, with_outputs=False):
        """∇x of the summed per-sample loss (a sum, not a mean, so that each
        sample's gradient does not shrink with the batch size; cross-entropy
        from logits is rescaled per sample, see ``_cross_entropy_direction``).
        With ``with_outputs`` also the model's outputs on ``x_batch``."""
        grad, outputs = self._input_gradient(x_batch, labels)
        return (grad, outputs) if with_outputs else grad

    def _input_gradient(self, x_batch, labels):
        x_tensor = Tensor(x_batch, requires_grad=True)
        with enable_grad():
            out = _call(self.model, x_tensor)
            if self.closed_form:
                seed = _cross_entropy_direction(out.data, labels, self.units)
                (grad,) = gradients(out, [x_tensor], grad_outputs=[seed])
                return (np.zeros_like(x_batch) if grad is None else grad.data), out.data
            if self.one_hot:
                targets = np.eye(self.units, dtype=out.dtype)[labels]
            elif self.units == 1:
                targets = labels.astype(out.dtype).reshape((len(labels),) + out.shape[1:])
            else:
                targets = labels
            per_sample = self.loss_fn.call(targets, out)
            total = per_sample.sum() if per_sample.ndim else per_sample
            (grad,) = gradients(total, [x_tensor])
        return (np.zeros_like(x_batch) if grad is None else grad.data), out.data


def _prepare(model, x, y, eps, clip, loss, batch_size, labels_optional=True):
    """Shared checks; returns (x array, was_tensor, clip, _Target, labels)."""
    eps = _check_eps(eps)
    clip = _check_clip(clip)
    batch_size = _check_batch_size(batch_size)
    data, was_tensor = _as_input(x, clip)
    if len(data) == 0:
        raise ValueError("x has no samples")
    target = _Target(model, loss, data[:1])
    if y is None and labels_optional:
        # No labels: attack the model's own answers (this also avoids "label
        # leaking": the attack needs nothing the model does not know).
        labels = np.concatenate([target.predict(data[i:i + batch_size])
                                 for i in range(0, len(data), batch_size)])
    elif y is None:
        raise ValueError("a targeted attack needs y: the labels to push each sample toward")
    else:
        labels = _check_labels(y, len(data), target.units)
    return data, was_tensor, eps, clip, target, labels, batch_size


def _clip(x, clip):
    return x if clip is None else np.clip(x, clip[0], clip[1])


# --------------------------------------------------------------------------
# The attacks
# --------------------------------------------------------------------------
def fgsm(model: Attackable, x: TensorLike, y: TensorLike | None, eps: float,
         targeted: bool = False, loss: LossLike = None, clip: Clip = (0, 1),
         batch_size: int = 256) -> np.ndarray | Tensor:
    """Fast gradient sign method: one step of size ``eps`` in every input value.

        untargeted:  x' = clip(x + eps · sign(∇x J(x, y)))        (away from y)
        targeted:    x' = clip(x - eps · sign(∇x J(x, target)))   (toward ``y``)

    ``y`` holds the true labels (untargeted) or the wanted ones
    (``targeted=True``); ``y=None`` attacks the model's own predictions.
    ``loss=None`` uses the model's compiled loss, or cross-entropy from logits
    for a plain function. ``clip`` is the valid input range (``None``: none).

    Args:
        model: a ``cr.Model`` (called with ``training=False``) or a function
            from a batch Tensor to outputs (logits or probabilities).
        x: the inputs, a batch (first axis: samples).
        y: integer labels (N,), or 0/1 for one output unit; for a targeted
            attack the labels wanted; None attacks the model's own predictions.
        eps: the largest change of one input value (e.g. 8/255).
        targeted: push toward ``y`` instead of away from it.
        loss: the loss to climb (a name or a loss); None: the model's compiled
            loss, else cross-entropy from logits.
        clip: ``(low, high)``, the valid input range; None for none.
        batch_size: samples per gradient computation.

    Returns:
        The adversarial inputs, of ``x``'s kind (array or Tensor) and shape.

    >>> x_adv = cr.attacks.fgsm(model, x, y, eps=8 / 255)     # doctest: +SKIP
    >>> np.abs(x_adv - x).max() <= 8 / 255                     # doctest: +SKIP
    True
    """
    data, was_tensor, eps, clip, target, labels, batch_size = _prepare(
        model, x, y, eps, clip, loss, batch_size, labels_optional=not targeted)
    direction = -1.0 if targeted else 1.0
    adversarial = np.empty_like(data)
    for start in range(0, len(data), batch_size):
        batch = data[start:start + batch_size]
        grad = target.input_gradient(batch, labels[start:start + batch_size])
        step = (direction * eps) * np.sign(grad)
        adversarial[start:start + batch_size] = _clip(batch + step.astype(batch.dtype), clip)
    return _as_output_kind(adversarial, was_tensor)


def pgd(model: Attackable, x: TensorLike, y: TensorLike | None, eps: float,
        alpha: float | None = None, steps: int = 10, random_start: bool = True,
        targeted: bool = False, loss: LossLike = None, clip: Clip = (0, 1),
        batch_size: int = 256, seed: int | np.random.Generator | None = 0,
        early_stop: bool = True) -> np.ndarray | Tensor:
    """Projected gradient descent (Madry et al. 2018): many small FGSM steps,
    each projected back into the eps-ball around x and into ``clip``:

        x'_0     = x + uniform(-eps, eps)             (when random_start)
        x'_{t+1} = clip(Π_eps(x'_t ± alpha · sign(∇x J(x'_t, y))))

    ``alpha`` defaults to 2.5 · eps / steps (Madry's choice: enough to reach
    the edge of the ball from anywhere inside it). With ``early_stop`` a
    sample stops moving once it is fooled (misclassified, or given the target
    label when ``targeted``), and the loop ends when every sample is fooled.
    The random start draws from ``np.random.default_rng(seed)`` (or the
    Generator passed as ``seed``), never from chainrule's global generator.

    Args:
        model: a ``cr.Model`` (called with ``training=False``) or a function
            from a batch Tensor to outputs (logits or probabilities).
        x: the inputs, a batch (first axis: samples).
        y: integer labels (N,), or 0/1 for one output unit; for a targeted
            attack the labels wanted; None attacks the model's own predictions.
        eps: the largest change of one input value (e.g. 8/255).
        alpha: the size of one step; None means 2.5 · eps / steps.
        steps: the number of gradient steps.
        random_start: start from a uniform random point of the eps-ball.
        targeted: push toward ``y`` instead of away from it.
        loss: the loss to climb (a name or a loss); None: the model's own.
        clip: ``(low, high)``, the valid input range; None for none.
        batch_size: samples per gradient computation.
        seed: an int seed or a NumPy Generator for the random start.
        early_stop: stop moving a sample once it is fooled.

    Returns:
        The adversarial inputs, of ``x``'s kind (array or Tensor) and shape.

    >>> x_adv = cr.attacks.pgd(model, x, y, eps=8 / 255, alpha=2 / 255, steps=10)  # doctest: +SKIP
    """
    data, was_tensor, eps, clip, target, labels, batch_size = _prepare(
        model, x, y, eps, clip, loss, batch_size, labels_optional=not targeted)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be a positive integer (the number of gradient steps), "
                         f"got {steps!r}")
    alpha = 2.5 * eps / steps if alpha is None else _check_eps(alpha, "alpha")
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    direction = -1.0 if targeted else 1.0
    adversarial = np.empty_like(data)
    for start in range(0, len(data), batch_size):
        batch = data[start:start + batch_size]
        batch_labels = labels[start:start + batch_size]
        low, high = batch - eps, batch + eps           # the eps-ball, as bounds
        current = batch.copy()
        if random_start and eps > 0:
            noise = rng.uniform(-eps, eps, size=batch.shape).astype(batch.dtype)
            current = _clip(current + noise, clip)
        active = np.ones(len(batch), dtype=bool)       # samples not fooled yet
        for _ in range(int(steps)):
            rows = np.flatnonzero(active)
            grad, outputs = target.input_gradient(current[rows], batch_labels[rows],
                                                  with_outputs=True)
            if early_stop:      # the forward pass of the gradient also says who is fooled
                predicted = _decide(outputs, target.units, target.threshold)
                fooled = _fooled(predicted, batch_labels[rows], targeted)
                active[rows[fooled]] = False
                rows, grad = rows[~fooled], grad[~fooled]
                if not active.any():
                    break
            moved = current[rows] + (direction * alpha) * np.sign(grad).astype(batch.dtype)
            current[rows] = _clip(np.clip(moved, low[rows], high[rows]), clip)
        adversarial[start:start + batch_size] = current
    return _as_output_kind(adversarial, was_tensor)


def _fooled(predicted, labels, targeted):
    return predicted == labels if targeted else predicted != labels


def linear_attack(weights: TensorLike, x: TensorLike, scale: float,
                  clip: Clip = None) -> np.ndarray | Tensor:
    """``x + scale · weights``: the attack on a linear model.

    For logistic regression p = σ(wᵀx + b), adding ``scale · w`` changes the
    logit by ``scale · ‖w‖²``, the most any change of that length can: a
    positive scale pushes toward class 1 ("ship" in the seeds, which use
    scale 1/6), a negative one toward class 0. ``weights`` may be a Dense
    kernel of shape (features, 1); it is reshaped to one sample of ``x``.
    ``clip=(low, high)`` optionally keeps the result in the valid range.

    Args:
        weights: the linear model's weights, one per input value of a sample.
        x: the inputs, a batch (or one sample the shape of ``weights``).
        scale: how far to move along the weights (negative: toward class 0).
        clip: ``(low, high)`` to keep the result in; None for none.

    Returns:
        ``x + scale · weights``, of ``x``'s kind.

    Example:

    >>> cr.attacks.linear_attack(np.array([1., -1.]), np.array([[0.5, 0.5]]), 0.25)
    array([[0.75, 0.25]])

    >>> w = model.get_weights()[0]                               # doctest: +SKIP
    >>> frog_as_ship = cr.attacks.linear_attack(w, frog, 1 / 6)  # doctest: +SKIP
    """
    clip = _check_clip(clip)
    data, was_tensor = _as_input(x, None)
    w = np.asarray(weights.data if isinstance(weights, Tensor) else weights)
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite number (the seeds use 1/6), got {scale!r}")
    sample_shape = data.shape[1:] if w.size != data.size else data.shape
    if w.size != math.prod(sample_shape):
        raise ValueError(f"weights have {w.size} entries (shape {w.shape}) but one sample of x "
                         f"has shape {sample_shape} ({math.prod(sample_shape)} values); give "
                         f"the weights of a linear model with one weight per input value")
    result = data + (float(scale) * w.reshape(sample_shape)).astype(data.dtype)
    return _as_output_kind(_clip(result, clip), was_tensor)


def robust_accuracy(model: Attackable, x: TensorLike, y: TensorLike,
                    eps_values: float | Sequence[float], method: str = "fgsm",
                    batch_size: int = 256, **attack_kwargs: Any) -> dict[float, float]:
    """Accuracy on ``(x, y)`` under an attack of each size in ``eps_values``:
    ``{eps: accuracy}``. ``eps = 0`` is the clean accuracy. ``method`` is
    ``"fgsm"`` or ``"pgd"``; other keywords go to the attack (e.g. ``steps``).

    Args:
        model: a ``cr.Model`` or a function from a batch Tensor to outputs.
        x: the inputs.
        y: their true labels.
        eps_values: one attack size or several.
        method: ``"fgsm"`` or ``"pgd"``.
        batch_size: samples per gradient computation.
        **attack_kwargs: passed to the attack (``steps``, ``alpha``, ``clip``, ``loss``...).

    Returns:
        ``{eps: accuracy}``, accuracies in [0, 1].

    >>> cr.attacks.robust_accuracy(model, x, y, [0, 8 / 255], method="pgd", steps=10)  # doctest: +SKIP
    {0: 0.94, 0.031...: 0.0}
    """
    attacks: dict[str, Callable[..., np.ndarray | Tensor]] = {"fgsm": fgsm, "pgd": pgd}
    if method not in attacks:
        raise ValueError(f"method must be 'fgsm' or 'pgd', got {method!r}")
    # numbers.Real also takes NumPy scalars, which mypy cannot see as floats
    eps_values = ([cast(float, eps_values)] if isinstance(eps_values, numbers.Real)
                  else list(cast(Sequence[float], eps_values)))
    for eps in eps_values:
        _check_eps(eps)
    clip = _check_clip(attack_kwargs.get("clip", (0, 1)))
    data, _ = _as_input(x, clip)
    batch_size = _check_batch_size(batch_size)
    target = _Target(model, attack_kwargs.get("loss"), data[:1])
    labels = _check_labels(y, len(data), target.units)
    results: dict[float, float] = {}
    for eps in eps_values:
        attacked = data if eps == 0 else attacks[method](model, data, labels, eps,
                                                         batch_size=batch_size, **attack_kwargs)
        predicted = np.concatenate([target.predict(attacked[i:i + batch_size])
                                    for i in range(0, len(data), batch_size)])
        results[eps] = float(np.mean(predicted == labels))
    return results


# --------------------------------------------------------------------------
# Adversarial training
# --------------------------------------------------------------------------
class AdversarialTraining(Callback):
    """Train on adversarial examples made against the current model.

    Before every step of ``fit`` a fraction ``ratio`` of the batch is
    replaced by its FGSM (Goodfellow et al. 2015) or PGD (Madry et al. 2018)
    version, made with the weights of that moment, so the model learns to
    answer the same inside the eps-ball. ``ratio=0.5`` mixes clean and
    adversarial examples as Goodfellow's ½·J(x) + ½·J(x') does; ``ratio=1``
    trains on adversarial examples only, as Madry. The attack runs with
    ``training=False`` and the model's compiled loss; PGD's random starts
    come from ``np.random.default_rng(seed)``.

    >>> adv = cr.attacks.AdversarialTraining(method="fgsm", eps=8 / 255, ratio=0.5)
    >>> model.fit(x_train, y_train, epochs=10, callbacks=[adv])   # doctest: +SKIP

    Labels may be integer classes, one-hot rows, or 0/1 for one output unit.

    Args:
        method: ``"fgsm"`` or ``"pgd"``.
        eps: the attack's size.
        ratio: the fraction of each batch replaced, in (0, 1].
        alpha: PGD's step size; None means 2.5 · eps / steps.
        steps: PGD's number of steps.
        clip: ``(low, high)``, the valid input range; None for none.
        loss: the loss to climb; None: the model's compiled loss.
        seed: seeds PGD's random starts.
    """

    def __init__(self, method: str = "fgsm", eps: float = 8 / 255, ratio: float = 0.5,
                 alpha: float | None = None, steps: int = 7, clip: Clip = (0, 1),
                 loss: LossLike = None, seed: int | None = 0) -> None:
        super().__init__()
        if method not in ("fgsm", "pgd"):
            raise ValueError(f"method must be 'fgsm' or 'pgd', got {method!r}")
        self.method = method
        self.eps = _check_eps(eps)
        if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not 0 < ratio <= 1:
            raise ValueError(f"ratio must be in (0, 1]: the fraction of each batch replaced by "
                             f"adversarial examples (0.5: half); got {ratio!r}")
        self.ratio: float = float(ratio)
        if alpha is not None:
            _check_eps(alpha, "alpha")
        self.alpha: float | None = alpha
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        self.steps: int = int(steps)
        self.clip: tuple[float, float] | None = _check_clip(clip)
        self.loss: LossLike = loss
        self.seed: int | None = seed
        self._rng: np.random.Generator | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # One private generator per fit: PGD's random starts never draw from
        # chainrule's global generator (which fit uses for shuffling and dropout).
        self._rng = np.random.default_rng(self.seed)

    def transform_batch(self, batch: int, xs: Sequence[np.ndarray],
                        ys: Sequence[np.ndarray]) -> tuple[Sequence[np.ndarray], Sequence[np.ndarray]]:
        if len(xs) != 1 or len(ys) != 1:
            raise ValueError("AdversarialTraining supports models with one input and one output")
        x, y = xs[0], ys[0]
        if y.ndim == 2 and y.shape[1] > 1:
            y = y.argmax(axis=1)        # one-hot labels (categorical cross-entropy)
        count = round(self.ratio * len(x))
        if count == 0 or self.eps == 0:
            return xs, ys
        if self._rng is None:
            self.on_train_begin()
        head = x[:count]        # the batch is already shuffled: its first rows are random
        if self.method == "fgsm":
            attacked = fgsm(self.model, head, y[:count], self.eps, loss=self.loss,
                            clip=self.clip, batch_size=max(count, 1))
        else:
            attacked = pgd(self.model, head, y[:count], self.eps, alpha=self.alpha,
                           steps=self.steps, loss=self.loss, clip=self.clip,
                           batch_size=max(count, 1), seed=self._rng)
        x = x.copy()
        x[:count] = np.asarray(attacked).astype(x.dtype, copy=False)   # an array: head is one
        return [x], ys
