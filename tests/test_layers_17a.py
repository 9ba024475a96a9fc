"""Issue 17 part A's layers and activations against real Keras 3, gradcheck,
and their errors.

The numbers in keras_refs/layers_17a.npz come from keras==3.15.1 (torch
backend, torch 2.13.0) through keras_refs/gen_layers_17a.py: for each case
the output and the gradients of sum(output · cotangent) with respect to the
inputs and the trainable weights, on random weights and inputs (float32).
Each case is built here from the same JSON spec, given Keras' weights
through set_weights (so the layouts must be Keras'), and must agree to
rtol 1e-4. Then every new layer passes ``cr.gradcheck`` in float64 for its
inputs and weights, and bad input gives errors naming the layer and what
was expected.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers
from chainrule.autodiff import gradients
from chainrule.errors import ShapeError
from chainrule.masks import get_keras_mask

REFS = np.load(Path(__file__).parent / "keras_refs" / "layers_17a.npz")
CASES = sorted(k.split("/")[0] for k in REFS.files if k.endswith("/spec"))
LAYER_CASES = [c for c in CASES if not c.startswith(("act_", "op_"))]
# Keras 3.15.1's sparsemax takes τ = (Σ over the support of the running sums - 1)/k
# instead of (the running sum at k - 1)/k (Martins & Astudillo 2016, which its
# docstring cites), so its rows do not sum to 1 once two entries are kept;
# chainrule follows the paper (test_sparsemax_is_the_simplex_projection).
ACTIVATION_CASES = [c for c in CASES if c.startswith("act_") and c != "act_sparsemax"]
OP_CASES = [c for c in CASES if c.startswith("op_")]
RTOL, ATOL = 1e-4, 1e-5


def arrays(case, prefix):
    out, i = [], 0
    while f"{case}/{prefix}{i}" in REFS.files:
        out.append(REFS[f"{case}/{prefix}{i}"])
        i += 1
    return out


def call_layer(layer, spec, xs, case=None):
    """Call as the generator called Keras: one tensor, positional tensors, or a list."""
    kwargs = dict(spec["call"])
    if case is not None and f"{case}/attention_mask" in REFS.files:
        kwargs["attention_mask"] = REFS[f"{case}/attention_mask"]
    if case is not None and f"{case}/mask0" in REFS.files:
        kwargs["mask"] = [REFS[f"{case}/mask0"], REFS[f"{case}/mask1"]]
    if spec["inputs"] == "list":
        return layer(list(xs), **kwargs)
    return layer(*xs, **kwargs)


def make(spec, dtype=None):
    kwargs = dict(spec["kwargs"])
    if dtype is not None:
        kwargs["dtype"] = dtype
    return getattr(layers, spec["class"])(**kwargs)


@pytest.mark.parametrize("case", LAYER_CASES)
def test_matches_keras(case):
    spec = json.loads(str(REFS[f"{case}/spec"]))
    layer = make(spec)
    xs = [cr.tensor(x, requires_grad=True) for x in arrays(case, "x")]
    call_layer(layer, spec, xs, case)                         # build
    weights = arrays(case, "w")
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in weights]
    layer.set_weights(weights)
    out = call_layer(layer, spec, xs, case)
    if spec["call"].get("return_attention_scores"):
        out, scores = out
        np.testing.assert_allclose(scores.numpy(), REFS[f"{case}/scores"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(out.numpy(), REFS[f"{case}/out"], rtol=RTOL, atol=ATOL,
                               err_msg=f"{case}: output")
    trainable = layer.trainable_weights
    grads = gradients((out * cr.tensor(REFS[f"{case}/cot"])).sum(), xs + trainable)
    for i, want in enumerate(arrays(case, "gx")):
        np.testing.assert_allclose(grads[i].numpy(), want, rtol=RTOL, atol=ATOL,
                                   err_msg=f"{case}: input gradient {i}")
    for j, want in enumerate(arrays(case, "gw")):
        np.testing.assert_allclose(grads[len(xs) + j].numpy(), want, rtol=RTOL, atol=ATOL,
                                   err_msg=f"{case}: weight gradient {j}")


@pytest.mark.parametrize("case", ACTIVATION_CASES)
def test_activation_matches_keras(case):
    spec = json.loads(str(REFS[f"{case}/spec"]))
    fn = cr.activations.get(spec["name"])
    x = cr.tensor(REFS[f"{case}/x"], requires_grad=True)
    out = fn(x, **spec["kwargs"])
    np.testing.assert_allclose(out.numpy(), REFS[f"{case}/out"], rtol=RTOL, atol=ATOL)
    (out * cr.tensor(REFS[f"{case}/cot"])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), REFS[f"{case}/gx0"], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", OP_CASES)
def test_keras_op_matches_keras(case):
    """keras.ops.dot_product_attention, layer_normalization, hard_silu as cr.ops."""
    spec = json.loads(str(REFS[f"{case}/spec"]))
    xs = [cr.tensor(x, requires_grad=True) for x in arrays(case, "x")]
    masks = {"mask": REFS[f"{case}/mask"]} if f"{case}/mask" in REFS.files else {}
    out = getattr(cr.ops, spec["op"])(*xs, **spec["kwargs"], **masks)
    np.testing.assert_allclose(out.numpy(), REFS[f"{case}/out"], rtol=RTOL, atol=ATOL)
    grads = gradients((out * cr.tensor(REFS[f"{case}/cot"])).sum(), xs)
    for i, want in enumerate(arrays(case, "gx")):
        np.testing.assert_allclose(grads[i].numpy(), want, rtol=RTOL, atol=ATOL,
                                   err_msg=f"{case}: input gradient {i}")


def test_sparsemax_is_the_simplex_projection():
    x = REFS["act_sparsemax/x"].astype(np.float64)
    y = cr.activations.sparsemax(cr.tensor(x)).numpy()
    np.testing.assert_allclose(y.sum(-1), 1.0)
    # row 0: two entries kept, τ = (1.3 + 0.4 - 1)/2 = 0.35
    np.testing.assert_allclose(y[0], [0, 0, 0, 0, 0.05, 0.95], atol=1e-6)   # x was float32
    keras_rows = REFS["act_sparsemax/out"]
    np.testing.assert_allclose(y[1], keras_rows[1], atol=1e-6)    # one entry kept: Keras agrees
    assert abs(keras_rows[0].sum() - 1) > 0.5                      # Keras' bug, documented above
    assert cr.gradcheck(lambda t: cr.activations.sparsemax(t) * cr.tensor([[1, 2, 3, 4, 5, 6.]]),
                        x + 0.01)


def _ref_output(case):
    return REFS[f"{case}/out"]


def test_masked_and_unmasked_attention_differ_as_in_keras():
    """The same weights and inputs give Keras' different numbers with and
    without the masks: mha_mask vs the same layer unmasked here, and the
    causal case's first query step sees only the first key."""
    spec = json.loads(str(REFS["mha_mask/spec"]))
    layer = make(spec)
    xs = [cr.tensor(x) for x in arrays("mha_mask", "x")]
    layer(*xs)
    layer.set_weights(arrays("mha_mask", "w"))
    unmasked = layer(*xs).numpy()
    masked = layer(*xs, attention_mask=REFS["mha_mask/attention_mask"]).numpy()
    np.testing.assert_allclose(masked, _ref_output("mha_mask"), rtol=RTOL, atol=ATOL)
    assert not np.allclose(unmasked, masked, rtol=1e-3)
    causal_spec = json.loads(str(REFS["mha_causal/spec"]))
    causal = make(causal_spec)
    xs = [cr.tensor(x) for x in arrays("mha_causal", "x")]
    causal(*xs)
    causal.set_weights(arrays("mha_causal", "w"))
    free = causal(*xs).numpy()
    assert not np.allclose(free, _ref_output("mha_causal"), rtol=1e-3)
    np.testing.assert_allclose(causal(*xs, use_causal_mask=True).numpy(),
                               _ref_output("mha_causal"), rtol=RTOL, atol=ATOL)


