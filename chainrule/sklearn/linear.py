"""Linear models with scikit-learn's interface: ``Perceptron``,
``LogisticRegression`` and ``LinearRegression``.

* ``Perceptron``: Rosenblatt's rule, as in the seeds and as
  ``sklearn.linear_model.Perceptron``: go through the samples; on a mistake
  (y·(w·x + b) ≤ 0, labels y ∈ {−1, +1}) move the plane toward the sample,
  w ← w + eta0·y·x, b ← b + eta0·y. Multiclass is one-vs-rest.
* ``LogisticRegression``: minimizes the mean log-loss plus ‖W‖²/(2·C·n)
  (sigmoid for two classes, softmax for more) with SciPy's L-BFGS-B; the loss
  is chainrule ops and its gradient comes from chainrule's autodiff.
* ``LinearRegression``: least squares through ``chainrule.linalg.lstsq``.

Predictions (``decision_function``) are chainrule matrix products. These
models compute in float64, as scikit-learn's do.
"""
from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any, ClassVar, Tuple, cast

import numpy as np
import numpy.typing as npt
import scipy.optimize
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

import chainrule as cr
from chainrule.autodiff import gradients
from chainrule.linalg import lstsq

from .mlp import _check_optimize_result

__all__ = ["LinearRegression", "LogisticRegression", "Perceptron"]

_XY = Tuple[np.ndarray, np.ndarray]      # what validate_data(X, y) returns (sklearn is untyped)


