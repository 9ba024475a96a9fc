"""Reference numbers for issue 17 part B (masks, wrappers, merges, small layers):
what real Keras 3 computes for each layer on random weights and inputs, its
output and the gradient of sum(output · cotangent) with respect to the inputs
and the trainable weights; and, for small models with masks, the same masked
and unmasked, plus the compiled loss (a masked mean) from ``evaluate``.

Run with keras==3.15.1, KERAS_BACKEND=torch, torch==2.13.0:

    KERAS_BACKEND=torch python tests/keras_refs/gen_layers_17b.py

Writes tests/keras_refs/layers_17b.npz (and masks_17b.npz, described below,
for tests/test_masks.py). For each case ``<case>/spec`` is JSON:
``{"layer": {"class": ..., "kwargs": ..., "inner": {...}}}`` for one layer, or
``{"model": [layer specs], "input": [shape, dtype]}`` for a Sequential model
(both built the same way by tests/test_layers_17b.py), ``"mask"`` whether
``<case>/mask`` is passed as the mask, and ``"loss"`` a loss to evaluate.
Arrays: ``x0, x1...`` inputs, ``w0, w1...`` every weight (get_weights order),
``out`` and ``cot`` (``out0, cot0, out1...`` for several outputs), ``gx0...``
input gradients, ``gw0...`` trainable-weight
gradients, ``y`` and ``loss`` for a loss case.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

assert keras.__version__ == "3.15.1", keras.__version__
assert keras.backend.backend() == "torch"
assert torch.__version__.startswith("2.13.0"), torch.__version__

keras.utils.set_random_seed(17)
rng = np.random.default_rng(17)
OUT = {}


def make_layer(spec):
    cls = getattr(keras.layers, spec["class"])
    kwargs = dict(spec.get("kwargs", {}))
    if "inner" in spec:
        return cls(make_layer(spec["inner"]), **kwargs)
    return cls(**kwargs)


def randomize(layer):
    """Random trainable weights (biases included), so nothing is a default."""
    for w in layer.trainable_weights:
        w.assign(rng.normal(0, 0.5, tuple(w.shape)).astype("float32"))


def run(layer_or_model, xs, mask, float_inputs):
    tensors = [torch.tensor(x, requires_grad=f) for x, f in zip(xs, float_inputs)]
    arg = tensors if len(tensors) > 1 else tensors[0]
    kwargs = {} if mask is None else {"mask": torch.tensor(mask)}
    out = layer_or_model(arg, **kwargs)
    weights = layer_or_model.trainable_weights
    for w in weights:
        w.value.grad = None
    if isinstance(out, (list, tuple)):         # several outputs: out0, cot0, out1...
        cots = [rng.normal(0, 1, tuple(o.shape)).astype("float32") for o in out]
        sum((o * torch.tensor(c)).sum() for o, c in zip(out, cots)).backward()
        result = {}
        for k, (o, c) in enumerate(zip(out, cots)):
            result[f"out{k}"], result[f"cot{k}"] = o.detach().numpy(), c
    else:
        cot = rng.normal(0, 1, tuple(out.shape)).astype("float32")
        (out * torch.tensor(cot)).sum().backward()
        result = {"out": out.detach().numpy(), "cot": cot}
    for i, (t, f) in enumerate(zip(tensors, float_inputs)):
        if f:
            result[f"gx{i}"] = t.grad.numpy()
    for j, w in enumerate(weights):
        result[f"gw{j}"] = w.value.grad.numpy()
    return result


def store(name, spec, xs, obj, mask=None, extra=None):
    OUT[f"{name}/spec"] = np.array(json.dumps({**spec, "mask": mask is not None}))
    for i, x in enumerate(xs):
        OUT[f"{name}/x{i}"] = x
    for j, w in enumerate(obj.get_weights()):
        OUT[f"{name}/w{j}"] = w
    if mask is not None:
        OUT[f"{name}/mask"] = mask
    for key, value in (extra or {}).items():
        OUT[f"{name}/{key}"] = value


def layer_case(name, spec, shapes, mask=None, positive=False, adapt=None):
    layer = make_layer(spec)
    xs = [(rng.uniform(0.1, 2.0, s) if positive else rng.normal(0, 1, s)).astype("float32")
          for s in shapes]
    if adapt is not None:
        layer.adapt(adapt)
    layer(xs if len(xs) > 1 else xs[0])              # build
    randomize(layer)
    store(name, {"layer": spec}, xs, layer, mask,
          run(layer, xs, mask, [True] * len(xs)))


def model_case(name, layer_specs, input_shape, x, mask_steps=None, y=None, loss=None):
    """A Sequential model; ``x`` int ids or floats. With ``loss``, evaluate's loss too."""
    dtype = "int32" if x.dtype.kind in "iu" else "float32"
    model = keras.Sequential([keras.Input(input_shape, dtype=dtype)] +
                             [make_layer(s) for s in layer_specs])
    randomize(model)
    spec = {"model": layer_specs, "input": [list(input_shape), dtype]}
    extra = run(model, [x], None, [dtype == "float32"])
    if loss is not None:
        model.compile(loss=loss, optimizer="sgd")
        extra["loss"] = np.array(model.evaluate(x, y, batch_size=len(x), verbose=0))
        extra["y"] = y
        spec["loss"] = loss
    store(name, spec, [x], model, extra=extra)


