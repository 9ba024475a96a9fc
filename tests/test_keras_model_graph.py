"""The model graph as Keras 3 exposes it (issue 16): ``model.inputs/outputs``,
``layer.input/output``, ``get_layer``, ``Input(batch_shape=)``,
``Model.from_config`` on a functional config and on custom layers whose
config has no name, and a layer called with two tensors."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers, ops


def _mlp():
    inputs = cr.Input(shape=(4,), name="features")
    hidden = layers.Dense(8, activation="relu", name="hidden")(inputs)
    outputs = layers.Dense(3, name="scores")(hidden)
    return cr.Model(inputs=inputs, outputs=outputs), inputs, hidden, outputs


def test_functional_inputs_outputs_and_layer_input_output():
    model, inputs, hidden, outputs = _mlp()
    assert model.inputs == [inputs] and model.outputs == [outputs]
    assert model.input is inputs and model.output is outputs
    dense = model.get_layer("hidden")
    assert dense.input is inputs and dense.output is hidden
    assert model.get_layer("scores").input is hidden
    assert model.get_layer("features").output is inputs     # the InputLayer


def test_feature_extractor_from_layer_outputs():
    """The pattern of the Keras 3 guides ('The Sequential model', 'The Functional API')."""
    initial = cr.Sequential([
        cr.Input(shape=(6,)),
        layers.Dense(5, activation="relu"),
        layers.Dense(4, activation="relu", name="my_intermediate_layer"),
        layers.Dense(2),
    ])
    extractor = cr.Model(inputs=initial.inputs,
                         outputs=[layer.output for layer in initial.layers])
    x = np.random.default_rng(0).normal(size=(3, 6)).astype("float32")
    features = extractor(x)
    assert [f.shape for f in features] == [(3, 5), (3, 4), (3, 2)]
    np.testing.assert_allclose(features[-1].numpy(), initial.predict(x, verbose=0), rtol=1e-6)
    single = cr.Model(inputs=initial.inputs,
                      outputs=initial.get_layer(name="my_intermediate_layer").output)
    np.testing.assert_allclose(single(x).numpy(), features[1].numpy(), rtol=1e-6)


def test_sequential_rebuild_keeps_one_node_per_layer():
    model = cr.Sequential([cr.Input(shape=(3,)), layers.Dense(2)])
    model.add(layers.Dense(4))
    first = model.layers[0]
    assert first.output.shape == (None, 2)          # still one node after the rebuild
    assert model.outputs[0].shape == (None, 4)
    model.pop()
    assert model.output.shape == (None, 2)
    with pytest.raises(AttributeError, match="no defined inputs"):
        _ = cr.Sequential([layers.Dense(2)]).inputs


def test_shared_layer_output_is_ambiguous_and_unused_layer_has_none():
    shared = layers.Dense(2)
    a, b = cr.Input((3,)), cr.Input((3,))
    shared(a)
    shared(b)
    with pytest.raises(AttributeError, match="ambiguous"):
        _ = shared.output
    with pytest.raises(AttributeError, match="never been called"):
        _ = layers.Dense(2).output


def test_get_layer_by_name_and_index():
    model, *_ = _mlp()
    assert model.get_layer(index=1).name == "hidden"
    assert model.get_layer(index=-1).name == "scores"
    with pytest.raises(ValueError, match=r"No such layer: nope\. Existing layers are"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="exactly one"):
        model.get_layer()
    with pytest.raises(ValueError, match="only 3 layers"):
        model.get_layer(index=3)


def test_input_batch_shape():
    x = cr.Input(batch_shape=(None, 10), name="b")
    assert x.shape == (None, 10) and x.input_layer.batch_shape == (None, 10)
    fixed = cr.Input(batch_shape=(16, 2, 3))
    assert fixed.shape == (None, 2, 3) and fixed.input_layer.batch_size == 16
    model = cr.Model(x, layers.Dense(1)(x))
    assert model.predict(np.zeros((5, 10)), verbose=0).shape == (5, 1)
    with pytest.raises(ValueError, match="not both"):
        cr.Input(shape=(3,), batch_shape=(None, 3))
    assert cr.layers.Input is cr.Input


class CustomDense(layers.Layer):
    """As in the Keras 3 guide 'The Functional API': get_config has no name."""

    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                 trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {"units": self.units}


def test_model_from_config_on_a_functional_config_with_a_nameless_custom_layer():
    inputs = cr.Input((4,))
    outputs = CustomDense(10)(inputs)
    model = cr.Model(inputs, outputs)
    config = model.get_config()
    new_model = cr.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
    assert type(new_model).__name__ == "Functional"
    assert [type(layer).__name__ for layer in new_model.layers] == ["InputLayer", "CustomDense"]
    new_model.set_weights(model.get_weights())
    x = np.ones((2, 4), "float32")
    np.testing.assert_allclose(new_model.predict(x, verbose=0), model.predict(x, verbose=0))


class LogisticEndpoint(layers.Layer):
    """The endpoint layer of the Keras 3 guides: ``call(self, targets, logits)``."""

    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = cr.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        self.add_loss(self.loss_fn(targets, logits, sample_weights))
        return ops.softmax(logits)


def test_layer_called_with_two_tensors_eagerly_and_in_a_functional_model():
    endpoint = LogisticEndpoint()
    logits = cr.tensor([[0.5, -1.0], [2.0, 0.0]])
    targets = cr.tensor([[1.0, 0.0], [0.0, 1.0]])
    probs = endpoint(targets, logits)
    np.testing.assert_allclose(probs.numpy().sum(axis=1), [1.0, 1.0], rtol=1e-6)
    assert len(endpoint.losses) == 1

    inputs = cr.Input(shape=(3,), name="inputs")
    target_input = cr.Input(shape=(10,), name="targets")
    logits_sym = layers.Dense(10)(inputs)
    predictions = LogisticEndpoint(name="predictions")(target_input, logits_sym)
    model = cr.Model(inputs=[inputs, target_input], outputs=predictions)
    assert model.get_layer("predictions").output is predictions
    rng = np.random.default_rng(0)
    x, t = rng.random((3, 3)).astype("float32"), rng.random((3, 10)).astype("float32")
    out = model([x, t])
    assert out.shape == (3, 10)
    assert len(model.losses) == 1 and np.isfinite(float(model.losses[0]))
    # the config keeps the second tensor, so the rebuilt model calls the layer the same way
    rebuilt = cr.Model.from_config(model.get_config(),
                                   custom_objects={"LogisticEndpoint": LogisticEndpoint})
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt([x, t]).numpy(), out.numpy(), rtol=1e-6)


def test_two_tensor_call_errors_are_clear():
    with pytest.raises(TypeError, match="both by position and by keyword"):
        LogisticEndpoint()(cr.ones(1, 2), cr.ones(1, 2), logits=cr.ones(1, 2))
    with pytest.raises(TypeError, match="positional"):
        layers.Dense(2)(cr.ones(1, 2), cr.ones(1, 2), cr.ones(1, 2))
    with pytest.raises(TypeError, match="without inputs"):
        layers.Dense(2)()


class Split(layers.Layer):
    def call(self, x):
        return [x[:, :2], x[:, 2:]]


def test_layer_with_two_outputs_in_a_functional_model():
    inputs = cr.Input((5,))
    left, right = Split()(inputs)
    model = cr.Model(inputs, [layers.Dense(1)(left), right])
    a, b = model(np.ones((4, 5), "float32"))
    assert a.shape == (4, 1) and b.shape == (4, 3)
    config = model.get_config()
    rebuilt = cr.Model.from_config(config, custom_objects={"Split": Split})
    rebuilt.set_weights(model.get_weights())
    a2, _ = rebuilt(np.ones((4, 5), "float32"))
    np.testing.assert_allclose(a2.numpy(), a.numpy())


@pytest.mark.filterwarnings("ignore:Gradients do not exist")   # head b: as Keras warns
@pytest.mark.parametrize("loss", [{"a": "mse"}, ["mse", None]], ids=["dict", "list-with-None"])
def test_an_output_left_out_of_the_loss_gets_no_loss(loss):
    inputs = cr.Input((3,))
    hidden = layers.Dense(4, name="shared")(inputs)
    model = cr.Model(inputs, [layers.Dense(1, name="a")(hidden), layers.Dense(2, name="b")(hidden)])
    model.compile(optimizer="sgd", loss=loss)
    head_b = [w.numpy().copy() for w in model.get_layer("b").weights]
    head_a = [w.numpy().copy() for w in model.get_layer("a").weights]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    ya, yb = rng.normal(size=(16, 1)), rng.normal(size=(16, 2))
    y = {"a": ya, "b": yb} if isinstance(loss, dict) else [ya, yb]
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    for before, w in zip(head_b, model.get_layer("b").weights):
        np.testing.assert_array_equal(w.numpy(), before)      # no loss, no update
    assert any(not np.array_equal(b, w.numpy())
               for b, w in zip(head_a, model.get_layer("a").weights))
    # the reported loss is the head-a mean squared error alone
    pred_a = model.predict(x, verbose=0)[0]
    assert np.isfinite(history.history["loss"]).all()
    assert model.evaluate(x, y, verbose=0, return_dict=True)["loss"] == pytest.approx(
        float(np.mean((pred_a - ya) ** 2)), rel=1e-5)
