"""Data-parallel training: samples per second with 1 and 2 MPI processes on
this machine, and a scaling model for 8 and 64 workers on a network.

    python -m chainrule.bench.distributed [--quick]      # prints the Markdown

``section(quick, log)`` returns the Markdown section that ``chainrule bench``
appends to ``BENCHMARKS.md``. Each measurement is a separate
``mpiexec -n N python -m chainrule.bench.distributed --worker ...`` run that
trains with ``model.fit(..., distribution=DataParallel())`` on MNIST-shaped
random data (speed does not depend on the values) and prints one JSON line.

The scaling model, per synchronous step with N workers (ring all-reduce)::

    t_step(N) = b · t_sample                       # compute on b samples per worker
              + 2 (N-1)/N · bytes / bandwidth       # each worker sends and receives this much
              + 2 (N-1) · latency                   # the ring's 2(N-1) message rounds
    throughput(N) = N · b / t_step(N)   samples per second

with ``t_sample`` (forward + backward + update per sample) measured here
with one process, ``bytes`` = 4 × parameters (float32 gradients), a 10 Gbit/s
network (1.25 GB/s) and 50 µs per message (TCP over 10 GbE; an assumption,
not measured). Communication is not overlapped with compute in chainrule,
so the terms add.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

__all__ = ["allreduce_seconds", "scaling_model", "section"]

MNIST_BATCH = 128
BANDWIDTH = 10e9 / 8          # bytes per second: 10 Gbit/s
LATENCY = 50e-6               # seconds per message
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# --------------------------------------------------------------------------
# Models (the MNIST MLP of section (c) and the Keras convnet of section (d))
# --------------------------------------------------------------------------
def _build(name):
    import chainrule as cr
    from chainrule import layers
    if name == "mlp":
        model = cr.Sequential([cr.Input((784,)), layers.Dense(512, activation="relu"),
                               layers.Dense(512, activation="relu"),
                               layers.Dense(10, activation="softmax")])
    else:
        model = cr.Sequential([cr.Input((28, 28, 1)),
                               layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                               layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                               layers.Flatten(), layers.Dropout(0.5),
                               layers.Dense(10, activation="softmax")])
    model.compile(cr.optimizers.Adam(1e-3, epsilon=1e-7), "sparse_categorical_crossentropy")
    return model


def _shape(name):
    return (784,) if name == "mlp" else (28, 28, 1)


def _worker(name, batch, steps, warmup):
    """One rank: train ``steps`` global batches, print the timings (rank 0)."""
    import chainrule as cr
    from chainrule import distributed
    dp = distributed.DataParallel()
    model = _build(name)
    rng = np.random.default_rng(0)
    x = rng.random((batch * steps,) + _shape(name), dtype=np.float32)
    y = rng.integers(0, 10, batch * steps)
    model.fit(x[:batch * warmup], y[:batch * warmup], batch_size=batch, epochs=1, verbose=0,
              distribution=dp)
    reduce_times = []
    reduce_step = dp.reduce_step

    def timed_reduce_step(*args, **kwargs):       # gradient all-reduce, waits included
        start = time.perf_counter()
        result = reduce_step(*args, **kwargs)
        reduce_times.append(time.perf_counter() - start)
        return result

    class StepClock(cr.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            starts.append(time.perf_counter())

    starts = []
    dp.reduce_step = timed_reduce_step
    distributed.barrier()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False, distribution=dp,
              callbacks=[StepClock()])
    starts.append(time.perf_counter())
    # Medians per step, scaled back to the whole run: a load spike from other
    # processes on this shared machine moves one step, not the result.
    step = float(np.median(np.diff(starts)))
    if dp.rank == 0:
        print(json.dumps({"model": name, "processes": dp.world_size, "samples": len(x),
                          "seconds": step * steps,
                          "allreduce_seconds": float(np.median(reduce_times)) * steps,
                          "steps": steps, "params": int(model.count_params())}))


def _run(name, processes, threads, batch, steps, warmup, log):
    """Launch ``processes`` ranks (BLAS threads per rank: ``threads``, None = default)."""
    from chainrule.distributed.launch import find_launcher
    env = dict(os.environ)
    for var in _THREAD_VARS:
        if threads is None:
            env.pop(var, None)
        else:
            env[var] = str(threads)
    command = [find_launcher(), "-n", str(processes), sys.executable, "-m",
               "chainrule.bench.distributed", "--worker", name, "--batch", str(batch),
               "--steps", str(steps), "--warmup", str(warmup)]
    log(f"  distributed: {name}, {processes} process(es), BLAS threads "
        f"{threads or 'default'}, {steps} steps")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["threads"] = threads
    return result


# --------------------------------------------------------------------------
# The scaling model
# --------------------------------------------------------------------------
def allreduce_seconds(n_bytes, workers, bandwidth=BANDWIDTH, latency=LATENCY):
    """Ring all-reduce time: 2(N-1)/N · bytes / bandwidth + 2(N-1) · latency."""
    if workers == 1:
        return 0.0
    return 2 * (workers - 1) / workers * n_bytes / bandwidth + 2 * (workers - 1) * latency


def scaling_model(sample_seconds, params, workers, per_worker_batch):
    """(samples per second, step seconds, all-reduce seconds) for ``workers``
    workers each computing ``per_worker_batch`` samples per step."""
    comm = allreduce_seconds(4 * params, workers)
    step = per_worker_batch * sample_seconds + comm
    return workers * per_worker_batch / step, step, comm


# --------------------------------------------------------------------------
# The section
# --------------------------------------------------------------------------
def section(quick=False, log=print):
    """Measure, model, and return the Markdown section."""
    mlp_steps, conv_steps = (8, 2) if quick else (40, 8)
    runs = {
        "mlp": [_run("mlp", 1, None, MNIST_BATCH, mlp_steps, 2, log),
                _run("mlp", 1, 1, MNIST_BATCH, mlp_steps, 2, log),
                _run("mlp", 2, 1, MNIST_BATCH, mlp_steps, 2, log)],
        "convnet": [_run("convnet", 1, None, MNIST_BATCH, conv_steps, 1, log),
                    _run("convnet", 1, 1, MNIST_BATCH, conv_steps, 1, log),
                    _run("convnet", 2, 1, MNIST_BATCH, conv_steps, 1, log)],
    }
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    titles = {"mlp": "MNIST MLP 784-512-512-10", "convnet": "Keras MNIST convnet"}
    intro = (
        f"Generated by `chainrule.bench.distributed` (`chainrule bench --only distributed`"
        f"{' --quick' if quick else ''}). `model.fit(..., distribution=DataParallel())` on "
        f"MNIST-shaped random data, global batch {MNIST_BATCH}, Adam, float32, launched with "
        f"`mpiexec -n N`. Each rank computes its shard of every batch; the gradients are "
        f"summed with one MPI all-reduce per step (float32 buckets). `all-reduce` is the "
        f"time spent in that call, waiting for the slower rank included. Samples/s and "
        f"all-reduce come from the median step (of {mlp_steps} MLP and {conv_steps} convnet "
        f"steps). Speed-up is against the model's first row. Load average (1 min) after the runs: {load:.1f} on "
        f"{os.cpu_count()} cores: other processes share this machine, and a load above the "
        f"core count slows multi-threaded BLAS most.")
    lines = ["## Data-parallel training (MPI)", "", intro, "",
             "### Measured on this machine", "",
             ("| model | parameters | processes | BLAS threads each | samples/s "
             "| all-reduce per step | speed-up |"),
             "|---|---:|---:|---:|---:|---:|---:|"]
    sample_seconds = {}
    for name, results in runs.items():
        base = results[0]["samples"] / results[0]["seconds"]
        for r in results:
            rate = r["samples"] / r["seconds"]
            lines.append(f"| {titles[name]} | {r['params']:,} | {r['processes']} | "
                         f"{r['threads'] or 'default'} | {rate:,.0f} | "
                         f"{1e3 * r['allreduce_seconds'] / r['steps']:.2f} ms | "
                         f"{rate / base:.2f}x |")
        # The best single-process setting stands for "one machine like this one".
        sample_seconds[name] = min((r["seconds"] - r["allreduce_seconds"]) / r["samples"]
                                   for r in results if r["processes"] == 1)
    local_note = (
        f"Two single-threaded processes use the same {os.cpu_count()} cores as one process "
        f"with multi-threaded BLAS. Where that one process keeps every core busy, data "
        f"parallelism on one machine can at best break even, and these rows show what the "
        f"synchronization costs (MPI moves the gradients through shared memory here). "
        f"Multi-threaded BLAS suffers most when other processes load the machine, which is "
        f"why single-threaded rows can come out ahead.")
    model_note = (
        f"Per step: `t = b · t_sample + 2(N−1)/N · bytes / bandwidth + 2(N−1) · latency` "
        f"(ring all-reduce, not overlapped with compute); `t_sample` is measured above with "
        f"one process (the faster BLAS setting, all-reduce time excluded); bytes = 4 × "
        f"parameters; bandwidth {BANDWIDTH / 1e9:.2f} GB/s; latency {LATENCY * 1e6:.0f} µs per "
        f"message (assumed). Throughput = N · b / t; efficiency = throughput / (N × one "
        f"machine's). Two ways to use N machines: keep b = {MNIST_BATCH} samples per worker "
        f"(the global batch grows to {MNIST_BATCH}·N: more samples per second, but a large "
        f"batch may need a retuned learning rate), or keep the global batch at {MNIST_BATCH} "
        f"(the same training as one machine, split N ways: b = {MNIST_BATCH}/N).")
    lines += ["", local_note, "",
              "### Scaling model: N machines like this one on a 10 Gbit/s network", "",
              model_note, "",
              ("| model | t_sample | gradient bytes | N | per-worker batch | all-reduce "
              "| step | samples/s | efficiency |"),
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    verdicts = []
    for name in runs:
        params = runs[name][0]["params"]
        t = sample_seconds[name]
        single = 1 / t
        for workers in (1, 8, 64):
            for batch in sorted({MNIST_BATCH, max(MNIST_BATCH // workers, 1)}, reverse=True):
                rate, step, comm = scaling_model(t, params, workers, batch)
                lines.append(f"| {titles[name]} | {1e6 * t:.0f} µs | "
                             f"{4 * params / 1e6:.2f} MB | {workers} | {batch} | "
                             f"{1e3 * comm:.2f} ms | {1e3 * step:.1f} ms | {rate:,.0f} | "
                             f"{rate / (workers * single):.0%} |")
        comm8 = allreduce_seconds(4 * params, 8)
        weak64 = scaling_model(t, params, 64, MNIST_BATCH)[0]
        strong8 = scaling_model(t, params, 8, MNIST_BATCH // 8)[0]
        strong64 = scaling_model(t, params, 64, MNIST_BATCH // 64)[0]
        verdicts.append(
            f"- {titles[name]}: {4 * params / 1e6:.2f} MB of gradients cost "
            f"{1e3 * comm8:.1f} ms per step on 8 machines, against "
            f"{1e3 * MNIST_BATCH * t:.0f} ms to compute {MNIST_BATCH} samples. With "
            f"{MNIST_BATCH} samples per worker, 64 machines give {weak64 / single:.0f}x one "
            f"machine's throughput; with the global batch kept at {MNIST_BATCH}, 8 machines "
            f"give {strong8 / single:.1f}x and 64 give {strong64 / single:.1f}x.")
    lines += ["", ("When more machines help: when one step's compute (`b · t_sample`) is "
                   "large next to its all-reduce, that is many FLOPs per parameter "
                   "(convolutions) and enough samples per worker. Splitting a fixed global "
                   "batch over more machines shrinks each one's compute but not the "
                   "all-reduce, which grows towards 2 · bytes / bandwidth plus the ring's "
                   "latency: that is where more machines stop paying."),
              ""] + verdicts
    return "\n".join(lines) + "\n"


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="python -m chainrule.bench.distributed")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", choices=["mlp", "convnet"])
    parser.add_argument("--batch", type=int, default=MNIST_BATCH)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.batch, args.steps, args.warmup)
    else:
        print(section(quick=args.quick, log=lambda m: print(m, file=sys.stderr)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
