"""Demos that ``chainrule demo NAME`` runs. Each module has ``run(quick, seed)``."""
from . import digits_mlp

DEMOS = {
    "digits": (digits_mlp, "an MLP learns the bundled 8x8 digits with .backward() (no data to download)"),
}
DEFAULT = "digits"
