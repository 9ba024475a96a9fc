"""model.export("m.onnx", format="onnx"): onnxruntime runs the file and
matches model.predict (rtol 1e-5) for every supported family, batch sizes 1 and 7."""
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

REFS = os.path.join(os.path.dirname(__file__), "keras_refs")


def _randomize(model, rng, scale=0.5):
    """Random weights everywhere (biases too), positive variances for BatchNormalization."""
    for w in model.weights:
        values = rng.normal(scale=scale, size=w.shape)
        if (w.name or "").endswith("variance"):
            values = np.abs(values) + 0.5
        w.data[...] = values.astype(w.dtype)
    return model


def _check(model, tmp_path, make_inputs, rtol=1e-5, atol=1e-6):
    """Export, run in onnxruntime at batch 1 and 7, compare with predict."""
    path = tmp_path / f"{model.name}.onnx"
    model.export(path, format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 7):
        xs = make_inputs(batch)
        feeds = {spec.name: x for spec, x in zip(session.get_inputs(), xs)}
        got = session.run(None, feeds)
        want = model.predict(xs[0] if len(xs) == 1 else xs)
        want = want if isinstance(want, list) else [want]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
    return session


def _floats(rng, *shape):
    return lambda batch: [rng.normal(size=(batch, *shape)).astype(np.float32)]


ACTIVATIONS = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "elu", "selu", "softplus",
               "softsign", "silu", "swish", "mish", "relu6", "hard_sigmoid", "leaky_relu",
               "exponential", "linear", None, "gelu", "hard_silu", "hard_swish"]



@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_with_each_activation(tmp_path, activation):
    rng = np.random.default_rng(0)
    model = cr.Sequential([cr.Input((6,)), layers.Dense(5, activation=activation),
                           layers.Activation(activation or "linear")],
                          name=f"dense_{activation}")
    _check(_randomize(model, rng), tmp_path, _floats(rng, 6))


def test_dense_on_sequences_leaky_relu_layer_dropout_flatten_reshape(tmp_path):
    rng = np.random.default_rng(1)
    model = cr.Sequential([cr.Input((4, 6)), layers.Dense(6), layers.LeakyReLU(0.1),
                           layers.Dropout(0.5), layers.Reshape((3, -1)), layers.Flatten(),
                           layers.Dense(3)], name="shapes")
    _check(_randomize(model, rng), tmp_path, _floats(rng, 4, 6))


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv_and_pooling(tmp_path, padding):
    rng = np.random.default_rng(2)
    model = cr.Sequential([
        cr.Input((9, 7, 3)),
        layers.Conv2D(4, (3, 2), strides=(2, 1), padding=padding, activation="relu"),
        layers.MaxPooling2D((2, 2), strides=(1, 2), padding=padding),
        layers.Conv2D(5, 2, padding=padding),
        layers.AveragePooling2D(2, padding="same"),          # padding not counted
        layers.GlobalMaxPooling2D(),
    ], name=f"conv_{padding}")
    _check(_randomize(model, rng), tmp_path, _floats(rng, 9, 7, 3))


def test_global_average_pooling_keepdims_and_1d(tmp_path):
    rng = np.random.default_rng(3)
    image = cr.Input((5, 5, 2), name="image")
    sequence = cr.Input((6, 3), name="sequence")
    a = layers.Flatten()(layers.GlobalAveragePooling2D(keepdims=True)(image))
    b = layers.GlobalAveragePooling1D()(sequence)
    c = layers.GlobalMaxPooling1D()(sequence)
    model = cr.Model([image, sequence], layers.Concatenate()([a, b, c]), name="global_pool")
    _check(model, tmp_path, lambda n: [rng.normal(size=(n, 5, 5, 2)).astype(np.float32),
                                       rng.normal(size=(n, 6, 3)).astype(np.float32)])


def test_batch_normalization_inference(tmp_path):
    rng = np.random.default_rng(4)
    model = cr.Sequential([cr.Input((6, 6, 3)), layers.Conv2D(4, 3),
                           layers.BatchNormalization(), layers.Flatten(),
                           layers.BatchNormalization(center=False), layers.Dense(2)],
                          name="batchnorm")
    _check(_randomize(model, rng), tmp_path, _floats(rng, 6, 6, 3))
    channels_first = cr.Sequential([cr.Input((3, 5)), layers.BatchNormalization(axis=1)],
                                   name="batchnorm_axis1")
    _check(_randomize(channels_first, rng), tmp_path, _floats(rng, 3, 5))


