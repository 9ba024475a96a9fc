"""Masks as Keras 3 propagates them (issue 17 part B): merges of masked inputs,
a functional model with two masked inputs, its masked loss (with per-step
sample weights) and one epoch of training, against real Keras 3.15.1 numbers
(keras_refs/gen_layers_17b.py -> masks_17b.npz); and the mask plumbing of
``Layer.__call__`` itself.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers
from chainrule.masks import get_keras_mask, set_keras_mask

REFS = np.load(Path(__file__).parent / "keras_refs" / "masks_17b.npz")
MERGES = sorted({k.split("/")[0] for k in REFS.files if k.endswith("/spec")})


@pytest.mark.parametrize("case", MERGES)
def test_merge_of_masked_inputs_matches_keras(case):
    spec = json.loads(str(REFS[f"{case}/spec"]))
    xs = [cr.tensor(REFS[f"{case}/x{i}"], requires_grad=True) for i in range(2)]
    set_keras_mask(xs[0], REFS[f"{case}/m0"])
    if spec["both"]:
        set_keras_mask(xs[1], REFS[f"{case}/m1"])
    out = getattr(layers, spec["class"])(**spec["kwargs"])(xs)
    (out * cr.tensor(REFS[f"{case}/cot"])).sum().backward()
    np.testing.assert_allclose(out.numpy(), REFS[f"{case}/out"], rtol=1e-5, atol=1e-6)
    for i in range(2):
        np.testing.assert_allclose(xs[i].grad, REFS[f"{case}/gx{i}"], rtol=1e-5, atol=1e-6)
    mask = get_keras_mask(out)
    assert (mask is not None) == bool(REFS[f"{case}/has_mask"])
    if mask is not None:
        np.testing.assert_array_equal(mask, REFS[f"{case}/mask"])


def _functional_model():
    in_a, in_b = cr.Input((5,), dtype="int32"), cr.Input((5,), dtype="int32")
    emb_a = layers.Embedding(10, 4, mask_zero=True)(in_a)
    emb_b = layers.Embedding(10, 4, mask_zero=True)(in_b)
    seq = layers.LSTM(3, return_sequences=True)(layers.Add()([emb_a, emb_b]))
    model = cr.Model([in_a, in_b], layers.Dense(4, activation="softmax")(seq))
    model.set_weights([REFS[f"functional/w{j}"] for j in range(len(model.get_weights()))])
    return model


def test_functional_model_with_two_masked_inputs_matches_keras():
    model = _functional_model()
    ids = [REFS["functional/ids_a"], REFS["functional/ids_b"]]
    out = model(ids)
    np.testing.assert_allclose(out.numpy(), REFS["functional/out"], rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(get_keras_mask(out), (ids[0] != 0) | (ids[1] != 0))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
                  metrics=["accuracy"], weighted_metrics=["accuracy"])
    y, sw = REFS["functional/y"], REFS["functional/sw"]
    # the loss and the metrics leave the masked steps out (Keras' apply_mask)
    for tag, weights in (("", None), ("_sw", sw)):
        logs = model.evaluate(ids, y, sample_weight=weights, batch_size=3, verbose=0,
                              return_dict=True)
        for key in ("loss", "accuracy", "weighted_accuracy"):
            np.testing.assert_allclose(logs[key], REFS[f"functional/{key}{tag}"], rtol=1e-5,
                                       err_msg=f"{key}{tag}")
    # one SGD epoch on the masked loss lands on Keras' weights
    model.fit(ids, y, epochs=1, batch_size=3, shuffle=False, verbose=0)
    for j, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, REFS[f"functional/trained_w{j}"], rtol=1e-4, atol=1e-6,
                                   err_msg=f"weight {j}")


def test_masked_loss_ignores_what_the_model_predicts_on_padding():
    model = _functional_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    ids = [REFS["functional/ids_a"], REFS["functional/ids_b"]]
    y = REFS["functional/y"].copy()
    padding = (ids[0] == 0) & (ids[1] == 0)
    y_other = np.where(padding, (y + 1) % 4, y)              # change only padded targets
    assert padding.any()
    np.testing.assert_allclose(model.evaluate(ids, y_other, verbose=0),
                               model.evaluate(ids, y, verbose=0), rtol=1e-6)


def test_explicit_mask_argument_wins_over_the_carried_one():
    x = cr.tensor(np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32"))
    set_keras_mask(x, np.ones((2, 4), bool))
    lstm = layers.LSTM(2)
    explicit = np.array([[True, True, False, False], [True, False, False, False]])
    np.testing.assert_allclose(lstm(x, mask=explicit).numpy(),
                               lstm(x[:, :4], mask=explicit).numpy())
    assert not np.allclose(lstm(x, mask=explicit).numpy(), lstm(x).numpy())


def test_masks_go_away_with_their_tensors():
    import gc

    from chainrule import masks
    before = len(masks._MASKS)
    for _ in range(50):
        layers.Masking()(cr.ones(2, 3, 4))
    gc.collect()
    assert len(masks._MASKS) <= before + 1


def test_rnn_output_mask_follows_return_sequences_and_state():
    x = layers.Masking()(np.ones((2, 3, 4), "float32"))
    assert get_keras_mask(layers.GRU(2)(x)) is None
    out, h = layers.GRU(2, return_sequences=True, return_state=True)(x)
    assert get_keras_mask(out) is not None and get_keras_mask(h) is None


def test_global_average_pooling_with_a_mask_is_the_mean_of_the_kept_steps():
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    mask = np.array([[True, False, True], [False, True, False]])
    got = layers.GlobalAveragePooling1D()(x, mask=mask).numpy()
    np.testing.assert_allclose(got[0], (x[0, 0] + x[0, 2]) / 2)
    np.testing.assert_allclose(got[1], x[1, 1])


@pytest.mark.parametrize("tag", ["masked", "unmasked"])
def test_self_attention_over_a_masked_embedding_matches_keras(tag):
    """The Embedding's mask reaches MultiHeadAttention as query_mask and
    value_mask (filled by Layer.__call__ from the tensors, as Keras)."""
    inp = cr.Input((5,), dtype="int32")
    h = layers.Embedding(10, 8, mask_zero=tag == "masked")(inp)
    model = cr.Model(inp, layers.MultiHeadAttention(num_heads=2, key_dim=3)(h, h))
    model.set_weights([REFS[f"mha_{tag}/w{j}"] for j in range(len(model.get_weights()))])
    np.testing.assert_allclose(model.predict(REFS[f"mha_{tag}/ids"], verbose=0),
                               REFS[f"mha_{tag}/out"], rtol=1e-4, atol=1e-6)


def test_masked_and_unmasked_attention_differ_in_keras():
    assert not np.allclose(REFS["mha_masked/out"], REFS["mha_unmasked/out"], rtol=1e-3)


def test_mean_metric_with_per_step_weights_is_the_weighted_mean():
    """What masked metrics rest on: Σ w·v / Σ w over every step (Keras 3's
    reduce_to_samplewise_values), not T times it."""
    rng = np.random.default_rng(3)
    values, weights = rng.uniform(size=(4, 6)), rng.integers(0, 2, (4, 6)).astype(float)
    m = cr.metrics.Mean()
    m.update_state(values, sample_weight=weights)
    np.testing.assert_allclose(m.result(), (values * weights).sum() / weights.sum())


def test_time_distributed_hands_each_step_its_inner_mask():
    """Sentences of words: Embedding(mask_zero) on (batch, sentences, words)
    gives a (batch, sentences, words) mask, and TimeDistributed(GAP1D)
    averages each sentence over its real words only."""
    ids = np.array([[[1, 2, 0], [3, 0, 0]], [[4, 5, 6], [7, 7, 0]]])
    emb = layers.Embedding(8, 2, mask_zero=True)
    vectors = emb(ids)
    pooled = layers.TimeDistributed(layers.GlobalAveragePooling1D())(vectors).numpy()
    table = emb.embeddings.numpy()
    np.testing.assert_allclose(pooled[0, 0], table[[1, 2]].mean(0), rtol=1e-6)
    np.testing.assert_allclose(pooled[0, 1], table[3], rtol=1e-6)
    np.testing.assert_allclose(pooled[1, 0], table[[4, 5, 6]].mean(0), rtol=1e-6)


@pytest.mark.parametrize("loss", [cr.losses.SparseCategoricalCrossentropy(from_logits=True),
                                  cr.losses.MeanSquaredError(reduction="sum")])
def test_masked_loss_gradcheck(loss):
    rng = np.random.default_rng(5)
    mask = np.array([[True, True, False], [True, False, False]])
    if isinstance(loss, cr.losses.MeanSquaredError):
        y = rng.normal(size=(2, 3, 4))
    else:
        y = rng.integers(0, 4, (2, 3))

    def f(pred):
        carried = pred * 1.0                      # a new tensor carries the mask
        set_keras_mask(carried, mask)
        return loss(y, carried)
    assert cr.gradcheck(f, rng.normal(size=(2, 3, 4)))
    # and the masked steps get no gradient at all
    pred = cr.tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    f(pred).backward()
    assert np.all(pred.grad.numpy()[~mask] == 0) and np.any(pred.grad.numpy()[mask] != 0)


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.GRU, layers.LSTM])
@pytest.mark.parametrize("options", [
    {"return_sequences": True}, {"return_state": True}, {"go_backwards": True},
    {"return_sequences": True, "return_state": True, "zero_output_for_mask": True},
    {"initial_state": True}])
def test_fused_masked_rnn_equals_the_step_by_step_loop(cls, options):
    """Under a mask the fused op runs on the unmasked steps moved to the front;
    the per-step loop (layer.fused = False) is Keras' rnn as written. Holes in
    the middle, a fully masked row and initial states included (float64)."""
    options = dict(options)
    zero_output = options.pop("zero_output_for_mask", False)
    with_state = options.pop("initial_state", False)
    rng = np.random.default_rng(7)
    layer = cls(3, dtype="float64", zero_output_for_mask=zero_output, **options)
    x = rng.normal(size=(4, 6, 2))
    mask = np.array([[1, 1, 0, 1, 0, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0],
                     [0, 1, 1, 0, 0, 0]], bool)
    layer(cr.tensor(x))
    n_states = 2 if cls is layers.LSTM else 1
    init = [rng.normal(size=(4, 3)) for _ in range(n_states)] if with_state else None
    results = []
    for fused in (True, False):
        layer.fused = fused
        xt = cr.tensor(x, requires_grad=True)
        kwargs = {"initial_state": [cr.tensor(s) for s in init]} if init else {}
        out = layer(xt, mask=mask, **kwargs)
        outs = out if isinstance(out, list) else [out]
        sum((o * o).sum() for o in outs).backward()
        results.append(([o.numpy() for o in outs], xt.grad.numpy(),
                        [w.grad.numpy() for w in layer.trainable_weights]))
        for w in layer.trainable_weights:
            w.grad = None
    (fused_out, fused_gx, fused_gw), (loop_out, loop_gx, loop_gw) = results
    for a, b in zip(fused_out, loop_out):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fused_gx, loop_gx, rtol=1e-9, atol=1e-12)
    for a, b in zip(fused_gw, loop_gw):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("tag", ["masked", "unmasked"])
def test_transformer_classifier_with_a_mask_matches_keras(tag):
    """The mask goes through MultiHeadAttention, the residual Add and
    LayerNormalization (all pass it on, as Keras) to the masked mean."""
    inp = cr.Input((5,), dtype="int32")
    h = layers.Embedding(10, 8, mask_zero=tag == "masked")(inp)
    att = layers.MultiHeadAttention(num_heads=2, key_dim=4)(h, h)
    h = layers.LayerNormalization()(layers.Add()([h, att]))
    model = cr.Model(inp, layers.Dense(2)(layers.GlobalAveragePooling1D()(h)))
    model.set_weights([REFS[f"encoder_{tag}/w{j}"] for j in range(len(model.get_weights()))])
    np.testing.assert_allclose(model.predict(REFS[f"encoder_{tag}/ids"], verbose=0),
                               REFS[f"encoder_{tag}/out"], rtol=1e-4, atol=1e-6)


def test_batch_normalization_training_with_a_mask_matches_keras():
    """Keras 3 computes the batch's moments over the unmasked steps only."""
    bn = layers.BatchNormalization()
    x = cr.tensor(REFS["batchnorm/x"], requires_grad=True)
    bn(x)
    bn.set_weights([REFS[f"batchnorm/before{j}"] for j in range(4)])
    out = bn(x, training=True, mask=REFS["batchnorm/mask"])
    (out * cr.tensor(REFS["batchnorm/cot"])).sum().backward()
    np.testing.assert_allclose(out.numpy(), REFS["batchnorm/out"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x.grad, REFS["batchnorm/gx"], rtol=1e-4, atol=1e-5)
    for j, w in enumerate(bn.get_weights()):
        np.testing.assert_allclose(w, REFS[f"batchnorm/after{j}"], rtol=1e-5, atol=1e-6)
    plain = layers.BatchNormalization()
    plain(x)
    plain.set_weights([REFS[f"batchnorm/before{j}"] for j in range(4)])
    assert not np.allclose(plain(x, training=True).numpy(), REFS["batchnorm/out"], rtol=1e-3)
    with pytest.raises(cr.errors.ShapeError, match=r"BatchNormalization.*\(3, 5\)"):
        bn(x, training=True, mask=np.ones((3, 4), bool))


# -- custom layers and the mask protocol (Keras 3's rules for user layers) ---------
class HalvesInTime(cr.layers.Layer):
    """Returns the first and second half of the steps; the mask is cut the same way."""

    def call(self, x):
        half = x.shape[1] // 2
        return [x[:, :half], x[:, half:]]

    def compute_mask(self, inputs, previous_mask=None):
        if previous_mask is None:
            return None
        half = np.shape(previous_mask)[1] // 2
        return [previous_mask[:, :half], previous_mask[:, half:]]


class OddIdsMask(cr.layers.Layer):
    """Generates a mask from its input's values: odd ids are kept."""

    def call(self, ids):
        return ops.cast(ids, "float32")[..., None]

    def compute_mask(self, inputs, previous_mask=None):
        return np.asarray(getattr(inputs, "data", inputs)) % 2 == 1


class PassesMaskOn(cr.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True          # opting in, as a Keras layer does

    def call(self, x):
        return ops.relu(x)


class Stays(cr.layers.Layer):
    def call(self, x):
        return x * 2.0


class MaskedMeanOverTime(cr.layers.Layer):
    """A mask consumer: call(inputs, mask=None) gets the input's mask."""

    def call(self, x, mask=None):
        self.seen = None if mask is None else np.asarray(mask)
        weights = np.ones(x.shape[:2], x.dtype) if mask is None else np.asarray(mask, x.dtype)
        weights = cr.tensor(weights[..., None])
        return ops.sum(x * weights, axis=1) / ops.sum(weights, axis=1)


ops = cr.ops


def test_custom_layers_make_split_pass_on_and_consume_masks():
    ids = np.array([[3, 2, 5, 7, 4, 1], [1, 1, 2, 2, 9, 8]])
    x = OddIdsMask()(ids)
    np.testing.assert_array_equal(x._keras_mask, ids % 2 == 1)
    first, second = HalvesInTime()(x)
    np.testing.assert_array_equal(first._keras_mask, (ids % 2 == 1)[:, :3])
    np.testing.assert_array_equal(second._keras_mask, (ids % 2 == 1)[:, 3:])
    np.testing.assert_array_equal(PassesMaskOn()(x)._keras_mask, ids % 2 == 1)
    with pytest.warns(UserWarning, match="does not support masking"):
        assert Stays()(x)._keras_mask is None
    consumer = MaskedMeanOverTime()
    with pytest.warns(UserWarning, match="does not support masking"):   # as Keras: it
        out = consumer(x).numpy()[:, 0]                # consumes the mask, passes none on
    np.testing.assert_array_equal(consumer.seen, ids % 2 == 1)
    np.testing.assert_allclose(out, [(3 + 5 + 7 + 1) / 4, (1 + 1 + 9) / 3])


def test_placeholders_carry_symbolic_masks_in_a_functional_model():
    inputs = cr.Input((None,), dtype="int32")
    assert inputs._keras_mask is None
    x = layers.Embedding(20, 4, mask_zero=True)(inputs)
    assert x._keras_mask is not None and x._keras_mask.shape == (None, None)
    x = PassesMaskOn()(x)
    assert x._keras_mask is not None
    assert Stays()(x)._keras_mask is None              # not opted in: the mask ends
    last = layers.LSTM(3)(x)
    assert last._keras_mask is None                    # no return_sequences: no mask
    seqs = layers.LSTM(3, return_sequences=True)(x)
    assert seqs._keras_mask.shape == seqs.shape[:2]      # (batch, steps)
    model = cr.Model(inputs, [last, seqs])
    out_last, out_seqs = model(np.array([[4, 0, 0], [5, 6, 0]]))
    np.testing.assert_array_equal(out_seqs._keras_mask, [[True, False, False],
                                                         [True, True, False]])


def test_compute_mask_takes_keras_keyword_mask():
    """Keras' built-in layers spell it compute_mask(inputs, mask=None)."""
    ids = np.array([[2, 0]])
    assert layers.Embedding(3, 2, mask_zero=True).compute_mask(ids, mask=None).tolist() == \
        [[True, False]]
    seq_mask = np.array([[True, False]])
    assert layers.LSTM(2, return_sequences=True).compute_mask(None, mask=seq_mask) is seq_mask
    assert layers.GlobalAveragePooling1D().compute_mask(None, mask=seq_mask) is None
