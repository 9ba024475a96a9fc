"""``chainrule demo conv-as-matrix``: a convolution is a matrix product.

The seeds' example: the image x and the kernel k

    x = 1 2 3        k = 1 2
        4 5 6            3 4
        7 8 9

Sliding k over x (as deep-learning libraries do: no flip, i.e.
cross-correlation) gives a 2x2 result. The same numbers come three ways:

1. ``cr.conv2d`` (the layer's op: NHWC image, kernel (kh, kw, cin, cout));
2. the doubly block Toeplitz matrix M = ``linalg.conv2d_matrix(k, (3, 3))``
   times the flattened image: each row of M is the kernel laid out where it
   reads, so M @ vec(x) = vec(conv(x, k));
3. by hand: y₁ = 1·1 + 2·2 + 3·4 + 4·5 = 37, …

giving [[37, 47], [67, 77]]. Gradients are matrix products too: the
backward pass of the convolution is Mᵀ times the output's gradient.
"""
from ._plotting import pyplot, save_figure

NAME = "conv-as-matrix"
SUMMARY = "the seeds' [[37, 47], [67, 77]] three ways: conv2d, a Toeplitz matrix product, by hand"
DATA = None


def _matrix_text(matrix):
    import numpy as np
    return "\n".join("    " + " ".join(f"{v:3.0f}" for v in row) for row in np.asarray(matrix))


def by_hand(x, k):
    """Each output as its written-out sum, e.g. '1·1 + 2·2 + 3·4 + 4·5 = 37'."""
    kh, kw = k.shape
    lines, values = [], []
    for i in range(x.shape[0] - kh + 1):
        row = []
        for j in range(x.shape[1] - kw + 1):
            terms = [(k[a, b], x[i + a, j + b]) for a in range(kh) for b in range(kw)]
            total = sum(kv * xv for kv, xv in terms)
            lines.append(" + ".join(f"{kv:g}·{xv:g}" for kv, xv in terms) + f" = {total:g}")
            row.append(total)
        values.append(row)
    return values, lines


def _plot(matrix, shape, out_dir):
    plt = pyplot()
    if plt is None:
        return []
    fig, ax = plt.subplots(figsize=(9, 4.2))
    shown = ax.imshow(matrix, cmap="viridis")
    ax.set(title=f"conv2d_matrix of a 3x3 kernel (1..9) for a {shape[0]}x{shape[1]} image: "
                 f"{matrix.shape[0]}x{matrix.shape[1]}",
           xlabel="input pixel (row-major)", ylabel="output pixel (row-major)")
    fig.colorbar(shown, ax=ax, fraction=0.03)
    path = save_figure(fig, out_dir, "conv_as_matrix.png")
    print(f"saved a picture of a bigger convolution matrix to {path}")
    return [path]


def run(quick=False, seed=0, out_dir=".", data_path=None):
    """Returns ``{"conv2d", "matrix", "matrix_product", "by_hand", "backward_matches",
    "random_check", "pngs"}`` (the results as 2x2 NumPy arrays). ``quick`` checks a
    smaller random image; ``data_path`` is unused."""
    import numpy as np

    import chainrule as cr
    from chainrule import linalg

    x = np.arange(1.0, 10.0).reshape(3, 3)
    k = np.array([[1.0, 2.0], [3.0, 4.0]])
    print("image x:")
    print(_matrix_text(x))
    print("kernel k:")
    print(_matrix_text(k))

    # 1. the op a Conv2D layer uses: batch of one, one channel in, one out
    image = cr.tensor(x.reshape(1, 3, 3, 1), dtype="float64", requires_grad=True)
    out = cr.conv2d(image, cr.tensor(k.reshape(2, 2, 1, 1), dtype="float64"))
    conv = out.numpy().reshape(2, 2)
    print("1. cr.conv2d(x, k):")
    print(_matrix_text(conv))

    # 2. the doubly block Toeplitz matrix
    M = linalg.conv2d_matrix(k, x.shape).toarray()
    product = (M @ x.ravel()).reshape(2, 2)
    print(f"2. M = linalg.conv2d_matrix(k, (3, 3)), shape {M.shape}:")
    print(_matrix_text(M))
    print(f"   M @ x.ravel() = {(M @ x.ravel()).tolist()}, reshaped to 2x2:")
    print(_matrix_text(product))

    # 3. by hand
    hand, lines = by_hand(x, k)
    print("3. by hand:")
    for n, line in enumerate(lines, 1):
        print(f"   y{n} = {line}")
    hand = np.array(hand)
    agree = bool(np.allclose(conv, product) and np.allclose(conv, hand))
    print(f"all three agree: {agree}")

    # The backward pass is a matrix product too: dL/dx = Mᵀ · dL/dy.
    upstream = np.array([[1.0, -1.0], [0.5, 2.0]])
    out.backward(cr.tensor(upstream.reshape(1, 2, 2, 1), dtype="float64"))
    backward_matches = bool(np.allclose(image.grad.numpy().ravel(), M.T @ upstream.ravel()))
    print(f"gradient of the convolution = Mᵀ @ (gradient of the output): {backward_matches}")

    # The same on a random image, where nothing lines up by accident.
    rng = np.random.default_rng(seed)
    size = 8 if quick else 28
    big, kernel = rng.standard_normal((size, size)), rng.standard_normal((3, 3))
    M_big = linalg.conv2d_matrix(kernel, big.shape)
    via_conv = cr.conv2d(cr.tensor(big.reshape(1, size, size, 1), dtype="float64"),
                         cr.tensor(kernel.reshape(3, 3, 1, 1), dtype="float64")).numpy().ravel()
    random_error = float(np.abs(M_big @ big.ravel() - via_conv).max())
    print(f"random {size}x{size} image, 3x3 kernel: M is {M_big.shape[0]}x{M_big.shape[1]} with "
          f"{M_big.nnz} non-zeros ({M_big.nnz / np.prod(M_big.shape):.1%}); "
          f"largest difference from conv2d {random_error:.1e}")
    pngs = _plot(linalg.conv2d_matrix(np.arange(1.0, 10.0).reshape(3, 3), (6, 6)).toarray(),
                 (6, 6), out_dir)
    return {"conv2d": conv, "matrix": M, "matrix_product": product, "by_hand": hand,
            "agree": agree, "backward_matches": backward_matches,
            "random_check": random_error, "pngs": pngs}
