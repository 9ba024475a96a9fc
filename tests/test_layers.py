"""Layers: outputs against NumPy references, gradients by gradcheck, shapes,
weights, errors and configs."""
import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers
from chainrule.errors import ShapeError


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def weight_slots(layer):
    """(owner layer, attribute name) of every trainable weight, in weight order."""
    slots = []
    for weight in layer.trainable_weights:
        for owner in layer._walk():
            names = [k for k, v in vars(owner).items() if v is weight]
            if names:
                slots.append((owner, names[0]))
                break
        else:
            raise AssertionError(f"weight {weight.name} is not an attribute of any layer")
    return slots


def layer_gradcheck(layer, *inputs, reset=None, **call_kwargs):
    """gradcheck a layer's output w.r.t. its floating inputs and every trainable weight.

    The float64 copies that gradcheck makes of the weights are swapped into
    the layer's attributes for each evaluation. ``reset`` runs before every
    evaluation (to replay the same random draws).
    """
    layer(*inputs, **call_kwargs)                       # build
    slots = weight_slots(layer)
    originals = [getattr(owner, name) for owner, name in slots]
    n_inputs = len(inputs)

    def f(*args):
        xs, ws = args[:n_inputs], args[n_inputs:]
        for (owner, name), w in zip(slots, ws):
            object.__setattr__(owner, name, w)
        if reset is not None:
            reset()
        try:
            out = layer(*xs, **call_kwargs)
        finally:
            for (owner, name), w in zip(slots, originals):
                object.__setattr__(owner, name, w)
        if isinstance(out, list):                      # return_state: check all outputs
            out = sum(((o * (k + 1.0)).sum() for k, o in enumerate(out)), cr.tensor(0.0, "float64"))
        return out
    assert cr.gradcheck(f, *inputs, *[w.data for w in originals])


def rand(rng, *shape):
    return rng.standard_normal(shape)


# --------------------------------------------------------------------------
# Dense
# --------------------------------------------------------------------------
@pytest.mark.parametrize("activation, np_fn", [
    (None, lambda z: z), ("relu", lambda z: np.maximum(z, 0)), ("tanh", np.tanh),
    ("sigmoid", sigmoid),
    ("softmax", lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True))])
def test_dense_matches_numpy(rng, activation, np_fn):
    layer = layers.Dense(3, activation=activation, dtype="float64")
    x = rand(rng, 5, 4)
    layer.build((None, 4))
    layer.built = True
    W, b = rand(rng, 4, 3), rand(rng, 3)
    layer.set_weights([W, b])
    np.testing.assert_allclose(layer(x).numpy(), np_fn(x @ W + b), rtol=1e-12)


def test_dense_on_nd_input_acts_on_last_axis(rng):
    layer = layers.Dense(2, dtype="float64")
    x = rand(rng, 3, 5, 4)
    y = layer(x)
    W, b = layer.get_weights()
    assert y.shape == (3, 5, 2)
    np.testing.assert_allclose(y.numpy(), x @ W + b, rtol=1e-12)


def test_dense_without_bias_and_float32_default():
    layer = layers.Dense(3, use_bias=False)
    y = layer(np.ones((2, 4)))
    assert [w.name for w in layer.weights] == ["kernel"]
    assert y.dtype == np.float32 and layer.kernel.dtype == np.float32


def test_dense_gradients(rng):
    layer_gradcheck(layers.Dense(3, activation="tanh", dtype="float64"), rand(rng, 4, 5))
    layer_gradcheck(layers.Dense(2, dtype="float64"), rand(rng, 2, 3, 4))


def test_dense_wrong_input_shape_names_layer_and_shapes():
    layer = layers.Dense(3, name="classifier")
    layer(np.ones((2, 4)))
    with pytest.raises(ShapeError, match=r"Dense layer 'classifier'.*\(None, 4\).*\(2, 5\)"):
        layer(np.ones((2, 5)))
    with pytest.raises(ShapeError, match=r"Dense layer 'classifier'.*at least 2 dimensions"):
        layers.Dense(3, name="classifier")(np.ones(4))


def test_dense_argument_validation():
    with pytest.raises(ValueError, match="units must be a positive integer, got 0"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="unknown activation 'rellu'"):
        layers.Dense(3, activation="rellu")
    with pytest.raises(ValueError, match="unknown initializer 'glorot'"):
        layers.Dense(3, kernel_initializer="glorot")


def test_set_weights_checks_count_and_shapes():
    layer = layers.Dense(3, name="d")
    layer(np.ones((1, 4)))
    assert [w.shape for w in layer.get_weights()] == [(4, 3), (3,)]
    with pytest.raises(ShapeError, match=r"weight 'kernel' has shape \(4, 3\) but the array "
                                         r"given for it has shape \(3, 4\)"):
        layer.set_weights([np.zeros((3, 4)), np.zeros(3)])
    with pytest.raises(ValueError, match="has 2 weight arrays .*received 1"):
        layer.set_weights([np.zeros((4, 3))])
    new = [np.full((4, 3), 2.0), np.full(3, -1.0)]
    layer.set_weights(new)
    for got, want in zip(layer.get_weights(), new):
        np.testing.assert_array_equal(got, want)


