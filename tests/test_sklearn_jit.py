"""The scikit-learn MLPs' compiled training step (``cr.jit``) against the eager one.

``MLPClassifier`` and ``MLPRegressor`` run their sgd/adam step through
``cr.jit`` (``_BaseMLP._jit = True``); the eager step is the reference. In
float64 both must give the same weights and loss curve to 1e-12, with early
stopping, Nesterov momentum, every output activation, and a partial last batch
(a second batch size, so a second trace).
"""
import copy
import pickle
import warnings

import numpy as np
import pytest

from chainrule.sklearn import MLPClassifier, MLPRegressor

TOL = 1e-12


def _data(n=203, features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features))
    return X, rng


def _fit(make, X, y, jit, min_steps=0, **fit_kw):
    """Fit with the compiled (jit=True; however few the steps, unless
    ``min_steps`` says otherwise) or eager step; ``model.loss_terms_calls``
    counts the Python runs of the loss code (compiled: once per trace)."""
    model = make()
    model._jit = jit
    model._jit_min_steps = min_steps if min_steps is not None else model._jit_min_steps
    model.loss_terms_calls = 0
    loss_terms = model._loss_terms

    def counting(*args, **kwargs):
        model.loss_terms_calls += 1
        return loss_terms(*args, **kwargs)
    model._loss_terms = counting
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # ConvergenceWarning: few epochs on purpose
        model.fit(X, y, **fit_kw)
    return model


def _assert_same(compiled, eager, tol=TOL):
    for a, b in zip(compiled.coefs_ + compiled.intercepts_, eager.coefs_ + eager.intercepts_):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)
    np.testing.assert_allclose(compiled.loss_curve_, eager.loss_curve_, rtol=tol, atol=0)
    assert compiled.n_iter_ == eager.n_iter_ and compiled.t_ == eager.t_
    if eager.validation_scores_ is not None:
        np.testing.assert_allclose(compiled.validation_scores_, eager.validation_scores_,
                                   rtol=0, atol=tol)


def _targets(kind, X, rng):
    if kind == "multiclass":
        return (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    if kind == "binary":
        return np.where(X[:, 0] + X[:, 2] > 0, "yes", "no")
    if kind == "multilabel":
        return np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 0], axis=1).astype(int)
    if kind == "poisson":
        return rng.poisson(np.exp(0.5 * X[:, 0]))
    return 2 * X[:, 0] + X[:, 1] ** 2 + 0.1 * rng.standard_normal(len(X))


CASES = [
    (MLPClassifier, "multiclass", {}),
    (MLPClassifier, "binary", {}),
    (MLPClassifier, "multilabel", {}),
    (MLPRegressor, "squared_error", {}),
    (MLPRegressor, "poisson", {"loss": "poisson"}),
]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("cls,kind,extra", CASES, ids=[c[1] for c in CASES])
def test_compiled_step_matches_eager_in_float64(cls, kind, extra, solver):
    X, rng = _data()
    y = _targets(kind, X, rng)
    # 203 samples, 10% held out: 182 to train in batches of 50 -> 50, 50, 50, 32
    make = lambda: cls(hidden_layer_sizes=(7, 6), solver=solver, batch_size=50, max_iter=12,
                       random_state=0, dtype="float64", early_stopping=True,
                       n_iter_no_change=30, alpha=1e-3, learning_rate_init=0.01, **extra)
    compiled, eager = _fit(make, X, y, True), _fit(make, X, y, False)
    _assert_same(compiled, eager)
    # the compiled path really ran: the loss code ran once per trace, one trace
    # per batch size (50 and the last 32); the eager path runs it every step
    assert compiled.loss_terms_calls == 2
    assert eager.loss_terms_calls == 4 * eager.n_iter_
    assert "_jit_step" not in eager.__dict__
    # and training did something (a test that two frozen runs agree proves nothing)
    assert compiled.loss_curve_[-1] < compiled.loss_curve_[0]


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_sgd_learning_rate_schedules_reach_the_compiled_step(learning_rate):
    """The schedules change the optimizer's rate between epochs; the compiled
    step reads it at every replay, as the eager one does."""
    X, rng = _data(160)
    y = _targets("squared_error", X, rng)
    make = lambda: MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", batch_size=40,
                                max_iter=15, learning_rate=learning_rate, n_iter_no_change=2,
                                tol=0.5, learning_rate_init=0.05, random_state=1,
                                dtype="float64")
    compiled, eager = _fit(make, X, y, True), _fit(make, X, y, False)
    _assert_same(compiled, eager)
    assert compiled._optimizer.learning_rate != 0.05          # the schedule did act