def test_embedding_mask_reaches_multi_head_attention_as_in_keras():
    """Embedding(mask_zero=True) then self-attention: the padded steps are
    masked as queries and as keys (Keras merges query_mask and value_mask),
    and the output carries the query's mask."""
    ids = REFS["embedding_mha/ids"]
    embedding = layers.Embedding(6, 4, mask_zero=True)
    mha = layers.MultiHeadAttention(2, 3)
    embedding(ids)
    embedding.set_weights([REFS["embedding_mha/embeddings"]])
    embedded = embedding(ids)
    mha(embedded, embedded)
    mha.set_weights(arrays("embedding_mha", "w"))
    out = mha(embedded, embedded)
    np.testing.assert_allclose(out.numpy(), REFS["embedding_mha/out"], rtol=RTOL, atol=ATOL)
    mask = get_keras_mask(out)
    np.testing.assert_array_equal(np.asarray(getattr(mask, "data", mask)),
                                  REFS["embedding_mha/out_mask"])
    unmasked = mha(cr.tensor(embedded.numpy()), cr.tensor(embedded.numpy()))
    assert not np.allclose(unmasked.numpy(), out.numpy(), rtol=1e-3)


def test_attention_layer_takes_and_passes_on_the_query_mask():
    ids = np.array([[3, 1, 0], [2, 0, 0]])
    embedded = layers.Embedding(5, 4, mask_zero=True)(ids)
    out = layers.Attention()([embedded, embedded])
    np.testing.assert_array_equal(np.asarray(getattr(get_keras_mask(out), "data",
                                                     get_keras_mask(out))), ids != 0)
    np.testing.assert_array_equal(out.numpy()[ids == 0], 0.0)     # masked queries give zeros


