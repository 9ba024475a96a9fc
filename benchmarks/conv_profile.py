"""Scratch profile of the Keras MNIST convnet training step (issue #9).

chainrule and PyTorch CPU eager take turns (interleaved), each timing
``--steps`` Adam steps on batches of 128 random MNIST-shaped images; the
medians over ``--repeats`` are printed in ms per step, wall clock and CPU
(user + sys of the whole process, all threads). ``--ops`` adds a
per-op breakdown of one chainrule step (forward and backward of every
layer), ``--cprofile`` a cProfile of a few steps.

    python -m benchmarks.conv_profile [--steps 10] [--repeats 5] [--ops] [--cprofile]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time

import numpy as np

import chainrule as cr
from chainrule import layers

BATCH = 128


def chainrule_model():
    model = cr.Sequential([cr.Input((28, 28, 1)),
                           layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                           layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                           layers.Flatten(), layers.Dropout(0.5),
                           layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def chainrule_steps(model, x, y, steps):
    n = steps * BATCH
    start = time.perf_counter()
    model.fit(x[:n], y[:n], batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    return (time.perf_counter() - start) / steps


def torch_setup(x, y):
    import torch
    from torch import nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * 5 * 5, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    tx = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    ty = torch.from_numpy(y)
    return torch, model, opt, tx, ty


def torch_steps(torch, model, opt, tx, ty, steps):
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    correct = 0
    for i in range(steps):
        xb, yb = tx[i * BATCH:(i + 1) * BATCH], ty[i * BATCH:(i + 1) * BATCH]
        opt.zero_grad(set_to_none=True)
        logits = model(xb)
        loss = loss_fn(logits, yb)
        loss.backward()
        opt.step()
        correct += int((logits.argmax(1) == yb).sum())
    return (time.perf_counter() - start) / steps


def op_breakdown(model, x, y, reps=5):
    """Median ms of each layer's forward and of the backward of the whole step."""
    xb = cr.tensor(x[:BATCH])
    yb = cr.tensor(y[:BATCH])
    loss_fn = cr.losses.get("sparse_categorical_crossentropy")
    rows = {}
    for _ in range(reps):
        h = xb
        for layer in model.layers:
            t0 = time.perf_counter()
            h = layer(h, training=True)
            rows.setdefault(f"fwd {layer.name}", []).append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        loss = loss_fn(yb, h)
        rows.setdefault("fwd loss", []).append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        loss.backward()
        rows.setdefault("backward", []).append(time.perf_counter() - t0)
        for w in model.trainable_weights:
            w.grad = None
    return {k: statistics.median(v) * 1000 for k, v in rows.items()}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--ops", action="store_true")
    p.add_argument("--cprofile", action="store_true")
    a = p.parse_args(argv)
    rng = np.random.default_rng(0)
    n = a.steps * BATCH
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n)
    cr.set_seed(0)
    model = chainrule_model()
    chainrule_steps(model, x, y, 2)
    timers = [("chainrule", lambda: chainrule_steps(model, x, y, a.steps))]
    if not a.no_torch:
        t = torch_setup(x, y)
        torch_steps(*t, 2)
        timers.append(("torch", lambda: torch_steps(*t, a.steps)))
    res = {k: [] for k, _ in timers}
    cpu = {k: [] for k, _ in timers}
    for _ in range(a.repeats):
        for k, f in timers:
            before = os.times()
            res[k].append(f() * 1000)
            after = os.times()
            used = (after.user - before.user) + (after.system - before.system)
            cpu[k].append(used / a.steps * 1000)
            time.sleep(0.05)
    med = {k: statistics.median(v) for k, v in res.items()}
    for k, v in med.items():
        print(f"{k:10s} {v:7.1f} ms/step wall, {statistics.median(cpu[k]):6.1f} ms/step CPU   "
              f"(wall: {', '.join(f'{s:.0f}' for s in res[k])})")
    if "torch" in med:
        print(f"ratio chainrule/torch: {med['chainrule'] / med['torch']:.2f}x")
    if a.ops:
        for k, v in op_breakdown(model, x, y).items():
            print(f"  {k:28s} {v:7.2f} ms")
    if a.cprofile:
        prof = cProfile.Profile()
        prof.enable()
        chainrule_steps(model, x, y, a.steps)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
