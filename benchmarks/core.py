"""chainrule vs PyTorch (CPU, eager) vs hand-written NumPy, in one process.

Two families of measurements, all float32:

(a) per-op overhead on small tensors (a 10-element add, a 64x64 matmul, a
    1,000-element tanh), each in three modes:

    * ``forward``   -- inputs that do not require grad: nothing is recorded;
    * ``recorded``  -- inputs that require grad: the forward records the graph
                       (the output is dropped straight away);
    * ``fwd+bwd``   -- ``(op(x)).sum().backward()`` with ``.grad`` reset to
                       ``None`` first (as ``zero_grad(set_to_none=True)``); the
                       NumPy column is the hand-written forward + derivative.

    Timed like :mod:`timeit`: the statement is compiled into a loop, garbage
    collection is off while it runs, the loop count is calibrated so one loop
    lasts at least ``min_time``, and the three libraries take turns for each
    repeat (round-robin), so slow phases of a noisy machine hit all of them.
    The number reported is the median over the repeats of (loop time / count).

(b) one forward + backward step of a 784-512-512-10 MLP (relu, relu, softmax
    cross-entropy on integer labels, mean over a batch of 128), each library
    written the way a user would write it, against the machine's float32 GEMM
    peak measured in the same run.

``python -m benchmarks`` runs everything and rewrites ``BENCHMARKS.md``;
``--quick`` is a smoke run, ``--no-write`` leaves the file alone.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import os
import platform
import statistics
import subprocess
import time
import timeit
from pathlib import Path

import numpy as np

import chainrule as cr

try:  # PyTorch is optional: its column is skipped when it is missing.
    import torch
except Exception:  # pragma: no cover - depends on the environment
    torch = None

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python -m benchmarks"
F32 = np.float32

# Targets from the issue.
OVERHEAD_TARGET = 1.0   # chainrule / PyTorch eager, per op and mode
MLP_TARGET = 1.2        # chainrule / hand-written NumPy, one MLP step

# Pause when switching libraries: OpenBLAS worker threads keep spinning for a
# while after a GEMM (and libgomp's after a parallel region), which takes a
# core from the next library on a 2-core machine.
SETTLE_S = 0.1


# --------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------
def _cpu_model():
    """Model name (plus family/model and the widest SIMD) from /proc/cpuinfo."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model", "flags") and key not in fields:
                    fields[key] = value.strip()
                if not line.strip() and fields:
                    break
    except OSError:
        pass
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16") if f in flags]
    extra = [f"family {fields['cpu family']} model {fields['model']}"] if "cpu family" in fields else []
    if simd:
        extra.append("/".join(simd))
    return fields["model name"] + (f" ({', '.join(extra)})" if extra else "")


def _blas_info():
    """NumPy's BLAS as NumPy reports it (build) and as loaded (runtime)."""
    parts = []
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        parts.append(f"{blas.get('name')} {blas.get('version')}")
    except Exception:
        pass
    try:
        import threadpoolctl
        for pool in threadpoolctl.threadpool_info():
            if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
                parts.append(f"runtime: {pool.get('internal_api')} "
                             f"arch={pool.get('architecture')} threads={pool.get('num_threads')}")
                break
    except Exception:
        parts.append("runtime threads: unknown (pip install threadpoolctl to show)")
    return "; ".join(parts) or "unknown"


def _git_revision():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "chainrule"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + (" (chainrule/ has uncommitted changes)" if dirty else "") if rev else "unknown"
    except Exception:
        return "unknown"


