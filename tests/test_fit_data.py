"""fit/evaluate/predict take data in every form Keras 3 takes (issue 16):
arrays, lists/tuples/dicts of arrays, generators and iterables of batches,
PyTorch DataLoaders, cr.utils.PyDataset; steps_per_epoch, validation_*,
initial_epoch, the *_on_batch methods; and bad input named (issue 20, item 8)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers


def _data(n=48, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x @ np.arange(1, features + 1, dtype=np.float32))[:, None] * 0.1
    return x, y.astype(np.float32)


def _model(features=4, seed=0, loss="mse", metrics=None):
    cr.set_seed(seed)
    model = cr.Sequential([cr.Input((features,)), layers.Dense(3, activation="tanh"),
                           layers.Dense(1)])
    model.compile(cr.optimizers.SGD(0.05), loss, metrics=metrics)
    return model


def _batches(x, y, size):
    for start in range(0, len(x), size):
        yield x[start:start + size], y[start:start + size]


def _same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_a_generator_of_batches_trains_like_the_arrays():
    x, y = _data()
    reference = _model()
    reference.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    model = _model()
    history = model.fit(_batches(x, y, 16), epochs=1, verbose=0)
    _same_weights(model, reference)
    assert len(history.history["loss"]) == 1


def test_a_list_of_batches_is_read_again_every_epoch():
    x, y = _data()
    reference = _model()
    reference.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    model = _model()
    model.fit(list(_batches(x, y, 16)), epochs=3, verbose=0)
    _same_weights(model, reference)


def test_a_pytorch_dataloader_is_read_with_its_tensors_converted():
    torch = pytest.importorskip("torch")
    x, y = _data()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        batch_size=16, shuffle=False)
    reference = _model()
    reference.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    model = _model()
    model.fit(loader, epochs=2, verbose=0)
    _same_weights(model, reference)
    np.testing.assert_allclose(model.evaluate(loader), reference.evaluate(x, y), rtol=1e-6)
    assert model.predict(loader).shape == (48, 1)


class _Dataset(cr.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_a_pydataset_is_read_by_index_and_told_each_epoch_end():
    x, y = _data()
    reference = _model()
    reference.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    dataset = _Dataset(x, y, 16, workers=1)
    model = _model()
    model.fit(dataset, epochs=2, shuffle=False, verbose=0)
    _same_weights(model, reference)
    assert dataset.epochs_ended == 2
    assert model.predict(dataset).shape == (48, 1)


def test_steps_per_epoch_reads_a_generator_on_across_epochs():
    x, y = _data(n=64)
    seen = []

    def forever():
        while True:
            for batch in _batches(x, y, 8):
                seen.append(1)
                yield batch
    model = _model()
    history = model.fit(forever(), steps_per_epoch=3, epochs=4, verbose=0)
    assert len(seen) == 12 and len(history.history["loss"]) == 4


def test_a_generator_that_runs_out_warns_and_stops():
    x, y = _data()
    model = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(_batches(x, y, 16), epochs=3, verbose=0)
    assert len(history.history["loss"]) <= 2


def test_tuples_and_dicts_of_arrays_for_several_inputs_and_outputs():
    rng = np.random.default_rng(1)
    xa, xb = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    y1, y2 = rng.normal(size=(20, 1)), rng.normal(size=(20, 1))
    losses = []
    for x, y in (((xa, xb), (y1, y2)), ({"b": xb, "a": xa}, {"second": y2, "first": y1})):
        cr.set_seed(3)
        a, b = cr.Input((3,), name="a"), cr.Input((2,), name="b")
        h = layers.Concatenate()([a, b])
        out1, out2 = layers.Dense(1, name="first")(h), layers.Dense(1, name="second")(h)
        model = cr.Model([a, b], [out1, out2])
        model.compile(cr.optimizers.SGD(0.1), "mse")
        losses.append(model.fit(x, y, batch_size=5, shuffle=False, verbose=0).history["loss"])
    assert losses[0] == losses[1]


def test_validation_data_as_a_tuple_with_weights_or_as_batches_and_validation_freq():
    x, y = _data()
    model = _model()
    history = model.fit(x, y, epochs=4, verbose=0, validation_freq=2,
                        validation_data=(x[:8], y[:8], np.ones(8)))
    assert "val_loss" in history.history and len(history.history["val_loss"]) == 2
    model = _model()
    history = model.fit(x, y, epochs=2, verbose=0, validation_data=list(_batches(x, y, 16)))
    expected = _model()
    expected.fit(x, y, epochs=2, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(expected.evaluate(x, y), rel=1e-5)


def test_initial_epoch_counts_the_epochs_from_there():
    x, y = _data()
    history = _model().fit(x, y, epochs=4, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3]


def test_on_batch_methods_and_evaluate_return_dict():
    x, y = _data(n=16)
    model = _model(metrics=["mae"])
    reference = _model(metrics=["mae"])
    reference.fit(x, y, batch_size=16, epochs=1, verbose=0)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "mae"}
    _same_weights(model, reference)
    model.reset_metrics()
    loss, mae = model.test_on_batch(x, y)
    assert model.evaluate(x, y, return_dict=True) == pytest.approx({"loss": loss, "mae": mae})
    np.testing.assert_allclose(model.predict_on_batch(x), model.predict(x), rtol=1e-6)


def test_an_unknown_kind_of_data_gets_the_list_of_what_is_accepted():
    model = _model()
    with pytest.raises(TypeError, match="PyDataset.*DataLoader"):
        model.fit(object(), verbose=0)
    with pytest.raises(ValueError, match="y must not be given"):
        model.fit(_batches(*_data(), 8), np.zeros(48), verbose=0)


# --------------------------------------------------------------------------
# Issue 20, item 8: inputs
# --------------------------------------------------------------------------
def test_object_complex_and_0d_inputs_are_named():
    model = _model()
    model.build((None, 4))
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = [1.0, 2.0], [3.0]
    with pytest.raises(TypeError, match="dtype object"):
        model.predict(ragged)
    with pytest.raises(TypeError, match="complex"):
        model.predict(np.ones((3, 4), dtype=np.complex128))
    with pytest.raises(ValueError, match="0-d"):
        model.predict(np.float32(3.0))
    with pytest.raises(TypeError, match="dtype object"):
        model.fit(ragged, np.zeros(2), verbose=0)


def test_integer_input_to_predict_gives_the_models_float_dtype():
    model = _model()
    out = model.predict(np.arange(12).reshape(3, 4))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, model.predict(np.arange(12.0).reshape(3, 4)), rtol=1e-6)


def test_embedding_models_keep_integer_indices():
    cr.set_seed(0)
    model = cr.Sequential([layers.Embedding(10, 3), layers.Flatten(), layers.Dense(1)])
    model.compile("sgd", "mse")
    out = model.predict(np.array([[1, 2], [3, 9]]))
    assert out.shape == (2, 1) and out.dtype == np.float32


def test_class_weight_weights_training_but_not_the_validation_split():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    cr.set_seed(0)
    model = cr.Sequential([cr.Input((4,)), layers.Dense(2, activation="softmax")])
    model.compile(cr.optimizers.SGD(0.0), "sparse_categorical_crossentropy")   # no update
    history = model.fit(x, y, class_weight={0: 1.0, 1: 5.0}, validation_split=0.25,
                        batch_size=40, verbose=0).history
    assert history["val_loss"][0] == pytest.approx(model.evaluate(x[30:], y[30:]), rel=1e-6)
    plain = model.evaluate(x[:30], y[:30])
    assert history["loss"][0] != pytest.approx(plain, rel=1e-3)


def test_evaluate_orders_its_values_as_keras():
    """Keras 3: logs sorted by name; the list puts model.metrics first (loss, then
    each output's loss), then the other names sorted (as real Keras 3.15 gives
    for this model: [loss, score_loss, cls_loss, cls_accuracy, score_mae])."""
    cr.set_seed(0)
    a = cr.Input((3,))
    h = layers.Dense(4)(a)
    model = cr.Model(a, [layers.Dense(1, name="score")(h),
                         layers.Dense(3, activation="softmax", name="cls")(h)])
    model.compile("sgd", ["mse", "sparse_categorical_crossentropy"],
                  metrics={"score": ["mae"], "cls": ["accuracy"]})
    x, y = np.ones((5, 3)), [np.ones((5, 1)), np.zeros(5)]
    logs = model.evaluate(x, y, return_dict=True)
    assert list(logs) == ["cls_accuracy", "cls_loss", "loss", "score_loss", "score_mae"]
    assert model.metrics_names == ["loss", "compile_metrics", "score_loss", "cls_loss"]
    assert model.evaluate(x, y) == [logs[k] for k in
                                    ("loss", "score_loss", "cls_loss", "cls_accuracy", "score_mae")]


def test_to_json_and_model_from_json_round_trip_the_architecture():
    cr.set_seed(0)
    model = cr.Sequential([cr.Input((4,)), layers.Dense(3, activation="tanh"), layers.Dense(1)])
    text = model.to_json(indent=2)
    again = cr.models.model_from_json(text)
    assert type(again) is cr.Sequential and again.count_params() == model.count_params()
    again.set_weights(model.get_weights())
    x = _data()[0]
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-6)
    a = cr.Input((4,))
    functional = cr.Model(a, layers.Dense(2)(a))
    assert cr.models.model_from_json(functional.to_json()).count_params() == 10
    with pytest.raises(ValueError, match="not a JSON string"):
        cr.models.model_from_json("{broken")


def test_a_tuple_of_arrays_for_a_one_input_model_is_named():
    x, y = _data()
    with pytest.raises(ValueError, match="tuple of 2 arrays, but the model has one input"):
        _model().fit((x, y), verbose=0)