def test_regularizers_give_losses(rng):
    layer = layers.Dense(3, kernel_regularizer="l2", bias_regularizer=cr.regularizers.L1(0.5),
                         bias_initializer="ones", activity_regularizer=cr.regularizers.L2(0.1),
                         dtype="float64")
    x = rand(rng, 2, 4)
    y = layer(x)
    W, b = layer.get_weights()
    values = sorted(float(v) for v in layer.losses)
    want = sorted([0.01 * (W ** 2).sum(), 0.5 * np.abs(b).sum(), 0.1 * (y.numpy() ** 2).sum()])
    np.testing.assert_allclose(values, want, rtol=1e-12)


# --------------------------------------------------------------------------
# Activation, Dropout, Flatten, Reshape, merges
# --------------------------------------------------------------------------
def test_activation_layer_and_leaky_relu(rng):
    x = rand(rng, 3, 4)
    np.testing.assert_allclose(layers.Activation("relu")(x).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(layers.Activation(cr.activations.softplus, dtype="float64")(x).numpy(),
                               np.log1p(np.exp(x)), rtol=1e-12)
    np.testing.assert_allclose(layers.LeakyReLU()(x).numpy(), np.where(x > 0, x, 0.3 * x))
    layer_gradcheck(layers.Activation("elu", dtype="float64"), x)


def test_dropout_only_when_training(rng):
    x = np.ones((200, 50))
    layer = layers.Dropout(0.3, seed=1)
    np.testing.assert_array_equal(layer(x).numpy(), x)               # inference: identity
    y = layer(x, training=True).numpy()
    kept = y != 0
    assert 0.6 < kept.mean() < 0.8                                    # ~70% kept
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)           # kept values scaled
    y2 = layer(x, training=True).numpy()
    assert not np.array_equal(y, y2)                                  # a new mask per call
    y_again = layers.Dropout(0.3, seed=1)(x, training=True).numpy()
    np.testing.assert_array_equal(y, y_again)                         # seeded: reproducible
    with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\), got 1.5"):
        layers.Dropout(1.5)


def test_dropout_gradient(rng):
    layer = layers.Dropout(0.4, seed=0, dtype="float64")

    def reset():
        layer._rng = np.random.default_rng(0)
    layer_gradcheck(layer, rand(rng, 4, 5), reset=reset, training=True)


def test_flatten_and_reshape(rng):
    x = rand(rng, 2, 3, 4, 5)
    f64 = {"dtype": "float64"}
    np.testing.assert_array_equal(layers.Flatten(**f64)(x).numpy(), x.reshape(2, 60))
    assert layers.Flatten()(np.ones(3)).shape == (3, 1)
    np.testing.assert_array_equal(layers.Reshape((6, -1), **f64)(x).numpy(), x.reshape(2, 6, 10))
    np.testing.assert_array_equal(layers.Reshape((60,), **f64)(x).numpy(), x.reshape(2, 60))
    with pytest.raises(ShapeError, match=r"Reshape layer .*sample of shape \(3, 4, 5\) "
                                         r"\(60 values\) into target_shape \(7, -1\)"):
        layers.Reshape((7, -1))(x)
    with pytest.raises(ValueError, match="at most one -1"):
        layers.Reshape((-1, -1))
    layer_gradcheck(layers.Reshape((4, -1), dtype="float64"), rand(rng, 2, 2, 6))
    layer_gradcheck(layers.Flatten(dtype="float64"), rand(rng, 2, 2, 3))


def test_add_and_concatenate(rng):
    a, b, c = rand(rng, 2, 3), rand(rng, 2, 3), rand(rng, 2, 5)
    np.testing.assert_allclose(layers.Add()([a, b, b]).numpy(), a + 2 * b)
    np.testing.assert_array_equal(layers.Concatenate()([a, c]).numpy(),
                                  np.concatenate([a, c], -1))
    np.testing.assert_array_equal(layers.Concatenate(axis=1)([a[:, None], b[:, None]]).numpy(),
                                  np.stack([a, b], 1))
    with pytest.raises(ShapeError, match=r"Add layer .*same shape, got \(2, 3\), \(2, 5\)"):
        layers.Add()([a, c])
    with pytest.raises(ShapeError, match="differ on axis 1; only axis 2 may differ"):
        layers.Concatenate(axis=2)([rand(rng, 2, 3, 4), rand(rng, 2, 4, 4)])
    with pytest.raises(ValueError, match="list of at least 2 inputs"):
        layers.Add()([a])

    def f(a, b, c):
        return layers.Concatenate()([layers.Add()([a, b]), c]) * 2.0
    assert cr.gradcheck(f, a, b, c)


