"""Callbacks with Keras semantics, driven both by fit and step by step."""
import re
import csv

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers
from chainrule.callbacks import (
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)


def _model(lr=0.01):
    cr.set_seed(0)
    model = cr.Sequential([cr.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(cr.optimizers.SGD(learning_rate=lr), "sparse_categorical_crossentropy",
                  ["accuracy"])
    return model


def _data(rng, n=24):
    return rng.normal(size=(n, 3)).astype(np.float32), rng.integers(0, 2, n)


def _drive(callback, model, values, key="val_loss"):
    """Run the epoch hooks with the given monitored values; returns epochs run."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    epochs = 0
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {key: value})
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end()
    return epochs


def test_cr_callbacks_is_the_public_module():
    assert cr.callbacks.EarlyStopping is EarlyStopping


# --------------------------------------------------------------------------
# EarlyStopping
# --------------------------------------------------------------------------
def test_early_stopping_waits_patience_epochs_without_improvement():
    model = _model()
    stop = EarlyStopping(monitor="val_loss", patience=2)
    # best at epoch 1 (0.5); epochs 2 and 3 do not improve: stop after epoch 3
    assert _drive(stop, model, [1.0, 0.5, 0.6, 0.55, 0.1, 0.1]) == 4
    assert stop.stopped_epoch == 3 and stop.best == 0.5


def test_early_stopping_min_delta_and_max_mode():
    model = _model()
    stop = EarlyStopping(monitor="val_loss", patience=1, min_delta=0.1)
    assert _drive(stop, model, [1.0, 0.95, 0.9, 0.5]) == 2       # 0.95 is not 0.1 better
    stop = EarlyStopping(monitor="val_accuracy", patience=1)      # auto: accuracy goes up
    assert stop.mode == "max"
    assert _drive(stop, model, [0.5, 0.6, 0.7, 0.65, 0.9], key="val_accuracy") == 4


def test_early_stopping_restores_the_best_weights():
    model = _model()
    stop = EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    stop.set_model(model)
    stop.on_train_begin()
    snapshots = []
    for epoch, value in enumerate([1.0, 0.2, 0.5, 0.6]):
        for w in model.weights:                          # the "training" of this epoch
            w.data += 1.0
        snapshots.append(model.get_weights())
        stop.on_epoch_end(epoch, {"loss": value})
        if model.stop_training:
            break
    stop.on_train_end()
    assert stop.stopped_epoch == 2
    for a, b in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_in_fit_stops_when_nothing_improves(rng):
    x, y = _data(rng)
    model = _model(lr=0.0)                               # the loss never changes
    history = model.fit(x, y, epochs=20, verbose=0, shuffle=False,
                        callbacks=[EarlyStopping(monitor="loss", patience=2)])
    assert len(history.history["loss"]) == 3


def test_early_stopping_warns_when_the_quantity_is_missing():
    model = _model()
    with pytest.warns(RuntimeWarning, match="val_loss"):
        _drive(EarlyStopping(), model, [1.0], key="loss")


# --------------------------------------------------------------------------
# ModelCheckpoint
# --------------------------------------------------------------------------
def test_model_checkpoint_formats_the_path_and_saves_every_epoch(rng, tmp_path):
    x, y = _data(rng)
    model = _model()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{loss:.2f}.chainrule")
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[ModelCheckpoint(pattern, monitor="loss")])
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = [f"ckpt-{e + 1:02d}-{loss:.2f}.chainrule" for e, loss in
                enumerate(history.history["loss"])]
    assert names == sorted(expected)
    last = cr.load_model(tmp_path / expected[-1])
    np.testing.assert_array_equal(last.predict(x), model.predict(x))


def test_model_checkpoint_save_best_only(tmp_path):
    model = _model()
    path = tmp_path / "best.weights.npz"
    check = ModelCheckpoint(str(path), monitor="val_loss", save_best_only=True,
                            save_weights_only=True)
    check.set_model(model)
    check.on_epoch_end(0, {"val_loss": 0.5})
    saved = model.get_weights()
    for w in model.weights:
        w.data += 1.0
    check.on_epoch_end(1, {"val_loss": 0.7})              # worse: the file keeps epoch 0
    other = _model()
    other.load_weights(path)
    for a, b in zip(other.get_weights(), saved):
        np.testing.assert_array_equal(a, b)
    check.on_epoch_end(2, {"val_loss": 0.4})              # better: overwritten
    other.load_weights(path)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_unknown_key_in_path_is_explained(tmp_path):
    check = ModelCheckpoint(str(tmp_path / "{val_auc}.chainrule"))
    check.set_model(_model())
    with pytest.raises(KeyError, match="val_auc"):
        check.on_epoch_end(0, {"loss": 1.0})


# --------------------------------------------------------------------------
# Learning-rate callbacks
# --------------------------------------------------------------------------
def test_learning_rate_scheduler_sets_the_rate_each_epoch(rng):
    x, y = _data(rng)
    model = _model(lr=0.1)
    seen = []
    spy = LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(
        model.optimizer.learning_rate))
    sched = LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched, spy])
    np.testing.assert_allclose(seen, [0.1, 0.05, 0.1 / 3])
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.1 / 3])


def test_reduce_lr_on_plateau_factor_patience_cooldown_min_lr():
    model = _model(lr=1.0)
    reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=2,
                               min_lr=0.2)
    rates = []
    reduce.set_model(model)
    reduce.on_train_begin()
    for epoch, value in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        reduce.on_epoch_end(epoch, {"val_loss": value})
        rates.append(model.optimizer.learning_rate)
    # Keras: reduce after 2 flat epochs; the cooldown counts down first, so the
    # wait restarts on the last cooldown epoch
    np.testing.assert_allclose(rates, [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2])
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


# --------------------------------------------------------------------------
# CSVLogger, TerminateOnNaN, History, progress bar
# --------------------------------------------------------------------------
def test_csv_logger_writes_a_row_per_epoch_and_appends(rng, tmp_path):
    x, y = _data(rng)
    path = tmp_path / "log.csv"
    model = _model()
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0,
                        callbacks=[CSVLogger(path)])
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"]
    np.testing.assert_allclose([float(r[2]) for r in rows[1:]], history.history["loss"])
    model.fit(x, y, epochs=1, validation_split=0.25, verbose=0,
              callbacks=[CSVLogger(path, append=True)])
    with open(path) as f:
        assert len(list(csv.reader(f))) == 4            # one header, three rows
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path)])
    with open(path) as f:
        assert len(list(csv.reader(f))) == 2            # append=False starts over


def test_terminate_on_nan_stops_at_an_invalid_batch_loss(capsys):
    model = _model()
    cb = TerminateOnNaN()
    cb.set_model(model)
    model.stop_training = False
    cb.on_train_batch_end(0, {"loss": 0.3})
    assert not model.stop_training
    cb.on_train_batch_end(1, {"loss": float("nan")})
    assert model.stop_training
    assert "Invalid loss" in capsys.readouterr().out


def test_history_collects_epoch_logs():
    h = History()
    h.on_train_begin()
    h.on_epoch_end(0, {"loss": 2.0})
    h.on_epoch_end(1, {"loss": 1.0})
    assert h.history == {"loss": [2.0, 1.0]} and h.epoch == [0, 1]


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_progress_output_per_verbosity(rng, capsys, verbose):
    x, y = _data(rng)
    _model().fit(x, y, epochs=2, batch_size=8, verbose=verbose, validation_split=0.25)
    out = capsys.readouterr().out
    if verbose == 0:
        assert out == ""
        return
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "loss:" in out and "accuracy:" in out and "val_loss:" in out
    assert re.search(r" \d+(us|ms|s)/step", out)         # Keras Progbar's units
    if verbose == 1:
        assert "[" in out and "=" in out                 # the bar
    else:
        assert "\r" not in out and out.count("val_loss") == 2


def test_non_callback_is_rejected(rng):
    x, y = _data(rng)
    with pytest.raises(TypeError, match="Callback"):
        _model().fit(x, y, verbose=0, callbacks=[lambda: None])


def test_progress_bar_into_a_pipe_writes_one_line_per_epoch():
    # Not a terminal: no carriage-return redraws, just the epoch's final line (Keras).
    import io
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = cr.Sequential([cr.Input((3,)), cr.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    stream = io.StringIO()
    model.fit(x, y, batch_size=8, epochs=2, verbose=1,
              callbacks=[cr.callbacks.ProgbarLogger(stream=stream, interval=0)])
    text = stream.getvalue()
    assert "\r" not in text and "ETA" not in text
    assert text.count("8/8 [") == 2 and text.count("Epoch ") == 2
