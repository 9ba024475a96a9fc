"""Real Keras 3 files in and out (chainrule/models/keras_format.py).

The ``.keras`` fixtures and their inputs/predictions were written by real
Keras (keras==3.15.1, torch backend) with tests/keras_refs/gen_keras_files.py.
The test that hands chainrule's files to real Keras runs only where Keras is
installed (it is marked slow: one Keras import costs ~10 s).
"""
import io
import json
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers

h5py = pytest.importorskip("h5py")

REFS = os.path.join(os.path.dirname(__file__), "keras_refs")
FIXTURES = ["mlp", "convnet", "lstm_text", "gru_rnn", "two_inputs", "nested"]

# Fixtures of issue 17's layers (tests/keras_refs/gen_keras_files_17.py), with
# the chainrule layers each must hold once loaded.
FIXTURES_17 = {
    "transformer": ["MultiHeadAttention", "LayerNormalization"],
    "cross_attention": ["MultiHeadAttention", "LayerNormalization"],
    "conv1d": ["Conv1D", "MaxPooling1D", "AveragePooling1D", "UpSampling1D", "ZeroPadding1D",
               "Cropping1D", "Conv1DTranspose"],
    "conv2d_variants": ["GroupNormalization", "DepthwiseConv2D", "SeparableConv2D",
                        "Conv2DTranspose", "ZeroPadding2D", "Cropping2D", "UpSampling2D",
                        "SpatialDropout2D"],
    "merges": ["Multiply", "Subtract", "Average", "Maximum", "Minimum", "Dot"],
    "masked_sequences": ["Bidirectional", "TimeDistributed", "Attention", "Masking", "Permute",
                         "RepeatVector"],
    "small_layers": ["Rescaling", "Normalization", "ReLU", "PReLU", "ELU", "GaussianNoise",
                     "GaussianDropout", "SpatialDropout1D", "Identity", "Softmax"],
    "attention_variants": ["Attention", "MultiHeadAttention"],
    "constraints": ["Conv2D", "LayerNormalization", "DepthwiseConv2D"],
    "masked_transformer": ["Embedding", "MultiHeadAttention", "LayerNormalization"],
}


def _fixture(name):
    data = np.load(os.path.join(REFS, f"keras_{name}.npz"))
    return os.path.join(REFS, f"keras_{name}.keras"), data


def _group(data, prefix):
    """``data[prefix]`` as a one-item list, or ``data[prefix0], data[prefix1]...``."""
    if prefix in data.files:
        return [data[prefix]]
    return [data[f"{prefix}{i}"] for i in range(10) if f"{prefix}{i}" in data.files]


def _one_or_list(arrays):
    return arrays[0] if len(arrays) == 1 else arrays


def _as_list(pred):
    return pred if isinstance(pred, list) else [pred]


# --------------------------------------------------------------------------
# .keras in
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", FIXTURES)
def test_load_keras_file_predicts_keras_numbers(name):
    path, data = _fixture(name)
    model = cr.load_model(path)
    predictions = _as_list(model.predict(_one_or_list(_group(data, "x"))))
    expected = _group(data, "y")
    assert len(predictions) == len(expected)
    for got, want in zip(predictions, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(FIXTURES_17))
def test_load_keras_file_of_issue_17_layers_predicts_keras_numbers(name):
    path, data = _fixture(name)
    model = cr.load_model(path)
    got = model.predict(_one_or_list(_group(data, "x")))
    np.testing.assert_allclose(got, data["y"], rtol=1e-5, atol=1e-6)
    for class_name in FIXTURES_17[name]:
        assert any(type(layer).__name__ == class_name or
                   type(getattr(layer, "layer", None)).__name__ == class_name
                   for layer in model.layers), class_name


def test_attention_called_with_keywords_in_the_keras_config(tmp_path):
    # Keras writes a call as it was made: mha(x, x) as two positional tensors
    # (the fixture), mha(query=x, value=x) as keyword arguments only.
    def keywords(config):
        node = next(l for l in config["config"]["layers"]
                    if l["name"] == "mha")["inbound_nodes"][0]
        assert len(node["args"]) == 2
        node["kwargs"] = {"query": node["args"][0], "value": node["args"][1]}
        node["args"] = []
    edited = _rewrite(tmp_path, "transformer", edit_config=keywords)
    data = _fixture("transformer")[1]
    np.testing.assert_allclose(cr.load_model(edited).predict(data["x"]), data["y"],
                               rtol=1e-5, atol=1e-6)


def test_attention_weights_of_the_wrong_shape_name_the_sublayer_group(tmp_path):
    def narrower(config):
        next(l for l in config["config"]["layers"] if l["name"] == "mha")["config"][
            "key_dim"] = 3
    with pytest.raises(ValueError, match=r"layers/multi_head_attention/query_dense/vars/0' has "
                                         r"shape \(8, 2, 4\).*MultiHeadAttention 'mha'"):
        cr.load_model(_rewrite(tmp_path, "transformer", edit_config=narrower))


@pytest.mark.parametrize("name", list(FIXTURES_17))
def test_optimizer_moments_of_issue_17_layers_land_on_their_weights(name):
    # Keras' Adam keeps one moment per trainable variable, in Keras' order of
    # model.trainable_variables (attention projections, Bidirectional's two
    # cells...); the loaded optimizer must hold each beside the right weight.
    path, data = _fixture(name)
    model = cr.load_model(path)
    state = model.optimizer.get_state(model.trainable_weights)
    count = sum(f.startswith("var") for f in data.files)
    assert count == len(model.trainable_weights) > 0
    for i in range(count):
        value, momentum = data[f"var{i}"], data[f"momentum{i}"]
        matches = [j for j, w in enumerate(model.trainable_weights)
                   if w.shape == value.shape and np.array_equal(w.data, value)]
        assert matches, f"{name}: Keras' variable {i} {value.shape} is no chainrule weight"
        for j in matches:
            np.testing.assert_array_equal(state[f"{j}/momentum"], momentum,
                                          err_msg=f"{name}: variable {i}")