# -- merges -------------------------------------------------------------------
for cls in ("Multiply", "Subtract", "Average", "Maximum", "Minimum"):
    layer_case(cls.lower(), {"class": cls}, [(4, 5), (4, 5)])
layer_case("multiply_three", {"class": "Multiply"}, [(3, 2, 4)] * 3)
layer_case("dot_axes1", {"class": "Dot", "kwargs": {"axes": 1}}, [(4, 5), (4, 5)])
layer_case("dot_axes_pair", {"class": "Dot", "kwargs": {"axes": [1, 2]}}, [(2, 3, 5), (2, 4, 3)])
layer_case("dot_normalize", {"class": "Dot", "kwargs": {"axes": -1, "normalize": True}},
           [(3, 4, 5), (3, 6, 5)])
layer_case("dot_2d_3d", {"class": "Dot", "kwargs": {"axes": [1, 1]}}, [(3, 4), (3, 4, 2)])

# -- small layers ---------------------------------------------------------------
layer_case("permute", {"class": "Permute", "kwargs": {"dims": [2, 1]}}, [(3, 4, 5)])
layer_case("permute_3", {"class": "Permute", "kwargs": {"dims": [3, 1, 2]}}, [(2, 3, 4, 5)])
layer_case("repeat_vector", {"class": "RepeatVector", "kwargs": {"n": 3}}, [(4, 5)])
layer_case("rescaling", {"class": "Rescaling", "kwargs": {"scale": 0.5, "offset": -1.0}},
           [(3, 4)])
layer_case("normalization_given",
           {"class": "Normalization", "kwargs": {"mean": [1.0, -2.0, 0.5],
                                                 "variance": [4.0, 0.25, 1.0]}}, [(5, 3)])
layer_case("normalization_invert",
           {"class": "Normalization", "kwargs": {"mean": 2.0, "variance": 9.0,
                                                 "invert": True}}, [(5, 3)])
adapt_data = rng.normal(3.0, 2.0, (50, 4, 3)).astype("float32")
OUT["adapt_data"] = adapt_data
layer_case("normalization_adapt", {"class": "Normalization", "kwargs": {"axis": -1}},
           [(6, 4, 3)], adapt=adapt_data)
layer_case("normalization_adapt_axes", {"class": "Normalization", "kwargs": {"axis": [1, 2]}},
           [(6, 4, 3)], adapt=adapt_data)
layer_case("relu", {"class": "ReLU"}, [(4, 6)])
layer_case("relu_all", {"class": "ReLU", "kwargs": {"max_value": 1.5, "negative_slope": 0.1,
                                                    "threshold": 0.3}}, [(4, 6)])
layer_case("relu_slope", {"class": "ReLU", "kwargs": {"negative_slope": 0.2}}, [(4, 6)])
layer_case("relu6", {"class": "ReLU", "kwargs": {"max_value": 6.0}}, [(4, 6)])
layer_case("softmax", {"class": "Softmax"}, [(3, 5)])
layer_case("softmax_axis1", {"class": "Softmax", "kwargs": {"axis": 1}}, [(2, 4, 3)])
layer_case("softmax_axes", {"class": "Softmax", "kwargs": {"axis": [1, 2]}}, [(2, 4, 3)])
layer_case("elu", {"class": "ELU", "kwargs": {"alpha": 0.7}}, [(4, 6)])
layer_case("prelu", {"class": "PReLU"}, [(3, 4, 5)])
layer_case("prelu_shared", {"class": "PReLU", "kwargs": {"shared_axes": [1]}}, [(3, 4, 5)])
layer_case("identity", {"class": "Identity"}, [(3, 4)])
for cls, kwargs, shape in (("GaussianNoise", {"stddev": 0.5}, (3, 4)),
                           ("GaussianDropout", {"rate": 0.3}, (3, 4)),
                           ("SpatialDropout1D", {"rate": 0.3}, (2, 3, 4)),
                           ("SpatialDropout2D", {"rate": 0.3}, (2, 3, 3, 4))):
    layer_case(cls.lower() + "_inference", {"class": cls, "kwargs": kwargs}, [shape])

