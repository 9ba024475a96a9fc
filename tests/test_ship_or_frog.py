"""The ship-or-frog demo: a CNN on CIFAR-10 ships and frogs, fooled by FGSM.

The data are read from ``$CHAINRULE_DATA`` or ``../shared/data`` next to the
repository (``cifar10_partial.npz``); the tests are skipped when it is not
there. The default run checks the demo in quick mode; the issue's accuracy
targets are checked on the full run (``python -m pytest -m slow
tests/test_ship_or_frog.py``).
"""
import os
import sys

import pytest

from chainrule import demos
from chainrule.datasets import DatasetNotFoundError, cifar10
from chainrule.demos import ship_or_frog

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "examples"))


def _data_path():
    path = None if os.environ.get("CHAINRULE_DATA") else SHARED
    try:
        cifar10.load_data(path, download=False)
    except FileNotFoundError as e:
        pytest.skip(str(e))
    return path


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    path = _data_path()
    out_dir = tmp_path_factory.mktemp("ship_or_frog")
    import io
    from contextlib import redirect_stdout
    printed = io.StringIO()
    with redirect_stdout(printed):
        result = ship_or_frog.run(quick=True, seed=0, out_dir=str(out_dir), data_path=path)
    return result, printed.getvalue(), out_dir


def test_demo_follows_the_contract():
    assert ship_or_frog.NAME == "ship-or-frog"
    assert "FGSM" in ship_or_frog.SUMMARY and "CIFAR-10" in ship_or_frog.DATA
    assert demos.DEMOS["ship-or-frog"] == "ship_or_frog"


def test_quick_demo_prints_the_story(quick_run):
    result, printed, _ = quick_run
    for line in ("test accuracy:", "predicted probability for ship:", "after FGSM (eps = 8/255)",
                 "after targeted FGSM", "frog + w/6", "FGSM 8/255", "PGD (10 steps)",
                 "after adversarial training"):
        assert line in printed, f"{line!r} missing from the demo's output:\n{printed}"
    assert f"{result['test_accuracy']:.1%}" in printed
    for key in ("test_accuracy", "clean_accuracy", "fgsm_accuracy", "pgd_accuracy",
                "adv_clean_accuracy", "adv_fgsm_accuracy", "adv_pgd_accuracy"):
        assert 0 <= result[key] <= 1
    assert result["clean_accuracy"] == pytest.approx(result["test_accuracy"])
    assert result["test_accuracy"] > 0.7                 # one epoch on 300 images already learns
    assert result["fgsm_accuracy"] < result["clean_accuracy"]
    # The ship is one the model is sure of; the attacks move P(ship) the asked way.
    assert result["ship_p_before"] > 0.9 and result["ship_p_after"] < result["ship_p_before"]
    assert result["frog_p_before"] < 0.1 and result["frog_p_after"] > result["frog_p_before"]
    assert result["linear_p_after"] > result["linear_p_before"]


def test_quick_demo_saves_pictures_that_open(quick_run):
    import matplotlib.image
    result, printed, out_dir = quick_run
    assert [os.path.basename(p) for p in result["pngs"]] == ["ship_fgsm.png", "frog_to_ship.png"]
    for path in result["pngs"]:
        assert os.path.dirname(path) == str(out_dir) and f"saved {path}" in printed
        image = matplotlib.image.imread(path)
        height, width = image.shape[:2]
        assert image.ndim == 3 and image.shape[2] in (3, 4)
        assert 200 <= height <= 1000 and 2 * height <= width <= 6 * height   # three panels
        assert image[..., :3].std() > 0.05                                 # not blank


def test_missing_data_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CHAINRULE_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match=r"\.chainrule/datasets"):
        ship_or_frog.run(quick=True, out_dir=str(tmp_path), data_path=tmp_path / "nowhere")
    import ship_or_frog as example
    assert example.main(["--quick", "--data", str(tmp_path / "nowhere"),
                         "--out-dir", str(tmp_path)]) == 3


@pytest.mark.slow
def test_full_run_meets_the_issue_targets(tmp_path):
    """Clean >= 88%; FGSM 8/255 < 30%; PGD lower still; adversarial training
    +20 points under FGSM with clean accuracy within 10 points."""
    result = ship_or_frog.run(quick=False, seed=0, out_dir=str(tmp_path), data_path=_data_path())
    assert result["clean_accuracy"] >= 0.88
    assert result["fgsm_accuracy"] < 0.30
    assert result["pgd_accuracy"] < result["fgsm_accuracy"]
    assert result["adv_fgsm_accuracy"] >= result["fgsm_accuracy"] + 0.20
    assert abs(result["adv_clean_accuracy"] - result["clean_accuracy"]) <= 0.10
    # The seeds' story: a sure ship is fooled, a frog becomes a ship.
    assert result["ship_p_before"] > 0.99 and result["ship_p_after"] < 0.5
    assert result["frog_p_after"] > 0.5 and result["linear_p_after"] > 0.5
