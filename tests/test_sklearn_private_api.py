"""chainrule.sklearn declares its parameters with scikit-learn's own constraint
classes, which live in a private module (``sklearn.utils._param_validation``)
so that ``set_params``/``fit`` validate exactly as scikit-learn does. A private
name can move in any release, so every scikit-learn requirement in
pyproject.toml carries an upper bound, and this test checks the installed
version is inside it and that the names are still there."""
import re
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
PRIVATE_NAMES = ["Hidden", "Interval", "Options", "StrOptions"]


def _version(text):
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2])


def test_every_scikit_learn_requirement_has_the_same_upper_bound():
    specs = re.findall(r'"scikit-learn([^"]*)"', PYPROJECT.read_text())
    assert specs, "pyproject.toml names scikit-learn"
    uppers = {re.search(r"<\s*([\d.]+)", s).group(1) if "<" in s else None for s in specs}
    assert None not in uppers, f"a scikit-learn requirement without an upper bound: {specs}"
    assert len(uppers) == 1, f"different upper bounds: {specs}"


def test_the_installed_scikit_learn_is_inside_the_bound_and_has_the_private_names():
    spec = re.search(r'"scikit-learn([^"]*)"', PYPROJECT.read_text()).group(1)
    low = _version(re.search(r">=\s*([\d.]+)", spec).group(1))
    high = _version(re.search(r"<\s*([\d.]+)", spec).group(1))
    assert low <= _version(sklearn.__version__) < high
    from sklearn.utils import _param_validation
    for name in PRIVATE_NAMES:
        assert hasattr(_param_validation, name), name
