"""Multi-layer perceptrons with scikit-learn's interface: ``MLPClassifier``
and ``MLPRegressor``.

Same parameters, defaults, fitted attributes and numerics as
``sklearn.neural_network``; the training is chainrule's: each batch is a
Tensor, the forward pass is chainrule ops, one ``backward`` gives every
gradient and the optimizer updates the weights in place. The ``sgd`` and
``adam`` solvers run that step compiled (``cr.jit``: traced on the first
batch of each size, then replayed as straight-line NumPy), with the same
numbers as the eager step, which still runs for batches with sample weights.

The network, for layers ``i = 0 .. L-1``::

    a₀ = X,   aᵢ₊₁ = act(aᵢ @ Wᵢ + bᵢ)          (act = activation; the last layer's
                                                is softmax / logistic / identity)

and the loss scikit-learn minimizes (n samples in the batch)::

    log-loss       −Σ y·log p / n                (softmax, multiclass)
                   −Σ [y·log p + (1−y)·log(1−p)] / n   (logistic: binary, multilabel)
    squared error  ½ Σ (y − ŷ)² / n              (identity, regression)
    + L2           ½·alpha·Σ‖Wᵢ‖² / n

Weights start Glorot-uniform in ±√(6/(fan_in+fan_out)) (factor 2 instead of 6
for the logistic activation), drawn from ``random_state`` in scikit-learn's
order, so with ``dtype="float64"`` the same ``random_state`` gives the same
initial weights, batches and loss curve as scikit-learn.

``fit`` and ``partial_fit`` take ``sample_weight`` as scikit-learn 1.9's do
(every mean over samples becomes a weighted mean).

Precision: training runs in float32 by default (``dtype="float32"``, about
twice as fast and half the memory); pass ``dtype="float64"`` to train in
float64 whatever the input's dtype. Predictions come back in that dtype.
"""
from __future__ import annotations

import mmap
import warnings
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from numbers import Integral, Real
from typing import Any, ClassVar, Optional, Tuple, TypeVar, cast

import numpy as np
import numpy.typing as npt
import scipy.optimize
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    is_classifier,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils import shuffle as shuffle_indices
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

import chainrule as cr
from chainrule import optimizers
from chainrule.autodiff import gradients

__all__ = ["MLPClassifier", "MLPRegressor"]

_XY = Tuple[np.ndarray, np.ndarray]      # what validate_data(X, y) returns (sklearn is untyped)
# One compiled training step: (x, Y) arrays in, (data_loss, z, log_p, l2) out.
_Step = Callable[[np.ndarray, np.ndarray],
                 Tuple[cr.Tensor, cr.Tensor, Optional[np.ndarray], Optional[cr.Tensor]]]
_MLP = TypeVar("_MLP", bound="_BaseMLP")     # fit returns the estimator it was called on