def test_scores_are_the_attention_weights():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    x = cr.randn(2, 4, 5)
    y, scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    np.testing.assert_allclose(scores.numpy().sum(-1), 1.0, rtol=1e-6)
    assert scores.shape == (2, 2, 4, 4) and np.all(np.triu(scores.numpy()[0, 0], 1) == 0)
    np.testing.assert_allclose(layer(x, x, use_causal_mask=True).numpy(), y.numpy(), rtol=1e-5)


def test_functional_models_with_attention_scores_and_attention():
    inp = cr.Input((5, 8))
    mha = layers.MultiHeadAttention(2, 4)
    y, scores = mha(inp, inp, return_attention_scores=True)
    model = cr.Model(inp, [y, scores])
    x = np.random.default_rng(0).normal(size=(3, 5, 8)).astype("float32")
    got_y, got_scores = model.predict(x, verbose=0)
    want_y, want_scores = mha(cr.tensor(x), cr.tensor(x), return_attention_scores=True)
    np.testing.assert_allclose(got_y, want_y.numpy(), rtol=1e-6)
    np.testing.assert_allclose(got_scores, want_scores.numpy(), rtol=1e-6)
    q, v = cr.Input((3, 4)), cr.Input((5, 4))
    two_inputs = cr.Model([q, v], layers.Attention()([q, v]))
    assert two_inputs.predict([np.ones((2, 3, 4)), np.ones((2, 5, 4))], verbose=0).shape == \
        (2, 3, 4)


def test_average_pooling_same_does_not_count_the_padding():
    """As Keras on TensorFlow and JAX: [1..5], windows of 3, stride 3, 'same'
    pads one step at the end and the last window is (4 + 5)/2. (Keras 3.15.1
    on torch repeats the edge, (4 + 5 + 5)/3.)"""
    x = cr.tensor(np.arange(1.0, 6.0).reshape(1, 5, 1))
    y = layers.AveragePooling1D(3, padding="same")(x)
    np.testing.assert_allclose(y.numpy().ravel(), [2.0, 4.5])


def test_attention_dropout_only_while_training():
    x = cr.randn(2, 4, 6)
    for layer, call in [(layers.MultiHeadAttention(2, 3, dropout=0.5, seed=1),
                         lambda layer, **kw: layer(x, x, **kw)),
                        (layers.Attention(dropout=0.5, seed=1),
                         lambda layer, **kw: layer([x, x], **kw))]:
        quiet = call(layer).numpy()
        np.testing.assert_allclose(call(layer, training=False).numpy(), quiet)
        first, second = call(layer, training=True).numpy(), call(layer, training=True).numpy()
        assert not np.allclose(first, quiet) and not np.allclose(first, second)


# -- gradcheck in float64, inputs and weights ---------------------------------------
class _WeightsSwapped:
    """Within the block, every attribute holding one of ``weights`` holds the
    matching tensor of ``values`` instead (so gradcheck can nudge weights)."""

    def __init__(self, layer, weights, values):
        self.swaps = []
        subs = [layer] + [s for s in vars(layer).values() if isinstance(s, layers.Layer)]
        for sub in subs:
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


