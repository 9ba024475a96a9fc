"""Keras 3 variables (issue 16): assign/assign_add/assign_sub/value on
weights, ``add_weight`` with Keras' signature, ``Metric.add_variable`` with
state made after ``super().__init__()``, ``add_loss``/``losses``."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers, ops


def test_assign_family_updates_in_place():
    layer = layers.Dense(2)
    layer.build((None, 3))
    kernel = layer.kernel
    returned = kernel.assign(np.ones((3, 2)))
    assert returned is kernel and layer.kernel is kernel
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones((3, 2)))
    kernel.assign_add(np.full((3, 2), 2.0))
    kernel.assign_sub(cr.ones(3, 2))
    np.testing.assert_array_equal(kernel.numpy(), np.full((3, 2), 2.0))
    assert kernel.dtype == np.float32 and kernel.requires_grad
    assert kernel.value is kernel
    with pytest.raises(cr.ShapeError, match=r"\(3, 2\).*\(4,\)"):
        kernel.assign(np.ones(4))


def test_assign_bumps_the_version_so_stale_graphs_are_refused():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    w.assign([3.0, 4.0])
    with pytest.raises(RuntimeError):
        y.backward()


class Linear(layers.Layer):
    """The layer of the Keras 3 guide 'Making new layers and models via subclassing'."""

    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal",
                                 trainable=True)
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


def test_add_weight_keras_signature_without_name():
    layer = Linear(4, 2)
    assert layer.w.shape == (2, 4) and layer.b.shape == (4,)
    assert len(layer.weights) == 2 and len(layer.trainable_weights) == 2
    assert layer(cr.ones(1, 2)).shape == (1, 4)


def test_add_weight_defaults_as_keras():
    layer = layers.Layer()
    scalar = layer.add_weight()                              # shape () , glorot_uniform
    assert scalar.shape == () and scalar.dtype == np.float32
    counter = layer.add_weight(shape=(2,), dtype="int32", trainable=False)
    assert counter.dtype == np.int32 and not counter.numpy().any()  # zeros for ints
    assert not counter.requires_grad
    frozen = layer.add_weight(shape=(3,), initializer="ones", trainable=False, name="f")
    assert frozen.name == "f" and not frozen.requires_grad
    assert len(layer.non_trainable_weights) == 2
    positional = layer.add_weight((2, 2), "ones", "float64")
    assert positional.dtype == np.float64 and positional.numpy().sum() == 4
    with pytest.raises(TypeError, match="both positionally"):
        layer.add_weight((2,), shape=(3,))
    with pytest.raises(TypeError, match="integers"):
        layer.add_weight(shape=(None, 3))
    # chainrule's older spelling, a name first, still works
    old = layer.add_weight("kernel", (2, 3), "zeros")
    assert old.name == "kernel" and old.shape == (2, 3) and not old.numpy().any()


def test_add_weight_regularizer_shows_in_losses_and_constraint_is_kept():
    layer = layers.Layer()
    w = layer.add_weight(shape=(2,), initializer="ones", regularizer=cr.regularizers.L2(0.5),
                         constraint=lambda v: v)
    assert len(layer.losses) == 1 and float(layer.losses[0]) == pytest.approx(1.0)
    assert id(w) in layer.constraints


class CategoricalTruePositives(cr.metrics.Metric):
    """The metric of the Keras 3 guide 'Training & evaluation with the built-in methods'."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        self.true_positives.assign(0.0)


def test_metric_with_state_made_after_super_init():
    m = CategoricalTruePositives()
    assert len(m.variables) == 1
    m.update_state(np.array([[1], [0], [2]]), np.array([[0.1, 0.9, 0], [1, 0, 0], [0, 1, 0]]))
    assert float(m.result()) == 2.0
    m.reset_state()
    assert float(m.result()) == 0.0


class Total(cr.metrics.Metric):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.total = self.add_variable((2,), "ones", dtype="float32")

    def update_state(self, values):
        self.total.assign_add(values)

    def result(self):
        return self.total


def test_metric_default_reset_zeroes_variables_and_initial_value_is_the_initializer():
    m = Total()
    np.testing.assert_array_equal(m.result().numpy(), [1, 1])     # not reset at creation
    m.update_state([2.0, 3.0])
    np.testing.assert_array_equal(m.result().numpy(), [3, 4])
    m.reset_state()
    np.testing.assert_array_equal(m.result().numpy(), [0, 0])
    assert m.total.dtype == np.float32


def test_builtin_metrics_still_start_clean():
    m = cr.metrics.Mean()
    m.update_state([1.0, 3.0])
    assert m.result() == 2.0


class ActivityRegularization(layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.sum(inputs))
        return inputs


class Outer(layers.Layer):
    def __init__(self):
        super().__init__()
        self.inner = ActivityRegularization(0.5)
        self.dense = layers.Dense(2, kernel_regularizer=cr.regularizers.L2(1.0))

    def call(self, x):
        return self.dense(self.inner(x))


def test_add_loss_collected_recursively():
    outer = Outer()
    outer(cr.ones(1, 3))
    losses = outer.losses
    assert len(losses) == 2              # the kernel's L2 and the inner activity loss
    assert any(float(v) == pytest.approx(1.5) for v in losses)
    # a new call replaces the activity losses instead of piling them up
    outer(cr.ones(1, 3))
    assert len(outer.losses) == 2


def test_assign_on_a_read_only_weight_makes_it_writable():
    w = cr.Tensor(np.broadcast_to(np.zeros((), "float32"), (2, 3)))
    assert not w.data.flags.writeable
    w.assign(np.ones((2, 3)))
    np.testing.assert_array_equal(w.numpy(), np.ones((2, 3)))
    w.assign_add(1.0)
    assert w.numpy().sum() == 12


def test_variable_from_a_value_or_an_initializer():
    v = cr.Variable(cr.random.normal((2, 2), seed=1))
    assert isinstance(v, cr.Tensor) and v.requires_grad and v.shape == (2, 2)
    assert v.dtype == np.float32
    assert cr.Variable(1.5).dtype == np.float32                 # Python float: float32
    assert cr.Variable(np.zeros(3, "float64")).dtype == np.float64
    ints = cr.Variable(np.arange(3))
    assert ints.dtype.kind == "i" and not ints.requires_grad   # integers need no gradient
    init = cr.Variable("ones", shape=(2, 3), trainable=False, name="counts")
    assert not init.requires_grad and init.name == "counts" and init.numpy().sum() == 6
    with pytest.raises(ValueError, match="shape= is needed"):
        cr.Variable("zeros")
    with pytest.raises(ValueError, match="shape"):
        cr.Variable(np.zeros(3), shape=(4,))
    v.assign(np.eye(2))
    with cr.GradientTape() as tape:
        y = (v * v).sum()
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), 2 * np.eye(2))


class WithVariables(layers.Layer):
    def __init__(self):
        super().__init__()
        self.w = cr.Variable(np.ones((3, 2), "float32"))
        self.steps = cr.Variable(0, trainable=False)
        self.plain = cr.tensor([1.0, 2.0])          # a plain tensor is not a weight

    def call(self, x):
        self.steps.assign_add(1)
        return ops.matmul(x, self.w)


def test_variables_assigned_to_a_layer_are_tracked():
    layer = WithVariables()
    assert len(layer.weights) == 2
    assert layer.trainable_weights == [layer.w] and layer.non_trainable_weights == [layer.steps]
    layer(cr.ones(1, 3))
    assert int(layer.steps) == 1
    model = cr.Sequential([cr.Input((3,)), layer])
    assert len(model.trainable_weights) == 1
