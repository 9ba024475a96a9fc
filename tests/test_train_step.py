"""One training loop that drives train_step/test_step/predict_step, overridable
as in the Keras 3 guide "Customizing what happens in fit()" (backend-agnostic
form), compile without a loss, fit without y, add_loss-only models (issues
16 and 22), and the finite-gradient check before each update (issue 20, item 4)."""
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule as keras
from chainrule import layers


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8)).astype(np.float32)
    y = (x.sum(axis=1, keepdims=True) / 4).astype(np.float32)
    return x, y


class CustomModel(keras.Model):
    """The guide's model: its own loss tracker and MAE, a tape-based step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.steps_run = 0

    def train_step(self, data):
        self.steps_run += 1
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = keras.losses.mean_squared_error(y, y_pred).mean()
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_the_guides_custom_model_built_functionally_trains_with_its_own_step():
    x, y = _data()
    cr.set_seed(0)
    inputs = keras.Input(shape=(8,))
    model = CustomModel(inputs, layers.Dense(1)(inputs))
    assert isinstance(model, CustomModel) and isinstance(model, keras.Model)
    model.compile(optimizer="adam")
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert model.steps_run == 20
    assert set(history.history) == {"loss", "mae"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    # The metrics are reset at each epoch: the last epoch's MAE is that epoch's own.
    assert history.history["mae"][-1] < history.history["mae"][0]


class SubclassedWithStep(keras.Model):
    """A call()-style subclass: its train_step must be used, not ignored."""

    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1)
        self.calls = 0

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        self.calls += 1
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        grads = cr.autodiff.gradients(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_a_call_style_subclass_uses_its_train_step_and_the_compiled_metrics():
    x, y = _data()
    cr.set_seed(0)
    model = SubclassedWithStep()
    model.compile(cr.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert model.calls == 6
    assert set(history.history) == {"loss", "mae"}       # compile_metrics flattened
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_a_custom_test_step_is_what_evaluate_runs():
    class Evaluated(SubclassedWithStep):
        def test_step(self, data):
            x, y = data
            return {"twice_mae": 2 * float(np.abs(self(x).numpy() - y).mean())}
    x, y = _data()
    model = Evaluated()
    model.compile("sgd", "mse")
    logs = model.evaluate(x, y, batch_size=len(x), return_dict=True)
    assert logs == pytest.approx({"twice_mae": 2 * np.abs(model.predict(x) - y).mean()})


def test_a_custom_predict_step_is_what_predict_runs():
    class Doubling(SubclassedWithStep):
        def predict_step(self, data):
            return self(data) * 2
    x, _ = _data()
    model = Doubling()
    plain = model(x).numpy()
    np.testing.assert_allclose(model.predict(x), 2 * plain, rtol=1e-6)


class Autoencoder(keras.Model):
    """A model with its own loss (as a VAE): compiled without loss, fit on x alone."""

    def __init__(self):
        super().__init__()
        self.encoder = layers.Dense(2, activation="tanh")
        self.decoder = layers.Dense(8)
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

    def call(self, x):
        return self.decoder(self.encoder(x))

    @property
    def metrics(self):
        return [self.total_loss_tracker]

    def train_step(self, data):
        with keras.GradientTape() as tape:
            reconstruction = self(data, training=True)
            loss = ((reconstruction - data) ** 2).mean()
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(loss)
        return {"total_loss": self.total_loss_tracker.result()}


def test_compile_without_loss_and_fit_without_y_for_a_model_with_its_own_loss():
    x, _ = _data(n=128)
    cr.set_seed(1)
    model = Autoencoder()
    model.compile(optimizer=cr.optimizers.Adam(0.01))
    history = model.fit(x, epochs=8, batch_size=32, verbose=0)
    losses = history.history["total_loss"]
    assert len(losses) == 8 and losses[-1] < 0.7 * losses[0]


class ActivityPenalty(layers.Layer):
    def call(self, inputs):
        self.add_loss(((inputs - 1.0) ** 2).mean())
        return inputs


def test_a_model_whose_only_loss_is_add_loss_trains():
    x, _ = _data()
    cr.set_seed(0)
    inputs = cr.Input((8,))
    outputs = ActivityPenalty()(layers.Dense(3)(inputs))
    model = cr.Model(inputs, outputs)
    model.compile(cr.optimizers.SGD(0.1))
    history = model.fit(x, epochs=10, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_sample_weighted_loss_is_keras_sum_over_batch_size():
    """Zero weights on half the batch: Σ w·l / N is half the mean loss of the
    other half, so one SGD step equals a step at half the learning rate on it."""
    x, y = _data(n=32)
    weights = np.r_[np.ones(16), np.zeros(16)].astype(np.float32)

    def model(lr):
        cr.set_seed(0)
        m = cr.Sequential([cr.Input((8,)), layers.Dense(1)])
        m.compile(cr.optimizers.SGD(lr), "mse", metrics=["mae"], weighted_metrics=["mae"])
        return m
    weighted = model(0.2)
    logs = weighted.train_on_batch(x, y, sample_weight=weights, return_dict=True)
    half = model(0.1)
    half.train_on_batch(x[:16], y[:16])
    for a, b in zip(weighted.get_weights(), half.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert set(logs) == {"loss", "mae", "weighted_mae"}
    assert logs["weighted_mae"] != pytest.approx(logs["mae"])


# --------------------------------------------------------------------------
# Issue 20, item 4: a gradient that is not finite stops training before the update
# --------------------------------------------------------------------------
class SqrtLayer(layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(input_shape[-1], 1), initializer="zeros")

    def call(self, x):
        return cr.ops.sqrt(x @ self.w)


def test_an_infinite_gradient_with_a_finite_loss_stops_naming_the_step_and_variable():
    x = np.abs(_data()[0])
    y = np.ones((len(x), 1), np.float32)
    model = cr.Sequential([cr.Input((8,)), SqrtLayer(name="root")])
    model.compile(cr.optimizers.SGD(0.1), "mse")
    stopped = []

    class Spy(cr.callbacks.Callback):
        def on_train_end(self, logs=None):
            stopped.append(self.model.stop_training)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # numpy's divide warning
        with pytest.warns(RuntimeWarning, match=r"Epoch 1, batch 1: the gradient of "
                                                r"'root/w' is (inf|nan)"):
            warnings.simplefilter("always", RuntimeWarning)
            history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[Spy()])
    assert stopped == [True] and len(history.history["loss"]) == 1
    assert np.all(model.get_weights()[0] == 0)        # the update was not applied


class TinyGAN(keras.Model):
    """The guide's GAN shape: no call(), its own compile, two optimizers."""

    def __init__(self, discriminator, generator):
        super().__init__()
        self.discriminator, self.generator = discriminator, generator
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, real):
        if isinstance(real, tuple):
            real = real[0]
        n = real.shape[0]
        noise = np.random.default_rng(n).normal(size=(n, 2)).astype(np.float32)
        combined = cr.ops.concatenate([self.generator(noise), cr.Tensor(real)], axis=0)
        labels = np.r_[np.ones((n, 1)), np.zeros((n, 1))].astype(np.float32)
        with keras.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(combined))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        with keras.GradientTape() as tape:
            g_loss = self.loss_fn(np.zeros((n, 1), np.float32),
                                  self.discriminator(self.generator(noise)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply(grads, self.generator.trainable_weights)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def test_a_gan_with_no_call_its_own_compile_and_two_optimizers_trains():
    cr.set_seed(0)
    discriminator = cr.Sequential([cr.Input((8,)), layers.Dense(1)])
    generator = cr.Sequential([cr.Input((2,)), layers.Dense(8)])
    gan = TinyGAN(discriminator, generator)
    d_opt, g_opt = cr.optimizers.Adam(1e-3), cr.optimizers.Adam(1e-3)
    gan.compile(d_opt, g_opt, cr.losses.BinaryCrossentropy(from_logits=True))
    before = [w.copy() for w in generator.get_weights()]
    history = gan.fit(_data()[0], epochs=2, batch_size=16, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss"}
    assert d_opt.iterations == g_opt.iterations == 8
    assert any(not np.array_equal(a, b) for a, b in zip(before, generator.get_weights()))


def test_a_model_compiled_without_loss_saves_and_loads_so(tmp_path):
    model = cr.Sequential([cr.Input((8,)), layers.Dense(1)])
    model.compile(cr.optimizers.Adam(0.01))
    model.save(tmp_path / "m.chainrule")
    loaded = cr.models.load_model(tmp_path / "m.chainrule")
    assert loaded.compiled and loaded._compile_loss is None
    model.compile("sgd", "mse", metrics=["mae"], weighted_metrics=["mae"])
    model.save(tmp_path / "w.chainrule")
    loaded = cr.models.load_model(tmp_path / "w.chainrule")
    x, y = _data(n=8)
    logs = loaded.evaluate(x, y, sample_weight=np.arange(8.0), return_dict=True)
    assert set(logs) == {"loss", "mae", "weighted_mae"}


def test_a_train_step_that_returns_no_dict_is_named():
    class Bare(SubclassedWithStep):
        def train_step(self, data):
            return 0.5
    model = Bare()
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match="must return a dict"):
        model.fit(*_data(), verbose=0)
