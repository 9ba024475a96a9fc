"""chainrule.attacks: FGSM, PGD, the linear attack and adversarial training.

On a logistic regression p = σ(wᵀx + b) the gradient of the cross-entropy
with respect to x is known in closed form, ∇x J = (σ(z) - y)·w, so FGSM must
move every input value by exactly eps·sign(w)·sign(σ(z) - y) = eps·sign(w)·(1 - 2y).
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule import attacks, layers


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.fixture
def logistic(rng):
    """A logistic regression as a cr.Model (weights set by hand) and as a
    plain function, with inputs away from the clip edges."""
    n_features = 12
    w = rng.normal(size=(n_features, 1)).astype(np.float32)
    b = np.array([0.1], dtype=np.float32)
    model = cr.Sequential([cr.Input((n_features,)), layers.Dense(1)])
    model.set_weights([w, b])
    x = rng.uniform(0.2, 0.8, size=(20, n_features)).astype(np.float32)
    y = (rng.random(20) < 0.5).astype(np.int64)
    return model, (lambda t: t @ cr.tensor(w) + cr.tensor(b)), w, b, x, y


# --------------------------------------------------------------------------
# FGSM on logistic regression: the closed form
# --------------------------------------------------------------------------
@pytest.mark.parametrize("as_function", [False, True])
def test_fgsm_perturbation_is_eps_sign_w_times_loss_direction(logistic, as_function):
    model, function, w, b, x, y = logistic
    eps = 0.05
    x_adv = attacks.fgsm(function if as_function else model, x, y, eps)
    expected = eps * np.sign(w[:, 0])[None, :] * (1 - 2 * y)[:, None]
    assert isinstance(x_adv, np.ndarray) and x_adv.dtype == np.float32
    np.testing.assert_allclose(x_adv - x, expected, atol=1e-6)
    assert np.isclose(np.abs(x_adv - x).max(), eps, atol=1e-6)
    # The loss went up for every sample: the true class became less likely.
    p_true = lambda xs: np.where(y == 1, sigmoid(xs @ w + b)[:, 0], 1 - sigmoid(xs @ w + b)[:, 0])
    assert np.all(p_true(x_adv) < p_true(x))


def test_fgsm_returns_a_tensor_for_a_tensor(logistic):
    model, _, _, _, x, y = logistic
    out = attacks.fgsm(model, cr.tensor(x), cr.tensor(y), 0.05)
    assert isinstance(out, cr.Tensor) and not out.requires_grad
    np.testing.assert_allclose(out.numpy(), attacks.fgsm(model, x, y, 0.05))


def test_fgsm_keeps_float64(logistic):
    _, function, _, _, x, y = logistic
    out = attacks.fgsm(function, x.astype(np.float64), y, 0.05)
    assert out.dtype == np.float64


def test_fgsm_clips_to_the_valid_range(logistic, rng):
    model, _, w, _, _, y = logistic
    x = rng.choice([0.0, 0.01, 0.5, 0.99, 1.0], size=(20, 12)).astype(np.float32)
    eps = 0.1
    x_adv = attacks.fgsm(model, x, y, eps)
    unclipped = x + eps * np.sign(w[:, 0])[None, :] * (1 - 2 * y)[:, None]
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    np.testing.assert_allclose(x_adv, np.clip(unclipped, 0, 1), atol=1e-6)
    assert (x_adv != unclipped).any()               # the clip did something here
    # Another range: clip=(-1, 1) keeps what (0, 1) cut off below 0.
    x_wide = attacks.fgsm(model, x, y, eps, clip=(-1, 1))
    assert x_wide.min() < 0 and x_wide.min() >= -1


def test_targeted_fgsm_moves_toward_the_target(logistic):
    model, _, w, b, x, _ = logistic
    for wanted in (0, 1):
        target = np.full(len(x), wanted)
        x_adv = attacks.fgsm(model, x, target, 0.05, targeted=True)
        before, after = sigmoid(x @ w + b)[:, 0], sigmoid(x_adv @ w + b)[:, 0]
        assert np.all(after > before) if wanted == 1 else np.all(after < before)
        # Toward class 1 means along +sign(w): the opposite of untargeted FGSM on label 1.
        step = 0.05 * (2 * wanted - 1) * np.sign(w[:, 0])
        np.testing.assert_allclose(x_adv - x, np.broadcast_to(step, x.shape), atol=1e-6)


def test_fgsm_without_labels_attacks_the_models_own_predictions(logistic):
    model, _, w, b, x, _ = logistic
    predicted = (x @ w + b)[:, 0] > 0
    np.testing.assert_allclose(attacks.fgsm(model, x, None, 0.05),
                               attacks.fgsm(model, x, predicted.astype(int), 0.05))


def test_batches_give_the_same_result(logistic):
    model, _, _, _, x, y = logistic
    np.testing.assert_allclose(attacks.fgsm(model, x, y, 0.05, batch_size=3),
                               attacks.fgsm(model, x, y, 0.05, batch_size=256))


def test_labels_of_shape_n_by_1_are_accepted(logistic):
    model, _, _, _, x, y = logistic
    np.testing.assert_allclose(attacks.fgsm(model, x, y[:, None].astype(np.float32), 0.05),
                               attacks.fgsm(model, x, y, 0.05))


# --------------------------------------------------------------------------
# Softmax models: the closed form, and confident models are still attacked
# --------------------------------------------------------------------------
def test_fgsm_on_softmax_regression_matches_closed_form(rng):
    """z = xW + b, J = -log softmax(z)_y: ∇x J = W (p - onehot(y))."""
    W = rng.normal(size=(6, 4))
    x = rng.uniform(0.2, 0.8, size=(10, 6))
    y = rng.integers(0, 4, size=10)
    x_adv = attacks.fgsm(lambda t: t @ cr.tensor(W), x, y, 0.05)
    z = x @ W
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = (p - np.eye(4)[y]) @ W.T
    np.testing.assert_allclose(x_adv - x, 0.05 * np.sign(grad), atol=1e-12)


def test_a_confident_model_is_still_attacked():
    """Logits of ±1000: in float32 the cross-entropy gradient is exactly 0
    (σ(z) rounds to 1), which would hide the model from the attack."""
    w = np.linspace(-1, 1, 8).astype(np.float32)[:, None] * 1000
    x = np.full((3, 8), 0.5, dtype=np.float32)
    x[:, -1] = 1.0                                     # logit +1000·(0.5·Σw + 0.5) > 0
    model = lambda t: t @ cr.tensor(w)
    assert np.all((x @ w)[:, 0] > 100)
    x_adv = attacks.fgsm(model, x, np.ones(3), 0.01)
    assert np.all(np.abs(x_adv - x)[:, :-1] == pytest.approx(0.01))
    assert np.all((x_adv @ w) < (x @ w))
    # The same with two softmax units.
    w2 = np.concatenate([-w, w], axis=1)
    x_adv2 = attacks.fgsm(lambda t: t @ cr.tensor(w2), x, np.ones(3, dtype=int), 0.01)
    assert np.all(np.abs(x_adv2 - x)[:, :-1] == pytest.approx(0.01))


def test_given_loss_is_climbed_numerically(rng):
    """A loss without a closed form here (mean squared error) goes through
    autodiff: the step is eps·sign of the finite-difference gradient."""
    W = rng.normal(size=(5, 1))
    x = rng.uniform(0.3, 0.7, size=(4, 5))
    y = np.array([0, 1, 1, 0])
    f = lambda t: cr.sigmoid(t @ cr.tensor(W))
    x_adv = attacks.fgsm(f, x, y, 0.01, loss="mse")

    def loss(xs):
        return np.mean((1 / (1 + np.exp(-(xs @ W)))[:, 0] - y) ** 2)
    numeric = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[idx] = 1e-6
        numeric[idx] = (loss(x + step) - loss(x - step)) / 2e-6
    np.testing.assert_allclose(x_adv - x, 0.01 * np.sign(numeric), atol=1e-12)


# --------------------------------------------------------------------------
# The linear attack
# --------------------------------------------------------------------------
def test_linear_attack_adds_the_scaled_weights_and_raises_p_ship(logistic):
    _, _, w, b, x, _ = logistic
    frogs = x[(x @ w + b)[:, 0] < 0]                   # predicted class 0, "frog"
    assert len(frogs)
    ships = attacks.linear_attack(w, frogs, 1 / 6)
    np.testing.assert_allclose(ships, frogs + w[:, 0] / 6, atol=1e-7)
    logit_before, logit_after = (frogs @ w + b)[:, 0], (ships @ w + b)[:, 0]
    # Adding w/6 moves the logit by exactly ‖w‖²/6, the most for a change of that length.
    np.testing.assert_allclose(logit_after - logit_before, (w ** 2).sum() / 6, rtol=1e-5)
    assert np.all(sigmoid(logit_after) > sigmoid(logit_before))
    # A negative scale goes the other way, and clip keeps the range.
    back = attacks.linear_attack(cr.tensor(w), cr.tensor(frogs), -1 / 6, clip=(0, 1))
    assert isinstance(back, cr.Tensor) and back.numpy().min() >= 0
    assert np.all((back.numpy() @ w + b)[:, 0] < logit_before)


def test_linear_attack_checks_the_weights_shape(logistic):
    _, _, _, _, x, _ = logistic
    with pytest.raises(ValueError, match=r"weights have 5 entries.*one sample of x has shape \(12,\)"):
        attacks.linear_attack(np.ones(5), x, 1 / 6)


# --------------------------------------------------------------------------
# PGD and robust accuracy
# --------------------------------------------------------------------------
def _small_cnn(dropout=True, batchnorm=True):
    cr.set_seed(3)
    stack = [cr.Input((8, 8, 1)), layers.Conv2D(4, 3, padding="same")]
    if batchnorm:
        stack.append(layers.BatchNormalization())
    stack += [layers.Activation("relu"), layers.Flatten()]
    if dropout:
        stack.append(layers.Dropout(0.3))
    stack.append(layers.Dense(3))
    model = cr.Sequential(stack)
    model.compile("adam", cr.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.fixture
def trained_cnn():
    """A small CNN with BatchNorm and Dropout, trained a little on 3 classes
    of 8x8 images (bright top, bright left, dark)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 0.3, size=(90, 8, 8, 1)).astype(np.float32)
    y = np.repeat([0, 1, 2], 30)
    x[y == 0, :3] += 0.6
    x[y == 1, :, :3] += 0.6
    model = _small_cnn()
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    return model, x, y