def test_embedding_and_lstm(tmp_path):
    rng = np.random.default_rng(5)
    ids = cr.Input((5,), dtype="int64", name="ids")
    h = layers.Embedding(20, 6)(ids)
    h = layers.LSTM(4, return_sequences=True)(h)
    h = layers.LSTM(3, go_backwards=True)(h)
    model = cr.Model(ids, layers.Dense(2)(h), name="embed_lstm")
    session = _check(_randomize(model, rng), tmp_path,
                     lambda n: [rng.integers(0, 20, size=(n, 5)).astype(np.int64)])
    assert session.get_inputs()[0].name == "ids"


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_and_simple_rnn(tmp_path, reset_after):
    rng = np.random.default_rng(6)
    model = cr.Sequential([cr.Input((6, 3)),
                           layers.GRU(5, return_sequences=True, reset_after=reset_after),
                           layers.SimpleRNN(4, return_sequences=True, go_backwards=True),
                           layers.GRU(3, reset_after=reset_after)],
                          name=f"gru_{reset_after}")
    _check(_randomize(model, rng), tmp_path, _floats(rng, 6, 3))


def test_merge_layers_shared_layer_and_two_outputs(tmp_path):
    rng = np.random.default_rng(7)
    left = cr.Input((4,), name="left")
    right = cr.Input((4,), name="right")
    shared = layers.Dense(5, activation="tanh")
    a, b = shared(left), shared(right)
    total = layers.Add()([a, b, layers.Dense(5)(left)])
    joined = layers.Concatenate()([a, total])
    model = cr.Model([left, right], [layers.Dense(3, activation="softmax", name="label")(joined),
                                     layers.Dense(1, name="score")(total)], name="merges")
    session = _check(_randomize(model, rng), tmp_path,
                     lambda n: [rng.normal(size=(n, 4)).astype(np.float32) for _ in range(2)])
    assert [i.name for i in session.get_inputs()] == ["left", "right"]
    assert [o.name for o in session.get_outputs()] == ["label", "score"]


def test_batch_dimension_is_dynamic(tmp_path):
    model = cr.Sequential([cr.Input((3,), name="features"), layers.Dense(2)], name="dynamic")
    path = tmp_path / "dynamic.onnx"
    model.export(path)
    graph = onnx.load(str(path)).graph
    assert graph.input[0].name == "features"
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"


@pytest.mark.parametrize("name", ["mlp", "convnet", "lstm_text", "gru_rnn", "two_inputs",
                                  "nested", "transformer", "cross_attention", "conv1d",
                                  "conv2d_variants", "merges", "small_layers",
                                  "constraints"])
def test_models_read_from_keras_files_export(tmp_path, name):
    # Trained weights (moving statistics included) made by real Keras.
    model = cr.load_model(os.path.join(REFS, f"keras_{name}.keras"), compile=False)
    data = np.load(os.path.join(REFS, f"keras_{name}.npz"))
    xs = [data[k] for k in ("x", "x0", "x1") if k in data.files]
    session = _check(model, tmp_path, lambda n: [np.concatenate([x] * n)[:n] for x in xs])
    expected_inputs = {"mlp": ["features"], "convnet": ["image"], "lstm_text": ["tokens"],
                       "gru_rnn": ["sequence"], "two_inputs": ["left", "right"],
                       "nested": ["a", "b"], "transformer": ["tokens"],
                       "cross_attention": ["query", "memory"], "conv1d": ["signal"],
                       "conv2d_variants": ["image"], "constraints": ["image"],
                       "merges": ["a", "b"], "small_layers": ["features"]}[name]
    assert [i.name for i in session.get_inputs()] == expected_inputs


def test_unsupported_layer_is_named(tmp_path):
    class Scale(layers.Layer):
        def call(self, x):
            return x * 2.0
    model = cr.Sequential([cr.Input((3,)), layers.Dense(2), Scale(name="double")], name="odd")
    with pytest.raises(ValueError, match=r"Scale layer 'double' has no ONNX export.*Dense"):
        model.export(tmp_path / "odd.onnx")
    assert not (tmp_path / "odd.onnx").exists()


