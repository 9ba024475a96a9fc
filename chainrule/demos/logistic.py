"""``chainrule demo logistic``: logistic regression the way the seeds derive it.

One sigmoid neuron on two features, trained on the binary cross-entropy

    z = w·x + b,   φ = σ(z) = 1 / (1 + e^(-z)),
    L = -(y·log φ + (1 - y)·log(1 - φ))

The lecture's derivation gives dL/dφ = (φ - y) / (φ(1 - φ)), dφ/dz = φ(1 - φ),
so dL/dz = φ - y and dL/dw = (φ - y)·x: averaged over the data,

    ∇w = Xᵀ(φ - y) / n,   ∇b = mean(φ - y),   w ← w - ε·∇w

The demo (1) checks that formula against chainrule's autodiff, (2) trains
with it by plain gradient descent, (3) trains the same model Keras-style
(``Dense(1, activation="sigmoid")``, SGD, ``binary_crossentropy``, one
batch per step, as in the seeds' Keras code) and finds the same weights,
then plots the decision boundary φ = 0.5, i.e. w·x + b = 0.

Data: iris, versicolor (0) against virginica (1), on petal length and width
(standardized): two classes that overlap a little, so the line matters.
"""
from ._plotting import pyplot, save_figure

NAME = "logistic"
SUMMARY = "logistic regression by the seeds' gradient (φ - y)·x, then Keras-style; the boundary"
DATA = None

STEPS, QUICK_STEPS = 500, 60
LEARNING_RATE = 0.5


def load_data():
    """Iris petal length and width (standardized), versicolor 0 / virginica 1."""
    import numpy as np

    from chainrule.datasets import load_iris
    X, y = load_iris()
    keep = y > 0
    X, y = X[keep][:, 2:4], (y[keep] == 2).astype(np.float64)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y


def sigmoid(z):
    import numpy as np
    return 0.5 * (1.0 + np.tanh(0.5 * z))      # = 1/(1 + e^-z), without overflow


def loss_and_hand_gradient(w, b, X, y):
    """Mean cross-entropy and the seeds' gradient Xᵀ(φ - y)/n, mean(φ - y)."""
    import numpy as np
    phi = sigmoid(X @ w + b)
    eps = 1e-12
    loss = -np.mean(y * np.log(phi + eps) + (1 - y) * np.log(1 - phi + eps))
    return float(loss), X.T @ (phi - y) / len(y), float(np.mean(phi - y))


def autodiff_gradient(w, b, X, y):
    """The same gradient from chainrule's engine (nothing derived by hand)."""
    import chainrule as cr
    w_t = cr.tensor(w, dtype="float64", requires_grad=True)
    b_t = cr.tensor(b, dtype="float64", requires_grad=True)
    X_t, y_t = cr.tensor(X, dtype="float64"), cr.tensor(y, dtype="float64")
    phi = cr.sigmoid(X_t @ w_t + b_t)
    loss = -cr.mean(y_t * cr.log(phi) + (1 - y_t) * cr.log(1 - phi))
    loss.backward()
    return w_t.grad.numpy(), float(b_t.grad)


def _plot(X, y, w, b, losses, out_dir):
    plt = pyplot()
    if plt is None:
        return []
    import numpy as np

    from chainrule import viz
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    # the regions each side of the line (viz), then the line w·x + b = 0 itself
    viz.plot_decision_boundary(lambda grid: sigmoid(grid @ w + b), X, y.astype(int), ax=left)
    t = np.linspace(X[:, 0].min(), X[:, 0].max(), 2)
    if w[1] != 0:
        left.plot(t, -(w[0] * t + b) / w[1], "k-", lw=1.5)
    left.set(xlim=(X[:, 0].min() - 0.2, X[:, 0].max() + 0.2),
             ylim=(X[:, 1].min() - 0.2, X[:, 1].max() + 0.2),
             xlabel="petal length (standardized)", ylabel="petal width (standardized)",
             title="versicolor (0) / virginica (1): boundary w·x + b = 0")
    right.plot(np.arange(len(losses)), losses)
    right.set(xlabel="gradient-descent step", ylabel="mean cross-entropy", title="training loss")
    path = save_figure(fig, out_dir, "logistic.png")
    print(f"saved the decision boundary and the loss curve to {path}")
    return [path]


