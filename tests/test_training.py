"""compile / fit / evaluate / predict: the loop's numbers, data checks, resumption."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers


def _data(rng, n=40, features=4, classes=3):
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return x, y


def _classifier(features=4, classes=3, seed=0, dropout=0.0):
    cr.set_seed(seed)
    stack = [cr.Input((features,)), layers.Dense(8, activation="relu")]
    if dropout:
        stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(classes, activation="softmax"))
    model = cr.Sequential(stack)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _linear(seed=0):
    cr.set_seed(seed)
    model = cr.Sequential([cr.Input((3,)), layers.Dense(1)])
    model.compile(optimizer=cr.optimizers.SGD(learning_rate=0.1), loss="mse")
    return model


# --------------------------------------------------------------------------
# What the history holds
# --------------------------------------------------------------------------
def test_history_is_the_batch_size_weighted_mean_of_losses_before_each_update(rng):
    x = rng.normal(size=(10, 3)).astype(np.float32)
    y = rng.normal(size=(10, 1)).astype(np.float32)
    model = _linear()
    w, b = [a.astype(np.float64) for a in model.get_weights()]
    expected = []
    for _ in range(2):                       # NumPy replay: SGD on MSE, batches 4, 4, 2
        losses, sizes = [], []
        for start in range(0, 10, 4):
            xb, yb = x[start:start + 4], y[start:start + 4]
            err = xb @ w + b - yb
            losses.append(np.mean(err ** 2))     # before the update
            sizes.append(len(xb))
            w = w - 0.1 * 2 * xb.T @ err / len(xb)
            b = b - 0.1 * 2 * err.sum(0) / len(xb)
        expected.append(np.average(losses, weights=sizes))
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5)
    assert history.epoch == [0, 1]
    assert model.history is history


def test_accuracy_in_history_is_over_all_samples_before_updates(rng):
    x, y = _data(rng, n=30)
    model = _classifier()
    model.compile(optimizer=cr.optimizers.SGD(learning_rate=0.0),    # nothing changes
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    expected = np.mean(model.predict(x).argmax(1) == y)
    history = model.fit(x, y, batch_size=7, epochs=1, verbose=0)
    assert history.history["accuracy"][0] == pytest.approx(expected)
    loss, acc = model.evaluate(x, y, batch_size=7)
    assert acc == pytest.approx(expected)
    assert history.history["loss"][0] == pytest.approx(loss, rel=1e-5)
    assert model.evaluate(x, y, return_dict=True) == {"loss": pytest.approx(loss, rel=1e-5),
                                                      "accuracy": pytest.approx(acc)}


def test_validation_split_holds_out_the_last_fraction(rng):
    x, y = _data(rng, n=40)
    split = _classifier(seed=3)
    history = split.fit(x, y, validation_split=0.25, epochs=2, batch_size=8, verbose=0)
    plain = _classifier(seed=3)
    plain.fit(x[:30], y[:30], epochs=2, batch_size=8, verbose=0)
    for a, b in zip(split.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)           # trained on the first 30 only
    val_loss, val_acc = split.evaluate(x[30:], y[30:])
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(val_acc)
    with pytest.raises(ValueError, match="not enough to split"):
        split.fit(x[:1], y[:1], validation_split=0.1, verbose=0)


def test_validation_data_gives_val_keys(rng):
    x, y = _data(rng)
    history = _classifier().fit(x, y, validation_data=(x[:10], y[:10]), epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in history.history.values())


def test_regularization_is_added_to_the_loss(rng):
    x = rng.normal(size=(6, 3)).astype(np.float32)
    y = rng.normal(size=(6, 1)).astype(np.float32)
    cr.set_seed(0)
    model = cr.Sequential([cr.Input((3,)),
                           layers.Dense(1, kernel_regularizer=cr.regularizers.L2(0.1))])
    model.compile(optimizer=cr.optimizers.SGD(learning_rate=0.01), loss="mse")
    kernel, bias = model.get_weights()
    expected = np.mean((x @ kernel + bias - y) ** 2) + 0.1 * np.sum(kernel ** 2)
    history = model.fit(x, y, batch_size=6, epochs=1, verbose=0)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)


# --------------------------------------------------------------------------
# Shuffling, seeds and resuming
# --------------------------------------------------------------------------
def test_shuffling_follows_the_seed(rng):
    x, y = _data(rng)
    runs = []
    for seed in (0, 0, 1):
        model = _classifier(seed=0)
        cr.set_seed(seed)
        runs.append(model.fit(x, y, batch_size=4, epochs=2, verbose=0).history["loss"])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_training_resumed_from_a_saved_model_continues_the_same_curve(rng, tmp_path):
    x, y = _data(rng, n=48)
    straight = _classifier(seed=5, dropout=0.3)
    full = straight.fit(x, y, batch_size=8, epochs=4, verbose=0).history["loss"]

    first = _classifier(seed=5, dropout=0.3)
    head = first.fit(x, y, batch_size=8, epochs=2, verbose=0).history["loss"]
    first.save(tmp_path / "ckpt.chainrule")
    cr.set_seed(999)                                  # whatever happens in between
    cr.randn(10)
    resumed = cr.load_model(tmp_path / "ckpt.chainrule")
    tail = resumed.fit(x, y, batch_size=8, epochs=4, initial_epoch=2, verbose=0).history["loss"]
    np.testing.assert_allclose(head + tail, full, rtol=1e-6)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_two_fits_equal_one_longer_fit(rng):
    x, y = _data(rng)
    once = _classifier(seed=2).fit(x, y, epochs=3, batch_size=8, verbose=0).history["loss"]
    model = _classifier(seed=2)
    twice = model.fit(x, y, epochs=1, batch_size=8, verbose=0).history["loss"] + \
        model.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"]
    np.testing.assert_allclose(twice, once, rtol=1e-6)


# --------------------------------------------------------------------------
# Bad input is reported before training starts
# --------------------------------------------------------------------------
def test_length_mismatch_names_both_lengths(rng):
    x, y = _data(rng, n=10)
    model = _classifier()
    before = model.get_weights()
    with pytest.raises(ValueError, match="x has 10, y has 9"):
        model.fit(x, y[:9], verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_labels_outside_the_classes_are_reported_before_training(rng):
    x, y = _data(rng, n=20)
    y[13] = 3
    model = _classifier(classes=3)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"label 3 is outside \[0, 3\).* 3 units"):
        model.fit(x, y, verbose=0)
    y[13] = -1
    with pytest.raises(ValueError, match=r"label -1 is outside \[0, 3\)"):
        model.fit(x, y, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_one_hot_loss_with_integer_labels_suggests_the_sparse_loss(rng):
    x, y = _data(rng)
    model = _classifier()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy|to_categorical"):
        model.fit(x, y, verbose=0)


def test_wrong_input_shape_is_the_layers_shape_error(rng):
    model = _classifier(features=4)
    with pytest.raises(cr.ShapeError, match=r"dense\w*'.*\(None, 4\).*\(40, 5\)"):
        model.fit(rng.normal(size=(40, 5)), np.zeros(40, int), verbose=0)


def test_fit_before_compile_and_bad_arguments():
    model = cr.Sequential([cr.Input((2,)), layers.Dense(1)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((4, 2)), np.zeros(4), verbose=0)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(np.zeros((4, 2)), np.zeros(4), batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(np.zeros((4, 2)), np.zeros(4), validation_split=1.5, verbose=0)
    model.compile("sgd")        # no loss: allowed (a train_step may compute its own, Keras)
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(np.zeros((4, 2)), np.zeros(4), verbose=0)


def test_a_nan_loss_stops_training_with_a_clear_message(rng):
    x, y = _data(rng, n=16)
    x[9, 0] = np.nan                                   # in the third batch of 4
    model = _classifier()
    with pytest.warns(RuntimeWarning, match=r"Epoch 1, batch 3: the loss is nan; training stopped"):
        history = model.fit(x, y, batch_size=4, epochs=5, shuffle=False, verbose=0)
    assert model.stop_training
    assert len(history.history["loss"]) == 1
    assert all(np.isfinite(w).all() for w in model.get_weights())   # the bad step was skipped


# --------------------------------------------------------------------------
# dtypes, several inputs/outputs, subclassed models
# --------------------------------------------------------------------------
def test_float64_input_is_cast_to_a_float32_model_and_kept_for_a_float64_model(rng):
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 1))     # float64 data
    model = _linear()
    model.fit(x, y, verbose=0)
    assert all(w.dtype == np.float32 for w in model.weights)
    assert model.predict(x).dtype == np.float32
    cr.set_seed(0)
    model64 = cr.Sequential([cr.Input((3,), dtype="float64"), layers.Dense(1, dtype="float64")])
    model64.compile(cr.optimizers.SGD(0.1), "mse")
    model64.fit(x, y, verbose=0)
    assert all(w.dtype == np.float64 for w in model64.weights)
    assert model64.predict(x).dtype == np.float64


def test_multi_input_multi_output_losses_are_summed_with_weights(rng):
    a, b = cr.Input((3,)), cr.Input((2,))
    h = layers.Dense(4, activation="relu")(layers.Concatenate()([a, b]))
    cls_out = layers.Dense(3, activation="softmax", name="cls")(h)
    reg_out = layers.Dense(1, name="reg")(h)
    model = cr.Model([a, b], [cls_out, reg_out])
    model.compile(optimizer=cr.optimizers.SGD(0.0),
                  loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights=[1.0, 0.5], metrics={"cls": ["accuracy"]})
    xa, xb = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    yc, yr = rng.integers(0, 3, 10), rng.normal(size=(10, 1))
    history = model.fit([xa, xb], [yc, yr], batch_size=10, verbose=0).history
    assert set(history) == {"loss", "cls_loss", "reg_loss", "cls_accuracy"}
    probs, reg = model.predict([xa, xb])
    ce = -np.mean(np.log(probs[np.arange(10), yc]))
    mse = np.mean((reg - yr) ** 2)
    assert history["cls_loss"][0] == pytest.approx(ce, rel=1e-4)
    assert history["reg_loss"][0] == pytest.approx(mse, rel=1e-4)
    assert history["loss"][0] == pytest.approx(ce + 0.5 * mse, rel=1e-4)
    with pytest.raises(ValueError, match="2 xs|list of 2"):
        model.fit(xa, [yc, yr], verbose=0)


def test_subclassed_model_trains(rng):
    class Small(cr.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(3, activation="softmax")

        def call(self, x, training=False):
            return self.dense(x)

    x, y = _data(rng, n=60)
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    cr.set_seed(0)
    model = Small()
    model.compile(cr.optimizers.Adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=10, verbose=0).history
    assert history["loss"][-1] < history["loss"][0] * 0.8
    assert history["accuracy"][-1] > history["accuracy"][0]


def test_learning_reduces_the_loss_on_a_separable_problem(rng):
    x = rng.normal(size=(200, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = _classifier(features=2, classes=2)
    model.compile(cr.optimizers.Adam(0.02), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=20, verbose=0).history
    assert history["accuracy"][-1] > 0.9
    assert model.evaluate(x, y)[1] > 0.9
