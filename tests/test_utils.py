"""utils.to_categorical against np.eye and torch's one_hot, shapes, errors."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.utils import to_categorical


def test_rows_of_the_identity(rng):
    labels = rng.integers(0, 7, size=50)
    out = to_categorical(labels, num_classes=7)
    assert out.dtype == np.float32 and out.shape == (50, 7)
    np.testing.assert_array_equal(out, np.eye(7)[labels])
    # num_classes defaults to max + 1.
    assert to_categorical([0, 3, 1]).shape == (3, 4)
    np.testing.assert_array_equal(to_categorical([0, 3, 1]).sum(axis=1), [1, 1, 1])


def test_shapes_as_keras():
    # A trailing axis of 1 is dropped; other axes are kept.
    assert to_categorical(np.array([[1], [0]]), 3).shape == (2, 3)
    labels = np.array([[0, 1, 2], [2, 1, 0]])
    out = to_categorical(labels, 3)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.argmax(-1), labels)
    assert to_categorical(np.zeros(0, dtype=int), 4).shape == (0, 4)


def test_inputs_of_any_integer_kind():
    for labels in (np.array([2, 0], dtype=np.uint8), np.array([2, 0], dtype=np.int32),
                   [2, 0], cr.tensor([2, 0]), np.array([2.0, 0.0])):
        np.testing.assert_array_equal(to_categorical(labels, 3), [[0, 0, 1], [1, 0, 0]])


def test_matches_torch_one_hot(rng):
    torch = pytest.importorskip("torch")
    labels = rng.integers(0, 5, size=(4, 6))
    expected = torch.nn.functional.one_hot(torch.tensor(labels), num_classes=5).numpy()
    np.testing.assert_array_equal(to_categorical(labels, 5), expected)


def test_bad_labels_have_clear_errors():
    with pytest.raises(ValueError, match=r"label -1 is negative"):
        to_categorical([0, -1, 2])
    with pytest.raises(ValueError, match=r"label 3 is too large for num_classes=3.*0\.\.2"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match=r"whole numbers.*1\.5"):
        to_categorical([0.0, 1.5])
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        to_categorical([0, 1], num_classes=0)
    with pytest.raises(TypeError, match="labels must be integers"):
        to_categorical(np.array(["a", "b"]))
