"""Keras 3's ``pad_sequences`` outputs for tests/test_pad_sequences.py.

Run once with real Keras (keras==3.15.1, torch==2.13.0 CPU):

    KERAS_BACKEND=torch python tests/keras_refs/gen_pad_sequences.py

Each case in ``CASES`` (shared with the test) is run through
``keras.utils.pad_sequences`` and the result stored as ``case_<i>`` in
``pad_sequences.npz`` (object arrays as text).
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from pad_sequences_cases import CASES  # noqa: E402


def main():
    arrays = {}
    for i, (sequences, kwargs) in enumerate(CASES):
        out = keras.utils.pad_sequences(sequences, **kwargs)
        # object arrays (padded strings) are stored as text: loading never unpickles
        arrays[f"case_{i}"] = out.astype(str) if out.dtype == object else out
        print(i, kwargs, arrays[f"case_{i}"].tolist())
    np.savez(os.path.join(HERE, "pad_sequences.npz"), **arrays)


if __name__ == "__main__":
    main()
