"""Recursive ``trainable`` (issue 22), against Keras 3's own answers.

The reference file ``keras_refs/freezing.npz`` comes from real Keras
(``keras_refs/gen_freezing.py``): a base model inside a functional model,
frozen through the outer model, then one layer unfrozen, then the guide's
fine-tuning set-up and one SGD step.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers as L

REF = np.load(Path(__file__).parent / "keras_refs" / "freezing.npz")
STAGES = json.loads(str(REF["stages"]))


def test_trainable_is_recursive_as_in_the_keras_guide():
    # The example of the guide "Transfer learning & fine-tuning", section
    # "Recursive setting of the trainable attribute".
    inner_model = cr.Sequential([cr.Input((3,)), L.Dense(3, activation="relu"),
                                 L.Dense(3, activation="relu")])
    model = cr.Sequential([cr.Input((3,)), inner_model, L.Dense(3, activation="sigmoid")])
    model.trainable = False
    assert inner_model.trainable is False
    assert inner_model.layers[0].trainable is False
    assert inner_model.trainable_weights == [] and len(inner_model.non_trainable_weights) == 4
    model.trainable = True
    assert all(layer.trainable for layer in inner_model.layers)
    assert len(inner_model.trainable_weights) == 4


def test_a_layer_with_sublayers_sets_them():
    class Block(L.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.parts = [L.Dense(2), L.Dense(2)]

        def call(self, x):
            return self.parts[1](self.parts[0](x))

    block = Block()
    block(np.ones((1, 2), np.float32))
    block.trainable = False
    assert [p.trainable for p in block.parts] == [False, False]
    assert block.trainable_weights == [] and len(block.non_trainable_weights) == 4


def _build():
    base = cr.Sequential([
        cr.Input((4,)),
        L.Dense(5, activation="relu", name="b_dense1"),
        L.BatchNormalization(name="b_bn"),
        L.Dense(3, activation="tanh", name="b_dense2"),
    ], name="base")
    inputs = cr.Input((4,))
    head = L.Dense(1, name="head")
    model = cr.Model(inputs, head(base(inputs)), name="outer")
    named = {"outer": model, "base": base, **{layer.name: layer for layer in base.layers},
             "head": head}
    owner = {id(w): f"{layer.name}/{w.name}" for layer in base.layers + [head]
             for w in layer._weights}
    return model, base, head, named, owner


def _record(named, owner):
    return {
        "trainable": {name: layer.trainable for name, layer in named.items()},
        "trainable_weights": {name: [owner[id(w)] for w in layer.trainable_weights]
                              for name, layer in named.items()},
        "non_trainable_weights": {name: sorted(owner[id(w)] for w in layer.non_trainable_weights)
                                  for name, layer in named.items()},
    }


def _keras(stage):
    # Keras lists non-trainable weights in creation order, chainrule after the
    # trainable ones: compare those as sets.
    out = dict(stage)
    out["non_trainable_weights"] = {k: sorted(v) for k, v in stage["non_trainable_weights"].items()}
    return out


def test_freezing_through_the_outer_model_then_unfreezing_one_layer_matches_keras():
    model, base, head, named, owner = _build()
    model.trainable = False                           # 1. frozen through the outer model
    assert _record(named, owner) == _keras(STAGES[0])
    head.trainable = True                             # 2. one layer unfrozen, outer still frozen
    assert _record(named, owner) == _keras(STAGES[1])
    model.trainable = True                            # 3. the guide's fine-tuning set-up
    base.trainable = False
    base.layers[2].trainable = True
    assert _record(named, owner) == _keras(STAGES[2])


def test_a_training_step_leaves_frozen_weights_and_batchnorm_statistics_unchanged():
    model, base, head, named, owner = _build()
    by_name = {f"{layer.name}/{w.name}": w for layer in base.layers + [head]
               for w in layer._weights}
    order = [str(n) for n in REF["order"]]
    for i, name in enumerate(order):                  # Keras' initial weights
        by_name[name].data[...] = REF[f"before_{i}"]
    model.trainable = True
    base.trainable = False
    base.layers[2].trainable = True
    model.compile(optimizer=cr.optimizers.SGD(0.1), loss="mse")
    history = model.fit(REF["x"], REF["y"], batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], REF["loss"], rtol=1e-5)
    trained = set(STAGES[2]["trainable_weights"]["outer"])
    for i, name in enumerate(order):
        after = by_name[name].data
        if name in trained:
            assert not np.array_equal(after, REF[f"before_{i}"]), name
            np.testing.assert_allclose(after, REF[f"after_{i}"], rtol=1e-5, atol=1e-6,
                                       err_msg=name)
        else:   # frozen, BatchNormalization's moving statistics included: bit for bit
            np.testing.assert_array_equal(after, REF[f"before_{i}"], err_msg=name)
            np.testing.assert_array_equal(after, REF[f"after_{i}"], err_msg=name)


@pytest.mark.parametrize("value", [False, True])
def test_trainable_survives_get_config(value):
    model, base, head, named, owner = _build()
    base.trainable = value
    assert base.get_config()["trainable"] is value
    assert all(layer.get_config()["trainable"] is value for layer in base.layers)


def test_partial_freezing_survives_save_and_load(tmp_path):
    model, base, head, named, owner = _build()
    base.trainable = False
    base.layers[2].trainable = True
    model.save(tmp_path / "frozen.chainrule")
    loaded = cr.load_model(tmp_path / "frozen.chainrule")
    loaded_base = loaded.layers[1]
    assert loaded_base.trainable is False
    assert [layer.trainable for layer in loaded_base.layers] == [False, False, True]
    assert [w.shape for w in loaded.trainable_weights] == [w.shape for w in model.trainable_weights]
