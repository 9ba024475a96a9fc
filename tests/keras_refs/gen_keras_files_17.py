"""Make the real Keras 3 files for issue 17's layers (tests/test_keras_files.py).

Run once with real Keras (keras==3.15.1, torch==2.13.0 CPU):

    KERAS_BACKEND=torch python tests/keras_refs/gen_keras_files_17.py

As gen_keras_files.py: for each architecture ``keras_<name>.keras`` (Keras'
own ``model.save`` after two epochs of training, so no weight is at its
initial value) and ``keras_<name>.npz`` with the inputs (``x`` or ``x0``,
``x1``...) and Keras' predictions on them (``y``), plus, for each of Keras'
``model.trainable_variables`` in order, its value (``var<i>``) and Adam's
first moment for it (``momentum<i>``): a loader that maps Keras' optimizer
variables onto the right weights finds each moment beside its weight. The
architectures cover
the layers issue 17 added: a transformer encoder block, a Conv1D model, the
convolution variants, the merge layers, masks and wrappers, the small layers.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def transformer(rng):
    """A transformer encoder block (Keras' text-classification example, small):
    self-attention, residual + LayerNormalization, a gelu feed-forward, again."""
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    x = layers.Embedding(20, 8, name="embed")(tokens)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(x, x)
    attended = layers.Dropout(0.1)(attended)
    x = layers.LayerNormalization(epsilon=1e-6, name="norm1")(layers.Add()([x, attended]))
    ff = layers.Dense(16, activation="gelu", name="ff1")(x)
    ff = layers.Dense(8, name="ff2")(ff)
    x = layers.LayerNormalization(epsilon=1e-6, name="norm2")(layers.Add()([x, ff]))
    x = layers.GlobalAveragePooling1D()(x)
    out = layers.Dense(3, activation="softmax", name="label")(x)
    model = keras.Model(tokens, out, name="transformer")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    x = rng.integers(0, 20, size=(48, 6)).astype("int32")
    return model, [x], rng.integers(0, 3, size=48)


def masked_transformer(rng):
    """The encoder block on padded token ids with Embedding(mask_zero=True):
    MultiHeadAttention ignores the padded keys, the pooling the padded steps
    (Keras records the masks as NotEqual/LogicalOr ops passed as mask=)."""
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    x = layers.Embedding(12, 8, mask_zero=True)(tokens)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    x = layers.LayerNormalization()(layers.Add()([x, attended]))
    x = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(tokens, layers.Dense(2, name="out")(x), name="masked_transformer")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    ids = rng.integers(1, 12, size=(40, 6)).astype("int32")
    for row, length in zip(ids, rng.integers(1, 7, size=40)):
        row[length:] = 0                                   # padded sequences
    return model, [ids], rng.normal(size=(40, 2)).astype("float32")


def cross_attention(rng):
    """MultiHeadAttention with query, value and key from different tensors,
    its own value_dim/output_shape, no biases, and a causal mask."""
    q = keras.Input((5, 6), name="query")
    v = keras.Input((7, 4), name="memory")
    kv = layers.Dense(4, name="key_proj")(v)
    h = layers.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=3, output_shape=5,
                                  use_bias=False, name="cross")(q, v, kv)
    s = layers.MultiHeadAttention(num_heads=1, key_dim=3, name="causal")(
        h, h, use_causal_mask=True)
    s = layers.LayerNormalization(center=False, name="norm")(s)
    out = layers.Dense(2, name="out")(layers.Flatten()(s))
    model = keras.Model([q, v], out, name="cross_attention")
    model.compile(optimizer="adam", loss="mse")
    xs = [rng.normal(size=(40, 5, 6)).astype("float32"),
          rng.normal(size=(40, 7, 4)).astype("float32")]
    return model, xs, rng.normal(size=(40, 2)).astype("float32")


def conv1d(rng):
    model = keras.Sequential([
        keras.Input((16, 3), name="signal"),
        layers.ZeroPadding1D(1),
        layers.Conv1D(4, 3, activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(6, 3, dilation_rate=2, padding="same", activation="silu"),
        layers.Conv1D(6, 2, strides=2, groups=2, padding="valid"),
        layers.UpSampling1D(2),
        layers.Cropping1D((1, 2)),
        layers.AveragePooling1D(2, padding="same"),
        layers.Conv1D(3, 2, padding="causal"),
        layers.Conv1DTranspose(4, 3, strides=2, padding="same", activation="tanh"),
        layers.GlobalMaxPooling1D(),
        layers.Dense(2),
    ], name="conv1d")
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="mse")
    x = rng.normal(size=(40, 16, 3)).astype("float32")
    return model, [x], rng.normal(size=(40, 2)).astype("float32")


def conv2d_variants(rng):
    model = keras.Sequential([
        keras.Input((9, 9, 4), name="image"),
        layers.Conv2D(4, 3, dilation_rate=2, padding="same", activation="relu"),
        layers.Conv2D(6, 3, groups=2),
        layers.GroupNormalization(groups=3),
        layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
        layers.SeparableConv2D(5, 3, activation="elu"),
        layers.Conv2DTranspose(3, 3, strides=2, padding="same"),
        layers.SpatialDropout2D(0.2),
        layers.ZeroPadding2D(((1, 0), (0, 2))),
        layers.Cropping2D(((2, 1), (1, 1))),
        layers.UpSampling2D(2),
        layers.GlobalAveragePooling2D(),
        layers.Dense(2),
    ], name="conv2d_variants")
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="mse")
    x = rng.normal(size=(32, 9, 9, 4)).astype("float32")
    return model, [x], rng.normal(size=(32, 2)).astype("float32")


def merges(rng):
    a = keras.Input((5,), name="a")
    b = keras.Input((5,), name="b")
    ha = layers.Dense(4, activation="tanh", name="dense_a")(a)
    hb = layers.Dense(4, activation="tanh", name="dense_b")(b)
    parts = [layers.Multiply()([ha, hb]), layers.Subtract()([ha, hb]),
             layers.Average()([ha, hb, ha]), layers.Maximum()([ha, hb]),
             layers.Minimum()([ha, hb]), layers.Dot(axes=1)([ha, hb]),
             layers.Dot(axes=-1, normalize=True)([ha, hb])]
    out = layers.Dense(3, activation="softmax", name="label")(layers.Concatenate()(parts))
    model = keras.Model([a, b], out, name="merges")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    xs = [rng.normal(size=(40, 5)).astype("float32") for _ in range(2)]
    return model, xs, rng.integers(0, 3, size=40)


def masked_sequences(rng):
    """Masks through Embedding(mask_zero) and Masking; Bidirectional,
    TimeDistributed, Attention, Permute, RepeatVector."""
    tokens = keras.Input((7,), dtype="int32", name="tokens")
    h = layers.Embedding(15, 6, mask_zero=True)(tokens)
    h = layers.Bidirectional(layers.LSTM(4, return_sequences=True))(h)
    h = layers.TimeDistributed(layers.Dense(5))(h)
    h = layers.Attention(use_scale=True)([h, h])
    pooled = layers.GlobalAveragePooling1D()(h)
    signal = keras.Input((6, 3), name="signal")
    g = layers.Masking(mask_value=0.0)(signal)
    g = layers.Bidirectional(layers.GRU(3), merge_mode="sum")(g)
    r = layers.RepeatVector(2)(g)
    r = layers.Flatten()(layers.Permute((2, 1))(r))
    out = layers.Dense(2, name="out")(layers.Concatenate()([pooled, r]))
    model = keras.Model([tokens, signal], out, name="masked_sequences")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    ids = rng.integers(1, 15, size=(40, 7)).astype("int32")
    for row, length in zip(ids, rng.integers(2, 8, size=40)):
        row[length:] = 0                                   # padded sequences
    signal_x = rng.normal(size=(40, 6, 3)).astype("float32")
    signal_x[::3, 4:] = 0.0                                # masked steps
    return model, [ids, signal_x], rng.normal(size=(40, 2)).astype("float32")


def small_layers(rng):
    normalization = layers.Normalization()
    normalization.adapt(rng.normal(loc=2.0, scale=3.0, size=(50, 6)).astype("float32"))
    model = keras.Sequential([
        keras.Input((6,), name="features"),
        layers.Rescaling(0.5, offset=1.0),
        normalization,
        layers.Normalization(mean=[0.5] * 6, variance=[2.0] * 6),
        layers.Dense(8),
        layers.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.5),
        layers.Dense(8),
        layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25)),
        layers.ELU(alpha=0.7),
        layers.GaussianNoise(0.1),
        layers.GaussianDropout(0.2),
        layers.Reshape((4, 2)),
        layers.SpatialDropout1D(0.3),
        layers.Identity(),
        layers.Flatten(),
        layers.Dense(4, activation="hard_silu"),
        layers.Dense(3),
        layers.Softmax(),
    ], name="small_layers")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    x = rng.normal(size=(40, 6)).astype("float32")
    return model, [x], rng.integers(0, 3, size=40)


def attention_variants(rng):
    """Attention with score_mode="concat" and a learned scale; MultiHeadAttention
    over one of two step axes (attention_axes)."""
    q = keras.Input((4, 3), name="q")
    v = keras.Input((6, 3), name="v")
    a = layers.Attention(score_mode="concat", use_scale=True)([q, v])
    grid = keras.Input((2, 5, 4), name="grid")
    m = layers.MultiHeadAttention(2, 3, attention_axes=(2,), name="rows")(grid, grid)
    out = layers.Dense(2, name="out")(
        layers.Concatenate()([layers.Flatten()(a), layers.Flatten()(m)]))
    model = keras.Model([q, v, grid], out, name="attention_variants")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    xs = [rng.normal(size=(40, *shape)).astype("float32")
          for shape in ((4, 3), (6, 3), (2, 5, 4))]
    return model, xs, rng.normal(size=(40, 2)).astype("float32")


def constraints(rng):
    """Weight constraints on issue 17's layers (chainrule applies them after
    each step, as Keras): MaxNorm and NonNeg on a convolution, UnitNorm on a
    LayerNormalization's gamma, MinMaxNorm on a depthwise kernel."""
    model = keras.Sequential([
        keras.Input((6, 6, 2), name="image"),
        layers.Conv2D(4, 3, kernel_constraint=keras.constraints.MaxNorm(0.5),
                      bias_constraint=keras.constraints.NonNeg()),
        layers.LayerNormalization(gamma_constraint=keras.constraints.UnitNorm(axis=0)),
        layers.DepthwiseConv2D(2, depthwise_constraint=keras.constraints.MinMaxNorm(0.2, 0.6)),
        layers.GlobalAveragePooling2D(),
        layers.Dense(2),
    ], name="constraints")
    model.compile(optimizer=keras.optimizers.Adam(5e-2), loss="mse")
    x = rng.normal(size=(32, 6, 6, 2)).astype("float32")
    return model, [x], rng.normal(size=(32, 2)).astype("float32")


