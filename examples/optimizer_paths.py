"""Draw the paths of all nine optimizers on the Rosenbrock function.

f(x, y) = (1 - x)² + 100 (y - x²)² has its minimum at (1, 1) at the end of a
long curved valley; every optimizer starts at (-1.2, 1). Gradients come from
chainrule's autodiff (``cr.grad``); the picture is written to a PNG.

    python examples/optimizer_paths.py [output.png] [--quick]
"""
import argparse
import os
import tempfile

import numpy as np

import chainrule as cr
from chainrule import optimizers

START = (-1.2, 1.0)

# Each optimizer with a learning rate that suits this surface.
OPTIMIZERS = {
    "SGD (momentum 0.9)": lambda: optimizers.SGD(1e-3, momentum=0.9),
    "RMSprop (momentum 0.9)": lambda: optimizers.RMSprop(1e-3, momentum=0.9),
    "Adam": lambda: optimizers.Adam(2e-2),
    "AdamW": lambda: optimizers.AdamW(2e-2, weight_decay=1e-4),
    "Adagrad": lambda: optimizers.Adagrad(1.0),
    "Adadelta": lambda: optimizers.Adadelta(1.0, rho=0.999),
    "Adamax": lambda: optimizers.Adamax(5e-2),
    "Nadam": lambda: optimizers.Nadam(2e-2),
    "Ftrl": lambda: optimizers.Ftrl(1.0),
}


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def path(make_optimizer, steps):
    """The points visited by one optimizer, as an array of shape (steps + 1, 2)."""
    p = cr.tensor(START, dtype="float64", requires_grad=True)
    optimizer = make_optimizer()
    gradient = cr.grad(rosenbrock)
    points = [p.data.copy()]
    for _ in range(steps):
        optimizer.apply_gradients([(gradient(p), p)])
        points.append(p.data.copy())
    return np.array(points)


def main(output="optimizer_paths.png", quick=False):
    """Compute the paths, draw them, write ``output``; returns the final points."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = 300 if quick else 3000
    paths = {name: path(make, steps) for name, make in OPTIMIZERS.items()}

    xs, ys = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-1, 3, 200))
    levels = np.log10((1 - xs) ** 2 + 100 * (ys - xs**2) ** 2 + 1e-3)
    # One panel per optimizer (their paths overlap too much to share one).
    fig, axes = plt.subplots(3, 3, figsize=(12, 11), sharex=True, sharey=True)
    for ax, (name, points) in zip(axes.flat, paths.items()):
        ax.contour(xs, ys, levels, levels=25, cmap="Greys", linewidths=0.5)
        ax.plot(points[:, 0], points[:, 1], "-", lw=1.3, color="tab:blue")
        ax.plot(*START, "ko", ms=5)
        ax.plot(1, 1, "r*", ms=12)
        ax.set(xlim=(-2, 2), ylim=(-1, 3),
               title=f"{name}\nends at f = {rosenbrock(points[-1]):.1e}")
    fig.suptitle(f"Optimizers on the Rosenbrock function from (-1.2, 1), {steps} steps each "
                 "(red star: minimum)")
    fig.tight_layout()

    # Written atomically: a temporary file in the same folder, then renamed.
    folder = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=90 if quick else 120, format="png")
        os.replace(tmp, output)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    return {name: points[-1] for name, points in paths.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="optimizer_paths.png")
    parser.add_argument("--quick", action="store_true", help="300 steps instead of 3000")
    args = parser.parse_args()
    for name, point in main(args.output, args.quick).items():
        print(f"{name:24s} ends at ({point[0]: .4f}, {point[1]: .4f})")
    print(f"wrote {args.output}")
