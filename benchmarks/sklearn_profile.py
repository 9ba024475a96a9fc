"""Scratch: where chainrule.sklearn.MLPClassifier.fit spends its time (MNIST, hidden 256, adam).

    python benchmarks/sklearn_profile.py              # cProfile of a 2-epoch fit on 20,000 images
    python benchmarks/sklearn_profile.py --compare    # fit seconds and accuracy, ours vs scikit-learn
    python benchmarks/sklearn_profile.py --gemm       # the two big GEMMs of a step alone
    ... --n 60000 --epochs 10 --threads 1             # the benchmark's size, BLAS on one thread

On the shared 2-core machine take numbers with rows taking turns (``--compare``
does) and say the load: two BLAS threads under load are much slower than one.
"""
import argparse
import time
import warnings

import numpy as np


def _load():
    """MNIST scaled to [0, 1], float64 (as a user passes it)."""
    with np.load("/work/shared/data/mnist.npz") as data:
        scale = lambda a: a.reshape(len(a), -1) / 255.0
        return (scale(data["x_train"]), data["y_train"], scale(data["x_test"]), data["y_test"])


def fit_seconds(make, x, y, xt, yt):
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(x, y)
        seconds = time.perf_counter() - start
    return seconds, model.score(xt, yt)


def gemm_floor(n, epochs, batch=200, hidden=256, dtype=np.float32):
    """Seconds for just the step's GEMMs (forward x@W1, backward xᵀ@d) over ``epochs``."""
    rng = np.random.default_rng(0)
    x = rng.random((batch, 784)).astype(dtype)
    w = rng.random((784, hidden)).astype(dtype)
    d = rng.random((batch, hidden)).astype(dtype)
    steps = epochs * -(-n // batch)
    start = time.perf_counter()
    for _ in range(steps):
        x @ w
        x.T @ d
    return time.perf_counter() - start


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--gemm", action="store_true")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: OpenBLAS')")
    args = ap.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads, "blas")
    x, y, xt, yt = _load()
    x, y = x[:args.n], y[:args.n]
    params = {"hidden_layer_sizes": (256,), "solver": "adam", "max_iter": args.epochs,
              "random_state": 0}
    from sklearn.neural_network import MLPClassifier as SkMLP

    from chainrule.sklearn import MLPClassifier as CrMLP
    if args.gemm:
        for dt in (np.float32, np.float64):
            print(f"GEMMs alone, {np.dtype(dt).name}: {gemm_floor(len(x), args.epochs, dtype=dt):.2f} s")
    elif args.compare:
        for _ in range(2):
            for name, make in [("sklearn", lambda: SkMLP(**params)), ("chainrule", lambda: CrMLP(**params))]:
                s, acc = fit_seconds(make, x, y, xt, yt)
                print(f"{name:10s} fit {s:6.2f} s  test accuracy {acc:.4f}", flush=True)
    else:
        import cProfile
        import pstats
        model = CrMLP(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cProfile.run("model.fit(x, y)", "/tmp/skl.prof")
        pstats.Stats("/tmp/skl.prof").sort_stats("tottime").print_stats(25)