def keras_style(X, y, steps, learning_rate):
    """The seeds' Keras model: Dense(1) + sigmoid, SGD, binary cross-entropy; zero start,
    the whole data as one batch, so each epoch is one gradient-descent step."""
    import numpy as np

    import chainrule as cr
    from chainrule import layers
    model = cr.Sequential([cr.Input((2,), dtype="float64"),
                           layers.Dense(1, activation="sigmoid", dtype="float64")])
    model.set_weights([np.zeros((2, 1)), np.zeros(1)])
    model.compile(optimizer=cr.optimizers.SGD(learning_rate=learning_rate),
                  loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(X, y.reshape(-1, 1), batch_size=len(X), epochs=steps, shuffle=False, verbose=0)
    kernel, bias = model.get_weights()
    return kernel.ravel(), float(bias[0])


def run(quick=False, seed=0, out_dir=".", data_path=None):
    """Returns ``{"w", "b", "accuracy", "final_loss", "losses", "gradient_check",
    "keras_w", "keras_b", "pngs"}``. ``seed`` is unused (zero start, full batches: the
    run is deterministic); ``data_path`` too (iris ships with the package)."""
    import numpy as np

    X, y = load_data()
    steps = QUICK_STEPS if quick else STEPS
    print(f"iris petals: {len(y)} flowers, {int(y.sum())} virginica (1), "
          f"{int(len(y) - y.sum())} versicolor (0); features standardized")
    w, b = np.zeros(2), 0.0

    # (1) the hand-derived gradient against the engine's, at a point that is not the start
    w_probe, b_probe = np.array([0.7, -0.4]), 0.2
    _, hand_w, hand_b = loss_and_hand_gradient(w_probe, b_probe, X, y)
    auto_w, auto_b = autodiff_gradient(w_probe, b_probe, X, y)
    difference = float(max(np.abs(hand_w - auto_w).max(), abs(hand_b - auto_b)))
    print(f"gradient at w = {w_probe}, b = {b_probe}:")
    print(f"  by the seeds' formula Xᵀ(φ - y)/n: ∇w = {np.round(hand_w, 6)}, ∇b = {hand_b:.6f}")
    print(f"  by chainrule's autodiff:           ∇w = {np.round(auto_w, 6)}, ∇b = {auto_b:.6f}")
    print(f"  largest difference: {difference:.2e}")

    # (2) gradient descent with that formula
    print(f"gradient descent: w, b start at 0, ε = {LEARNING_RATE}, {steps} steps")
    losses = []
    for step in range(steps + 1):
        loss, grad_w, grad_b = loss_and_hand_gradient(w, b, X, y)
        losses.append(loss)
        if step % max(1, steps // 6) == 0 or step == steps:
            accuracy = float(np.mean((X @ w + b > 0) == (y == 1)))
            print(f"  step {step:4d}: loss {loss:.4f}, accuracy {accuracy:.3f}, "
                  f"w = ({w[0]:+.3f}, {w[1]:+.3f}), b = {b:+.3f}")
        if step < steps:
            w, b = w - LEARNING_RATE * grad_w, b - LEARNING_RATE * grad_b
    accuracy = float(np.mean((X @ w + b > 0) == (y == 1)))
    print(f"final: loss {losses[-1]:.4f}, training accuracy {accuracy:.3f} "
          f"({round(accuracy * len(y))} of {len(y)})")

    # (3) the same model, Keras-style
    keras_w, keras_b = keras_style(X, y, steps, LEARNING_RATE)
    print(f"Keras-style Dense(1, sigmoid) + SGD({LEARNING_RATE}), {steps} full-batch epochs: "
          f"w = ({keras_w[0]:+.3f}, {keras_w[1]:+.3f}), b = {keras_b:+.3f}; "
          f"same as by hand: {bool(np.allclose(keras_w, w, atol=1e-6) and abs(keras_b - b) < 1e-6)}")
    pngs = _plot(X, y, w, b, losses, out_dir)
    return {"w": w, "b": float(b), "accuracy": accuracy, "final_loss": losses[-1],
            "losses": losses, "gradient_check": difference, "keras_w": keras_w,
            "keras_b": keras_b, "pngs": pngs}