def _gradcheck(case, seed=0):
    spec = json.loads(str(REFS[f"{case}/spec"]))
    spec["call"].pop("return_attention_scores", None)
    layer = make(spec, dtype="float64")
    rng = np.random.default_rng(seed)
    xs = [rng.normal(0, 1, x.shape) for x in arrays(case, "x")]
    call_layer(layer, spec, [cr.tensor(x) for x in xs], case)
    for w in layer.weights:
        w.data[...] = rng.normal(0, 0.5, w.shape)
    weights = layer.trainable_weights
    swap = _WeightsSwapped(layer, weights, weights)
    assert len(swap.swaps) == len(weights), "every weight must be found to be nudged"

    def f(*args):
        inputs, values = args[:len(xs)], args[len(xs):]
        with _WeightsSwapped(layer, weights, values):
            return call_layer(layer, spec, inputs, case)
    assert cr.gradcheck(f, *xs, *[w.data.copy() for w in weights])


# Max pooling's kinks and relu6/hard_sigmoid-like corners are avoided by the
# random inputs; one case per layer class is enough for the finite differences.
GRADCHECK_CASES = ["layer_norm", "layer_norm_axes", "group_norm", "group_norm_instance",
                   "group_norm_axis1",
                   "mha_cross", "mha_mask_causal_scores", "mha_axis2_mask_scores",
                   "attention_scale_key",
                   "attention_concat", "attention_masks_causal", "conv1d_causal_dilated",
                   "conv1d_groups", "conv2d_dilated", "conv2d_groups", "conv2d_transpose_s2_same",
                   "conv2d_transpose_outpad", "conv1d_transpose_same", "depthwise_same_dilated",
                   "separable",
                   "max_pool1d_same", "avg_pool1d_same", "upsampling1d", "upsampling2d",
                   "upsampling2d_bilinear", "zero_padding1d", "zero_padding2d", "cropping1d",
                   "cropping2d"]


@pytest.mark.parametrize("case", GRADCHECK_CASES)
def test_gradcheck(case):
    _gradcheck(case)


# -- bad input ---------------------------------------------------------------------
def test_mha_key_and_value_that_do_not_fit():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")
    with pytest.raises(ShapeError, match=r"layer 'mha': key and value must have the same steps"):
        layer(cr.ones(2, 4, 6), cr.ones(2, 5, 6), key=cr.ones(2, 3, 6))
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha2")
    layer(cr.ones(2, 4, 6), cr.ones(2, 5, 6))
    with pytest.raises(ShapeError, match=r"layer 'mha2': the key has 7 features.*built for 6"):
        layer(cr.ones(2, 4, 6), cr.ones(2, 5, 6), key=cr.ones(2, 5, 7))
    with pytest.raises(ValueError, match="key_dim must be a positive integer"):
        layers.MultiHeadAttention(num_heads=2, key_dim=0)


def test_mha_mask_of_the_wrong_shape():
    layer = layers.MultiHeadAttention(num_heads=1, key_dim=2, name="mha")
    with pytest.raises(ShapeError, match=r"layer 'mha': attention_mask of shape \(2, 5, 4\) "
                                         r"does not broadcast to .* = \(2, 4, 5\)"):
        layer(cr.ones(2, 4, 3), cr.ones(2, 5, 3), attention_mask=np.ones((2, 5, 4), bool))
    att = layers.Attention(name="att")
    with pytest.raises(ShapeError, match=r"layer 'att': the value mask must have shape "
                                         r"\(batch, Tv\) = \(2, 5\)"):
        att([cr.ones(2, 4, 3), cr.ones(2, 5, 3)], mask=[None, np.ones((2, 4), bool)])


def test_groups_not_dividing_the_channels():
    with pytest.raises(ValueError, match=r"Conv2D layer 'c': groups=4 must divide both the "
                                         r"input channels \(6\) and filters \(8\)"):
        layers.Conv2D(8, 3, groups=4, name="c")(cr.ones(1, 5, 5, 6))
    with pytest.raises(ValueError, match=r"Conv1D layer 'c1': groups=2 must divide.*\(3\)"):
        layers.Conv1D(4, 3, groups=2, name="c1")(cr.ones(1, 5, 3))
    with pytest.raises(ValueError, match=r"GroupNormalization layer 'g': groups=4 must divide "
                                         r"the 6 channels"):
        layers.GroupNormalization(groups=4, name="g")(cr.ones(2, 6))


