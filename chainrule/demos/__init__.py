"""Demos that ``chainrule demo NAME`` runs. Each module has ``run(quick, seed)``."""
import argparse
import sys

from . import digits_mlp

DEMOS = {
    "digits": (digits_mlp, "an MLP learns the bundled 8x8 digits with .backward() (no data to download)"),
}
DEFAULT = "digits"


def main(argv=None):
    """``chainrule demo [NAME] [--list] [--quick] [--seed N]``."""
    parser = argparse.ArgumentParser(prog="chainrule demo", description="run a demo end to end")
    parser.add_argument("name", nargs="?", help="which demo (see --list)")
    parser.add_argument("--list", action="store_true", help="list the demos")
    parser.add_argument("--quick", action="store_true", help="a short run, for a smoke test")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
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
