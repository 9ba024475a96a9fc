"""Ship or frog: the seeds' opening demo, on real CIFAR-10 images.

A small CNN learns to tell ships from frogs (over 95% test accuracy on the
1048 ships and frogs of ``cifar10_partial.npz``). Then a change of at most
8/255 per pixel value, computed with the fast gradient sign method,

    x_adv = x + eps * sign(∇x loss(model(x), y))          (Goodfellow et al. 2015)

makes it call a ship a frog, and a targeted step makes a frog a ship. The
script prints P(ship) before and after, saves ``ship_fgsm.png`` and
``frog_to_ship.png`` (original | amplified perturbation | adversarial),
prints the accuracy under FGSM and PGD, and trains a second model with
adversarial training (``cr.attacks.AdversarialTraining``) to compare.

    python examples/ship_or_frog.py                      # the full run (about a minute)
    python examples/ship_or_frog.py --quick              # 300 images, one epoch
    python examples/ship_or_frog.py --data ../shared/data/cifar10_partial.npz --out-dir plots

The steps themselves are in ``chainrule/demos/ship_or_frog.py`` (``chainrule
demo ship-or-frog`` runs the same code); the attacks are ``chainrule.attacks``:

    from chainrule import attacks
    x_adv = attacks.fgsm(model, x_test, y_test, eps=8 / 255)
    frog_as_ship = attacks.fgsm(model, frogs, ones, eps=8 / 255, targeted=True)
    attacks.robust_accuracy(model, x_test, y_test, [0, 8 / 255], method="pgd", steps=10)
"""
import argparse
import sys

from chainrule.datasets import DatasetNotFoundError
from chainrule.demos import ship_or_frog


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 images, one epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None,
                        help="cifar10_partial.npz, the official archive or its folder")
    parser.add_argument("--out-dir", default=".", help="where to save the PNGs")
    args = parser.parse_args(argv)
    try:
        result = ship_or_frog.run(quick=args.quick, seed=args.seed, out_dir=args.out_dir,
                                  data_path=args.data)
    except DatasetNotFoundError as e:
        print(e, file=sys.stderr)
        return 3
    print(f"done in {result['seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
