"""Callbacks as Keras 3 runs them (issue 16): every hook with a logs dict,
on_test_*/on_predict_* from evaluate, predict and fit's validation,
ModelCheckpoint(save_freq=int), BackupAndRestore resuming after a crash,
the progress bar's units."""
import os
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, :1] - 0.5 * x[:, 1:2]).astype(np.float32)


def _model(seed=0):
    cr.set_seed(seed)
    model = cr.Sequential([cr.Input((4,)), layers.Dense(5, activation="tanh"), layers.Dense(1)])
    model.compile(cr.optimizers.Adam(0.01), "mse", metrics=["mae"])
    return model


class Recorder(cr.callbacks.Callback):
    """Every hook call, with the type of its logs."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end"):
            calls = object.__getattribute__(self, "calls")

            def hook(*args, logs="missing"):
                logs = args[-1] if logs == "missing" and args else logs
                calls.append((name, type(logs).__name__))
            return hook
        return object.__getattribute__(self, name)


def test_fit_evaluate_predict_call_every_hook_with_a_dict():
    x, y = _data()
    model = _model()
    fit_rec, eval_rec, predict_rec = Recorder(), Recorder(), Recorder()
    model.fit(x, y, batch_size=20, epochs=2, verbose=0, validation_split=0.5,
              callbacks=[fit_rec])
    model.evaluate(x, y, batch_size=20, callbacks=[eval_rec])
    model.predict(x, batch_size=20, callbacks=[predict_rec])
    assert {kind for _, kind in fit_rec.calls + eval_rec.calls + predict_rec.calls} == {"dict"}
    names = [name for name, _ in fit_rec.calls]
    assert names[0] == "on_train_begin" and names[-1] == "on_train_end"
    assert names.count("on_train_batch_begin") == names.count("on_train_batch_end") == 2
    assert names.count("on_test_begin") == 2 and names.count("on_test_batch_end") == 2
    assert names.index("on_test_end") < names.index("on_epoch_end")
    assert [n for n, _ in eval_rec.calls] == ["on_test_begin", "on_test_batch_begin",
                                              "on_test_batch_end", "on_test_batch_begin",
                                              "on_test_batch_end", "on_test_end"]
    assert [n for n, _ in predict_rec.calls][::len(predict_rec.calls) - 1] == \
        ["on_predict_begin", "on_predict_end"]
    assert [n for n, _ in predict_rec.calls].count("on_predict_batch_end") == 2


def test_the_old_on_batch_hooks_and_lambda_callback_keywords_are_called():
    x, y = _data()
    seen = {"batch": 0, "test_end": 0}

    class Old(cr.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            seen["batch"] += 1
    lam = cr.callbacks.LambdaCallback(
        on_test_end=lambda logs: seen.__setitem__("test_end", seen["test_end"] + 1))
    _model().fit(x, y, batch_size=10, epochs=1, verbose=0, validation_data=(x, y),
                 callbacks=[Old(), lam])
    assert seen == {"batch": 4, "test_end": 1}


def test_predict_batch_end_gets_the_outputs():
    x, _ = _data()
    outputs = []
    cb = cr.callbacks.LambdaCallback(
        on_predict_batch_end=lambda batch, logs: outputs.append(logs["outputs"]))
    model = _model()
    full = model.predict(x, batch_size=16, callbacks=[cb])
    np.testing.assert_array_equal(np.concatenate(outputs), full)


def test_model_checkpoint_every_n_batches_formats_epoch_and_batch(tmp_path):
    x, y = _data()
    path = str(tmp_path / "ckpt-{epoch}-{batch}.weights.npz")
    checkpoint = cr.callbacks.ModelCheckpoint(path, save_weights_only=True, save_freq=3)
    _model().fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[checkpoint])
    # 8 batches in all, a save after every 3rd: epoch 1 batch 3; epoch 2 batches 2.
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1-3.weights.npz", "ckpt-2-2.weights.npz"]
    with pytest.raises(ValueError, match="save_freq"):
        cr.callbacks.ModelCheckpoint(path, save_freq="often")


class _Crash(cr.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("simulated crash")


def test_backup_and_restore_resumes_where_the_crash_left_off(tmp_path):
    x, y = _data()
    reference = _model()
    reference.fit(x, y, batch_size=8, epochs=5, verbose=0)

    backup_dir = tmp_path / "backup"
    model = _model()
    with pytest.raises(RuntimeError, match="simulated crash"):
        model.fit(x, y, batch_size=8, epochs=5, verbose=0,
                  callbacks=[cr.callbacks.BackupAndRestore(backup_dir), _Crash(3)])
    assert os.listdir(backup_dir) == ["backup.npz"]
    # A new process: a fresh model (different weights), the same callback folder.
    resumed = _model(seed=5)
    resumed.build((None, 4))
    history = resumed.fit(x, y, batch_size=8, epochs=5, verbose=0,
                          callbacks=[cr.callbacks.BackupAndRestore(backup_dir)])
    assert history.epoch == [3, 4]
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not backup_dir.exists()          # delete_checkpoint=True after a finished fit


def test_backup_mid_epoch_restarts_that_epoch(tmp_path):
    x, y = _data()
    model = _model()
    with pytest.raises(RuntimeError):
        model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[
            cr.callbacks.BackupAndRestore(tmp_path, save_freq=2, delete_checkpoint=False),
            _Crash(2)])
    resumed = _model(seed=9)
    resumed.build((None, 4))
    history = resumed.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[
        cr.callbacks.BackupAndRestore(tmp_path, save_freq=2, delete_checkpoint=False)])
    # The last backup came after batch 4 of epoch 2 (index 1): that epoch runs again.
    assert history.epoch == [1, 2, 3]


def test_progress_bar_prints_keras_time_units(capsys):
    x, y = _data()
    _model().fit(x, y, batch_size=10, epochs=1, verbose=2)
    out = capsys.readouterr().out
    assert re.search(r"4/4 - \d+s - \d+(us|ms|s)/step - loss: ", out)     # Keras verbose=2
    assert cr.callbacks.ProgbarLogger is not None
    from chainrule.models.callbacks import format_per_step
    assert format_per_step(2.4e-4) == " 240us/step"
    assert format_per_step(0.0123) == " 12ms/step"
    assert format_per_step(3.2) == " 3s/step"


def test_hook_order_and_log_keys_match_real_keras():
    """tests/keras_refs/gen_callback_order.py records what keras==3.15.1 calls."""
    refs = np.load(os.path.join(os.path.dirname(__file__), "keras_refs", "callback_order.npz"))
    hooks = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
             "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
             "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
             "on_predict_batch_begin", "on_predict_batch_end"]

    class KeyRecorder(cr.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.calls = []

    def make(name):
        def hook(self, *args, logs=None):
            logs = args[-1] if logs is None and args else logs
            self.calls.append(f"{name} {','.join(sorted(logs))}")
        return hook
    for name in hooks:
        setattr(KeyRecorder, name, make(name))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype(np.float32)
    y = x[:, :1] * 2.0
    model = cr.Sequential([cr.Input((4,)), layers.Dense(1)])
    model.compile(cr.optimizers.SGD(0.01), "mse", metrics=["mae"])
    runs = {"fit": lambda cb: model.fit(x, y, batch_size=10, epochs=2, verbose=0,
                                        validation_data=(x[:10], y[:10]), callbacks=[cb]),
            "evaluate": lambda cb: model.evaluate(x, y, batch_size=10, callbacks=[cb]),
            "predict": lambda cb: model.predict(x, batch_size=10, callbacks=[cb])}
    for kind, run in runs.items():
        recorder = KeyRecorder()
        run(recorder)
        assert recorder.calls == [str(c) for c in refs[kind]], kind
