"""Convolution as a matrix and through the FFT, checked against cr.conv2d; NMF
recovering planted topics."""
import numpy as np
import pytest
import scipy.sparse
from scipy.optimize import linear_sum_assignment

import chainrule as cr
from chainrule import linalg as L

IMAGE = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
KERNEL = np.array([[1, 2], [3, 4]])


def conv2d_2d(image, kernel, stride=1, padding="valid"):
    """cr.conv2d on one 2-D image with one 2-D kernel."""
    out = cr.conv2d(cr.tensor(image[None, :, :, None].astype(np.float64)),
                    cr.tensor(kernel[:, :, None, None].astype(np.float64)),
                    stride=stride, padding=padding)
    return out.numpy()[0, :, :, 0]


# --------------------------------------------------------------------------
# The seeds' example, three ways
# --------------------------------------------------------------------------
def test_seed_example_three_ways():
    expected = [[37, 47], [67, 77]]      # 1·1 + 2·2 + 4·3 + 5·4 = 37, ...
    np.testing.assert_array_equal(conv2d_2d(IMAGE, KERNEL), expected)
    M = L.conv2d_matrix(KERNEL, IMAGE.shape)
    assert scipy.sparse.issparse(M) and M.shape == (4, 9)
    np.testing.assert_array_equal((M @ IMAGE.ravel()).reshape(2, 2), expected)
    np.testing.assert_allclose(L.fft_conv2d(IMAGE, KERNEL), expected, atol=1e-12)


def test_the_matrix_is_doubly_block_toeplitz():
    M = L.conv2d_matrix(KERNEL, (3, 3)).toarray()
    # Row (i, j) of the output reads pixels (i, j), (i, j+1), (i+1, j), (i+1, j+1).
    np.testing.assert_array_equal(M[0], [1, 2, 0, 3, 4, 0, 0, 0, 0])
    np.testing.assert_array_equal(M[3], [0, 0, 0, 0, 1, 2, 0, 3, 4])
    blocks = M.reshape(2, 2, 3, 3)       # (output row, ·, input row, ·) blocks
    np.testing.assert_array_equal(blocks[0, :, 0], blocks[1, :, 1])   # constant down diagonals
    np.testing.assert_array_equal(blocks[0, :, 2], 0)
    for block in (blocks[0, :, 0], blocks[0, :, 1]):                  # each block Toeplitz
        np.testing.assert_array_equal(block[0, :-1], block[1, 1:])


