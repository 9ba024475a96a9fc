"""Losses: values against NumPy formulas written here and against PyTorch,
logits against probabilities, Keras' clipping, stability at ±1000, gradients
(cr.gradcheck in float64), sample weights, lookup and error messages."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import losses

EPS = 1e-7


def softmax_np(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid_np(x):
    return 1 / (1 + np.exp(-x))


@pytest.fixture
def data(rng):
    n, c = 6, 4
    logits = rng.normal(size=(n, c)) * 2
    labels = rng.integers(0, c, size=n)
    onehot = np.eye(c)[labels]
    binary = rng.integers(0, 2, size=(n, 3)).astype(np.float64)
    return {"logits": logits, "probs": softmax_np(logits), "labels": labels, "onehot": onehot,
                "binary": binary, "bin_logits": rng.normal(size=(n, 3)) * 2,
                "y": rng.normal(size=(n, 3)), "y_pred": rng.normal(size=(n, 3))}


# --------------------------------------------------------------------------
# Values against NumPy formulas
# --------------------------------------------------------------------------
def test_sparse_and_categorical_crossentropy_match_numpy(data):
    p, labels, onehot = data["probs"], data["labels"], data["onehot"]
    expected = -np.log(np.clip(p, EPS, 1 - EPS)[np.arange(len(labels)), labels])
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, p).numpy(), expected)
    np.testing.assert_allclose(losses.categorical_crossentropy(onehot, p).numpy(), expected)
    assert float(losses.SparseCategoricalCrossentropy()(labels, p)) == pytest.approx(expected.mean())
    assert float(losses.CategoricalCrossentropy()(onehot, p)) == pytest.approx(expected.mean())


def test_categorical_crossentropy_renormalizes_probabilities_as_keras3():
    # Rows that do not sum to 1 are divided by their sum before the log.
    p = np.array([[0.2, 0.2, 0.4], [1.0, 3.0, 0.0]])
    y = np.array([[0, 0, 1], [0, 1, 0]])
    expected = -np.log(np.array([0.4 / 0.8, 3.0 / 4.0]))
    np.testing.assert_allclose(losses.categorical_crossentropy(y, p).numpy(), expected)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy([2, 1], p).numpy(), expected)


def test_binary_crossentropy_matches_numpy(data):
    y, x = data["binary"], data["bin_logits"]
    p = sigmoid_np(x)
    pc = np.clip(p, EPS, 1 - EPS)
    expected = -(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean(axis=-1)
    np.testing.assert_allclose(losses.binary_crossentropy(y, p).numpy(), expected)
    np.testing.assert_allclose(losses.binary_crossentropy(y, x, from_logits=True).numpy(),
                               expected, rtol=1e-6)
    assert float(losses.BinaryCrossentropy()(y, p)) == pytest.approx(expected.mean())


def test_regression_losses_match_numpy(data):
    y, yp = data["y"], data["y_pred"]
    e = yp - y
    np.testing.assert_allclose(losses.mean_squared_error(y, yp).numpy(), (e ** 2).mean(-1))
    np.testing.assert_allclose(losses.mse(y, yp).numpy(), (e ** 2).mean(-1))
    np.testing.assert_allclose(losses.mean_absolute_error(y, yp).numpy(), np.abs(e).mean(-1))
    np.testing.assert_allclose(losses.mae(y, yp).numpy(), np.abs(e).mean(-1))
    for delta in (0.5, 1.0, 2.0):
        expected = np.where(np.abs(e) <= delta, 0.5 * e ** 2, delta * np.abs(e) - 0.5 * delta ** 2)
        np.testing.assert_allclose(losses.huber(y, yp, delta).numpy(), expected.mean(-1))
        assert float(losses.Huber(delta)(y, yp)) == pytest.approx(expected.mean())
    assert float(losses.MeanSquaredError()(y, yp)) == pytest.approx((e ** 2).mean())
    assert float(losses.MeanAbsoluteError()(y, yp)) == pytest.approx(np.abs(e).mean())


def test_hinge_matches_numpy_and_converts_01_labels(data):
    yp = data["y_pred"]
    signs = np.where(data["binary"] > 0, 1.0, -1.0)
    expected = np.maximum(1 - signs * yp, 0).mean(-1)
    np.testing.assert_allclose(losses.hinge(signs, yp).numpy(), expected)
    # Keras turns {0, 1} labels into {-1, +1} first.
    np.testing.assert_allclose(losses.hinge(data["binary"], yp).numpy(), expected)
    assert float(losses.Hinge()(signs, yp)) == pytest.approx(expected.mean())


def test_label_smoothing_formulas(data):
    s = 0.2
    y, p = data["binary"], sigmoid_np(data["bin_logits"])
    ys = y * (1 - s) + 0.5 * s
    expected = -(ys * np.log(p) + (1 - ys) * np.log(1 - p)).mean(-1)
    np.testing.assert_allclose(losses.binary_crossentropy(y, p, label_smoothing=s).numpy(), expected)
    onehot, probs = data["onehot"], data["probs"]
    ys = onehot * (1 - s) + s / onehot.shape[1]
    expected = -(ys * np.log(probs)).sum(-1)
    np.testing.assert_allclose(
        losses.CategoricalCrossentropy(label_smoothing=s, reduction="none")(onehot, probs).numpy(),
        expected)


def test_keras_documented_values():
    # From the Keras docstrings (computed by Keras, checked by hand here).
    y_true, y_pred = [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    np.testing.assert_allclose(losses.categorical_crossentropy(y_true, y_pred).numpy(),
                               [-np.log(0.95), -np.log(0.1)], rtol=1e-6)
    assert float(losses.SparseCategoricalCrossentropy()([1, 2], y_pred)) == pytest.approx(1.177, abs=1e-3)
    assert float(losses.BinaryCrossentropy()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])) == \
        pytest.approx(0.815, abs=1e-3)


# --------------------------------------------------------------------------
# PyTorch as an oracle
# --------------------------------------------------------------------------
def test_losses_and_gradients_match_torch(data):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    def both(cr_loss, torch_loss, y_true, y_pred, torch_target=None):
        x = cr.tensor(y_pred, dtype="float64", requires_grad=True)
        value = cr_loss(y_true, x)
        value.backward()
        xt = torch.tensor(y_pred, dtype=torch.float64, requires_grad=True)
        target = torch.tensor(y_true if torch_target is None else torch_target)
        value_t = torch_loss(xt, target)
        value_t.backward()
        assert float(value) == pytest.approx(value_t.item(), rel=1e-10, abs=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)

    labels, logits, onehot = data["labels"], data["logits"], data["onehot"]
    both(losses.SparseCategoricalCrossentropy(from_logits=True), F.cross_entropy, labels, logits)
    both(losses.CategoricalCrossentropy(from_logits=True), F.cross_entropy, onehot, logits)
    both(losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
         lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1), onehot, logits,
         torch_target=labels)
    # Probabilities well inside (1e-7, 1 - 1e-7), where no clipping happens;
    # Keras 3 divides by the row sum first, which changes the gradient.
    both(losses.SparseCategoricalCrossentropy(),
         lambda p, t: F.nll_loss(torch.log(p / p.sum(-1, keepdim=True)), t), labels, data["probs"])
    y, x = data["binary"], data["bin_logits"]
    both(losses.BinaryCrossentropy(from_logits=True), F.binary_cross_entropy_with_logits, y, x)
    both(losses.BinaryCrossentropy(), F.binary_cross_entropy, y, sigmoid_np(x))
    both(losses.MeanSquaredError(), F.mse_loss, data["y"], data["y_pred"])
    both(losses.MeanAbsoluteError(), F.l1_loss, data["y"], data["y_pred"])
    both(losses.Huber(delta=0.7), lambda a, b: F.huber_loss(a, b, delta=0.7), data["y"], data["y_pred"])


# --------------------------------------------------------------------------
# Logits and probabilities; clipping; stability
# --------------------------------------------------------------------------
def test_from_logits_agrees_with_from_probabilities(data):
    logits, labels, onehot = data["logits"], data["labels"], data["onehot"]
    probs = cr.softmax(cr.tensor(logits)).numpy()
    for loss_fn, y in ((losses.sparse_categorical_crossentropy, labels),
                       (losses.categorical_crossentropy, onehot)):
        np.testing.assert_allclose(loss_fn(y, logits, from_logits=True).numpy(),
                                   loss_fn(y, probs).numpy(), rtol=1e-10)
    x, y = data["bin_logits"], data["binary"]
    np.testing.assert_allclose(losses.binary_crossentropy(y, x, from_logits=True).numpy(),
                               losses.binary_crossentropy(y, sigmoid_np(x)).numpy(), rtol=1e-10)


def test_probabilities_are_clipped_at_1e_7():
    # A probability of 0 for the true class costs -log(1e-7), not infinity.
    expected = -np.log(1e-7)
    assert float(losses.SparseCategoricalCrossentropy()([0], np.array([[0.0, 1.0]]))) == \
        pytest.approx(expected)
    assert float(losses.CategoricalCrossentropy()([[1, 0]], np.array([[0.0, 1.0]]))) == \
        pytest.approx(expected)
    assert float(losses.BinaryCrossentropy()([[1.0]], np.array([[0.0]]))) == pytest.approx(expected)
    # The other end: p = 1 is clipped to 1 - 1e-7, so log(1 - p) = log(1e-7).
    assert float(losses.BinaryCrossentropy()([[0.0]], np.array([[1.0]]))) == \
        pytest.approx(expected, rel=1e-6)
    # And a confident right answer costs -log(1 - 1e-7) ~ 1e-7, not 0.
    assert float(losses.BinaryCrossentropy()([[1.0]], np.array([[1.0]]))) == \
        pytest.approx(-np.log(1 - 1e-7), rel=1e-6)
    # float32 too: still finite and the same up to float32 rounding.
    value = float(losses.SparseCategoricalCrossentropy()([0], np.array([[0.0, 1.0]], np.float32)))
    assert value == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logit_losses_are_stable_at_1000(dtype):
    logits = cr.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]], dtype=dtype,
                       requires_grad=True)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)([1, 2], logits)
    # Exact values: logsumexp - picked = 1000 - (-1000) and 1000 + log(1 + e^-1) - 999.
    assert float(loss) == pytest.approx((2000.0 + 1.0 + np.log1p(np.exp(-1.0))) / 2, rel=1e-6)
    loss.backward()
    assert np.all(np.isfinite(logits.grad.numpy()))
    np.testing.assert_allclose(logits.grad.numpy()[0], np.array([1.0, -1.0, 0.0]) / 2, atol=1e-6)

    cce = losses.categorical_crossentropy(np.eye(3)[[1, 2]], logits, from_logits=True)
    np.testing.assert_allclose(cce.numpy(), [2000.0, 1.0 + np.log1p(np.exp(-1.0))], rtol=1e-6)

    x = cr.tensor([[1000.0], [-1000.0], [1000.0], [-1000.0]], dtype=dtype, requires_grad=True)
    bce = losses.binary_crossentropy([1, 0, 0, 1], x, from_logits=True)
    np.testing.assert_allclose(bce.numpy(), [0.0, 0.0, 1000.0, 1000.0], atol=1e-6)
    bce.sum().backward()
    np.testing.assert_allclose(x.grad.numpy().ravel(), [0.0, 0.0, 1.0, -1.0], atol=1e-6)


# --------------------------------------------------------------------------
# Gradients (float64 central differences)
# --------------------------------------------------------------------------
def test_gradients_pass_gradcheck(data):
    labels, onehot = data["labels"], data["onehot"]
    logits, probs = data["logits"], data["probs"]
    y, yp = data["y"], data["y_pred"]
    binary = data["binary"]
    sw = np.linspace(0.5, 2.0, len(labels))
    cases = [
        (lambda x: losses.SparseCategoricalCrossentropy(from_logits=True)(labels, x), logits),
        (lambda x: losses.SparseCategoricalCrossentropy(from_logits=True)(labels, x, sample_weight=sw), logits),
        (lambda x: losses.SparseCategoricalCrossentropy()(labels, x), probs),
        (lambda x: losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(onehot, x), logits),
        (lambda x: losses.CategoricalCrossentropy()(onehot, x), probs),
        (lambda x: losses.BinaryCrossentropy(from_logits=True)(binary, x), data["bin_logits"]),
        (lambda x: losses.BinaryCrossentropy(label_smoothing=0.1)(binary, x), sigmoid_np(data["bin_logits"])),
        (lambda x: losses.MeanSquaredError()(y, x), yp),
        (lambda x: losses.MeanAbsoluteError()(y, x), yp),
        (lambda x: losses.Huber(delta=0.8)(y, x), yp),
        (lambda x: losses.Hinge()(np.sign(y), x), yp),
        (lambda x: losses.softmax_cross_entropy(x, labels).sum(), logits),
    ]
    for f, x in cases:
        assert cr.gradcheck(f, x)


def test_fused_softmax_cross_entropy_has_correct_second_derivative(data):
    labels, logits = data["labels"][:2], data["logits"][:2]
    fused = cr.hessian(lambda x: losses.softmax_cross_entropy(x, labels).sum())(cr.tensor(logits))
    plain = cr.hessian(lambda x: -cr.log_softmax(x)[np.arange(2), labels].sum())(cr.tensor(logits))
    np.testing.assert_allclose(fused.numpy(), plain.numpy(), atol=1e-12)


def test_sequence_labels_with_extra_axis(rng):
    logits = rng.normal(size=(2, 3, 5))
    labels = rng.integers(0, 5, size=(2, 3))
    expected = -np.log(softmax_np(logits))[np.arange(2)[:, None], np.arange(3), labels]
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(labels, logits, from_logits=True).numpy(), expected)
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(labels, softmax_np(logits)).numpy(), expected)
    assert cr.gradcheck(lambda x: losses.sparse_categorical_crossentropy(labels, x, True).sum(), logits)


# --------------------------------------------------------------------------
# Inputs: label dtypes and shapes, tensors, dtype of the result
# --------------------------------------------------------------------------
@pytest.mark.parametrize("label_dtype", [np.uint8, np.int16, np.int32, np.int64])
def test_sparse_labels_of_any_integer_dtype_and_shape(data, label_dtype):
    labels, logits = data["labels"], data["logits"]
    reference = losses.sparse_categorical_crossentropy(labels, logits, from_logits=True).numpy()
    for y in (labels.astype(label_dtype), labels.astype(label_dtype)[:, None],
              cr.tensor(labels.astype(label_dtype))):
        np.testing.assert_allclose(
            losses.sparse_categorical_crossentropy(y, logits, from_logits=True).numpy(), reference)


def test_result_has_the_dtype_of_y_pred(data):
    for dtype in (np.float32, np.float64):
        logits = data["logits"].astype(dtype)
        assert losses.SparseCategoricalCrossentropy(from_logits=True)(data["labels"], logits).dtype == dtype
        assert losses.MeanSquaredError()(data["y"], data["y_pred"].astype(dtype)).dtype == dtype
        assert losses.BinaryCrossentropy()(data["binary"], sigmoid_np(data["bin_logits"]).astype(dtype)).dtype == dtype
    # Python lists are float32, as everywhere in chainrule.
    assert losses.MeanSquaredError()([[1.0]], [[2.0]]).dtype == np.float32


def test_targets_of_shape_n_next_to_predictions_n_1(rng):
    y = rng.integers(0, 2, size=5).astype(float)
    p = rng.uniform(0.1, 0.9, size=(5, 1))
    a = losses.binary_crossentropy(y, p).numpy()
    b = losses.binary_crossentropy(y[:, None], p).numpy()
    assert a.shape == (5,)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(losses.mse(y, p).numpy(), (y - p[:, 0]) ** 2)


def test_sample_weight_and_reductions(data):
    labels, logits = data["labels"], data["logits"]
    per_sample = losses.sparse_categorical_crossentropy(labels, logits, from_logits=True).numpy()
    w = np.arange(len(labels), dtype=float)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    # Keras' "sum_over_batch_size": divided by the batch size, not by Σw.
    assert float(loss(labels, logits, sample_weight=w)) == pytest.approx((w * per_sample).sum() / len(w))
    assert float(loss(labels, logits, sample_weight=w[:, None])) == pytest.approx((w * per_sample).mean())
    summed = losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    assert float(summed(labels, logits)) == pytest.approx(per_sample.sum())
    none = losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    np.testing.assert_allclose(none(labels, logits, sample_weight=w).numpy(), w * per_sample)
    by_weight = losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
    assert float(by_weight(labels, logits, sample_weight=w)) == pytest.approx((w * per_sample).sum() / w.sum())


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------
def test_bad_labels_and_shapes_have_clear_errors(data):
    logits = data["logits"]      # 6 samples, 4 classes
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(ValueError, match=r"label 4 is outside \[0, 4\).*4 classes"):
        loss([0, 1, 2, 3, 4, 0], logits)
    with pytest.raises(ValueError, match=r"label -1 is outside \[0, 4\)"):
        losses.SparseCategoricalCrossentropy()([0, 1, -1, 3, 2, 0], data["probs"])
    with pytest.raises(ValueError, match=r"\(5,\).*\(6, 4\)"):
        loss([0, 1, 2, 3, 0], logits)
    with pytest.raises(ValueError, match=r"must be integers.*0\.5"):
        loss(np.array([0, 1, 2, 3, 0, 0.5]), logits)
    with pytest.raises(ValueError, match=r"\(5, 4\).*\(6, 4\)"):
        losses.CategoricalCrossentropy()(data["onehot"][:5], data["probs"])
    with pytest.raises(ValueError, match=r"\(6, 2\).*\(6, 3\)"):
        losses.MeanSquaredError()(data["y"][:, :2], data["y_pred"])
    with pytest.raises(ValueError, match=r"sample_weight has shape \(3,\).*\(6,\)"):
        loss(data["labels"], logits, sample_weight=[1, 2, 3])


def test_bad_arguments_have_clear_errors():
    with pytest.raises(ValueError, match="reduction must be one of"):
        losses.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        losses.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="delta must be positive"):
        losses.Huber(delta=0)
    with pytest.raises(ValueError, match=r"unknown loss 'msee'.*'mse'"):
        losses.get("msee")
    with pytest.raises(TypeError, match="cannot interpret 3 as a loss"):
        losses.get(3)
    with pytest.raises(ValueError, match="unknown loss 'Nope'"):
        losses.deserialize({"class_name": "Nope", "config": {}})


# --------------------------------------------------------------------------
# Lookup, names, configs
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls", [
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("binary_crossentropy", losses.BinaryCrossentropy),
    ("mse", losses.MeanSquaredError), ("mean_squared_error", losses.MeanSquaredError),
    ("mae", losses.MeanAbsoluteError), ("mean_absolute_error", losses.MeanAbsoluteError),
    ("huber", losses.Huber), ("hinge", losses.Hinge),
    ("SparseCategoricalCrossentropy", losses.SparseCategoricalCrossentropy),
])
def test_get_by_keras_name(name, cls):
    assert type(losses.get(name)) is cls


def test_names_are_keras_snake_case():
    names = {cls().name for cls in (losses.BinaryCrossentropy, losses.CategoricalCrossentropy,
                                    losses.SparseCategoricalCrossentropy, losses.MeanSquaredError,
                                    losses.MeanAbsoluteError, losses.Huber, losses.Hinge)}
    assert names == {"binary_crossentropy", "categorical_crossentropy",
                     "sparse_categorical_crossentropy", "mean_squared_error",
                     "mean_absolute_error", "huber_loss", "hinge"}


def test_get_objects_dicts_and_callables(data):
    obj = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    assert losses.get(obj) is obj
    config = losses.serialize(obj)
    assert config == {"class_name": "CategoricalCrossentropy",
                      "config": {"name": "categorical_crossentropy", "reduction": "sum_over_batch_size",
                                 "from_logits": True, "label_smoothing": 0.1, "axis": -1}}
    again = losses.get(config)
    assert type(again) is losses.CategoricalCrossentropy and again.get_config() == obj.get_config()
    assert losses.deserialize(losses.serialize(losses.Huber(2.0))).delta == 2.0
    # Our own functions become their Loss objects; any other callable is
    # wrapped and reduced by the mean.
    assert type(losses.get(losses.mse)) is losses.MeanSquaredError

    def cubes(y_true, y_pred):
        return ((y_pred - y_true) ** 3).sum(axis=-1)
    wrapped = losses.get(cubes)
    assert wrapped.name == "cubes"
    y, yp = data["y"], data["y_pred"]
    assert float(wrapped(y, cr.tensor(yp))) == pytest.approx(((yp - y) ** 3).sum(-1).mean())
    # saved by name, found again among the custom objects (chainrule.saving)
    spec = losses.serialize(wrapped)
    assert spec["config"]["fn"] == "cubes"
    with pytest.raises(ValueError, match="unknown loss 'cubes'"):
        losses.deserialize(spec)
    with cr.saving.custom_object_scope({"cubes": cubes}):
        assert losses.deserialize(spec).fn is cubes
    with pytest.raises(TypeError, match="wraps a lambda"):
        losses.serialize(losses.get(lambda y, p: p - y))


def test_loss_is_differentiable_through_a_model_like_graph(data):
    w = cr.tensor(np.random.default_rng(0).normal(size=(4, 4)), requires_grad=True)
    loss = losses.get("sparse_categorical_crossentropy")
    value = loss(data["labels"], cr.softmax(cr.tensor(data["logits"]) @ w))
    value.backward()
    assert w.grad is not None and w.grad.shape == (4, 4)
    assert cr.gradcheck(lambda w: loss(data["labels"], cr.softmax(cr.tensor(data["logits"]) @ w)),
                        w.numpy())
