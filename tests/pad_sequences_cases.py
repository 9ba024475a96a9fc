"""The pad_sequences cases run by real Keras (keras_refs/gen_pad_sequences.py)
and by tests/test_pad_sequences.py."""
SEQUENCES = [[1], [2, 3], [4, 5, 6]]           # the Keras docstring's example
RAGGED = [[5, 1, 7, 3], [], [2], [9, 8, 7, 6, 5, 4]]

CASES = [
    (SEQUENCES, {}),
    (SEQUENCES, {"value": -1}),
    (SEQUENCES, {"padding": "post"}),
    (SEQUENCES, {"maxlen": 2}),
    (RAGGED, {}),
    (RAGGED, {"maxlen": 3, "padding": "post", "truncating": "post"}),
    (RAGGED, {"maxlen": 3, "padding": "pre", "truncating": "post"}),
    (RAGGED, {"maxlen": 5, "padding": "post", "truncating": "pre", "value": 9}),
    (RAGGED, {"maxlen": 7}),
    (RAGGED, {"dtype": "float32", "value": 0.5}),
    ([[[1, 2], [3, 4]], [[5, 6]]], {"maxlen": 3}),           # elements that are vectors
    ([["a", "b"], ["c"]], {"dtype": object, "value": "<pad>"}),
]
