"""Models: Sequential, functional and subclassed; building, weights, summary, config."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers


def _mlp(units=(8, 3), input_dim=4):
    return cr.Sequential([cr.Input((input_dim,))] +
                         [layers.Dense(u, activation="relu") for u in units[:-1]] +
                         [layers.Dense(units[-1])])


def _dense_reference(x, weights):
    """NumPy forward of a relu MLP from its [kernel, bias, ...] weights."""
    for i in range(0, len(weights), 2):
        x = x @ weights[i] + weights[i + 1]
        if i < len(weights) - 2:
            x = np.maximum(x, 0)
    return x


# --------------------------------------------------------------------------
# Sequential
# --------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["input", "input_shape", "build", "first_call"])
def test_sequential_builds_from_every_source_of_input_shape(how):
    if how == "input":
        model = cr.Sequential([cr.Input((4,)), layers.Dense(8), layers.Dense(3)])
    elif how == "input_shape":
        model = cr.Sequential([layers.Dense(8, input_shape=(4,)), layers.Dense(3)])
    else:
        model = cr.Sequential([layers.Dense(8), layers.Dense(3)])
        assert not model.weights
        if how == "build":
            model.build((None, 4))
        else:
            model(np.zeros((2, 4), np.float32))
    assert model.built
    assert [w.shape for w in model.get_weights()] == [(4, 8), (8,), (8, 3), (3,)]
    assert model.count_params() == 4 * 8 + 8 + 8 * 3 + 3
    assert len(model.layers) == 2                      # the Input is not a layer


def test_sequential_forward_equals_numpy_and_predict_returns_numpy(rng):
    model = _mlp((8, 5, 3))
    x = rng.normal(size=(7, 4)).astype(np.float32)
    expected = _dense_reference(x, model.get_weights())
    out = model.predict(x, batch_size=3)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_sequential_add_and_pop():
    model = cr.Sequential()
    model.add(cr.Input((4,)))
    model.add(layers.Dense(6))
    model.add(layers.Dense(2))
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dense"]
    assert model.layers[1].output_shape_ == (None, 2)
    popped = model.pop()
    assert isinstance(popped, layers.Dense) and len(model.layers) == 1
    assert model.count_params() == 4 * 6 + 6
    with pytest.raises(TypeError, match="expects a layer"):
        model.add("dense")


def test_wrong_input_shape_names_the_layer_and_both_shapes():
    model = _mlp()
    with pytest.raises(cr.ShapeError, match=r"Dense layer 'dense\w*'.*\(None, 4\).*\(10, 5\)"):
        model.predict(np.zeros((10, 5), np.float32))


def test_weights_are_tensors_tracked_in_keras_order():
    model = cr.Sequential([cr.Input((3,)), layers.Dense(4), layers.BatchNormalization(),
                           layers.Dense(2)])
    assert all(isinstance(w, cr.Tensor) for w in model.weights)
    assert len(model.trainable_weights) == 6          # 2 kernels, 2 biases, gamma, beta
    assert len(model.non_trainable_weights) == 2      # moving mean and variance
    assert all(not w.requires_grad for w in model.non_trainable_weights)
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 4


# --------------------------------------------------------------------------
# Functional
# --------------------------------------------------------------------------
def test_functional_several_inputs_and_outputs(rng):
    a, b = cr.Input((3,), name="a"), cr.Input((2,), name="b")
    joined = layers.Concatenate()([a, b])
    hidden = layers.Dense(4, activation="relu")(joined)
    out1, out2 = layers.Dense(2)(hidden), layers.Dense(1)(hidden)
    model = cr.Model([a, b], [out1, out2])
    assert isinstance(model, cr.Model) and type(model).__name__ == "Functional"
    xa, xb = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    p1, p2 = model.predict([xa, xb])
    k1, b1, k2, b2, k3, b3 = model.get_weights()
    h = np.maximum(np.concatenate([xa, xb], axis=1) @ k1 + b1, 0)
    np.testing.assert_allclose(p1, h @ k2 + b2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p2, h @ k3 + b3, rtol=1e-5, atol=1e-6)
    assert [type(l).__name__ for l in model.layers[:2]] == ["InputLayer", "InputLayer"]


def test_functional_shared_layer_counts_weights_once(rng):
    x1, x2 = cr.Input((3,)), cr.Input((3,))
    shared = layers.Dense(2)
    out = layers.Add()([shared(x1), shared(x2)])
    model = cr.Model([x1, x2], out)
    assert model.count_params() == 3 * 2 + 2
    assert sum(1 for l in model.layers if l is shared) == 1
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    k, bias = shared.get_weights()
    np.testing.assert_allclose(model.predict([a, b]), a @ k + b @ k + 2 * bias, rtol=1e-5)


def test_functional_wrong_input_shape_and_missing_input():
    x = cr.Input((3,), name="features")
    model = cr.Model(x, layers.Dense(2)(x))
    with pytest.raises(cr.ShapeError, match=r"'features'.*\(None, 3\).*\(4, 5\)"):
        model.predict(np.zeros((4, 5)))
    other = cr.Input((2,))
    y = layers.Concatenate()([x, other])
    with pytest.raises(ValueError, match="not in `inputs`"):
        cr.Model(x, y)
    with pytest.raises(TypeError, match="cr.Input"):
        cr.Model(np.zeros(3), y)


def test_model_as_a_layer_inside_another_model(rng):
    inner = _mlp((4, 2), input_dim=3)
    x = cr.Input((3,))
    outer = cr.Model(x, layers.Dense(1)(inner(x)))
    assert outer.count_params() == inner.count_params() + 2 + 1
    data = rng.normal(size=(5, 3)).astype(np.float32)
    k, b = outer.layers[-1].get_weights()
    np.testing.assert_allclose(outer.predict(data), inner.predict(data) @ k + b, rtol=1e-5)


# --------------------------------------------------------------------------
# Subclassed
# --------------------------------------------------------------------------
class TwoDense(cr.Model):
    def __init__(self, hidden=5, outputs=2, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(hidden, activation="relu")
        self.out = layers.Dense(outputs)

    def call(self, x, training=False):
        return self.out(self.hidden(x))


def test_subclassed_model_tracks_layers_and_weights(rng):
    model = TwoDense(hidden=6)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    out = model(x)
    assert model.layers == [model.hidden, model.out]
    assert [w.shape for w in model.trainable_weights] == [(4, 6), (6,), (6, 2), (2,)]
    np.testing.assert_allclose(out.numpy(), _dense_reference(x, model.get_weights()), rtol=1e-5)
    assert model.get_config()["hidden"] == 6


def test_subclassed_model_build_runs_a_batch_of_zeros():
    model = TwoDense()
    model.build((None, 7))
    assert model.count_params() == 7 * 5 + 5 + 5 * 2 + 2


def test_model_gradients_pass_gradcheck_in_float64(rng):
    x = cr.Input((3,), dtype="float64")
    h = layers.Dense(4, activation="tanh", dtype="float64")(x)
    model = cr.Model(x, layers.Dense(2, dtype="float64")(h))
    data = rng.normal(size=(5, 3))
    kernel = model.trainable_weights[0]

    def loss(k):
        with cr.no_grad():
            kernel.data[...] = k.data
        return (model(cr.tensor(data)) ** 2).sum()
    # the gradient from the model equals finite differences on its input
    cr.gradcheck(lambda inp: (model(inp) ** 2).sum(), cr.tensor(data))
    with cr.GradientTape() as tape:
        value = (model(cr.tensor(data)) ** 2).sum()
    grads = tape.gradient(value, model.trainable_weights)
    assert [g.shape for g in grads] == [w.shape for w in model.trainable_weights]
    eps, k0 = 1e-6, kernel.data.copy()
    bumped = k0.copy()
    bumped[0, 0] += eps
    up = float(loss(cr.tensor(bumped)))
    bumped[0, 0] -= 2 * eps
    down = float(loss(cr.tensor(bumped)))
    kernel.data[...] = k0
    np.testing.assert_allclose(grads[0].numpy()[0, 0], (up - down) / (2 * eps), rtol=1e-5)


# --------------------------------------------------------------------------
# Summary and config
# --------------------------------------------------------------------------
def test_summary_table_lists_layers_shapes_and_totals():
    model = cr.Sequential([cr.Input((4,)), layers.Dense(8, name="hidden"),
                           layers.BatchNormalization(name="norm"), layers.Dense(3, name="out")],
                          name="net")
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "net"' in text
    for header in ("Layer (type)", "Output Shape", "Param #"):
        assert header in text
    assert any("hidden (Dense)" in l and "(None, 8)" in l and "40" in l for l in lines)
    assert any("norm (BatchNormalization)" in l and "32" in l for l in lines)
    assert "Total params: 99" in text
    assert "Trainable params: 83" in text and "Non-trainable params: 16" in text


def test_summary_of_an_unbuilt_model_explains_how_to_build_it():
    with pytest.raises(ValueError, match="build"):
        cr.Sequential([layers.Dense(2)]).summary()


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_config_round_trip_rebuilds_the_same_architecture(kind, rng):
    if kind == "sequential":
        model = _mlp((6, 2))
    else:
        x = cr.Input((4,))
        model = cr.Model(x, layers.Dense(2)(layers.Dense(6, activation="relu")(x)))
    config = model.get_config()
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    data = rng.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(clone.predict(data), model.predict(data))
    assert [type(l).__name__ for l in clone.layers] == [type(l).__name__ for l in model.layers]