def test_other_argument_errors():
    with pytest.raises(ValueError, match="padding must be 'valid', 'same' or 'causal'"):
        layers.Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="score_mode must be 'dot' or 'concat'"):
        layers.Attention(score_mode="add")
    with pytest.raises(ShapeError, match=r"Cropping1D layer 'crop': cropping \(2, 2\) leaves "
                                         r"nothing"):
        layers.Cropping1D(2, name="crop")(cr.ones(1, 4, 2))
    with pytest.raises(ValueError, match="interpolation must be 'nearest' or 'bilinear'"):
        layers.UpSampling2D(interpolation="bicubic")
    with pytest.raises(ShapeError, match=r"LayerNormalization layer 'ln': axis 3 does not name"):
        layers.LayerNormalization(axis=3, name="ln")(cr.ones(2, 4))


def test_config_round_trip_and_registry():
    for layer in [layers.MultiHeadAttention(4, 8, value_dim=3, dropout=0.1, output_shape=5),
                  layers.LayerNormalization(axis=[1, 2], epsilon=1e-5),
                  layers.GroupNormalization(groups=4), layers.Conv1D(3, 2, padding="causal"),
                  layers.Conv2D(4, 3, dilation_rate=2, groups=2),
                  layers.Conv2DTranspose(2, 3, strides=2, output_padding=1),
                  layers.Conv1DTranspose(2, 3, strides=2, padding="same"),
                  layers.DepthwiseConv2D(3, depth_multiplier=2),
                  layers.SeparableConv2D(4, 3), layers.MaxPooling1D(3),
                  layers.UpSampling2D(interpolation="bilinear"), layers.Cropping2D(1),
                  layers.Attention(use_scale=True)]:
        config = layer.get_config()
        again = type(layer).from_config(config)
        assert again.get_config() == config
        assert layers.get_registered(type(layer).__name__) is type(layer)


def test_weight_constraints_are_taken_and_applied():
    """Keras' *_constraint arguments: attached to the weights they name and
    applied by the optimizer after each step."""
    made = [(layers.Conv2D(2, 3, kernel_constraint="non_neg"), (1, 5, 5, 2)),
            (layers.Conv1D(2, 3, kernel_constraint="non_neg"), (1, 5, 2)),
            (layers.Conv2DTranspose(2, 3, kernel_constraint="non_neg"), (1, 3, 3, 2)),
            (layers.Conv1DTranspose(2, 3, kernel_constraint="non_neg"), (1, 3, 2)),
            (layers.DepthwiseConv2D(3, depthwise_constraint="non_neg"), (1, 5, 5, 2)),
            (layers.SeparableConv2D(2, 3, pointwise_constraint="non_neg"), (1, 5, 5, 2)),
            (layers.LayerNormalization(gamma_constraint="non_neg"), (2, 4)),
            (layers.GroupNormalization(2, gamma_constraint="non_neg"), (2, 4))]
    for layer, shape in made:
        x = cr.randn(*shape)
        layer(x)
        constrained = [w for w in layer.trainable_weights if cr.constraints.constraint_of(w)]
        assert len(constrained) == 1, type(layer).__name__
        with cr.GradientTape() as tape:
            loss = (layer(x) * -1e3).sum() + (constrained[0] * 1e3).sum()
        grads = tape.gradient(loss, layer.trainable_weights)
        cr.optimizers.SGD(1.0).apply(grads, layer.trainable_weights)
        assert constrained[0].numpy().min() >= 0, type(layer).__name__
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    mha = layers.MultiHeadAttention(2, 3, kernel_constraint="unit_norm")
    x = cr.randn(2, 3, 4)
    mha(x, x)
    assert sum(cr.constraints.constraint_of(w) is not None for w in mha.weights) == 4


def test_a_small_transformer_block_trains():
    """LayerNormalization, causal MultiHeadAttention and a GELU MLP in a
    functional model: compile, fit, and the loss goes down."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (32, 6, 8)).astype("float32")
    y = np.cumsum(x, axis=1)[..., :1].astype("float32")       # needs causal context
    inp = cr.Input((6, 8))
    h = layers.LayerNormalization()(inp)
    h = layers.add([inp, layers.MultiHeadAttention(2, 4)(h, h, use_causal_mask=True)])
    mlp = layers.Dense(8)(layers.Dense(16, activation="gelu")(layers.LayerNormalization()(h)))
    h = layers.add([h, mlp])
    model = cr.Model(inp, layers.Dense(1)(h))
    model.compile(optimizer=cr.optimizers.Adam(1e-2), loss="mse")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
