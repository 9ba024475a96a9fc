"""Reference numbers for chainrule.constraints (issue 16): each Keras 3
constraint applied to a fixed kernel, and one SGD step on a variable with a
constraint (Keras projects it after the update).

    KERAS_BACKEND=torch python tests/keras_refs/gen_constraints.py

keras==3.15.1, torch==2.13.0. Writes tests/keras_refs/constraints.npz.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

assert keras.__version__ == "3.15.1", keras.__version__

rng = np.random.default_rng(16)
kernel = rng.normal(0, 1.5, (4, 3)).astype("float32")
grad = rng.normal(0, 1.0, (4, 3)).astype("float32")
CASES = {
    "max_norm": ("MaxNorm", {"max_value": 1.5, "axis": 0}),
    "max_norm_axis1": ("MaxNorm", {"max_value": 1.0, "axis": 1}),
    "non_neg": ("NonNeg", {}),
    "unit_norm": ("UnitNorm", {"axis": 1}),
    "min_max_norm": ("MinMaxNorm", {"min_value": 0.5, "max_value": 1.0, "rate": 0.7,
                                    "axis": 0}),
}
arrays = {"kernel": kernel, "grad": grad}
for name, (cls, kwargs) in CASES.items():
    constraint = getattr(keras.constraints, cls)(**kwargs)
    arrays[f"{name}/out"] = keras.ops.convert_to_numpy(constraint(kernel))
    # a weight made by add_weight(constraint=...), as a Dense kernel_constraint does
    layer = keras.layers.Dense(3, kernel_constraint=constraint)
    layer.build((None, 4))
    layer.kernel.assign(kernel)
    assert layer.kernel.constraint is not None
    keras.optimizers.SGD(learning_rate=0.1).apply([keras.ops.convert_to_tensor(grad)],
                                                  [layer.kernel])
    arrays[f"{name}/sgd_step"] = keras.ops.convert_to_numpy(layer.kernel.value)
    arrays[f"{name}/spec"] = np.array(json.dumps({"class": cls, "kwargs": kwargs}))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "constraints.npz")
tmp = path + ".tmp.npz"
np.savez(tmp, **arrays)
os.replace(tmp, path)
print(f"wrote {path}: {len(CASES)} constraints")
