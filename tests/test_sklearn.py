"""chainrule.sklearn against scikit-learn itself.

scikit-learn is the oracle: in float64 with the same ``random_state`` the MLPs
draw the same initial weights and batches, so their loss curves and weights
must agree with scikit-learn's to rounding; in float32 (the default) the
accuracies must. The linear models must reach scikit-learn's solutions.
"""
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

import sklearn.linear_model as sk_linear
import sklearn.neural_network as sk_nn
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import chainrule as cr
from chainrule.datasets import load_diabetes, load_digits, load_iris
from chainrule.sklearn import (
    LinearRegression,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    Perceptron,
)

MNIST = "/work/shared/data/mnist.npz"


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


def _quiet(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit()


# --------------------------------------------------------------------------
# Packaging
# --------------------------------------------------------------------------
def test_import_is_optional_and_explains_the_extra():
    code = ("import sys; import chainrule; assert 'chainrule.sklearn' not in sys.modules; "
            "sys.modules['sklearn'] = None\n"
            "try:\n    import chainrule.sklearn\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install chainrule[sklearn]" in out.stdout


# --------------------------------------------------------------------------
# MLPs: the same numbers as scikit-learn in float64
# --------------------------------------------------------------------------
def _problem(kind, rng):
    X = rng.normal(size=(120, 6))
    if kind == "multiclass":
        return X, np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])
    if kind == "binary":
        return X, np.where(X[:, 0] - X[:, 2] > 0, "yes", "no")
    if kind == "multilabel":
        return X, np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] > 1]).astype(int)
    if kind == "regression":
        return X, X[:, 0] * 2 - X[:, 1] ** 2
    return X, np.column_stack([X[:, 0] * 2, np.sin(X[:, 1])])        # multioutput


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression", "multioutput"])
def test_mlp_float64_reproduces_sklearn(kind, solver, rng):
    X, y = _problem(kind, rng)
    regression = kind in ("regression", "multioutput")
    ours, theirs = (MLPRegressor, sk_nn.MLPRegressor) if regression else (MLPClassifier, sk_nn.MLPClassifier)
    params = {"hidden_layer_sizes": (7, 5), "solver": solver, "max_iter": 8, "random_state": 3,
                  "batch_size": 32, "learning_rate_init": 0.01, "alpha": 0.01,
                  "activation": "tanh" if solver == "sgd" else "relu"}
    a = _quiet(lambda: ours(dtype="float64", **params).fit(X, y))
    b = _quiet(lambda: theirs(**params).fit(X, y))
    for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(ca, cb, rtol=1e-6, atol=1e-9)
    if solver == "lbfgs":
        # scikit-learn reports the mean over outputs of the squared error but
        # differentiates the sum; both implementations agree on the weights.
        assert a.n_iter_ == b.n_iter_
    else:
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-9)
        assert (a.n_iter_, a.t_, a.best_loss_) == pytest.approx((b.n_iter_, b.t_, b.best_loss_))
    assert a.out_activation_ == b.out_activation_
    assert (a.n_layers_, a.n_outputs_) == (b.n_layers_, b.n_outputs_)
    if regression:
        np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-6, atol=1e-9)
    else:
        np.testing.assert_array_equal(a.classes_, b.classes_)
        np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "regression"])
def test_mlp_sample_weight_as_sklearn(kind, solver, rng):
    X, y = _problem(kind, rng)
    w = rng.uniform(0.2, 3.0, size=len(y))
    ours, theirs = ((MLPRegressor, sk_nn.MLPRegressor) if kind == "regression"
                    else (MLPClassifier, sk_nn.MLPClassifier))
    params = {"hidden_layer_sizes": (6,), "solver": solver, "max_iter": 6, "random_state": 1,
              "early_stopping": solver == "sgd", "validation_fraction": 0.25}
    a = _quiet(lambda: ours(dtype="float64", **params).fit(X, y, sample_weight=w))
    b = _quiet(lambda: theirs(**params).fit(X, y, sample_weight=w))
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(a.loss_, b.loss_, rtol=1e-8)
    if solver == "sgd":
        np.testing.assert_allclose(a.validation_scores_, b.validation_scores_)


