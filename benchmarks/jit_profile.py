"""Where a compiled step's time goes, line by line of its generated code.

    OPENBLAS_NUM_THREADS=1 python benchmarks/jit_profile.py [tiny|seq|mnist|lstm|convnet|fit|sklearn]

For the bench's compiled steps (``chainrule/bench``): the step is traced, then
its generated code (``compiled.code``) is re-compiled with a clock read after
every line, and the replay runs ``--steps`` times. Printed per line: µs per
step (``perf_counter_ns`` around the line, the median of 9 rounds so a round
the machine's other jobs preempted does not count, less the clock's own
cost), its share, and the line; the whole replay in CPU µs
(``process_time_ns``, which those jobs disturb much less than the wall clock). ``fit`` profiles
``Sequential.fit(jit_compile=True)`` with cProfile instead (what fit adds
around the compiled step); ``sklearn`` the estimator's compiled step against
its eager one. benchmarks/PROFILE-jit.md has the findings.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import time
import warnings

import numpy as np

from chainrule.bench import mlp, models

_clock = time.perf_counter_ns          # per line: cheap to read
_cpu = time.process_time_ns            # whole steps: CPU time of this process


def cpu_per_call(fn, steps, rounds=7):
    """Median CPU µs per call over ``rounds`` rounds of ``steps`` calls."""
    fn()
    samples = []
    for _ in range(rounds):
        start = _cpu()
        for _ in range(steps):
            fn()
        samples.append((_cpu() - start) / steps / 1e3)
    return float(np.median(samples))


def instrumented(compiled):
    """The latest trace's replay function with a clock read after every line:
    ``(function, lines, totals)``; ``totals[i]`` accumulates line i's ns."""
    program = compiled._latest
    source = program.code
    header, *body = source.rstrip("\n").split("\n")
    lines = [b.strip() for b in body]
    out = [header, "    _t = _clock()"]
    for i, line in enumerate(lines):
        if line.startswith("return "):
            out.append(f"    _T[{i}] += _clock() - _t")
            out.append("    " + line)
            continue
        out.append("    " + line)
        out.append(f"    _n = _clock(); _T[{i}] += _n - _t; _t = _n")
    totals = [0] * len(lines)
    namespace = dict(program.fn.__globals__)
    namespace.update(_clock=_clock, _T=totals)
    exec(compile("\n".join(out) + "\n", "<instrumented>", "exec"), namespace)
    name = re.match(r"def (\w+)\(", header).group(1)
    fn = namespace[name]
    fn.__wrapped__ = program.fn                     # the replay as generated
    return fn, lines, totals


def clock_cost(n=200_000):
    """ns one `_n = _clock(); _T[i] += _n - _t; _t = _n` costs."""
    T = [0]
    start = _clock()
    t = _clock()
    for _ in range(n):
        m = _clock()
        T[0] += m - t
        t = m
    return (_clock() - start) / n


