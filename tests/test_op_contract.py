"""The op contract (chainrule/rules.py): every op declares its rule once.

- every recorded op is declared, under a unique name, with a differentiable vjp;
- every op with an array vjp gets both vjps compared by ``check_op`` on the
  same cases (to 1e-12 in float64; check_op does the comparison);
- no vjp refers to grad mode: which vjp runs is the traversal's choice;
- the docstring and ``explain`` read the formula from the declaration.
"""
import importlib
import inspect
import pkgutil
import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.linalg  # noqa: F401  (declares the linear-algebra ops)
import helpers
from chainrule.rules import PER_CALL, RULES
from helpers import check_op

LABELS = np.array([[1, 0, 3], [2, 2, 1]])
TARGETS = np.random.default_rng(3).dirichlet(np.ones(4), size=(2, 3))

# name -> cases (inputs, function) that record that op; each runs through check_op.
ARRAY_VJP_CASES = {
    "add": [([(3, 4), (4,)], lambda a, b: a + b)],
    "subtract": [([(3, 4), (3, 1)], lambda a, b: a - b)],
    "multiply": [([(3, 4), (4,)], lambda a, b: a * b)],
    "divide": [([(3, 4), (3, 4)], lambda a, b: a / (b * b + 1))],
    "negative": [([(3, 4)], lambda x: -x)],
    "power": [([(3, 4), (3, 4)], lambda a, b: (a * a + 0.5) ** b), ([(5,)], lambda a: a ** 3)],
    "exp": [([(3, 4)], cr.exp)],
    "log": [([(3, 4)], lambda x: cr.log(x * x + 0.1))],
    "tanh": [([(3, 4)], cr.tanh)],
    "sigmoid": [([(3, 4)], cr.sigmoid)],
    "relu": [([(3, 4)], cr.relu)],
    "reshape": [([(3, 4)], lambda x: cr.reshape(x, (2, 6)))],
    "transpose": [([(2, 3, 4)], lambda x: cr.transpose(x, (2, 0, 1)))],
    "swapaxes": [([(2, 3, 4)], lambda x: cr.swapaxes(x, 0, 2))],
    "getitem": [([(4, 5)], lambda x: x[1:3, ::2]), ([(4, 5)], lambda x: x[[0, 0, 2]])],
    "sum": [([(3, 4)], lambda x: cr.sum(x, axis=1)), ([(3, 4)], cr.sum)],
    "mean": [([(3, 4)], lambda x: cr.mean(x, axis=0, keepdims=True)), ([(3, 4)], cr.mean)],
    "matmul": [([(3, 4), (4, 2)], cr.matmul), ([(2, 3, 4), (4, 5)], cr.matmul)],
    "linear": [([(3, 4), (4, 2), (2,)], cr.ops.linear), ([(2, 3, 4), (4, 2)], cr.ops.linear)],
    "conv2d": [([(2, 5, 5, 2), (3, 3, 2, 3), (3,)],
                lambda x, w, b: cr.ops.conv2d(x, w, b, stride=2, padding="same"))],
    "max_pool2d": [([(2, 4, 4, 3)], lambda x: cr.ops.max_pool2d(x, 2)),
                   ([(1, 5, 5, 2)], lambda x: cr.ops.max_pool2d(x, 3, 1))],
    "softmax_cross_entropy": [([(2, 3, 4)], lambda x: cr.ops.softmax_cross_entropy(x, LABELS))],
    "softmax_cross_entropy_sum": [([(2, 3, 4)],
                                   lambda x: cr.ops.softmax_cross_entropy_sum(x, TARGETS, 0.5))],
    "l2_loss": [([(3, 4)], cr.ops.l2_loss)],
    "prod": [([(3, 4)], lambda x: cr.ops.reduce.prod(x, axis=1)),
             ([np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 1.0]])], lambda x: cr.ops.reduce.prod(x, 1))],
    "lstm": [([(2, 3, 2), (2, 12), (3, 12), (12,)], cr.ops.lstm)],
    "gru": [([(2, 3, 2), (2, 9), (3, 9), (2, 9)], cr.ops.gru)],
    "simple_rnn": [([(2, 3, 2), (2, 3), (3, 3), (3,)], cr.ops.simple_rnn)],
    # issue 17, part A
    "erf": [([(3, 4)], cr.erf)],
    "flip": [([(2, 3)], lambda x: cr.flip(x, 1))],
    "roll": [([(2, 3)], lambda x: cr.roll(x, 1, 1))],
    "tile": [([(2, 3)], lambda x: cr.tile(x, (2, 1)))],
    "repeat": [([(2, 3)], lambda x: cr.repeat(x, [1, 0, 2], axis=1)),
               ([(2, 3)], lambda x: cr.repeat(x, 2, axis=0))],
    "tril": [([(3, 3)], lambda x: cr.tril(x, -1))],
    "triu": [([(3, 3)], lambda x: cr.triu(x))],
    "cumsum": [([(2, 3)], lambda x: cr.cumsum(x, 1))],
    "sort": [([(2, 4)], lambda x: cr.sort(x))],
    "top_k": [([(2, 4)], lambda x: cr.top_k(x, 2)[0])],
    "layer_norm": [([(3, 4), (4,), (4,)], cr.layer_norm)],
    "scaled_dot_product_attention": [
        ([(2, 3, 4), (2, 5, 4), (2, 5, 3)],
         lambda q, k, v: cr.scaled_dot_product_attention(q, k, v, np.tril(np.ones((3, 5), bool))))],
}