@pytest.mark.parametrize("extra", [
    {"solver": "sgd", "learning_rate": "adaptive", "n_iter_no_change": 2, "tol": 0.5},
    {"solver": "sgd", "learning_rate": "invscaling", "nesterovs_momentum": False},
    {"solver": "adam", "early_stopping": True, "validation_fraction": 0.2, "n_iter_no_change": 3},
    {"solver": "sgd", "early_stopping": True, "activation": "logistic", "shuffle": False},
])
def test_mlp_schedules_and_early_stopping_as_sklearn(extra, rng):
    X, y = _problem("binary", rng)
    params = {"hidden_layer_sizes": (6,), "max_iter": 40, "random_state": 0, "learning_rate_init": 0.05}
    a = _quiet(lambda: MLPClassifier(dtype="float64", **params, **extra).fit(X, y))
    b = _quiet(lambda: sk_nn.MLPClassifier(**params, **extra).fit(X, y))
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-8)
    assert a.n_iter_ == b.n_iter_
    if extra.get("early_stopping"):
        np.testing.assert_allclose(a.validation_scores_, b.validation_scores_)
        assert a.best_validation_score_ == b.best_validation_score_ and a.best_loss_ is None
        np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-6, atol=1e-9)  # the best weights
    else:
        assert a.validation_scores_ is None and a.best_validation_score_ is None


def test_mlp_partial_fit_as_sklearn(rng):
    X, y = _problem("multiclass", rng)
    a = MLPClassifier(hidden_layer_sizes=(5,), random_state=0, dtype="float64")
    b = sk_nn.MLPClassifier(hidden_layer_sizes=(5,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y)
    for _ in range(3):
        a.partial_fit(X, y, classes=[0, 1, 2])
        b.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-9)
    assert a.n_iter_ == 1 and a.t_ == 3 * len(X)
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=[0, 1, 2])
    assert "only available for stochastic optimizers" in str(info.value.__cause__)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, X[:, 0])


def test_mlp_warm_start_continues(rng):
    X, y = _problem("regression", rng)
    reg = _quiet(lambda: MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, warm_start=True,
                                      random_state=0).fit(X, y))
    first = reg.coefs_[0].copy()
    _quiet(lambda: reg.fit(X, y))
    assert len(reg.loss_curve_) == 10 and not np.allclose(first, reg.coefs_[0])
    with pytest.raises(ValueError, match="same classes"):
        clf = _quiet(lambda: MLPClassifier(max_iter=2, warm_start=True).fit(X, y > 0))
        clf.fit(X, np.digitize(y, [-1, 1]))


def test_mlp_float32_by_default_and_float64_on_request(rng):
    X, y = _problem("multiclass", rng)
    clf = _quiet(lambda: MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y))
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X).dtype == np.float32
    clf64 = _quiet(lambda: MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0,
                                         dtype="float64").fit(X.astype(np.float32), y))
    assert clf64.coefs_[0].dtype == np.float64
    np.testing.assert_allclose(clf.loss_curve_, clf64.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(clf.predict_proba(X), clf64.predict_proba(X), atol=1e-4)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "regression"])
def test_mlp_loss_gradient_passes_gradcheck(kind, rng):
    """The loss the solvers differentiate, checked by central differences."""
    X, y = _problem(kind, rng)
    X, y = X[:10], y[:10]
    Est = MLPRegressor if kind == "regression" else MLPClassifier
    est = _quiet(lambda: Est(hidden_layer_sizes=(4,), activation="tanh", alpha=0.1, max_iter=1,
                             dtype="float64", random_state=0).fit(X, y))
    Y = np.eye(3)[y] if kind == "multiclass" else y.reshape(10, -1).astype(np.float64)
    x = cr.Tensor(X)

    def loss(*params):
        est._params = list(params)
        return est._loss(x, Y)[0]
    inputs = [cr.tensor(p, dtype="float64", requires_grad=True) for p in est.coefs_ + est.intercepts_]
    assert cr.gradcheck(loss, *inputs)


def test_mlp_log_loss_value_clips_like_sklearn():
    """Saturated logits: the reported loss uses probabilities clipped to eps."""
    X = np.array([[1.0], [-1.0]])
    clf = _quiet(lambda: MLPClassifier(hidden_layer_sizes=(1,), activation="identity", alpha=0,
                                       max_iter=1, dtype="float64", random_state=0).fit(X, [1, 0]))
    clf._params = [cr.Tensor(np.array([[1000.0]])), cr.Tensor(np.array([[1.0]])),
                   cr.Tensor(np.zeros(1)), cr.Tensor(np.zeros(1))]
    # z = 1000·x. Both labels are 1: sample 1 is right (p = 1 − eps after
    # clipping), sample 2 is as wrong as can be (p = e^-1000, clipped to eps).
    loss, value = clf._loss(cr.Tensor(X), np.array([[1.0], [1.0]]))
    eps = np.finfo(float).eps
    assert float(loss.data) == pytest.approx(1000 / 2)          # the unclipped loss it differentiates
    assert value == pytest.approx((-np.log(eps) - np.log1p(-eps)) / 2)


def test_mlp_convergence_warnings(rng):
    X, y = _problem("binary", rng)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        MLPClassifier(max_iter=2).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier(solver="lbfgs", max_iter=2).fit(X, y)


