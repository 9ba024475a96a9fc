"""The command line: `chainrule demo` (registry, exit codes, messages) and the entry point."""
import subprocess
import sys

import numpy as np
import pytest

from chainrule import cli, demos
from chainrule.datasets import load_digits


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """No download, an empty cache, no $CHAINRULE_DATA: data is missing unless a test gives it."""
    monkeypatch.setenv("CHAINRULE_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)


def test_load_digits_matches_shared_copy():
    x, y = load_digits()
    assert x.shape == (1797, 64) and y.shape == (1797,)
    assert x.min() == 0 and x.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_registry_has_every_seed_demo():
    assert set(demos.DEMOS) == {"digits", "perceptron", "logistic", "mnist-mlp", "mnist-cnn",
                                "ship-or-frog", "lstsq", "conv-as-matrix", "backprop", "gpt"}
    assert demos.DEFAULT == "digits"
    module = demos.load("digits")
    assert module.NAME == "digits" and module.DATA is None and module.SUMMARY


def test_demo_list_names_each_demo_and_its_data(capsys):
    assert cli.main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    for name in demos.DEMOS:
        assert name in out
    assert "[default]" in out
    assert "nothing to download (bundled)" in out
    assert out.count("(missing)") >= 2          # MNIST is nowhere in this empty home


def test_demo_list_reports_data_found_with_data(capsys, tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((1, 28, 28), np.uint8))
    assert cli.main(["demo", "--list", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"found: {tmp_path / 'mnist.npz'}" in out


def test_unknown_demo_exits_2_and_names_the_choices(capsys):
    assert cli.main(["demo", "no-such-demo"]) == 2
    err = capsys.readouterr().err
    assert "no-such-demo" in err
    for name in demos.DEMOS:
        assert name in err


@pytest.mark.parametrize("name", ["mnist-mlp", "mnist-cnn"])
def test_missing_data_exits_3_and_says_where_to_put_it(name, capsys, tmp_path):
    code = cli.main(["demo", name, "--quick", "--data", str(tmp_path / "nowhere"),
                     "--out-dir", str(tmp_path)])
    assert code == 3
    err = capsys.readouterr().err
    assert f"chainrule demo {name}: its data is missing" in err
    assert "mnist.npz was not found" in err
    assert str(tmp_path / "home" / ".chainrule" / "datasets") in err
    assert "CHAINRULE_OFFLINE" in err


def test_default_demo_quick_through_the_cli(capsys, tmp_path):
    assert cli.main(["demo", "--quick", "--seed", "1", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "final test accuracy" in out
    assert (tmp_path / "digits_mlp.png").is_file()


def test_console_entry_point_runs_as_module():
    done = subprocess.run([sys.executable, "-m", "chainrule", "--version"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.startswith("chainrule ")


def test_demo_help_lists_the_options():
    done = subprocess.run([sys.executable, "-m", "chainrule", "demo", "--help"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    for option in ("--list", "--quick", "--seed", "--out-dir", "--data"):
        assert option in done.stdout


def test_a_registered_demo_whose_module_is_absent_exits_1(capsys, monkeypatch):
    monkeypatch.setitem(demos.DEMOS, "ghost", "no_such_module")
    assert cli.main(["demo", "ghost"]) == 1
    assert "'ghost' is not part of this installation" in capsys.readouterr().err
