"""``chainrule demo perceptron``: the seeds' perceptron on income and debt.

A bank approves (+1) or refuses (-1) applicants; the true rule is the line
2·income - debt - 30000 = 0 (``datasets.make_income_debt``). The perceptron
predicts f(x) = sign(w·x + b) and, as in the lecture, visits the
applicants one by one; at each mistake it moves the line towards the point:

    w ← w + η·y·x,     b ← b + 10⁵·η·y          (η = 10⁻⁵)

which is gradient descent on the loss max(0, -y·(w·x + b)). After every
visit it measures the accuracy on all applicants. The plot shows the data,
the true line and the learned one, and the accuracy per iteration.
"""
from ._plotting import pyplot, save_figure

NAME = "perceptron"
SUMMARY = "the seeds' perceptron learns to approve loans from income and debt"
DATA = None

N, QUICK_N = 100, 40
ETA = 1e-5          # the seeds' step size; the bias step is 10⁵·η = 1
MAX_EPOCHS = 2000   # part 2 repeats passes until one makes no mistake (separable data)


def predict(w, b, X):
    """sign(w·x + b) for each row of X (0 exactly on the line, as np.sign)."""
    import numpy as np
    return np.sign(X @ w + b)


def train(X, y, eta=ETA, epochs=1, log=None):
    """The seeds' perceptron: visit each point in turn, update on a mistake.

    Returns ``(w, b, accuracy)``, with the accuracy on all of X after each
    visit (a list of length epochs·len(X)). ``log(i, x_i, y_i, f_i, w, b,
    acc)`` is called after each visit of the first pass, if given.
    """
    import numpy as np
    w, b = np.zeros(2), 0.0
    accuracy = []
    for epoch in range(epochs):
        mistakes = 0
        for i in range(len(X)):
            f_i = np.sign(X[i] @ w + b)
            if f_i != y[i]:                  # wrong side (or on the line): move the line
                w = w + eta * y[i] * X[i]
                b = b + 1e5 * eta * y[i]
                mistakes += 1
            accuracy.append(float(np.mean(predict(w, b, X) == y)))
            if log is not None and epoch == 0:
                log(i, X[i], y[i], f_i, w, b, accuracy[-1])
        if epoch > 0 and mistakes == 0:
            break
    return w, b, accuracy


def _plot(X, y, learned, w_true, b_true, accuracy, out_dir):
    plt = pyplot()
    if plt is None:
        return []
    import numpy as np
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    pos, neg = y == 1, y == -1
    left.scatter(X[pos, 0], X[pos, 1], marker="+", s=80, color="tab:blue", label="approve (+1)")
    left.scatter(X[neg, 0], X[neg, 1], marker="_", s=80, color="tab:red", label="refuse (-1)")
    income = np.array([0.0, 100000.0])
    for (wv, bv, style, text) in [(w_true, b_true, "-", "true line 2·income - debt - 30000 = 0"),
                                  *learned]:
        if wv[1] != 0:
            left.plot(income, -(wv[0] * income + bv) / wv[1], style, label=text)
    left.set(xlim=(0, 100000), ylim=(0, 100000), xlabel="income", ylabel="debt",
             title="data and hyperplanes")
    left.legend(loc="lower right", fontsize=7, framealpha=0.9)
    steps = np.arange(1, len(accuracy) + 1)
    right.plot(steps, accuracy)
    right.set(xlabel="iteration (one applicant visited)", ylabel="accuracy on all applicants",
              ylim=(0, 1.02), title="the seeds' pass: accuracy per iteration")
    path = save_figure(fig, out_dir, "perceptron.png")
    print(f"saved the hyperplanes and the accuracy curve to {path}")
    return [path]