def test_keras_weight_constraints_are_read_and_applied():
    # Keras' MaxNorm, NonNeg, UnitNorm and MinMaxNorm on issue 17's layers are
    # the same constraints in chainrule, applied after each training step.
    path, data = _fixture("constraints")
    model = cr.load_model(path)
    conv, norm, depthwise = model.layers[:3]
    assert (type(conv.kernel_constraint).__name__, type(conv.bias_constraint).__name__,
            type(norm.gamma_constraint).__name__, type(depthwise.depthwise_constraint).__name__
            ) == ("MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm")
    x = data["x"]
    model.fit(x, np.full((len(x), 2), 5.0, np.float32), epochs=3, verbose=0)
    # norms along axis 0, Keras' default axis (keras/src/constraints/constraints.py)
    norms = np.sqrt((conv.kernel.data ** 2).sum(axis=0))
    assert norms.max() <= 0.5 + 1e-6 and norms.max() > 0.45       # the bound is reached
    assert conv.bias.data.min() >= 0
    np.testing.assert_allclose(np.sqrt((norm.gamma.data ** 2).sum()), 1.0, rtol=1e-5)
    norms = np.sqrt((depthwise.kernel.data ** 2).sum(axis=0))
    assert norms.min() >= 0.2 - 1e-6 and norms.max() <= 0.6 + 1e-6


def test_masked_attention_from_a_keras_file_ignores_the_padding():
    # Keras' numbers on padded ids come from masked attention and pooling
    # (the fixture test); without the mask the same weights give others.
    path, data = _fixture("masked_transformer")
    assert (data["x"] == 0).any()
    model = cr.load_model(path)
    np.testing.assert_allclose(model.predict(data["x"]), data["y"], rtol=1e-5, atol=1e-6)
    next(l for l in model.layers if type(l).__name__ == "Embedding").mask_zero = False
    assert not np.allclose(model.predict(data["x"]), data["y"], rtol=1e-3)


