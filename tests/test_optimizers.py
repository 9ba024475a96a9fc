"""Optimizers: Keras 3's golden values, formulas written out in NumPy,
convergence, state and config round trips, and bad input."""
import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import optimizers
from chainrule.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Ftrl,
    Nadam,
    RMSprop,
    schedules,
)

ALL_CLASSES = [SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam, Ftrl]


def step(opt, var, grad):
    opt.apply_gradients([(np.asarray(grad, dtype=var.dtype), var)])


# ---------------------------------------------------------------------------
# Keras' acceptance protocol: w = ones(10); one step with full(10, 0.01), then
# steps with arange(0.1, 1.1, 0.1); compare after each step at 5e-4.
# Tables copied from keras-team/keras, keras/src/optimizers/<name>_test.py,
# test_correctness_with_golden (same optimizer configurations).
# ---------------------------------------------------------------------------
def _tile(column):
    return np.tile(np.array(column)[:, None], (1, 10))


GOLDEN = {
    # keras/src/optimizers/sgd_test.py
    "sgd_nesterov": (lambda: SGD(nesterov=True), np.array(
        [[0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999],
         [0.9989, 0.9979, 0.9969, 0.9959, 0.9949, 0.9939, 0.9929, 0.9919, 0.9909, 0.9899],
         [0.9979, 0.9959, 0.9939, 0.9919, 0.9899, 0.9879, 0.9859, 0.9839, 0.9819, 0.9799],
         [0.9969, 0.9939, 0.9909, 0.9879, 0.9849, 0.9819, 0.9789, 0.9759, 0.9729, 0.9699],
         [0.9959, 0.9919, 0.9879, 0.9839, 0.9799, 0.9759, 0.9719, 0.9679, 0.9639, 0.9599]])),
    # keras/src/optimizers/adam_test.py
    "adam_amsgrad": (lambda: Adam(amsgrad=True),
                     _tile([0.999, 0.9982, 0.9974, 0.9965, 0.9955])),
    # keras/src/optimizers/adamw_test.py
    "adamw": (lambda: AdamW(learning_rate=1.0, weight_decay=0.5, epsilon=2), np.array(
        [[0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998],
         [0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382],
         [0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003],
         [0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258],
         [0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159]])),
    # keras/src/optimizers/rmsprop_test.py
    "rmsprop_centered": (lambda: RMSprop(centered=True),
                         _tile([0.9967, 0.9933, 0.9908, 0.9885, 0.9864])),
    # keras/src/optimizers/adagrad_test.py
    "adagrad": (lambda: Adagrad(learning_rate=0.2, initial_accumulator_value=0.3, epsilon=1e-6),
                np.array(
        [[0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963],
         [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
         [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
         [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
         [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825]])),
    # keras/src/optimizers/adadelta_test.py
    "adadelta": (lambda: Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-6),
                 _tile([0.9978, 0.9947, 0.9915, 0.9882, 0.9849])),
    # keras/src/optimizers/adamax_test.py
    "adamax": (lambda: Adamax(learning_rate=0.2, beta_1=0.85, beta_2=0.95, epsilon=1e-6), np.array(
        [[0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8],
         [0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691],
         [0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466],
         [0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848],
         [0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126]])),
    # keras/src/optimizers/nadam_test.py
    "nadam": (lambda: Nadam(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5), np.array(
        [[0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281],
         [-0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717],
         [-0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084],
         [-1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299],
         [-1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454]])),
    # keras/src/optimizers/ftrl_test.py
    "ftrl": (lambda: Ftrl(learning_rate=0.05, learning_rate_power=-0.2, initial_accumulator_value=0.4,
                          l1_regularization_strength=0.05, l2_regularization_strength=0.15,
                          l2_shrinkage_regularization_strength=0.01, beta=0.3), np.array(
        [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
         [-0.0034, -0.0077, -0.0118, -0.0157, -0.0194, -0.023, -0.0263, -0.0294, -0.0325, -0.0354],
         [-0.0078, -0.0162, -0.0242, -0.0317, -0.0387, -0.0454, -0.0516, -0.0575, -0.0631, -0.0685],
         [-0.0121, -0.0246, -0.0363, -0.0472, -0.0573, -0.0668, -0.0757, -0.0842, -0.0922, -0.0999],
         [-0.0164, -0.0328, -0.0481, -0.0623, -0.0753, -0.0875, -0.099, -0.1098, -0.1201, -0.1299]])),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_keras_golden_values(name):
    make, golden = GOLDEN[name]
    opt = make()
    x = cr.tensor(np.ones(10, dtype=np.float32), requires_grad=True)
    step(opt, x, np.full(10, 0.01))
    for expected in golden:
        np.testing.assert_allclose(x.data, expected, rtol=5e-4, atol=5e-4)
        step(opt, x, np.arange(0.1, 1.1, 0.1))


# Keras' test_single_step: lr 0.5, w = [1, 2, 3, 4], g = [1, 6, 7, 2]
# (values from keras/src/optimizers/<name>_test.py).
SINGLE_STEP = {
    SGD: [0.5, -1.0, -0.5, 3.0],
    Adam: [0.5, 1.5, 2.5, 3.5],
    AdamW: [0.4980, 1.4960, 2.494, 3.492],
    RMSprop: [-0.5811, 0.4189, 1.4189, 2.4189],
    Adagrad: [0.5233, 1.5007, 2.5005, 3.5061],
    Adadelta: [0.9993, 1.9993, 2.9993, 3.9993],
    Adamax: [0.5, 1.5, 2.5, 3.5],
    Nadam: [0.4686, 1.4686, 2.4686, 3.4686],
    Ftrl: [0.2218, 1.3954, 2.3651, 2.8814],
}


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_keras_single_step(cls):
    opt = cls(learning_rate=0.5)
    w = cr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    step(opt, w, [1.0, 6.0, 7.0, 2.0])
    np.testing.assert_allclose(w.data, SINGLE_STEP[cls], rtol=1e-4, atol=1e-4)
    assert opt.iterations == 1


@pytest.mark.parametrize("cls", [c for c in ALL_CLASSES if c is not Ftrl], ids=lambda c: c.__name__)
def test_keras_weight_decay_and_exclusions(cls):
    """Keras' test_weight_decay: zero gradient, lr 1, weight_decay 0.004 on w = 2,
    three optimizers in turn; excluded variables (by name or by list) stay 2."""
    grad = np.zeros((), dtype=np.float32)
    var1 = cr.tensor(2.0, requires_grad=True)
    var2 = cr.Tensor(2.0, requires_grad=True, name="exclude")
    var3 = cr.tensor(2.0, requires_grad=True)
    cls(learning_rate=1.0, weight_decay=0.004).apply_gradients([(grad, var1)])
    opt2 = cls(learning_rate=1.0, weight_decay=0.004)
    opt2.exclude_from_weight_decay(var_names=["exclude"])
    opt2.apply_gradients([(grad, var1), (grad, var2)])
    opt3 = cls(learning_rate=1.0, weight_decay=0.004)
    opt3.exclude_from_weight_decay(var_list=[var3])
    opt3.apply_gradients([(grad, var1), (grad, var3)])
    assert float(var1) == pytest.approx(1.9760959, abs=1e-6)
    assert float(var2) == pytest.approx(2.0, abs=1e-6)
    assert float(var3) == pytest.approx(2.0, abs=1e-6)


# ---------------------------------------------------------------------------
# Formulas written out in NumPy (float64), several steps with random gradients.
# ---------------------------------------------------------------------------
def _run(opt, w0, grads):
    w = cr.tensor(w0.copy(), requires_grad=True)
    for g in grads:
        step(opt, w, g)
    return w.data


@pytest.fixture
def problem(rng):
    w0 = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) * 3 for _ in range(6)]
    return w0, grads


def test_sgd_momentum_formula(problem):
    w0, grads = problem
    lr, mu = 0.05, 0.8
    w, v = w0.copy(), np.zeros_like(w0)
    for g in grads:
        v = mu * v - lr * g
        w = w + v
    np.testing.assert_allclose(_run(SGD(lr, momentum=mu), w0, grads), w, rtol=1e-12)


def test_sgd_nesterov_formula(problem):
    w0, grads = problem
    lr, mu = 0.05, 0.8
    w, v = w0.copy(), np.zeros_like(w0)
    for g in grads:
        v = mu * v - lr * g
        w = w + mu * v - lr * g
    np.testing.assert_allclose(_run(SGD(lr, momentum=mu, nesterov=True), w0, grads), w, rtol=1e-12)


def test_rmsprop_centered_with_momentum_formula(problem):
    w0, grads = problem
    lr, rho, mu, eps = 0.01, 0.8, 0.7, 1e-7
    w, v, mg, m = w0.copy(), np.zeros_like(w0), np.zeros_like(w0), np.zeros_like(w0)
    for g in grads:
        v = rho * v + (1 - rho) * g**2
        mg = rho * mg + (1 - rho) * g
        m = mu * m + lr * g / np.sqrt(v - mg**2 + eps)
        w = w - m
    opt = RMSprop(lr, rho=rho, momentum=mu, centered=True)
    np.testing.assert_allclose(_run(opt, w0, grads), w, rtol=1e-10)


def test_adam_formula_with_epsilon_outside_the_bias_correction(problem):
    w0, grads = problem
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        w = w - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(_run(Adam(lr), w0, grads), w, rtol=1e-10)


def test_clipnorm_clips_each_gradient_to_its_norm(rng):
    a0, b0 = rng.normal(size=3), rng.normal(size=(2, 2))
    ga, gb = np.array([3.0, 4.0, 0.0]), np.array([[0.1, 0.1], [0.1, 0.0]])   # norms 5 and ~0.17
    a, b = cr.tensor(a0.copy()), cr.tensor(b0.copy())
    SGD(1.0, clipnorm=1.0).apply_gradients([(ga, a), (gb, b)])

    def clip(g, c):
        return g * c / max(np.linalg.norm(g), c)
    np.testing.assert_allclose(a.data, a0 - clip(ga, 1.0), rtol=1e-12)
    np.testing.assert_allclose(a.data, a0 - ga / 5, rtol=1e-12)
    np.testing.assert_allclose(b.data, b0 - gb, rtol=1e-12)       # small norm: unchanged


def test_global_clipnorm_scales_all_gradients_together(rng):
    a0, b0 = rng.normal(size=3), rng.normal(size=(2, 2))
    ga, gb = np.array([3.0, 0.0, 0.0]), np.array([[0.0, 4.0], [0.0, 0.0]])   # global norm 5
    a, b = cr.tensor(a0.copy()), cr.tensor(b0.copy())
    SGD(1.0, global_clipnorm=2.0).apply_gradients([(ga, a), (gb, b)])
    norm = np.sqrt(np.sum(ga**2) + np.sum(gb**2))
    np.testing.assert_allclose(a.data, a0 - ga * 2.0 / norm, rtol=1e-12)
    np.testing.assert_allclose(b.data, b0 - gb * 2.0 / norm, rtol=1e-12)
    # under the threshold nothing changes
    c = cr.tensor(a0.copy())
    SGD(1.0, global_clipnorm=100.0).apply_gradients([(ga, c)])
    np.testing.assert_allclose(c.data, a0 - ga, rtol=1e-12)


def test_clipvalue_clips_elementwise(rng):
    w0 = rng.normal(size=5)
    g = np.array([-3.0, -0.2, 0.0, 0.4, 7.0])
    w = cr.tensor(w0.copy())
    SGD(0.1, clipvalue=0.5).apply_gradients([(g, w)])
    np.testing.assert_allclose(w.data, w0 - 0.1 * np.clip(g, -0.5, 0.5), rtol=1e-12)


def test_keras_clip_examples():
    """Keras' test_clip_norm / test_clip_value: [100, 100] -> [√2/2, √2/2] and [1, 1]."""
    for kwargs, expected in [({"clipnorm": 1}, [2**0.5 / 2] * 2), ({"clipvalue": 1}, [1.0, 1.0])]:
        w = cr.tensor([0.0, 0.0], dtype="float64")
        SGD(learning_rate=1.0, **kwargs).apply_gradients([(np.array([100.0, 100.0]), w)])
        np.testing.assert_allclose(-w.data, expected, rtol=1e-7)


def test_weight_decay_is_decoupled_and_applied_before_the_step(problem):
    w0, grads = problem
    lr, mu, wd = 0.05, 0.9, 0.1
    w, v = w0.copy(), np.zeros_like(w0)
    for g in grads:
        w = w - wd * lr * w                  # decay first, with the current lr
        v = mu * v - lr * g
        w = w + v
    np.testing.assert_allclose(_run(SGD(lr, momentum=mu, weight_decay=wd), w0, grads), w, rtol=1e-12)


def test_adamw_formula(problem):
    w0, grads = problem
    lr, wd, b1, b2, eps = 0.01, 0.004, 0.9, 0.999, 1e-7
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
        w = w - wd * lr * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        w = w - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(_run(AdamW(lr), w0, grads), w, rtol=1e-10)


def test_schedule_drives_the_step_size():
    sched = schedules.PiecewiseConstantDecay([1], [1.0, 0.1])   # lr 1 at steps 0, 1; then 0.1
    w = cr.tensor([0.0], dtype="float64")
    opt = SGD(sched)
    lrs = []
    for _ in range(4):
        lrs.append(opt.learning_rate)
        step(opt, w, [1.0])
    assert lrs == [1.0, 1.0, 0.1, 0.1]
    np.testing.assert_allclose(w.data, [-2.2], rtol=1e-12)


# ---------------------------------------------------------------------------
# Convergence. Rosenbrock f(x, y) = (1 - x)² + 100 (y - x²)², minimum at (1, 1),
# from (-1.2, 1) (f = 24.2); least squares ||A w - b||² / n with a known solution.
# Learning rates chosen per optimizer; each stated below with its step budget.
# ---------------------------------------------------------------------------
ROSENBROCK = {   # class: (kwargs, steps, tolerance on max |p - (1, 1)|)
    SGD: ({"learning_rate": 1e-3, "momentum": 0.9}, 4000, 1e-2),
    RMSprop: ({"learning_rate": 1e-3, "momentum": 0.9}, 4000, 1e-2),
    Adam: ({"learning_rate": 2e-2}, 4000, 1e-2),
    AdamW: ({"learning_rate": 2e-2, "weight_decay": 1e-4}, 4000, 1e-2),
    Adagrad: ({"learning_rate": 1.0}, 20000, 1e-2),
    # Adadelta crawls along the curved valley (its step is a ratio of running
    # RMS values): it gets within 0.1 and then stalls for tens of thousands of steps.
    Adadelta: ({"learning_rate": 1.0, "rho": 0.999}, 30000, 1e-1),
    Adamax: ({"learning_rate": 5e-2}, 4000, 1e-2),
    Nadam: ({"learning_rate": 2e-2}, 4000, 1e-2),
    Ftrl: ({"learning_rate": 1.0}, 20000, 1e-2),
}


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_minimizes_rosenbrock(cls):
    kwargs, steps, tolerance = ROSENBROCK[cls]
    p = cr.tensor([-1.2, 1.0], dtype="float64", requires_grad=True)
    opt = cls(**kwargs)
    for _ in range(steps):
        x, y = p.data
        # the analytic gradient keeps the test fast; minimize() is tested on least squares
        grad = np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
        opt.apply_gradients([(grad, p)])
    assert rosenbrock(p.data) < 1e-2 * rosenbrock(np.array([-1.2, 1.0]))
    np.testing.assert_allclose(p.data, [1.0, 1.0], atol=tolerance, err_msg=f"{cls.__name__} {kwargs}")


LEAST_SQUARES = {   # class: (kwargs, steps); all must reach ||w - w*|| < 1e-3
    SGD: ({"learning_rate": 0.1, "momentum": 0.5}, 300),
    RMSprop: ({"learning_rate": 1e-3, "momentum": 0.9}, 300),
    Adam: ({"learning_rate": 0.05}, 300),
    AdamW: ({"learning_rate": 0.05, "weight_decay": 0.0}, 300),
    Adagrad: ({"learning_rate": 0.5}, 300),
    Adadelta: ({"learning_rate": 30.0, "rho": 0.99}, 300),
    Adamax: ({"learning_rate": 0.05}, 300),
    Nadam: ({"learning_rate": 0.05}, 300),
    Ftrl: ({"learning_rate": 1.0}, 300),
}


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_minimizes_least_squares(cls):
    kwargs, steps = LEAST_SQUARES[cls]
    rng = np.random.default_rng(0)
    A = cr.tensor(rng.normal(size=(40, 3)))
    w_true = np.array([1.5, -2.0, 0.5])
    b = cr.tensor(A.data @ w_true)
    w = cr.tensor(np.zeros(3), dtype="float64", requires_grad=True)
    opt = cls(**kwargs)
    for _ in range(steps):
        opt.minimize(lambda: cr.mean((A @ w - b) ** 2), [w])
    assert np.linalg.norm(w.data - w_true) < 1e-3, f"{cls.__name__} {kwargs}: {w.data}"


# ---------------------------------------------------------------------------
# State, config, the contract with apply_gradients.
# ---------------------------------------------------------------------------
KERAS_CONFIGS = {   # the configurations of Keras' test_config
    SGD: {"learning_rate": 0.5, "momentum": 0.06, "nesterov": True, "weight_decay": 0.004},
    Adam: {"learning_rate": 0.5, "beta_1": 0.5, "beta_2": 0.67, "epsilon": 1e-5, "amsgrad": True},
    AdamW: {"learning_rate": 0.5, "weight_decay": 0.008, "beta_1": 0.5, "beta_2": 0.67,
            "epsilon": 1e-5, "amsgrad": True},
    RMSprop: {"learning_rate": 0.5, "rho": 0.8, "momentum": 0.05, "epsilon": 1e-6, "centered": True},
    Adagrad: {"learning_rate": 0.5, "initial_accumulator_value": 0.2, "epsilon": 1e-5},
    Adadelta: {"learning_rate": 0.5, "rho": 0.9, "epsilon": 1e-5},
    Adamax: {"learning_rate": 0.5, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-5},
    Nadam: {"learning_rate": 0.5, "beta_1": 0.5, "beta_2": 0.67, "epsilon": 1e-5},
    Ftrl: {"learning_rate": 0.05, "learning_rate_power": -0.2, "initial_accumulator_value": 0.4,
           "l1_regularization_strength": 0.05, "l2_regularization_strength": 0.15,
           "l2_shrinkage_regularization_strength": 0.01, "beta": 0.3},
}


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_config_round_trip(cls):
    opt = cls(**KERAS_CONFIGS[cls], clipnorm=2.0)
    config = opt.get_config()
    for key, value in KERAS_CONFIGS[cls].items():
        assert config[key] == value
    again = cls.from_config(copy.deepcopy(config))
    assert type(again) is cls and again.get_config() == config
    via_dict = optimizers.deserialize(optimizers.serialize(opt))
    assert type(via_dict) is cls and via_dict.get_config() == config


def test_config_with_a_schedule_inside_round_trips():
    sched = schedules.CosineDecay(0.1, decay_steps=100, alpha=0.1, warmup_target=0.5,
                                  warmup_steps=10)
    opt = Adam(learning_rate=sched, clipvalue=0.5)
    data = optimizers.serialize(opt)
    assert data["config"]["learning_rate"]["class_name"] == "CosineDecay"
    again = optimizers.deserialize(copy.deepcopy(data))
    assert isinstance(again._learning_rate, schedules.CosineDecay)
    assert again.get_config() == opt.get_config()
    for it in [0, 5, 10, 60, 200]:
        opt.iterations = again.iterations = it
        assert again.learning_rate == opt.learning_rate == sched(it)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_state_round_trip_continues_bit_identically(cls, rng):
    kwargs = {**KERAS_CONFIGS[cls], "learning_rate": 0.01}
    w_a, w_b = (cr.tensor(rng.normal(size=(3, 2)).astype(np.float32), requires_grad=True),
                cr.tensor(rng.normal(size=4).astype(np.float32), requires_grad=True))
    grads = [(rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=4).astype(np.float32))
             for _ in range(6)]
    opt = cls(**kwargs)
    for ga, gb in grads[:3]:
        opt.apply_gradients([(ga, w_a), (gb, w_b)])
    state = opt.get_state([w_a, w_b])
    assert state["iterations"] == 3
    saved_a, saved_b = w_a.data.copy(), w_b.data.copy()
    for ga, gb in grads[3:]:
        opt.apply_gradients([(ga, w_a), (gb, w_b)])

    # a fresh optimizer and fresh variables, restored from the saved state
    restored = cls.from_config(opt.get_config())
    v_a, v_b = cr.tensor(saved_a, requires_grad=True), cr.tensor(saved_b, requires_grad=True)
    restored.set_state({k: np.array(v) for k, v in state.items()}, [v_a, v_b])
    for ga, gb in grads[3:]:
        restored.apply_gradients([(ga, v_a), (gb, v_b)])
    assert restored.iterations == opt.iterations == 6
    np.testing.assert_array_equal(v_a.data, w_a.data)
    np.testing.assert_array_equal(v_b.data, w_b.data)