@pytest.mark.parametrize("params, match", [
    ({"solver": "newton"}, "'solver' parameter of MLPClassifier must be a str among"),
    ({"activation": "gelu"}, "'activation' parameter"),
    ({"hidden_layer_sizes": (10, 0)}, r"hidden_layer_sizes must be > 0, got \[10, 0\]"),
    ({"dtype": "float16"}, "'dtype' parameter of MLPClassifier"),
    ({"learning_rate_init": 0}, "'learning_rate_init' parameter"),
])
def test_mlp_bad_parameters_are_named(params, match, rng):
    X, y = _problem("binary", rng)
    est = MLPClassifier(**params)
    assert est.get_params()[next(iter(params))] is params[next(iter(params))]  # stored as given
    with pytest.raises((InvalidParameterError, ValueError), match=match):
        est.fit(X, y)


# --------------------------------------------------------------------------
# scikit-learn's machinery: Pipeline, GridSearchCV, pickle
# --------------------------------------------------------------------------
def test_pipeline_gridsearch_and_pickle(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=15, learning_rate_init=0.01, random_state=0))
    search = _quiet(lambda: GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (32,)]},
                                         cv=2).fit(X_train, y_train))
    assert search.best_params_ == {"mlpclassifier__hidden_layer_sizes": (32,)}
    assert search.score(X_test, y_test) > 0.9
    for est in [search.best_estimator_,
                _quiet(lambda: MLPRegressor(max_iter=5).fit(X_train, y_train.astype(float))),
                Perceptron().fit(X_train, y_train), LogisticRegression().fit(X_train, y_train),
                LinearRegression().fit(X_train, y_train)]:
        clone = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(clone.predict(X_test), est.predict(X_test))
    # An unpickled MLP keeps training where the original would (optimizer state included).
    mlp = search.best_estimator_[-1]
    clone = pickle.loads(pickle.dumps(mlp))
    X_scaled = search.best_estimator_[0].transform(X_train)
    mlp.partial_fit(X_scaled, y_train)
    clone.partial_fit(X_scaled, y_train)
    np.testing.assert_array_equal(clone.coefs_[0], mlp.coefs_[0])
    assert clone.loss_curve_ == mlp.loss_curve_


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_digits_accuracy_within_one_point_of_sklearn(solver, digits):
    X_train, X_test, y_train, y_test = digits
    lbfgs = solver == "lbfgs"
    params = {"hidden_layer_sizes": (32,) if lbfgs else (64,), "solver": solver,
                  "max_iter": 30 if lbfgs else 60, "random_state": 0,
                  "learning_rate_init": 0.1 if solver == "sgd" else 0.001}
    ours = _quiet(lambda: MLPClassifier(**params).fit(X_train, y_train)).score(X_test, y_test)
    theirs = _quiet(lambda: sk_nn.MLPClassifier(**params).fit(X_train, y_train)).score(X_test, y_test)
    assert theirs > 0.9
    assert abs(ours - theirs) <= 0.01


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_mnist_accuracy_within_one_point_of_sklearn(solver):
    with np.load(MNIST) as data:
        X_train = data["x_train"].reshape(60000, -1) / 255.0
        X_test = data["x_test"].reshape(10000, -1) / 255.0
        y_train, y_test = data["y_train"], data["y_test"]
    params = {"hidden_layer_sizes": (256,) if solver != "lbfgs" else (64,), "solver": solver,
                  "max_iter": 10 if solver != "lbfgs" else 60, "random_state": 0,
                  "learning_rate_init": 0.1 if solver == "sgd" else 0.001}
    ours = _quiet(lambda: MLPClassifier(**params).fit(X_train, y_train)).score(X_test, y_test)
    theirs = _quiet(lambda: sk_nn.MLPClassifier(**params).fit(X_train, y_train)).score(X_test, y_test)
    assert theirs > 0.9
    assert abs(ours - theirs) <= 0.01


# --------------------------------------------------------------------------
# Perceptron
# --------------------------------------------------------------------------
def test_perceptron_update_rule_by_hand():
    # Labels −1/+1, eta0 = 0.5, in order: (0,1)→+1 (mistake at w=0: w = (0,.5), b = .5);
    # (2,0)→−1: margin −(0+.5) < 0, mistake: w = (−1,.5), b = 0; (1,1)→+1: 1·(−1+.5) < 0,
    # mistake: w = (−.5, 1), b = .5.
    X = np.array([[0.0, 1.0], [2.0, 0.0], [1.0, 1.0]])
    p = Perceptron(eta0=0.5, max_iter=1, shuffle=False, tol=None).fit(X, [1, -1, 1])
    np.testing.assert_allclose(p.coef_, [[-0.5, 1.0]])
    np.testing.assert_allclose(p.intercept_, [0.5])