def test_pgd_stays_in_the_eps_ball_and_beats_fgsm(trained_cnn):
    model, x, y = trained_cnn
    eps = 0.15
    x_pgd = attacks.pgd(model, x, y, eps, alpha=0.04, steps=10)
    assert np.abs(x_pgd - x).max() <= eps + 1e-6
    assert x_pgd.min() >= 0 and x_pgd.max() <= 1
    accuracy = attacks.robust_accuracy(model, x, y, [0, eps])
    accuracy_pgd = attacks.robust_accuracy(model, x, y, [eps], method="pgd", alpha=0.04, steps=10)
    assert accuracy[0] > 0.9
    assert accuracy_pgd[eps] <= accuracy[eps] < accuracy[0]
    predicted = model.predict(x_pgd).argmax(1)
    assert np.mean(predicted == y) == pytest.approx(accuracy_pgd[eps])


def test_pgd_is_reproducible_and_seeded_privately(trained_cnn):
    model, x, y = trained_cnn
    state = cr.random.default_rng().bit_generator.state
    a = attacks.pgd(model, x, y, 0.1, steps=3, seed=1, early_stop=False)
    b = attacks.pgd(model, x, y, 0.1, steps=3, seed=1, early_stop=False)
    c = attacks.pgd(model, x, y, 0.1, steps=3, seed=2, early_stop=False)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert cr.random.default_rng().bit_generator.state == state