def test_state_keys_name_the_position_and_the_slot():
    w1, w2 = cr.tensor([1.0], requires_grad=True), cr.tensor([2.0, 3.0], requires_grad=True)
    opt = Adam(amsgrad=True)
    opt.apply_gradients([([0.1], w1), ([0.1, 0.2], w2)])
    state = opt.get_state([w1, w2])
    assert set(state) == {"iterations", "learning_rate", "0/momentum", "0/velocity",
                          "0/velocity_hat", "1/momentum", "1/velocity", "1/velocity_hat"}
    assert all(isinstance(v, np.ndarray) for v in state.values())
    with pytest.raises(ValueError, match="shape"):
        Adam(amsgrad=True).set_state(state, [w2, w1])


def test_apply_gradients_updates_in_place_without_recording():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    buffer, version = w.data, w._version
    opt = SGD(0.1)
    assert opt.apply_gradients(zip([cr.tensor([1.0, 1.0])], [w])) == 1
    assert w.data is buffer and w._version == version + 1
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.data, [0.9, 1.9], rtol=1e-6)


def test_float64_variables_stay_float64():
    for cls in ALL_CLASSES:
        w = cr.tensor(np.ones(3), requires_grad=True)
        cls(learning_rate=0.1).apply_gradients([(np.full(3, 0.5, dtype=np.float32), w)])
        assert w.dtype == np.float64, cls.__name__


