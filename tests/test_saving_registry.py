"""cr.saving: Keras 3's saving registry (issue 22), from the examples in
Keras' own docstrings (keras/src/saving/object_registration.py)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers as L
from chainrule import saving


@pytest.fixture(autouse=True)
def clean_registry():
    """Each test registers its own objects; leave the global registry as found."""
    before = dict(saving.get_custom_objects())
    from chainrule import registry
    names_before = dict(registry._GLOBAL_CUSTOM_NAMES)
    yield
    saving.get_custom_objects().clear()
    saving.get_custom_objects().update(before)
    registry._GLOBAL_CUSTOM_NAMES.clear()
    registry._GLOBAL_CUSTOM_NAMES.update(names_before)


def test_register_keras_serializable_docstring_example():
    @saving.register_keras_serializable("my_package")
    class MyDense(L.Dense):
        pass

    assert saving.get_registered_object("my_package>MyDense") is MyDense
    assert saving.get_registered_name(MyDense) == "my_package>MyDense"
    # the default package is "Custom"; name= overrides the object's name
    fn = saving.register_keras_serializable()(lambda x: x)
    assert saving.get_registered_name(fn) == "Custom><lambda>"
    named = saving.register_keras_serializable("pkg", name="other")(np.tanh)
    assert saving.get_registered_name(named) == "pkg>other"


def test_registering_a_class_without_get_config_is_refused():
    class NoConfig:
        pass
    with pytest.raises(ValueError, match="no get_config"):
        saving.register_keras_serializable()(NoConfig)


def test_unregistered_objects_keep_their_python_name():
    def plain(x):
        return x
    assert saving.get_registered_name(plain) == "plain"
    assert saving.get_registered_object("plain") is None


def test_get_custom_objects_docstring_example():
    class MyObject:
        def get_config(self):
            return {}

    saving.get_custom_objects().clear()
    saving.get_custom_objects()["MyObject"] = MyObject
    assert saving.get_registered_object("MyObject") is MyObject


def test_custom_object_scope_docstring_example():
    # Consider a custom regularizer `my_regularizer`: a layer's config refers
    # to it by name, and Dense.from_config finds it inside the scope.
    def my_regularizer(w):
        return 0.01 * cr.sum(w * w)

    layer = L.Dense(3, kernel_regularizer=my_regularizer)
    config = layer.get_config()
    assert config["kernel_regularizer"] == "my_regularizer"
    with pytest.raises(ValueError, match="unknown regularizer 'my_regularizer'"):
        L.Dense.from_config(config)
    with saving.custom_object_scope({"my_regularizer": my_regularizer}):
        layer = L.Dense.from_config(config)
    assert layer.kernel_regularizer is my_regularizer
    layer(np.ones((2, 4), np.float32))
    assert len(layer.losses) == 1


def test_scopes_nest_and_end():
    a, b = object(), object()
    with saving.CustomObjectScope({"a": a}):
        with saving.custom_object_scope({"b": b}):
            assert saving.get_registered_object("a") is a
            assert saving.get_registered_object("b") is b
        assert saving.get_registered_object("b") is None
    assert saving.get_registered_object("a") is None


def _model_with(activation):
    model = cr.Sequential([cr.Input((3,)), L.Dense(4, activation=activation), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_load_model_brings_back_a_custom_activation_saved_by_name(tmp_path):
    def custom_fn(x):
        return cr.tanh(x) * 2

    model = _model_with(custom_fn)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    path = tmp_path / "custom.chainrule"
    model.save(path)
    with pytest.raises(ValueError, match="custom_fn"):
        cr.models.load_model(path)
    loaded = saving.load_model(path, custom_objects={"custom_fn": custom_fn})
    assert loaded.layers[0].activation is custom_fn
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # inside a scope, without custom_objects, as Keras
    with saving.custom_object_scope({"custom_fn": custom_fn}):
        assert saving.load_model(path).layers[0].activation is custom_fn


def test_a_registered_activation_loads_without_custom_objects(tmp_path):
    @saving.register_keras_serializable(package="mine")
    def scaled_tanh(x):
        return cr.tanh(x) * 3

    model = _model_with(scaled_tanh)
    assert model.layers[0].get_config()["activation"] == "mine>scaled_tanh"
    assert cr.activations.serialize(scaled_tanh) == "mine>scaled_tanh"
    path = tmp_path / "registered.chainrule"
    model.save(path)
    assert saving.load_model(path).layers[0].activation is scaled_tanh


def test_registered_name_in_configs_picks_the_registered_class():
    @saving.register_keras_serializable("pkg_a", name="Scale")
    class Scale(L.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

    spec = L.serialize(Scale(3.0))
    assert spec["registered_name"] == "pkg_a>Scale"
    assert "registered_name" not in L.serialize(L.Dense(2))       # built-ins carry none
    rebuilt = L.deserialize(spec)
    assert type(rebuilt) is Scale and rebuilt.factor == 3.0


def test_serialize_keras_object_round_trips():
    @saving.register_keras_serializable("pkg")
    class Halve(cr.regularizers.Regularizer):
        def __init__(self, rate=0.5):
            self.rate = rate

        def __call__(self, w):
            return self.rate * cr.sum(w)

        def get_config(self):
            return {"rate": self.rate}

    config = saving.serialize_keras_object(Halve(0.25))
    assert config == {"module": Halve.__module__, "class_name": "Halve",
                      "config": {"rate": 0.25}, "registered_name": "pkg>Halve"}
    back = saving.deserialize_keras_object(config)
    assert type(back) is Halve and back.rate == 0.25

    loss = saving.deserialize_keras_object(saving.serialize_keras_object(
        cr.losses.Huber(delta=2.0)))
    assert type(loss) is cr.losses.Huber and loss.get_config()["delta"] == 2.0
    layer = saving.deserialize_keras_object(saving.serialize_keras_object(L.Dense(7)))
    assert type(layer) is L.Dense and layer.units == 7
    model = cr.Sequential([cr.Input((3,)), L.Dense(4, kernel_initializer="zeros"), L.Dense(2)])
    again = saving.deserialize_keras_object(saving.serialize_keras_object(model))
    assert type(again) is cr.Sequential and again.count_params() == model.count_params()
    assert again.layers[0].get_config() == model.layers[0].get_config()
    relu = saving.serialize_keras_object(cr.activations.relu)
    assert relu["class_name"] == "function" and relu["config"] == "relu"
    assert saving.deserialize_keras_object(relu) is cr.activations.relu
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(
        saving.deserialize_keras_object(saving.serialize_keras_object(array)), array)
    nested = {"a": [1, 2.5, "x", None], "b": {"c": True}}
    assert saving.deserialize_keras_object(saving.serialize_keras_object(nested)) == nested


def test_deserialize_keras_object_with_custom_objects_argument():
    def my_fn(x):
        return x

    config = saving.serialize_keras_object(my_fn)
    assert config["config"] == "my_fn"
    with pytest.raises(ValueError, match="unknown object 'my_fn'"):
        saving.deserialize_keras_object(config)
    assert saving.deserialize_keras_object(config, custom_objects={"my_fn": my_fn}) is my_fn


def test_lambdas_cannot_be_saved():
    with pytest.raises(ValueError, match="lambda"):
        saving.serialize_keras_object(lambda x: x)


def test_load_and_save_are_the_models_functions():
    assert saving.load_model is cr.models.load_model
    assert saving.save_model is cr.models.save_model
    assert cr.saving is saving


def test_keras_guide_custom_layer_and_function_example():
    # The guide "Save, serialize, and export models", section "Custom layer
    # and function example", then "In-memory model cloning" in the same scope.
    class CustomLayer(L.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                     trainable=True)

        def call(self, inputs):
            return cr.matmul(inputs, self.w) + self.b

        def get_config(self):
            config = super().get_config()
            config.update({"units": self.units})
            return config

    def custom_activation(x):
        return cr.tanh(x) ** 2

    inputs = cr.Input((32,))
    x = CustomLayer(32)(inputs)
    outputs = L.Activation(custom_activation)(x)
    model = cr.Model(inputs, outputs)
    config = model.get_config()
    with pytest.raises(ValueError, match="unknown activation 'custom_activation'"):
        type(model).from_config(config)
    custom_objects = {"CustomLayer": CustomLayer, "custom_activation": custom_activation}
    with saving.custom_object_scope(custom_objects):
        new_model = type(model).from_config(config)
        clone = cr.models.clone_model(model)
    data = np.random.default_rng(0).normal(size=(3, 32)).astype(np.float32)
    for copy in (new_model, clone):
        assert copy.layers[-1].activation is custom_activation
        copy.set_weights(model.get_weights())
        np.testing.assert_allclose(copy.predict(data, verbose=0), model.predict(data, verbose=0),
                                   rtol=1e-6)


def test_custom_loss_and_metric_functions_come_back_compiled(tmp_path):
    def custom_loss(y_true, y_pred):
        return cr.mean((y_pred - y_true) ** 2, axis=-1)

    def custom_metric(y_true, y_pred):
        return np.abs(np.asarray(y_pred) - np.asarray(y_true)).mean(axis=-1)

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=(16, 1)).astype(np.float32)
    model = cr.Sequential([cr.Input((3,)), L.Dense(1)])
    model.compile(optimizer="sgd", loss=custom_loss, metrics=[custom_metric])
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "custom_loss.chainrule"
    model.save(path)
    with pytest.raises(ValueError, match="custom_loss"):
        saving.load_model(path)
    loaded = saving.load_model(path, custom_objects={"custom_loss": custom_loss,
                                                     "custom_metric": custom_metric})
    assert loaded.compiled
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    got = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert set(got) == set(expected) and "custom_metric" in got
    for key in expected:
        assert got[key] == pytest.approx(expected[key], rel=1e-6)
    loaded.fit(x, y, epochs=1, verbose=0)                     # training resumes
    assert saving.get_registered_object("custom_loss") is None   # the scope ended
