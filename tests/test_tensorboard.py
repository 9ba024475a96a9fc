"""cr.callbacks.TensorBoard writes event files that TensorBoard's own reader
(EventAccumulator) reads: epoch scalars for training and validation, batch
scalars with update_freq, weight histograms with histogram_freq (issue 16)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator")


def _read(directory):
    accumulator = event_accumulator.EventAccumulator(
        str(directory), size_guidance={event_accumulator.SCALARS: 0,
                                       event_accumulator.HISTOGRAMS: 0})
    accumulator.Reload()
    return accumulator


def _fit(log_dir, **kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    cr.set_seed(0)
    model = cr.Sequential([cr.Input((3,)), layers.Dense(4, activation="relu", name="hidden"),
                           layers.Dense(2, activation="softmax", name="out")])
    model.compile(cr.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=10, epochs=3, verbose=0, validation_split=0.25,
                        callbacks=[cr.callbacks.TensorBoard(log_dir, **kwargs)])
    return model, history.history


def test_epoch_scalars_for_training_and_validation(tmp_path):
    model, history = _fit(tmp_path)
    train, validation = _read(tmp_path / "train"), _read(tmp_path / "validation")
    tags = set(train.Tags()["scalars"])
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} <= tags
    loss = train.Scalars("epoch_loss")
    assert [e.step for e in loss] == [0, 1, 2]
    np.testing.assert_allclose([e.value for e in loss], history["loss"], rtol=1e-6)
    val = validation.Scalars("epoch_loss")
    np.testing.assert_allclose([e.value for e in val], history["val_loss"], rtol=1e-6)
    assert not any(t.startswith("batch_") for t in tags)


def test_batch_scalars_every_update_freq_batches(tmp_path):
    _fit(tmp_path, update_freq=2)
    batch_loss = _read(tmp_path / "train").Scalars("batch_loss")
    # 30 training samples in batches of 10: 3 steps an epoch, 9 in all.
    assert [e.step for e in batch_loss] == [2, 4, 6, 8]


def test_weight_histograms_every_histogram_freq_epochs(tmp_path):
    model, _ = _fit(tmp_path, histogram_freq=2)
    train = _read(tmp_path / "train")
    tags = set(train.Tags()["histograms"])
    assert "hidden/kernel/histogram" in tags and "out/bias/histogram" in tags
    kernel = train.Histograms("hidden/kernel/histogram")
    assert [e.step for e in kernel] == [0, 2]
    last = kernel[-1].histogram_value
    weights = model.get_layer("hidden").get_weights()[0] if hasattr(model, "get_layer") \
        else model.layers[0].get_weights()[0]
    assert last.num == weights.size
    assert last.min == pytest.approx(weights.min()) and last.max == pytest.approx(weights.max())
    assert sum(last.bucket) == weights.size


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="update_freq"):
        cr.callbacks.TensorBoard("logs", update_freq="sometimes")
    with pytest.raises(ValueError, match="histogram_freq"):
        cr.callbacks.TensorBoard("logs", histogram_freq=-1)
