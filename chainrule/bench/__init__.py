"""``chainrule bench``: chainrule side by side with NumPy, PyTorch, JAX, autograd, scikit-learn.

Sections (``--only`` takes their names, comma-separated):

* ``ops``       (a) per-op overhead on tiny tensors;
* ``tiny``      (b) the tiny 2-16-16-1 MLP training step (batch 32, SGD);
* ``mnist_mlp`` (c) the MNIST 784-512-512-10 MLP Adam step (batch 128);
* ``convnet``   (d) the Keras MNIST convnet step (batch 128);
* ``lstm``      (e) an LSTM, 128 units, 50 steps, batch 64, forward+backward+update;
* ``sklearn``   (f) ``MLPClassifier`` fit vs scikit-learn's, with accuracies;
* ``memory``    (g) resident memory across epochs of MLP training;
* ``gpt``       (h) one training iteration of ``chainrule demo gpt``'s model;
* ``transformer`` (i) one transformer block, forward and backward;
* ``distributed`` data-parallel training, when ``chainrule.bench.distributed``
  and ``mpi4py`` are importable.

Every library that is not installed is left out of its table. The machine's
float32 GEMM peak is measured first, and each step reports its GFLOP/s
against it. The result is printed and written to ``BENCHMARKS.md`` with the
machine, the library versions and the exact command.

>>> from chainrule import bench
>>> bench.main(["--quick", "--only", "ops", "--no-write"])    # doctest: +SKIP
0
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import shlex
import sys
import time
import traceback
from pathlib import Path

from . import libraries
from .report import Section, render, write_atomically
from .timing import gemm_peak, load_average, machine_info

__all__ = ["SECTIONS", "main", "run"]

DEFAULT_OUT = "BENCHMARKS.md"        # in the current directory (never inside site-packages)

# name -> (module, function); imported when the section runs.
SECTIONS = {
    "ops": ("overhead", "overhead_section"),
    "tiny": ("mlp", "tiny_section"),
    "mnist_mlp": ("mlp", "mnist_section"),
    "convnet": ("models", "convnet_section"),
    "lstm": ("models", "lstm_section"),
    "sklearn": ("sklearn_mlp", "sklearn_section"),
    "memory": ("memory", "memory_section"),
    "gpt": ("gpt", "gpt_section"),
    "transformer": ("gpt", "transformer_section"),
    "distributed": None,            # chainrule.bench.distributed.section(quick, log)
}

QUICK = {"repeats": 3, "min_time": 0.02, "sklearn": (3000, 1000, 2), "sklearn_repeats": 1,
         "memory": (1280, 3)}
FULL = {"repeats": 7, "min_time": 0.2, "sklearn": (60000, 10000, 10), "sklearn_repeats": 1,
        "memory": (12800, 6)}


def _distributed_section(quick, log):
    """The distributed section, or None when it cannot run here."""
    if importlib.util.find_spec("mpi4py") is None:
        log("  distributed: skipped (mpi4py is not installed)")
        return None
    try:
        from . import distributed
    except ImportError as e:
        log(f"  distributed: skipped ({e})")
        return None
    text = distributed.section(quick=quick, log=log)
    return _Raw(text) if text else None


class _Raw(Section):
    """A section another module wrote as Markdown already."""

    def __init__(self, text):
        super().__init__("distributed", "", "")
        self.raw = text

    def markdown(self):
        return self.raw.rstrip() + "\n"

    def plain(self):
        return self.raw


def run(only=None, quick=False, log=print):
    """Run the sections named in ``only`` (all by default).

    Returns ``(info, peak, sections)``: the machine description, the float32
    GEMM peak in GFLOP/s and the list of :class:`~chainrule.bench.report.Section`.
    """
    names = list(SECTIONS) if not only else list(only)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown benchmark name(s) {unknown}; choose from {list(SECTIONS)}")
    cfg = QUICK if quick else FULL
    libs = libraries.detect()
    info = machine_info(libs)
    peak = gemm_peak(3 if quick else 5)
    log(f"float32 GEMM peak: {peak:.1f} GFLOP/s")
    sections = []
    for name in names:
        start = time.perf_counter()
        log(f"\n[{name}]")
        try:
            if name == "distributed":
                section = _distributed_section(quick, log)
            else:
                module, function = SECTIONS[name]
                module = importlib.import_module(f".{module}", __name__)
                section = getattr(module, function)(libs, cfg, peak, log=log)
        except Exception as e:  # noqa: BLE001 - one broken section must not lose the others
            log(traceback.format_exc())
            section = Section(name, f"{name}: not measured",
                              f"This section failed: `{type(e).__name__}: {e}` (the traceback "
                              "was printed by the run).")
        if section is not None:
            sections.append(section)
        log(f"  ({time.perf_counter() - start:.1f} s)")
    return info, peak, sections


def build_parser():
    parser = argparse.ArgumentParser(
        prog="chainrule bench",
        description="Measure chainrule against hand-written NumPy, PyTorch, JAX, HIPS "
                    "autograd and scikit-learn (whichever are installed), print a table and "
                    "write BENCHMARKS.md.")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of the whole suite (under about 90 s); the numbers "
                             "are indicative only")
    parser.add_argument("--only", metavar="NAME,...",
                        help=f"run only these sections: {', '.join(SECTIONS)}")
    parser.add_argument("--no-write", action="store_true", help="print only; write no file")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="where to write the report (default: BENCHMARKS.md in the "
                             "current directory)")
    return parser


def main(argv=None):
    """``chainrule bench [--quick] [--only NAME,...] [--no-write] [--out PATH]`` -> exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    if only is not None:
        unknown = [n for n in only if n not in SECTIONS]
        if unknown or not only:
            parser.error(f"--only: unknown benchmark name(s) {unknown}; choose from "
                         f"{', '.join(SECTIONS)}")
    command = shlex.join(["chainrule", "bench", *argv])
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    start = time.perf_counter()
    info, peak, sections = run(only=only, quick=args.quick)
    elapsed = time.perf_counter() - start
    info["Load average at the end"] = load_average()
    settings = ("`--quick` smoke run, numbers indicative only" if args.quick else "full run") + (
        f"; sections: {', '.join(s.key for s in sections)}; the suite took {elapsed:.0f} s")
    report = render(info, command, date, settings, peak, sections)

    print(f"\nchainrule bench — {date} — {info['CPU']}, {info['Cores (os.cpu_count)']} cores, "
          f"GEMM peak {peak:.1f} GFLOP/s")
    for s in sections:
        if s.header or getattr(s, "raw", None):
            print(f"\n{s.title}\n{s.plain()}" if s.title else "\n" + s.plain())
    print("\nTargets:")
    for t in (t for s in sections for t in s.targets):
        print("  " + t.line().replace("**", ""))
    if not args.no_write:
        write_atomically(args.out, report)
        print(f"\nwrote {args.out}")
    return 0