def train_until_separated(X, y, max_epochs=MAX_EPOCHS):
    """The same rule on income and debt in units of 100000 with η = 1, so the weights and
    the bias move at the same pace; passes repeat until one makes no mistake.

    Returns ``(w, b, accuracy_per_epoch)`` with w and b in these units.
    """
    import numpy as np
    w, b = np.zeros(2), 0.0
    accuracy = []
    for _ in range(max_epochs):
        mistakes = 0
        for x_i, y_i in zip(X, y):
            if np.sign(x_i @ w + b) != y_i:
                w = w + y_i * x_i
                b = b + y_i
                mistakes += 1
        accuracy.append(float(np.mean(predict(w, b, X) == y)))
        if mistakes == 0:
            break
    return w, b, accuracy


def run(quick=False, seed=0, out_dir=".", data_path=None):
    """Train and plot; returns ``{"w", "b", "accuracy_per_iteration", "first_pass_accuracy",
    "scaled_w", "scaled_b", "accuracy_per_epoch", "final_accuracy", "pngs"}``.
    ``data_path`` is unused (the data is made here)."""

    from chainrule.datasets import make_income_debt
    from chainrule.datasets.synthetic import INCOME_DEBT_BIAS, INCOME_DEBT_WEIGHTS

    n = QUICK_N if quick else N
    X, y = make_income_debt(n, seed=seed)
    print(f"{n} applicants (income, debt in [0, 100000]); {int((y == 1).sum())} approved by "
          f"the true rule 2·income - debt - 30000 > 0")
    print(f"Part 1, the seeds' run: start at w = (0, 0), b = 0; visit each applicant once; "
          f"on a mistake w += η·y·x, b += 10⁵·η·y with η = {ETA:g}")
    print("iter  income   debt     y  f(x)  w                  b     accuracy")

    def log(i, x_i, y_i, f_i, w, b, acc):
        print(f"{i + 1:4d}  {x_i[0]:7.0f}  {x_i[1]:7.0f}  {int(y_i):+d}  {int(f_i):+d}   "
              f"({w[0]:+.4f}, {w[1]:+.4f})  {b:+5.0f}  {acc:.2f}")

    w, b, accuracy = train(X, y, epochs=1, log=log)
    first_pass = accuracy[-1]
    print(f"after the single pass: accuracy {first_pass:.2f}; learned line "
          f"{w[0]:.4f}·income {w[1]:+.4f}·debt {b:+.0f} = 0")
    print("The bias moves by 1 per mistake while w·x moves by about 10⁵·η·|x|² ~ 10⁵: the "
          "learned line can hardly leave the origin, but the true line has intercept -30000.")
    print()
    print("Part 2: the same rule with income and debt in units of 100000 and η = 1 (weights "
          "and bias now move at the same pace), repeated until a pass makes no mistake")
    w2, b2, per_epoch = train_until_separated(X / 1e5, y)
    for epoch, acc in enumerate(per_epoch, 1):
        if epoch <= 5 or epoch % max(1, len(per_epoch) // 10) == 0 or epoch == len(per_epoch):
            print(f"  pass {epoch:4d}: accuracy {acc:.2f}")
    final = per_epoch[-1]
    status = "no mistakes" if final == 1.0 else f"stopped after {MAX_EPOCHS} passes"
    print(f"after {len(per_epoch)} passes ({status}): accuracy {final:.2f}; learned line "
          f"{w2[0]:.3f}·income {w2[1]:+.3f}·debt {b2:+.0f}·100000 = 0")
    w2_raw, b2_raw = w2 / 1e5, b2          # the same line in dollars
    pngs = _plot(X, y, [(w, b, "--", "seeds' single pass"),
                        (w2_raw, b2_raw, "-.", f"rescaled, {len(per_epoch)} passes")],
                 INCOME_DEBT_WEIGHTS, INCOME_DEBT_BIAS, accuracy, out_dir)
    return {"w": w, "b": float(b), "accuracy_per_iteration": accuracy,
            "first_pass_accuracy": first_pass, "scaled_w": w2, "scaled_b": float(b2),
            "accuracy_per_epoch": per_epoch, "final_accuracy": final, "pngs": pngs}
