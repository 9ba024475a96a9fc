"""``chainrule launch -n 4 train.py [args]``: run a script on N processes.

A thin wrapper over the MPI launcher: it runs
``mpiexec -n 4 <this python> train.py [args]`` and returns its exit status.
The launcher is looked for next to this Python first (where
``pip install mpich`` puts it, so a virtual environment's own MPI wins), then
on ``PATH``; ``--mpiexec`` names one explicitly.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from typing import NoReturn, Sequence

from .comm import INSTALL_HINT

__all__ = ["find_launcher", "main"]

_LAUNCHERS = ("mpiexec", "mpirun")


def find_launcher() -> str | None:
    """The path of ``mpiexec``/``mpirun`` (this Python's first), or None.

    Returns:
        The launcher's path, or None when there is none.
    """
    here = os.path.dirname(sys.executable)
    for name in _LAUNCHERS:
        candidate = os.path.join(here, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    for name in _LAUNCHERS:
        found = shutil.which(name)
        if found:
            return found
    return None


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``chainrule launch``.

    Returns:
        The ``argparse`` parser.
    """
    parser = _Parser(
        prog="chainrule launch",
        description="Run a training script on N processes with MPI "
                    "(the same as: mpiexec -n N python SCRIPT ARGS).",
        epilog="In the script, pass distribution=chainrule.distributed.DataParallel() to "
               "model.fit. Needs mpi4py and an MPI library: " + INSTALL_HINT + ".")
    parser.add_argument("-n", "--np", dest="processes", type=int, default=2,
                        help="number of processes (default 2)")
    parser.add_argument("--mpiexec", default=None,
                        help="the MPI launcher to use (default: found next to this Python or on PATH)")
    parser.add_argument("--mpi-arg", action="append", default=[], metavar="ARG",
                        help="an extra argument for the launcher, e.g. --mpi-arg=--oversubscribe "
                             "(repeatable)")
    parser.add_argument("script", help="the Python script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``chainrule launch -n N SCRIPT [ARGS]``.

    Args:
        argv: the arguments after ``launch``; None means ``sys.argv[1:]``.

    Returns:
        The launcher's exit status (1: no MPI, 2: a bad command line).
    """
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.processes < 1:
        print(f"chainrule launch: -n must be at least 1, got {args.processes}", file=sys.stderr)
        return 2
    if not os.path.isfile(args.script):
        print(f"chainrule launch: no such script: {args.script}", file=sys.stderr)
        return 2
    launcher = args.mpiexec or find_launcher()
    if launcher is None:
        print(f"chainrule launch: no MPI launcher (mpiexec or mpirun) found next to "
              f"{sys.executable} or on PATH. Install one: {INSTALL_HINT}.", file=sys.stderr)
        return 1
    if importlib.util.find_spec("mpi4py") is None:
        print(f"chainrule launch: mpi4py is not installed for {sys.executable}, so the "
              f"processes could not talk to each other. Install it: {INSTALL_HINT}.",
              file=sys.stderr)
        return 1
    command = [launcher, "-n", str(args.processes), *args.mpi_arg,
               sys.executable, args.script, *args.args]
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:        # the launcher forwards Ctrl-C to the ranks itself
        return 130
