"""Linear algebra you can differentiate, and see.

Differentiable (Tensor in, Tensor out; LAPACK forward, backward rules of
our own written next to each forward):

- systems: ``solve``, ``solve_triangular``, ``inv``, ``det``, ``slogdet``,
  ``lstsq`` (methods 'qr', 'normal', 'cholesky', 'svd'), ``norm``;
- decompositions: ``cholesky``, ``qr``, ``eigh``, ``svd``, ``lu``.

Also: ``nmf`` (Lee & Seung), ``conv2d_matrix`` and ``fft_conv2d``
(convolution as a matrix product and through the FFT), and
:mod:`chainrule.linalg.reference`, readable textbook algorithms
(Householder QR, Gram-Schmidt, LU with partial pivoting, power iteration).

>>> import chainrule as cr
>>> A = cr.tensor([[2., 1.], [1., 3.]], requires_grad=True)
>>> cr.linalg.det(A).backward()          # d det / dA = det(A) A⁻ᵀ
>>> A.grad
tensor([[ 3., -1.],
        [-1.,  2.]])
"""
from . import reference
from .conv_matrix import conv2d_matrix, fft_conv2d
from .decompositions import (
    EighResult,
    LUResult,
    QRResult,
    SVDResult,
    cholesky,
    eigh,
    lu,
    qr,
    svd,
)
from .lstsq import LstsqResult, PrecisionWarning, lstsq
from .nmf import NMFResult, nmf
from .norms import norm
from .solvers import SlogdetResult, det, inv, slogdet, solve, solve_triangular

__all__ = [
    "EighResult", "LUResult", "LstsqResult", "NMFResult", "PrecisionWarning", "QRResult",
    "SVDResult", "SlogdetResult", "cholesky", "conv2d_matrix", "det", "eigh", "fft_conv2d",
    "inv", "lstsq", "lu", "nmf", "norm", "qr", "reference", "slogdet", "solve",
    "solve_triangular", "svd",
]