def test_unsupported_settings_are_named(tmp_path):
    model = cr.Sequential([cr.Input((4, 3)), layers.LSTM(2, activation="relu")], name="relu_lstm")
    with pytest.raises(ValueError, match=r"LSTM layer 'lstm\w*'.*default activations"):
        model.export(tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="format='onnx'"):
        model.export(tmp_path / "x.tflite", format="tflite")


def test_subclassed_model_is_refused(tmp_path):
    class Two(cr.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)
    model = Two()
    model(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="subclassed"):
        model.export(tmp_path / "two.onnx")


def test_keras_export_arguments(tmp_path, capsys):
    model = cr.Sequential([cr.Input((4, 3), name="x"), layers.Dense(2),
                           layers.GlobalAveragePooling1D()], name="args")
    path = model.export(tmp_path / "a.onnx", format="onnx", verbose=True, opset_version=18)
    assert "a.onnx" in capsys.readouterr().out
    assert onnx.load(path).opset_import[0].version == 18
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"x": x})[0], model.predict(x), rtol=1e-5)
    with pytest.raises(ValueError, match="input_signature"):
        model.export(tmp_path / "b.onnx", input_signature=[(None, 3)])


# --------------------------------------------------------------------------
# issue 17's layers
# --------------------------------------------------------------------------
def test_transformer_encoder_block(tmp_path):
    rng = np.random.default_rng(10)
    x = cr.Input((6, 8), name="x")
    h = layers.LayerNormalization(epsilon=1e-6)(
        layers.Add()([x, layers.MultiHeadAttention(2, 4)(x, x)]))
    ff = layers.Dense(8)(layers.Dense(16, activation="gelu")(h))
    h = layers.LayerNormalization(center=False)(layers.Add()([h, ff]))
    causal = layers.MultiHeadAttention(3, 2, value_dim=5, output_shape=4, use_bias=False)(
        h, h, use_causal_mask=True)
    model = cr.Model(x, layers.LayerNormalization(axis=(1, 2))(causal), name="encoder")
    session = _check(_randomize(model, rng), tmp_path, _floats(rng, 6, 8))
    ops_used = {node.op_type for node in onnx.load(str(tmp_path / "encoder.onnx")).graph.node}
    assert {"LayerNormalization", "MatMul", "Softmax", "Transpose"} <= ops_used
    assert session.get_inputs()[0].name == "x"


def test_cross_attention_with_a_separate_key(tmp_path):
    rng = np.random.default_rng(11)
    q, v, k = cr.Input((4, 5), name="q"), cr.Input((7, 3), name="v"), cr.Input((7, 6), name="k")
    out = layers.MultiHeadAttention(2, 3, output_shape=(2, 3))(q, v, k)
    model = cr.Model([q, v, k], out, name="cross")
    _check(_randomize(model, rng), tmp_path,
           lambda n: [rng.normal(size=(n, *s)).astype(np.float32)
                      for s in ((4, 5), (7, 3), (7, 6))])


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
def test_conv1d_and_1d_pooling(tmp_path, padding):
    rng = np.random.default_rng(12)
    pool_padding = "valid" if padding == "causal" else padding
    model = cr.Sequential([
        cr.Input((15, 4)),
        layers.Conv1D(6, 3, padding=padding, dilation_rate=2, activation="relu"),
        layers.MaxPooling1D(2, padding=pool_padding),
        layers.Conv1D(4, 2, strides=2, groups=2, padding=padding),
        layers.AveragePooling1D(2, strides=1, padding=pool_padding),
        layers.Conv1D(3, 1, use_bias=False),
    ], name=f"conv1d_{padding}")
    _check(_randomize(model, rng), tmp_path, _floats(rng, 15, 4))


def test_conv2d_dilation_groups_depthwise_separable(tmp_path):
    rng = np.random.default_rng(13)
    model = cr.Sequential([
        cr.Input((9, 8, 4)),
        layers.Conv2D(6, 3, dilation_rate=(2, 1), padding="same"),
        layers.Conv2D(4, (2, 3), groups=2, strides=2),
        layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
        layers.SeparableConv2D(5, 2, depth_multiplier=2),
    ], name="conv2d_variants")
    # small weights: outputs near 1, so float32 sums round below atol
    _check(_randomize(model, rng, scale=0.2), tmp_path, _floats(rng, 9, 8, 4))