def _with_array_vjp():
    return sorted(name for name, rule in RULES.items() if rule.has_array_vjp)


def test_the_case_table_lists_exactly_the_ops_with_an_array_vjp():
    assert sorted(ARRAY_VJP_CASES) == _with_array_vjp()


@pytest.mark.parametrize("name", _with_array_vjp())
def test_array_vjp_equals_the_differentiable_vjp(name):
    for inputs, fn in ARRAY_VJP_CASES[name]:
        check_op(inputs, fn, low=-1.5, high=1.5, grad_rtol=2e-3)
        assert name in helpers.RECORDED_OPS, f"the case for {name!r} recorded {helpers.RECORDED_OPS}"


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_op_declares_a_differentiable_vjp_and_its_formulas(name):
    rule = RULES[name]
    assert rule.vjp is PER_CALL or callable(rule.vjp)
    assert rule.array_vjp in (None, PER_CALL) or callable(rule.array_vjp)
    assert rule.forward and len(rule.derivative) == len(rule.inputs) and all(rule.derivative)


def _ops_modules():
    import chainrule.linalg
    import chainrule.ops
    for package in (chainrule.ops, chainrule.linalg):
        for info in pkgutil.iter_modules(package.__path__):
            yield importlib.import_module(f"{package.__name__}.{info.name}")


GRAD_MODE = re.compile(r"grad_enabled|STATE|anomaly|diff_depth")


@pytest.mark.parametrize("name", sorted(RULES))
def test_no_vjp_refers_to_grad_mode(name):
    rule = RULES[name]
    for vjp in (rule.vjp, rule.array_vjp):
        if callable(vjp):
            assert not GRAD_MODE.search(inspect.getsource(vjp)), f"{name}: {vjp.__name__}"


@pytest.mark.parametrize("module", list(_ops_modules()), ids=lambda m: m.__name__)
def test_no_per_call_vjp_refers_to_grad_mode(module):
    """Ops that make their vjps per call define them inside the op: the module's
    nested functions named d_* must not read grad mode either."""
    source = inspect.getsource(module)
    for match in re.finditer(r"\n(\s+)def (d_\w+)\(.*?(?=\n\1(?:def |return |\S)|\Z)", source,
                             re.S):
        assert not GRAD_MODE.search(match.group(0)), f"{module.__name__}.{match.group(2)}"


def test_op_names_are_unique():
    from chainrule.rules import declare
    with pytest.raises(ValueError, match="already declared"):
        declare(cr.exp, forward="e^x", derivative="e^x", vjp=lambda g, out, x: g * out)


@pytest.mark.parametrize("name", sorted(RULES))
def test_the_docstring_carries_the_declared_formula(name):
    rule = RULES[name]
    assert rule.function.__doc__ and rule.formula_text() in rule.function.__doc__


def test_an_op_without_an_array_vjp_still_runs_in_an_ordinary_backward():
    x = cr.tensor(np.array([0.3, -1.2]), requires_grad=True)
    cr.sin(x).sum().backward()             # sin declares only a differentiable vjp
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.3, -1.2]))


def test_the_traversal_not_the_vjp_chooses():
    """The same op under create_graph runs the differentiable vjp (the gradient
    is a recorded tensor), and under an ordinary backward the array vjp."""
    x = cr.tensor(np.array([0.5, 2.0]), requires_grad=True)
    y = cr.tanh(x).sum()
    (g,) = cr.autodiff.gradients(y, [x], create_graph=True)
    assert g.requires_grad and g._node is not None
    (h,) = cr.autodiff.gradients(cr.tanh(x).sum(), [x])
    assert not h.requires_grad
    np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=1e-15)
