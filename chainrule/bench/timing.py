"""How the suite measures: the machine, interleaved timing, GEMM peak, memory.

Every benchmark hands :func:`interleaved` a dict ``{library: step}`` of
zero-argument callables doing the same work. Each library's call count is
calibrated so one sample lasts at least ``min_time``; then the libraries take
turns, ``repeats`` times (round-robin, after a short pause that lets the
previous library's BLAS/OpenMP threads go idle), and the median seconds per
call is reported. A slow phase of a shared machine therefore hits every
library, not just the one that happened to be running.
"""
from __future__ import annotations

import gc
import os
import platform
import resource
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__

F32 = np.float32

# Pause when switching libraries: OpenBLAS worker threads keep spinning for a
# while after a GEMM (and libgomp's after a parallel region), which takes a
# core from the next library on a 2-core machine.
SETTLE_S = 0.05


@dataclass
class Timing:
    """Seconds per call: the median and every sample it is the median of."""
    median: float
    samples: list = field(default_factory=list)
    calls: int = 1                       # calls per sample

    @property
    def spread(self):
        """Interquartile range over median (how noisy the measurement was)."""
        s = self.samples
        if len(s) < 4:
            return (max(s) - min(s)) / self.median if s else 0.0
        q = statistics.quantiles(s, n=4)
        return (q[2] - q[0]) / q[1]


def _calibrate(step, min_time):
    """Smallest 1, 2, 5, 10, 20, ... call count whose loop lasts >= min_time."""
    number = 1
    while True:
        for k in (1, 2, 5):
            n = number * k
            start = time.perf_counter()
            for _ in range(n):
                step()
            if time.perf_counter() - start >= min_time:
                return n
        number *= 10


def interleaved(steps, repeats, min_time, warmup=2):
    """``{name: Timing}`` for the callables in ``steps``, taking turns.

    gc is off inside a timed loop (as in :mod:`timeit`); a collection runs
    before each one, so garbage left by one library is not paid by the next.
    The objects alive before the first turn (the libraries' modules: PyTorch
    and JAX hold millions) are frozen out of those collections (``gc.freeze``),
    which would otherwise take a few tenths of a second each.
    """
    numbers = {}
    for name, step in steps.items():
        for _ in range(warmup):
            step()                               # first-call costs: jit, buffers, caches
        numbers[name] = _calibrate(step, min_time)
    samples = {name: [] for name in steps}
    gc.collect()
    gc.freeze()
    try:
        for _ in range(repeats):
            for name, step in steps.items():
                gc.collect()
                time.sleep(SETTLE_S)
                step()                           # warm this library's caches again
                n = numbers[name]
                gc.disable()
                try:
                    start = time.perf_counter()
                    for _ in range(n):
                        step()
                    samples[name].append((time.perf_counter() - start) / n)
                finally:
                    gc.enable()
    finally:
        gc.unfreeze()
    return {name: Timing(statistics.median(s), s, numbers[name]) for name, s in samples.items()}


def gemm_peak(repeats=5, size=2048):
    """Best GFLOP/s of a ``size x size`` float32 ``@`` in NumPy (2·n³ flops)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((size, size)).astype(F32)
    b = rng.standard_normal((size, size)).astype(F32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


# --------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------
def rss_now():
    """Resident memory of this process now, in bytes (``/proc/self/statm``)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def rss_peak():
    """Peak resident memory of this process so far, in bytes.

    ``VmHWM`` from ``/proc/self/status`` where there is one: ``getrusage``'s
    ``ru_maxrss`` survives ``exec`` on Linux, so a child started from a big
    process would report its parent's peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if platform.system() == "Darwin" else peak * 1024     # Linux reports KiB


# --------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------
def cpu_model():
    """Model name plus the widest SIMD flags, from /proc/cpuinfo."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "flags") and key not in fields:
                    fields[key] = value.strip()
                if not line.strip() and fields:
                    break
    except OSError:
        pass
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    simd = [f for f in ("avx2", "fma", "avx512f") if f in flags]
    return fields["model name"] + (f" ({'/'.join(simd)})" if simd else "")


def blas_info():
    """NumPy's BLAS library and version as NumPy reports it."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except (KeyError, TypeError, AttributeError):
        return "unknown"


def git_revision():
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                             capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "chainrule"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev + (" + uncommitted changes in chainrule/" if dirty else "")) if rev else "unknown"


def machine_info(libraries):
    """An ordered dict of what the numbers depend on: CPU, threads, versions."""
    total_memory = None
    try:
        total_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    info = {
        "CPU": cpu_model(),
        "Cores (os.cpu_count)": str(os.cpu_count()),
        "Memory": f"{total_memory / 2**30:.1f} GiB" if total_memory else "unknown",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "NumPy": f"{np.__version__} (BLAS: {blas_info()})",
        "chainrule": f"{__version__} (git {git_revision()})",
    }
    for name, lib in libraries.items():
        info[name] = lib.version if lib.available else f"not available ({lib.version})"
    env = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                             "MKL_NUM_THREADS") if k in os.environ]
    info["Thread variables"] = (", ".join(env) if env else
                                "OPENBLAS_NUM_THREADS unset (OpenBLAS uses every core)")
    info["Load average at the start"] = load_average()
    return info


def load_average():
    """The 1-minute load average next to the core count: other jobs competing
    for the CPU make every wall-clock number here slower and noisier."""
    try:
        one = os.getloadavg()[0]
    except (OSError, AttributeError):
        return "unknown"
    busy = " (other processes were competing for the CPU)" if one > 1.0 else ""
    return f"{one:.2f} on {os.cpu_count()} cores{busy}"
