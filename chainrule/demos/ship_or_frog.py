"""``chainrule demo ship-or-frog``: a CNN tells ships from frogs, then FGSM fools it.

The seeds' opening demo, made real on CIFAR-10 (classes 8 "ship" and 6
"frog"; ``cifar10_partial.npz`` has 540 ships and 508 frogs to train on):

1. a small CNN learns ship (1) or frog (0) and reports its test accuracy;
2. a ship it is sure of gets an FGSM perturbation of eps = 8/255 per pixel
   value: P(ship) before and after, and a PNG original | perturbation
   (amplified) | adversarial;
3. a frog is turned into a ship by a *targeted* attack, and, as in the
   seeds, by the linear attack on a logistic regression (frog + w/6);
4. accuracy under attack (clean, FGSM 8/255, PGD 10 steps), then the same
   after adversarial training (``cr.attacks.AdversarialTraining``).

The network standardizes its input per colour channel, (x - mean) / std, as
torchvision's ``Normalize`` does, then: Conv 16 (3x3, relu) -> flatten ->
one logit. The attacks work on the pixels in [0, 1], before that step.
"""
NAME = "ship-or-frog"
SUMMARY = "a CNN tells ships from frogs, then FGSM fools it"
DATA = "CIFAR-10: cifar10_partial.npz or the official python batches"

SHIP, FROG = 8, 6                       # CIFAR-10 labels
EPS = 8 / 255                           # the attack budget per pixel value
EPOCHS, BATCH_SIZE, LEARNING_RATE = 10, 32, 3e-3
QUICK_TRAIN, QUICK_TEST = 300, 60        # --quick: a few hundred images, one epoch
PGD_STEPS, PGD_ALPHA = 10, 2 / 255


def load(data_path=None, quick=False):
    """Ships and frogs as float32 images in [0, 1] and labels 1 (ship) / 0 (frog).

    Raises ``chainrule.datasets.DatasetNotFoundError`` (with where to put the
    file) when CIFAR-10 is not found.
    """
    import numpy as np

    from chainrule.datasets import cifar10
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(data_path)

    def ships_and_frogs(x, y, limit):
        y = y.reshape(-1)
        keep = np.flatnonzero((y == SHIP) | (y == FROG))[:limit]
        return x[keep].astype(np.float32) / 255, (y[keep] == SHIP).astype(np.int64)
    return (ships_and_frogs(x_train, y_train, QUICK_TRAIN if quick else None),
            ships_and_frogs(x_test, y_test, QUICK_TEST if quick else None))