class _LinearClassifier(ClassifierMixin, BaseEstimator):
    """decision_function / predict shared by the two linear classifiers."""

    # Set by fit (annotations only: an unfitted estimator has none of them).
    classes_: np.ndarray
    coef_: np.ndarray
    intercept_: np.ndarray

    def decision_function(self, X: npt.ArrayLike) -> np.ndarray:
        """Signed distance to the plane(s): X @ coef_.T + intercept_.

        Shape (n_samples,) for two classes (positive means classes_[1]),
        else (n_samples, n_classes).

        Args:
            X: the samples, (n_samples, n_features).

        Returns:
            The scores.
        """
        check_is_fitted(self)
        X = cast(np.ndarray, validate_data(self, X, reset=False, dtype=np.float64))
        with cr.no_grad():
            scores = (cr.Tensor(X) @ cr.Tensor(self.coef_).T + cr.Tensor(self.intercept_)).data
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """The class of each sample.

        Args:
            X: the samples, (n_samples, n_features).

        Returns:
            The predicted labels, (n_samples,), taken from ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]


# --------------------------------------------------------------------------
# Perceptron
# --------------------------------------------------------------------------
class Perceptron(_LinearClassifier):
    """The perceptron (Rosenblatt), as ``sklearn.linear_model.Perceptron``.

    Each epoch visits the samples (shuffled when ``shuffle``) and, on a
    mistake y·(w·x + b) ≤ 0, updates w ← w + eta0·y·x, b ← b + eta0·y
    (y ∈ {−1, +1}; one-vs-rest planes for more than two classes). Training
    stops once the epoch's perceptron loss Σ max(0, −y·(w·x + b)) has not
    improved by ``tol``·n_samples for ``n_iter_no_change`` epochs, or after
    ``max_iter`` epochs (with a ``ConvergenceWarning``).

    Parameters are scikit-learn's, with the same defaults. Not supported
    (a ValueError says so): ``penalty`` other than None (so ``alpha`` and
    ``l1_ratio`` are unused), ``early_stopping=True``; ``n_jobs`` is
    accepted and ignored; ``class_weight`` None, 'balanced' or a dict scales
    each sample's update.

    Args:
        penalty: must be None (no regularization).
        alpha: unused (scikit-learn's regularization strength).
        l1_ratio: unused (scikit-learn's elastic-net mix).
        fit_intercept: learn the bias b (else b = 0).
        max_iter: the most epochs.
        tol: stop when an epoch's loss has not improved by ``tol``·n_samples;
            None runs ``max_iter`` epochs.
        shuffle: shuffle the samples each epoch.
        verbose: print each epoch's loss when > 0.
        eta0: the learning rate of the updates.
        n_jobs: accepted and ignored.
        random_state: seeds the shuffling (an int, a RandomState, or None).
        early_stopping: must be False.
        validation_fraction: unused (for ``early_stopping``).
        n_iter_no_change: epochs without improvement before stopping.
        class_weight: None, ``"balanced"`` or ``{class: weight}``.
        warm_start: start ``fit`` from the previous fit's planes.

    >>> from chainrule.sklearn import Perceptron
    >>> X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
    >>> Perceptron(random_state=0).fit(X, [0, 0, 0, 1]).predict(X).tolist()
    [0, 0, 0, 1]
    """

    _parameter_constraints: ClassVar[dict] = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "shuffle": ["boolean"],
        "verbose": ["verbose"],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "warm_start": ["boolean"],
    }

    def __init__(self, *, penalty: str | None = None, alpha: float = 0.0001,
                 l1_ratio: float = 0.15, fit_intercept: bool = True, max_iter: int = 1000,
                 tol: float | None = 1e-3, shuffle: bool = True, verbose: int = 0,
                 eta0: float = 1.0, n_jobs: int | None = None,
                 random_state: int | np.random.RandomState | None = 0,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 5, class_weight: dict[Any, float] | str | None = None,
                 warm_start: bool = False) -> None:
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.eta0 = eta0
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start

    def _check_supported(self) -> None:
        if self.penalty is not None:
            raise ValueError(f"chainrule's Perceptron supports penalty=None only (the plain "
                             f"perceptron rule); got penalty={self.penalty!r}. Use "
                             "LogisticRegression for an L2-regularized linear classifier.")
        if self.early_stopping:
            raise ValueError("chainrule's Perceptron does not support early_stopping=True; "
                             "use early_stopping=False (stopping on the training loss with tol).")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike, coef_init: npt.ArrayLike | None = None,
            intercept_init: npt.ArrayLike | None = None,
            sample_weight: npt.ArrayLike | None = None) -> Perceptron:
        """Fit the planes from scratch (or from ``coef_init``/``intercept_init``,
        or the previous fit with ``warm_start``). Returns self.

        Args:
            X: the samples, (n_samples, n_features).
            y: their labels, (n_samples,).
            coef_init: starting weights, (n_planes, n_features), or None for zeros.
            intercept_init: starting biases, (n_planes,), or None for zeros.
            sample_weight: scales each sample's updates; None means 1 each.

        Returns:
            self, fitted.
        """
        self._check_supported()
        X, y = cast(_XY, validate_data(self, X, y, dtype=np.float64, order="C"))
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"The number of classes has to be greater than one; got "
                             f"{len(self.classes_)} class")
        if coef_init is None and self.warm_start and hasattr(self, "coef_"):
            coef_init, intercept_init = self.coef_, self.intercept_
        self._init_planes(X.shape[1], coef_init, intercept_init)
        return self._train(X, y, sample_weight, self.max_iter, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
                    classes: npt.ArrayLike | None = None,
                    sample_weight: npt.ArrayLike | None = None) -> Perceptron:
        """One epoch over (X, y); ``classes`` is required on the first call.

        Args:
            X: the samples, (n_samples, n_features).
            y: their labels, (n_samples,).
            classes: every label there will be (required on the first call).
            sample_weight: scales each sample's updates; None means 1 each.

        Returns:
            self, updated.
        """
        self._check_supported()
        first = _check_partial_fit_first_call(self, classes)
        X, y = cast(_XY, validate_data(self, X, y, dtype=np.float64, order="C", reset=first))
        check_classification_targets(y)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if len(unknown):
            raise ValueError(f"`y` has classes not in `classes`: {unknown}; "
                             f"classes are {self.classes_}")
        if first:
            self._init_planes(X.shape[1], None, None)
        return self._train(X, y, sample_weight, 1, incremental=True)

    def _init_planes(self, n_features: int, coef_init: npt.ArrayLike | None,
                     intercept_init: npt.ArrayLike | None) -> None:
        n_planes = 1 if len(self.classes_) == 2 else len(self.classes_)
        self.coef_ = (np.zeros((n_planes, n_features)) if coef_init is None
                      else np.array(coef_init, dtype=np.float64).reshape(n_planes, n_features))
        self.intercept_ = (np.zeros(n_planes) if intercept_init is None
                           else np.array(intercept_init, dtype=np.float64).reshape(n_planes))
        self.t_ = 1.0

    def _train(self, X: np.ndarray, y: np.ndarray, sample_weight: npt.ArrayLike | None,
               max_epochs: int, incremental: bool) -> Perceptron:
        n_samples = X.shape[0]
        sample_weight = cast(np.ndarray, _check_sample_weight(sample_weight, X))
        if self.class_weight is not None:
            sample_weight = cast(np.ndarray,
                                 sample_weight * compute_sample_weight(self.class_weight, y))
        # ±1 targets, one column per plane.
        if self.coef_.shape[0] == 1:
            Y = np.where(y == self.classes_[1], 1.0, -1.0)[:, None]
        else:
            Y = np.where(y[:, None] == self.classes_[None, :], 1.0, -1.0)
        rng = check_random_state(self.random_state)
        W, b = self.coef_, self.intercept_
        n_planes = W.shape[0]
        active = np.ones(n_planes, dtype=bool)        # planes that have not converged
        best_loss = np.full(n_planes, np.inf)
        no_improvement = np.zeros(n_planes, dtype=int)
        epochs = np.zeros(n_planes, dtype=int)
        eta = self.eta0
        for _ in range(max_epochs):
            order = rng.permutation(n_samples) if self.shuffle else np.arange(n_samples)
            epoch_loss = np.zeros(n_planes)
            # The rule is sequential (each update changes the next margin), so
            # this loop is per sample, in NumPy; every plane moves at once.
            for i in order:
                margin = Y[i] * (W @ X[i] + b)
                mistake = (margin <= 0) & active
                if mistake.any():
                    epoch_loss -= np.where(mistake, margin, 0.0) * sample_weight[i]
                    step = eta * sample_weight[i] * Y[i, mistake]
                    W[mistake] += step[:, None] * X[i]
                    if self.fit_intercept:
                        b[mistake] += step
            epochs[active] += 1
            self.t_ += n_samples
            if self.verbose:
                print(f"-- Epoch {epochs.max()}, avg. loss {epoch_loss.sum() / n_samples:.6f}")
            if self.tol is not None and not incremental:
                worse = epoch_loss > best_loss - self.tol * n_samples
                no_improvement = np.where(worse, no_improvement + 1, 0)
                best_loss = np.minimum(best_loss, epoch_loss)
                active &= no_improvement < self.n_iter_no_change
                if not active.any():
                    break
        self.n_iter_ = int(epochs.max())
        if not incremental and self.tol is not None and active.any() and self.n_iter_ == self.max_iter:
            warnings.warn("Maximum number of iteration reached before convergence. Consider "
                          "increasing max_iter to improve the fit.", ConvergenceWarning)
        return self


# --------------------------------------------------------------------------
# Logistic regression
# --------------------------------------------------------------------------
class LogisticRegression(_LinearClassifier):
    """Logistic regression (binary and multinomial), as scikit-learn's with
    its default L2 penalty and solver 'lbfgs'.

    Minimizes, with n = Σ sample weights::

        Σᵢ wᵢ·log-loss(yᵢ, softmax(W xᵢ + b)) / n  +  ‖W‖² / (2·C·n)

    (one sigmoid plane for two classes). The loss is built from chainrule
    ops and its gradient comes from chainrule; SciPy's L-BFGS-B minimizes it
    (``maxiter=max_iter``, ``gtol=tol``).

    Supported: ``C`` (``np.inf``: no penalty), ``penalty`` 'l2' / None
    (scikit-learn 1.8 deprecates it in favour of ``C`` and ``l1_ratio``),
    ``fit_intercept``, ``class_weight``, ``warm_start``, ``sample_weight``.
    Not supported (a ValueError says so): ``l1_ratio`` > 0, ``dual=True``, a
    ``solver`` other than 'lbfgs'. ``intercept_scaling``, ``random_state`` and
    ``n_jobs`` have no effect with lbfgs (as in scikit-learn).

    Args:
        penalty: ``"l2"`` or None (scikit-learn 1.8 deprecates it: use ``C``).
        C: the inverse of the L2 strength; ``np.inf`` means no penalty.
        l1_ratio: must be 0 (or None).
        dual: must be False.
        tol: L-BFGS-B's gradient tolerance (``gtol``).
        fit_intercept: learn the bias b (else b = 0).
        intercept_scaling: accepted; no effect with lbfgs.
        class_weight: None, ``"balanced"`` or ``{class: weight}``.
        random_state: accepted; no effect with lbfgs.
        solver: must be ``"lbfgs"``.
        max_iter: L-BFGS-B's most iterations.
        verbose: accepted (scikit-learn's verbosity).
        warm_start: start from the previous fit's weights.
        n_jobs: accepted; no effect with lbfgs.

    >>> from chainrule.sklearn import LogisticRegression
    >>> X = [[-2.], [-1.], [1.], [2.]]
    >>> LogisticRegression().fit(X, [0, 0, 1, 1]).predict([[-3.], [3.]]).tolist()
    [0, 1]
    """

    _parameter_constraints: ClassVar[dict] = {
        "penalty": [StrOptions({"l2"}), None, Hidden(StrOptions({"deprecated", "l1", "elasticnet"}))],
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "dual": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "random_state": ["random_state"],
        "solver": [StrOptions({"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"})],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "n_jobs": [None, Integral],
    }

    def __init__(self, penalty: str | None = "deprecated", *, C: float = 1.0,
                 l1_ratio: float | None = 0.0, dual: bool = False, tol: float = 1e-4,
                 fit_intercept: bool = True, intercept_scaling: float = 1,
                 class_weight: dict[Any, float] | str | None = None,
                 random_state: int | np.random.RandomState | None = None,
                 solver: str = "lbfgs", max_iter: int = 100, verbose: int = 0,
                 warm_start: bool = False, n_jobs: int | None = None) -> None:
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs

    def _l2_strength(self) -> float:
        """1/C for the L2 term, 0 for no penalty."""
        if self.penalty in ("l1", "elasticnet") or (self.l1_ratio or 0) > 0:
            raise ValueError(f"chainrule's LogisticRegression supports the L2 penalty only "
                             f"(l1_ratio=0); got penalty={self.penalty!r}, l1_ratio={self.l1_ratio!r}.")
        if self.dual:
            raise ValueError("chainrule's LogisticRegression solves the primal problem; "
                             "use dual=False.")
        if self.solver != "lbfgs":
            raise ValueError(f"chainrule's LogisticRegression supports solver='lbfgs' only; "
                             f"got solver={self.solver!r}.")
        if self.penalty is None or np.isinf(self.C):
            return 0.0
        return 1.0 / self.C

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
            sample_weight: npt.ArrayLike | None = None) -> LogisticRegression:
        """Fit the model; ``sample_weight`` weights each sample's loss. Returns self.

        Args:
            X: the samples, (n_samples, n_features).
            y: their labels, (n_samples,).
            sample_weight: weights each sample's loss; None means 1 each.

        Returns:
            self, fitted.
        """
        l2 = self._l2_strength()
        X, y = cast(_XY, validate_data(self, X, y, dtype=np.float64, order="C"))
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, but the "
                             f"data contains only one class: {self.classes_[0]!r}")
        codes = encoder.transform(y)
        sample_weight = cast(np.ndarray, _check_sample_weight(sample_weight, X))
        if self.class_weight is not None:
            sample_weight = cast(np.ndarray,
                                 sample_weight * compute_sample_weight(self.class_weight, y))
        n_features = X.shape[1]
        binary = len(self.classes_) == 2
        n_planes = 1 if binary else len(self.classes_)
        targets = codes[:, None].astype(np.float64) if binary else np.eye(n_planes)[codes]
        sw_sum = sample_weight.sum()
        weights = (sample_weight / sw_sum)[:, None]
        x = cr.Tensor(X)
        n_coef = n_planes * n_features

        def loss_and_grad(theta):
            W = cr.Tensor(theta[:n_coef].reshape(n_planes, n_features), requires_grad=True)
            b = cr.Tensor(theta[n_coef:] if self.fit_intercept else np.zeros(n_planes),
                          requires_grad=self.fit_intercept)
            z = x @ W.T + b
            if binary:      # −[y log σ(z) + (1−y) log(1−σ(z))] = softplus(z) − y·z
                per_sample = cr.softplus(z) - z * targets
            else:
                per_sample = -(cr.log_softmax(z, axis=1) * targets)
            loss = cr.sum(per_sample * weights) + cr.sum(W * W) * (0.5 * l2 / sw_sum)
            sources = [W, b] if self.fit_intercept else [W]
            grads = gradients(loss, sources)
            return float(loss.data), np.concatenate([g.data.ravel() for g in grads])

        theta0 = np.zeros(n_coef + (n_planes if self.fit_intercept else 0))
        if self.warm_start and getattr(self, "coef_", None) is not None \
                and self.coef_.shape == (n_planes, n_features):
            theta0[:n_coef] = self.coef_.ravel()
            if self.fit_intercept:
                theta0[n_coef:] = self.intercept_
        result = scipy.optimize.minimize(
            loss_and_grad, theta0, method="L-BFGS-B", jac=True,
            options={"maxiter": self.max_iter, "maxls": 50, "gtol": self.tol,
                     "ftol": 64 * np.finfo(float).eps})
        self.n_iter_ = np.array([_check_optimize_result(result, self.max_iter)])
        self.coef_ = result.x[:n_coef].reshape(n_planes, n_features).copy()
        self.intercept_ = result.x[n_coef:].copy() if self.fit_intercept else np.zeros(n_planes)
        return self

    def predict_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """Probability of each class, (n_samples, n_classes).

        Args:
            X: the samples, (n_samples, n_features).

        Returns:
            The probabilities, columns in the order of ``classes_``.
        """
        scores = self.decision_function(X)
        with cr.no_grad():
            if scores.ndim == 1:
                p = cr.sigmoid(cr.Tensor(scores)).data
                return np.column_stack([1 - p, p])
            return cr.softmax(cr.Tensor(scores), axis=1).data

    def predict_log_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """log of predict_proba (computed stably).

        Args:
            X: the samples, (n_samples, n_features).

        Returns:
            The log-probabilities, (n_samples, n_classes).
        """
        scores = self.decision_function(X)
        with cr.no_grad():
            if scores.ndim == 1:
                scores = np.column_stack([np.zeros_like(scores), scores])
            return cr.log_softmax(cr.Tensor(scores), axis=1).data


# --------------------------------------------------------------------------
# Linear regression
# --------------------------------------------------------------------------
class LinearRegression(RegressorMixin, BaseEstimator):
    """Ordinary least squares: min ‖X·w + b − y‖², as scikit-learn's.

    With ``fit_intercept`` the columns of X and y are centred (weighted by
    ``sample_weight``), w solves the centred problem and
    b = ȳ − x̄·w. ``solver`` picks the least-squares method: 'svd'
    (default; the minimum-norm solution even when X is rank-deficient, as
    scikit-learn's), 'qr', 'normal' (XᵀX w = Xᵀy) or 'cholesky' (the normal
    equations by Cholesky), all through ``chainrule.linalg.lstsq``. ``positive=True`` is
    not supported (a ValueError says so); ``copy_X``, ``tol`` and ``n_jobs``
    are accepted for compatibility.

    Args:
        fit_intercept: learn the bias b (else b = 0).
        copy_X: accepted for compatibility (X is never changed).
        tol: accepted for compatibility.
        n_jobs: accepted for compatibility.
        positive: must be False.
        solver: ``"svd"``, ``"qr"``, ``"normal"`` or ``"cholesky"``.

    >>> from chainrule.sklearn import LinearRegression
    >>> reg = LinearRegression().fit([[0.], [1.], [2.]], [1., 3., 5.])
    >>> reg.coef_.round(6).tolist(), round(float(reg.intercept_), 6)
    ([2.0], 1.0)
    """

    _parameter_constraints: ClassVar[dict] = {
        "fit_intercept": ["boolean"],
        "copy_X": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [None, Integral],
        "positive": ["boolean"],
        "solver": [StrOptions({"svd", "qr", "normal", "cholesky"})],
    }

    def __init__(self, *, fit_intercept: bool = True, copy_X: bool = True, tol: float = 1e-6,
                 n_jobs: int | None = None, positive: bool = False, solver: str = "svd") -> None:
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive
        self.solver = solver

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
            sample_weight: npt.ArrayLike | None = None) -> LinearRegression:
        """Fit the least-squares solution. Returns self.

        Args:
            X: the samples, (n_samples, n_features).
            y: the targets, (n_samples,) or (n_samples, n_targets).
            sample_weight: weights each sample's squared error; None means 1 each.

        Returns:
            self, fitted.
        """
        if self.positive:
            raise ValueError("chainrule's LinearRegression does not support positive=True "
                             "(non-negative least squares); use positive=False.")
        X, y = cast(_XY, validate_data(self, X, y, dtype=np.float64, multi_output=True,
                                      y_numeric=True))
        sample_weight = cast(np.ndarray, _check_sample_weight(sample_weight, X))
        if self.fit_intercept:
            total = sample_weight.sum()
            x_mean = sample_weight @ X / total
            y_mean = sample_weight @ y / total
            Xc, yc = X - x_mean, y - y_mean
        else:
            Xc, yc = X, y
        # Weighted least squares = ordinary least squares on rows scaled by √w.
        root = np.sqrt(sample_weight)
        A = Xc * root[:, None]
        B = yc * (root[:, None] if yc.ndim == 2 else root)
        coef, self.rank_, self.singular_ = _lstsq(A, B, self.solver)
        self.coef_ = coef.T if y.ndim == 2 else coef
        if self.fit_intercept:
            self.intercept_ = y_mean - x_mean @ coef
        else:
            self.intercept_ = np.zeros(y.shape[1]) if y.ndim == 2 else 0.0
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """X @ coef_.T + intercept_ (a chainrule product).

        Args:
            X: the samples, (n_samples, n_features).

        Returns:
            The predictions, (n_samples,) or (n_samples, n_targets).
        """
        check_is_fitted(self)
        X = cast(np.ndarray, validate_data(self, X, reset=False, dtype=np.float64))
        with cr.no_grad():
            return (cr.Tensor(X) @ cr.Tensor(np.asarray(self.coef_)).T
                    + cr.Tensor(np.asarray(self.intercept_))).data


def _lstsq(A, B, solver):
    """(solution, rank, singular values) of min ‖A·x − B‖ by ``solver``
    (chainrule.linalg.lstsq). A rank-deficient A has no unique solution for
    'qr'/'normal'/'cholesky'; then, with a warning, the minimum-norm one
    ('svd'), which is what scikit-learn returns."""
    try:
        result = lstsq(A, B, method=solver)
    except np.linalg.LinAlgError as e:
        if solver == "svd":
            raise
        warnings.warn(f"LinearRegression(solver={solver!r}): {e}. Falling back to solver='svd'.",
                      UserWarning, stacklevel=3)
        result = lstsq(A, B, method="svd")
    return np.asarray(result.solution.data), int(result.rank), np.asarray(result.singular_values)