def test_keras_mask_ops_are_read_as_chainrule_masks(tmp_path):
    # Keras records the masks of Embedding(mask_zero=True) and Masking as ops
    # (NotEqual, Any, ConvertToTensor) passed as mask=; chainrule carries the
    # same masks itself, so it does not rebuild those ops, and predicts Keras'
    # numbers on padded inputs (test above).
    path, data = _fixture("masked_sequences")
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    assert {"NotEqual", "Any"} <= {l["class_name"] for l in config["config"]["layers"]}
    model = cr.load_model(path)
    assert {"not_equal", "not_equal_1", "any"}.isdisjoint(l.name for l in model.layers)
    ids, signal = _group(data, "x")
    assert (ids == 0).any() and np.all(signal == 0, axis=-1).any()     # padded steps
    # Masks matter: the same weights without the mask give other numbers.
    embedding = next(l for l in model.layers if type(l).__name__ == "Embedding")
    assert embedding.mask_zero
    unmasked = cr.load_model(path)
    next(l for l in unmasked.layers if type(l).__name__ == "Embedding").mask_zero = False
    assert not np.allclose(unmasked.predict([ids, signal]), data["y"], rtol=1e-3)
    # A mask op whose output is used as data is refused by name.
    def mask_as_data(config):
        out = next(l for l in config["config"]["layers"] if l["name"] == "out")
        out["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["not_equal", 0, 0]
    with pytest.raises(ValueError, match=r"layer 'out'.*Keras op 'not_equal'.*mask"):
        cr.load_model(_rewrite(tmp_path, "masked_sequences", edit_config=mask_as_data))


def test_loaded_layers_keep_keras_names_and_structure():
    path, _ = _fixture("two_inputs")
    model = cr.load_model(path)
    names = [layer.name for layer in model.layers]
    assert {"left", "right", "pre_a", "pre_b", "shared", "label", "score"} <= set(names)
    shared = next(layer for layer in model.layers if layer.name == "shared")
    assert sum(node[0] is shared for node in model._nodes) == 2      # one layer, two calls
    assert model.output_names == ["label", "score"]


@pytest.mark.parametrize("name", ["mlp", "two_inputs", "gru_rnn", "lstm_text", "nested"])
def test_loaded_optimizer_state_and_compile_config_continue_training_as_keras(name):
    # Keras took one more step after saving; the loaded model takes the same
    # step from the restored optimizer state (Adam / RMSprop slots, iteration
    # count, learning rate) and compile config (losses, loss weights, L2).
    path, data = _fixture(name)
    model = cr.load_model(path)
    model.fit(_one_or_list(_group(data, "step_x")), _one_or_list(_group(data, "step_y")),
              batch_size=16, epochs=1, shuffle=False, verbose=0)
    predictions = _as_list(model.predict(_one_or_list(_group(data, "x"))))
    for got, want in zip(predictions, _group(data, "after_step")):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_compile_config_translated():
    model = cr.load_model(_fixture("mlp")[0])
    assert type(model.optimizer) is cr.optimizers.Adam
    assert model.optimizer.learning_rate == pytest.approx(0.01)
    with h5py.File(io.BytesIO(zipfile.ZipFile(_fixture("mlp")[0]).read("model.weights.h5"))) as f:
        assert model.optimizer.iterations == int(f["optimizer/vars/0"][()])
    assert model.compiled
    uncompiled = cr.load_model(_fixture("mlp")[0], compile=False)
    assert uncompiled.optimizer is None


def test_load_weights_from_keras_file_into_a_chainrule_model(tmp_path):
    path, data = _fixture("mlp")
    model = cr.Sequential([cr.Input((8,)), layers.Dense(16, activation="relu"),
                           layers.Dense(12, activation="tanh"),
                           layers.Dense(3, activation="softmax")])
    model.load_weights(path)                              # the weights inside a .keras
    np.testing.assert_allclose(model.predict(data["x"]), data["y"], rtol=1e-5, atol=1e-6)
    h5_path = tmp_path / "mlp.weights.h5"
    with zipfile.ZipFile(path) as archive:
        h5_path.write_bytes(archive.read("model.weights.h5"))
    fresh = cr.Sequential([cr.Input((8,)), layers.Dense(16, activation="relu"),
                           layers.Dense(12, activation="tanh"),
                           layers.Dense(3, activation="softmax")])
    fresh.load_weights(h5_path)                           # a Keras .weights.h5
    np.testing.assert_allclose(fresh.predict(data["x"]), data["y"], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# Bad input: a clear ValueError naming the file part or the layer
# --------------------------------------------------------------------------
def _rewrite(tmp_path, name, edit_config=None, edit_weights=None, target="edited.keras"):
    """A copy of a fixture with its config (a dict) and/or weights (bytes) edited."""
    with zipfile.ZipFile(_fixture(name)[0]) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    if edit_config is not None:
        config = json.loads(members["config.json"])
        edit_config(config)
        members["config.json"] = json.dumps(config).encode()
    if edit_weights is not None:
        members["model.weights.h5"] = edit_weights(members["model.weights.h5"])
    out = tmp_path / target
    with zipfile.ZipFile(out, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return out


def test_truncated_h5_is_a_clear_error(tmp_path):
    path = _rewrite(tmp_path, "mlp", edit_weights=lambda data: data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"model\.weights\.h5.*(HDF5|truncated)"):
        cr.load_model(path)
    weights = tmp_path / "cut.weights.h5"
    with zipfile.ZipFile(_fixture("mlp")[0]) as archive:
        weights.write_bytes(archive.read("model.weights.h5")[:3000])
    model = cr.load_model(_fixture("mlp")[0], compile=False)
    with pytest.raises(ValueError, match=r"cut\.weights\.h5"):
        model.load_weights(weights)


def test_truncated_keras_zip_is_a_clear_error(tmp_path):
    data = open(_fixture("mlp")[0], "rb").read()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.keras.*not a valid \.keras file"):
        cr.load_model(path)


def test_unknown_class_names_the_layer(tmp_path):
    def rename(config):
        config["config"]["layers"][2]["class_name"] = "FancyDense"
    path = _rewrite(tmp_path, "mlp", edit_config=rename)
    with pytest.raises(ValueError, match=r"config\.json.*'dense_1'.*FancyDense"):
        cr.load_model(path)


def test_custom_objects_supply_an_unknown_class(tmp_path):
    class FancyDense(layers.Dense):
        pass

    def rename(config):
        layer = config["config"]["layers"][2]
        layer["class_name"] = "FancyDense"
        layer["module"] = "my_package"
        layer["registered_name"] = "my_package>FancyDense"
    def regroup(data):
        # Keras names a layer's weight group after its class: dense, fancy_dense, dense_1.
        scratch = tmp_path / "scratch.h5"
        scratch.write_bytes(data)
        with h5py.File(scratch, "r+") as f:
            f.move("layers/dense_1", "layers/fancy_dense")
            f.move("layers/dense_2", "layers/dense_1")
        return scratch.read_bytes()
    path = _rewrite(tmp_path, "mlp", edit_config=rename, edit_weights=regroup)
    model = cr.load_model(path, custom_objects={"my_package>FancyDense": FancyDense},
                          compile=False)
    assert type(model.layers[1]) is FancyDense
    data = _fixture("mlp")[1]
    np.testing.assert_allclose(model.predict(data["x"]), data["y"], rtol=1e-5, atol=1e-6)


def test_weights_of_the_wrong_shape_name_the_layer_and_group(tmp_path):
    model = cr.Sequential([cr.Input((8,)), layers.Dense(16, activation="relu"),
                           layers.Dense(13), layers.Dense(3)])
    with pytest.raises(ValueError, match=r"layers/dense_1/vars/0.*\(16, 12\).*'dense_\d+'"):
        model.load_weights(_fixture("mlp")[0])
    before = model.get_weights()
    np.testing.assert_array_equal(before[0], model.get_weights()[0])   # nothing half-loaded

    def widen(config):
        config["config"]["layers"][2]["config"]["units"] = 13
    path = _rewrite(tmp_path, "mlp", edit_config=widen)
    with pytest.raises(ValueError, match=r"layers/dense_1/vars/0"):
        cr.load_model(path)


def test_lambda_refused_in_safe_mode_and_never_run(tmp_path):
    path = os.path.join(REFS, "keras_lambda.keras")
    with pytest.raises(ValueError, match=r"lambda.*safe_mode=False"):
        cr.load_model(path)
    # Without safe mode the code is still not run: a lambda's bytecode is refused.
    with pytest.raises(ValueError, match=r"'double' \(Lambda\).*bytecode.*never runs"):
        cr.load_model(path, safe_mode=False)


def scaled_tanh(t):
    """The twin of the function Keras' Lambda fixture names (gen_keras_files_17.py)."""
    return cr.ops.tanh(t) * 1.5


def test_keras_lambda_with_a_named_function_loads_only_when_trusted(tmp_path):
    path, data = _fixture("named_lambda")
    with zipfile.ZipFile(path) as archive:
        spec = json.loads(archive.read("config.json"))["config"]["layers"][-1]
    assert spec["config"]["function"]["config"] == "scaled_tanh"     # a name, no code
    with pytest.raises(ValueError, match=r"'squash' \(Lambda\).*refused in safe mode"):
        cr.load_model(path)
    with pytest.raises(ValueError, match=r"'squash'.*'scaled_tanh'.*custom_objects"):
        cr.load_model(path, safe_mode=False)
    model = cr.load_model(path, safe_mode=False, custom_objects={"scaled_tanh": scaled_tanh})
    np.testing.assert_allclose(model.predict(data["x"]), data["y"], rtol=1e-5, atol=1e-6)


def _times_three(t):
    return t * 3.0


def test_chainrule_lambda_in_a_keras_file_needs_trust_and_its_function_by_name(tmp_path):
    x = cr.Input((3,), name="x")
    model = cr.Model(x, layers.Lambda(_times_three, name="triple")(layers.Dense(2)(x)))
    model.save(tmp_path / "lambda.keras")
    with zipfile.ZipFile(tmp_path / "lambda.keras") as archive:
        spec = json.loads(archive.read("config.json"))["config"]["layers"][-1]
    # Keras' form of a named function: its name, never its code
    assert spec["config"]["function"]["class_name"] == "function"
    assert spec["config"]["function"]["config"] == "_times_three"
    with pytest.raises(ValueError, match=r"'triple' \(Lambda\).*refused in safe mode"):
        cr.load_model(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match=r"'triple'.*'_times_three'.*custom_objects"):
        cr.load_model(tmp_path / "lambda.keras", safe_mode=False)
    loaded = cr.load_model(tmp_path / "lambda.keras", safe_mode=False,
                           custom_objects={"_times_three": _times_three})
    data = np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))


def test_constraint_refused_by_name(tmp_path):
    def constrain(config):
        config["config"]["layers"][1]["config"]["kernel_constraint"] = {
            "module": "keras.constraints", "class_name": "MaxNorm",
            "config": {"max_value": 2.0, "axis": 0}, "registered_name": None}
    path = _rewrite(tmp_path, "mlp", edit_config=constrain)
    with pytest.raises(ValueError, match=r"'dense'.*kernel_constraint='MaxNorm'"):
        cr.load_model(path)


def test_unsupported_argument_refused_by_name(tmp_path):
    def low_rank(config):
        config["config"]["layers"][1]["config"]["lora_rank"] = 4
    path = _rewrite(tmp_path, "convnet", edit_config=low_rank)
    with pytest.raises(ValueError, match=r"'conv2d'.*lora_rank=4"):
        cr.load_model(path)


def test_mixed_precision_policy_refused(tmp_path):
    def mixed(config):
        config["config"]["layers"][1]["config"]["dtype"]["config"]["name"] = "mixed_float16"
    path = _rewrite(tmp_path, "mlp", edit_config=mixed)
    with pytest.raises(ValueError, match=r"'dense'.*mixed_float16"):
        cr.load_model(path)


# --------------------------------------------------------------------------
# Formats under each other's names
# --------------------------------------------------------------------------
def _small_model(rng):
    model = cr.Sequential([cr.Input((4,), name="numbers"), layers.Dense(5, activation="relu"),
                           layers.Dense(2)])
    model.compile("adam", "mse")
    x = rng.normal(size=(16, 4)).astype(np.float32)
    model.fit(x, rng.normal(size=(16, 2)).astype(np.float32), epochs=1, verbose=0)
    return model, x


def test_save_keras_writes_the_keras_layout(tmp_path):
    model, _ = _small_model(np.random.default_rng(0))
    model.save(tmp_path / "m.keras")
    assert cr.load_model(tmp_path / "m.keras")._input_name == "numbers"
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert {"config.json", "metadata.json", "model.weights.h5"} <= set(archive.namelist())
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.h5")
    assert config["class_name"] == "Sequential"
    assert [l["class_name"] for l in config["config"]["layers"]] == ["InputLayer", "Dense",
                                                                      "Dense"]
    with h5py.File(io.BytesIO(weights), "r") as f:
        np.testing.assert_array_equal(f["layers/dense_1/vars/0"][()], model.layers[1].kernel.data)
        assert int(f["optimizer/vars/0"][()]) == model.optimizer.iterations
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        np.testing.assert_array_equal(f["layers/dense/vars/1"][()], model.layers[0].bias.data)


def test_chainrule_zip_named_keras_loads_with_a_rename_warning(tmp_path):
    model, x = _small_model(np.random.default_rng(1))
    model.save(tmp_path / "m.chainrule")
    os.replace(tmp_path / "m.chainrule", tmp_path / "old.keras")
    with pytest.warns(UserWarning, match=r"rename it to '.*old\.chainrule'"):
        loaded = cr.load_model(tmp_path / "old.keras")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_keras_file_named_chainrule_is_refused(tmp_path):
    model, _ = _small_model(np.random.default_rng(2))
    model.save(tmp_path / "m.keras")
    os.replace(tmp_path / "m.keras", tmp_path / "m.chainrule")
    with pytest.raises(ValueError, match=r"Keras 3 file.*rename it to \.keras"):
        cr.load_model(tmp_path / "m.chainrule")


def test_old_npz_weights_named_h5_load_with_a_warning(tmp_path):
    model, x = _small_model(np.random.default_rng(3))
    model.save_weights(tmp_path / "w.npz")
    os.replace(tmp_path / "w.npz", tmp_path / "w.h5")
    clone, _ = _small_model(np.random.default_rng(4))
    with pytest.warns(UserWarning, match="npz"):
        clone.load_weights(tmp_path / "w.h5")
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))


