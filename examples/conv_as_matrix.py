"""A convolution is a matrix product: the seeds' [[37, 47], [67, 77]].

    python examples/conv_as_matrix.py
"""
import numpy as np

import chainrule as cr
from chainrule import linalg

x = np.arange(1.0, 10.0).reshape(3, 3)              # 1..9
k = np.array([[1.0, 2.0], [3.0, 4.0]])

# 1. the conv2d op (NHWC image, kernel (kh, kw, c_in, c_out))
conv = cr.conv2d(cr.tensor(x.reshape(1, 3, 3, 1)), cr.tensor(k.reshape(2, 2, 1, 1)))
print(conv.numpy().reshape(2, 2))

# 2. the doubly block Toeplitz matrix times the flattened image
M = linalg.conv2d_matrix(k, (3, 3)).toarray()     # 4 x 9: one row per output pixel
print(M)
print((M @ x.ravel()).reshape(2, 2))

# 3. by hand
print(1*1 + 2*2 + 3*4 + 4*5, 1*2 + 2*3 + 3*5 + 4*6, 1*4 + 2*5 + 3*7 + 4*8, 1*5 + 2*6 + 3*8 + 4*9)
