"""One registry behind every get/serialize/deserialize (issue 15): the same
name rules and one error shape in activations, initializers, regularizers,
losses, metrics, optimizers and schedules."""
import re

import pytest

import chainrule as cr
from chainrule import registry
from chainrule.optimizers import schedules

# module, kind, a misspelt name, the name it should suggest, and a get function
LOOKUPS = [
    (cr.activations, "activation", "rleu", "relu", cr.activations.get),
    (cr.initializers, "initializer", "glorot_unifrom", "glorot_uniform", cr.initializers.get),
    (cr.regularizers, "regularizer", "l2_", "l2", cr.regularizers.get),
    (cr.losses, "loss", "mean_squared_eror", "mean_squared_error", cr.losses.get),
    (cr.metrics, "metric", "precission", "precision", cr.metrics.get),
    (cr.optimizers, "optimizer", "adamm", "adam", cr.optimizers.get),
    (schedules, "learning rate schedule", "ExponentialDecai", "ExponentialDecay",
     lambda name: schedules.deserialize({"class_name": name, "config": {}})),
]


@pytest.mark.parametrize("module, kind, wrong, closest, get", LOOKUPS,
                         ids=[row[1] for row in LOOKUPS])
def test_every_module_reports_an_unknown_name_in_one_shape(module, kind, wrong, closest, get):
    with pytest.raises(registry.UnknownNameError) as info:
        get(wrong)
    error = info.value
    assert isinstance(error, ValueError)                   # what callers caught before
    assert (error.kind, error.name, error.closest) == (kind, wrong, closest)
    assert closest in error.known and error.known == sorted(error.known)
    listing = ", ".join(repr(k) for k in error.known)
    assert str(error) == (f"unknown {kind} {wrong!r}; did you mean {closest!r}? "
                          f"Known {kind} names: {listing}")


@pytest.mark.parametrize("module, kind", [(row[0], row[1]) for row in LOOKUPS[:-1]],
                         ids=[row[1] for row in LOOKUPS[:-1]])
def test_deserializing_an_unknown_class_name_gives_the_same_shape(module, kind):
    with pytest.raises(registry.UnknownNameError, match=rf"^unknown {kind} 'Nope'; did you mean"):
        module.deserialize({"class_name": "Nope", "config": {}})


@pytest.mark.parametrize("get, names, cls", [
    # Keras 3's get functions accept the snake_case names and the class names
    (cr.initializers.get, ["glorot_uniform", "GlorotUniform", "GLOROT_UNIFORM"],
     cr.initializers.GlorotUniform),
    (cr.regularizers.get, ["l1l2", "L1L2", "l1_l2"], cr.regularizers.L1L2),
    (cr.losses.get, ["mean_squared_error", "MeanSquaredError", "mse", "MSE"],
     cr.losses.MeanSquaredError),
    (cr.metrics.get, ["precision", "Precision"], cr.metrics.Precision),
    (cr.optimizers.get, ["rmsprop", "RMSprop"], cr.optimizers.RMSprop),
], ids=["initializers", "regularizers", "losses", "metrics", "optimizers"])
def test_snake_case_and_class_names_resolve_to_the_same_class(get, names, cls):
    for name in names:
        assert type(get(name)) is cls, name


def test_activation_names_case_and_alias():
    assert cr.activations.get("relu") is cr.activations.relu
    assert cr.activations.get("ReLU") is cr.activations.relu       # case-insensitive fallback
    assert cr.activations.get("swish") is cr.activations.silu
    assert cr.activations.serialize(cr.activations.silu) == "silu"


def test_custom_objects_come_first_in_every_registry():
    def custom_fn(x):
        return x * 2

    with pytest.raises(ValueError, match="unknown activation 'custom_fn'"):
        cr.activations.get("custom_fn")
    with registry.custom_object_scope({"custom_fn": custom_fn}):
        assert cr.activations.get("custom_fn") is custom_fn
        wrapped = cr.losses.get("custom_fn")           # a function becomes a wrapped loss
        assert wrapped.fn is custom_fn
    with pytest.raises(ValueError):                    # the scope is gone
        cr.activations.get("custom_fn")


def test_error_shape_without_a_name_to_suggest():
    error = registry.UnknownNameError("activation", "x", [])
    assert error.closest is None
    assert re.fullmatch(r"unknown activation 'x'; Known activation names: ", str(error))


def test_registry_docstring_example_runs():
    import doctest
    result = doctest.testmod(registry)
    assert result.failed == 0 and result.attempted > 0