ARCHITECTURES = {"transformer": transformer, "cross_attention": cross_attention,
                 "conv1d": conv1d, "conv2d_variants": conv2d_variants, "merges": merges,
                 "masked_sequences": masked_sequences, "small_layers": small_layers,
                 "attention_variants": attention_variants, "constraints": constraints,
                 "masked_transformer": masked_transformer}


def scaled_tanh(t):
    """The named function of the Lambda fixture (the test defines its twin)."""
    return keras.ops.tanh(t) * 1.5


def named_lambda():
    """A Lambda with a named function: Keras writes its name, not its code;
    chainrule loads it with safe_mode=False and the function in custom_objects."""
    keras.utils.set_random_seed(700)
    inputs = keras.Input((4,), name="x")
    outputs = layers.Lambda(scaled_tanh, name="squash")(layers.Dense(3)(inputs))
    model = keras.Model(inputs, outputs, name="named_lambda")
    x = np.random.default_rng(701).normal(size=(6, 4)).astype("float32")
    model.save(os.path.join(HERE, "keras_named_lambda.keras"))
    np.savez(os.path.join(HERE, "keras_named_lambda.npz"), x=x,
             y=np.asarray(model.predict(x, verbose=0)))


def main(names):
    assert keras.__version__ == "3.15.1", keras.__version__
    assert keras.backend.backend() == "torch", keras.backend.backend()
    for index, (name, make) in enumerate(ARCHITECTURES.items()):
        if names and name not in names:
            continue
        keras.utils.set_random_seed(500 + index)
        rng = np.random.default_rng(600 + index)
        model, xs, y = make(rng)
        model.fit(xs if len(xs) > 1 else xs[0], y, epochs=2, batch_size=16, verbose=0)
        test_xs = [x[:9] for x in xs]
        pred = model.predict(test_xs if len(xs) > 1 else test_xs[0], verbose=0)
        arrays = {"y": np.asarray(pred)}
        assert isinstance(model.optimizer, keras.optimizers.Adam)
        for i, (variable, momentum) in enumerate(zip(model.trainable_variables,
                                                     model.optimizer._momentums)):
            arrays[f"var{i}"] = keras.ops.convert_to_numpy(variable)
            arrays[f"momentum{i}"] = keras.ops.convert_to_numpy(momentum)
        for i, x in enumerate(test_xs):
            arrays["x" if len(xs) == 1 else f"x{i}"] = x
        path = os.path.join(HERE, f"keras_{name}.keras")
        model.save(path)
        np.savez(os.path.join(HERE, f"keras_{name}.npz"), **arrays)
        print(f"{name}: {os.path.getsize(path) / 1024:.1f} KB", file=sys.stderr)
    if not names or "named_lambda" in names:
        named_lambda()


if __name__ == "__main__":
    main(sys.argv[1:])
