"""Learning-rate schedules against their Keras 3 formulas, written out here."""
import math

import numpy as np
import pytest

from chainrule.optimizers import SGD, schedules
from chainrule.optimizers.schedules import (
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    PolynomialDecay,
)

STEPS = [0, 1, 7, 10, 25, 99, 100, 101, 250, 1000]


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay(staircase):
    s = ExponentialDecay(0.1, decay_steps=20, decay_rate=0.5, staircase=staircase)
    for t in STEPS:
        p = t // 20 if staircase else t / 20
        assert s(t) == pytest.approx(0.1 * 0.5 ** p, rel=1e-12)
    # just before the first boundary the staircase has not dropped yet
    assert s(19) == pytest.approx(0.1 if staircase else 0.1 * 0.5 ** 0.95)


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay(staircase):
    s = InverseTimeDecay(0.5, decay_steps=10, decay_rate=2.0, staircase=staircase)
    for t in STEPS:
        p = math.floor(t / 10) if staircase else t / 10
        assert s(t) == pytest.approx(0.5 / (1 + 2.0 * p), rel=1e-12)


def test_piecewise_constant_decay_boundaries_belong_to_the_left_piece():
    s = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    expected = {0: 1.0, 9: 1.0, 10: 1.0, 11: 0.5, 20: 0.5, 21: 0.1, 1000: 0.1}
    assert {t: s(t) for t in expected} == expected


@pytest.mark.parametrize("power", [1.0, 0.5, 2.0])
def test_polynomial_decay(power):
    s = PolynomialDecay(0.1, decay_steps=100, end_learning_rate=0.01, power=power)
    for t in STEPS:
        tt = min(t, 100)
        assert s(t) == pytest.approx((0.1 - 0.01) * (1 - tt / 100) ** power + 0.01, rel=1e-12)
    assert s(100) == pytest.approx(0.01) and s(5000) == pytest.approx(0.01)


def test_polynomial_decay_cycle():
    s = PolynomialDecay(0.1, decay_steps=100, end_learning_rate=0.01, power=1.0, cycle=True)
    for t in STEPS:
        d = 100 * (1 if t == 0 else math.ceil(t / 100))
        assert s(t) == pytest.approx(0.09 * (1 - t / d) + 0.01, rel=1e-12)
    assert s(101) == pytest.approx(0.09 * (1 - 101 / 200) + 0.01)   # restarted, over 200 steps


def test_cosine_decay():
    s = CosineDecay(0.2, decay_steps=100, alpha=0.1)
    for t in STEPS:
        tt = min(t, 100)
        cosine = 0.5 * (1 + np.cos(np.pi * tt / 100))
        assert s(t) == pytest.approx(0.2 * ((1 - 0.1) * cosine + 0.1), rel=1e-12)
    assert s(0) == pytest.approx(0.2) and s(100) == pytest.approx(0.02)


def test_cosine_decay_with_warmup():
    s = CosineDecay(0.0, decay_steps=100, alpha=0.0, warmup_target=1.0, warmup_steps=10)
    for t in range(10):
        assert s(t) == pytest.approx(t / 10, rel=1e-12)          # linear warm-up from 0 to 1
    for t in [10, 35, 60, 110, 500]:
        tt = min(t, 110) - 10
        assert s(t) == pytest.approx(0.5 * (1 + np.cos(np.pi * tt / 100)), abs=1e-12)
    assert s(10) == pytest.approx(1.0)


def _sgdr_reference(initial, first, t_mul, m_mul, alpha, step):
    """Walk the periods one by one: period i lasts first * t_mul**i steps."""
    start, length, i = 0.0, float(first), 0
    while step >= start + length:
        start += length
        length *= t_mul
        i += 1
    fraction = (step - start) / length
    cosine = 0.5 * m_mul ** i * (1 + math.cos(math.pi * fraction))
    return initial * ((1 - alpha) * cosine + alpha)


@pytest.mark.parametrize("t_mul, m_mul, alpha", [(2.0, 1.0, 0.0), (2.0, 0.5, 0.1), (1.0, 0.8, 0.0),
                                                  (1.5, 0.9, 0.05)])
def test_cosine_decay_restarts(t_mul, m_mul, alpha):
    s = CosineDecayRestarts(0.1, first_decay_steps=10, t_mul=t_mul, m_mul=m_mul, alpha=alpha)
    for t in [0, 1, 5, 9, 10, 11, 29, 30, 31, 69, 70, 100, 123]:
        assert s(t) == pytest.approx(_sgdr_reference(0.1, 10, t_mul, m_mul, alpha, t),
                                     rel=1e-9, abs=1e-12), t


def test_cosine_decay_restarts_jumps_back_up_at_each_restart():
    s = CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=2.0, m_mul=0.5)
    assert s(0) == pytest.approx(1.0)
    assert s(9) < 0.05 and s(10) == pytest.approx(0.5)        # restart at 10, half as high
    assert s(29) < 0.02 and s(30) == pytest.approx(0.25)      # next one 20 steps later


ALL = [ExponentialDecay(0.1, 20, 0.5, staircase=True), InverseTimeDecay(0.5, 10, 2.0),
       PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
       PolynomialDecay(0.1, 100, 0.01, power=0.5, cycle=True),
       CosineDecay(0.0, 100, alpha=0.1, warmup_target=1.0, warmup_steps=10),
       CosineDecayRestarts(0.1, 10, t_mul=1.5, m_mul=0.9, alpha=0.05)]


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: type(s).__name__)
def test_serialization_round_trip(schedule):
    data = schedules.serialize(schedule)
    assert data["class_name"] == type(schedule).__name__
    again = schedules.deserialize(data)
    assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
    assert [again(t) for t in STEPS] == [schedule(t) for t in STEPS]
    again = type(schedule).from_config(schedule.get_config())
    assert [again(t) for t in STEPS] == [schedule(t) for t in STEPS]


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: type(s).__name__)
def test_optimizer_with_schedule_round_trips(schedule):
    opt = SGD(learning_rate=schedule, momentum=0.5)
    again = SGD.from_config(opt.get_config())
    assert type(again._learning_rate) is type(schedule)
    for it in [0, 3, 15, 150]:
        opt.iterations = again.iterations = it
        assert again.learning_rate == opt.learning_rate == pytest.approx(schedule(it))


def test_a_user_schedule_is_accepted_and_serialized():
    class Halving(LearningRateSchedule):
        def __init__(self, start):
            self.start = start

        def __call__(self, step):
            return self.start / 2 ** step

        def get_config(self):
            return {"start": self.start}

    opt = SGD(Halving(1.0))
    opt.iterations = 3
    assert opt.learning_rate == 0.125
    assert SGD.from_config(opt.get_config()).learning_rate == 1.0


@pytest.mark.parametrize("make, match", [
    (lambda: ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5), r"`decay_steps` must be > 0.*=0"),
    (lambda: InverseTimeDecay(0.1, decay_steps=-1, decay_rate=0.5), r"decay_steps=-1"),
    (lambda: PolynomialDecay(0.1, decay_steps=0), r"decay_steps=0"),
    (lambda: CosineDecay(0.1, decay_steps=0), r"decay_steps=0"),
    (lambda: CosineDecayRestarts(0.1, first_decay_steps=0), r"first_decay_steps=0"),
    (lambda: PiecewiseConstantDecay([10, 20], [1.0, 0.5]), r"1 less than the length of values"),
    (lambda: PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1]), r"strictly increasing"),
    (lambda: schedules.deserialize({"class_name": "Nope", "config": {}}), r"unknown learning rate schedule 'Nope'"),
])
def test_bad_schedule_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