def test_legacy_h5_model_path_refused(tmp_path):
    model, _ = _small_model(np.random.default_rng(5))
    with pytest.raises(ValueError, match=r"\.keras.*\.chainrule"):
        model.save(tmp_path / "m.h5")
    model.save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match="HDF5"):
        cr.load_model(tmp_path / "w.weights.h5")


def test_subclassed_model_is_refused_for_keras_format(tmp_path):
    class Two(cr.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)
    model = Two()
    model(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"subclassed.*\.chainrule"):
        model.save(tmp_path / "two.keras")
    assert not (tmp_path / "two.keras").exists()


# --------------------------------------------------------------------------
# .keras out, and back
# --------------------------------------------------------------------------
ROUND_TRIP = FIXTURES + list(FIXTURES_17) + ["native"]


def _chainrule_models(rng, names=ROUND_TRIP):
    """chainrule models of every fixture's architecture with their own weights
    (each trained one epoch by chainrule after loading, or moved at random),
    plus one built here ("native")."""
    models = {}
    for name in names:
        if name == "native":
            continue
        path, data = _fixture(name)
        model = cr.load_model(path)
        xs = _group(data, "x")
        if "step_x" in data.files or "step_x0" in data.files:
            model.fit(_one_or_list(_group(data, "step_x")), _one_or_list(_group(data, "step_y")),
                      batch_size=8, epochs=1, verbose=0)
        else:
            for w in model.trainable_weights:
                w.data += rng.normal(scale=0.05, size=w.shape).astype(w.dtype)
        models[name] = (model, xs)
    if "native" not in names:
        return models
    a = cr.Input((5,), name="a")
    b = cr.Input((5,), name="b")
    shared = layers.Dense(4, activation="tanh")
    h = layers.Add()([shared(a), shared(b)])
    out = layers.Dense(2, activation="softmax")(layers.Concatenate()([h, shared(a)]))
    native = cr.Model([a, b], out, name="native")
    native.compile(cr.optimizers.RMSprop(0.01, momentum=0.5), "sparse_categorical_crossentropy")
    xs = [rng.normal(size=(12, 5)).astype(np.float32) for _ in range(2)]
    native.fit(xs, rng.integers(0, 2, 12), epochs=1, batch_size=4, verbose=0)
    models["native"] = (native, xs)
    return models


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_chainrule_round_trip_through_keras_format(tmp_path, name):
    for name, (model, xs) in _chainrule_models(np.random.default_rng(6), [name]).items():
        model.save(tmp_path / f"{name}.keras")
        loaded = cr.load_model(tmp_path / f"{name}.keras")
        for got, want in zip(_as_list(loaded.predict(_one_or_list(xs))),
                             _as_list(model.predict(_one_or_list(xs)))):
            np.testing.assert_array_equal(got, want)
        saved = model.optimizer.get_state(model.trainable_weights)
        restored = loaded.optimizer.get_state(loaded.trainable_weights)
        assert saved.keys() == restored.keys(), name
        for key in saved:
            np.testing.assert_array_equal(saved[key], restored[key], err_msg=f"{name} {key}")
        model.save_weights(tmp_path / f"{name}.weights.h5")
        fresh = cr.load_model(_fixture(name)[0] if name != "native" else
                              tmp_path / f"{name}.keras", compile=False)
        fresh.load_weights(tmp_path / f"{name}.weights.h5")
        for got, want in zip(_as_list(fresh.predict(_one_or_list(xs))),
                             _as_list(model.predict(_one_or_list(xs)))):
            np.testing.assert_array_equal(got, want)


