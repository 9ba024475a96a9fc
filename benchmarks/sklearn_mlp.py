"""chainrule.sklearn.MLPClassifier vs scikit-learn's MLPClassifier on MNIST.

The same estimator call in both libraries -- ``hidden_layer_sizes=(256,)``,
``solver="adam"``, ``max_iter=10`` (10 epochs), ``batch_size="auto"`` (200),
``random_state=0`` -- on the 60,000 training images scaled to [0, 1]
(float64, as a user would pass them), timed side by side in one process
(the rows take turns, three times, and each keeps its fastest fit), with both test
accuracies. chainrule trains in float32 by default; a third
row gives scikit-learn float32 inputs too (it then also trains in float32),
so the speed-up that is not just precision is visible.

``python -m benchmarks.sklearn_mlp`` prints the Markdown section;
``run(quick=False, log=print)`` returns it.
"""
from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np

MNIST = Path(os.environ.get("CHAINRULE_MNIST", "/work/shared/data/mnist.npz"))
TARGET = 3.0          # issue 5: at least 3x faster than scikit-learn


def _load(quick):
    with np.load(MNIST) as data:
        x_train, y_train = data["x_train"], data["y_train"]
        x_test, y_test = data["x_test"], data["y_test"]
    if quick:
        x_train, y_train, x_test, y_test = x_train[:6000], y_train[:6000], x_test[:2000], y_test[:2000]
    scale = lambda x: x.reshape(len(x), -1) / 255.0
    return scale(x_train), y_train, scale(x_test), y_test


def _fit(make, x_train, y_train, x_test, y_test):
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # ConvergenceWarning: 10 epochs is the point
        start = time.perf_counter()
        model.fit(x_train, y_train)
        seconds = time.perf_counter() - start
    return seconds, model.score(x_test, y_test)


def run(quick=False, log=print) -> str:
    from sklearn.neural_network import MLPClassifier as SkMLP

    from chainrule.sklearn import MLPClassifier as CrMLP

    x_train, y_train, x_test, y_test = _load(quick)
    epochs = 3 if quick else 10
    params = {"hidden_layer_sizes": (256,), "solver": "adam", "max_iter": epochs, "random_state": 0}
    log(f"MNIST: {len(x_train)} training, {len(x_test)} test images; {params}")
    rows = [
        ("scikit-learn (float64 inputs)", lambda: SkMLP(**params), x_train),
        ("scikit-learn (float32 inputs)", lambda: SkMLP(**params), x_train.astype(np.float32)),
        ("chainrule (float32, default)", lambda: CrMLP(**params), x_train),
        ("chainrule (dtype='float64')", lambda: CrMLP(dtype="float64", **params), x_train),
    ]
    # The rows take turns, `repeats` times, and each keeps its fastest fit:
    # a busy machine slows some fits down, never speeds one up.
    repeats = 1 if quick else 3
    results = {}
    for _ in range(repeats):
        for name, make, x in rows:
            seconds, acc = _fit(make, x, y_train, x_test.astype(x.dtype), y_test)
            best = min(seconds, results.get(name, (np.inf,))[0])
            results[name] = (best, acc)
            log(f"  {name:32s} fit {seconds:7.2f} s   test accuracy {acc:.4f}")

    base = results["scikit-learn (float64 inputs)"][0]
    lines = [
        "## scikit-learn estimators: MLPClassifier on MNIST",
        "",
        f"`MLPClassifier(hidden_layer_sizes=(256,), solver='adam', max_iter={epochs}, "
        f"random_state=0)` (batch 200), {len(x_train)} training images scaled to [0, 1], "
        "fit time (the fastest of the runs, the rows taking turns) and test accuracy, "
        "side by side in one run"
        + (" (quick smoke run: a subset, 3 epochs)" if quick else "") + ".",
        "",
        "| estimator | fit (s) | speed-up vs scikit-learn | test accuracy |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, (seconds, acc) in results.items():
        lines.append(f"| {name} | {seconds:.2f} | {base / seconds:.2f}x | {acc:.4f} |")
    speedup = base / results["chainrule (float32, default)"][0]
    gap = results["chainrule (float32, default)"][1] - results["scikit-learn (float64 inputs)"][1]
    lines += ["", (f"chainrule's default is {speedup:.2f}x faster than scikit-learn's default "
              f"(target {TARGET:.0f}x), accuracy difference {100 * gap:+.2f} points."), ""]
    if speedup < TARGET:
        lines += [
            (f"**Target missed by {TARGET / speedup:.1f}x.** Where the time goes (cProfile of "
            "a 3-epoch fit): the five float32 GEMMs of each step take about 40% of the fit; "
            "Adam's in-place update of the 200,000-weight first layer about 15%; converting "
            "the float64 input to float32 once about 10%; gathering each shuffled batch, "
            "the L2 penalty and the graph bookkeeping the rest. Timed alone, the two "
            "large GEMMs of a step take 40-55% of it, so even with no overhead at all the "
            "ratio would be about 2.6-3.5x on this machine; the "
            "missing factor is per-step overhead outside them: an in-place, fused Adam "
            "over all weights, no float64-to-float32 copy of the whole input, and cheaper "
            "batch gathering; the performance issue tracks it."), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    print(run(quick="--quick" in sys.argv[1:], log=lambda s: print(s, file=sys.stderr)))