def test_pgd_early_stop_leaves_fooled_samples_where_they_are(trained_cnn):
    model, x, y = trained_cnn
    wrong = (y + 1) % 3                 # with these labels every sample is already "fooled"
    x_adv = attacks.pgd(model, x, wrong, 0.1, random_start=False)
    np.testing.assert_array_equal(x_adv, x)


def test_targeted_pgd_reaches_the_target(trained_cnn):
    model, x, y = trained_cnn
    target = (y + 1) % 3
    x_adv = attacks.pgd(model, x, target, 0.3, alpha=0.05, steps=20, targeted=True)
    clean_hits = np.mean(model.predict(x).argmax(1) == target)
    assert np.mean(model.predict(x_adv).argmax(1) == target) > clean_hits + 0.5


def test_robust_accuracy_at_zero_is_the_clean_accuracy(trained_cnn):
    model, x, y = trained_cnn
    result = attacks.robust_accuracy(model, cr.tensor(x), y, [0.0, 0.05, 0.2])
    assert list(result) == [0.0, 0.05, 0.2]
    assert result[0.0] == pytest.approx(np.mean(model.predict(x).argmax(1) == y))
    assert result[0.2] <= result[0.05] <= result[0.0]


def test_attacks_leave_the_model_and_global_state_alone(trained_cnn):
    model, x, y = trained_cnn
    weights = [w.copy() for w in model.get_weights()]     # includes BN moving statistics
    grads = [w.grad for w in model.weights]
    iterations = int(model.optimizer.iterations.numpy()) \
        if hasattr(model.optimizer.iterations, "numpy") else model.optimizer.iterations
    state = cr.random.default_rng().bit_generator.state
    attacks.fgsm(model, x, y, 0.1)
    attacks.pgd(model, x, y, 0.1, steps=3)
    attacks.robust_accuracy(model, x, y, [0, 0.1], method="pgd", steps=2)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert [w.grad for w in model.weights] == grads
    now = model.optimizer.iterations
    assert (int(now.numpy()) if hasattr(now, "numpy") else now) == iterations
    assert cr.random.default_rng().bit_generator.state == state
    # Dropout was off: the same call twice gives the same example.
    np.testing.assert_array_equal(attacks.fgsm(model, x, y, 0.1), attacks.fgsm(model, x, y, 0.1))


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------
def test_negative_eps_is_refused(logistic):
    model, _, _, _, x, y = logistic
    with pytest.raises(ValueError, match=r"eps must be >= 0.*got -0.1"):
        attacks.fgsm(model, x, y, -0.1)
    with pytest.raises(ValueError, match=r"eps must be >= 0"):
        attacks.pgd(model, x, y, -1)
    with pytest.raises(ValueError, match=r"eps must be >= 0"):
        attacks.robust_accuracy(model, x, y, [0, -0.1])
    with pytest.raises(ValueError, match=r"eps must be >= 0"):
        attacks.AdversarialTraining(eps=-0.1)


