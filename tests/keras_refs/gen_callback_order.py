"""Reference for the callback hooks (issue 16): which hooks real Keras 3 calls,
in what order, and with which log keys, during fit (with validation), evaluate
and predict.

Run with keras==3.15.1, KERAS_BACKEND=torch, torch==2.13.0:

    KERAS_BACKEND=torch python tests/keras_refs/gen_callback_order.py

Writes tests/keras_refs/callback_order.npz: for ``fit``, ``evaluate`` and
``predict``, an array of strings ``"<hook> <comma-separated sorted log keys>"``,
one per call.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

assert keras.__version__ == "3.15.1", keras.__version__
assert keras.backend.backend() == "torch"

HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
         "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
         "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
         "on_predict_batch_begin", "on_predict_batch_end"]


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []


def _hook(name):
    def hook(self, *args, logs=None):
        if logs is None and args and isinstance(args[-1], dict):
            logs = args[-1]
        keys = ",".join(sorted(logs)) if isinstance(logs, dict) else repr(logs)
        self.calls.append(f"{name} {keys}")
    return hook


for _name in HOOKS:
    setattr(Recorder, _name, _hook(_name))

rng = np.random.default_rng(0)
x = rng.normal(size=(20, 4)).astype("float32")
y = x[:, :1] * 2.0
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(keras.optimizers.SGD(0.01), "mse", metrics=["mae"])
out = {}
for kind, run in (
        ("fit", lambda cb: model.fit(x, y, batch_size=10, epochs=2, verbose=0,
                                     validation_data=(x[:10], y[:10]), callbacks=[cb])),
        ("evaluate", lambda cb: model.evaluate(x, y, batch_size=10, verbose=0, callbacks=[cb])),
        ("predict", lambda cb: model.predict(x, batch_size=10, verbose=0, callbacks=[cb]))):
    recorder = Recorder()
    run(recorder)
    out[kind] = np.array(recorder.calls)

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_order.npz")
np.savez(path, **out)
for kind, calls in out.items():
    print(kind, list(calls))
