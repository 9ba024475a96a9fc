"""The per-sample loss functions and loss objects against real Keras 3
(tests/keras_refs/gen_losses.py -> losses.npz; issue 16): on 1-D input Keras
averages over the last axis and returns a scalar. Also the
MeanAbsolutePercentageError metric (two updates, the second weighted)."""
import json
import os

import numpy as np
import pytest

import chainrule as cr

REFS = np.load(os.path.join(os.path.dirname(__file__), "keras_refs", "losses.npz"))
CASES = sorted({key.split("/")[0] for key in REFS.files})


@pytest.mark.parametrize("name", CASES)
def test_loss_matches_keras(name):
    spec = json.loads(str(REFS[f"{name}/spec"]))
    y_true, y_pred = REFS[f"{name}/y_true"], REFS[f"{name}/y_pred"]
    want = REFS[f"{name}/out"]
    if spec["fn"].startswith("metrics."):
        metric = getattr(cr.metrics, spec["fn"].split(".", 1)[1])(**spec["kwargs"])
        metric.update_state(y_true, y_pred)
        metric.update_state(y_true[:2], y_pred[:2] * 0.5,
                            sample_weight=REFS[f"{name}/sample_weight"][:2])
        np.testing.assert_allclose(float(metric.result()), float(want), rtol=1e-5)
        return
    fn = getattr(cr.losses, spec["fn"])
    if spec["fn"][0].isupper():
        weight_key = f"{name}/sample_weight"
        weights = REFS[weight_key] if weight_key in REFS.files else None
        got = fn(**spec["kwargs"])(y_true, y_pred, sample_weight=weights)
    else:
        got = fn(y_true, y_pred, **spec["kwargs"])
    got = np.asarray(got.numpy() if isinstance(got, cr.Tensor) else got)
    assert got.shape == want.shape, f"{name}: shape {got.shape}, Keras gives {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)


def test_one_d_binary_crossentropy_is_a_differentiable_scalar():
    p = cr.tensor([0.2, 0.7, 0.9], requires_grad=True)
    loss = cr.losses.binary_crossentropy(np.array([0.0, 1.0, 1.0]), p)
    assert loss.shape == ()
    loss.backward()
    # d/dp mean(-[y log p + (1-y) log(1-p)]) = (p - y) / (p (1 - p)) / n
    y = np.array([0.0, 1.0, 1.0])
    want = (p.numpy() - y) / (p.numpy() * (1 - p.numpy())) / 3
    np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-5)
