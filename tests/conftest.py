"""Shared fixtures: every test starts with gradients recorded, anomaly checks
off and a seeded global generator, and leaves them that way."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # so tests can `from helpers import ...`

import chainrule as cr  # noqa: E402
from chainrule.graph import STATE  # noqa: E402

try:
    from hypothesis import settings

    settings.register_profile("chainrule", max_examples=25, deadline=None)
    settings.load_profile("chainrule")
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(autouse=True)
def _clean_autodiff_state():
    """Fail a test that leaks no_grad/detect_anomaly state into the next one."""
    cr.set_seed(0)
    yield
    leaked = (not STATE.grad_enabled, STATE.anomaly, STATE.diff_depth)
    STATE.grad_enabled, STATE.anomaly, STATE.diff_depth = True, False, 0
    assert leaked == (False, False, 0), (
        f"this test left the autodiff state changed (grad off, anomaly, depth) = {leaked}")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
