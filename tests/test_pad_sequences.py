"""cr.utils.pad_sequences (issue 22) against real Keras' outputs
(keras_refs/gen_pad_sequences.py -> pad_sequences.npz)."""
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from pad_sequences_cases import CASES, SEQUENCES

REF = np.load(Path(__file__).parent / "keras_refs" / "pad_sequences.npz")


@pytest.mark.parametrize("i", range(len(CASES)))
def test_pad_sequences_matches_keras(i):
    sequences, kwargs = CASES[i]
    out = cr.utils.pad_sequences(sequences, **kwargs)
    expected = REF[f"case_{i}"]
    if out.dtype == object:
        out = out.astype(str)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


def test_arrays_and_tensors_are_sequences_too():
    as_arrays = [np.array(s) for s in SEQUENCES]
    np.testing.assert_array_equal(cr.utils.pad_sequences(as_arrays), REF["case_0"])
    as_tensors = [cr.tensor(s) for s in SEQUENCES]
    np.testing.assert_array_equal(cr.utils.pad_sequences(as_tensors), REF["case_0"])


def test_maxlen_zero_and_no_sequences():
    assert cr.utils.pad_sequences(SEQUENCES, maxlen=0).shape == (3, 0)
    assert cr.utils.pad_sequences([]).shape == (0, 0)


@pytest.mark.parametrize("kwargs, match", [
    ({"padding": "middle"}, r'padding must be "pre" or "post", got \'middle\''),
    ({"truncating": "both"}, r'truncating must be "pre" or "post"'),
    ({"maxlen": -1}, "maxlen must be a non-negative integer"),
    ({"value": "x"}, "use dtype=object"),
])
def test_bad_arguments_say_what_is_expected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cr.utils.pad_sequences(SEQUENCES, **kwargs)


def test_items_that_are_not_sequences_are_refused():
    with pytest.raises(ValueError, match="item 1 is 3, not a sequence"):
        cr.utils.pad_sequences([[1, 2], 3])
    with pytest.raises(ValueError, match="have shape"):
        cr.utils.pad_sequences([[[1, 2]], [[1, 2, 3]]])
