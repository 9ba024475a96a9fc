"""Issue 17 part B: masks, wrappers, merges and small layers against real Keras 3.

The numbers in keras_refs/layers_17b.npz come from keras==3.15.1 (torch
backend, torch 2.13.0) through keras_refs/gen_layers_17b.py: for each case the
output and the gradients of sum(output · cotangent) with respect to the
inputs and the trainable weights, on random weights and inputs (float32).
Each case is built here from the same JSON spec, given Keras' weights, and
must agree to rtol 1e-4. Then every new layer passes ``cr.gradcheck`` in
float64 for its inputs and its weights, and the bad inputs give clear errors.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers
from chainrule.masks import get_keras_mask

REFS = np.load(Path(__file__).parent / "keras_refs" / "layers_17b.npz")
CASES = sorted({k.split("/")[0] for k in REFS.files if "/" in k})
RTOL, ATOL = 1e-4, 1e-5


def make_layer(spec):
    cls = getattr(layers, spec["class"])
    kwargs = dict(spec.get("kwargs", {}))
    if "inner" in spec:
        return cls(make_layer(spec["inner"]), **kwargs)
    return cls(**kwargs)


def arrays(case, prefix):
    out, i = [], 0
    while f"{case}/{prefix}{i}" in REFS.files:
        out.append(REFS[f"{case}/{prefix}{i}"])
        i += 1
    return out


def build(case):
    """The chainrule layer or model of a case, with Keras' weights."""
    spec = json.loads(str(REFS[f"{case}/spec"]))
    xs = arrays(case, "x")
    if "layer" in spec:
        obj = make_layer(spec["layer"])
        if spec["layer"]["class"] == "Normalization" and "adapt" in case:
            obj.adapt(REFS["adapt_data"])
        obj(cr.tensor(xs[0]) if len(xs) == 1 else [cr.tensor(x) for x in xs])
    else:
        shape, dtype = spec["input"]
        obj = cr.Sequential([cr.Input(tuple(shape), dtype=dtype)] +
                            [make_layer(s) for s in spec["model"]])
    obj.set_weights(arrays(case, "w"))
    return obj, spec, xs


def forward_backward(obj, spec, xs, case):
    tensors = [cr.tensor(x, requires_grad=x.dtype.kind == "f") for x in xs]
    arg = tensors if len(tensors) > 1 else tensors[0]
    kwargs = {"mask": REFS[f"{case}/mask"]} if spec["mask"] else {}
    out = obj(arg, **kwargs)
    weights = obj.trainable_weights
    for w in weights:
        w.grad = None
    if isinstance(out, list):                  # several outputs, one cotangent each
        sum((o * cr.tensor(REFS[f"{case}/cot{k}"])).sum() for k, o in enumerate(out)).backward()
    else:
        (out * cr.tensor(REFS[f"{case}/cot"])).sum().backward()
    return out, tensors, weights


