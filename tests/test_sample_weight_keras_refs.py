"""sample_weight and class_weight give real Keras 3's numbers (issue 16): the
same initial weights, SGD, no shuffling, a short last batch; the history, the
trained weights and evaluate match what tests/keras_refs/gen_sample_weight.py
recorded from keras==3.15.1 (torch backend)."""
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers

REFS = np.load(os.path.join(os.path.dirname(__file__), "keras_refs", "sample_weight.npz"))
CLASS_WEIGHT = {0: 1.0, 1: 2.5, 2: 0.5}            # as in the generator


def _classifier(metrics, weighted_metrics=None):
    model = cr.Sequential([cr.Input((4,)), layers.Dense(5, activation="tanh"),
                           layers.Dense(3, activation="softmax")])
    model.set_weights([REFS[f"init/{i}"] for i in range(4)])
    model.compile(cr.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                  metrics=metrics, weighted_metrics=weighted_metrics)
    return model


def _check(case, model, history, evaluation):
    keys = {k.split("/")[2] for k in REFS.files if k.startswith(f"{case}/history/")}
    assert set(history) == keys
    for key in keys:
        np.testing.assert_allclose(history[key], REFS[f"{case}/history/{key}"], rtol=1e-5,
                                   atol=1e-6, err_msg=f"{case}: history {key}")
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, REFS[f"{case}/weights/{i}"], rtol=1e-5, atol=1e-6,
                                   err_msg=f"{case}: weight {i}")
    keys = {k.split("/")[2] for k in REFS.files if k.startswith(f"{case}/evaluate/")}
    assert set(evaluation) == keys
    for key in keys:
        assert evaluation[key] == pytest.approx(float(REFS[f"{case}/evaluate/{key}"]),
                                                rel=1e-5, abs=1e-6), f"{case}: evaluate {key}"


def test_sample_weight_with_plain_and_weighted_metrics_and_weighted_validation():
    x, y, sw, val_sw = REFS["x"], REFS["y"], REFS["sw"], REFS["val_sw"]
    model = _classifier(["accuracy"], ["accuracy"])
    history = model.fit(x, y, sample_weight=sw, batch_size=8, epochs=3, shuffle=False,
                        verbose=0, validation_data=(x, y, val_sw))
    evaluation = model.evaluate(x, y, sample_weight=val_sw, batch_size=8, return_dict=True)
    _check("sample_weight", model, history.history, evaluation)


def test_class_weight():
    x, y = REFS["x"], REFS["y"]
    model = _classifier(["accuracy"])
    history = model.fit(x, y, class_weight=CLASS_WEIGHT, batch_size=8, epochs=3,
                        shuffle=False, verbose=0)
    _check("class_weight", model, history.history,
           model.evaluate(x, y, batch_size=8, return_dict=True))


def test_sample_weight_with_mean_squared_error_and_column_weights():
    x, y, sw = REFS["x"], REFS["y_reg"], REFS["sw"]
    model = cr.Sequential([cr.Input((4,)), layers.Dense(1)])
    model.set_weights([REFS["init_reg/0"], REFS["init_reg/1"]])
    model.compile(cr.optimizers.SGD(0.05), "mse", metrics=["mae"], weighted_metrics=["mae"])
    history = model.fit(x, y, sample_weight=sw[:, None], batch_size=8, epochs=3,
                        shuffle=False, verbose=0)
    _check("regression", model, history.history,
           model.evaluate(x, y, sample_weight=sw, batch_size=8, return_dict=True))


def test_class_weight_and_sample_weight_together_are_refused():
    model = _classifier(["accuracy"])
    with pytest.raises(ValueError, match="class_weight or sample_weight"):
        model.fit(REFS["x"], REFS["y"], class_weight=CLASS_WEIGHT, sample_weight=REFS["sw"],
                  verbose=0)
