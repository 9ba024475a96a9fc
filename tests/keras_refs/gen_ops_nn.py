"""Reference numbers for cr.ops' convolution, pooling and normalization
functions (issue 16): keras.ops.conv, depthwise_conv, conv_transpose,
max_pool, average_pool, batch_normalization, rms_normalization on fixed inputs.

    KERAS_BACKEND=torch python tests/keras_refs/gen_ops_nn.py

keras==3.15.1, torch==2.13.0. Writes tests/keras_refs/ops_nn.npz: for each case
``<case>/args`` (the array arguments in order), ``<case>/kwargs`` (JSON) and
``<case>/out``.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

assert keras.__version__ == "3.15.1", keras.__version__
rng = np.random.default_rng(16)


def r(*shape):
    return rng.normal(size=shape).astype("float32")


CASES = {
    "conv1d_same_stride2": ("conv", [r(2, 9, 3), r(3, 3, 4)], {"strides": 2, "padding": "same"}),
    "conv1d_dilated": ("conv", [r(2, 9, 3), r(3, 3, 4)], {"dilation_rate": 2}),
    "conv2d_valid": ("conv", [r(2, 7, 6, 3), r(3, 2, 3, 5)], {}),
    "conv2d_same_strides": ("conv", [r(2, 7, 6, 4), r(3, 3, 4, 2)],
                            {"strides": (2, 1), "padding": "same"}),
    "conv2d_groups": ("conv", [r(1, 6, 6, 4), r(3, 3, 2, 6)], {}),
    "conv2d_channels_first": ("conv", [r(2, 3, 6, 5), r(2, 2, 3, 4)],
                              {"data_format": "channels_first"}),
    "depthwise2d": ("depthwise_conv", [r(2, 6, 6, 3), r(3, 3, 3, 2)], {"padding": "same"}),
    "conv_transpose2d": ("conv_transpose", [r(2, 4, 5, 3), r(3, 3, 2, 3)],
                         {"strides": 2, "padding": "same"}),
    "conv_transpose1d": ("conv_transpose", [r(2, 5, 3), r(3, 4, 3)], {"strides": 2}),
    "max_pool2d": ("max_pool", [r(2, 6, 7, 3)], {"pool_size": 2}),
    "max_pool1d_same": ("max_pool", [r(2, 7, 3)], {"pool_size": 3, "strides": 2,
                                                   "padding": "same"}),
    "average_pool2d_same": ("average_pool", [r(2, 5, 5, 2)], {"pool_size": 2,
                                                              "padding": "same"}),
    "batch_normalization": ("batch_normalization",
                            [r(4, 3, 5), r(3), np.abs(r(3)) + 0.5, r(3), r(3)],
                            {"axis": 1}),
    "rms_normalization": ("rms_normalization", [r(3, 6), r(6)], {}),
}
arrays = {}
for name, (fn, args, kwargs) in CASES.items():
    call_kwargs = dict(kwargs)
    if fn == "batch_normalization":
        x, mean, var, offset, scale = args
        out = keras.ops.batch_normalization(x, mean, var, offset=offset, scale=scale,
                                            **call_kwargs)
    elif fn == "rms_normalization":
        out = keras.ops.rms_normalization(args[0], scale=args[1], **call_kwargs)
    elif fn in ("max_pool", "average_pool"):
        out = getattr(keras.ops, fn)(args[0], **call_kwargs)
    else:
        out = getattr(keras.ops, fn)(*args, **call_kwargs)
    for i, a in enumerate(args):
        arrays[f"{name}/arg{i}"] = a
    arrays[f"{name}/out"] = keras.ops.convert_to_numpy(out)
    arrays[f"{name}/spec"] = np.array(json.dumps({"fn": fn, "kwargs": kwargs,
                                                  "nargs": len(args)}))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops_nn.npz")
tmp = path + ".tmp.npz"
np.savez(tmp, **arrays)
os.replace(tmp, path)
print(f"wrote {path}: {len(CASES)} cases")
