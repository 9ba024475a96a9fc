"""Small variables of one dtype are stepped together on flat arrays
(``chainrule/optimizers/base.py``): that must give exactly the numbers of
stepping them one by one, keep the saved state right, and survive changes
in which variables get gradients."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.optimizers import base

OPTIMIZERS = {
    "sgd": lambda: cr.optimizers.SGD(0.1),
    "sgd_momentum": lambda: cr.optimizers.SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda: cr.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: cr.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adam": lambda: cr.optimizers.Adam(0.01),
    "adam_amsgrad": lambda: cr.optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: cr.optimizers.AdamW(0.01, weight_decay=0.1),
    "adadelta": lambda: cr.optimizers.Adadelta(1.0),
    "adagrad": lambda: cr.optimizers.Adagrad(0.1),
    "adamax": lambda: cr.optimizers.Adamax(0.01),
    "nadam": lambda: cr.optimizers.Nadam(0.01),
    "ftrl": lambda: cr.optimizers.Ftrl(0.1, l1_regularization_strength=0.01),
    "clipnorm": lambda: cr.optimizers.Adam(0.01, clipnorm=0.5),
}
SHAPES = [((3, 4), np.float32), ((4,), np.float32), ((130, 130), np.float32),   # 16,900: stepped alone
          ((2, 2), np.float64), ((5,), np.float64), ((1,), np.float32)]


def _variables(seed=0):
    rng = np.random.default_rng(seed)
    return [cr.Tensor(rng.standard_normal(s).astype(dt), requires_grad=True) for s, dt in SHAPES]


def _grads(variables, step):
    rng = np.random.default_rng(100 + step)
    return [cr.Tensor(rng.standard_normal(v.shape).astype(v.dtype)) for v in variables]


def _run(make, fuse_below, schedule, monkeypatch):
    """Apply ``schedule`` (lists of variable positions per step); return the
    final values and the optimizer's state."""
    monkeypatch.setattr(base, "FUSE_BELOW", fuse_below)
    variables, opt = _variables(), make()
    for step, chosen in enumerate(schedule):
        grads = _grads(variables, step)
        opt.apply_gradients([(grads[i], variables[i]) for i in chosen])
    return [v.numpy().copy() for v in variables], opt.get_state(variables), opt, variables


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fused_step_gives_exactly_the_one_by_one_numbers(name, monkeypatch):
    everything = list(range(len(SHAPES)))
    # All variables, then a subset (new group), then all again (groups rebuilt).
    schedule = [everything, everything, [0, 1, 3], everything, [1, 5], everything]
    fused, fused_state, opt, _ = _run(OPTIMIZERS[name], 16384, schedule, monkeypatch)
    if opt._fuse_small:
        assert opt._fused, "no variables were stepped together"
    alone, alone_state, _, _ = _run(OPTIMIZERS[name], 0, schedule, monkeypatch)
    for a, b in zip(fused, alone):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert fused_state.keys() == alone_state.keys()
    for key in fused_state:
        np.testing.assert_array_equal(fused_state[key], alone_state[key], err_msg=key)


def test_state_restored_into_a_fresh_optimizer_continues_identically(monkeypatch):
    everything = list(range(len(SHAPES)))
    _, state, opt, variables = _run(OPTIMIZERS["adam"], 16384, [everything] * 3, monkeypatch)
    twin_vars = [cr.Tensor(v.numpy().copy(), requires_grad=True) for v in variables]
    twin = OPTIMIZERS["adam"]()
    twin.set_state(state, twin_vars)
    monkeypatch.setattr(base, "FUSE_BELOW", 0)          # the twin steps one by one
    grads = _grads(variables, 7)
    twin.apply_gradients(zip(grads, twin_vars))
    monkeypatch.setattr(base, "FUSE_BELOW", 16384)
    opt.apply_gradients(zip(grads, variables))
    for a, b in zip(variables, twin_vars):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_fused_step_marks_each_variable_modified():
    variables = _variables()[:2]
    before = [v._version for v in variables]
    cr.optimizers.Adam(0.01).apply_gradients(zip(_grads(variables, 0), variables))
    assert [v._version for v in variables] == [b + 1 for b in before]


@pytest.mark.parametrize("copier", ["pickle", "deepcopy"])
def test_a_copied_optimizer_keeps_stepping_like_the_original(copier):
    import copy
    import pickle
    variables = _variables()
    opt = cr.optimizers.Adam(0.01)
    opt.apply_gradients(zip(_grads(variables, 0), variables))
    pair = (opt, variables)
    twin_opt, twin_vars = (pickle.loads(pickle.dumps(pair)) if copier == "pickle"
                           else copy.deepcopy(pair))
    for step in (1, 2):
        opt.apply_gradients(zip(_grads(variables, step), variables))
        twin_opt.apply_gradients(zip(_grads(twin_vars, step), twin_vars))
    for a, b in zip(variables, twin_vars):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
