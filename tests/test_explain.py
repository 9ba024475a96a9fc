"""cr.explain and `chainrule explain`: the printed steps, the gradients, the whitelist."""
import builtins
import importlib
import io
import re
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli

explain_module = importlib.import_module("chainrule.explain")   # cr.explain is the function
explain_cli = importlib.import_module("chainrule.explain_cli")


def scalar(value):
    return cr.tensor(value, dtype="float64", requires_grad=True)


def explained(output, names=None, **kwargs):
    """(printed lines, returned gradients) of cr.explain, the output named J."""
    buffer = io.StringIO()
    grads = cr.explain(output, file=buffer, names={"J": output, **(names or {})}, **kwargs)
    return [line.strip() for line in buffer.getvalue().splitlines()], grads


# --------------------------------------------------------------------------
# The seeds' example, line by line
# --------------------------------------------------------------------------
def test_seeds_example_prints_each_step():
    a, b, c = scalar(2.0), scalar(3.0), scalar(4.0)
    u = a * b
    v = u + c
    J = 3 * v
    lines, grads = explained(J, names={"a": a, "b": b, "c": c, "u": u, "v": v, "J": J})
    # forward values, each with its formula
    for line in ["a = 2", "b = 3", "c = 4", "u = a·b = 6", "v = u + c = 10", "J = 3·v = 30"]:
        assert line in lines
    # backward steps: local derivative (formula and value), chain-rule product
    for line in ["∂J/∂v = 3", "dJ/dv = dJ/dJ · ∂J/∂v = 1 · 3 = 3",
                 "∂v/∂u = 1", "dJ/du = dJ/dv · ∂v/∂u = 3 · 1 = 3",
                 "∂v/∂c = 1", "dJ/dc = dJ/dv · ∂v/∂c = 3 · 1 = 3",
                 "∂u/∂a = b = 3", "dJ/da = dJ/du · ∂u/∂a = 3 · 3 = 9",
                 "∂u/∂b = a = 2", "dJ/db = dJ/du · ∂u/∂b = 3 · 2 = 6"]:
        assert line in lines
    # in topological order: J's step before v's before u's
    steps = [line.split("  ")[0] for line in lines if "    with dJ/d" in line or " with dJ/d" in line]
    assert [s.split(" =")[0] for s in steps] == ["J", "v", "u"]
    # the summary, symbolic and numeric
    assert lines[-3:] == ["dJ/da = 3b = 9", "dJ/db = 3a = 6", "dJ/dc = 3"]
    assert grads == {"a": 9.0, "b": 6.0, "c": 3.0}


def test_names_come_from_the_callers_variables():
    a, b, c = scalar(2.0), scalar(3.0), scalar(4.0)
    J = 3 * (a * b + c)
    buffer = io.StringIO()
    grads = cr.explain(J, file=buffer)          # called from here: this frame's names
    assert set(grads) == {"a", "b", "c"}
    assert "  dJ/da = 3b = 9" in buffer.getvalue().splitlines()


def test_unnamed_inputs_get_x1_x2():
    def make():             # the tensors live only here, so no caller variable names them
        return [scalar(1.5), scalar(-2.0)]
    inputs = make()
    _, grads = explained(inputs[0] * inputs[1], inputs=list(inputs))
    assert grads == {"x1": -2.0, "x2": 1.5}


def test_a_tensor_used_twice_accumulates():
    a = scalar(2.0)
    J = a * a * a
    lines, grads = explained(J, names={"a": a})
    assert grads["a"] == pytest.approx(12.0)              # 3a² = 12
    assert any("gradients add up" in line and "= 12" in line for line in lines)