# --------------------------------------------------------------------------
# Conv2D and pooling: references written with explicit loops
# --------------------------------------------------------------------------
def same_padding(size, k, s):
    """TensorFlow's 'same': the odd extra row/column at the end."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def np_conv2d(x, w, b, stride, padding):
    n, h, wd, _ = x.shape
    kh, kw, _, cout = w.shape
    if padding == "same":
        (t, bo), (le, r) = same_padding(h, kh, stride), same_padding(wd, kw, stride)
        x = np.pad(x, ((0, 0), (t, bo), (le, r), (0, 0)))
    oh = (x.shape[1] - kh) // stride + 1
    ow = (x.shape[2] - kw) // stride + 1
    out = np.zeros((n, oh, ow, cout))
    for i in range(n):
        for r_ in range(oh):
            for c_ in range(ow):
                for o in range(cout):
                    window = x[i, r_ * stride:r_ * stride + kh, c_ * stride:c_ * stride + kw, :]
                    out[i, r_, c_, o] = np.sum(window * w[:, :, :, o]) + b[o]
    return out


@pytest.mark.parametrize("padding, stride, size", [
    ("valid", 1, 6), ("same", 1, 6), ("valid", 2, 7), ("same", 2, 6), ("same", 2, 7)])
def test_conv2d_matches_loops(rng, padding, stride, size):
    x = rand(rng, 2, size, size - 1, 3)
    layer = layers.Conv2D(4, (3, 2), strides=stride, padding=padding, dtype="float64")
    layer.build(x.shape)
    layer.built = True
    w, b = rand(rng, 3, 2, 3, 4), rand(rng, 4)
    layer.set_weights([w, b])
    y = layer(x)
    want = np_conv2d(x, w, b, stride, padding)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + want.shape[1:]


def test_conv2d_gradients_and_shapes(rng):
    layer_gradcheck(layers.Conv2D(2, 3, padding="same", strides=2, activation="tanh",
                                  dtype="float64"), rand(rng, 2, 5, 5, 2))
    conv = layers.Conv2D(8, 5)
    conv(np.zeros((1, 10, 10, 3), np.float32))
    assert [w.shape for w in conv.weights] == [(5, 5, 3, 8), (8,)]


def test_conv2d_errors():
    with pytest.raises(ValueError, match="data_format='channels_first' is not supported.*"
                                         "channels-last"):
        layers.Conv2D(4, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same', got 'full'"):
        layers.Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size must be a positive int or a pair"):
        layers.Conv2D(4, (3, 3, 3))
    conv = layers.Conv2D(4, 3, name="conv")
    conv(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ShapeError, match=r"Conv2D layer 'conv'.*\(None, None, None, 3\).*"
                                         r"\(1, 8, 8, 1\)"):
        conv(np.zeros((1, 8, 8, 1), np.float32))
    with pytest.raises(ShapeError, match="4 dimensions"):
        layers.Conv2D(4, 3)(np.zeros((8, 8, 3), np.float32))


def np_pool(x, k, s, padding, reduce):
    n, h, w, c = x.shape
    if padding == "same":
        (t, bo), (le, r) = same_padding(h, k, s), same_padding(w, k, s)
        x = np.pad(x, ((0, 0), (t, bo), (le, r), (0, 0)), constant_values=np.nan)
    oh, ow = (x.shape[1] - k) // s + 1, (x.shape[2] - k) // s + 1
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            window = x[:, i * s:i * s + k, j * s:j * s + k, :]
            out[:, i, j, :] = reduce(window, axis=(1, 2))     # nan-aware: padding ignored
    return out


@pytest.mark.parametrize("cls, reduce", [(layers.MaxPooling2D, np.nanmax),
                                         (layers.AveragePooling2D, np.nanmean)])
@pytest.mark.parametrize("pool, strides, padding", [(2, None, "valid"), (3, 2, "valid"),
                                                    (2, None, "same"), (3, 2, "same")])
def test_pooling_matches_loops(rng, cls, reduce, pool, strides, padding):
    x = rand(rng, 2, 7, 7, 3)
    layer = cls(pool_size=pool, strides=strides, padding=padding, dtype="float64")
    y = layer(x)
    want = np_pool(x, pool, strides or pool, padding, reduce)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12)
    assert layer.compute_output_shape((None, 7, 7, 3)) == (None,) + want.shape[1:]


def test_global_pooling(rng):
    x = rand(rng, 2, 4, 5, 3)
    f64 = {"dtype": "float64"}
    np.testing.assert_allclose(layers.GlobalAveragePooling2D(**f64)(x).numpy(), x.mean((1, 2)))
    np.testing.assert_allclose(layers.GlobalMaxPooling2D(**f64)(x).numpy(), x.max((1, 2)))
    assert layers.GlobalAveragePooling2D(keepdims=True)(x).shape == (2, 1, 1, 3)
    seq = rand(rng, 2, 6, 4)
    np.testing.assert_allclose(layers.GlobalAveragePooling1D(**f64)(seq).numpy(), seq.mean(1))
    np.testing.assert_allclose(layers.GlobalMaxPooling1D(**f64)(seq).numpy(), seq.max(1))


def test_pooling_gradients(rng):
    x = rand(rng, 2, 4, 4, 2)
    for layer in [layers.MaxPooling2D(dtype="float64"),
                  layers.AveragePooling2D(3, 1, padding="same", dtype="float64"),
                  layers.GlobalAveragePooling2D(dtype="float64"),
                  layers.GlobalMaxPooling2D(dtype="float64")]:
        layer_gradcheck(layer, x)


# --------------------------------------------------------------------------
# BatchNormalization
# --------------------------------------------------------------------------
def test_batchnorm_weights_order_and_trainability():
    bn = layers.BatchNormalization()
    bn(np.ones((2, 3), np.float32))
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in bn.trainable_weights] == ["gamma", "beta"]
    assert not bn.moving_mean.requires_grad and not bn.moving_variance.requires_grad
    np.testing.assert_array_equal(bn.moving_variance.numpy(), np.ones(3))


@pytest.mark.parametrize("shape, axis", [((8, 3), -1), ((4, 3, 3, 2), -1), ((5, 3, 4), 1)])
def test_batchnorm_training_and_inference_match_numpy(rng, shape, axis):
    x = rand(rng, *shape) * 2 + 1
    bn = layers.BatchNormalization(axis=axis, momentum=0.9, epsilon=1e-3, dtype="float64")
    bn(x)                                                   # build (inference: no update)
    features = shape[axis]
    gamma, beta = rand(rng, features), rand(rng, features)
    mm, mv = rand(rng, features), rng.uniform(0.5, 2, features)
    bn.set_weights([gamma, beta, mm, mv])
    reduce_axes = tuple(i for i in range(len(shape)) if i != axis % len(shape))
    bshape = [1] * len(shape)
    bshape[axis] = features

    def b(v):
        return v.reshape(bshape)

    # Inference: the moving statistics, and nothing changes.
    y = bn(x, training=False).numpy()
    np.testing.assert_allclose(y, b(gamma) * (x - b(mm)) / np.sqrt(b(mv) + 1e-3) + b(beta),
                               rtol=1e-10)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mm)

    # Training: the batch statistics (biased variance), then the moving update.
    mean, var = x.mean(reduce_axes), x.var(reduce_axes)
    y = bn(x, training=True).numpy()
    np.testing.assert_allclose(y, b(gamma) * (x - b(mean)) / np.sqrt(b(var) + 1e-3) + b(beta),
                               rtol=1e-10)
    np.testing.assert_allclose(bn.moving_mean.numpy(), mm * 0.9 + mean * 0.1, rtol=1e-12)
    np.testing.assert_allclose(bn.moving_variance.numpy(), mv * 0.9 + var * 0.1, rtol=1e-12)


def test_batchnorm_moving_stats_converge_and_bump_version(rng):
    bn = layers.BatchNormalization(momentum=0.5)
    x = (rng.standard_normal((256, 2)) * [2.0, 0.5] + [3.0, -1.0]).astype(np.float32)
    version = None
    for _ in range(30):
        bn(x, training=True)
        version, old = bn.moving_mean._version, version
        assert old is None or version > old
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(0), rtol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), x.var(0), rtol=1e-4)
    # Frozen (trainable=False): inference mode even when training, as Keras 3.
    bn.trainable = False
    before = bn.get_weights()
    y = bn(x * 2, training=True).numpy()
    for got, want in zip(bn.get_weights(), before):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(y, (x * 2 - before[2]) / np.sqrt(before[3] + 1e-3) * before[0]
                               + before[1], rtol=1e-5, atol=1e-6)


def test_batchnorm_gradients_through_batch_statistics(rng):
    x = rand(rng, 6, 3)
    bn = layers.BatchNormalization(dtype="float64")
    layer_gradcheck(bn, x, training=True)
    layer_gradcheck(layers.BatchNormalization(axis=1, dtype="float64"), rand(rng, 4, 2, 3),
                    training=True)
    layer_gradcheck(layers.BatchNormalization(dtype="float64"), x, training=False)
    # Through the batch statistics, the output of every feature sums to zero,
    # so the gradient of sum(y) w.r.t. x is zero; a gradient that treated the
    # statistics as constants would not be.
    xt = cr.tensor(x, requires_grad=True)
    bn(xt, training=True).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), 0, atol=1e-10)


def test_batchnorm_center_scale_off_and_errors():
    bn = layers.BatchNormalization(center=False, scale=False)
    bn(np.ones((2, 3), np.float32))
    assert [w.name for w in bn.weights] == ["moving_mean", "moving_variance"]
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\], got 1.5"):
        layers.BatchNormalization(momentum=1.5)
    with pytest.raises(ShapeError, match="axis 0 is the batch"):
        layers.BatchNormalization(axis=0)(np.ones((2, 3), np.float32))


# --------------------------------------------------------------------------
# Embedding
# --------------------------------------------------------------------------
def test_embedding_lookup_and_gradient_scatter(rng):
    emb = layers.Embedding(10, 4, dtype="float64")
    ids = np.array([[1, 2, 1], [9, 0, 1]])
    y = emb(ids)
    table = emb.get_weights()[0]
    assert table.shape == (10, 4)
    np.testing.assert_array_equal(y.numpy(), table[ids])
    assert np.all(np.abs(table) <= 0.05)                     # Keras' uniform(-0.05, 0.05)
    loss = (emb(ids) * cr.tensor(np.arange(4.0))).sum()
    loss.backward()
    counts = np.bincount(ids.ravel(), minlength=10)          # id 1 used three times
    np.testing.assert_allclose(emb.embeddings.grad.numpy(), counts[:, None] * np.arange(4.0))
    layer_gradcheck(emb, ids)


def test_embedding_errors():
    emb = layers.Embedding(5, 2, name="words")
    with pytest.raises(IndexError, match=r"'words': ids must lie in \[0, 5\).*from 0 to 7"):
        emb(np.array([[0, 7]]))
    with pytest.raises(TypeError, match="expects integer ids, got dtype float32"):
        emb(np.array([[0.5, 1.0]]))
    # mask_zero is supported since issue 17 (tests/test_layers_17b.py)
    assert layers.Embedding(5, 2, mask_zero=True).compute_mask(np.array([[0, 3]])).tolist() == \
        [[False, True]]
    assert emb(np.array([[1.0, 2.0]])).shape == (1, 2, 2)   # whole floats are cast, as Keras


# --------------------------------------------------------------------------
# Recurrent layers: step-by-step NumPy references with Keras' gate order
# --------------------------------------------------------------------------
def np_simple_rnn(x, W, U, b):
    h = np.zeros((x.shape[0], U.shape[0]))
    hs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ W + h @ U + b)
        hs.append(h)
    return np.stack(hs, 1), h


def np_lstm(x, W, U, b):
    u = U.shape[0]
    h = c = np.zeros((x.shape[0], u))
    hs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ W + h @ U + b
        i, f = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u])
        g, o = np.tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    return np.stack(hs, 1), h, c


def np_gru(x, W, U, b, reset_after):
    u = U.shape[0]
    h = np.zeros((x.shape[0], u))
    b_in, b_rec = (b[0], b[1]) if reset_after else (b, np.zeros(3 * u))
    hs = []
    for t in range(x.shape[1]):
        xz = x[:, t] @ W + b_in
        z = sigmoid(xz[:, :u] + h @ U[:, :u] + b_rec[:u])
        r = sigmoid(xz[:, u:2 * u] + h @ U[:, u:2 * u] + b_rec[u:2 * u])
        if reset_after:
            hh = np.tanh(xz[:, 2 * u:] + r * (h @ U[:, 2 * u:] + b_rec[2 * u:]))
        else:
            hh = np.tanh(xz[:, 2 * u:] + (r * h) @ U[:, 2 * u:])
        h = z * h + (1 - z) * hh
        hs.append(h)
    return np.stack(hs, 1), h


def set_random_weights(layer, rng, x):
    layer(x)
    arrays = [0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()]
    layer.set_weights(arrays)
    return arrays


@pytest.mark.parametrize("return_sequences", [False, True])
def test_simple_rnn_matches_numpy(rng, return_sequences):
    x = rand(rng, 3, 5, 4)
    layer = layers.SimpleRNN(6, return_sequences=return_sequences, dtype="float64")
    W, U, b = set_random_weights(layer, rng, x)
    assert (W.shape, U.shape, b.shape) == ((4, 6), (6, 6), (6,))
    seq, last = np_simple_rnn(x, W, U, b)
    np.testing.assert_allclose(layer(x).numpy(), seq if return_sequences else last, rtol=1e-10)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_lstm_matches_numpy(rng, return_sequences):
    x = rand(rng, 3, 5, 4)
    layer = layers.LSTM(6, return_sequences=return_sequences, dtype="float64")
    W, U, b = set_random_weights(layer, rng, x)
    assert (W.shape, U.shape, b.shape) == ((4, 24), (6, 24), (24,))
    seq, last, _ = np_lstm(x, W, U, b)
    np.testing.assert_allclose(layer(x).numpy(), seq if return_sequences else last, rtol=1e-10)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gru_matches_numpy(rng, reset_after, return_sequences):
    x = rand(rng, 3, 5, 4)
    layer = layers.GRU(6, reset_after=reset_after, return_sequences=return_sequences,
                       dtype="float64")
    W, U, b = set_random_weights(layer, rng, x)
    assert (W.shape, U.shape) == ((4, 18), (6, 18))
    assert b.shape == ((2, 18) if reset_after else (18,))
    seq, last = np_gru(x, W, U, b, reset_after)
    np.testing.assert_allclose(layer(x).numpy(), seq if return_sequences else last, rtol=1e-10)


def test_return_state_go_backwards_and_initial_state(rng):
    x = rand(rng, 2, 4, 3)
    lstm = layers.LSTM(5, return_sequences=True, return_state=True, dtype="float64")
    W, U, b = set_random_weights(lstm, rng, x)
    seq, h, c = lstm(x)
    want_seq, want_h, want_c = np_lstm(x, W, U, b)
    for got, want in [(seq, want_seq), (h, want_h), (c, want_c)]:
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)
    # go_backwards reads the sequence from the end (outputs stay in that order)
    back = layers.LSTM(5, return_sequences=True, go_backwards=True, dtype="float64")
    back(x)
    back.set_weights([W, U, b])
    np.testing.assert_allclose(back(x).numpy(), np_lstm(x[:, ::-1], W, U, b)[0], rtol=1e-10)
    # Running the second half from the state after the first half continues the sequence.
    first = layers.LSTM(5, return_state=True, dtype="float64")
    first(x)
    first.set_weights([W, U, b])
    _, h2, c2 = first(x[:, :2])
    second = layers.LSTM(5, dtype="float64")
    second(x)
    second.set_weights([W, U, b])
    np.testing.assert_allclose(second(x[:, 2:], initial_state=[h2, c2]).numpy(), want_h,
                               rtol=1e-10)
    with pytest.raises(ShapeError, match=r"initial_state must be 2 tensor\(s\) \(h, c\) of "
                                         r"shape \(2, 5\)"):
        second(x, initial_state=[h2])
    gru = layers.GRU(5, return_state=True)
    assert [t.shape for t in gru(x.astype(np.float32))] == [(2, 5), (2, 5)]


def test_lstm_forget_bias_starts_at_one():
    lstm = layers.LSTM(3, bias_initializer="zeros")
    lstm(np.zeros((1, 2, 4), np.float32))
    np.testing.assert_array_equal(lstm.bias.numpy(), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    off = layers.LSTM(3, unit_forget_bias=False)
    off(np.zeros((1, 2, 4), np.float32))
    np.testing.assert_array_equal(off.bias.numpy(), np.zeros(12))
    U = off.recurrent_kernel.numpy()                       # orthogonal columns by default
    np.testing.assert_allclose(U @ U.T, np.eye(3), atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: layers.SimpleRNN(3, return_sequences=True, dtype="float64"),
    lambda: layers.LSTM(3, dtype="float64"),
    lambda: layers.LSTM(2, return_sequences=True, return_state=True, dtype="float64"),
    lambda: layers.GRU(3, return_sequences=True, dtype="float64"),
    lambda: layers.GRU(3, reset_after=False, dtype="float64"),
])
def test_recurrent_gradients(rng, make):
    layer = make()
    layer(rand(rng, 2, 3, 2))
    layer.set_weights([0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()])
    layer_gradcheck(layer, rand(rng, 2, 3, 2))


def test_recurrent_dropout_masks_are_per_sequence(rng):
    x = np.ones((4, 6, 3))
    layer = layers.SimpleRNN(5, dropout=0.5, recurrent_dropout=0.5, seed=3,
                             return_sequences=True, dtype="float64")
    np.testing.assert_allclose(layer(x).numpy(), layer(x).numpy())     # inference: no dropout
    a = layer(x, training=True).numpy()
    b = layer(x, training=True).numpy()
    assert not np.allclose(a, b)

    def reset():
        layer._rng = np.random.default_rng(0)
    layer_gradcheck(layer, rand(rng, 2, 3, 3), reset=reset, training=True)


def test_recurrent_errors():
    with pytest.raises(ShapeError, match=r"LSTM layer 'seq'.*\(None, None, None\).*\(2, 3\)"):
        layers.LSTM(3, name="seq")(np.ones((2, 3), np.float32))
    with pytest.raises(NotImplementedError, match="stateful=True is not supported"):
        layers.GRU(3, stateful=True)
    with pytest.raises(ValueError, match=r"recurrent_dropout must be a number in \[0, 1\)"):
        layers.LSTM(3, recurrent_dropout=2)


def test_lstm_and_gru_match_torch(rng):
    torch = pytest.importorskip("torch")
    x = rand(rng, 3, 7, 4)
    u = 5
    t_lstm = torch.nn.LSTM(4, u, batch_first=True).double()
    t_gru = torch.nn.GRU(4, u, batch_first=True).double()
    with torch.no_grad():
        want_lstm = t_lstm(torch.from_numpy(x))[0].numpy()
        want_gru = t_gru(torch.from_numpy(x))[0].numpy()

    def p(name, module):
        return getattr(module, name).detach().numpy()
    # LSTM: torch's gate order i, f, g, o is Keras' i, f, c, o; torch has two biases.
    lstm = layers.LSTM(u, return_sequences=True, dtype="float64")
    lstm(x)
    lstm.set_weights([p("weight_ih_l0", t_lstm).T, p("weight_hh_l0", t_lstm).T,
                      p("bias_ih_l0", t_lstm) + p("bias_hh_l0", t_lstm)])
    np.testing.assert_allclose(lstm(x).numpy(), want_lstm, rtol=1e-10, atol=1e-12)

    # GRU: torch's gate order r, z, n; Keras' z, r, h. reset_after is torch's rule.
    def zrh(a):
        r, z, n = np.split(a, 3, axis=0)
        return np.concatenate([z, r, n], axis=0)
    gru = layers.GRU(u, return_sequences=True, dtype="float64")
    gru(x)
    gru.set_weights([zrh(p("weight_ih_l0", t_gru)).T, zrh(p("weight_hh_l0", t_gru)).T,
                     np.stack([zrh(p("bias_ih_l0", t_gru)), zrh(p("bias_hh_l0", t_gru))])])
    np.testing.assert_allclose(gru(x).numpy(), want_gru, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------
# Configs, custom layers, symbolic calls
# --------------------------------------------------------------------------
ALL_LAYERS = [
    (lambda: layers.Dense(3, activation="relu", kernel_initializer=cr.initializers.HeNormal(seed=1),
                          kernel_regularizer=cr.regularizers.L2(0.1)), (2, 4)),
    (lambda: layers.Dense(3, activation=cr.activations.tanh, use_bias=False), (2, 4)),
    (lambda: layers.Activation("softmax"), (2, 4)),
    (lambda: layers.LeakyReLU(0.1), (2, 4)),
    (lambda: layers.Dropout(0.2, seed=3), (2, 4)),
    (lambda: layers.Flatten(), (2, 3, 4)),
    (lambda: layers.Reshape((2, -1)), (2, 3, 4)),
    (lambda: layers.Conv2D(4, (3, 3), strides=(2, 2), padding="same", activation="relu",
                           bias_initializer=cr.initializers.Constant(0.1)), (2, 6, 6, 3)),
    (lambda: layers.MaxPooling2D((2, 2), padding="same"), (2, 5, 5, 3)),
    (lambda: layers.AveragePooling2D(3, strides=1), (2, 5, 5, 3)),
    (lambda: layers.GlobalAveragePooling2D(keepdims=True), (2, 5, 5, 3)),
    (lambda: layers.GlobalMaxPooling2D(), (2, 5, 5, 3)),
    (lambda: layers.BatchNormalization(momentum=0.9, epsilon=1e-5, center=False), (4, 3)),
    (lambda: layers.SimpleRNN(4, activation="relu", return_sequences=True), (2, 3, 5)),
    (lambda: layers.LSTM(4, recurrent_activation="hard_sigmoid", unit_forget_bias=False), (2, 3, 5)),
    (lambda: layers.GRU(4, reset_after=False, go_backwards=True), (2, 3, 5)),
]


@pytest.mark.parametrize("make, shape", ALL_LAYERS)
def test_serialize_round_trip(rng, make, shape):
    layer = make()
    x = rng.standard_normal(shape).astype(np.float32)
    y = layer(x)
    spec = json.loads(json.dumps(layers.serialize(layer)))     # JSON-friendly
    clone = layers.deserialize(spec)
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), y.numpy(), rtol=1e-6)


def test_embedding_and_merge_round_trip():
    emb = layers.Embedding(7, 3, embeddings_initializer="normal")
    clone = layers.deserialize(json.loads(json.dumps(layers.serialize(emb))))
    assert clone.get_config() == emb.get_config()
    cat = layers.Concatenate(axis=1)
    assert layers.deserialize(layers.serialize(cat)).axis == 1


def test_custom_layer_tracks_nested_weights(rng):
    class TwoTower(layers.Layer):
        def __init__(self, hidden, **kwargs):
            super().__init__(**kwargs)
            self.towers = [layers.Dense(hidden, activation="relu"), layers.Dense(hidden)]
            self.head = layers.Dense(1)

        def call(self, x):
            return self.head(self.towers[0](x) + self.towers[1](x))

    model = TwoTower(5, dtype="float64")
    x = rng.standard_normal((3, 4))
    assert model(x).shape == (3, 1)
    assert len(model.layers) == 3
    assert [w.shape for w in model.trainable_weights] == [(4, 5), (5,), (4, 5), (5,), (5, 1), (1,)]
    assert model.count_params() == 2 * (20 + 5) + 6
    assert layers.deserialize(layers.serialize(model)).get_config()["hidden"] == 5
    model.towers[1].trainable = False
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2


def test_symbolic_calls_infer_shapes():
    x = layers.SymbolicTensor((None, 10, 8))
    assert layers.LSTM(4, return_sequences=True)(x).shape == (None, 10, 4)
    out = layers.GRU(4, return_state=True)(x)
    assert [t.shape for t in out] == [(None, 4), (None, 4)]
    img = layers.SymbolicTensor((None, 28, 28, 1))
    y = layers.Conv2D(8, 3, strides=2, padding="same")(img)
    assert y.shape == (None, 14, 14, 8)
    assert layers.Flatten()(layers.MaxPooling2D()(y)).shape == (None, 7 * 7 * 8)
    ids = layers.SymbolicTensor((None, 12), dtype="int64")
    assert layers.Embedding(100, 6)(ids).shape == (None, 12, 6)
    a, b = layers.SymbolicTensor((None, 3)), layers.SymbolicTensor((None, 5))
    assert layers.Concatenate()([a, b]).shape == (None, 8)
    assert layers.Add()([a, a]).shape == (None, 3)


def test_activations_module(rng):
    x = rand(rng, 4, 3)
    acts = cr.activations
    np.testing.assert_allclose(acts.get("leaky_relu")(x).numpy(), np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(acts.hard_sigmoid(x).numpy(), np.clip(x + 3, 0, 6) / 6)
    np.testing.assert_allclose(acts.selu(x).numpy(),
                               1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 *
                                                             (np.exp(x) - 1)), rtol=1e-12)
    np.testing.assert_allclose(acts.silu(x).numpy(), x * sigmoid(x), rtol=1e-12)
    np.testing.assert_allclose(acts.softsign(x).numpy(), x / (1 + np.abs(x)), rtol=1e-12)
    np.testing.assert_allclose(acts.mish(x).numpy(), x * np.tanh(np.log1p(np.exp(x))),
                               rtol=1e-12)
    assert acts.get(None) is acts.linear and acts.get("swish") is acts.silu
    assert acts.get(np.tanh) is np.tanh
    assert acts.serialize("relu") == "relu" and acts.serialize(acts.swish) == "silu"
    with pytest.raises(ValueError, match="cannot serialize"):
        acts.serialize(lambda t: t)
    with pytest.raises(TypeError, match="cannot interpret 3 as an activation"):
        acts.get(3)
    big = cr.tensor([[-1000.0, 0.0, 1000.0]])
    for name in ["sigmoid", "softmax", "softplus", "tanh", "silu", "elu", "log_softmax"]:
        assert np.all(np.isfinite(acts.get(name)(big).numpy())), name
    for name in ["relu6", "hard_sigmoid", "softsign", "silu", "mish", "selu", "exponential"]:
        assert cr.gradcheck(acts.get(name), x + 0.01), name


def test_gradcheck_nudges_non_contiguous_inputs(rng):
    # A transposed (Fortran-ordered) array, as set_weights can leave in a
    # weight: gradcheck must still perturb the values it evaluates.
    w = np.asfortranarray(rng.standard_normal((3, 4)))
    assert cr.gradcheck(lambda w: (w * w).sum(), w)


@pytest.mark.parametrize("module", [
    "chainrule.activations", "chainrule.initializers", "chainrule.layers",
    "chainrule.layers.base", "chainrule.layers.core", "chainrule.layers.conv",
    "chainrule.layers.pooling", "chainrule.layers.normalization", "chainrule.layers.embedding",
    "chainrule.layers.recurrent"])
def test_docstring_examples_run(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module), extraglobs={"cr": cr, "np": np})
    assert result.failed == 0 and result.attempted > 0


def test_default_compute_output_shape_builds_and_runs_a_custom_layer():
    class Scale(cr.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w

    assert Scale().compute_output_shape((None, 3)) == (None, 3)
    assert Scale()(cr.Input((2, 5))).shape == (None, 2, 5)


@pytest.mark.parametrize("make, shape, count", [
    (lambda: cr.layers.Dense(4), (None, 2), 2),
    (lambda: cr.layers.LSTM(4), (None, 3, 2), 3),
    (lambda: cr.layers.Conv2D(2, 3), (None, 5, 5, 1), 2),
    (lambda: cr.layers.BatchNormalization(), (None, 3), 2),
])
def test_build_called_directly_marks_the_layer_built(make, shape, count):
    # Keras: layer.build(shape) then layer(x) creates the weights once.
    layer = make()
    layer.build(shape)
    assert layer.built
    layer(np.zeros((1,) + shape[1:], "float32"))
    assert len(layer.trainable_weights) == count