_KERAS_SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ["KERAS_BACKEND"] = "torch"
    import keras, numpy as np
    def _times_three(t):                  # the function of chainrule's Lambda model
        return t * 3.0
    # clone_model below re-reads the config too: the function must be known there
    keras.saving.get_custom_objects()["_times_three"] = _times_three
    folder = sys.argv[1]
    for name in sys.argv[2:]:
        data = np.load(os.path.join(folder, name + "_in.npz"))
        xs = [data[k] for k in sorted(data.files)]
        x = xs[0] if len(xs) == 1 else xs
        model = keras.saving.load_model(os.path.join(folder, name + ".keras"),
                                        custom_objects={"_times_three": _times_three})
        out = {}
        for i, p in enumerate(model.predict(x, verbose=0) if len(model.outputs) > 1
                              else [model.predict(x, verbose=0)]):
            out[f"model{i}"] = np.asarray(p)
        out["iterations"] = np.asarray(int(model.optimizer.iterations))
        # the same architecture with fresh weights, then chainrule's .weights.h5
        clone = keras.models.clone_model(model)
        clone.load_weights(os.path.join(folder, name + ".weights.h5"))
        for i, p in enumerate(clone.predict(x, verbose=0) if len(clone.outputs) > 1
                              else [clone.predict(x, verbose=0)]):
            out[f"weights{i}"] = np.asarray(p)
        np.savez(os.path.join(folder, name + "_out.npz"), **out)
