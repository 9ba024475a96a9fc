"""cr.models.clone_model (issue 22), from the examples in Keras 3's
``clone_model`` docstring (keras/src/models/cloning.py)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers as L
from chainrule.models import clone_model


def _keras_doc_model():
    return cr.Sequential([
        cr.Input((728,)),
        L.Dense(32, activation="relu"),
        L.Dense(1, activation="sigmoid"),
    ])


def _same_architecture_new_weights(model, clone, x):
    assert type(clone) is type(model) and clone is not model
    assert [type(a) for a in clone.layers] == [type(b) for b in model.layers]
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    assert not {id(w) for w in clone.weights} & {id(w) for w in model.weights}
    # fresh initialization: the kernels differ ...
    assert not np.array_equal(clone.weights[0].data, model.weights[0].data)
    # ... and with the original's weights it computes the same function
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_sequential_docstring_example():
    model = _keras_doc_model()
    new_model = clone_model(model)
    x = np.random.default_rng(0).normal(size=(4, 728)).astype(np.float32)
    _same_architecture_new_weights(model, new_model, x)
    assert new_model.layers[0].get_config() == model.layers[0].get_config()


def test_functional_with_two_inputs_and_a_shared_layer():
    a, b = cr.Input((3,), name="a"), cr.Input((3,), name="b")
    shared = L.Dense(4, activation="tanh")
    merged = L.Concatenate()([shared(a), shared(b)])
    model = cr.Model([a, b], L.Dense(2)(merged))
    clone = clone_model(model)
    rng = np.random.default_rng(1)
    x = [rng.normal(size=(5, 3)).astype(np.float32) for _ in range(2)]
    _same_architecture_new_weights(model, clone, x)
    assert [t.name for t in clone.inputs] == ["a", "b"]
    assert len(clone.layers) == len(model.layers)          # the shared layer stays one


def test_clone_function_docstring_example_sets_every_seed():
    model = cr.Sequential([cr.Input((8,)), L.Dense(8), L.Dropout(0.5, seed=1),
                           L.Dense(2), L.Dropout(0.5, seed=2)])

    def clone_function(layer):
        config = layer.get_config()
        if "seed" in config:
            config["seed"] = 1337
        return layer.__class__.from_config(config)

    new_model = clone_model(model, clone_function=clone_function)
    assert [layer.seed for layer in new_model.layers if isinstance(layer, L.Dropout)] \
        == [1337, 1337]


def test_call_function_docstring_example_adds_dropout_after_each_dense():
    inputs = cr.Input((6,))
    outputs = L.Dense(1)(L.Dense(4, activation="relu")(inputs))
    model = cr.Model(inputs, outputs)

    def call_function(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        if isinstance(layer, L.Dense):
            out = L.Dropout(0.5)(out)
        return out

    new_model = clone_model(model, clone_function=lambda x: x,   # reuse the same layers
                            call_function=call_function)
    kinds = [type(layer).__name__ for layer in new_model.layers[1:]]
    assert kinds == ["Dense", "Dropout", "Dense", "Dropout"]
    assert new_model.layers[1] is model.layers[1]                # shared, not cloned
    x = np.ones((3, 6), np.float32)
    np.testing.assert_allclose(new_model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_input_tensors_build_the_copy_on_given_inputs():
    model = _keras_doc_model()
    new_input = cr.Input((728,), name="new_input")
    clone = clone_model(model, input_tensors=new_input)
    assert clone.build_input_shape == (None, 728)
    inputs = cr.Input((6,), name="mine")
    x = cr.Input((6,))
    fmodel = cr.Model(x, L.Dense(2)(x))
    fclone = clone_model(fmodel, input_tensors=[inputs])
    assert fclone.inputs[0] is inputs
    with pytest.raises(ValueError, match="has 1 inputs but input_tensors holds 2"):
        clone_model(fmodel, input_tensors=[cr.Input((6,)), cr.Input((6,))])
    with pytest.raises(TypeError, match="placeholders made by cr.Input"):
        clone_model(model, input_tensors=np.zeros((1, 728)))


def test_recursive_clones_inner_models_with_the_clone_function():
    inner = cr.Sequential([cr.Input((3,)), L.Dense(3), L.Dense(3)])
    x = cr.Input((3,))
    model = cr.Model(x, L.Dense(1)(inner(x)))
    seen = []

    def clone_function(layer):
        seen.append(type(layer).__name__)
        return layer.__class__.from_config(layer.get_config())

    clone_model(model, clone_function=clone_function)
    assert seen == ["Sequential", "Dense"]                 # the inner model as one layer
    seen.clear()
    clone = clone_model(model, clone_function=clone_function, recursive=True)
    assert seen == ["Dense", "Dense", "Dense"]             # its layers one by one
    assert not {id(w) for w in clone.weights} & {id(w) for w in model.weights}


def test_a_compiled_model_is_cloned_compiled_with_a_new_optimizer():
    model = _keras_doc_model()
    model.compile(optimizer=cr.optimizers.Adam(0.003), loss="binary_crossentropy",
                  metrics=["accuracy"])
    clone = clone_model(model)
    assert clone.compiled
    assert type(clone.optimizer) is cr.optimizers.Adam and clone.optimizer is not model.optimizer
    assert clone.optimizer.get_config()["learning_rate"] == pytest.approx(0.003)
    x = np.random.default_rng(2).normal(size=(16, 728)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    history = clone.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert "loss" in history.history and "accuracy" in history.history


def test_trainable_and_subclassed_models():
    model = _keras_doc_model()
    model.trainable = False
    assert clone_model(model).trainable is False

    class Net(cr.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = L.Dense(units)

        def call(self, x):
            return self.dense(x)

    net = Net(5)
    net(np.ones((1, 2), np.float32))
    copy = clone_model(net)
    assert type(copy) is Net and copy.units == 5 and copy.dense is not net.dense
    with pytest.raises(ValueError, match="only apply to Sequential and functional models"):
        clone_model(net, clone_function=lambda layer: layer)
    with pytest.raises(TypeError, match="needs a chainrule Model"):
        clone_model(L.Dense(2))