# -- wrappers, with and without a mask -----------------------------------------------
steps_mask = np.array([[True, True, True, False, False],
                       [True, True, True, True, True],
                       [True, False, False, False, False]])
for name, inner, mode in (("bi_lstm_seq", {"class": "LSTM", "kwargs": {"units": 4,
                                                                       "return_sequences": True}},
                           "concat"),
                          ("bi_gru_last", {"class": "GRU", "kwargs": {"units": 3}}, "sum"),
                          ("bi_rnn_seq", {"class": "SimpleRNN",
                                          "kwargs": {"units": 3, "return_sequences": True}},
                           "ave"),
                          ("bi_lstm_last_mul", {"class": "LSTM", "kwargs": {"units": 2}}, "mul")):
    spec = {"class": "Bidirectional", "kwargs": {"merge_mode": mode}, "inner": inner}
    layer_case(name, spec, [(3, 5, 2)])
    layer_case(name + "_masked", spec, [(3, 5, 2)], mask=steps_mask)
# several outputs: the states, and merge_mode=None (the two directions apart)
for name, inner, mode in (("bi_lstm_state", {"class": "LSTM", "kwargs": {
        "units": 2, "return_sequences": True, "return_state": True}}, "concat"),
                          ("bi_gru_none", {"class": "GRU", "kwargs": {"units": 3}}, None),
                          ("bi_rnn_state_none", {"class": "SimpleRNN", "kwargs": {
                              "units": 2, "return_state": True}}, None)):
    spec = {"class": "Bidirectional", "kwargs": {"merge_mode": mode}, "inner": inner}
    layer_case(name, spec, [(3, 5, 2)])
    layer_case(name + "_masked", spec, [(3, 5, 2)], mask=steps_mask)
layer_case("time_distributed", {"class": "TimeDistributed",
                                "inner": {"class": "Dense", "kwargs": {"units": 3}}},
           [(2, 4, 5)])
layer_case("time_distributed_4d", {"class": "TimeDistributed",
                                   "inner": {"class": "Dense", "kwargs": {"units": 2}}},
           [(2, 3, 4, 5)])

# -- recurrent layers and pooling given a mask ---------------------------------------
for cls, kwargs in (("LSTM", {"units": 3}), ("GRU", {"units": 3, "return_sequences": True}),
                    ("SimpleRNN", {"units": 3, "go_backwards": True}),
                    ("LSTM", {"units": 2, "return_sequences": True, "go_backwards": True})):
    tag = f"{cls.lower()}_{'seq' if kwargs.get('return_sequences') else 'last'}" + \
        ("_back" if kwargs.get("go_backwards") else "")
    layer_case(tag + "_masked", {"class": cls, "kwargs": kwargs}, [(3, 5, 2)], mask=steps_mask)
layer_case("gap1d_masked", {"class": "GlobalAveragePooling1D"}, [(3, 5, 2)], mask=steps_mask)
layer_case("gap1d", {"class": "GlobalAveragePooling1D"}, [(3, 5, 2)])

# -- models whose masks travel from layer to layer -----------------------------------
ids = np.array([[3, 7, 2, 0, 0, 0], [5, 1, 1, 4, 9, 2], [8, 0, 0, 0, 0, 0],
                [6, 2, 0, 0, 0, 0]], "int32")
