"""Reference numbers for issue 17 part A (attention, normalization, the
convolution family, 1-D pooling, resizing, activations): what real Keras 3
computes for each layer on random weights and inputs, its output and the
gradient of sum(output · cotangent) with respect to the inputs and the
trainable weights.

Run with keras==3.15.1, KERAS_BACKEND=torch, torch==2.13.0:

    KERAS_BACKEND=torch python tests/keras_refs/gen_layers_17a.py

Writes tests/keras_refs/layers_17a.npz. For each case ``<case>/spec`` is JSON
``{"class", "kwargs", "call": call keyword arguments, "inputs": "single" |
"positional" | "list"}``; arrays ``x0, x1...`` inputs, ``w0...`` every weight
(get_weights order), ``out``, ``cot``, ``gx0...`` input gradients, ``gw0...``
trainable-weight gradients, and where used ``attention_mask``, ``mask0``/
``mask1`` (Attention's [query_mask, value_mask]) and ``scores``
(return_attention_scores). Activation cases (``act_<name>``) hold ``x``,
``out``, ``cot``, ``gx0`` for ``keras.activations.<name>``.
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

keras.utils.set_random_seed(171)
rng = np.random.default_rng(171)
OUT = {}
HERE = os.path.dirname(os.path.abspath(__file__))


def case(name, cls, kwargs, shapes, inputs="single", call=None, arrays=None):
    """One layer: built on float32 inputs, every trainable weight random,
    called with ``call`` keyword arguments (and ``arrays``: masks)."""
    call, arrays = dict(call or {}), dict(arrays or {})
    layer = getattr(keras.layers, cls)(**kwargs)
    xs = [rng.normal(0, 1, s).astype("float32") for s in shapes]
    tensors = [torch.tensor(x, requires_grad=True) for x in xs]
    extra = {}
    if "attention_mask" in arrays:
        extra["attention_mask"] = torch.tensor(arrays["attention_mask"])
    if "mask0" in arrays:
        extra["mask"] = [torch.tensor(arrays["mask0"]), torch.tensor(arrays["mask1"])]

    def apply():
        if inputs == "list":
            return layer(tensors, **call, **extra)
        return layer(*tensors, **call, **extra)
    apply()                                               # build
    for w in layer.trainable_weights:
        w.assign(rng.normal(0, 0.5, tuple(w.shape)).astype("float32"))
    result = apply()
    scores = None
    if call.get("return_attention_scores"):
        result, scores = result
    cot = rng.normal(0, 1, tuple(result.shape)).astype("float32")
    (result * torch.tensor(cot)).sum().backward()
    spec = {"class": cls, "kwargs": kwargs, "call": call, "inputs": inputs}
    OUT[f"{name}/spec"] = np.array(json.dumps(spec))
    for i, (x, t) in enumerate(zip(xs, tensors)):
        OUT[f"{name}/x{i}"] = x
        OUT[f"{name}/gx{i}"] = t.grad.numpy()
    for j, w in enumerate(layer.get_weights()):
        OUT[f"{name}/w{j}"] = w
    for j, w in enumerate(layer.trainable_weights):
        OUT[f"{name}/gw{j}"] = w.value.grad.numpy()
    OUT[f"{name}/out"] = result.detach().numpy()
    OUT[f"{name}/cot"] = cot
    if scores is not None:
        OUT[f"{name}/scores"] = scores.detach().numpy()
    for key, value in arrays.items():
        OUT[f"{name}/{key}"] = value


def some_true(shape):
    """A random boolean mask with at least one True per row (last axis)."""
    m = rng.random(shape) < 0.6
    m[..., 0] = True
    return m


# -- normalization ------------------------------------------------------------
case("layer_norm", "LayerNormalization", {}, [(2, 5, 6)])
case("layer_norm_axes", "LayerNormalization", {"axis": [1, 2], "epsilon": 1e-5}, [(2, 3, 4)])
case("layer_norm_no_center", "LayerNormalization", {"center": False}, [(3, 6)])
case("group_norm", "GroupNormalization", {"groups": 2}, [(2, 5, 6)])
case("group_norm_instance", "GroupNormalization", {"groups": -1}, [(2, 3, 3, 4)])
case("group_norm_one", "GroupNormalization", {"groups": 1, "epsilon": 1e-4}, [(2, 4, 3)])
case("group_norm_axis1", "GroupNormalization", {"groups": 2, "axis": 1}, [(2, 4, 3, 2)])

# -- attention ----------------------------------------------------------------
case("mha_self", "MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, [(2, 5, 8), (2, 5, 8)],
     inputs="positional")
case("mha_causal", "MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, [(2, 5, 6), (2, 5, 6)],
     inputs="positional", call={"use_causal_mask": True})
case("mha_cross", "MultiHeadAttention",
     {"num_heads": 3, "key_dim": 2, "value_dim": 4, "output_shape": 5},
     [(2, 4, 6), (2, 5, 7), (2, 5, 3)], inputs="positional")
case("mha_mask", "MultiHeadAttention", {"num_heads": 2, "key_dim": 3},
     [(2, 4, 6), (2, 5, 6)], inputs="positional",
     arrays={"attention_mask": some_true((2, 4, 5))})
case("mha_mask_causal_scores", "MultiHeadAttention",
     {"num_heads": 2, "key_dim": 3, "use_bias": False}, [(2, 5, 6), (2, 5, 6)],
     inputs="positional", call={"use_causal_mask": True, "return_attention_scores": True},
     arrays={"attention_mask": some_true((2, 5, 5))})
case("mha_axes_2d", "MultiHeadAttention", {"num_heads": 2, "key_dim": 3},
     [(2, 3, 4, 5), (2, 3, 4, 5)], inputs="positional")
case("mha_axis2_mask_scores", "MultiHeadAttention",
     {"num_heads": 2, "key_dim": 2, "attention_axes": [2]}, [(2, 3, 4, 5), (2, 3, 6, 5)],
     inputs="positional", call={"return_attention_scores": True},
     arrays={"attention_mask": some_true((2, 3, 4, 6))})
case("mha_axis_negative", "MultiHeadAttention",
     {"num_heads": 1, "key_dim": 4, "attention_axes": -2}, [(2, 5, 3), (2, 5, 3)],
     inputs="positional")
case("attention_dot", "Attention", {}, [(2, 3, 4), (2, 5, 4)], inputs="list")
case("attention_scale_key", "Attention", {"use_scale": True}, [(2, 3, 4), (2, 5, 4), (2, 5, 4)],
     inputs="list")
case("attention_concat", "Attention", {"score_mode": "concat", "use_scale": True},
     [(2, 3, 4), (2, 5, 4)], inputs="list")
case("attention_masks_causal", "Attention", {}, [(2, 4, 3), (2, 4, 3)], inputs="list",
     call={"use_causal_mask": True},
     arrays={"mask0": np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool),
             "mask1": np.array([[1, 1, 0, 1], [1, 0, 1, 1]], bool)})


# An Embedding(mask_zero=True) in front: the padded query and key steps are
# masked (query_mask and value_mask from the Keras mask), the output carries the mask.
ids = np.array([[3, 1, 2, 0, 0], [1, 2, 3, 4, 5]], "int32")
embedding = keras.layers.Embedding(6, 4, mask_zero=True)
mha = keras.layers.MultiHeadAttention(2, 3)
embedded = embedding(ids)
mha(embedded, embedded)
for w in mha.trainable_weights + embedding.trainable_weights:
    w.assign(rng.normal(0, 0.5, tuple(w.shape)).astype("float32"))
embedded = embedding(ids)
masked_out = mha(embedded, embedded)
OUT["embedding_mha/ids"] = ids
OUT["embedding_mha/embeddings"] = embedding.get_weights()[0]
for j, w in enumerate(mha.get_weights()):
    OUT[f"embedding_mha/w{j}"] = w
OUT["embedding_mha/out"] = masked_out.detach().numpy()
OUT["embedding_mha/out_mask"] = masked_out._keras_mask.numpy()

# -- convolutions -------------------------------------------------------------
case("conv1d", "Conv1D", {"filters": 4, "kernel_size": 3}, [(2, 7, 3)])
case("conv1d_same_stride", "Conv1D", {"filters": 2, "kernel_size": 4, "strides": 2,
                                      "padding": "same"}, [(2, 9, 3)])
case("conv1d_causal_dilated", "Conv1D", {"filters": 3, "kernel_size": 3, "padding": "causal",
                                         "dilation_rate": 2}, [(2, 8, 2)])
case("conv1d_groups", "Conv1D", {"filters": 4, "kernel_size": 2, "groups": 2,
                                 "activation": "gelu"}, [(2, 6, 4)])
case("conv2d_dilated", "Conv2D", {"filters": 3, "kernel_size": 3, "dilation_rate": 2,
                                  "padding": "same"}, [(2, 7, 6, 2)])
case("conv2d_groups", "Conv2D", {"filters": 6, "kernel_size": 2, "groups": 3}, [(2, 5, 5, 3)])
case("conv2d_stride_same", "Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2,
                                      "padding": "same"}, [(1, 6, 7, 2)])
case("conv2d_transpose", "Conv2DTranspose", {"filters": 2, "kernel_size": 3}, [(2, 4, 3, 3)])
case("conv2d_transpose_s2_same", "Conv2DTranspose",
     {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, [(2, 4, 4, 2)])
case("conv2d_transpose_s2_valid", "Conv2DTranspose",
     {"filters": 2, "kernel_size": (2, 3), "strides": 2}, [(1, 3, 4, 2)])
case("conv2d_transpose_s3_k2_same", "Conv2DTranspose",
     {"filters": 2, "kernel_size": 2, "strides": 3, "padding": "same"}, [(1, 3, 3, 2)])
case("conv2d_transpose_outpad", "Conv2DTranspose",
     {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1}, [(1, 3, 3, 2)])
case("conv1d_transpose", "Conv1DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2},
     [(2, 4, 3)])
case("conv1d_transpose_same", "Conv1DTranspose",
     {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same", "dilation_rate": 1},
     [(2, 5, 2)])
case("conv1d_transpose_outpad", "Conv1DTranspose",
     {"filters": 2, "kernel_size": 3, "strides": 3, "output_padding": 1}, [(1, 4, 2)])
case("depthwise", "DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "strides": 2},
     [(2, 7, 7, 3)])
case("depthwise_same_dilated", "DepthwiseConv2D",
     {"kernel_size": 2, "padding": "same", "dilation_rate": 2}, [(1, 5, 6, 2)])
case("separable", "SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2,
                                      "padding": "same"}, [(2, 5, 5, 3)])

# -- pooling and resizing -------------------------------------------------------
case("max_pool1d", "MaxPooling1D", {}, [(2, 7, 3)])
case("max_pool1d_same", "MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"},
     [(2, 8, 3)])
case("avg_pool1d", "AveragePooling1D", {"pool_size": 3, "strides": 1}, [(2, 6, 2)])
case("avg_pool1d_same", "AveragePooling1D", {"pool_size": 2, "padding": "same"}, [(2, 7, 2)])
case("upsampling1d", "UpSampling1D", {"size": 3}, [(2, 4, 3)])
case("upsampling2d", "UpSampling2D", {"size": (2, 3)}, [(2, 3, 2, 2)])
case("upsampling2d_bilinear", "UpSampling2D", {"size": 2, "interpolation": "bilinear"},
     [(2, 3, 4, 2)])
case("zero_padding1d", "ZeroPadding1D", {"padding": (1, 2)}, [(2, 4, 3)])
case("zero_padding2d", "ZeroPadding2D", {"padding": ((1, 0), (2, 1))}, [(2, 3, 3, 2)])
case("cropping1d", "Cropping1D", {"cropping": (1, 2)}, [(2, 6, 3)])
case("cropping2d", "Cropping2D", {"cropping": ((1, 0), (0, 2))}, [(2, 4, 5, 2)])

# -- activations ----------------------------------------------------------------
ACT_X = np.array([[-4.3, -2.1, -0.7, -0.05, 0.4, 1.3], [2.2, 3.6, 5.1, 6.8, -5.5, 0.9]],
                 "float32")
for name, kwargs in [("gelu", {}), ("gelu_approximate", {"approximate": True}), ("silu", {}),
                     ("swish", {}), ("mish", {}), ("selu", {}), ("softsign", {}),
                     ("hard_sigmoid", {}), ("hard_silu", {}), ("hard_swish", {}),
                     ("relu6", {}), ("exponential", {}), ("log_softmax", {}), ("celu", {}),
                     ("celu_alpha", {"alpha": 0.7}), ("glu", {}), ("hard_tanh", {}),
                     ("hard_shrink", {}), ("soft_shrink", {"threshold": 0.8}),
                     ("tanh_shrink", {}), ("log_sigmoid", {}), ("squareplus", {"b": 2}),
                     ("sparse_plus", {}), ("sparse_sigmoid", {}), ("sparsemax", {}),
                     ("threshold", {"threshold": 0.3, "default_value": -1.0})]:
    base = name.replace("_approximate", "").replace("_alpha", "")
    fn = keras.activations.get(base)
    x = torch.tensor(ACT_X, requires_grad=True)
    y = fn(x, **kwargs)
    cot = rng.normal(0, 1, tuple(y.shape)).astype("float32")
    (y * torch.tensor(cot)).sum().backward()
    OUT[f"act_{name}/spec"] = np.array(json.dumps({"name": base, "kwargs": kwargs}))
    OUT[f"act_{name}/x"] = ACT_X
    OUT[f"act_{name}/out"] = y.detach().numpy()
    OUT[f"act_{name}/cot"] = cot
    OUT[f"act_{name}/gx0"] = x.grad.numpy()


# -- keras.ops: dot_product_attention, layer_normalization, hard_silu -------------
def op_case(name, op, shapes, kwargs=None, arrays=None):
    """``keras.ops.<op>(*inputs, **kwargs, **arrays)``: output and input gradients."""
    kwargs, arrays = dict(kwargs or {}), dict(arrays or {})
    xs = [rng.normal(0, 1, s).astype("float32") for s in shapes]
    tensors = [torch.tensor(x, requires_grad=True) for x in xs]
    y = getattr(keras.ops, op)(*tensors, **kwargs,
                               **{k: torch.tensor(v) for k, v in arrays.items()})
    cot = rng.normal(0, 1, tuple(y.shape)).astype("float32")
    (y * torch.tensor(cot)).sum().backward()
    OUT[f"op_{name}/spec"] = np.array(json.dumps({"op": op, "kwargs": kwargs}))
    for i, (x, t) in enumerate(zip(xs, tensors)):
        OUT[f"op_{name}/x{i}"] = x
        OUT[f"op_{name}/gx{i}"] = t.grad.numpy()
    for key, value in arrays.items():
        OUT[f"op_{name}/{key}"] = value
    OUT[f"op_{name}/out"] = y.detach().numpy()
    OUT[f"op_{name}/cot"] = cot


op_case("dpa", "dot_product_attention", [(2, 4, 3, 5), (2, 6, 3, 5), (2, 6, 3, 2)])
op_case("dpa_mask_causal", "dot_product_attention", [(2, 5, 2, 4)] * 3,
        {"is_causal": True}, {"mask": some_true((2, 1, 5, 5))})
op_case("dpa_gqa_scale", "dot_product_attention", [(1, 4, 4, 3), (1, 5, 2, 3), (1, 5, 2, 3)],
        {"scale": 0.3})
op_case("dpa_bias", "dot_product_attention", [(1, 3, 2, 4), (1, 3, 2, 4), (1, 3, 2, 4),
                                              (1, 2, 3, 3)])
op_case("layer_normalization", "layer_normalization", [(3, 5), (5,), (5,)])
op_case("layer_normalization_axes", "layer_normalization", [(2, 3, 4)],
        {"axis": [1, 2], "epsilon": 1e-3})
op_case("hard_silu", "hard_silu", [(3, 4)])

path = os.path.join(HERE, "layers_17a.npz")
tmp = path + ".tmp.npz"
np.savez_compressed(tmp, **OUT)
os.replace(tmp, path)
print(f"wrote {path}: {len([k for k in OUT if k.endswith('/spec')])} cases")