def test_float32_compiled_step_matches_eager():
    X, rng = _data(230)
    y = _targets("multiclass", X, rng)
    make = lambda: MLPClassifier(hidden_layer_sizes=(16,), batch_size=64, max_iter=8,
                                 random_state=0)
    compiled, eager = _fit(make, X, y, True), _fit(make, X, y, False)
    assert compiled.coefs_[0].dtype == np.float32
    _assert_same(compiled, eager, tol=1e-6)


def test_partial_fit_reuses_the_trace_and_matches_eager():
    X, rng = _data(120)
    y = _targets("multiclass", X, rng)
    models = {}
    for jit in (True, False):
        model = MLPClassifier(hidden_layer_sizes=(8,), batch_size=40, random_state=0,
                              dtype="float64")
        model._jit = jit
        for _ in range(4):
            model.partial_fit(X, y, classes=[0, 1, 2])
        models[jit] = model
    _assert_same(models[True], models[False])
    first = models[True]._jit_step[-1]
    traces = first.traces
    for model in models.values():
        model.partial_fit(X, y)
    assert models[True]._jit_step[-1] is first and first.traces == traces   # no new trace
    # a setting the trace reads changes: a new trace, still the eager result
    for model in models.values():
        model.set_params(alpha=0.5)
        model.partial_fit(X, y)
    assert models[True]._jit_step[-1] is not first
    _assert_same(models[True], models[False])


def test_sample_weight_runs_the_eager_step():
    """With sample weights the batch's Σw is a Python number of the step, so
    the estimator keeps the eager step (it would be a constant of a trace)."""
    X, rng = _data(100)
    y = _targets("multiclass", X, rng)
    w = rng.uniform(0.5, 2.0, len(X))
    make = lambda: MLPClassifier(hidden_layer_sizes=(8,), batch_size=30, max_iter=5,
                                 random_state=0, dtype="float64")
    compiled, eager = _fit(make, X, y, True, sample_weight=w), _fit(make, X, y, False,
                                                                    sample_weight=w)
    assert "_jit_step" not in compiled.__dict__
    _assert_same(compiled, eager)


def test_a_fitted_compiled_estimator_pickles_and_trains_on():
    X, rng = _data(100)
    y = _targets("multiclass", X, rng)
    model = MLPClassifier(hidden_layer_sizes=(8,), batch_size=50, max_iter=20,
                          random_state=0, dtype="float64")
    model._jit_min_steps = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    step = model._jit_step
    clone = pickle.loads(pickle.dumps(model))
    assert "_jit_step" not in clone.__dict__
    assert model._jit_step is step                 # pickling left the original's trace alone
    copied = copy.deepcopy(model)
    assert "_jit_step" not in copied.__dict__ and model._jit_step is step
    np.testing.assert_array_equal(copied.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(clone.predict_proba(X), model.predict_proba(X))
    model.partial_fit(X, y)
    clone.partial_fit(X, y)
    _assert_same(clone, model)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimators_fitting_in_threads_get_their_own_results():
    """Fits running at once in threads (joblib's threading backend, a grid
    search's n_jobs) trace and replay each its own step: the weights of each
    equal the same fit run alone."""
    import threading
    X, rng = _data(240, features=6)
    y = _targets("multiclass", X, rng)
    make = lambda seed: MLPClassifier(hidden_layer_sizes=(16,), batch_size=32, max_iter=6,
                                      random_state=seed, dtype="float64")
    alone = [_fit(lambda s=s: make(s), X, y, True) for s in range(4)]
    together = [None] * 4

    def work(i):
        together[i] = _fit(lambda: make(i), X, y, True)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(together, alone):
        _assert_same(a, b, tol=0)
    assert all("_jit_step" in m.__dict__ for m in together)


def test_a_short_fit_runs_eagerly():
    """A trace costs about 20 small eager steps: a fit of fewer than
    ``_jit_min_steps`` steps runs the eager step (same numbers, no trace)."""
    X, rng = _data(100)
    y = _targets("multiclass", X, rng)
    make = lambda epochs: MLPClassifier(hidden_layer_sizes=(8,), batch_size=50,
                                        max_iter=epochs, random_state=0, dtype="float64")
    short = _fit(lambda: make(MLPClassifier._jit_min_steps // 2 - 1), X, y, True, None)
    assert "_jit_step" not in short.__dict__ and short.loss_terms_calls == 2 * short.n_iter_
    long = _fit(lambda: make(MLPClassifier._jit_min_steps // 2), X, y, True, None)
    assert "_jit_step" in long.__dict__ and long.loss_terms_calls == 1
