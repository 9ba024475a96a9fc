"""Grad mode is per thread (issue 20, item 1), as PyTorch's: a no_grad block,
a predict() or a tape in one thread never changes what another records."""
import threading

import numpy as np

import chainrule as cr


def _run_threads(*targets):
    errors = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as e:          # noqa: BLE001  (reported below)
                errors.append(e)
        return run
    threads = [threading.Thread(target=guarded(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors


def test_switching_grad_mode_in_a_thread_leaves_other_threads_alone():
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def other():
        with cr.no_grad():
            seen["other, inside no_grad"] = cr.is_grad_enabled()
            inside.set()
            release.wait(10)
        cr.set_grad_enabled(False)              # at once, for the rest of this thread

    t = threading.Thread(target=other)
    t.start()
    inside.wait(10)
    seen["main, while the other is in no_grad"] = cr.is_grad_enabled()
    release.set()
    t.join(10)
    assert seen == {"other, inside no_grad": False, "main, while the other is in no_grad": True}
    assert cr.is_grad_enabled()
    fresh = []
    t = threading.Thread(target=lambda: fresh.append(cr.is_grad_enabled()))
    t.start()
    t.join(10)
    assert fresh == [True]                      # every new thread starts recording


def _model(seed):
    cr.set_seed(seed)
    model = cr.Sequential([cr.layers.Input((4,)), cr.layers.Dense(16, activation="tanh"),
                           cr.layers.Dense(1)])
    model.compile(optimizer=cr.optimizers.SGD(0.05), loss="mse")
    return model


def test_predicting_and_training_in_two_threads_for_hundreds_of_steps():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32))[:, None]
    predictor, trainee = _model(0), _model(1)
    losses = []

    def predict_many():
        for _ in range(300):
            predictor.predict(x, verbose=0)

    def train_many():
        optimizer = cr.optimizers.SGD(0.05)
        for _ in range(300):
            with cr.GradientTape() as tape:
                loss = cr.mean((trainee(x, training=True) - y) ** 2)
            grads = tape.gradient(loss, trainee.trainable_weights)
            assert all(g is not None for g in grads), "a gradient went missing"
            optimizer.apply_gradients(zip(grads, trainee.trainable_weights))
            losses.append(float(loss))

    _run_threads(predict_many, train_many)
    assert len(losses) == 300 and losses[-1] < 0.2 * losses[0]
    assert cr.is_grad_enabled()


def test_two_threads_each_fitting_its_own_model():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32))[:, None]
    models = [_model(2), _model(3)]
    histories = {}

    def fit(k):
        return lambda: histories.__setitem__(
            k, models[k].fit(x, y, epochs=40, batch_size=16, verbose=0).history["loss"])

    _run_threads(fit(0), fit(1))
    for k in (0, 1):
        assert np.all(np.isfinite(histories[k]))
        assert histories[k][-1] < 0.2 * histories[k][0]
    assert cr.is_grad_enabled()


def test_the_mode_counts_come_back_after_balanced_blocks_in_threads():
    from chainrule.graph import MODE_COUNTS
    before = list(MODE_COUNTS)

    def blocks():
        for _ in range(200):
            with cr.no_grad():
                with cr.enable_grad():
                    pass
            with cr.detect_anomaly():
                cr.tensor([1.0]) * 2
    _run_threads(blocks, blocks, blocks)
    assert MODE_COUNTS == before


def test_recording_is_off_in_a_thread_even_while_no_other_thread_disables_it():
    """The shortcut in record (no thread has recording off) must see this thread's own switch."""
    out = []

    def worker():
        x = cr.tensor([1.0], requires_grad=True)
        with cr.no_grad():
            out.append((x * 2).requires_grad)
        out.append((x * 2).requires_grad)
    _run_threads(worker)
    assert out == [False, True]
