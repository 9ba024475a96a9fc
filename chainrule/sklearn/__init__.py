"""scikit-learn estimators trained by chainrule's engine.

Drop-in replacements for scikit-learn's estimators of the same names: the
same parameters and defaults, the same fitted attributes, and they pass
scikit-learn's own estimator checks, so they work in ``Pipeline`` and
``GridSearchCV``. The forward passes are chainrule ops and the gradients come
from chainrule's autodiff; scikit-learn supplies only the conventions
(``BaseEstimator``, input validation, label binarizing).

>>> from chainrule.sklearn import MLPClassifier
>>> from chainrule.datasets import load_digits
>>> X, y = load_digits()
>>> clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=30, random_state=0).fit(X / 16, y)
>>> clf.score(X / 16, y) > 0.95
True

scikit-learn is an optional extra: ``pip install chainrule[sklearn]``.
"""
try:
    import sklearn  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "chainrule.sklearn needs scikit-learn, which is not installed. "
        "Install it with `pip install chainrule[sklearn]` (or `pip install scikit-learn`)."
    ) from e

from .linear import LinearRegression, LogisticRegression, Perceptron
from .mlp import MLPClassifier, MLPRegressor

__all__ = [
    "LinearRegression",
    "LogisticRegression",
    "MLPClassifier",
    "MLPRegressor",
    "Perceptron",
]
