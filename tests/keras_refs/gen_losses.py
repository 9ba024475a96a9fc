"""Reference numbers for the per-sample loss functions (issue 16): what real
Keras 3 returns on 1-D input (a scalar: the mean over the last axis), on 2-D
input, and with a trailing 1 on one side, plus the loss objects' reductions.

Run with keras==3.15.1, KERAS_BACKEND=torch, torch==2.13.0:

    KERAS_BACKEND=torch python tests/keras_refs/gen_losses.py

Writes tests/keras_refs/losses.npz: for each case ``<case>/y_true``,
``<case>/y_pred`` (and ``<case>/sample_weight``) and ``<case>/out``, Keras'
result; ``<case>/spec`` names the function and its keyword arguments as JSON.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

assert keras.__version__ == "3.15.1", keras.__version__
assert keras.backend.backend() == "torch"

rng = np.random.default_rng(16)


def probs(*shape):
    return rng.uniform(0.05, 0.95, shape).astype("float32")


def logits(*shape):
    return rng.normal(0, 2, shape).astype("float32")


def binary(*shape):
    return rng.integers(0, 2, shape).astype("float32")


def onehot(n, c):
    return np.eye(c, dtype="float32")[rng.integers(0, c, n)]


def softmaxed(*shape):
    e = np.exp(logits(*shape))
    return (e / e.sum(-1, keepdims=True)).astype("float32")


CASES = {}


def case(name, fn, y_true, y_pred, sample_weight=None, **kwargs):
    CASES[name] = dict(fn=fn, y_true=y_true, y_pred=y_pred, sample_weight=sample_weight,
                       kwargs=kwargs)


# the per-sample functions on 1-D input: a scalar (mean over the last axis)
case("bce_1d", "binary_crossentropy", binary(6), probs(6))
case("bce_1d_logits", "binary_crossentropy", binary(6), logits(6), from_logits=True)
case("bce_1d_smooth", "binary_crossentropy", binary(6), probs(6), label_smoothing=0.2)
case("mse_1d", "mean_squared_error", logits(5), logits(5))
case("mae_1d", "mean_absolute_error", logits(5), logits(5))
case("huber_1d", "huber", logits(7), logits(7))
case("hinge_1d", "hinge", binary(6), logits(6))
case("cce_1d", "categorical_crossentropy", onehot(1, 4)[0], softmaxed(4))
case("cce_1d_logits", "categorical_crossentropy", onehot(1, 4)[0], logits(4),
     from_logits=True)
# 2-D: one value per sample
case("bce_2d", "binary_crossentropy", binary(4, 3), probs(4, 3))
case("bce_2d_logits", "binary_crossentropy", binary(4, 3), logits(4, 3), from_logits=True)
case("mse_2d", "mean_squared_error", logits(4, 3), logits(4, 3))
case("mae_2d", "mean_absolute_error", logits(4, 3), logits(4, 3))
case("huber_2d", "huber", logits(4, 3), logits(4, 3), delta=0.5)
case("hinge_2d", "hinge", binary(4, 3), logits(4, 3))
case("cce_2d", "categorical_crossentropy", onehot(4, 3), softmaxed(4, 3))
case("scce_2d", "sparse_categorical_crossentropy",
     rng.integers(0, 3, 4).astype("int64"), softmaxed(4, 3))
case("scce_2d_logits", "sparse_categorical_crossentropy",
     rng.integers(0, 3, 4).astype("int64"), logits(4, 3), from_logits=True)
# a trailing 1 on one side: (N,) next to (N, 1)
case("mse_n1_vs_n", "mean_squared_error", logits(5, 1), logits(5))
# 3-D: the mean over the last axis only
case("mse_3d", "mean_squared_error", logits(2, 3, 4), logits(2, 3, 4))
# the loss objects (reduction "sum_over_batch_size") on 1-D and 2-D input
case("BinaryCrossentropy_1d", "BinaryCrossentropy", binary(6), probs(6))
case("MeanSquaredError_1d", "MeanSquaredError", logits(5), logits(5))
case("MeanSquaredError_2d_weighted", "MeanSquaredError", logits(4, 2), logits(4, 2),
     sample_weight=np.array([1.0, 0.5, 0.0, 2.0], "float32"))
case("BinaryCrossentropy_2d_sum", "BinaryCrossentropy", binary(4, 3), probs(4, 3),
     reduction="sum")


# metrics (stateful, two updates, the second weighted)
case("metric_MeanAbsolutePercentageError", "metrics.MeanAbsolutePercentageError",
     logits(4, 3), logits(4, 3), sample_weight=np.array([1.0, 0.5, 0.0, 2.0], "float32"))


def run(spec):
    fn = spec["fn"]
    if fn.startswith("metrics."):
        metric = getattr(keras.metrics, fn.split(".", 1)[1])(**spec["kwargs"])
        metric.update_state(spec["y_true"], spec["y_pred"])
        metric.update_state(spec["y_true"][:2], spec["y_pred"][:2] * 0.5,
                            sample_weight=spec["sample_weight"][:2])
        return keras.ops.convert_to_numpy(metric.result())
    if fn[0].isupper():
        obj = getattr(keras.losses, fn)(**spec["kwargs"])
        out = obj(spec["y_true"], spec["y_pred"], sample_weight=spec["sample_weight"])
    else:
        out = getattr(keras.losses, fn)(spec["y_true"], spec["y_pred"], **spec["kwargs"])
    return keras.ops.convert_to_numpy(out)


arrays = {}
for name, spec in CASES.items():
    arrays[f"{name}/y_true"] = spec["y_true"]
    arrays[f"{name}/y_pred"] = spec["y_pred"]
    if spec["sample_weight"] is not None:
        arrays[f"{name}/sample_weight"] = spec["sample_weight"]
    arrays[f"{name}/out"] = run(spec)
    arrays[f"{name}/spec"] = np.array(json.dumps({"fn": spec["fn"], "kwargs": spec["kwargs"]}))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "losses.npz")
tmp = path + ".tmp.npz"
np.savez(tmp, **arrays)
os.replace(tmp, path)
print(f"wrote {path}: {len(CASES)} cases")
for name in CASES:
    print(f"  {name}: shape {arrays[name + '/out'].shape}")
