"""``cr.constraints`` (Keras 3's MaxNorm, NonNeg, UnitNorm, MinMaxNorm) and
``add_weight(constraint=...)``: the optimizer projects a weight after each
update, as Keras. Numbers from real Keras 3.15.1
(tests/keras_refs/gen_constraints.py -> constraints.npz)."""
import json
import os

import numpy as np
import pytest

import chainrule as cr

REFS = np.load(os.path.join(os.path.dirname(__file__), "keras_refs", "constraints.npz"))
NAMES = sorted({k.split("/")[0] for k in REFS.files if "/" in k})


def _make(name):
    spec = json.loads(str(REFS[f"{name}/spec"]))
    return getattr(cr.constraints, spec["class"])(**spec["kwargs"])


@pytest.mark.parametrize("name", NAMES)
def test_constraint_matches_keras(name):
    out = _make(name)(REFS["kernel"])
    np.testing.assert_allclose(out.numpy(), REFS[f"{name}/out"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_optimizer_projects_after_the_update_as_keras(name):
    layer = cr.layers.Layer()
    w = layer.add_weight(shape=(4, 3), initializer=REFS["kernel"], constraint=_make(name))
    cr.optimizers.SGD(learning_rate=0.1).apply([cr.tensor(REFS["grad"])], [w])
    np.testing.assert_allclose(w.numpy(), REFS[f"{name}/sgd_step"], rtol=1e-6, atol=1e-7)
    assert w.requires_grad


def test_names_config_and_errors():
    assert isinstance(cr.constraints.get("non_neg"), cr.constraints.NonNeg)
    assert isinstance(cr.constraints.get("MaxNorm"), cr.constraints.MaxNorm)
    spec = cr.constraints.serialize(cr.constraints.max_norm(3.0, axis=1))
    assert spec == {"class_name": "MaxNorm", "config": {"max_value": 3.0, "axis": 1}}
    again = cr.constraints.deserialize(spec)
    assert again.max_value == 3.0 and again.axis == 1
    with pytest.raises(TypeError, match="constraint"):
        cr.constraints.get(3)
    fn = cr.constraints.get(lambda w: w)        # a plain function is a constraint too
    assert callable(fn)


def test_a_function_constraint_in_fit_and_only_that_weight():
    inputs = cr.Input((3,))
    dense = cr.layers.Dense(2)
    model = cr.Model(inputs, dense(inputs))
    dense.kernel.assign(np.full((3, 2), -1.0))
    cr.constraints.set_constraint(dense.kernel, cr.constraints.NonNeg())
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 3), "float32"), np.zeros((8, 2)), epochs=1, verbose=0)
    assert (dense.kernel.numpy() >= 0).all()
    assert cr.constraints.constraint_of(dense.bias) is None


def test_the_entry_goes_with_the_weight():
    import gc
    w = cr.tensor([1.0], requires_grad=True)
    cr.constraints.set_constraint(w, cr.constraints.NonNeg())
    key = id(w)
    del w
    gc.collect()
    assert key not in cr.constraints._OF