# --------------------------------------------------------------------------
# The numbers are the engine's: compare with cr.grad on many graphs
# --------------------------------------------------------------------------
CASES = {
    "tanh": (lambda x, y: cr.tanh(x * y + 0.5), [0.3, -1.2]),
    "sigmoid-log": (lambda x, y: -cr.log(cr.sigmoid(x - y)), [0.7, 2.0]),
    "exp-div": (lambda x, y: cr.exp(x) / y - y / x, [0.4, 1.7]),
    "power": (lambda x, y: x ** 3 + x ** y, [1.3, 2.5]),
    "sqrt-sin-cos": (lambda x, y: cr.sqrt(x) * cr.sin(y) + cr.cos(x * y), [2.0, 0.9]),
    "relu-abs-softplus": (lambda x, y: cr.relu(x - y) + cr.abs(y) + cr.softplus(x), [3.0, -1.0]),
    "negative-subtract": (lambda x, y: -(x - 2 * y) * (y - x), [0.5, 1.5]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_match_cr_grad(case):
    f, values = CASES[case]
    x, y = scalar(values[0]), scalar(values[1])
    lines, grads = explained(f(x, y), names={"x": x, "y": y})
    expected = cr.grad(f, argnums=(0, 1))(scalar(values[0]), scalar(values[1]))
    assert grads["x"] == pytest.approx(float(expected[0]), rel=1e-12)
    assert grads["y"] == pytest.approx(float(expected[1]), rel=1e-12)
    # the summary states each gradient's value
    assert any(line.startswith("dJ/dx = ") and line.endswith(explain_module._num(grads["x"]))
               for line in lines)


def test_small_tensors_sum_mean_matmul():
    rng = np.random.default_rng(0)
    W = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x = cr.tensor(rng.standard_normal(2))
    b = cr.tensor(rng.standard_normal(3), requires_grad=True)

    def f(W, b):
        h = cr.tanh(W @ x + b)
        return cr.mean(h ** 2) + cr.sum(b * 0.5)

    lines, grads = explained(f(W, b), names={"W": W, "b": b, "x": x})
    expected = cr.grad(f, argnums=(0, 1))(W, b)
    np.testing.assert_allclose(grads["W"], expected[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(grads["b"], expected[1].numpy(), rtol=1e-12)
    text = "\n".join(lines)
    assert "dJ/dW = dJ/du @ " in text or "@ " in text          # the matmul rule
    assert "1/n, for every entry" in text                      # the mean rule
    assert "⊙" in text                                          # elementwise on vectors


def test_explain_leaves_grad_alone_and_backward_still_works():
    a, b = scalar(2.0), scalar(5.0)
    J = a * b + a
    explained(J, names={"a": a, "b": b})
    assert a.grad is None and b.grad is None
    J.backward()
    assert float(a.grad) == 6.0 and float(b.grad) == 2.0


def test_an_input_the_output_does_not_use_gets_zero():
    a, unused = scalar(2.0), scalar(1.0)
    lines, grads = explained(a * a, inputs={"a": a, "unused": unused})
    assert grads == {"a": 4.0, "unused": 0.0}
    assert "dJ/dunused = 0   (J does not depend on unused)" in lines


def test_float32_inputs_keep_working():
    a = cr.tensor(0.5, requires_grad=True)                    # float32
    _, grads = explained(cr.sigmoid(a) * 2, names={"a": a})
    s = 1 / (1 + np.exp(-0.5))
    assert grads["a"] == pytest.approx(2 * s * (1 - s), rel=1e-6)


# --------------------------------------------------------------------------
# Clear errors
# --------------------------------------------------------------------------
def test_every_declared_op_is_explained_with_its_declared_formula():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = cr.tensor([0.5, -1.0, 2.0])
    buffer = io.StringIO()
    grads = cr.explain((cr.softmax(x) * w).sum(), inputs={"x": x}, file=buffer)
    text = buffer.getvalue()
    assert "u = softmax(x)" in text                       # the declared forward
    assert "dJ/dx = u·(dJ/du - Σ dJ/du·u)" in text        # the declared derivative
    x.grad = None
    (cr.softmax(x) * w).sum().backward()
    np.testing.assert_allclose(grads["x"], x.grad.numpy())


def test_an_op_without_a_declared_rule_is_named():
    from chainrule.tensor import record
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    custom = record("my_square", x.numpy() ** 2, (x,), lambda g, out, x: 2 * g * x)
    with pytest.raises(ValueError, match=r"cannot describe the op 'my_square'.*J.backward\(\) or cr.grad"):
        cr.explain(custom.sum(), file=io.StringIO())


def test_output_must_be_a_scalar():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"must be a scalar.*\(2,\)"):
        cr.explain(x * 2, file=io.StringIO())


def test_output_without_gradient_is_refused():
    with pytest.raises(ValueError, match="requires_grad=True"):
        cr.explain(cr.tensor(2.0) * 3, file=io.StringIO())
    with pytest.raises(TypeError, match="chainrule Tensor"):
        cr.explain(3.0)


def test_graph_freed_by_backward_is_explained():
    a = scalar(2.0)
    J = a * a
    J.backward()
    with pytest.raises(RuntimeError, match="before J.backward"):
        cr.explain(J, file=io.StringIO())


# --------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------
def test_cli_prints_the_seeds_gradients(capsys):
    assert cli.main(["explain", "3*(a*b+c)", "a=2", "b=3", "c=4"]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert "dJ/da = 3b = 9" in lines
    assert "dJ/db = 3a = 6" in lines
    assert "dJ/dc = 3" in lines


def test_cli_never_calls_eval(monkeypatch, capsys):
    def no_eval(*args, **kwargs):
        raise AssertionError("eval was called")
    monkeypatch.setattr(builtins, "eval", no_eval)
    monkeypatch.setattr(builtins, "exec", no_eval)
    assert explain_cli.main(["tanh(x)*y - x/y", "x=0.5", "y=2"]) == 0
    x, y = 0.5, 2.0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    dx = (1 - np.tanh(x) ** 2) * y - 1 / y
    assert any(line.startswith("dJ/dx") and line.endswith(explain_module._num(dx)) for line in lines)


def test_cli_from_the_shell():
    done = subprocess.run([sys.executable, "-m", "chainrule", "explain", "3*(a*b+c)",
                           "a=2", "b=3", "c=4"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "dJ/da = 3b = 9" in done.stdout and "dJ/dc = 3" in done.stdout


BAD = [
    (["__import__('os')"], "calling '__import__' is not allowed"),
    (["__import__('os').system('touch /tmp/chainrule_pwned')"], "not allowed"),
    (["a.__class__", "a=1"], "attribute access"),
    (["a[0]", "a=1"], r"subscripts \(indexing\)"),
    (["(lambda: a)()", "a=1"], "calling '.*lambda.*' is not allowed"),
    (["lambda: a", "a=1"], "lambda"),
    (["a*d", "a=1"], "the name 'd' has no value.*d=1.5"),
    (["a*b", "a=1", "b=xyz"], "the value of b must be a number, got 'xyz'"),
    (["a*b", "a=1", "b"], "expected NAME=NUMBER"),
    (["a*b", "a=1", "b=2", "c=3"], "c given a value but not used"),
    (["a +", "a=1"], "cannot parse"),
    (["a @ b", "a=1", "b=2"], "operator MatMult is not allowed"),
    (["a == b", "a=1", "b=2"], "comparisons"),
    (["open('x')", "a=1"], "calling 'open' is not allowed"),
    (["exp(a, a)", "a=1"], r"exp\(\) takes exactly one argument"),
    (["'text' * a", "a=1"], "only numbers"),
    (["2 * 3"], "no variables"),
    (["a * 2", "a=inf"], "finite number"),
    (["[a, a]", "a=1"], "lists"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_cli_rejects_unsafe_or_bad_input(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert explain_cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""                      # nothing was explained, nothing ran
    assert captured.err.startswith("chainrule explain: ")
    assert re.search(message, captured.err), captured.err
    assert not (tmp_path / "x").exists()


def test_cli_usage_errors_return_2_without_exiting(capsys):
    assert cli.main(["explain"]) == 2
    assert "expression" in capsys.readouterr().err
    assert cli.main(["explain", "--help"]) == 0


@pytest.mark.parametrize("expression, values, expected", [
    ("a/b", ["a=3", "b=2"], ["dJ/da = 1/b = 0.5", "dJ/db = -a/b² = -0.75"]),
    ("a*a + 2*a", ["a=3"], ["dJ/da = 2 + 2a = 8"]),
    ("tanh(w*x)", ["w=0.5", "x=2"], ["∂J/∂u = (1 - J²) = 0.419974"]),
    ("sigmoid(z)", ["z=0"], ["∂J/∂z = J·(1 - J) = 0.25"]),
    ("x**3", ["x=2"], ["∂J/∂x = 3x² = 12", "dJ/dx = 3x² = 12"]),
    ("exp(-x)", ["x=0"], ["∂J/∂u = exp(u) = 1", "∂u/∂x = -1"]),
])
def test_cli_local_derivative_formulas(expression, values, expected, capsys):
    """The formulas come from the op table; each is checked at a point worked out by hand."""
    assert explain_cli.main([expression, *values]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    for line in expected:
        assert line in lines, (line, lines)


def test_a_value_changed_in_place_is_refused():
    a, b = scalar(2.0), scalar(3.0)
    J = a * b
    with cr.no_grad():
        b += 1.0                         # the recorded ∂J/∂a = b is now stale
    with pytest.raises(RuntimeError, match="changed in place"):
        cr.explain(J, file=io.StringIO())