""")


def _keras_available():
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in ("keras", "torch"))


@pytest.mark.slow
@pytest.mark.skipif(not _keras_available(), reason="needs keras and torch")
def test_real_keras_loads_chainrule_files_and_predicts_the_same(tmp_path):
    models = _chainrule_models(np.random.default_rng(7))
    x = cr.Input((3,), name="x")
    with_lambda = cr.Model(x, layers.Lambda(_times_three)(layers.Dense(2)(x)), name="lambda")
    with_lambda.compile("sgd", "mse")
    models["lambda"] = (with_lambda, [np.random.default_rng(8).normal(size=(5, 3))
                                      .astype(np.float32)])
    for name, (model, xs) in models.items():
        model.save(tmp_path / f"{name}.keras")
        model.save_weights(tmp_path / f"{name}.weights.h5")
        np.savez(tmp_path / f"{name}_in.npz", **{f"x{i}": x for i, x in enumerate(xs)})
    script = tmp_path / "keras_side.py"
    script.write_text(_KERAS_SCRIPT)
    env = dict(os.environ, KERAS_BACKEND="torch")
    result = subprocess.run([sys.executable, str(script), str(tmp_path), *models],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name, (model, xs) in models.items():
        out = np.load(tmp_path / f"{name}_out.npz")
        ours = _as_list(model.predict(_one_or_list(xs)))
        for i, want in enumerate(ours):
            np.testing.assert_allclose(out[f"model{i}"], want, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}: keras.saving.load_model")
            np.testing.assert_allclose(out[f"weights{i}"], want, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}: keras load_weights")
        assert int(out["iterations"]) == model.optimizer.iterations, name


def test_save_load_warnings_are_absent_for_matching_names(tmp_path):
    model, x = _small_model(np.random.default_rng(8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save(tmp_path / "m.keras")
        model.save(tmp_path / "m.chainrule")
        np.testing.assert_array_equal(cr.load_model(tmp_path / "m.keras").predict(x),
                                      model.predict(x))
        np.testing.assert_array_equal(cr.load_model(tmp_path / "m.chainrule").predict(x),
                                      model.predict(x))


# --------------------------------------------------------------------------
# Datasets: Keras' download cache is looked in too
# --------------------------------------------------------------------------
def test_find_file_looks_in_keras_cache(tmp_path, monkeypatch):
    from chainrule.datasets import _files
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    keras_data = tmp_path / ".keras" / "datasets"
    keras_data.mkdir(parents=True)
    (keras_data / "tiny.npz").write_bytes(b"numbers")
    assert _files.find_file("tiny.npz", download=False) == keras_data / "tiny.npz"
    digest = _files.sha256sum(keras_data / "tiny.npz")
    assert _files.find_file("tiny.npz", sha256=digest, download=False) == keras_data / "tiny.npz"
    with pytest.raises(_files.ChecksumError, match="Keras' cache"):
        _files.find_file("tiny.npz", sha256="0" * 64, download=False)
    # chainrule's own cache comes first
    ours = tmp_path / ".chainrule" / "datasets"
    ours.mkdir(parents=True)
    (ours / "tiny.npz").write_bytes(b"numbers")
    assert _files.find_file("tiny.npz", download=False) == ours / "tiny.npz"
    # $KERAS_HOME moves Keras' cache, as in Keras
    elsewhere = tmp_path / "kh"
    (elsewhere / "datasets").mkdir(parents=True)
    (elsewhere / "datasets" / "other.npz").write_bytes(b"x")
    monkeypatch.setenv("KERAS_HOME", str(elsewhere))
    assert _files.find_file("other.npz", download=False) == elsewhere / "datasets" / "other.npz"
    with pytest.raises(_files.DatasetNotFoundError, match="Keras' cache"):
        _files.find_file("missing.npz", download=False)


# --------------------------------------------------------------------------
# Custom layers: registered, or passed as custom_objects
# --------------------------------------------------------------------------
@cr.saving.register_keras_serializable(package="kf_test")
class ScaledDense(layers.Layer):
    """A registered custom layer with a weight and an argument of its own."""

    def __init__(self, units, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.factor = units, factor

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1], self.units))

    def call(self, x):
        return cr.ops.matmul(x, self.w) * self.factor


def test_registered_custom_layer_round_trips(tmp_path):
    rng = np.random.default_rng(9)
    inputs = cr.Input((3,), name="x")
    model = cr.Model(inputs, layers.Dense(2)(ScaledDense(4, factor=0.5, name="scaled")(inputs)))
    model.save(tmp_path / "custom.keras")
    with zipfile.ZipFile(tmp_path / "custom.keras") as archive:
        config = json.loads(archive.read("config.json"))
    spec = next(l for l in config["config"]["layers"] if l["class_name"] == "ScaledDense")
    assert spec["registered_name"] == "kf_test>ScaledDense"
    assert spec["config"]["factor"] == 0.5
    loaded = cr.load_model(tmp_path / "custom.keras")
    assert type(loaded.layers[1]) is ScaledDense and loaded.layers[1].factor == 0.5
    x = rng.normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_zip_bomb_and_huge_declared_arrays_are_refused_before_reading(tmp_path):
    with zipfile.ZipFile(_fixture("mlp")[0]) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", members["config.json"])
        archive.writestr("model.weights.h5", bytes(3 << 20))     # 3 MB of zeros, ~3 KB packed
    with pytest.raises(ValueError, match="zip bomb"):
        cr.load_model(bomb)

    def huge(data):
        # A dataset declaring 10^10 floats (never written, so the file stays small).
        scratch = tmp_path / "scratch.h5"
        scratch.write_bytes(data)
        with h5py.File(scratch, "r+") as f:
            del f["layers/dense/vars/0"]
            f.create_dataset("layers/dense/vars/0", shape=(100_000, 100_000), dtype="f4",
                             chunks=(100, 100), compression="gzip")
        return scratch.read_bytes()
    path = _rewrite(tmp_path, "mlp", edit_weights=huge)
    with pytest.raises(ValueError, match=r"layers/dense/vars/0.*\(100000, 100000\).*\(8, 16\)"):
        cr.load_model(path)


# --------------------------------------------------------------------------
# Optimizer state of every optimizer chainrule maps, both ways
# --------------------------------------------------------------------------
OPTIMIZERS = {
    "adam_amsgrad": lambda: cr.optimizers.Adam(0.01, amsgrad=True),
    "adam_schedule": lambda: cr.optimizers.Adam(
        cr.optimizers.schedules.ExponentialDecay(0.05, decay_steps=3, decay_rate=0.5)),
    "adamw": lambda: cr.optimizers.AdamW(0.01, weight_decay=0.1),
    "sgd_nesterov": lambda: cr.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
    "rmsprop_centered": lambda: cr.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: cr.optimizers.Adagrad(0.1),
    "adamax": lambda: cr.optimizers.Adamax(0.02),
    "adadelta": lambda: cr.optimizers.Adadelta(1.0),
    "nadam": lambda: cr.optimizers.Nadam(0.01),
    "ftrl": lambda: cr.optimizers.Ftrl(0.1, l1_regularization_strength=0.01),
}


def _trained_with(name, rng):
    model = cr.Sequential([cr.Input((4,), name="x"), layers.Dense(6, activation="tanh"),
                           layers.Dense(2)], name=f"opt_{name}")
    model.compile(OPTIMIZERS[name](), "mse")
    x = rng.normal(size=(24, 4)).astype(np.float32)
    y = rng.normal(size=(24, 2)).astype(np.float32)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model, x, y


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_state_round_trips(tmp_path, name):
    model, x, y = _trained_with(name, np.random.default_rng(10))
    model.save(tmp_path / "m.keras")
    loaded = cr.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is type(model.optimizer)
    saved = model.optimizer.get_state(model.trainable_weights)
    restored = loaded.optimizer.get_state(loaded.trainable_weights)
    assert saved.keys() == restored.keys()
    for key in saved:
        np.testing.assert_array_equal(saved[key], restored[key], err_msg=key)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


_KERAS_STEP_SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ["KERAS_BACKEND"] = "torch"
    import keras, numpy as np
    folder = sys.argv[1]
    for name in sys.argv[2:]:
        data = np.load(os.path.join(folder, name + "_data.npz"))
        model = keras.saving.load_model(os.path.join(folder, name + ".keras"))
        model.fit(data["x"], data["y"], batch_size=8, epochs=1, shuffle=False, verbose=0)
        np.savez(os.path.join(folder, name + "_out.npz"),
                 pred=model.predict(data["x"], verbose=0),
                 iterations=int(model.optimizer.iterations))
""")


