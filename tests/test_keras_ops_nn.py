"""cr.ops' keras.ops.nn functions (conv, depthwise_conv, conv_transpose,
max_pool, average_pool, batch_normalization, rms_normalization): values
against real Keras 3.15.1 (tests/keras_refs/gen_ops_nn.py -> ops_nn.npz) and
gradients through check_op (finite differences, the three faces)."""
import json
import os

import numpy as np
import pytest

from chainrule import ops

from helpers import check_op

REFS = np.load(os.path.join(os.path.dirname(__file__), "keras_refs", "ops_nn.npz"))
CASES = sorted({k.split("/")[0] for k in REFS.files})


def _call(name):
    spec = json.loads(str(REFS[f"{name}/spec"]))
    fn, kwargs = spec["fn"], spec["kwargs"]

    def call(*args):
        if fn == "batch_normalization":
            x, mean, var, offset, scale = args
            return ops.batch_normalization(x, mean, var, offset=offset, scale=scale, **kwargs)
        if fn == "rms_normalization":
            return ops.rms_normalization(args[0], scale=args[1], **kwargs)
        return getattr(ops, fn)(*args, **kwargs)
    args = [REFS[f"{name}/arg{i}"] for i in range(spec["nargs"])]
    return call, args


@pytest.mark.parametrize("name", CASES)
def test_matches_keras(name):
    call, args = _call(name)
    out = call(*args)
    np.testing.assert_allclose(out.numpy(), REFS[f"{name}/out"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_gradients(name):
    call, args = _call(name)
    arrays = [a.astype(np.float64) for a in args]
    if name == "batch_normalization":          # keep the variance away from 0
        arrays[2] = np.abs(arrays[2]) + 0.5
    check_op(arrays, call, None, float32=False)
