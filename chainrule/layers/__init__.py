"""Keras-style layers: a base ``Layer`` and one layer family per file.

>>> import chainrule as cr
>>> from chainrule import layers
>>> x = cr.randn(4, 28, 28, 1)
>>> for layer in [layers.Conv2D(8, 3, activation="relu"), layers.MaxPooling2D(),
...               layers.Flatten(), layers.Dense(10)]:
...     x = layer(x)
>>> x.shape
(4, 10)
"""
from .base import (
    InputSpec,
    Layer,
    SymbolicTensor,
    deserialize,
    get_registered,
    register,
    serialize,
)
from .conv import Conv2D
from .core import (
    Activation,
    Add,
    Concatenate,
    Dense,
    Dropout,
    Flatten,
    LeakyReLU,
    Reshape,
)
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .merge_functions import (
    add, average, concatenate, dot, maximum, minimum, multiply, subtract,
)
from .normalization import BatchNormalization
from .pooling import (
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)
from .recurrent import GRU, LSTM, SimpleRNN
# issue 17, part A: attention, normalization, the convolution family, resizing
from .attention import Attention, MultiHeadAttention
from .conv import Conv1D, Conv1DTranspose, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from .normalization import GroupNormalization, LayerNormalization
from .pooling import AveragePooling1D, MaxPooling1D
from .reshaping import (
    Cropping1D, Cropping2D, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D,
)
# issue 17, part B: masks, wrappers, merges and small layers
from .activation_layers import ELU, PReLU, ReLU, Softmax
from .lambda_layer import Identity, Lambda
from .masking import Masking
from .merging import Average, Dot, Maximum, Minimum, Multiply, Subtract
from .noise import GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D
from .preprocessing import Normalization, Rescaling
from .rearranging import Permute, RepeatVector
from .wrappers import Bidirectional, TimeDistributed

__all__ = [
    "GRU", "LSTM", "Activation", "Add", "AveragePooling2D", "BatchNormalization",
    "Concatenate", "Conv2D", "Dense", "Dropout", "Embedding", "Flatten",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "Input", "InputLayer", "InputSpec", "Layer", "LeakyReLU", "MaxPooling2D", "Reshape",
    "SimpleRNN", "SymbolicTensor", "add", "concatenate", "deserialize", "get_registered",
    "register", "serialize",
    # issue 17, part A
    "Attention", "MultiHeadAttention", "Conv1D", "Conv1DTranspose", "Conv2DTranspose",
    "DepthwiseConv2D",
    "SeparableConv2D", "GroupNormalization", "LayerNormalization", "AveragePooling1D",
    "MaxPooling1D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D",
    "ZeroPadding1D", "ZeroPadding2D",
    # issue 17, part B
    "ELU", "PReLU", "ReLU", "Softmax", "Identity", "Lambda", "Masking", "Average", "Dot",
    "Maximum", "Minimum", "Multiply", "Subtract", "GaussianDropout", "GaussianNoise",
    "SpatialDropout1D", "SpatialDropout2D", "Normalization", "Rescaling", "Permute",
    "RepeatVector", "Bidirectional", "TimeDistributed", "average", "dot", "maximum",
    "minimum", "multiply", "subtract",
]