# --------------------------------------------------------------------------
# Randomized agreement
# --------------------------------------------------------------------------
@pytest.mark.parametrize("trial", range(12))
def test_three_ways_agree_on_random_problems(trial):
    rng = np.random.default_rng(trial)
    h, w = rng.integers(3, 10, size=2)
    kh, kw = rng.integers(1, 4, size=2)
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    padding = ["valid", "same", int(rng.integers(0, 3))][trial % 3]
    image, kernel = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
    expected = conv2d_2d(image, kernel, stride, padding)
    M = L.conv2d_matrix(kernel, (h, w), stride=stride, padding=padding)
    assert M.shape == (expected.size, h * w)
    np.testing.assert_allclose((M @ image.ravel()).reshape(expected.shape), expected,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(L.fft_conv2d(image, kernel, padding=padding, stride=stride),
                               expected, rtol=1e-10, atol=1e-10)
    assert M.nnz <= kh * kw * expected.size


def test_same_padding_puts_the_extra_row_at_the_bottom_right():
    kernel = np.ones((2, 2))
    M = L.conv2d_matrix(kernel, (3, 3), padding="same").toarray()
    assert M.shape == (9, 9)
    # The last output reads pixel (2, 2) and three pixels of padding beyond it.
    np.testing.assert_array_equal(M[8], [0, 0, 0, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(M[0], [1, 1, 0, 1, 1, 0, 0, 0, 0])


def test_transpose_is_the_adjoint():
    # Mᵀ maps an output gradient back onto the image: the backward of conv2d.
    rng = np.random.default_rng(0)
    image, kernel, g = rng.standard_normal((6, 5)), rng.standard_normal((3, 2)), None
    x = cr.tensor(image[None, :, :, None], requires_grad=True)
    y = cr.conv2d(x, cr.tensor(kernel[:, :, None, None]), stride=2, padding="same")
    g = rng.standard_normal(y.shape)
    (y * g).sum().backward()
    M = L.conv2d_matrix(kernel, image.shape, stride=2, padding="same")
    np.testing.assert_allclose(M.T @ g.ravel(), x.grad.numpy().ravel(), atol=1e-12)


def test_tensors_in_and_dtypes():
    out = L.fft_conv2d(cr.tensor(IMAGE.astype(np.float32)), KERNEL)
    assert isinstance(out, cr.Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), [[37, 47], [67, 77]], rtol=1e-6)
    M = L.conv2d_matrix(cr.tensor(KERNEL.astype(np.float32)), (3, 3))
    assert M.dtype == np.float32
    assert L.fft_conv2d(IMAGE, KERNEL).dtype == np.float64


def test_conv_errors():
    with pytest.raises(cr.ShapeError, match="kernel must be 2-D"):
        L.conv2d_matrix(np.ones((2, 2, 1, 1)), (3, 3))
    with pytest.raises(cr.ShapeError, match="does not fit a 2x2 image"):
        L.fft_conv2d(np.ones((2, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="padding must be 'valid', 'same'"):
        L.conv2d_matrix(KERNEL, (3, 3), padding="full")
    with pytest.raises(ValueError, match="stride must be >= 1"):
        L.fft_conv2d(IMAGE, KERNEL, stride=0)


# --------------------------------------------------------------------------
# NMF
# --------------------------------------------------------------------------
def _planted_corpus(seed=0):
    """12 terms, 3 topics of 4 terms each, 30 documents mixing the topics."""
    rng = np.random.default_rng(seed)
    W = np.zeros((12, 3))
    for topic in range(3):
        W[4 * topic:4 * topic + 4, topic] = rng.uniform(1, 3, 4)
    H = rng.uniform(0, 1, (3, 30)) * (rng.uniform(size=(3, 30)) < 0.6)
    return W, H, W @ H


@pytest.mark.parametrize("seed", [0, 1])
def test_nmf_recovers_planted_topics(seed):
    W_true, H_true, X = _planted_corpus()
    W, H, errors = L.nmf(X, 3, max_iter=2000, seed=seed, tol=1e-10)
    assert W.shape == (12, 3) and H.shape == (3, 30)
    assert W.min() >= 0 and H.min() >= 0
    assert errors[-1] < 1e-3 * errors[0]
    # Match learned topics to planted ones (up to order and scale) by cosine similarity.
    unit = W / np.linalg.norm(W, axis=0)
    unit_true = W_true / np.linalg.norm(W_true, axis=0)
    similarity = unit_true.T @ unit
    rows, cols = linear_sum_assignment(-similarity)
    assert similarity[rows, cols].min() > 0.999
    # Each learned topic puts (almost) all its weight on its planted topic's 4 terms.
    for topic, learned in zip(rows, cols):
        share = W[4 * topic:4 * topic + 4, learned].sum() / W[:, learned].sum()
        assert share > 0.999
    # The document weights follow: H matches the planted H after rescaling.
    scale = np.linalg.norm(W, axis=0)[cols] / np.linalg.norm(W_true, axis=0)[rows]
    np.testing.assert_allclose(H[cols] * scale[:, None], H_true[rows], atol=2e-2)


def test_nmf_error_never_increases():
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(20, 15))                     # no exact factorization
    errors = L.nmf(X, 4, max_iter=300, seed=0, tol=0).errors
    assert len(errors) == 301
    assert np.all(np.diff(errors) <= 1e-12 * errors[0])
    assert errors[-1] < 0.5 * errors[0]
    np.testing.assert_allclose(errors[0], errors[0])   # a float, not a tensor


def test_nmf_is_seeded_and_stops_at_tol():
    _, _, X = _planted_corpus()
    a, b = L.nmf(X, 3, seed=5), L.nmf(X, 3, seed=5)
    np.testing.assert_array_equal(a.W, b.W)
    early = L.nmf(X, 3, seed=5, max_iter=5000, tol=1e-3)
    assert len(early.errors) < 5001
    assert early.errors[-2] - early.errors[-1] < 1e-3 * early.errors[0]


def test_nmf_errors():
    with pytest.raises(ValueError, match="non-negative; its smallest entry is -1"):
        L.nmf(-np.ones((3, 3)), 2)
    with pytest.raises(ValueError, match="between 1 and min"):
        L.nmf(np.ones((3, 4)), 4)
    with pytest.raises(ValueError, match="2-D"):
        L.nmf(np.ones(3), 1)
