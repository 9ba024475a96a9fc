"""The graph lets go of its buffers after backward, unless asked to keep them."""
import gc
import weakref

import numpy as np
import pytest

import chainrule as cr


def _intermediate_and_loss():
    x = cr.randn(50, 50, requires_grad=True)
    hidden = cr.tanh(x @ x)
    loss = (hidden * hidden).sum()
    return x, weakref.ref(hidden), loss


def test_backward_frees_intermediate_tensors():
    x, hidden_ref, loss = _intermediate_and_loss()
    gc.collect()
    assert hidden_ref() is not None          # the graph holds it for backward
    loss.backward()
    gc.collect()
    assert hidden_ref() is None              # ...and lets go after
    assert x.grad is not None


def test_retain_graph_keeps_buffers_and_allows_second_backward():
    x, hidden_ref, loss = _intermediate_and_loss()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    gc.collect()
    assert hidden_ref() is not None
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-5)


def test_second_backward_without_retain_graph_says_what_to_do():
    _, _, loss = _intermediate_and_loss()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_leaf_grads_do_not_alias_each_other():
    # One upstream gradient reaches both leaves (through a reshape view);
    # updating one .grad in place must leave the other alone.
    a = cr.randn(2, 3, requires_grad=True)
    b = cr.randn(6, requires_grad=True)
    (a.reshape(6) + b).sum().backward()
    a.grad.data *= 2
    np.testing.assert_array_equal(b.grad.numpy(), np.ones(6, dtype=np.float32))


def test_leaf_grad_is_writable_after_broadcast():
    x = cr.randn(4, requires_grad=True)
    x.sum().backward()                       # the vjp is a read-only broadcast view
    x.grad.data *= 0.5
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 0.5, dtype=np.float32))


def test_changing_a_saved_value_in_place_is_refused_at_backward():
    x = cr.randn(3, requires_grad=True)
    y = x.exp()                         # exp's derivative reads y
    with cr.no_grad():
        y[0] = 0.0
    with pytest.raises(RuntimeError, match="backward of 'exp'.*changed in place"):
        y.sum().backward()


def test_changing_an_input_in_place_is_refused_at_backward():
    w = cr.randn(3, requires_grad=True)
    x = cr.randn(3)
    loss = (w * x).sum()                # multiply's derivative reads x
    x += 1.0                            # x needs no grad: an in-place update
    with pytest.raises(RuntimeError, match="input 1"):
        loss.backward()


def test_weight_update_in_place_then_new_graph_is_fine():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with cr.no_grad():
        w -= 0.5 * w.grad                # same object, new values
    w.grad = None
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [0.0, 0.0])


def test_in_place_shape_change_is_refused():
    x = cr.zeros(3)
    with pytest.raises(cr.ShapeError, match=r"\(3,\)"):
        x += cr.ones(2, 3)
