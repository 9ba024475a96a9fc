"""Metrics: per-sample functions and stateful objects against hand-computed
values and scikit-learn, accumulation over batches, Keras' resolution of
"accuracy", and error messages."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import metrics


@pytest.fixture
def scores(rng):
    """Binary labels and overlapping scores in [0, 1]."""
    y = rng.integers(0, 2, size=500)
    p = np.clip(rng.normal(0.5 + 0.25 * (y - 0.5), 0.2), 0, 1)
    return y, p


# --------------------------------------------------------------------------
# Per-sample functions
# --------------------------------------------------------------------------
def test_accuracy_functions_by_hand():
    # argmax rows: [1, 1, 0]; labels [1, 2, 0] -> right, wrong, right.
    y_pred = np.array([[0.1, 0.8, 0.1], [0.3, 0.4, 0.3], [0.9, 0.05, 0.05]])
    out = metrics.sparse_categorical_accuracy([1, 2, 0], y_pred)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1, 0, 1])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy([[1], [2], [0]], y_pred), [1, 0, 1])
    np.testing.assert_array_equal(metrics.categorical_accuracy(np.eye(3)[[1, 2, 0]], y_pred), [1, 0, 1])
    # Strictly above the threshold counts as 1: 0.5 is a 0.
    np.testing.assert_array_equal(metrics.binary_accuracy([[1], [0], [0], [1]], [[0.7], [0.5], [0.2], [0.4]]),
                                  [1, 1, 1, 0])
    np.testing.assert_array_equal(metrics.binary_accuracy([1, 1], [0.7, 0.7], threshold=0.8), [0, 0])
    # Several outputs per sample: the mean over the last axis.
    np.testing.assert_allclose(metrics.binary_accuracy([[1, 0], [1, 1]], [[0.9, 0.9], [0.9, 0.9]]), [0.5, 1.0])
    np.testing.assert_array_equal(metrics.accuracy([[1], [2], [3]], [[1], [0], [3]]), [1, 0, 1])


def test_regression_functions_by_hand():
    y_true, y_pred = np.array([[0.0, 1.0], [2.0, 2.0]]), np.array([[1.0, 1.0], [0.0, 3.0]])
    np.testing.assert_allclose(metrics.mean_squared_error(y_true, y_pred), [0.5, 2.5])
    np.testing.assert_allclose(metrics.mse(y_true, y_pred), [0.5, 2.5])
    np.testing.assert_allclose(metrics.mean_absolute_error(y_true, y_pred), [0.5, 1.5])
    np.testing.assert_allclose(metrics.mae(y_true, y_pred), [0.5, 1.5])


def test_metrics_accept_tensors_and_record_nothing():
    y_pred = cr.tensor([[0.2, 0.8], [0.6, 0.4]], requires_grad=True)
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(cr.tensor([1, 1]), y_pred)
    assert m.result() == 0.5
    assert isinstance(metrics.categorical_accuracy(cr.tensor([[0, 1], [1, 0]]), y_pred), np.ndarray)
    assert y_pred.grad is None


# --------------------------------------------------------------------------
# Stateful metrics: weights, accumulation, reset
# --------------------------------------------------------------------------
def test_mean_weights_and_accumulates():
    m = metrics.Mean()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == 2.0
    m.update_state([10.0])                     # (1 + 3 + 10) / 3
    assert m.result() == pytest.approx(14 / 3)
    m.reset_state()
    assert m.result() == 0.0
    m.update_state(np.array([[1.0, 3.0], [5.0, 7.0]]))   # per-sample means 2 and 6
    assert m.result() == 4.0 and m.count == 2


def test_wrappers_accumulate_across_batches_like_one_big_batch(rng):
    y = rng.integers(0, 5, size=90)
    p = rng.random((90, 5))
    w = rng.random(90)
    one = metrics.SparseCategoricalAccuracy()
    one.update_state(y, p, sample_weight=w)
    split = metrics.SparseCategoricalAccuracy()
    for lo in range(0, 90, 32):
        split.update_state(y[lo:lo + 32], p[lo:lo + 32], sample_weight=w[lo:lo + 32])
    hits = (p.argmax(1) == y)
    assert one.result() == pytest.approx((w * hits).sum() / w.sum())
    assert split.result() == pytest.approx(one.result())
    split.reset_state()
    split.update_state(y[:10], p[:10])
    assert split.result() == pytest.approx(hits[:10].mean())


def test_keras_documented_examples():
    # The examples of the Keras 3 docstrings.
    assert metrics.Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]]) == 0.75
    m = metrics.BinaryAccuracy()
    assert m([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]) == 0.75
    m.reset_state()
    assert m([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], sample_weight=[1, 0, 0, 1]) == 0.5
    m = metrics.CategoricalAccuracy()
    assert m([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
             sample_weight=[0.7, 0.3]) == pytest.approx(0.3)
    m = metrics.SparseCategoricalAccuracy()
    assert m([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]) == 0.5
    m = metrics.MeanSquaredError()
    assert m([[0, 1], [0, 0]], [[1, 1], [0, 0]]) == 0.25
    m = metrics.MeanAbsoluteError()
    assert m([[0, 1], [0, 0]], [[1, 1], [0, 0]]) == 0.25


def test_names_and_configs():
    assert [m().name for m in (metrics.Accuracy, metrics.BinaryAccuracy, metrics.CategoricalAccuracy,
                               metrics.SparseCategoricalAccuracy, metrics.MeanSquaredError,
                               metrics.MeanAbsoluteError, metrics.AUC, metrics.Precision,
                               metrics.Recall, metrics.Mean)] == [
        "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
        "mean_squared_error", "mean_absolute_error", "auc", "precision", "recall", "mean"]
    assert metrics.BinaryAccuracy(threshold=0.3).get_config() == {"name": "binary_accuracy", "threshold": 0.3}
    auc = metrics.AUC(num_thresholds=50, curve="PR")
    again = metrics.deserialize(metrics.serialize(auc))
    assert type(again) is metrics.AUC and again.get_config() == auc.get_config()
    acc = metrics.get("accuracy", loss="categorical_crossentropy")
    again = metrics.deserialize(metrics.serialize(acc))
    assert again.name == "accuracy" and again.fn is metrics.categorical_accuracy


# --------------------------------------------------------------------------
# AUC, precision, recall
# --------------------------------------------------------------------------
def test_auc_by_hand_with_three_thresholds():
    # Thresholds (-1e-7, 0.5, 1 + 1e-7). Labels 0, 1, 1, 0 with scores
    # 0.2, 0.7, 0.4, 0.9: at 0.5 the scores above are 0.7 (a positive) and
    # 0.9 (a negative), so TPR = 1/2 and FPR = 1/2 there. The ROC points are
    # (1, 1), (1/2, 1/2), (0, 0); trapezoids: 1/2·(1+1/2)/2 + 1/2·(1/2)/2 = 1/2.
    auc = metrics.AUC(num_thresholds=3)
    auc.update_state([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.9])
    np.testing.assert_allclose(auc.true_positives, [2, 1, 0])
    np.testing.assert_allclose(auc.false_positives, [2, 1, 0])
    assert auc.result() == pytest.approx(0.5)
    # Minoring and majoring take the lower / upper step: 1/4 and 3/4.
    for method, expected in (("minoring", 0.25), ("majoring", 0.75)):
        m = metrics.AUC(num_thresholds=3, summation_method=method)
        m.update_state([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.9])
        assert m.result() == pytest.approx(expected)


def test_auc_matches_scikit_learn(scores, rng):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    y, p = scores
    auc = metrics.AUC()
    auc.update_state(y, p)
    assert auc.result() == pytest.approx(sklearn_metrics.roc_auc_score(y, p), abs=1e-2)
    # Batches accumulate to the same counts.
    split = metrics.AUC()
    for lo in range(0, len(y), 64):
        split.update_state(y[lo:lo + 64, None], p[lo:lo + 64, None])
    assert split.result() == pytest.approx(auc.result(), abs=1e-12)
    # Weighted.
    w = rng.random(len(y))
    weighted = metrics.AUC()
    weighted.update_state(y, p, sample_weight=w)
    assert weighted.result() == pytest.approx(sklearn_metrics.roc_auc_score(y, p, sample_weight=w), abs=1e-2)
    # From logits: the sigmoid is applied first.
    logits = metrics.AUC(from_logits=True)
    logits.update_state(y, np.log(p + 1e-9) - np.log1p(-p + 1e-9))
    assert logits.result() == pytest.approx(sklearn_metrics.roc_auc_score(y, p), abs=1e-2)
    # The PR curve against average precision (a step rule, so looser).
    pr = metrics.AUC(curve="PR")
    pr.update_state(y, p)
    assert pr.result() == pytest.approx(sklearn_metrics.average_precision_score(y, p), abs=2e-2)
    auc.reset_state()
    assert auc.result() == 0.0 and auc.true_positives.sum() == 0


def test_perfect_and_reversed_rankings_give_auc_1_and_0():
    auc = metrics.AUC()
    auc.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert auc.result() == pytest.approx(1.0)
    auc.reset_state()
    auc.update_state([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])
    assert auc.result() == pytest.approx(0.0)


def test_precision_and_recall_match_scikit_learn(scores, rng):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    y, p = scores
    w = rng.random(len(y))
    predicted = (p > 0.5).astype(int)
    for cls, sk in ((metrics.Precision, sklearn_metrics.precision_score),
                    (metrics.Recall, sklearn_metrics.recall_score)):
        m = cls()
        for lo in range(0, len(y), 100):
            m.update_state(y[lo:lo + 100], p[lo:lo + 100])
        assert m.result() == pytest.approx(sk(y, predicted))
        m.reset_state()
        m.update_state(y, p, sample_weight=w)
        assert m.result() == pytest.approx(sk(y, predicted, sample_weight=w))
    # Another threshold.
    m = metrics.Precision(thresholds=0.7)
    m.update_state(y, p)
    assert m.result() == pytest.approx(sklearn_metrics.precision_score(y, (p > 0.7).astype(int)))


def test_precision_recall_by_hand_and_without_positives():
    # Scores > 0.5 are predicted positive: [1, 0, 1, 1] against labels [0, 1, 1, 1].
    assert metrics.Precision()([0, 1, 1, 1], [0.9, 0.2, 0.6, 0.7]) == pytest.approx(2 / 3)
    assert metrics.Recall()([0, 1, 1, 1], [0.9, 0.2, 0.6, 0.7]) == pytest.approx(2 / 3)
    # Nothing predicted positive: 0, as Keras' divide_no_nan.
    assert metrics.Precision()([1, 0], [0.1, 0.2]) == 0.0
    assert metrics.Recall()([0, 0], [0.9, 0.2]) == 0.0


# --------------------------------------------------------------------------
# get() and the "accuracy" resolution
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, expected", [
    ({"loss": "sparse_categorical_crossentropy"}, "sparse_categorical_accuracy"),
    ({"loss": cr.losses.SparseCategoricalCrossentropy(from_logits=True)}, "sparse_categorical_accuracy"),
    ({"loss": "binary_crossentropy"}, "binary_accuracy"),
    ({"loss": cr.losses.BinaryCrossentropy()}, "binary_accuracy"),
    ({"loss": "categorical_crossentropy"}, "categorical_accuracy"),
    # From shapes (Keras 3): labels with one axis fewer, or a last axis of 1.
    ({"y_true": np.zeros(8), "y_pred": np.zeros((8, 10))}, "sparse_categorical_accuracy"),
    ({"y_true": np.zeros((8, 1)), "y_pred": np.zeros((8, 10))}, "sparse_categorical_accuracy"),
    ({"y_true": np.zeros((8, 10)), "y_pred": np.zeros((8, 10))}, "categorical_accuracy"),
    ({"y_true": np.zeros((8, 1)), "y_pred": np.zeros((8, 1))}, "binary_accuracy"),
    ({"y_true": (8,), "y_pred": (8, 1)}, "binary_accuracy"),
    ({"loss": "mse", "y_pred": (8, 1)}, "binary_accuracy"),
])
def test_accuracy_resolves_as_keras(kwargs, expected):
    for name in ("accuracy", "acc"):
        m = metrics.get(name, **kwargs)
        assert m.fn.__name__ == expected
        assert m.name == name


def test_accuracy_without_hints_resolves_on_the_first_batch():
    m = metrics.get("accuracy")
    assert m.name == "accuracy" and m.kind is None
    m.update_state([2, 0], np.array([[0.1, 0.2, 0.7], [0.3, 0.4, 0.3]]))
    assert m.kind == "sparse_categorical" and m.result() == 0.5
    b = metrics.get("accuracy", loss="mse")
    b.update_state([[1], [0]], [[0.9], [0.8]])
    assert b.kind == "binary" and b.result() == 0.5
    c = metrics.get("accuracy")
    c.update_state(np.eye(3), np.eye(3)[[0, 2, 2]])
    assert c.kind == "categorical" and c.result() == pytest.approx(2 / 3)


def test_get_other_identifiers():
    assert type(metrics.get("mse")) is metrics.MeanSquaredError and metrics.get("mse").name == "mse"
    assert type(metrics.get("mae")) is metrics.MeanAbsoluteError
    assert type(metrics.get("auc")) is metrics.AUC
    assert type(metrics.get("precision")) is metrics.Precision
    assert type(metrics.get("recall")) is metrics.Recall
    assert type(metrics.get("AUC")) is metrics.AUC and metrics.get("AUC").name == "auc"
    obj = metrics.Recall(thresholds=0.3)
    assert metrics.get(obj) is obj

    def within_one(y_true, y_pred):
        return (np.abs(np.asarray(y_true) - np.asarray(y_pred)) <= 1).astype(float)
    m = metrics.get(within_one)
    assert m.name == "within_one"
    assert m([1, 2, 3, 4], [1, 4, 3, 0]) == 0.5
    assert metrics.get(None) is None


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------
def test_errors_name_what_was_wrong():
    with pytest.raises(ValueError, match=r"unknown metric 'accuracyy'"):
        metrics.get("accuracyy")
    with pytest.raises(TypeError, match="cannot interpret 5 as a metric"):
        metrics.get(5)
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\), got 1.5"):
        metrics.BinaryAccuracy(threshold=1.5)
    with pytest.raises(ValueError, match="curve must be 'ROC' or 'PR'"):
        metrics.AUC(curve="DET")
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*from_logits=True"):
        metrics.AUC().update_state([0, 1], [-2.0, 3.0])
    with pytest.raises(ValueError, match=r"y_true has shape \(3,\) but y_pred has shape \(2, 4\)"):
        metrics.sparse_categorical_accuracy([0, 1, 2], np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\).*sparse_categorical_accuracy"):
        metrics.categorical_accuracy(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"sample_weight has shape \(3,\)"):
        metrics.Mean().update_state([1.0, 2.0], sample_weight=[1, 2, 3])