def test_merge_layers_of_issue_17(tmp_path):
    rng = np.random.default_rng(14)
    a, b = cr.Input((3, 4), name="a"), cr.Input((3, 4), name="b")
    merged = [layers.Multiply()([a, b, a]), layers.Subtract()([a, b]),
              layers.Average()([a, b]), layers.Maximum()([a, b, b]), layers.Minimum()([a, b])]
    flat = layers.Flatten()(layers.Concatenate()(merged))
    pair = layers.Flatten()(layers.Dot(axes=(2, 2))([a, b]))            # (batch, 3, 3)
    cosine = layers.Dot(axes=1, normalize=True)([layers.Flatten()(a), layers.Flatten()(b)])
    across = layers.Flatten()(layers.Dot(axes=(1, 1))([a, b]))           # (batch, 4, 4)
    model = cr.Model([a, b], layers.Concatenate()([flat, pair, cosine, across]), name="merge17")
    _check(model, tmp_path, lambda n: [rng.normal(size=(n, 3, 4)).astype(np.float32)
                                       for _ in range(2)])


@pytest.mark.parametrize("settings", [dict(), dict(max_value=2.0), dict(negative_slope=0.2),
                                      dict(threshold=0.3), dict(max_value=6.0, threshold=0.5,
                                                                negative_slope=0.1)])
def test_relu_layer(tmp_path, settings):
    rng = np.random.default_rng(15)
    model = cr.Sequential([cr.Input((10,)), layers.ReLU(**settings)], name="relu_layer")
    _check(model, tmp_path, lambda n: [rng.normal(scale=2.0, size=(n, 10)).astype(np.float32)])


def test_activation_and_small_layers(tmp_path):
    rng = np.random.default_rng(16)
    normalization = layers.Normalization()
    normalization.adapt(rng.normal(loc=1.0, scale=2.0, size=(40, 6)).astype(np.float32))
    model = cr.Sequential([
        cr.Input((6,)), layers.Rescaling(2.0, offset=-1.0), normalization,
        layers.Normalization(mean=0.5, variance=4.0, invert=True), layers.Dense(8),
        layers.PReLU(), layers.ELU(alpha=0.5), layers.Identity(), layers.GaussianNoise(0.3),
        layers.GaussianDropout(0.3), layers.RepeatVector(3), layers.SpatialDropout1D(0.5),
        layers.PReLU(shared_axes=[1]), layers.Permute((2, 1)), layers.ZeroPadding1D((1, 2)),
        layers.Cropping1D((2, 0)), layers.UpSampling1D(3), layers.Softmax(axis=1),
    ], name="small17")
    _check(_randomize(model, rng), tmp_path, _floats(rng, 6))


def test_2d_resizing_layers(tmp_path):
    rng = np.random.default_rng(17)
    model = cr.Sequential([cr.Input((5, 4, 2)), layers.ZeroPadding2D(((1, 0), (2, 1))),
                           layers.UpSampling2D((2, 3)), layers.Cropping2D(((1, 2), (0, 3)))],
                          name="resize2d")
    _check(model, tmp_path, _floats(rng, 5, 4, 2))


@pytest.mark.parametrize("score_mode", ["dot", "concat"])
def test_attention_layer(tmp_path, score_mode):
    rng = np.random.default_rng(18)
    q, v = cr.Input((3, 4), name="q"), cr.Input((5, 4), name="v")
    model = cr.Model([q, v], layers.Attention(use_scale=True, score_mode=score_mode)([q, v]),
                     name="luong")
    _check(_randomize(model, rng), tmp_path,
           lambda n: [rng.normal(size=(n, 3, 4)).astype(np.float32),
                      rng.normal(size=(n, 5, 4)).astype(np.float32)])


def test_a_mask_is_refused_not_dropped(tmp_path):
    model = cr.Sequential([cr.Input((5,)), layers.Embedding(10, 4, mask_zero=True),
                           layers.LSTM(3)], name="masked")
    with pytest.raises(ValueError, match=r"Embedding layer 'embedding\w*' makes a mask"):
        model.export(tmp_path / "masked.onnx")
    assert not (tmp_path / "masked.onnx").exists()


