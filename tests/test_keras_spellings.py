"""Keras 3 spellings (issue 16): ``layers.Input``, the functional merge
helpers ``layers.add``/``layers.concatenate``, ``regularizers.l1/l2/l1_l2``."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers


def test_layers_input_is_cr_input():
    x = layers.Input(shape=(3,))
    assert isinstance(x, layers.SymbolicTensor) and x.shape == (None, 3)
    assert isinstance(x.input_layer, layers.InputLayer)


def test_functional_merge_helpers():
    a, b = layers.Input((4,)), layers.Input((4,))
    summed = layers.add([a, b])
    joined = layers.concatenate([a, b])
    joined0 = layers.concatenate([a, summed], axis=1, name="joined")
    model = cr.Model([a, b], [summed, joined, joined0])
    x, y = np.ones((2, 4), "float32"), np.full((2, 4), 2.0, "float32")
    s, j, j0 = model([x, y])
    np.testing.assert_array_equal(s.numpy(), x + y)
    np.testing.assert_array_equal(j.numpy(), np.concatenate([x, y], axis=-1))
    assert j0.shape == (2, 8) and model.get_layer("joined").axis == 1
    # eager use as in Keras
    np.testing.assert_array_equal(layers.add([cr.ones(1, 2), cr.ones(1, 2)]).numpy(), [[2, 2]])


def test_regularizer_lowercase_spellings():
    w = cr.tensor([1.0, -2.0])
    assert float(cr.regularizers.l2(0.5)(w)) == pytest.approx(0.5 * 5)
    assert float(cr.regularizers.l1(0.1)(w)) == pytest.approx(0.3)
    both = cr.regularizers.l1_l2(l1=0.1, l2=0.5)
    assert float(both(w)) == pytest.approx(0.3 + 2.5)
    assert cr.regularizers.l2 is cr.regularizers.L2
    dense = layers.Dense(2, kernel_regularizer=cr.regularizers.l2(1e-3))
    dense(cr.ones(1, 3))
    assert len(dense.losses) == 1