for mask_zero in (True, False):
    tag = "masked" if mask_zero else "unmasked"
    model_case(f"emb_lstm_{tag}",
               [{"class": "Embedding", "kwargs": {"input_dim": 10, "output_dim": 4,
                                                  "mask_zero": mask_zero}},
                {"class": "LSTM", "kwargs": {"units": 3}}, {"class": "Dense",
                                                             "kwargs": {"units": 2}}],
               (6,), ids)
    model_case(f"emb_gap_{tag}",
               [{"class": "Embedding", "kwargs": {"input_dim": 10, "output_dim": 4,
                                                  "mask_zero": mask_zero}},
                {"class": "GlobalAveragePooling1D"}], (6,), ids)
    model_case(f"emb_bilstm_{tag}",
               [{"class": "Embedding", "kwargs": {"input_dim": 10, "output_dim": 3,
                                                  "mask_zero": mask_zero}},
                {"class": "Bidirectional", "kwargs": {},
                 "inner": {"class": "LSTM", "kwargs": {"units": 2, "return_sequences": True}}},
                {"class": "TimeDistributed", "inner": {"class": "Dense", "kwargs": {"units": 2}}}],
               (6,), ids)
    targets = rng.integers(0, 4, ids.shape).astype("int32")
    model_case(f"emb_loss_{tag}",
               [{"class": "Embedding", "kwargs": {"input_dim": 10, "output_dim": 4,
                                                  "mask_zero": mask_zero}},
                {"class": "GRU", "kwargs": {"units": 3, "return_sequences": True}},
                {"class": "Dense", "kwargs": {"units": 4, "activation": "softmax"}}],
               (6,), ids, y=targets, loss="sparse_categorical_crossentropy")

seqs = rng.normal(0, 1, (3, 5, 2)).astype("float32")
seqs[0, 3:] = 0.0
seqs[2, 1:] = 0.0
for masking in (True, False):
    tag = "masked" if masking else "unmasked"
    first = [{"class": "Masking", "kwargs": {"mask_value": 0.0}}] if masking else []
    model_case(f"masking_gru_{tag}", first + [{"class": "GRU", "kwargs": {"units": 3}}],
               (5, 2), seqs)


def save(filename, arrays):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    print(f"wrote {path}: {len({k.split('/')[0] for k in arrays})} cases, "
          f"{os.path.getsize(path) / 1024:.0f} KiB")


save("layers_17b.npz", OUT)

# ---------------------------------------------------------------------------------
# masks_17b.npz (tests/test_masks.py): merges of masked inputs, a functional model
# with two masked inputs, and the masked loss with sample weights.
from keras.src.backend.common.masking import get_keras_mask, set_keras_mask  # noqa: E402

MASKS = {}
m1 = np.array([[True, True, False, False], [True, False, False, False]])
m2 = np.array([[True, False, True, False], [True, True, True, False]])
for cls, kwargs in (("Add", {}), ("Subtract", {}), ("Average", {}), ("Multiply", {}),
                    ("Maximum", {}), ("Minimum", {}), ("Concatenate", {"axis": -1}),
                    ("Concatenate", {"axis": 1})):
    for which in ("both", "first"):
        name = f"{cls.lower()}{kwargs.get('axis', '')}_{which}"
        xs = [rng.normal(0, 1, (2, 4, 3)).astype("float32") for _ in range(2)]
        tensors = [torch.tensor(x, requires_grad=True) for x in xs]
        set_keras_mask(tensors[0], torch.tensor(m1))
        if which == "both":
            set_keras_mask(tensors[1], torch.tensor(m2))
        layer = getattr(keras.layers, cls)(**kwargs)
        out = layer(tensors)
        cot = rng.normal(0, 1, tuple(out.shape)).astype("float32")
        (out * torch.tensor(cot)).sum().backward()
        mask = get_keras_mask(out)
        MASKS.update({f"{name}/spec": np.array(json.dumps({"class": cls, "kwargs": kwargs,
                                                           "both": which == "both"})),
                      f"{name}/x0": xs[0], f"{name}/x1": xs[1], f"{name}/m0": m1,
                      f"{name}/m1": m2, f"{name}/out": out.detach().numpy(),
                      f"{name}/cot": cot, f"{name}/gx0": tensors[0].grad.numpy(),
                      f"{name}/gx1": tensors[1].grad.numpy(),
                      f"{name}/has_mask": np.array(mask is not None)})
        if mask is not None:
            MASKS[f"{name}/mask"] = mask.numpy()

