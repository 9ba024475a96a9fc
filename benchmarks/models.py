"""Seconds per MNIST epoch: chainrule's ``fit`` vs a PyTorch CPU training loop.

Two models, each built the same way in both libraries and trained with Adam
(learning rate 1e-3) on batches of 128 with sparse cross-entropy:

* the 784-512-512-10 relu MLP;
* Keras' small convnet: Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu,
  MaxPool 2, Flatten, Dropout 0.5, Dense 10 softmax.

An MNIST epoch is 60,000 images, 469 steps. Timing a whole epoch of each
library several times would take minutes, so each run times ``steps`` steps
(the data are random arrays of MNIST's shape: the cost does not depend on
the values) and extrapolates to 469 steps. chainrule is timed through
``model.fit`` (shuffling, metrics, callbacks included); PyTorch through the
usual ``zero_grad / forward / loss / backward / step`` loop plus the accuracy
of each batch, which is what ``fit`` reports. The libraries take turns for
each repeat and the median is reported.

``python -m benchmarks.models [--quick] [--no-torch]`` prints the Markdown
section; ``run(quick=False, use_torch=True, log=print)`` returns it.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import chainrule as cr
from chainrule import layers

from .core import machine_info

BATCH = 128
EPOCH_SAMPLES = 60000
STEPS_PER_EPOCH = -(-EPOCH_SAMPLES // BATCH)       # 469


# --------------------------------------------------------------------------
# The models
# --------------------------------------------------------------------------
def chainrule_mlp():
    model = cr.Sequential([cr.Input((784,)), layers.Dense(512, activation="relu"),
                           layers.Dense(512, activation="relu"),
                           layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def chainrule_cnn():
    model = cr.Sequential([cr.Input((28, 28, 1)),
                           layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                           layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                           layers.Flatten(), layers.Dropout(0.5),
                           layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def torch_mlp(nn):
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 10))


def torch_cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * 5 * 5, 10))


# --------------------------------------------------------------------------
# Timers: seconds for `steps` training steps
# --------------------------------------------------------------------------
def _time_chainrule(model, x, y, steps):
    n = steps * BATCH
    start = time.perf_counter()
    model.fit(x[:n], y[:n], batch_size=BATCH, epochs=1, verbose=0)
    return time.perf_counter() - start


def _time_torch(torch, model, optimizer, x, y, steps):
    loss_fn = torch.nn.CrossEntropyLoss()      # softmax + cross-entropy, fused
    model.train()
    start = time.perf_counter()
    correct = 0
    for i in range(steps):
        xb, yb = x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]
        optimizer.zero_grad(set_to_none=True)
        logits = model(xb)
        loss = loss_fn(logits, yb)
        loss.backward()
        optimizer.step()
        correct += int((logits.argmax(1) == yb).sum())
    return time.perf_counter() - start


def _measure(name, steps, repeats, use_torch, log):
    rng = np.random.default_rng(0)
    n = steps * BATCH
    shape = (784,) if name == "mlp" else (28, 28, 1)
    x = rng.random((n,) + shape, dtype=np.float32)
    y = rng.integers(0, 10, n)
    cr.set_seed(0)
    model = chainrule_mlp() if name == "mlp" else chainrule_cnn()
    _time_chainrule(model, x, y, 2)                      # warm up (build, first calls)
    timers = [("chainrule", lambda: _time_chainrule(model, x, y, steps))]
    if use_torch:
        import torch
        torch.manual_seed(0)
        tmodel = torch_mlp(torch.nn) if name == "mlp" else torch_cnn(torch.nn)
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3, eps=1e-7)
        tx = torch.from_numpy(x if name == "mlp" else np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        ty = torch.from_numpy(y)
        _time_torch(torch, tmodel, topt, tx, ty, 2)
        timers.append(("PyTorch", lambda: _time_torch(torch, tmodel, topt, tx, ty, steps)))
    results = {label: [] for label, _ in timers}
    for r in range(repeats):
        for label, timer in timers:                      # round-robin
            seconds = timer()
            results[label].append(seconds / steps * STEPS_PER_EPOCH)
            log(f"  {name} {label:9s} repeat {r + 1}/{repeats}: "
                f"{seconds / steps * 1000:.1f} ms/step, {results[label][-1]:.1f} s/epoch")
            time.sleep(0.1)                              # let BLAS threads go idle
    params = model.count_params()
    return params, {label: statistics.median(v) for label, v in results.items()}


def run(quick=False, use_torch=True, log=print):
    """Time both models; return a Markdown section."""
    if use_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            use_torch = False
    plan = {"mlp": (5, 1), "cnn": (3, 1)} if quick else {"mlp": (40, 3), "cnn": (15, 3)}
    rows = {}
    for name, (steps, repeats) in plan.items():
        log(f"{name}: {steps} steps x {repeats} repeats")
        rows[name] = (steps, repeats) + _measure(name, steps, repeats, use_torch, log)
    info = machine_info()
    titles = {"mlp": "MLP 784-512-512-10", "cnn": "Keras MNIST convnet"}
    lines = ["## Training on MNIST: seconds per epoch (chainrule `fit` vs PyTorch CPU)", "",
             (f"Measured by `python -m benchmarks.models{' --quick' if quick else ''}` on "
             f"{info['CPU']} ({info['Cores (os.cpu_count)']} cores); NumPy BLAS: "
             f"{info['NumPy BLAS']}; PyTorch: {info.get('PyTorch', 'not run')}."), "",
             (f"Adam (lr 1e-3), batch {BATCH}, sparse cross-entropy, float32. One epoch = "
             f"{EPOCH_SAMPLES:,} images = {STEPS_PER_EPOCH} steps. **Extrapolated**: each "
             f"number times a fraction of an epoch (the steps column) on random data of "
             f"MNIST's shape and scales it to {STEPS_PER_EPOCH} steps; median over the "
             f"repeats, the libraries taking turns."), "",
             ("| model | params | steps timed x repeats | chainrule s/epoch | PyTorch s/epoch "
             "| chainrule / PyTorch |"),
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, (steps, repeats, params, times) in rows.items():
        ours, theirs = times["chainrule"], times.get("PyTorch")
        ratio = f"{ours / theirs:.1f}x" if theirs else "-"
        lines.append(f"| {titles[name]} | {params:,} | {steps} x {repeats} | {ours:.1f} | "
                     f"{f'{theirs:.1f}' if theirs else '-'} | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few steps")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    args = parser.parse_args(argv)
    print(run(quick=args.quick, use_torch=not args.no_torch, log=print))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