def build_model(x_train, learning_rate=LEARNING_RATE):
    """The CNN, compiled, with the per-channel mean and std of ``x_train``."""
    import chainrule as cr
    from chainrule import layers

    class ShipOrFrogNet(cr.Model):
        """Standardize each colour channel, then Conv 16 (3x3, relu) -> flatten -> 1 logit."""

        def __init__(self, mean, std):
            super().__init__(name="ship_or_frog")
            self.mean, self.std = cr.tensor(mean), cr.tensor(std)
            self.body = cr.Sequential([
                cr.Input((32, 32, 3)),
                layers.Conv2D(16, 3, padding="same", activation="relu"),
                layers.Flatten(),
                layers.Dense(1),                     # the logit of "ship"
            ])

        def call(self, x, training=None):
            return self.body((x - self.mean) / self.std, training=training)

    model = ShipOrFrogNet(x_train.mean(axis=(0, 1, 2)), x_train.std(axis=(0, 1, 2)))
    model.compile(optimizer=cr.optimizers.Adam(learning_rate),
                  loss=cr.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def p_ship(model, x):
    """P(ship) = σ(logit) for a batch."""
    import numpy as np
    return 1 / (1 + np.exp(-model.predict(x, batch_size=256).reshape(-1)))


def robustness(model, x, y):
    """Accuracy on clean images, under FGSM and under PGD (eps = 8/255)."""
    from chainrule import attacks
    clean_and_fgsm = attacks.robust_accuracy(model, x, y, [0, EPS])
    pgd = attacks.robust_accuracy(model, x, y, [EPS], method="pgd", steps=PGD_STEPS,
                                  alpha=PGD_ALPHA)
    return {"clean": clean_and_fgsm[0], "fgsm": clean_and_fgsm[EPS], "pgd": pgd[EPS]}


def save_triptych(original, adversarial, titles, path):
    """One PNG: original | perturbation (amplified to fill [0, 1]) | adversarial.
    Returns the path, or None when matplotlib is not installed."""
    import numpy as np

    from ._plotting import pyplot
    plt = pyplot()
    if plt is None:
        return None
    delta = adversarial - original
    scale = np.abs(delta).max() or 1.0
    amplified = 0.5 + 0.5 * delta / scale          # grey = unchanged
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.4))
    for ax, image, title in zip(axes, (original, amplified, adversarial), titles):
        ax.imshow(np.clip(image, 0, 1), interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(quick=False, seed=0, out_dir=".", data_path=None):
    """Train, attack, train adversarially, report. ``quick``: 300 training
    and 60 test images, one epoch. Returns the numbers printed and ``"pngs"``."""
    import os
    import time

    import numpy as np

    import chainrule as cr
    from chainrule import attacks, layers

    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = load(data_path, quick=quick)
    print(f"CIFAR-10 ships and frogs: {len(x_train)} training images "
          f"({int(y_train.sum())} ships), {len(x_test)} test images")
    epochs = 1 if quick else EPOCHS
    result = {"pngs": []}

    # 1. Train.
    cr.set_seed(seed)
    model = build_model(x_train)
    model.fit(x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
    p_test = p_ship(model, x_test)
    result["test_accuracy"] = float(np.mean((p_test > 0.5) == y_test))
    print(f"trained {epochs} epoch(s) in {time.perf_counter() - start:.1f}s; "
          f"test accuracy: {result['test_accuracy']:.1%}")

    # 2. A ship the model is sure of (P(ship) > 0.9), attacked with FGSM: of
    # those the attack fools, the one the model was surest of (or, if it
    # fools none, simply the surest ship).
    ships = np.flatnonzero(y_test == 1)
    ships_adv = attacks.fgsm(model, x_test[ships], y_test[ships], EPS)
    p_ships_adv = p_ship(model, ships_adv)
    fooled = np.flatnonzero((p_test[ships] > 0.5) & (p_ships_adv < 0.5))
    sure_and_fooled = fooled[p_test[ships][fooled] > 0.9]
    pool = sure_and_fooled if len(sure_and_fooled) else np.arange(len(ships))
    pick = pool[np.argmax(p_test[ships][pool])]
    ship, ship_adv = ships[pick], ships_adv[pick]
    before, after = p_test[ship], p_ships_adv[pick]
    result.update(ship_p_before=float(before), ship_p_after=float(after),
                  ships_fooled=len(fooled) / len(ships))
    print(f"a ship (test image {ship}):   predicted probability for ship: {before:.4f}")
    print(f"after FGSM (eps = 8/255):     predicted probability for ship: {after:.4f} "
          f"({len(fooled)} of {len(ships)} test ships now say frog)")

    # 3. A frog turned into a ship: targeted FGSM on the CNN (a frog it is
    # sure of, P(ship) < 0.1, chosen as the ship above)...
    frogs = np.flatnonzero(y_test == 0)
    frogs_adv = attacks.fgsm(model, x_test[frogs], np.ones(len(frogs), dtype=np.int64), EPS,
                             targeted=True)
    p_frogs_adv = p_ship(model, frogs_adv)
    turned = np.flatnonzero((p_test[frogs] < 0.5) & (p_frogs_adv > 0.5))
    sure_and_turned = turned[p_test[frogs][turned] < 0.1]
    pool = sure_and_turned if len(sure_and_turned) else np.arange(len(frogs))
    pick = pool[np.argmin(p_test[frogs][pool])]
    frog = frogs[pick]
    result.update(frog_p_before=float(p_test[frog]), frog_p_after=float(p_frogs_adv[pick]),
                  frogs_turned=len(turned) / len(frogs))
    print(f"a frog (test image {frog}):   predicted probability for ship: {p_test[frog]:.4f}")
    print(f"after targeted FGSM:          predicted probability for ship: "
          f"{p_frogs_adv[pick]:.4f} ({len(turned)} of {len(frogs)} test frogs now say ship)")

    # ...and, as in the seeds, on a logistic regression: frog + w/6.
    cr.set_seed(seed)
    logistic = cr.Sequential([cr.Input((32, 32, 3)), layers.Flatten(), layers.Dense(1)])
    logistic.compile(optimizer=cr.optimizers.Adam(LEARNING_RATE),
                     loss=cr.losses.BinaryCrossentropy(from_logits=True))
    logistic.fit(x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
    w = logistic.get_weights()[0]
    lin_before = p_ship(logistic, x_test[frogs])
    lin_after = p_ship(logistic, attacks.linear_attack(w, x_test[frogs], 1 / 6))
    turned = np.flatnonzero((lin_before < 0.5) & (lin_after > 0.5))
    pool = turned if len(turned) else np.arange(len(frogs))
    chosen = pool[np.argmin(lin_before[pool])]
    result.update(linear_p_before=float(lin_before[chosen]),
                  linear_p_after=float(lin_after[chosen]), linear_turned=len(turned) / len(frogs))
    print(f"logistic regression, a frog (test image {frogs[chosen]}): P(ship) "
          f"{lin_before[chosen]:.4f}; frog + w/6: {lin_after[chosen]:.4f} "
          f"({len(turned)} of {len(frogs)} test frogs now say ship)")

    os.makedirs(out_dir, exist_ok=True)
    for name, index, adversarial, p_after, label in (
            ("ship_fgsm.png", ship, ship_adv, after, "FGSM"),
            ("frog_to_ship.png", frog, frogs_adv[pick], p_frogs_adv[pick], "targeted FGSM")):
        path = save_triptych(x_test[index], adversarial,
                             (f"original: P(ship) = {p_test[index]:.3f}",
                              "perturbation (amplified)",
                              f"{label}, eps = 8/255: P(ship) = {p_after:.3f}"),
                             os.path.join(out_dir, name))
        if path:
            result["pngs"].append(path)

    # 4. Accuracy under attack, before and after adversarial training.
    plain = robustness(model, x_test, y_test)
    print(f"accuracy on the {len(x_test)} test images: clean {plain['clean']:.1%}, "
          f"FGSM 8/255 {plain['fgsm']:.1%}, PGD ({PGD_STEPS} steps) {plain['pgd']:.1%}")
    cr.set_seed(seed)
    robust_model = build_model(x_train)
    robust_model.fit(x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0,
                     callbacks=[attacks.AdversarialTraining(method="fgsm", eps=EPS, ratio=0.5)])
    trained = robustness(robust_model, x_test, y_test)
    print(f"after adversarial training (FGSM, half of each batch): clean "
          f"{trained['clean']:.1%}, FGSM 8/255 {trained['fgsm']:.1%}, "
          f"PGD ({PGD_STEPS} steps) {trained['pgd']:.1%}")
    result.update({f"{k}_accuracy": v for k, v in plain.items()})
    result.update({f"adv_{k}_accuracy": v for k, v in trained.items()})
    result["seconds"] = time.perf_counter() - start
    for path in result["pngs"]:
        print(f"saved {path}")
    return result