@pytest.mark.parametrize("data", ["iris", "digits"])
def test_perceptron_is_sklearns_without_shuffling(data):
    X, y = load_iris() if data == "iris" else load_digits()
    params = {"shuffle": False, "max_iter": 30, "eta0": 0.7}
    a = _quiet(lambda: Perceptron(**params).fit(X, y))
    b = _quiet(lambda: sk_linear.Perceptron(**params).fit(X, y))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-10, atol=1e-10)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_perceptron_separates_separable_data(rng):
    X = rng.normal(size=(200, 2))
    y = np.where(X @ [1.0, -2.0] + 0.3 > 0, 1, -1)
    clf = Perceptron(random_state=1, tol=None, max_iter=200).fit(X, y)
    assert clf.score(X, y) == 1.0                 # the perceptron convergence theorem
    clf2 = Perceptron().partial_fit(X, y, classes=[-1, 1]).partial_fit(X, y)
    assert clf2.score(X, y) > 0.9


def test_perceptron_unsupported_options_say_so(rng):
    X, y = rng.normal(size=(10, 2)), np.arange(10) % 2
    with pytest.raises(ValueError, match="penalty=None only"):
        Perceptron(penalty="l2").fit(X, y)
    with pytest.raises(ValueError, match="does not support early_stopping=True"):
        Perceptron(early_stopping=True).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'eta0' parameter"):
        Perceptron(eta0=-1).fit(X, y)


# --------------------------------------------------------------------------
# Logistic regression
# --------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {}, {"C": 0.05}, {"C": np.inf}, {"fit_intercept": False}, {"class_weight": "balanced"},
])
@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_logistic_regression_reaches_sklearns_solution(params, data):
    X, y = load_iris()
    X = StandardScaler().fit_transform(X)
    if data == "binary":
        y = np.where(y == 2, "virginica", "other")
    if params.get("C") == np.inf:
        X = X[:, :2]                                 # keep the unpenalized problem bounded
    a = _quiet(lambda: LogisticRegression(tol=1e-10, max_iter=2000, **params).fit(X, y))
    b = _quiet(lambda: sk_linear.LogisticRegression(tol=1e-10, max_iter=2000, **params).fit(X, y))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-4)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), rtol=1e-3, atol=1e-3)
    assert a.n_iter_.shape == (1,) and a.coef_.shape == b.coef_.shape


def test_logistic_regression_sample_weight_and_extremes(rng):
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    w = rng.uniform(0.5, 2, size=60)
    a = LogisticRegression(tol=1e-10, max_iter=1000).fit(X, y, sample_weight=w)
    b = sk_linear.LogisticRegression(tol=1e-10, max_iter=1000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-4)
    far = np.array([[1000.0, 0, 0], [-1000.0, 0, 0]])
    proba, log_proba = a.predict_proba(far), a.predict_log_proba(far)
    assert np.isfinite(log_proba).all() and np.all(proba.argmax(axis=1) == [1, 0])
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    with pytest.raises(ValueError, match="L2 penalty only"):
        LogisticRegression(l1_ratio=0.5).fit(X, y)
    with pytest.raises(ValueError, match="solver='lbfgs' only"):
        LogisticRegression(solver="saga").fit(X, y)


# --------------------------------------------------------------------------
# Linear regression
# --------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["svd", "qr", "normal", "cholesky"])
def test_linear_regression_matches_sklearn(solver, rng):
    X, y = load_diabetes()
    Y = np.column_stack([y, y * 0.5 + X[:, 0]])
    w = rng.uniform(0.1, 3, size=len(y))
    for target, weight, intercept in [(y, None, True), (Y, None, True), (y, w, True), (Y, w, False)]:
        a = LinearRegression(solver=solver, fit_intercept=intercept).fit(X, target, sample_weight=weight)
        b = sk_linear.LinearRegression(fit_intercept=intercept).fit(X, target, sample_weight=weight)
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-7, atol=1e-6)
        np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-7, atol=1e-6)
        np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-7, atol=1e-6)


def test_linear_regression_rank_deficient(rng):
    X = rng.normal(size=(30, 3))
    X = np.column_stack([X, X[:, 0] + X[:, 1]])              # a dependent column
    y = X @ [1.0, 2.0, 3.0, 0.0] + 0.1
    b = sk_linear.LinearRegression().fit(X, y)
    np.testing.assert_allclose(LinearRegression().fit(X, y).coef_, b.coef_, atol=1e-8)  # min-norm
    with pytest.warns(UserWarning, match="Falling back to solver='svd'"):
        a = LinearRegression(solver="qr").fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
    with pytest.raises(ValueError, match="does not support positive=True"):
        LinearRegression(positive=True).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'solver' parameter of LinearRegression"):
        LinearRegression(solver="lu").fit(X, y)