_STOCHASTIC_SOLVERS = ("sgd", "adam")
_HIDDEN_ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": cr.sigmoid,
    "tanh": cr.tanh,
    "relu": cr.relu,
}


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, the network,
    the loss and the three solvers. Subclasses define the output layer and
    how targets are encoded."""

    # Private switch: the stochastic solvers run their step compiled with
    # cr.jit (True) or eagerly (False, the reference the tests compare with).
    _jit: ClassVar[bool] = True
    # A trace costs 1-2 ms, what a small network's compiled step saves in
    # 50-100 steps: a fit planning fewer steps than this runs eagerly.
    # partial_fit compiles (its trace is kept from call to call).
    _jit_min_steps: ClassVar[int] = 64

    # The parameters (stored by the subclasses' __init__ as given; fit validates them).
    hidden_layer_sizes: int | Sequence[int] | np.ndarray
    activation: str
    solver: str
    alpha: float
    batch_size: int | str
    learning_rate: str
    learning_rate_init: float
    power_t: float
    max_iter: int
    shuffle: bool
    random_state: int | np.random.RandomState | None
    tol: float
    verbose: bool | int
    warm_start: bool
    momentum: float
    nesterovs_momentum: bool
    early_stopping: bool
    validation_fraction: float
    beta_1: float
    beta_2: float
    epsilon: float
    n_iter_no_change: int | float
    max_fun: int
    dtype: str | type
    loss: str

    # Set by fit (annotations only: an unfitted estimator has none of them).
    coefs_: list[np.ndarray]
    intercepts_: list[np.ndarray]
    n_iter_: int
    t_: int
    n_outputs_: int
    n_layers_: int
    out_activation_: str
    loss_: float
    loss_curve_: list[float]
    best_loss_: float | None
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    _dtype: np.dtype
    _random_state: np.random.RandomState
    _params: list[cr.Tensor]
    _optimizer: optimizers.Optimizer | None
    _best_coefs: list[np.ndarray]
    _best_intercepts: list[np.ndarray]
    _no_improvement_count: int
    _label_binarizer: LabelBinarizer          # the classifier's

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dtype": [StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64})],
    }

    # ------------------------------------------------------------------
    # The network
    # ------------------------------------------------------------------
    def _forward(self, x: cr.Tensor | np.ndarray, params: Sequence[cr.Tensor]) -> cr.Tensor:
        """Pre-activation output z of the last layer, as a chainrule Tensor;
        ``params`` are the Tensors [W₀, …, W_L-1, b₀, …, b_L-1]."""
        n = self.n_layers_ - 1
        act = _HIDDEN_ACTIVATIONS[self.activation]
        h = x
        for i in range(n):
            h = cr.ops.linear(h, params[i], params[n + i])     # h @ W + b as one op
            if i < n - 1:
                h = act(h)
        return cast(cr.Tensor, h)        # n >= 1: the output layer made it a Tensor

    def _output(self, z: cr.Tensor) -> np.ndarray:
        """The output activation applied to z (a Tensor) -> NumPy array."""
        if self.out_activation_ == "softmax":
            return cr.softmax(z, axis=1).data
        if self.out_activation_ == "logistic":
            return cr.sigmoid(z).data
        if self.out_activation_ == "exp":
            return cr.exp(z).data
        return z.data

    def _forward_pass_fast(self, X: npt.ArrayLike, check_input: bool = True) -> np.ndarray:
        if check_input:
            X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        # The current coefs_/intercepts_ (which a user may have replaced).
        params = [cr.Tensor(np.asarray(a)) for a in self.coefs_ + self.intercepts_]
        with cr.no_grad():
            x = cr.Tensor(np.asarray(X, dtype=params[0].dtype))
            return self._output(self._forward(x, params))

    def _loss(self, x: cr.Tensor, Y: np.ndarray,
              sample_weight: np.ndarray | None = None) -> tuple[cr.Tensor, float]:
        """Loss of a batch: (Tensor to differentiate, float value to report).

        The differentiated loss is the stable form from the logits (its
        gradient with respect to z is ``p − y``, as scikit-learn's). The
        reported value follows scikit-learn exactly: probabilities clipped to
        [eps, 1−eps] in the log-loss, the squared error averaged over outputs.
        With ``sample_weight`` every mean over samples becomes a weighted
        mean (n = Σ weights, also in the L2 term), as scikit-learn's.
        """
        data_loss, z, log_p, l2 = self._loss_terms(x, Y, sample_weight, log_probs=True)
        value = self._reported_loss(z.data, log_p, data_loss.data, Y, sample_weight)
        if l2 is not None:
            value += float(l2.data)
            data_loss = data_loss + l2
        return data_loss, value

    def _loss_terms(self, x: cr.Tensor | np.ndarray, Y: np.ndarray,
                    sample_weight: np.ndarray | None = None, log_probs: bool = False
                    ) -> tuple[cr.Tensor, cr.Tensor, np.ndarray | None, cr.Tensor | None]:
        """The loss of a batch as Tensors: ``(data_loss, z, log_p, l2)``.

        ``z`` is the last layer's pre-activation, ``log_p`` the softmax
        log-probabilities as an array (``log_probs=True`` and a softmax
        output, else None), ``l2`` the L2 term ½·alpha·Σ‖W‖²/n (None when
        alpha is 0). Nothing here reads a tensor's value in Python, so the
        compiled step (``cr.jit``) traces it as it is.
        """
        n: float
        w: float | np.ndarray
        if sample_weight is None:
            n, w = x.shape[0], 1.0
        else:
            n, w = float(sample_weight.sum()), sample_weight.reshape(-1, 1)
        z = self._forward(x, self._params)
        out = self.out_activation_
        log_p = None
        data_loss: cr.Tensor
        if out == "softmax":
            Yw = Y if sample_weight is None else Y * w
            # −Σ Yw·log_softmax(z) / n as one fused op (the hot path of fit).
            if log_probs:
                data_loss, log_p = cast("tuple[cr.Tensor, np.ndarray]",
                                        cr.ops.softmax_cross_entropy_sum(
                                            z, Yw, 1.0 / n, return_log_probs=True))
            else:
                data_loss = cast(cr.Tensor, cr.ops.softmax_cross_entropy_sum(z, Yw, 1.0 / n))
        elif out == "logistic":
            # −[y log σ(z) + (1−y) log(1−σ(z))] = softplus(z) − y·z
            data_loss = cr.sum(_weigh(cr.softplus(z) - z * Y, sample_weight, w)) * (1.0 / n)
        elif out == "exp":
            # Poisson deviance: Σ [y log(y/p) − y + p] / n with p = e^z.
            data_loss = cr.sum(_weigh(cr.exp(z) - z * Y, sample_weight, w)) * (1.0 / n)
        else:
            diff = z - Y
            data_loss = cr.sum(_weigh(diff * diff, sample_weight, w)) * (0.5 / n)
        l2 = None
        if self.alpha > 0:
            # ½·alpha·Σ‖W‖²/n, one l2_loss op per weight (no W-sized temporary forward).
            weights = self._params[:self.n_layers_ - 1]
            l2 = cr.ops.l2_loss(weights[0])
            for weight in weights[1:]:
                l2 = l2 + cr.ops.l2_loss(weight)
            l2 = l2 * (self.alpha / n)
        return data_loss, z, log_p, l2

    def _reported_loss(self, z: np.ndarray, log_p: np.ndarray | None, data_loss: np.ndarray,
                       Y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """The data part of the loss scikit-learn reports, from the arrays of a
        step: logits ``z``, softmax ``log_p`` (None: computed from z as the
        fused op does), the differentiated ``data_loss``."""
        n: float
        w: float | np.ndarray
        if sample_weight is None:
            n, w = z.shape[0], 1.0
        else:
            n, w = float(sample_weight.sum()), sample_weight.reshape(-1, 1)
        eps = np.finfo(self._dtype).eps
        lo, hi = np.log(eps), np.log1p(-eps)
        out = self.out_activation_
        if out == "softmax":
            Yw = Y if sample_weight is None else Y * w
            if log_p is None:        # as ops.nn.softmax_cross_entropy_sum computes it
                log_p = z - np.max(z, axis=-1, keepdims=True)
                log_p -= np.log(np.sum(np.exp(log_p), axis=-1, keepdims=True))
            np.clip(log_p, lo, hi, out=log_p)
            return -float(np.vdot(Yw, log_p)) / n
        if out == "logistic":
            sp = np.logaddexp(z.dtype.type(0), z)          # softplus, as ops.softplus
            log_p1 = np.clip(z - sp, lo, hi)
            log_p0 = np.clip(-sp, lo, hi)
            return -float(np.sum(w * (Y * log_p1 + (1 - Y) * log_p0))) / n
        if out == "exp":
            const = np.sum(w * (_xlogy(Y, Y) - Y)) / n
            return float(data_loss) + float(const)
        return float(data_loss) / Y.shape[1]

    def _compiled_step(self, optimizer: optimizers.Optimizer) -> _Step:
        """The stochastic solvers' step as one ``cr.jit`` program: forward,
        loss with its L2 term, gradients, the optimizer's update; returns
        ``(data_loss, z, log_p, l2)`` for the reported loss (``log_p``: the
        softmax log-probabilities the fused loss made, or None). Made once per optimizer,
        weights and settings the trace reads; a new batch size traces again."""
        params = self._params
        settings = (self.alpha, self.activation, self.out_activation_)
        cached = self.__dict__.get("_jit_step")
        if cached is not None and cached[0] is optimizer and cached[1] is params and \
                cached[2] == settings:
            return cached[3]

        def mlp_train_step(x: np.ndarray, Y: np.ndarray
                           ) -> tuple[cr.Tensor, cr.Tensor, np.ndarray | None, cr.Tensor | None]:
            data_loss, z, log_p, l2 = self._loss_terms(x, Y, log_probs=True)
            loss = data_loss if l2 is None else data_loss + l2
            optimizer.apply_gradients(zip(gradients(loss, params), params))
            return data_loss, z, log_p, l2

        step: _Step = cr.jit(mlp_train_step)
        self._jit_step = (optimizer, params, settings, step)
        return step

    def __getstate__(self) -> dict[str, Any]:
        # a copy: object.__getstate__ hands back the live __dict__
        state = dict(super().__getstate__())
        state.pop("_jit_step", None)         # generated code: traced again after unpickling
        return state

    # ------------------------------------------------------------------
    # Setting up
    # ------------------------------------------------------------------
    def _initialize(self, Y: np.ndarray, layer_units: list[int]) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        # Glorot et al.; drawn in scikit-learn's order (W then b, layer by layer).
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in pairwise(layer_units):
            bound = np.sqrt(factor / (fan_in + fan_out))
            w = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            b = self._random_state.uniform(-bound, bound, fan_out)
            self.coefs_.append(w.astype(self._dtype))
            self.intercepts_.append(b.astype(self._dtype))
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _bind_params(self) -> None:
        """Tensors that share memory with coefs_ and intercepts_, so in-place
        optimizer updates are the fitted attributes' updates. Arrays the user
        replaced get a new binding and a new optimizer."""
        arrays = list(self.coefs_) + list(self.intercepts_)
        params = getattr(self, "_params", None)
        if params is not None and len(params) == len(arrays) and all(
                p.data is a for p, a in zip(params, arrays)):
            return
        arrays = [np.ascontiguousarray(a, dtype=self._dtype) for a in arrays]
        n = len(self.coefs_)
        self.coefs_, self.intercepts_ = arrays[:n], arrays[n:]
        self._params = [cr.Tensor(a, requires_grad=True) for a in arrays]
        self._optimizer = None

    def _fit(self: _MLP, X: npt.ArrayLike, y: npt.ArrayLike,
             sample_weight: npt.ArrayLike | None = None, incremental: bool = False) -> _MLP:
        self._dtype = np.dtype(self.dtype)
        sizes = self.hidden_layer_sizes
        hidden: list[int] = list(sizes) if isinstance(sizes, Iterable) else [sizes]
        if np.any(np.array(hidden) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        weights = (None if sample_weight is None
                   else cast(np.ndarray, _check_sample_weight(sample_weight, X, dtype=self._dtype)))
        X = _as_training_array(X, self._dtype)       # the one conversion of a fit
        Y = np.asarray(y, dtype=self._dtype)
        if Y.ndim == 1:
            Y = Y.reshape(-1, 1)
        self.n_outputs_ = Y.shape[1]
        layer_units = [X.shape[1]] + hidden + [self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, layer_units)
            self._params = []                # bound to the new weights below
        self._bind_params()
        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(X, Y, weights, incremental)
        else:
            self._fit_lbfgs(X, Y, weights)
        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data may"
                             " contain large values and need to be preprocessed.")
        return self

    # ------------------------------------------------------------------
    # L-BFGS: SciPy drives, chainrule gives the loss and its gradient
    # ------------------------------------------------------------------
    def _fit_lbfgs(self, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None) -> None:
        params = self._params
        sizes = np.cumsum([0] + [p.size for p in params])
        x = cr.Tensor(X)

        def loss_and_grad(theta):
            for p, start, stop in zip(params, sizes[:-1], sizes[1:]):
                np.copyto(p.data, theta[start:stop].reshape(p.shape), casting="unsafe")
            loss, value = self._loss(x, Y, sample_weight)
            grads = gradients(loss, params)
            return value, np.concatenate([g.data.ravel() for g in grads]).astype(np.float64)

        theta0 = np.concatenate([p.data.ravel() for p in params]).astype(np.float64)
        result = scipy.optimize.minimize(
            loss_and_grad, theta0, method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        self.n_iter_ = _check_optimize_result(result, self.max_iter)
        self.loss_ = float(result.fun)
        loss_and_grad(result.x)          # leave the weights at the solution
        if self.verbose:
            print(f"L-BFGS-B: {result.message} after {self.n_iter_} iterations, loss = {self.loss_:.8f}")

    # ------------------------------------------------------------------
    # SGD and Adam: mini-batches
    # ------------------------------------------------------------------
    def _make_optimizer(self) -> optimizers.Optimizer:
        # scikit-learn's update rules are Keras': SGD v ← μv − lr·g, p ← p + v
        # (Nesterov p ← p + μv − lr·g); Adam with lr·√(1−β2^t)/(1−β1^t).
        if self.solver == "sgd":
            return optimizers.SGD(learning_rate=self.learning_rate_init, momentum=self.momentum,
                                  nesterov=self.nesterovs_momentum)
        return optimizers.Adam(learning_rate=self.learning_rate_init, beta_1=self.beta_1,
                               beta_2=self.beta_2, epsilon=self.epsilon)

    def _fit_stochastic(self, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None,
                        incremental: bool) -> None:
        optimizer = getattr(self, "_optimizer", None)
        if optimizer is None or not incremental:
            optimizer = self._optimizer = self._make_optimizer()
        params = self._params
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        y_val: np.ndarray | None                  # the held-out targets (early stopping)
        if early_stopping:
            # Stratify only single-output classification, as scikit-learn.
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            if sample_weight is None:
                X_train, X_val, Y_train, Y_val = train_test_split(
                    X, Y, random_state=self._random_state, test_size=self.validation_fraction,
                    stratify=stratify)
                sw_train = sw_val = None
            else:
                X_train, X_val, Y_train, Y_val, sw_train, sw_val = train_test_split(
                    X, Y, sample_weight, random_state=self._random_state,
                    test_size=self.validation_fraction, stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                                 "or the size of your dataset.")
            y_val = self._decode_targets(Y_val)
        else:
            X_train, Y_train, sw_train = X, Y, sample_weight
            X_val = y_val = sw_val = None

        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                              "It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        order = np.arange(n_samples)
        starts = range(0, n_samples, batch_size)
        # Compiled steps (cr.jit) where they pay, and never for batches with
        # sample weights: their sum n would be a Python constant of the trace.
        planned = len(starts) * (1 if incremental else self.max_iter)
        compiled = self._compiled_step(optimizer) if self._jit and sw_train is None and (
            incremental or planned >= self._jit_min_steps) else None

        self.n_iter_ = 0
        for _ in range(self.max_iter):
            if self.shuffle:
                # Shuffle indices, not data; the same random stream as scikit-learn.
                order = shuffle_indices(order, random_state=self._random_state)
            total = 0.0
            for start in starts:
                rows = order[start:start + batch_size] if self.shuffle else slice(start, start + batch_size)
                xb, yb = X_train[rows], Y_train[rows]
                swb = None if sw_train is None else sw_train[rows]
                if compiled is not None and swb is None:
                    data_loss, z, log_p, l2 = compiled(xb, yb)  # arrays: the quickest call
                    value = self._reported_loss(z.data, log_p, data_loss.data, yb)
                    if l2 is not None:
                        value += float(l2.data)
                else:
                    loss, value = self._loss(cr.Tensor(xb), yb, swb)
                    grads = gradients(loss, params)
                    optimizer.apply_gradients(zip(grads, params))
                total += value * xb.shape[0]
            self.n_iter_ += 1
            self.loss_ = total / n_samples
            self.t_ += n_samples
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val)
            if self.solver == "sgd" and self.learning_rate == "invscaling":
                optimizer.learning_rate = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if early_stopping else "Training loss"
                msg = (f"{what} did not improve more than tol={self.tol:f} for "
                       f"{self.n_iter_no_change} consecutive epochs.")
                if self._trigger_stopping(msg):
                    break
                self._no_improvement_count = 0
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                              "reached and the optimization hasn't converged yet.", ConvergenceWarning)
        if early_stopping:
            for p, best in zip(params, self._best_coefs + self._best_intercepts):
                np.copyto(p.data, best)

    def _trigger_stopping(self, msg: str) -> bool:
        """Stop, or (sgd with learning_rate='adaptive') divide the rate by 5."""
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        optimizer = cast(optimizers.Optimizer, self._optimizer)     # made by _fit_stochastic
        if optimizer.learning_rate <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        optimizer.learning_rate = float(optimizer.learning_rate) / 5.0
        if self.verbose:
            print(msg + f" Setting learning rate to {optimizer.learning_rate:f}")
        return False

    def _update_no_improvement_count(self, early_stopping: bool, X_val: np.ndarray | None,
                                     y_val: np.ndarray | None,
                                     sw_val: np.ndarray | None) -> None:
        if early_stopping:
            # With early stopping, _initialize made the scores a list and the best
            # score a float, and _fit_stochastic held out X_val, y_val.
            score = self._score(cast(np.ndarray, X_val), cast(np.ndarray, y_val), sw_val)
            cast(list, self.validation_scores_).append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            best_score = cast(float, self.best_validation_score_)
            if score < best_score + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > best_score:
                self.best_validation_score_ = score
                self._best_coefs = [c.copy() for c in self.coefs_]
                self._best_intercepts = [i.copy() for i in self.intercepts_]
        else:
            best_loss = cast(float, self.best_loss_)          # a float without early stopping
            if self.loss_curve_[-1] > best_loss - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(best_loss, self.loss_curve_[-1])

    def _score_with_function(self, X: np.ndarray, y: np.ndarray,
                             sample_weight: np.ndarray | None,
                             score_function: Callable[..., float]) -> float:
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    # ------------------------------------------------------------------
    # Public API shared by both
    # ------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self: _MLP, X: npt.ArrayLike, y: npt.ArrayLike,
            sample_weight: npt.ArrayLike | None = None) -> _MLP:
        """Fit the model to data matrix X and target(s) y.

        Args:
            X: the samples, (n_samples, n_features).
            y: the targets, (n_samples,) or (n_samples, n_outputs): labels for
                the classifier (an indicator matrix for multilabel), values for
                the regressor.
            sample_weight: weights each sample's loss, (n_samples,); None means 1 each.

        Returns:
            self, fitted.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    # What each subclass defines: how targets are checked and encoded, the score.
    def _validate_input(self, X: npt.ArrayLike, y: npt.ArrayLike, incremental: bool,
                        reset: bool) -> _XY:
        raise NotImplementedError

    def _decode_targets(self, Y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score(self, X: np.ndarray, y: np.ndarray,
               sample_weight: np.ndarray | None = None) -> float:
        raise NotImplementedError

    def _predict(self, X: npt.ArrayLike, check_input: bool = True) -> np.ndarray:
        raise NotImplementedError

    def _check_solver(self) -> bool:
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True


def _as_training_array(X: npt.ArrayLike, dtype: npt.DTypeLike) -> np.ndarray:
    """X as a C-contiguous array of ``dtype``, copied only if it is not one already.

    A large conversion is written into plain anonymous memory (``mmap``)
    rather than ``np.empty``, which NumPy would back with transparent huge
    pages that the kernel may compact on first touch (benchmarks/PROFILE.md,
    "Timing notes moved out of the code").
    """
    X = np.asarray(X)
    dtype = np.dtype(dtype)
    if X.dtype == dtype and X.flags.c_contiguous:
        return X
    nbytes = X.size * dtype.itemsize
    if nbytes < 16 * 2**20:
        return np.ascontiguousarray(X, dtype=dtype)
    out = np.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype).reshape(X.shape)
    np.copyto(out, X, casting="unsafe")
    return out


def _weigh(per_element: cr.Tensor, sample_weight: np.ndarray | None,
           w: float | np.ndarray) -> cr.Tensor:
    return per_element if sample_weight is None else per_element * w


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


def _check_optimize_result(result: scipy.optimize.OptimizeResult, max_iter: int) -> int:
    """n_iter of a SciPy L-BFGS result; a ConvergenceWarning when it stopped early."""
    n_iter = min(result.nit, max_iter)
    if result.status != 0:
        msg = (f"lbfgs failed to converge after {n_iter} iteration(s) "
               f"(status={result.status}):\n{result.message}\n")
        if n_iter == max_iter:
            msg += f"\nIncrease the number of iterations to improve the convergence (max_iter={max_iter})."
        msg += ("\nYou might also want to scale the data as shown in:\n"
                "    https://scikit-learn.org/stable/modules/preprocessing.html")
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return n_iter


# The estimators' shared arguments, in Keras' Args: format like the rest of the
# docs; names and defaults are scikit-learn's (sklearn/neural_network/_multilayer_perceptron.py).
_DOC_ARGS = """
        hidden_layer_sizes: tuple of int, the units of each hidden layer. Defaults to (100,).
        activation: ``'identity'``, ``'logistic'``, ``'tanh'`` or ``'relu'`` (the default).
        solver: ``'lbfgs'`` runs SciPy's L-BFGS-B on the flattened weights with
            gradients from chainrule; ``'sgd'`` and ``'adam'`` (the default) train
            on mini-batches.
        alpha: float, the L2 penalty: the loss gains ½·alpha·Σ‖W‖²/n_samples.
            Defaults to 0.0001.
        batch_size: int, or ``'auto'`` (the default) for min(200, n_samples).
        learning_rate: sgd only. ``'constant'`` (the default); ``'invscaling'``:
            lr = learning_rate_init / (t+1)^power_t with t the samples seen;
            ``'adaptive'``: divide by 5 after n_iter_no_change epochs without improvement.
        learning_rate_init: float. Defaults to 0.001.
        power_t: float, for ``'invscaling'``. Defaults to 0.5.
        max_iter: epochs for sgd/adam, iterations for lbfgs. Defaults to 200.
        shuffle: shuffle the samples each epoch. Defaults to True.
        random_state: int, ``RandomState`` instance or None (the default).
        tol: float, the improvement that counts. Defaults to 1e-4.
        verbose: print the loss each epoch. Defaults to False.
        warm_start: continue from the previous fit's weights. Defaults to False.
        momentum: float, sgd only. Defaults to 0.9.
        nesterovs_momentum: bool, sgd only. Defaults to True.
        early_stopping: hold out ``validation_fraction`` and stop when its score
            stops improving. Defaults to False.
        validation_fraction: float. Defaults to 0.1.
        beta_1: float, Adam's decay of the first moment. Defaults to 0.9.
        beta_2: float, Adam's decay of the second moment. Defaults to 0.999.
        epsilon: float, Adam's denominator guard. Defaults to 1e-8.
        n_iter_no_change: int. Defaults to 10.
        max_fun: int, lbfgs only: most loss evaluations. Defaults to 15000.
        dtype: ``'float32'`` (the default) or ``'float64'``: chainrule's
            addition, the precision training and prediction run in.

    Attributes:
        coefs_: list of arrays, the weights W of each layer, (fan_in, fan_out).
        intercepts_: list of arrays, the biases b of each layer, (fan_out,).
        loss_: the last loss (epoch mean for sgd/adam).
        loss_curve_: sgd/adam: the loss of each epoch.
        best_loss_: sgd/adam without early stopping: the lowest loss so far.
        validation_scores_: with early stopping: the held-out score of each epoch.
        best_validation_score_: with early stopping: the best held-out score.
        n_iter_: epochs (sgd/adam) or iterations (lbfgs) run.
        t_: samples seen by the solver.
        n_layers_: layers, input and output included.
        n_outputs_: output units.
        out_activation_: ``'softmax'``, ``'logistic'``, ``'identity'`` or ``'exp'``.
        n_features_in_: features seen in fit (``feature_names_in_``: their names,
            when X had string column names).
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = """Multi-layer perceptron classifier, trained by chainrule.

    Minimizes the log-loss: softmax output for multiclass targets, logistic
    for binary and multilabel ones. A scikit-learn estimator: ``fit``,
    ``predict``, ``predict_proba``, ``score``, pipelines and grid search work.

    Example:

    >>> from chainrule.sklearn import MLPClassifier
    >>> X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
    >>> clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0)
    >>> clf.fit(X, [0, 1, 1, 0]).predict(X).tolist()
    [0, 1, 1, 0]

    Args:""" + _DOC_ARGS

    def __init__(self, hidden_layer_sizes: int | Sequence[int] | np.ndarray = (100,),
                 activation: str = "relu", *, solver: str = "adam", alpha: float = 0.0001,
                 batch_size: int | str = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: int | np.random.RandomState | None = None,
                 tol: float = 1e-4, verbose: bool | int = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: int | float = 10, max_fun: int = 15000,
                 dtype: str | type = "float32") -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype

    loss = "log_loss"

    # Set by fit (annotations only: an unfitted estimator has none of them).
    classes_: np.ndarray

    def _validate_input(self, X: npt.ArrayLike, y: npt.ArrayLike, incremental: bool,
                        reset: bool) -> _XY:
        X, y = cast(_XY, validate_data(self, X, y, multi_output=True,
                                       dtype=(np.float64, np.float32), reset=reset))
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y)

    def _decode_targets(self, Y: np.ndarray) -> np.ndarray:
        return self._label_binarizer.inverse_transform(Y)

    def _score(self, X: np.ndarray, y: np.ndarray,
               sample_weight: np.ndarray | None = None) -> float:
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Class labels (for multilabel targets, the indicator matrix).

        Args:
            X: the samples, (n_samples, n_features).

        Returns:
            The predicted labels, (n_samples,) taken from ``classes_``, or
            (n_samples, n_classes) of 0/1 for multilabel targets.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X: npt.ArrayLike, check_input: bool = True) -> np.ndarray:
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
                    sample_weight: npt.ArrayLike | None = None,
                    classes: npt.ArrayLike | None = None) -> MLPClassifier:
        """One epoch over (X, y). ``classes`` (all labels) is required on the first call.

        Only for the stochastic solvers (``'sgd'``, ``'adam'``).

        Args:
            X: the samples, (n_samples, n_features).
            y: their labels, (n_samples,), or an indicator matrix for multilabel.
            sample_weight: weights each sample's loss, (n_samples,); None means 1 each.
            classes: every label there will be (required on the first call).

        Returns:
            self, updated.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def predict_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """Probability of each class, (n_samples, n_classes).

        Args:
            X: the samples, (n_samples, n_features).

        Returns:
            The probabilities, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """log of predict_proba.

        Args:
            X: the samples, (n_samples, n_features).

        Returns:
            The log-probabilities, (n_samples, n_classes).
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = """Multi-layer perceptron regressor, trained by chainrule.

    Minimizes the squared error ½·mean((y − ŷ)²) (or the Poisson deviance
    with ``loss='poisson'``) with an identity (exp) output.

    >>> import numpy as np
    >>> from chainrule.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 50).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0)
    >>> reg.fit(X, X.ravel() ** 2).score(X, X.ravel() ** 2) > 0.9
    True

    Args:
        loss: ``'squared_error'`` (the default) or ``'poisson'``.""" + _DOC_ARGS

    _parameter_constraints: ClassVar[dict] = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss: str = "squared_error",
                 hidden_layer_sizes: int | Sequence[int] | np.ndarray = (100,),
                 activation: str = "relu", *, solver: str = "adam", alpha: float = 0.0001,
                 batch_size: int | str = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: int | np.random.RandomState | None = None,
                 tol: float = 1e-4, verbose: bool | int = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: int | float = 10, max_fun: int = 15000,
                 dtype: str | type = "float32") -> None:
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype

    def _validate_input(self, X: npt.ArrayLike, y: npt.ArrayLike, incremental: bool,
                        reset: bool) -> _XY:
        X, y = cast(_XY, validate_data(self, X, y, multi_output=True, y_numeric=True,
                                       dtype=(np.float64, np.float32), reset=reset))
        if y.ndim == 2 and y.shape[1] == 1:
            y = cast(np.ndarray, column_or_1d(y, warn=True))
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("loss='poisson' needs non-negative targets y; got a minimum of "
                             f"{np.min(y)}.")
        return X, y

    def _decode_targets(self, Y: np.ndarray) -> np.ndarray:
        return Y.ravel() if Y.shape[1] == 1 else Y

    def _score(self, X: np.ndarray, y: np.ndarray,
               sample_weight: np.ndarray | None = None) -> float:
        return self._score_with_function(X, y, sample_weight, r2_score)

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Predicted values, (n_samples,) or (n_samples, n_outputs).

        Args:
            X: the samples, (n_samples, n_features).

        Returns:
            The predictions, (n_samples,) for one output, else (n_samples, n_outputs).
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X: npt.ArrayLike, check_input: bool = True) -> np.ndarray:
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
                    sample_weight: npt.ArrayLike | None = None) -> MLPRegressor:
        """One epoch over (X, y).

        Only for the stochastic solvers (``'sgd'``, ``'adam'``).

        Args:
            X: the samples, (n_samples, n_features).
            y: the targets, (n_samples,) or (n_samples, n_outputs).
            sample_weight: weights each sample's loss, (n_samples,); None means 1 each.

        Returns:
            self, updated.
        """
        return self._fit(X, y, sample_weight, incremental=True)