def test_none_gradients_are_skipped_with_a_warning():
    a, b = cr.tensor([1.0], requires_grad=True), cr.tensor([1.0], requires_grad=True)
    opt = SGD(0.5)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients([(None, a), ([1.0], b)])
    assert float(a[0]) == 1.0 and float(b[0]) == 0.5 and opt.iterations == 1
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply_gradients([(None, a)])


def test_gradient_shape_must_match():
    with pytest.raises(ValueError, match=r"Gradient of shape \(3,\) does not match .* \(2,\)"):
        SGD().apply_gradients([(np.ones(3), cr.tensor([1.0, 2.0]))])


def test_minimize_with_tape_and_returns_loss():
    w = cr.tensor([3.0], requires_grad=True)
    opt = SGD(0.25)
    loss = opt.minimize(lambda: (w * w).sum(), [w])
    assert float(loss) == pytest.approx(9.0)
    np.testing.assert_allclose(w.data, [1.5])          # 3 - 0.25 * 6


def test_learning_rate_property_and_setter():
    opt = SGD(0.1)
    assert opt.learning_rate == pytest.approx(0.1) and isinstance(opt.learning_rate, float)
    opt.learning_rate = 0.02
    assert opt.learning_rate == pytest.approx(0.02)
    assert opt.get_config()["learning_rate"] == pytest.approx(0.02)
    with pytest.raises(ValueError, match="learning_rate=-1"):
        opt.learning_rate = -1.0
    scheduled = SGD(schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5))
    scheduled.iterations = 3
    assert scheduled.learning_rate == pytest.approx(0.125)
    with pytest.raises(TypeError, match="not settable"):
        scheduled.learning_rate = 0.1