def test_images_outside_the_declared_range_are_refused(logistic):
    model, _, _, _, x, y = logistic
    with pytest.raises(ValueError, match=r"x has values in \[51.*\] but clip=\(0, 1\).*x / 255"):
        attacks.fgsm(model, x * 255, y, 0.1)
    with pytest.raises(ValueError, match=r"x has values in \[-0.4.*valid range as \[0, 1\]"):
        attacks.pgd(model, x - 0.7, y, 0.1)
    # Declaring the range that is used is fine.
    assert attacks.fgsm(model, x * 255, y, 2, clip=(0, 255)).max() <= 255


def test_labels_of_the_wrong_shape_are_refused(logistic, trained_cnn):
    model, _, _, _, x, y = logistic
    with pytest.raises(ValueError, match=r"y has shape \(19,\) but x has 20 samples.*shape \(20,\)"):
        attacks.fgsm(model, x, y[:-1], 0.1)
    cnn, images, labels = trained_cnn
    one_hot = np.eye(3)[labels]
    with pytest.raises(ValueError, match=r"y has shape \(90, 3\).*3 output unit.*y.argmax\(axis=1\)"):
        attacks.fgsm(cnn, images, one_hot, 0.1)
    with pytest.raises(ValueError, match=r"label 3 is outside 0..2"):
        attacks.fgsm(cnn, images, labels + 1, 0.1)
    with pytest.raises(ValueError, match=r"a targeted attack needs y"):
        attacks.fgsm(cnn, images, None, 0.1, targeted=True)


def test_other_bad_arguments(logistic):
    model, _, _, _, x, y = logistic
    with pytest.raises(ValueError, match=r"steps must be a positive integer"):
        attacks.pgd(model, x, y, 0.1, steps=0)
    with pytest.raises(ValueError, match=r"method must be 'fgsm' or 'pgd'"):
        attacks.robust_accuracy(model, x, y, [0.1], method="cw")
    with pytest.raises(ValueError, match=r"clip must be \(low, high\) with low < high"):
        attacks.fgsm(model, x, y, 0.1, clip=(1, 0))
    with pytest.raises(ValueError, match=r"ratio must be in \(0, 1\]"):
        attacks.AdversarialTraining(ratio=0)
    with pytest.raises(ValueError, match=r"batch_size must be a positive integer"):
        attacks.fgsm(model, x, y, 0.1, batch_size=0)


