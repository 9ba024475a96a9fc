"""(a) Per-op overhead on tiny tensors: chainrule vs PyTorch eager vs NumPy.

Three ops (a 10-element add, a 64x64 matmul, a 1,000-element tanh), each in
three modes:

* ``forward``  -- inputs that do not require grad: nothing is recorded;
* ``recorded`` -- inputs that require grad: the forward records the graph;
* ``fwd+bwd``  -- ``a.grad = None`` then ``op(a, b).sum().backward()``; the
                  NumPy column is the hand-written forward, sum and derivative.

At these sizes the arithmetic is well under a microsecond, so the times are
the libraries' per-op bookkeeping.
"""
from __future__ import annotations

import numpy as np

import chainrule as cr

from .report import Section, fmt_ratio
from .timing import F32, interleaved

OPS = [
    # key, description, input shapes, forward, hand-written NumPy forward + derivative
    ("add", "add, 10 elements", [(10,), (10,)], "a + b",
     "c = a + b; s = c.sum(); g = ones_like(c); ga = g; gb = g"),
    ("matmul", "matmul 64x64 @ 64x64", [(64, 64), (64, 64)], "a @ b",
     "c = a @ b; s = c.sum(); g = ones_like(c); ga = g @ b.T; gb = a.T @ g"),
    ("tanh", "tanh, 1,000 elements", [(1000,)], "tanh(a)",
     "y = tanh(a); s = y.sum(); g = ones_like(y); ga = g * (1 - y * y)"),
]
MODES = ("forward", "recorded", "fwd+bwd")


def _function(stmt, namespace):
    """``stmt`` (one line, ``;``-separated) compiled into a zero-argument function."""
    code = "def _f():\n    " + stmt.replace("; ", "\n    ")
    # our own constant statements, compiled as timeit does
    exec(compile(code, f"<bench: {stmt}>", "exec"), namespace)  # noqa: S102
    return namespace["_f"]


def _steps(shapes, fwd, np_stmt, mode, torch):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(F32) for s in shapes]
    names = "ab"[:len(arrays)]
    grad = mode != "forward"
    stmt = fwd
    if mode == "fwd+bwd":
        stmt = "; ".join(f"{n}.grad = None" for n in names) + f"; ({fwd}).sum().backward()"
    steps = {"chainrule": _function(stmt, {"tanh": cr.tanh, **{
        n: cr.tensor(a, requires_grad=grad) for n, a in zip(names, arrays)}})}
    if torch is not None:
        steps["PyTorch eager"] = _function(stmt, {"tanh": torch.tanh, **{
            n: torch.tensor(a, requires_grad=grad) for n, a in zip(names, arrays)}})
    steps["NumPy"] = _function(np_stmt if mode == "fwd+bwd" else fwd, {
        "tanh": np.tanh, "ones_like": np.ones_like, **dict(zip(names, arrays))})
    return steps


def overhead_section(libs, cfg, peak=None, log=print):
    torch = libs["PyTorch"].module if libs["PyTorch"].available else None
    header = ["op", "mode", "chainrule µs"] + (["PyTorch µs"] if torch else []) + [
        "NumPy µs"] + (["chainrule / PyTorch"] if torch else []) + ["chainrule / NumPy", "noise"]
    rows = []
    for _, desc, shapes, fwd, np_stmt in OPS:
        for mode in MODES:
            t = interleaved(_steps(shapes, fwd, np_stmt, mode, torch), cfg["repeats"],
                            cfg["min_time"] / 5)
            ours, numpy = t["chainrule"].median, t["NumPy"].median
            theirs = t["PyTorch eager"].median if torch else None
            log(f"  {desc:<22} {mode:<9} chainrule {ours * 1e6:7.2f} µs"
                + (f"  PyTorch {theirs * 1e6:7.2f} µs" if torch else "")
                + f"  NumPy {numpy * 1e6:7.2f} µs")
            rows.append([desc, mode, f"{ours * 1e6:.2f}"]
                        + ([f"{theirs * 1e6:.2f}"] if torch else []) + [f"{numpy * 1e6:.2f}"]
                        + ([fmt_ratio(ours / theirs)] if torch else [])
                        + [fmt_ratio(ours / numpy),
                           f"{100 * max(x.spread for x in t.values()):.0f}%"])
    return Section(
        "ops", "(a) Per-op overhead on tiny float32 tensors (µs per call)",
        "`forward`: the inputs do not require grad, nothing is recorded; `recorded`: they "
        "do, so the forward records the graph; `fwd+bwd`: `a.grad = None` for each input, "
        "then `op(a, b).sum().backward()` (NumPy: the hand-written forward, sum and "
        "derivative, e.g. `c = a @ b; s = c.sum(); g = ones_like(c); ga = g @ b.T; "
        "gb = a.T @ g`). At these sizes the arithmetic is negligible: this is bookkeeping.",
        header, rows)
