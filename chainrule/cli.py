"""The ``chainrule`` command.

Each subcommand lives next to what it runs and is imported only when it is
chosen (so ``chainrule --version`` stays instant). A subcommand module has
``main(argv) -> int`` and builds its own parser with ``prog="chainrule NAME"``.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn, Sequence

from . import __version__

# name -> (module with main(argv), one-line help)
SUBCOMMANDS = {
    "demo": ("chainrule.demos", "run a demo end to end (default: an MLP on the bundled digits)"),
    "explain": ("chainrule.explain_cli",
                'print a backward pass step by step, e.g. chainrule explain "3*(a*b+c)" a=2 b=3 c=4'),
    "bench": ("chainrule.bench", "measure chainrule against NumPy, PyTorch, JAX, scikit-learn"),
    "launch": ("chainrule.distributed.launch", "run a training script on N processes with MPI"),
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: ``--version``, ``--help`` and one entry per subcommand.

    Returns:
        The ``argparse`` parser of ``chainrule``.
    """
    parser = _Parser(
        prog="chainrule", description="chainrule: deep learning you can read, on NumPy.",
        epilog="Run `chainrule COMMAND --help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``chainrule COMMAND ...``.

    Args:
        argv: the command line after the program name; None means ``sys.argv[1:]``.

    Returns:
        The exit code (0: done, 2: a bad command line).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in SUBCOMMANDS:
        args = parser.parse_args(argv)       # --help, --version, or an unknown command (exit 2)
        parser.print_help()
        return 0
    module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
    try:
        return module.main(argv[1:])
    except BrokenPipeError:
        # The reader went away (`chainrule explain ... | head`): stop quietly,
        # with stdout pointed at /dev/null so the interpreter's flush at exit
        # does not raise again (the Python docs' recipe for SIGPIPE).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