def test_get_accepts_names_dicts_and_instances():
    for name, cls in [("sgd", SGD), ("adam", Adam), ("adamw", AdamW), ("rmsprop", RMSprop),
                      ("adagrad", Adagrad), ("adadelta", Adadelta), ("adamax", Adamax),
                      ("nadam", Nadam), ("ftrl", Ftrl), ("Adam", Adam), ("SGD", SGD)]:
        assert type(optimizers.get(name)) is cls
    opt = RMSprop(0.3)
    assert optimizers.get(opt) is opt
    got = optimizers.get({"class_name": "RMSprop", "config": {"learning_rate": 0.3}})
    assert type(got) is RMSprop and got.learning_rate == pytest.approx(0.3)
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; did you mean 'adam'"):
        optimizers.get("adamm")
    with pytest.raises(ValueError, match="Could not interpret"):
        optimizers.get(3)


def test_keras_defaults():
    assert SGD().learning_rate == 0.01
    assert (RMSprop().learning_rate, RMSprop().rho, RMSprop().epsilon) == (0.001, 0.9, 1e-7)
    adam = Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert AdamW().weight_decay == 0.004
    assert (Adagrad().learning_rate, Adagrad().initial_accumulator_value, Adagrad().epsilon) == \
        (0.001, 0.1, 1e-7)
    assert (Adadelta().learning_rate, Adadelta().rho, Adadelta().epsilon) == (0.001, 0.95, 1e-7)
    assert (Adamax().learning_rate, Adamax().epsilon) == (0.001, 1e-7)
    assert (Nadam().learning_rate, Nadam().epsilon) == (0.001, 1e-7)
    ftrl = Ftrl()
    assert (ftrl.learning_rate, ftrl.learning_rate_power, ftrl.initial_accumulator_value) == \
        (0.001, -0.5, 0.1)