@pytest.mark.parametrize("settings", [dict(padding="valid", strides=2),
                                      dict(padding="same", strides=(2, 3)),
                                      dict(padding="valid", strides=1, dilation_rate=2),
                                      dict(padding="same", strides=2, output_padding=1),
                                      dict(padding="valid", strides=3)])
def test_conv2d_transpose(tmp_path, settings):
    rng = np.random.default_rng(19)
    model = cr.Sequential([cr.Input((5, 4, 3)),
                           layers.Conv2DTranspose(4, (3, 2), activation="tanh", **settings)],
                          name="transpose")
    _check(_randomize(model, rng), tmp_path, _floats(rng, 5, 4, 3))


@pytest.mark.parametrize("groups, shape", [(2, (5, 4, 6)), (-1, (5, 4, 6)), (3, (7, 6)),
                                           (1, (3, 3, 2, 4))])
def test_group_normalization(tmp_path, groups, shape):
    rng = np.random.default_rng(20)
    model = cr.Sequential([cr.Input(shape), layers.GroupNormalization(groups=groups)],
                          name="groupnorm")
    _check(_randomize(model, rng), tmp_path,
           lambda n: [rng.normal(loc=1.0, scale=2.0, size=(n, *shape)).astype(np.float32)])


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_and_time_distributed(tmp_path, merge_mode):
    rng = np.random.default_rng(21)
    model = cr.Sequential([
        cr.Input((6, 3)),
        layers.Bidirectional(layers.LSTM(4, return_sequences=True), merge_mode=merge_mode),
        layers.TimeDistributed(layers.Dense(5, activation="tanh")),
        layers.Bidirectional(layers.GRU(3), merge_mode=merge_mode),
    ], name=f"bidirectional_{merge_mode}")
    _check(_randomize(model, rng), tmp_path, _floats(rng, 6, 3))


def test_time_distributed_conv(tmp_path):
    rng = np.random.default_rng(22)
    model = cr.Sequential([cr.Input((4, 6, 5, 2)),
                           layers.TimeDistributed(layers.Conv2D(3, 2, padding="same")),
                           layers.TimeDistributed(layers.GlobalAveragePooling2D())],
                          name="frames")
    _check(_randomize(model, rng), tmp_path, _floats(rng, 4, 6, 5, 2))


def test_attention_over_several_step_axes_is_refused_by_name(tmp_path):
    model = cr.load_model(os.path.join(REFS, "keras_attention_variants.keras"), compile=False)
    with pytest.raises(ValueError, match=r"MultiHeadAttention layer 'rows'.*\(batch, steps, "
                                         r"features\)"):
        model.export(tmp_path / "variants.onnx")
    assert not (tmp_path / "variants.onnx").exists()


@pytest.mark.parametrize("settings", [dict(padding="valid", strides=2),
                                      dict(padding="same", strides=3),
                                      dict(padding="valid", dilation_rate=2),
                                      dict(padding="same", strides=2, output_padding=1)])
def test_conv1d_transpose(tmp_path, settings):
    rng = np.random.default_rng(23)
    model = cr.Sequential([cr.Input((6, 3)), layers.Conv1DTranspose(4, 3, **settings)],
                          name="transpose1d")
    _check(_randomize(model, rng), tmp_path, _floats(rng, 6, 3))


@pytest.mark.parametrize("opset", [14, 17, 18])
def test_layer_normalization_at_each_opset(tmp_path, opset):
    # ONNX has LayerNormalization from opset 17; before, plain nodes do its arithmetic
    rng = np.random.default_rng(24)
    model = cr.Sequential([cr.Input((4, 5)), layers.LayerNormalization(),
                           layers.LayerNormalization(axis=(1, 2), epsilon=1e-5),
                           layers.GroupNormalization(groups=5)], name="norms")
    _randomize(model, rng)
    path = model.export(tmp_path / "norms.onnx", opset_version=opset)
    ops_used = {node.op_type for node in onnx.load(path).graph.node}
    assert ("LayerNormalization" in ops_used) == (opset >= 17)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = rng.normal(loc=2.0, size=(7, 4, 5)).astype(np.float32)
    feed = {session.get_inputs()[0].name: x}
    np.testing.assert_allclose(session.run(None, feed)[0], model.predict(x),
                               rtol=1e-5, atol=1e-6)