def machine_info():
    info = {
        "CPU": _cpu_model(),
        "Cores (os.cpu_count)": str(os.cpu_count()),
        "Python": platform.python_version(),
        "NumPy": np.__version__,
        "NumPy BLAS": _blas_info(),
        "chainrule": f"{cr.__version__} (git {_git_revision()})",
    }
    if torch is not None:
        info["PyTorch"] = f"{torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}"
        try:
            mkl = "MKL" if torch.backends.mkl.is_available() else "no MKL"
            info["PyTorch"] += f", {mkl}"
        except Exception:
            pass
    else:
        info["PyTorch"] = "not importable (column skipped)"
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                      "MKL_NUM_THREADS") if k in os.environ}
    info["Thread env vars"] = ", ".join(f"{k}={v}" for k, v in env.items()) or "none set (library defaults)"
    info["OS"] = f"{platform.system()} {platform.release()}"
    return info


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------
def _calibrate(timer, min_time):
    """Smallest 1, 2, 5, 10, 20, ... loop count whose loop lasts >= min_time."""
    number = 1
    while True:
        for k in (1, 2, 5):
            n = number * k
            if timer.timeit(n) >= min_time:
                return n
        number *= 10


def compare(stmts, repeats, min_time):
    """Seconds per call of each statement: median over ``repeats`` timed loops.

    ``stmts`` maps a column name to ``(statement, namespace)``. The columns
    take turns in every repeat so that slow phases of the machine are shared.
    Returns ``{name: (median, samples)}``.
    """
    timers = {name: timeit.Timer(stmt, globals=ns) for name, (stmt, ns) in stmts.items()}
    numbers = {}
    for name, timer in timers.items():
        timer.timeit(3)                       # warm-up (first-call costs)
        numbers[name] = _calibrate(timer, min_time)
    samples = {name: [] for name in timers}
    for _ in range(repeats):
        for name, timer in timers.items():
            gc.collect()
            time.sleep(SETTLE_S)                  # let the previous library's threads go idle
            timer.timeit(max(1, numbers[name] // 20))   # and warm this one up again
            samples[name].append(timer.timeit(numbers[name]) / numbers[name])
    return {name: (statistics.median(s), s) for name, s in samples.items()}


class LoadMeter:
    """CPU used by *other* processes (and the hypervisor) while a block runs.

    Reads the machine-wide busy time from ``/proc/stat`` and subtracts this
    process's own CPU time, so the result is "cores taken by someone else",
    averaged over the block. ``None`` where ``/proc/stat`` is unavailable.
    """
    _tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    @classmethod
    def _busy(cls):
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal ...
        return (sum(fields[:3]) + sum(fields[5:8])) / cls._tick

    def __enter__(self):
        self.other = None
        self._t, self._cpu, self._b = time.perf_counter(), time.process_time(), self._busy()
        return self

    def __exit__(self, *exc):
        b = self._busy()
        wall = time.perf_counter() - self._t
        if b is not None and self._b is not None and wall > 0:
            own = time.process_time() - self._cpu
            self.other = max(0.0, (b - self._b - own) / wall)
        return False


def quietest(measure, retries, threshold, log=print, what=""):
    """Run ``measure()``; while other processes took more than ``threshold``
    cores meanwhile, run it again (at most ``retries`` times) and keep the
    attempt with the least foreign load. Returns ``(result, other_load)``.
    """
    best = None
    for attempt in range(retries + 1):
        with LoadMeter() as load:
            result = measure()
        other = load.other
        if best is None or (other is not None and other < best[1]):
            best = (result, other)
        if other is None or other <= threshold:
            break
        if attempt < retries:
            log(f"  ({what}: other processes used {other:.2f} cores; measuring again)")
    return best


def _spread(samples):
    """Interquartile range over median: how noisy a measurement was."""
    if len(samples) < 4:
        return (max(samples) - min(samples)) / statistics.median(samples)
    q = statistics.quantiles(samples, n=4)
    return (q[2] - q[0]) / q[1]


# --------------------------------------------------------------------------
# (a) Per-op overhead
# --------------------------------------------------------------------------
OPS = [
    # name, description, input shapes, forward statement, NumPy forward+derivative
    ("add", "add, 10 elements", [(10,), (10,)], "a + b",
     "c = a + b; s = c.sum(); g = ones_like(c); ga = g; gb = g"),
    ("matmul", "matmul, 64x64 @ 64x64", [(64, 64), (64, 64)], "a @ b",
     "c = a @ b; s = c.sum(); g = ones_like(c); ga = g @ b.T; gb = a.T @ g"),
    ("tanh", "tanh, 1,000 elements", [(1000,)], "tanh(a)",
     "y = tanh(a); s = y.sum(); g = ones_like(y); ga = g * (1 - y * y)"),
]
MODES = [
    ("forward", "forward, inputs do not require grad"),
    ("recorded", "forward, inputs require grad (graph recorded)"),
    ("fwd+bwd", "forward + backward of op(x).sum()"),
]


def _op_namespaces(shapes, requires_grad, use_torch):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(F32) for s in shapes]
    names = "ab"[:len(arrays)]
    nss = {"NumPy": {"tanh": np.tanh, "ones_like": np.ones_like, **dict(zip(names, arrays))},
           "chainrule": {"tanh": cr.tanh, **{n: cr.tensor(a, requires_grad=requires_grad)
                                            for n, a in zip(names, arrays)}}}
    if use_torch:
        nss["PyTorch"] = {"tanh": torch.tanh,
                          **{n: torch.tensor(a, requires_grad=requires_grad)
                             for n, a in zip(names, arrays)}}
    return names, nss


def bench_ops(repeats, min_time, use_torch, retries=2, threshold=0.5, log=print):
    rows = []
    for op, desc, shapes, fwd, np_fwd_bwd in OPS:
        for mode, _ in MODES:
            names, nss = _op_namespaces(shapes, mode != "forward", use_torch)
            if mode == "fwd+bwd":
                reset = "; ".join(f"{n}.grad = None" for n in names)
                fw_stmt = f"{reset}; ({fwd}).sum().backward()"
                np_stmt = np_fwd_bwd
            else:
                fw_stmt = np_stmt = fwd
            stmts = {"chainrule": (fw_stmt, nss["chainrule"])}
            if use_torch:
                stmts["PyTorch"] = (fw_stmt, nss["PyTorch"])
            stmts["NumPy"] = (np_stmt, nss["NumPy"])
            res, other = quietest(lambda: compare(stmts, repeats, min_time),
                                  retries, threshold, log, f"{desc} / {mode}")
            row = {"op": op, "desc": desc, "mode": mode,
                   **{k: v[0] for k, v in res.items()},
                   "noise": max(_spread(v[1]) for v in res.values()), "other": other,
                   "samples": {k: v[1] for k, v in res.items()}}
            rows.append(row)
            log(f"  {desc:<24} {mode:<9} chainrule {row['chainrule'] * 1e6:8.2f} us"
                + (f"   PyTorch {row['PyTorch'] * 1e6:8.2f} us" if use_torch else "")
                + f"   NumPy {row['NumPy'] * 1e6:8.2f} us" + _fmt_load(other, "   other load "))
    return rows


# --------------------------------------------------------------------------
# (b) MLP forward + backward
# --------------------------------------------------------------------------
MLP_SIZES = (784, 512, 512, 10)
BATCH = 128


def mlp_flops(sizes=MLP_SIZES, n=BATCH):
    """2*m*n*k per GEMM: 3 forward, 5 backward (no input gradient for layer 1)."""
    (d0, d1, d2, d3) = sizes
    fwd = 2 * n * (d0 * d1 + d1 * d2 + d2 * d3)
    bwd = 2 * n * (d0 * d1 + d1 * d2 + d2 * d3)      # the three weight gradients
    bwd += 2 * n * (d1 * d2 + d2 * d3)               # input gradients of layers 3 and 2
    return fwd + bwd


def _mlp_data(seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        w = (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(F32)
        b = (rng.standard_normal(fan_out) * 0.01).astype(F32)
        params += [w, b]
    x = rng.standard_normal((BATCH, MLP_SIZES[0])).astype(F32)
    y = rng.integers(0, MLP_SIZES[-1], size=BATCH)
    return params, x, y


def make_chainrule_step(params, x, y):
    W1, b1, W2, b2, W3, b3 = [cr.tensor(p, requires_grad=True) for p in params]
    ps = (W1, b1, W2, b2, W3, b3)
    X = cr.tensor(x)
    rows = np.arange(len(y))

    def step():
        for p in ps:
            p.grad = None
        h1 = cr.relu(X @ W1 + b1)
        h2 = cr.relu(h1 @ W2 + b2)
        logp = cr.log_softmax(h2 @ W3 + b3, axis=-1)
        loss = -logp[rows, y].mean()
        loss.backward()
        return loss

    def result():
        return float(step().item()), [p.grad.numpy() for p in ps]
    return step, result


def make_torch_step(params, x, y):
    W1, b1, W2, b2, W3, b3 = [torch.tensor(p, requires_grad=True) for p in params]
    ps = (W1, b1, W2, b2, W3, b3)
    X = torch.from_numpy(x)
    Y = torch.from_numpy(y)
    rows = torch.arange(len(y))

    def step():
        for p in ps:
            p.grad = None
        h1 = torch.relu(X @ W1 + b1)
        h2 = torch.relu(h1 @ W2 + b2)
        logp = torch.log_softmax(h2 @ W3 + b3, dim=-1)
        loss = -logp[rows, Y].mean()
        loss.backward()
        return loss

    def result():
        return float(step().item()), [p.grad.numpy() for p in ps]
    return step, result


def make_numpy_step(params, x, y):
    W1, b1, W2, b2, W3, b3 = params
    n = len(y)
    rows = np.arange(n)

    def step():
        # forward
        h1 = x @ W1
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ W2
        h2 += b2
        np.maximum(h2, 0, out=h2)
        z = h2 @ W3
        z += b3
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        s = p.sum(axis=1, keepdims=True)
        loss = float(np.log(s[:, 0]).mean() - z[rows, y].mean())
        # backward: d loss / d z = (softmax - onehot) / n
        p *= 1.0 / s
        p[rows, y] -= 1
        p *= F32(1.0 / n)
        gW3 = h2.T @ p
        gb3 = p.sum(axis=0)
        d2 = p @ W3.T
        d2 *= h2 > 0
        gW2 = h1.T @ d2
        gb2 = d2.sum(axis=0)
        d1 = d2 @ W2.T
        d1 *= h1 > 0
        gW1 = x.T @ d1                                 # no gradient for x itself
        gb1 = d1.sum(axis=0)
        return loss, [gW1, gb1, gW2, gb2, gW3, gb3]

    def result():
        return step()
    return step, result


def gemm_peak(repeats, use_torch, size=2048):
    """Best GFLOP/s of a size x size float32 matmul: NumPy ``@`` and torch."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((size, size)).astype(F32)
    b = rng.standard_normal((size, size)).astype(F32)
    flops = 2 * size ** 3
    out = {}
    a @ b
    out["NumPy"] = flops / min(timeit.repeat(lambda: a @ b, number=1, repeat=repeats)) / 1e9
    if use_torch:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        time.sleep(SETTLE_S)
        ta @ tb
        out["PyTorch"] = flops / min(timeit.repeat(lambda: ta @ tb, number=1, repeat=repeats)) / 1e9
    return out


def bench_mlp(steps, warmup, rounds, use_torch, retries=2, threshold=0.5, log=print):
    params, x, y = _mlp_data()
    makers = {"chainrule": make_chainrule_step}
    if use_torch:
        makers["PyTorch"] = make_torch_step
    makers["NumPy"] = make_numpy_step
    built = {name: make(params, x, y) for name, make in makers.items()}

    # Same numbers from all three (else the comparison is meaningless).
    ref_loss, ref_grads = built["NumPy"][1]()
    check = {}
    for name, (_, result) in built.items():
        loss, grads = result()
        err = max(float(np.max(np.abs(g - r)) / (np.max(np.abs(r)) + 1e-30))
                  for g, r in zip(grads, ref_grads))
        check[name] = (loss, err)
        if abs(loss - ref_loss) > 1e-4 * max(1.0, abs(ref_loss)) or err > 1e-3:
            raise AssertionError(f"MLP {name}: loss {loss} vs NumPy {ref_loss}, "
                                 f"relative gradient error {err:.2e}")

    for name, (step, _) in built.items():
        for _ in range(warmup):
            step()
    res, other = quietest(lambda: _time_steps(built, steps, rounds), retries, threshold,
                          log, "MLP")
    for name, (med, t) in res.items():
        log(f"  MLP step {name:<10} {med * 1e3:8.2f} ms  (min {min(t) * 1e3:.2f}, "
            f"max {max(t) * 1e3:.2f}, {len(t)} steps)")
    log(_fmt_load(other, "  other load during the MLP timing: "))
    return res, check, other


def _time_steps(built, steps, rounds):
    """Rounds: each library runs a block of steps in turn, after a pause and
    two untimed steps, so that one library's idle BLAS/OpenMP threads spinning
    down do not land on the next one's clock. Median over all timed steps;
    the i-th timed steps of the libraries are taken close together (paired)."""
    per_round = max(1, -(-steps // rounds))
    times = {name: [] for name in built}
    for _ in range(rounds):
        for name, (step, _) in built.items():
            gc.collect()
            time.sleep(SETTLE_S)
            for _ in range(2):
                step()
            for _ in range(per_round):
                t0 = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(t), t) for name, t in times.items()}


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------
def _fmt_load(other, prefix=""):
    return "" if other is None else f"{prefix}{other:.2f}"


def _fmt_us(v):
    return "—" if v is None else f"{v * 1e6:.2f}"


def _ratio(a, b):
    return None if a is None or b is None else a / b


def _fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}x"


def op_table(rows, use_torch):
    head = ["op", "mode", "chainrule µs", "PyTorch µs", "NumPy µs",
            "chainrule/PyTorch", "chainrule/NumPy", "noise (IQR/med)", "other load (cores)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * 7) + "|"]
    for r in rows:
        t = r.get("PyTorch") if use_torch else None
        lines.append("| " + " | ".join([
            r["desc"], r["mode"], _fmt_us(r["chainrule"]), _fmt_us(t), _fmt_us(r["NumPy"]),
            _fmt_ratio(_ratio(r["chainrule"], t)), _fmt_ratio(_ratio(r["chainrule"], r["NumPy"])),
            f"{r['noise'] * 100:.0f}%", _fmt_load(r["other"]) or "—"]) + " |")
    return "\n".join(lines)


def mlp_table(res, peak, use_torch):
    flops = mlp_flops()
    best_peak = max(peak.values())
    head = ["implementation", "ms / step (median)", "min ms", "GFLOP/s", "% of GEMM peak",
            "vs NumPy", "vs PyTorch"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "|".join(["---:"] * 6) + "|"]
    npt = res["NumPy"][0]
    tt = res["PyTorch"][0] if use_torch else None
    for name in res:
        med, t = res[name]
        gf = flops / med / 1e9
        lines.append("| " + " | ".join([
            name, f"{med * 1e3:.2f}", f"{min(t) * 1e3:.2f}", f"{gf:.1f}",
            f"{gf / best_peak * 100:.0f}%", _fmt_ratio(med / npt),
            _fmt_ratio(_ratio(med, tt))]) + " |")
    return "\n".join(lines)


def paired_ratios(a, b):
    """Quartiles (q1, median, q3) of a[i]/b[i]: the samples were taken in turns,
    so each pair shared the machine's state of the moment."""
    r = sorted(x / y for x, y in zip(a, b))
    if len(r) < 4:
        return r[0], statistics.median(r), r[-1]
    q = statistics.quantiles(r, n=4)
    return q[0], q[1], q[2]


def _verdict(ratio, quartiles, target):
    word = "pass" if ratio <= target else "miss"
    q1, _, q3 = quartiles
    note = (f"; borderline: the paired ratios' interquartile range {q1:.2f}–{q3:.2f} "
            f"straddles {target:g}" if q1 <= target < q3 else
            f"; paired ratios' interquartile range {q1:.2f}–{q3:.2f}")
    return word, note


def targets(rows, mlp_res, use_torch):
    out = []
    if use_torch:
        worst = max(rows, key=lambda r: r["chainrule"] / r["PyTorch"])
        npass = sum(r["chainrule"] <= OVERHEAD_TARGET * r["PyTorch"] for r in rows)
        ok = npass == len(rows)
        out.append(
            f"- **Per-op overhead no worse than PyTorch eager** (chainrule/PyTorch <= "
            f"{OVERHEAD_TARGET:g} for every op and mode, ratio of medians): "
            f"**{'PASS' if ok else 'MISS'}** — {npass} of {len(rows)} cases pass; the worst "
            f"is {worst['desc']} / {worst['mode']} at "
            f"{worst['chainrule'] / worst['PyTorch']:.2f}x.")
        for r in rows:
            ratio = r["chainrule"] / r["PyTorch"]
            word, note = _verdict(ratio, paired_ratios(r["samples"]["chainrule"],
                                                       r["samples"]["PyTorch"]), OVERHEAD_TARGET)
            out.append(f"  - {r['desc']}, {r['mode']}: {ratio:.2f}x — {word}{note}")
    else:
        out.append("- **Per-op overhead no worse than PyTorch eager**: NOT MEASURED "
                   "(PyTorch not importable).")
    ratio = mlp_res["chainrule"][0] / mlp_res["NumPy"][0]
    word, note = _verdict(ratio, paired_ratios(mlp_res["chainrule"][1], mlp_res["NumPy"][1]),
                          MLP_TARGET)
    out.append(
        f"- **MLP forward+backward within {MLP_TARGET:g}x of hand-written NumPy**: "
        f"**{word.upper()}** — chainrule/NumPy = {ratio:.2f}x (ratio of medians{note})"
        + (f"; chainrule/PyTorch = {mlp_res['chainrule'][0] / mlp_res['PyTorch'][0]:.2f}x"
           if use_torch else "") + ".")
    return "\n".join(out)


def render(info, settings, rows, mlp_res, check, peak, use_torch, date, mlp_other=None):
    lines = [
        "# chainrule benchmarks",
        "",
        "Generated by `python -m benchmarks` (`benchmarks/core.py`, with the sections of "
        "`benchmarks/models.py` and `benchmarks/sklearn_mlp.py`); rerun with:",
        "",
        "```bash",
        COMMAND + ("  # --quick" if settings["quick"] else ""),
        "```",
        "",
        f"Date: {date}. Settings: {settings['desc']}.",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += [
        f"- float32 GEMM peak (2048x2048 `@`, best of {settings['peak_repeats']}): "
        + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peak.items())
        + f"; the best, {max(peak.values()):.1f} GFLOP/s, is the peak used below.",
        "",
        "The machine is shared and noisy: each figure is a median and the libraries take "
        "turns within every repeat. The `noise` column gives the worst interquartile "
        "range over median of the three columns in that row; `other load` is the CPU "
        "(in cores, from `/proc/stat`) that other processes and the hypervisor took "
        "while the row was measured. A row measured while others took more than 0.5 "
        "core is measured again (up to twice) and the quietest attempt is kept. Treat "
        "differences under about 10% as noise.",
        "",
        "## Targets",
        "",
        targets(rows, mlp_res, use_torch),
        "",
        "## (a) Per-op overhead, small float32 tensors (µs per call)",
        "",
        "Modes: `forward` — inputs do not require grad, nothing is recorded; "
        "`recorded` — inputs require grad, so the forward records the graph; "
        "`fwd+bwd` — `a.grad = None` for each input, then `(op(a, b)).sum().backward()`. "
        "The NumPy column has no autodiff: in `fwd+bwd` it is the hand-written forward, "
        "sum and derivative (for example `c = a @ b; s = c.sum(); g = ones_like(c); "
        "ga = g @ b.T; gb = a.T @ g`). Statements are timed with `timeit.Timer` "
        f"(gc off, loops of >= {settings['min_time'] * 1e3:.0f} ms, median of "
        f"{settings['repeats']} repeats).",
        "",
        op_table(rows, use_torch),
        "",
        f"## (b) MLP {'-'.join(map(str, MLP_SIZES))}, batch {BATCH}, one forward + backward",
        "",
        "relu, relu, log-softmax cross-entropy on integer labels, mean over the batch. "
        "chainrule: `relu(X @ W1 + b1)`, ..., `log_softmax`, `-logp[np.arange(n), y].mean()`, "
        "`backward()`; PyTorch: the same ops; NumPy: hand-written forward and backward "
        "(`@` GEMMs, in-place bias and `np.maximum`, fused softmax-cross-entropy gradient "
        "`(softmax - onehot)/n`, no gradient for the input). "
        f"{mlp_flops() / 1e6:.1f} MFLOP per step (2·m·n·k per GEMM; 3 forward + 5 backward "
        f"GEMMs). Median of {sum(len(v[1]) for v in mlp_res.values()) // len(mlp_res)} "
        "timed steps per library after warm-up; the libraries take turns, one step at a "
        f"time, each turn after a {SETTLE_S:g} s pause and two untimed steps (OpenBLAS and "
        "OpenMP worker threads keep spinning for a while after work and would otherwise "
        "take a core from the next library)"
        + (f"; other processes took {mlp_other:.2f} cores meanwhile" if mlp_other is not None else "")
        + ".",
        "",
        mlp_table(mlp_res, peak, use_torch),
        "",
        "Every implementation gives the same loss and gradients as NumPy (checked in "
        "the run; in brackets the largest gradient difference relative to the "
        "gradient's largest entry): "
        + ", ".join(f"{k} loss {v[0]:.6f} ({v[1]:.1e})" for k, v in check.items()
                    if k != "NumPy") + ".",
        "",
    ]
    return "\n".join(lines)


def _extra_sections(quick, use_torch):
    """The sections other modules own: MNIST training and scikit-learn's MLP."""
    from . import models, sklearn_mlp
    print("\n(c) MNIST training, seconds per epoch")
    yield models.run(quick=quick, use_torch=use_torch)
    print("\n(d) MLPClassifier fit vs scikit-learn")
    try:
        yield sklearn_mlp.run(quick=quick)
    except ImportError as e:      # scikit-learn is an optional extra
        yield f"## MLPClassifier vs scikit-learn\n\nNot measured: {e}\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fast smoke run (few, short repeats)")
    ap.add_argument("--no-write", action="store_true", help="do not write BENCHMARKS.md")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="report path")
    ap.add_argument("--core-only", action="store_true",
                    help="only the per-op and MLP-step sections (skip MNIST training and "
                         "the scikit-learn comparison)")
    args = ap.parse_args(argv)

    use_torch = torch is not None and not args.no_torch
    if args.quick:
        settings = dict(quick=True, repeats=3, min_time=0.01, steps=6, warmup=2, rounds=6,
                        peak_repeats=2)
    else:
        settings = dict(quick=False, repeats=9, min_time=0.1, steps=24, warmup=5, rounds=24,
                        peak_repeats=5)
    settings["desc"] = ("`--quick` smoke run — numbers are indicative only" if args.quick
                        else "full run")

    info = machine_info()
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"chainrule benchmarks — {date}")
    for k, v in info.items():
        print(f"  {k}: {v}")

    print("\n(a) per-op overhead")
    rows = bench_ops(settings["repeats"], settings["min_time"], use_torch)
    print("\n(b) MLP forward+backward")
    peak = gemm_peak(settings["peak_repeats"], use_torch)
    print("  GEMM peak: " + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peak.items()))
    mlp_res, check, mlp_other = bench_mlp(settings["steps"], settings["warmup"],
                                          settings["rounds"], use_torch)

    report = render(info, settings, rows, mlp_res, check, peak, use_torch, date, mlp_other)
    if not args.core_only:
        report += "\n" + "\n".join(_extra_sections(args.quick, use_torch))
    body = report.split("## Targets", 1)[1]
    print("\n## Targets" + body)
    if not args.no_write:
        Path(args.output).write_text(report, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0