def line_profile(step, arrays, steps, rounds=9):
    """Per-line µs per replay of ``step.compiled``'s code on ``arrays`` (the
    arrays its replay function takes): the wall clock around each line, the
    median over ``rounds`` rounds (a round the machine's other jobs preempted
    does not count), less the clock's own cost; and the whole replay's CPU µs."""
    step()                                            # trace
    fn, lines, totals = instrumented(step.compiled)
    for _ in range(20):
        fn(*arrays)
    overhead = clock_cost()
    per_round = []
    n = max(steps // rounds, 1)
    for _ in range(rounds):
        totals[:] = [0] * len(totals)
        for _ in range(n):
            fn(*arrays)
        per_round.append([t / n for t in totals])
    per_line = [max(float(np.median(col)) - overhead, 0) / 1e3 for col in zip(*per_round)]
    whole = cpu_per_call(lambda: fn.__wrapped__(*arrays), steps)
    return lines, per_line, whole


def show(title, lines, per_line, whole, reference=None, top=None):
    total = sum(per_line)
    print(f"\n## {title}: replay {whole:.1f} CPU µs per step (lines sum to {total:.1f})"
          + (f"; {reference}" if reference else ""))
    order = sorted(range(len(lines)), key=lambda i: -per_line[i]) if top else range(len(lines))
    for i in list(order)[:top] if top else order:
        print(f"{per_line[i]:8.2f} µs {100 * per_line[i] / total:5.1f}%  {lines[i][:110]}")


def tiny(args):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((mlp.TINY_BATCH, mlp.TINY[0])).astype(np.float32)
    y = rng.standard_normal((mlp.TINY_BATCH, mlp.TINY[-1])).astype(np.float32)
    params = mlp.init_params(mlp.TINY)
    maker = mlp.chainrule_tiny_jit_step if args.what == "tiny" else \
        mlp.chainrule_tiny_sequential_jit_step
    step = maker([p.copy() for p in params], x, y)
    numpy_step = mlp.numpy_tiny_step([p.copy() for p in params], x, y)
    lines, per_line, whole = line_profile(step, (x, y), args.steps)
    np_us = cpu_per_call(numpy_step, args.steps)
    full = cpu_per_call(step, args.steps)
    show(f"tiny MLP ({args.what})", lines, per_line, whole,
         f"with .item(): {full:.1f}; hand-written NumPy {np_us:.1f} ({full / np_us:.2f}x)")


def mnist(args):
    from chainrule.bench.data import mnist as load
    x, y, _, _, _ = load(mlp.MNIST_BATCH)
    x = x.reshape(len(x), -1)
    params = mlp.init_params(mlp.MNIST_SIZES)
    step = mlp.chainrule_mnist_jit_step([p.copy() for p in params], x, y)
    eager = mlp.chainrule_mnist_step([p.copy() for p in params], x, y)
    numpy_step = mlp.numpy_mnist_step([p.copy() for p in params], x, y)
    lines, per_line, whole = line_profile(step, (x, y), args.steps)
    e, n = cpu_per_call(eager, args.steps), cpu_per_call(numpy_step, args.steps)
    show("MNIST MLP", lines, per_line, whole, f"eager {e:.0f}, NumPy {n:.0f}", top=args.top)


def model_step(args):
    import chainrule as cr
    rng = np.random.default_rng(0)
    if args.what == "lstm":
        x = rng.standard_normal((models.LSTM_BATCH, models.LSTM_STEPS,
                                 models.LSTM_FEATURES)).astype(np.float32)
        y, build = rng.integers(0, 10, models.LSTM_BATCH), models.chainrule_lstm
    else:
        x = rng.random((models.CONV_BATCH, 28, 28, 1), dtype=np.float32)
        y, build = rng.integers(0, 10, models.CONV_BATCH), models.chainrule_convnet
    cr.set_seed(0)
    eager_model = build()
    eager = models._chainrule_step(eager_model, x, y)
    step = models._chainrule_jit_step(build(), x, y, like=eager_model)
    lines, per_line, whole = line_profile(step, (x, y), args.steps)
    e = cpu_per_call(eager, args.steps)
    show(args.what, lines, per_line, whole, f"eager {e:.0f}", top=args.top)


def fit(args):
    """cProfile of Sequential.fit(jit_compile=True) once the step is traced."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((mlp.TINY_BATCH, mlp.TINY[0])).astype(np.float32)
    y = rng.standard_normal((mlp.TINY_BATCH, mlp.TINY[-1])).astype(np.float32)
    params = mlp.init_params(mlp.TINY)
    steps = 200
    run = mlp.chainrule_tiny_fit([p.copy() for p in params], x, y, steps=steps)
    alone = mlp.chainrule_tiny_sequential_jit_step([p.copy() for p in params], x, y)
    run()                                             # traces (cProfile cannot watch a trace)
    per_step_fit = cpu_per_call(run, 1) / steps
    per_step = cpu_per_call(alone, steps)
    print(f"\n## Sequential.fit(jit_compile=True): {per_step_fit:.1f} CPU µs per step; the "
          f"compiled Sequential step alone {per_step:.1f} ({per_step_fit / per_step:.2f}x)")
    profile = cProfile.Profile()
    profile.enable()
    run()
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(args.top or 25)
    print(text.getvalue())


def sklearn(args):
    from chainrule.bench.data import mnist as load
    from chainrule.sklearn import MLPClassifier
    xtr, ytr, _, _, _ = load(2000)
    xtr = xtr.reshape(len(xtr), -1).astype(np.float64)
    import chainrule as cr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier(hidden_layer_sizes=(256,), max_iter=1, random_state=0).fit(xtr, ytr)
    xb = xtr[:200].astype(np.float32)
    yb = model._label_binarizer.transform(ytr[:200]).astype(np.float32)
    compiled = model._jit_step[-1]

    def step():
        return compiled(cr.Tensor(xb), yb)
    step.compiled = compiled
    lines, per_line, whole = line_profile(step, (xb, yb), args.steps)
    show("MLPClassifier adam step (256 hidden, batch 200)", lines, per_line, whole, top=args.top)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["tiny", "seq", "mnist", "lstm", "convnet", "fit",
                                         "sklearn"])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--top", type=int, default=None, help="only the costliest lines")
    args = parser.parse_args(argv)
    heavy = args.what in ("mnist", "lstm", "convnet", "sklearn")
    args.steps = args.steps or (20 if heavy else 2000)
    {"tiny": tiny, "seq": tiny, "mnist": mnist, "lstm": model_step, "convnet": model_step,
     "fit": fit, "sklearn": sklearn}[args.what](args)


if __name__ == "__main__":
    main()
