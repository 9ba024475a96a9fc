"""(g) Peak resident memory across epochs of MLP training: is it flat?

A graph kept alive by mistake (a loss stored with its history, a callback
holding outputs) makes memory grow every step. The check trains the MNIST
784-512-512-10 MLP with ``model.fit`` for several epochs and reads, at the end
of each epoch, the resident set size now (``/proc/self/statm``) and the peak
so far (``getrusage``). It runs in a fresh Python process so that the peak
is this training's, not the rest of the suite's.

``python -m chainrule.bench.memory SAMPLES EPOCHS`` prints the trace as JSON.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .report import Section, Target
from .timing import rss_now, rss_peak

GROWTH_TARGET = 1.05     # RSS and peak RSS at the last epoch / after the first epoch
MIB = 2 ** 20


def trace(samples, epochs):
    """[(epoch, rss_now, rss_peak)] in bytes, plus the data source; runs in this process."""
    import gc

    import chainrule as cr
    from chainrule import layers

    from .data import mnist

    x, y, _, _, source = mnist(samples)
    x = x.reshape(len(x), -1)
    cr.set_seed(0)
    model = cr.Sequential([cr.Input((784,)), layers.Dense(512, activation="relu"),
                           layers.Dense(512, activation="relu"),
                           layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    points = [(0, rss_now(), rss_peak())]

    class Recorder(cr.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            gc.collect()
            points.append((epoch + 1, rss_now(), rss_peak()))

    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0, callbacks=[Recorder()])
    return points, source


def memory_section(libs, cfg, peak=None, log=print):
    samples, epochs = cfg["memory"]
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    done = subprocess.run([sys.executable, "-m", "chainrule.bench.memory", str(samples),
                           str(epochs)], check=False, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"memory trace failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    points, source = result["points"], result["source"]
    rows = []
    for epoch, now, top in points:
        label = "before fit (model built, data loaded)" if epoch == 0 else f"after epoch {epoch}"
        rows.append([label, f"{now / MIB:.1f}" if now else "—", f"{top / MIB:.1f}"])
        log(f"  memory {label:<40} RSS {now / MIB if now else float('nan'):7.1f} MiB  "
            f"peak {top / MIB:7.1f} MiB")
    growth_now = points[-1][1] / points[1][1] if points[1][1] else None
    growth_peak = points[-1][2] / points[1][2]
    steps = -(-samples // 128)
    return Section(
        "memory", "(g) Resident memory across epochs of MLP training",
        f"`model.fit` of the 784-512-512-10 relu MLP (Adam, batch 128) on {samples:,} "
        f"{source} images ({steps} steps per epoch), {epochs} epochs, in a fresh process "
        "(`python -m chainrule.bench.memory`). `RSS` is the resident set after the epoch "
        "(after a garbage collection), `peak` the process's peak so far (`getrusage`). "
        "Flat means no graph, batch or gradient is kept from one step to the next.",
        ["when", "RSS (MiB)", "peak RSS (MiB)"], rows,
        [Target("Memory flat across epochs: peak RSS after the last epoch / after epoch 1",
                growth_peak, GROWTH_TARGET,
                f"Peak {points[1][2] / MIB:.1f} MiB after epoch 1, "
                f"{points[-1][2] / MIB:.1f} MiB after epoch {epochs}"),
         Target("Memory flat across epochs: RSS after the last epoch / after epoch 1",
                growth_now, GROWTH_TARGET,
                f"{points[1][1] / MIB:.1f} MiB after epoch 1, "
                f"{points[-1][1] / MIB:.1f} MiB after epoch {epochs}" if growth_now else
                "no /proc/self/statm")])


if __name__ == "__main__":
    samples, epochs = (int(a) for a in sys.argv[1:3])
    points, source = trace(samples, epochs)
    print(json.dumps({"points": points, "source": source}))