@pytest.mark.parametrize("case", CASES)
def test_matches_keras(case):
    obj, spec, xs = build(case)
    out, tensors, weights = forward_backward(obj, spec, xs, case)
    if isinstance(out, list):
        assert len(out) == len(arrays(case, "out")), f"{case}: number of outputs"
        for k, (o, want) in enumerate(zip(out, arrays(case, "out"))):
            np.testing.assert_allclose(o.numpy(), want, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{case}: output {k}")
    else:
        np.testing.assert_allclose(out.numpy(), REFS[f"{case}/out"], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{case}: output")
    for i, t in enumerate(tensors):
        if f"{case}/gx{i}" in REFS.files:
            np.testing.assert_allclose(t.grad, REFS[f"{case}/gx{i}"], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{case}: gradient of input {i}")
    want = arrays(case, "gw")
    assert len(weights) == len(want), f"{case}: {len(weights)} trainable weights, Keras {len(want)}"
    for j, (w, g) in enumerate(zip(weights, want)):
        np.testing.assert_allclose(w.grad, g, rtol=RTOL, atol=ATOL,
                                   err_msg=f"{case}: gradient of weight {j} ({w.name})")
    if "loss" in spec:
        model = obj
        model.compile(loss=spec["loss"], optimizer="sgd")
        loss = model.evaluate(xs[0], REFS[f"{case}/y"], batch_size=len(xs[0]), verbose=0)
        np.testing.assert_allclose(loss, REFS[f"{case}/loss"], rtol=RTOL, err_msg=case)


@pytest.mark.parametrize("masked", ["emb_lstm", "emb_gap", "emb_bilstm", "emb_loss",
                                    "masking_gru"])
def test_masked_and_unmasked_differ_as_in_keras(masked):
    """Keras' own numbers differ with the mask, and chainrule's follow them."""
    ref_masked, ref_plain = REFS[f"{masked}_masked/out"], REFS[f"{masked}_unmasked/out"]
    assert not np.allclose(ref_masked, ref_plain, rtol=1e-3)
    outs = []
    for tag in ("masked", "unmasked"):
        obj, spec, xs = build(f"{masked}_{tag}")
        outs.append(obj(xs[0]).numpy())
    assert not np.allclose(outs[0], outs[1], rtol=1e-3)
    np.testing.assert_allclose(outs[0], ref_masked, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(outs[1], ref_plain, rtol=RTOL, atol=ATOL)


def test_masked_loss_is_the_mean_over_unmasked_steps():
    obj, spec, xs = build("emb_loss_masked")
    y, ids = REFS["emb_loss_masked/y"], xs[0]
    probs = obj(ids).numpy()
    per_step = -np.log(np.take_along_axis(probs, y[..., None].astype(int), -1)[..., 0])
    keep = ids != 0
    want = per_step[keep].mean()
    assert abs(want - per_step.mean()) > 1e-3           # the mask matters here
    np.testing.assert_allclose(float(REFS["emb_loss_masked/loss"]), want, rtol=1e-5)
    got = cr.losses.SparseCategoricalCrossentropy()(y, obj(ids))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)


def test_adapt_stores_keras_weights():
    layer = layers.Normalization(axis=-1)
    layer.adapt(REFS["adapt_data"])
    mean, variance, count = layer.get_weights()
    np.testing.assert_allclose(mean, REFS["normalization_adapt/w0"], rtol=1e-5)
    np.testing.assert_allclose(variance, REFS["normalization_adapt/w1"], rtol=1e-5)
    assert count == REFS["normalization_adapt/w2"] and count.dtype == np.int32
    # a stream of batches gives the same statistics (Keras' running merge)
    streamed = layers.Normalization(axis=-1)
    streamed.adapt([REFS["adapt_data"][i:i + 16] for i in range(0, 50, 16)])
    np.testing.assert_allclose(streamed.get_weights()[0], mean, rtol=1e-5)
    np.testing.assert_allclose(streamed.get_weights()[1], variance, rtol=1e-4)


# -- gradcheck in float64, inputs and weights ---------------------------------------
def _gradcheck_layer(layer, *shapes, mask=None, seed=0):
    """``cr.gradcheck`` of a float64 layer with respect to its inputs and to each
    trainable weight (swapped, for the check, for the tensor being nudged)."""
    rng = np.random.default_rng(seed)
    xs = [rng.normal(0, 1, s) for s in shapes]
    layer(cr.tensor(xs[0]) if len(xs) == 1 else [cr.tensor(x) for x in xs])
    for w in layer.weights:
        if w.dtype.kind == "f":
            w.data[...] = rng.normal(0, 0.5, w.shape)
    weights = layer.trainable_weights
    kwargs = {} if mask is None else {"mask": mask}

    def f(*args):
        inputs, values = args[:len(xs)], args[len(xs):]
        with _weights_swapped(layer, weights, values):
            return layer(inputs[0] if len(inputs) == 1 else list(inputs), **kwargs)
    assert cr.gradcheck(f, *xs, *[w.data.copy() for w in weights])


class _weights_swapped:
    """Within the block, every attribute holding one of ``weights`` holds the
    matching tensor of ``values`` instead."""

    def __init__(self, layer, weights, values):
        self.swaps = []
        for sub in layer._walk():
            for name, attr in list(vars(sub).items()):
                for w, v in zip(weights, values):
                    if attr is w:
                        self.swaps.append((sub, name, w, v))

    def __enter__(self):
        for sub, name, _, v in self.swaps:
            object.__setattr__(sub, name, v)

    def __exit__(self, *exc):
        for sub, name, w, _ in self.swaps:
            object.__setattr__(sub, name, w)


F64 = {"dtype": "float64"}
GRADCHECK_CASES = {
    "Multiply": (lambda: layers.Multiply(**F64), [(3, 4), (3, 4)]),
    "Subtract": (lambda: layers.Subtract(**F64), [(3, 4), (3, 4)]),
    "Average": (lambda: layers.Average(**F64), [(3, 4), (3, 4), (3, 4)]),
    "Maximum": (lambda: layers.Maximum(**F64), [(3, 4), (3, 4)]),
    "Minimum": (lambda: layers.Minimum(**F64), [(3, 4), (3, 4)]),
    "Dot": (lambda: layers.Dot(axes=(1, 2), **F64), [(2, 3, 4), (2, 5, 3)]),
    "Dot_normalize": (lambda: layers.Dot(axes=-1, normalize=True, **F64),
                      [(2, 3, 4), (2, 5, 4)]),
    "Permute": (lambda: layers.Permute((2, 1), **F64), [(2, 3, 4)]),
    "RepeatVector": (lambda: layers.RepeatVector(3, **F64), [(2, 4)]),
    "Rescaling": (lambda: layers.Rescaling(0.5, offset=2.0, **F64), [(2, 4)]),
    "Normalization": (lambda: layers.Normalization(mean=1.0, variance=4.0, **F64), [(2, 4)]),
    "ReLU": (lambda: layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.3, **F64),
             [(3, 4)]),
    "Softmax": (lambda: layers.Softmax(axis=[1, 2], **F64), [(2, 3, 4)]),
    "ELU": (lambda: layers.ELU(0.7, **F64), [(3, 4)]),
    "PReLU": (lambda: layers.PReLU(shared_axes=[1], **F64), [(2, 3, 4)]),
    "Identity": (lambda: layers.Identity(**F64), [(3, 4)]),
    "Lambda": (lambda: layers.Lambda(lambda x: x * x, **F64), [(3, 4)]),
    "Masking": (lambda: layers.Masking(0.0, **F64), [(2, 3, 4)]),
    "GaussianNoise": (lambda: layers.GaussianNoise(0.3, **F64), [(3, 4)]),
    "GaussianDropout": (lambda: layers.GaussianDropout(0.3, **F64), [(3, 4)]),
    "SpatialDropout1D": (lambda: layers.SpatialDropout1D(0.3, **F64), [(2, 3, 4)]),
    "SpatialDropout2D": (lambda: layers.SpatialDropout2D(0.3, **F64), [(2, 2, 3, 4)]),
    "TimeDistributed": (lambda: layers.TimeDistributed(layers.Dense(2, **F64), **F64),
                        [(2, 3, 4)]),
    "Bidirectional": (lambda: layers.Bidirectional(
        layers.GRU(2, return_sequences=True, **F64), **F64), [(2, 3, 2)]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck(name):
    make, shapes = GRADCHECK_CASES[name]
    _gradcheck_layer(make(), *shapes)


MASK = np.array([[True, True, False], [True, False, False]])


@pytest.mark.parametrize("make", [lambda: layers.LSTM(2, return_sequences=True, **F64),
                                  lambda: layers.GRU(2, **F64),
                                  lambda: layers.SimpleRNN(2, **F64),
                                  lambda: layers.Bidirectional(layers.LSTM(2, **F64), **F64),
                                  lambda: layers.GlobalAveragePooling1D(**F64)],
                         ids=["LSTM", "GRU", "SimpleRNN", "Bidirectional", "GAP1D"])
def test_gradcheck_with_mask(make):
    _gradcheck_layer(make(), (2, 3, 2), mask=MASK)


# -- behaviour ------------------------------------------------------------------
def test_masks_travel_through_sequential_and_functional_models():
    ids = np.array([[4, 2, 0], [1, 0, 0]])
    emb = layers.Embedding(6, 3, mask_zero=True)
    lstm = layers.LSTM(2, return_sequences=True)
    dense = layers.Dense(2)
    inputs = cr.Input((3,), dtype="int64")
    model = cr.Model(inputs, dense(lstm(emb(inputs))))
    out = model(ids)
    np.testing.assert_array_equal(get_keras_mask(out), ids != 0)
    seq = cr.Sequential([emb, lstm, dense])
    np.testing.assert_array_equal(get_keras_mask(seq(ids)), ids != 0)
    # a masked step repeats the previous output (Keras' rnn)
    h = lstm(emb(ids)).numpy()
    np.testing.assert_array_equal(h[0, 2], h[0, 1])
    np.testing.assert_array_equal(h[1, 2], h[1, 0])


def test_layer_without_masking_drops_the_mask_with_keras_warning():
    x = layers.Masking()(cr.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="does not support masking"):
        out = layers.Flatten()(x)
    assert get_keras_mask(out) is None


def test_bidirectional_layout_and_config_round_trip():
    bi = layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="sum")
    bi(cr.ones(2, 4, 5))
    assert [w.shape for w in bi.get_weights()] == [(5, 12), (3, 12), (12,)] * 2
    assert bi.forward_layer.name.startswith("forward_")
    assert bi.backward_layer.go_backwards and not bi.forward_layer.go_backwards
    clone = layers.deserialize(layers.serialize(bi))
    clone(cr.ones(2, 4, 5))
    clone.set_weights(bi.get_weights())
    x = cr.randn(2, 4, 5)
    np.testing.assert_allclose(clone(x).numpy(), bi(x).numpy(), rtol=1e-6)


def test_merge_functions():
    a, b = cr.tensor([[1.0, 5.0]]), cr.tensor([[3.0, 2.0]])
    np.testing.assert_allclose(layers.multiply([a, b]).numpy(), [[3.0, 10.0]])
    np.testing.assert_allclose(layers.subtract([a, b]).numpy(), [[-2.0, 3.0]])
    np.testing.assert_allclose(layers.average([a, b]).numpy(), [[2.0, 3.5]])
    np.testing.assert_allclose(layers.maximum([a, b]).numpy(), [[3.0, 5.0]])
    np.testing.assert_allclose(layers.minimum([a, b]).numpy(), [[1.0, 2.0]])
    np.testing.assert_allclose(layers.dot([a, b], axes=1).numpy(), [[13.0]])


def test_noise_layers_in_training():
    x = cr.ones(200, 50)
    noisy = layers.GaussianNoise(0.5, seed=1)(x, training=True).numpy()
    assert abs(noisy.std() - 0.5) < 0.02 and abs(noisy.mean() - 1.0) < 0.02
    scaled = layers.GaussianDropout(0.2, seed=1)(x, training=True).numpy()
    assert abs(scaled.std() - np.sqrt(0.2 / 0.8)) < 0.02
    dropped = layers.SpatialDropout1D(0.5, seed=1)(cr.ones(4, 6, 100), training=True).numpy()
    assert set(np.unique(dropped)) <= {0.0, 2.0}
    assert (dropped == dropped[:, :1]).all()              # whole channels at once


# -- bad input ------------------------------------------------------------------
def test_mask_of_the_wrong_shape_names_layer_and_expected_shape():
    with pytest.raises(cr.errors.ShapeError, match=r"LSTM layer 'bad_lstm'.*\(2, 3\)"):
        layers.LSTM(2, name="bad_lstm")(cr.ones(2, 3, 4), mask=np.ones((2, 4), bool))
    with pytest.raises(cr.errors.ShapeError, match=r"GlobalAveragePooling1D.*\(2, 3\)"):
        layers.GlobalAveragePooling1D()(cr.ones(2, 3, 4), mask=np.ones((3, 3), bool))
    with pytest.raises(cr.errors.ShapeError, match=r"TimeDistributed.*\(2, 3\)"):
        layers.TimeDistributed(layers.Dense(2))(cr.ones(2, 3, 4), mask=np.ones((2, 5), bool))


def test_lambda_in_a_saved_file_is_refused_in_safe_mode(tmp_path):
    def double(x):
        return x * 2
    model = cr.Sequential([cr.Input((3,)), layers.Lambda(double, name="doubler"),
                           layers.Dense(2)])
    path = tmp_path / "lambda_model.zip"
    model.save(str(path))
    with pytest.raises(ValueError, match=r"layer 'doubler' is a Lambda.*safe_mode=False"):
        cr.models.load_model(str(path))
    with pytest.raises(ValueError, match=r"custom_objects=\{'double'"):
        cr.models.load_model(str(path), safe_mode=False)
    loaded = cr.models.load_model(str(path), safe_mode=False,
                                  custom_objects={"double": double})
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_argument_errors():
    with pytest.raises(ValueError, match="merge_mode"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="recurrent"):
        layers.Bidirectional(layers.Dense(2))
    with pytest.raises(ValueError, match="exactly 2"):
        layers.Subtract()([cr.ones(2, 3)] * 3)
    with pytest.raises(cr.errors.ShapeError, match="axis 1 of the first input has size 3"):
        layers.Dot(axes=1)([cr.ones(2, 3), cr.ones(2, 4)])
    with pytest.raises(ValueError, match="permutation"):
        layers.Permute((1, 3))
    with pytest.raises(ValueError, match="both mean and variance"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="max_value"):
        layers.ReLU(max_value=-1)


def test_a_model_of_the_new_layers_saves_and_loads(tmp_path):
    """Every new layer's config (and the adapted Normalization's weights)
    survives chainrule's own save/load."""
    norm = layers.Normalization()
    norm.adapt(np.random.default_rng(0).normal(2.0, 3.0, (40, 6, 4)).astype("float32"))
    inputs = cr.Input((6, 4))
    x = layers.Rescaling(0.5, offset=0.1)(norm(inputs))
    x = layers.Bidirectional(layers.GRU(3, return_sequences=True), merge_mode="ave")(x)
    x = layers.TimeDistributed(layers.Dense(4))(x)
    a = layers.PReLU(shared_axes=[1])(x)
    b = layers.ReLU(max_value=2.0, negative_slope=0.1)(x)
    c = layers.ELU(0.5)(layers.Softmax(axis=1)(x))
    x = layers.Maximum()([layers.Multiply()([a, b]), layers.Subtract()([a, c])])
    x = layers.Average()([layers.Minimum()([x, b]), layers.Identity()(x)])
    x = layers.GaussianNoise(0.1)(layers.SpatialDropout1D(0.2)(layers.GaussianDropout(0.1)(x)))
    x = layers.Permute((2, 1))(x)
    pooled = layers.GlobalAveragePooling1D()(layers.Masking(0.0)(x))
    out = layers.Dot(axes=1, normalize=True)([layers.Dense(5)(pooled),
                                              layers.Dense(5)(pooled)])
    out = layers.RepeatVector(2)(out)
    model = cr.Model(inputs, out)
    path = tmp_path / "b.zip"
    model.save(str(path))
    loaded = cr.models.load_model(str(path))
    data = np.random.default_rng(1).normal(size=(3, 6, 4)).astype("float32")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0),
                               rtol=1e-6)
    assert [type(layer).__name__ for layer in loaded.layers] == \
        [type(layer).__name__ for layer in model.layers]


def test_lambda_with_a_registered_function_clones_and_round_trips():
    @cr.saving.register_keras_serializable(package="tests17b")
    def triple(x):
        return x * 3
    model = cr.Sequential([cr.Input((2,)), layers.Lambda(triple)])
    assert model.layers[0].get_config()["function"] == "tests17b>triple"
    clone = cr.models.clone_model(model)
    np.testing.assert_allclose(clone.predict(np.ones((1, 2)), verbose=0), [[3.0, 3.0]])
    with pytest.raises(ValueError, match=r"'<lambda>' is saved by name only"):
        cr.models.clone_model(cr.Sequential([cr.Input((2,)), layers.Lambda(lambda x: x)]))