# --------------------------------------------------------------------------
# Adversarial training
# --------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fgsm", "pgd"])
def test_adversarial_training_replaces_part_of_each_batch(trained_cnn, method):
    model, x, y = trained_cnn
    callback = attacks.AdversarialTraining(method=method, eps=0.1, ratio=0.25, steps=3)
    callback.set_model(model)
    callback.on_train_begin()
    state = cr.random.default_rng().bit_generator.state
    xb, yb = x[:16], y[:16].astype(np.float32)
    (new_x,), (new_y,) = callback.transform_batch(0, [xb], [yb])
    assert new_y is yb and new_x.shape == xb.shape and new_x.dtype == xb.dtype
    changed = np.abs(new_x - xb).reshape(16, -1).max(axis=1)
    assert np.all(changed[:4] > 0) and np.all(changed[:4] <= 0.1 + 1e-6)
    assert np.all(changed[4:] == 0)
    assert cr.random.default_rng().bit_generator.state == state
    if method == "fgsm":
        np.testing.assert_allclose(new_x[:4], attacks.fgsm(model, xb[:4], y[:4], 0.1))


def test_fit_with_adversarial_training_trains_on_attacked_batches(trained_cnn):
    model, x, y = trained_cnn
    seen = []

    class Spy(cr.callbacks.Callback):          # runs after AdversarialTraining
        def transform_batch(self, batch, xs, ys):
            seen.append(xs[0].copy())
            return xs, ys
    history = model.fit(x, y, epochs=1, batch_size=30, verbose=0,
                        callbacks=[attacks.AdversarialTraining(eps=0.1, ratio=1.0), Spy()])
    assert np.isfinite(history.history["loss"][0])
    assert len(seen) == 3
    # Every training row is some clean row moved by exactly 0.1 somewhere.
    for batch in seen:
        distance = np.abs(batch[:, None] - x[None]).reshape(len(batch), len(x), -1).max(-1)
        assert np.allclose(distance.min(axis=1), 0.1, atol=1e-6)


@pytest.mark.parametrize("units", [1, 4])
def test_rescaled_cross_entropy_gradient_is_a_positive_multiple_of_the_true_one(rng, units):
    """What the attacks backpropagate for cross-entropy from logits points
    the same way as autodiff's gradient of that loss (float64)."""
    z = rng.normal(scale=3, size=(6, units))
    y = rng.integers(0, max(units, 2), size=6)
    if units == 1:
        loss = cr.losses.BinaryCrossentropy(from_logits=True, reduction="sum")
        true = cr.grad(lambda t: loss(y[:, None].astype(np.float64), t))(z).numpy()
    else:
        loss = cr.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
        true = cr.grad(lambda t: loss(y, t))(z).numpy()
    direction = attacks._cross_entropy_direction(z, y, units)
    factor = np.abs(true).sum(1) / np.abs(direction).sum(1)
    assert np.all(factor > 0)
    np.testing.assert_allclose(direction * factor[:, None], true, rtol=1e-10, atol=1e-14)


def test_adversarial_training_accepts_one_hot_labels(trained_cnn):
    model, x, y = trained_cnn
    model.compile("adam", cr.losses.CategoricalCrossentropy(from_logits=True))
    one_hot = np.eye(3, dtype=np.float32)[y]
    callback = attacks.AdversarialTraining(eps=0.1, ratio=0.5)
    callback.set_model(model)
    (new_x,), (new_y,) = callback.transform_batch(0, [x[:10]], [one_hot[:10]])
    assert new_y is one_hot[:10] or np.array_equal(new_y, one_hot[:10])
    np.testing.assert_allclose(new_x[:5], attacks.fgsm(model, x[:5], y[:5], 0.1))
    history = model.fit(x, one_hot, epochs=1, batch_size=30, verbose=0, callbacks=[callback])
    assert np.isfinite(history.history["loss"][0])