@pytest.mark.slow
@pytest.mark.skipif(not _keras_available(), reason="needs keras and torch")
def test_real_keras_continues_training_from_chainrule_optimizer_state(tmp_path):
    # chainrule trains an epoch and saves; real Keras loads the file and trains
    # one more epoch on the same batches; chainrule does the same: same weights.
    models = {}
    for name in OPTIMIZERS:
        model, x, y = _trained_with(name, np.random.default_rng(11))
        model.save(tmp_path / f"{name}.keras")
        np.savez(tmp_path / f"{name}_data.npz", x=x, y=y)
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        models[name] = (model, x)
    script = tmp_path / "keras_step.py"
    script.write_text(_KERAS_STEP_SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(tmp_path), *models],
                            capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, KERAS_BACKEND="torch"))
    assert result.returncode == 0, result.stderr[-3000:]
    for name, (model, x) in models.items():
        out = np.load(tmp_path / f"{name}_out.npz")
        assert int(out["iterations"]) == model.optimizer.iterations, name
        np.testing.assert_allclose(out["pred"], model.predict(x), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def test_keras_save_weights_file_loads_with_its_optimizer_state(tmp_path):
    # keras_mlp.weights.h5 is real Keras' model.save_weights (optimizer included).
    data = _fixture("mlp")[1]
    model = cr.Sequential([cr.Input((8,)), layers.Dense(16, activation="relu"),
                           layers.Dense(12, activation="tanh"),
                           layers.Dense(3, activation="softmax")])
    model.compile(cr.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.load_weights(os.path.join(REFS, "keras_mlp.weights.h5"))
    np.testing.assert_allclose(model.predict(data["x"]), data["y"], rtol=1e-5, atol=1e-6)
    reference = cr.load_model(_fixture("mlp")[0])
    assert model.optimizer.iterations == reference.optimizer.iterations > 0
    for key, value in reference.optimizer.get_state(reference.trainable_weights).items():
        np.testing.assert_array_equal(model.optimizer.get_state(model.trainable_weights)[key],
                                      value)
    # and chainrule's own .weights.h5 carries the state the same way
    model.save_weights(tmp_path / "again.weights.h5")
    with h5py.File(tmp_path / "again.weights.h5", "r") as f:
        assert int(f["optimizer/vars/0"][()]) == model.optimizer.iterations


def test_loss_and_metric_objects_evaluate_to_keras_numbers():
    # SparseCategoricalCrossentropy(from_logits=True) and metric objects, as
    # Keras wrote them into compile_config; Keras' own evaluate gave the numbers.
    data = np.load(os.path.join(REFS, "keras_compile_objects.npz"))
    model = cr.load_model(os.path.join(REFS, "keras_compile_objects.keras"))
    results = model.evaluate(data["x"], data["y"], batch_size=20, return_dict=True)
    assert set(results) == {"loss", "sparse_categorical_accuracy", "accuracy"}
    for name, value in results.items():
        assert value == pytest.approx(float(data[name]), rel=1e-5), name


def test_layer_called_with_training_true_is_refused_by_name(tmp_path):
    def force_training(config):
        layer = next(l for l in config["config"]["layers"] if l["name"] == "lstm")
        layer["inbound_nodes"][0]["kwargs"]["training"] = True
    path = _rewrite(tmp_path, "lstm_text", edit_config=force_training)
    with pytest.raises(ValueError, match=r"layer 'lstm' call 0.*training=True"):
        cr.load_model(path)


def test_functions_named_in_the_config_are_looked_up_never_imported(tmp_path):
    # Keras writes a plain function as {"module", "class_name": "function", "config": name};
    # chainrule resolves names through its registries only, so "os.system" stays a name.
    marker = tmp_path / "ran"

    def point_at_os(config):
        config["config"]["layers"][1]["config"]["activation"] = {
            "module": "os", "class_name": "function", "config": "system",
            "registered_name": "function"}
        config["config"]["layers"][2]["class_name"] = "Popen"
        config["config"]["layers"][2]["module"] = "subprocess"
        config["config"]["layers"][2]["config"]["args"] = ["touch", str(marker)]
    path = _rewrite(tmp_path, "mlp", edit_config=point_at_os)
    with pytest.raises(ValueError, match=r"'dense'.*system"):
        cr.load_model(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    config["config"]["layers"][1]["config"]["activation"] = "relu"
    path2 = tmp_path / "popen.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(path2, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, json.dumps(config) if name == "config.json" else src.read(name))
    with pytest.raises(ValueError, match=r"'dense_1'.*Popen.*subprocess"):
        cr.load_model(path2)
    assert not marker.exists()


class CountingScale(layers.Layer):
    """Creates a non-trainable weight before its trainable one."""

    def build(self, input_shape):
        self.count = self.add_weight("count", (1,), initializer="ones", trainable=False)
        self.scale = self.add_weight("scale", (input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.scale + self.count


def test_custom_layer_variables_stored_trainable_first_as_keras(tmp_path):
    # Keras' save_own_variables writes _trainable_variables + _non_trainable_variables.
    model = cr.Sequential([cr.Input((3,)), CountingScale(name="counting")])
    model.layers[0].scale.data[...] = [1.0, 2.0, 3.0]
    model.layers[0].count.data[...] = [7.0]
    model.save_weights(tmp_path / "c.weights.h5")
    with h5py.File(tmp_path / "c.weights.h5", "r") as f:
        np.testing.assert_array_equal(f["layers/counting_scale/vars/0"][()], [1.0, 2.0, 3.0])
        np.testing.assert_array_equal(f["layers/counting_scale/vars/1"][()], [7.0])
    model.save(tmp_path / "c.keras")
    loaded = cr.load_model(tmp_path / "c.keras")
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


_KERAS_FIT_SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ["KERAS_BACKEND"] = "torch"
    import keras, numpy as np
    folder = sys.argv[1]
    for name in sys.argv[2:]:
        data = np.load(os.path.join(folder, name + "_data.npz"))
        xs = [data[k] for k in sorted(data.files) if k.startswith("x")]
        x = xs[0] if len(xs) == 1 else xs
        model = keras.saving.load_model(os.path.join(folder, name + ".keras"))
        model.fit(x, data["y"], batch_size=8, epochs=1, shuffle=False, verbose=0)
        np.savez(os.path.join(folder, name + "_out.npz"), pred=model.predict(x, verbose=0),
                 iterations=int(model.optimizer.iterations))
""")


@pytest.mark.slow
@pytest.mark.skipif(not _keras_available(), reason="needs keras and torch")
def test_real_keras_continues_training_issue_17_architectures_from_chainrule(tmp_path):
    # The optimizer state chainrule writes for attention projections,
    # Bidirectional cells, convolution variants...: Keras' next epoch from it
    # is chainrule's next epoch (architectures without random layers).
    names = ["cross_attention", "conv1d", "masked_sequences", "attention_variants",
             "constraints", "masked_transformer"]  # mse losses
    rng = np.random.default_rng(12)
    models = {}
    for name in names:
        path, data = _fixture(name)
        model = cr.load_model(path)
        xs = [np.concatenate([x, x])[:16] for x in _group(data, "x")]
        y = rng.normal(size=(16,) + tuple(data["y"].shape[1:])).astype(np.float32)
        model.fit(_one_or_list(xs), y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        model.save(tmp_path / f"{name}.keras")
        np.savez(tmp_path / f"{name}_data.npz", y=y, **{f"x{i}": x for i, x in enumerate(xs)})
        model.fit(_one_or_list(xs), y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        models[name] = (model, xs)
    script = tmp_path / "keras_fit.py"
    script.write_text(_KERAS_FIT_SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(tmp_path), *models],
                            capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, KERAS_BACKEND="torch"))
    assert result.returncode == 0, result.stderr[-3000:]
    for name, (model, xs) in models.items():
        out = np.load(tmp_path / f"{name}_out.npz")
        assert int(out["iterations"]) == model.optimizer.iterations, name
        np.testing.assert_allclose(out["pred"], model.predict(_one_or_list(xs)), rtol=1e-4,
                                   atol=1e-5, err_msg=name)
