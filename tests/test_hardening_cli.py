"""Issue 20, items 3 and 6 (command-line part): `chainrule explain` never
hangs on a constant and answers every hostile expression with exit code 2
and one line on stderr; the top-level command too."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from chainrule import cli, explain_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(argv, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as e:            # argparse's own exit
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_huge_constant_does_not_hang():
    # 9**9**9 has 369 million digits as an exact integer: it must be a float64 inf.
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "chainrule", "explain", "a+9**9**9", "a=1"],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert time.monotonic() - start < 5              # interpreter start included
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "a+9**9**9 is inf at a=1" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize("expression,named", [
    ("a/0", "a/0 is inf at a=1, not a finite number"),
    ("a*10**400", "a*10**400 is inf at a=1"),
    ("0*a*10**400", "is nan at a=1"),
    ("(-8)**(1/3)*a", "is nan at a=1"),
    ("a*1e400", "the number 1e400 is beyond float64's range"),
    ("a*" + "9" * 5000, "a number has more than 4300 digits"),
    ("+".join(["a"] * 5000), "nests too deeply"),
    ("+".join(["a"] * 300), "nests 300 levels deep; at most 200"),
    ("-" * 3000 + "a", "nests too deeply"),
    ("-" * 250 + "a", "nests 251 levels deep; at most 200"),
    ("a" * 20_000, "the expression has 20000 characters; at most 10000"),
])
def test_hostile_expressions_exit_2_in_one_line(capsys, expression, named):
    code, out, err = _run(["explain", expression, "a=1"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and named in err, err[:300]
    assert "Traceback" not in err and out == ""


def test_an_expression_starting_with_minus_is_not_an_option(capsys):
    code, out, err = _run(["explain", "-a*b", "a=2", "b=3"], capsys)
    assert code == 0, err
    assert "J = -a*b" in out and "dJ/da = -b = -3" in out.replace("−", "-")


def test_ordinary_expressions_are_explained_as_before(capsys):
    code, out, _ = _run(["explain", "3*(a*b+c)", "a=2", "b=3", "c=4"], capsys)
    assert code == 0
    assert "J = 3·v = 30" in out and "dJ/da = 3b = 9" in out
    code, out, _ = _run(["explain", "a**-1 + 2**a", "a=2"], capsys)
    assert code == 0 and "J = u + v = 4.5" in out


@pytest.mark.parametrize("argv,named", [
    (["no-such-command"], "invalid choice: 'no-such-command'"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["explain"], "the following arguments are required: expression"),
    (["launch"], "the following arguments are required: script"),
    (["launch", "-n", "abc", "x.py"], "argument -n/--np: invalid int value: 'abc'"),
    (["demo", "--seed"], "argument --seed: expected one argument"),
])
def test_command_line_errors_exit_2_in_one_line(capsys, argv, named):
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and named in err


def test_a_closed_pipe_ends_quietly():
    expression = "+".join(f"exp(a*{i})" for i in range(150))
    command = [sys.executable, "-m", "chainrule", "explain", expression, "a=0.001"]
    reader = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              cwd=ROOT)
    reader.stdout.read(100)
    reader.stdout.close()                    # as `| head -c 100` does
    err = reader.stderr.read().decode()
    reader.wait(timeout=30)
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_evaluate_keeps_numbers_as_float64():
    tree = explain_cli.parse_expression("2**10**4", {})
    with np.errstate(over="ignore"):          # an overflow to inf is the point here
        assert float(explain_cli.evaluate(tree, {})) == float("inf")