# ---------------------------------------------------------------------------
# Bad input: ValueError naming the argument and the value received.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("make, match", [
    (lambda: SGD(learning_rate=-0.1), r"`learning_rate`.*learning_rate=-0.1"),
    (lambda: Adam(learning_rate=-1e-3), r"`learning_rate`.*learning_rate=-0.001"),
    (lambda: RMSprop(rho=1.0), r"`rho` must be in \[0, 1\).*rho=1.0"),
    (lambda: RMSprop(rho=-0.1), r"`rho`.*rho=-0.1"),
    (lambda: Adadelta(rho=1.5), r"`rho`.*rho=1.5"),
    (lambda: SGD(momentum=1.1), r"`momentum` must be in \[0, 1\].*momentum=1.1"),
    (lambda: SGD(momentum=-0.5), r"`momentum`.*momentum=-0.5"),
    (lambda: RMSprop(momentum=2.0), r"`momentum`.*momentum=2.0"),
    (lambda: Ftrl(learning_rate_power=0.5), r"`learning_rate_power`.*learning_rate_power=0.5"),
    (lambda: Ftrl(l1_regularization_strength=-1.0), r"l1_regularization_strength=-1.0"),
    (lambda: Adagrad(initial_accumulator_value=-0.1), r"initial_accumulator_value=-0.1"),
    (lambda: Adam(beta_1=1.0), r"`beta_1`.*beta_1=1.0"),
    (lambda: SGD(clipnorm=1.0, clipvalue=1.0), r"Only one of .*clipnorm=1.0, clipvalue=1.0"),
    (lambda: Adam(clipnorm=1.0, global_clipnorm=2.0), r"global_clipnorm=2.0"),
    (lambda: SGD(clipnorm=-1.0), r"`clipnorm`.*clipnorm=-1.0"),
    (lambda: AdamW(weight_decay=None), r"`weight_decay` must be a float. Received: weight_decay=None"),
    (lambda: SGD(decay=0.1), r"not recognized"),
])
def test_bad_arguments_are_rejected(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_non_number_learning_rate_is_a_type_error():
    with pytest.raises(TypeError, match="learning_rate='fast'"):
        SGD(learning_rate="fast")