# a functional model: two masked Embeddings joined by Add, then an LSTM and a softmax
ids_a = np.array([[3, 7, 2, 0, 0], [5, 1, 0, 0, 0], [8, 0, 0, 0, 0]], "int32")
ids_b = np.array([[1, 4, 0, 0, 0], [2, 2, 2, 6, 0], [9, 9, 0, 0, 0]], "int32")
in_a, in_b = keras.Input((5,), dtype="int32"), keras.Input((5,), dtype="int32")
emb_a = keras.layers.Embedding(10, 4, mask_zero=True)(in_a)
emb_b = keras.layers.Embedding(10, 4, mask_zero=True)(in_b)
joined = keras.layers.Add()([emb_a, emb_b])
seq = keras.layers.LSTM(3, return_sequences=True)(joined)
probs = keras.layers.Dense(4, activation="softmax")(seq)
model = keras.Model([in_a, in_b], probs)
randomize(model)
y = rng.integers(0, 4, ids_a.shape).astype("int32")
sw = rng.uniform(0.5, 2.0, (3, 5)).astype("float32")     # per step: Keras fails on (3,)
model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
              metrics=["accuracy"], weighted_metrics=["accuracy"])
MASKS.update({"functional/ids_a": ids_a, "functional/ids_b": ids_b, "functional/y": y,
              "functional/sw": sw,
              "functional/out": model.predict([ids_a, ids_b], verbose=0),
              })
for tag, weights in (("", None), ("_sw", sw)):
    logs = model.evaluate([ids_a, ids_b], y, sample_weight=weights, batch_size=3, verbose=0,
                          return_dict=True)
    for key in ("loss", "accuracy", "weighted_accuracy"):
        MASKS[f"functional/{key}{tag}"] = np.array(logs[key])
for j, w in enumerate(model.get_weights()):
    MASKS[f"functional/w{j}"] = w
model.fit([ids_a, ids_b], y, epochs=1, batch_size=3, shuffle=False, verbose=0)
for j, w in enumerate(model.get_weights()):
    MASKS[f"functional/trained_w{j}"] = w

# self-attention over a masked Embedding: the query and value masks reach
# MultiHeadAttention through the tensor (Keras' _compute_attention_mask)
ids = np.array([[3, 7, 2, 0, 0], [5, 1, 4, 4, 2], [8, 0, 0, 0, 0]], "int32")
for mask_zero in (True, False):
    tag = "masked" if mask_zero else "unmasked"
    inp = keras.Input((5,), dtype="int32")
    h = keras.layers.Embedding(10, 8, mask_zero=mask_zero)(inp)
    att = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)(h, h)
    model = keras.Model(inp, att)
    randomize(model)
    MASKS[f"mha_{tag}/ids"] = ids
    MASKS[f"mha_{tag}/out"] = model.predict(ids, verbose=0)
    for j, w in enumerate(model.get_weights()):
        MASKS[f"mha_{tag}/w{j}"] = w

# BatchNormalization in training with a mask: the moments over unmasked steps only
bn = keras.layers.BatchNormalization()
bn_x = rng.normal(1.0, 2.0, (3, 5, 2)).astype("float32")
bn(bn_x)
randomize(bn)
for j, w in enumerate(bn.get_weights()):
    MASKS[f"batchnorm/before{j}"] = w             # gamma, beta, moving mean, moving variance
bn_t = torch.tensor(bn_x, requires_grad=True)
bn_out = bn(bn_t, training=True, mask=torch.tensor(steps_mask))
bn_cot = rng.normal(0, 1, tuple(bn_out.shape)).astype("float32")
(bn_out * torch.tensor(bn_cot)).sum().backward()
MASKS.update({"batchnorm/x": bn_x, "batchnorm/mask": steps_mask, "batchnorm/cot": bn_cot,
              "batchnorm/out": bn_out.detach().numpy(), "batchnorm/gx": bn_t.grad.numpy()})
for j, w in enumerate(bn.get_weights()):
    MASKS[f"batchnorm/after{j}"] = w              # the moving statistics moved

# a small transformer classifier: the mask goes through attention, the residual
# Add and LayerNormalization to the masked GlobalAveragePooling1D
for mask_zero in (True, False):
    tag = "masked" if mask_zero else "unmasked"
    inp = keras.Input((5,), dtype="int32")
    h = keras.layers.Embedding(10, 8, mask_zero=mask_zero)(inp)
    att = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(h, h)
    h = keras.layers.LayerNormalization()(keras.layers.Add()([h, att]))
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(h))
    model = keras.Model(inp, out)
    randomize(model)
    MASKS[f"encoder_{tag}/ids"] = ids
    MASKS[f"encoder_{tag}/out"] = model.predict(ids, verbose=0)
    for j, w in enumerate(model.get_weights()):
        MASKS[f"encoder_{tag}/w{j}"] = w
save("masks_17b.npz", MASKS)
