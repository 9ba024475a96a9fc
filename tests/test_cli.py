"""The command line: `chainrule demo` and its errors."""
import subprocess
import sys

import numpy as np
import pytest

from chainrule import cli
from chainrule.datasets import load_digits


def test_load_digits_matches_shared_copy():
    x, y = load_digits()
    assert x.shape == (1797, 64) and y.shape == (1797,)
    assert x.min() == 0 and x.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_demo_quick_trains_and_reports_accuracy(capsys):
    from chainrule.demos import digits_mlp
    result = digits_mlp.run(quick=True, seed=0)
    printed = capsys.readouterr().out
    assert "final test accuracy" in printed
    assert result["test_accuracy"] > 0.85      # 3 epochs already learn most digits


@pytest.mark.slow
def test_full_demo_reaches_95_percent():
    from chainrule.demos import digits_mlp
    assert digits_mlp.run(quick=False, seed=0, out=lambda *_: None)["test_accuracy"] >= 0.95


def test_demo_list(capsys):
    assert cli.main(["demo", "--list"]) == 0
    assert "digits" in capsys.readouterr().out


def test_unknown_demo_exits_2_and_names_the_choices(capsys):
    assert cli.main(["demo", "no-such-demo"]) == 2
    err = capsys.readouterr().err
    assert "no-such-demo" in err and "digits" in err


def test_console_entry_point_runs_as_module():
    done = subprocess.run([sys.executable, "-m", "chainrule", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("chainrule ")
