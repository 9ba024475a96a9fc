"""The demos that ``chainrule demo NAME`` runs, one module each.

Every demo module has the constants ``NAME``, ``SUMMARY`` and ``DATA`` (what
it needs to download, or None) and one function::

    run(quick=False, seed=0, out_dir=".", data_path=None) -> dict

which prints what a learner should read, writes its PNGs into ``out_dir``
and returns its numbers (plus ``"pngs": [paths]``). Modules are imported only
when needed, and keep their heavy imports inside ``run``, so ``--list`` is fast.

    chainrule demo                  # the default: an MLP on the bundled digits
    chainrule demo --list           # every demo, the data it needs, whether it is here
    chainrule demo mnist-cnn --data ~/Downloads/mnist.npz --out-dir plots
"""
import argparse
import importlib
import os
import sys

# name -> module in this package, in the order --list shows them.
DEMOS = {
    "digits": "digits_mlp",
    "backprop": "backprop",
    "perceptron": "perceptron",
    "logistic": "logistic",
    "lstsq": "lstsq",
    "conv-as-matrix": "conv_as_matrix",
    "mnist-mlp": "mnist_mlp",
    "mnist-cnn": "mnist_cnn",
    "ship-or-frog": "ship_or_frog",
    "gpt": "gpt",
}
DEFAULT = "digits"

# Which downloadable data a demo needs, to say on --list whether it is here.
_NEEDS = {"mnist-mlp": "mnist", "mnist-cnn": "mnist", "ship-or-frog": "cifar10",
          "gpt": "shakespeare"}

EXIT_UNKNOWN, EXIT_NO_DATA = 2, 3


def load(name):
    """The module of demo ``name`` (imported now). ``KeyError`` for an unknown name."""
    return importlib.import_module(f"{__name__}.{DEMOS[name]}")


def data_status(name, data_path=None):
    """``"bundled"``, ``"found: PATH"`` or ``"missing"`` for a demo's data (no download)."""
    from ..datasets import DatasetNotFoundError, cifar10, find_file, mnist, shakespeare
    need = _NEEDS.get(name)
    if need is None:
        return "bundled"
    if need == "mnist":
        names = mnist.FILENAME
    elif need == "shakespeare":
        names = shakespeare.NAMES
    else:
        names = (cifar10.FOLDER, cifar10.ARCHIVE, cifar10.PARTIAL)
    try:
        return f"found: {find_file(names, data_path, download=False)}"
    except DatasetNotFoundError:
        return "missing"


def _list(data_path):
    for name in DEMOS:
        try:
            module = load(name)
        except ImportError as e:
            print(f"{name:16s}(not available: {e})")
            continue
        needs = module.DATA or "nothing to download"
        marker = "" if name != DEFAULT else "  [default]"
        print(f"{name:16s}{module.SUMMARY}{marker}")
        print(f"{'':16s}data: {needs} ({data_status(name, data_path)})")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr and exit 2."""

    def error(self, message):
        self.exit(EXIT_UNKNOWN, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _seed(text):
    """``--seed``: an integer 0 <= seed < 2**32 (NumPy's and scikit-learn's range)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**32 - 1, got {value}")
    return value


def build_parser():
    parser = _Parser(
        prog="chainrule demo", description="run a demo end to end",
        epilog="demos: " + ", ".join(DEMOS) + " (see --list)")
    parser.add_argument("name", nargs="?", default=DEFAULT,
                        help=f"which demo (default: {DEFAULT}; see --list)")
    parser.add_argument("--list", action="store_true",
                        help="list the demos, the data each needs, and whether it is found")
    parser.add_argument("--quick", action="store_true",
                        help="a short run on a little data (a smoke test)")
    parser.add_argument("--seed", type=_seed, default=0,
                        help="random seed, 0 <= seed < 2**32 (default 0)")
    parser.add_argument("--out-dir", default=".",
                        help="folder for the PNGs (default: the current folder)")
    parser.add_argument("--data", default=None, metavar="PATH",
                        help="the demo's data file or its folder (default: $CHAINRULE_DATA, "
                             "then ~/.chainrule/datasets)")
    return parser


def _check_out_dir(out_dir):
    """Make ``--out-dir`` now, so a bad one fails before training, not after.
    Returns an error message, or None."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        return f"--out-dir {out_dir} is a file, not a folder; name a folder for the PNGs"
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        return f"--out-dir {out_dir} cannot be created ({e.strerror or e})"
    if not os.access(out_dir, os.W_OK):
        return f"--out-dir {out_dir} is not writable"
    return None


def _one_line(error):
    return " ".join(str(error).split())


def main(argv=None):
    """``chainrule demo [NAME] [--list] [--quick] [--seed N] [--out-dir DIR] [--data PATH]``.

    Returns 0; 2 for a bad command line (an unknown demo, a bad ``--seed`` or
    ``--out-dir``); 3 when the demo's data is missing (the message, on
    stderr, says where to put the file) or cannot be used (truncated, not
    the right file: one line naming it). Never a traceback for these.
    """
    from ..datasets import DatasetFileError, DatasetNotFoundError
    args = build_parser().parse_args(argv)
    if args.list:
        return _list(args.data)
    if args.name not in DEMOS:
        print(f"chainrule demo: no demo named '{args.name}'. Choose one of: "
              f"{', '.join(DEMOS)} (`chainrule demo --list` says what each does).",
              file=sys.stderr)
        return EXIT_UNKNOWN
    problem = _check_out_dir(args.out_dir)
    if problem is not None:
        print(f"chainrule demo: {problem}", file=sys.stderr)
        return EXIT_UNKNOWN
    try:
        module = load(args.name)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{DEMOS[args.name]}":
            raise                       # a missing dependency inside the demo: show it
        print(f"chainrule demo: '{args.name}' is not part of this installation "
              f"({e.name} is missing).", file=sys.stderr)
        return 1
    try:
        module.run(quick=args.quick, seed=args.seed, out_dir=args.out_dir,
                   data_path=args.data)
    except DatasetNotFoundError as e:
        print(f"chainrule demo {args.name}: its data is missing ({module.DATA}).\n{e}",
              file=sys.stderr)
        return EXIT_NO_DATA
    except DatasetFileError as e:
        print(f"chainrule demo {args.name}: {_one_line(e)}", file=sys.stderr)
        return EXIT_NO_DATA
    return 0
