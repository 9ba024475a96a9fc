"""The ``chainrule`` command: ``chainrule demo [NAME]``, ``chainrule --version``."""
import argparse
import sys

from . import __version__


def _demo(args):
    from .demos import DEFAULT, DEMOS
    if args.list:
        for name, (_, what) in DEMOS.items():
            print(f"{name:12s} {what}")
        return 0
    name = args.name or DEFAULT
    if name not in DEMOS:
        print(f"chainrule demo: no demo named '{name}'. Available: {', '.join(DEMOS)} "
              f"(see `chainrule demo --list`)", file=sys.stderr)
        return 2
    module, _ = DEMOS[name]
    module.run(quick=args.quick, seed=args.seed)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="chainrule", description="chainrule: deep learning you can read, on NumPy.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="run a demo end to end (default: an MLP on the bundled digits)")
    demo.add_argument("name", nargs="?", help="which demo (see --list)")
    demo.add_argument("--list", action="store_true", help="list the demos")
    demo.add_argument("--quick", action="store_true", help="a short run, for a smoke test")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
