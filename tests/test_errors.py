"""Errors that teach: the right exception type, the op's name, both shapes,
and what would fit."""
import re

import numpy as np
import pytest

import chainrule as cr


def test_shape_error_is_a_value_error():
    assert issubclass(cr.ShapeError, ValueError)


# --------------------------------------------------------------------------
# matmul
# --------------------------------------------------------------------------
def test_matmul_mismatch_shows_both_shapes_and_suggests_transpose():
    x, W = cr.ones(8, 4), cr.ones(3, 4)
    with pytest.raises(cr.ShapeError) as info:
        x @ W
    msg = str(info.value)
    assert "(8, 4)" in msg and "(3, 4)" in msg
    assert ".T" in msg
    assert "(4, 3)" in msg            # the shape W.T would have
    with pytest.raises(ValueError):   # catchable as NumPy's error type
        cr.matmul(x, W)


def test_matmul_mismatch_without_a_transpose_that_fits():
    with pytest.raises(cr.ShapeError) as info:
        cr.matmul(cr.ones(2, 3), cr.ones(5, 6))
    msg = str(info.value)
    assert "(2, 3)" in msg and "(5, 6)" in msg
    assert ".T" not in msg            # no transpose would fit, so none is suggested


def test_matmul_vector_mismatch():
    with pytest.raises(cr.ShapeError) as info:
        cr.ones(3) @ cr.ones(4)
    assert "(3,)" in str(info.value) and "(4,)" in str(info.value)


def test_matmul_vector_matrix_mismatch_shows_the_users_shape():
    with pytest.raises(cr.ShapeError) as info:
        cr.matmul(cr.ones(3), cr.ones(4, 2))
    assert "(3,)" in str(info.value), str(info.value)


def test_matmul_batch_mismatch_and_0d():
    with pytest.raises(cr.ShapeError) as info:
        cr.ones(2, 3, 4) @ cr.ones(3, 4, 5)
    assert "(2, 3, 4)" in str(info.value) and "(3, 4, 5)" in str(info.value)
    with pytest.raises(cr.ShapeError, match=r"\(\)"):
        cr.matmul(cr.tensor(2.0), cr.ones(3))


# --------------------------------------------------------------------------
# broadcasting
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name,fn", [
    ("add", lambda a, b: a + b), ("subtract", lambda a, b: a - b), ("multiply", lambda a, b: a * b),
    ("divide", lambda a, b: a / b), ("power", lambda a, b: a ** b), ("maximum", cr.maximum),
    ("minimum", cr.minimum), ("less", lambda a, b: a < b), ("equal", cr.equal),
])
def test_broadcast_mismatch_names_the_op_and_both_shapes(name, fn):
    with pytest.raises(cr.ShapeError) as info:
        fn(cr.ones(2, 3), cr.ones(4))
    msg = str(info.value)
    assert name in msg
    assert "(2, 3)" in msg and "(4,)" in msg


def test_broadcast_mismatch_in_where():
    with pytest.raises(cr.ShapeError) as info:
        cr.where(np.ones((2, 3), bool), cr.ones(4), 0.0)
    msg = str(info.value)
    assert "where" in msg and "(2, 3)" in msg and "(4,)" in msg
    with pytest.raises(cr.ShapeError, match=r"where.*\(4,\).*\(3,\)"):
        cr.where(True, cr.ones(4), cr.ones(3))


def test_broadcast_to_and_concatenate_and_stack_mismatch():
    with pytest.raises(cr.ShapeError, match=r"\(3,\).*\(2, 4\)"):
        cr.broadcast_to(cr.ones(3), (2, 4))
    with pytest.raises(cr.ShapeError, match=r"\(2, 3\).*\(2, 4\)"):
        cr.concatenate([cr.ones(2, 3), cr.ones(2, 4)])
    with pytest.raises(cr.ShapeError, match=r"\(2, 3\).*\(2, 4\)"):
        cr.stack([cr.ones(2, 3), cr.ones(2, 4)])


def test_reshape_and_axis_errors():
    with pytest.raises(cr.ShapeError, match=r"\(2, 3\).*\(4, 2\)"):
        cr.ones(2, 3).reshape(4, 2)
    with pytest.raises(cr.ShapeError, match="axis 2"):
        cr.ones(2, 3).sum(axis=2)
    with pytest.raises(cr.ShapeError, match="repeat"):
        cr.ones(2, 3).sum(axis=(0, -2))
    with pytest.raises(cr.ShapeError, match="softmax"):
        cr.softmax(cr.ones(2, 3), axis=-3)
    with pytest.raises(cr.ShapeError, match="squeeze"):
        cr.squeeze(cr.ones(2, 3), 0)
    with pytest.raises(cr.ShapeError, match="permutation"):
        cr.transpose(cr.ones(2, 3), (0, 0))


def test_transpose_rejects_out_of_range_axes():
    with pytest.raises((cr.ShapeError, ValueError, IndexError)):
        cr.transpose(cr.ones(2, 3), (0, 3))


def test_sum_to_rejects_an_incompatible_shape():
    with pytest.raises(ValueError):
        cr.sum_to(cr.ones(2, 3), (3, 3))


def test_einsum_errors_show_the_shapes():
    with pytest.raises(cr.ShapeError, match=r"\(2, 3\).*\(4, 5\)"):
        cr.einsum("ij,jk->ik", cr.ones(2, 3), cr.ones(4, 5))


# --------------------------------------------------------------------------
# conv2d and pooling
# --------------------------------------------------------------------------
def test_conv2d_channel_mismatch_names_shapes():
    with pytest.raises(cr.ShapeError) as info:
        cr.conv2d(cr.ones(1, 5, 5, 3), cr.ones(3, 3, 2, 4))
    msg = str(info.value)
    assert "conv2d" in msg
    assert "(1, 5, 5, 3)" in msg and "(3, 3, 2, 4)" in msg


def test_conv2d_channels_first_input_gets_a_hint():
    with pytest.raises(cr.ShapeError, match="channels-first|transpose"):
        cr.conv2d(cr.ones(1, 3, 5, 5), cr.ones(3, 3, 3, 4))


def test_conv2d_other_errors():
    with pytest.raises(cr.ShapeError, match=r"4-D.*\(5, 5, 3\)"):
        cr.conv2d(cr.ones(5, 5, 3), cr.ones(3, 3, 3, 4))
    with pytest.raises(cr.ShapeError, match=r"bias.*\(4,\)"):
        cr.conv2d(cr.ones(1, 5, 5, 3), cr.ones(3, 3, 3, 4), cr.ones(3))
    with pytest.raises(cr.ShapeError, match="same|smaller"):
        cr.conv2d(cr.ones(1, 2, 2, 3), cr.ones(3, 3, 3, 4))
    with pytest.raises(ValueError, match="padding"):
        cr.conv2d(cr.ones(1, 5, 5, 3), cr.ones(3, 3, 3, 4), padding="full")
    with pytest.raises(cr.ShapeError, match="max_pool2d"):
        cr.max_pool2d(cr.ones(4, 4, 1), 2)


# --------------------------------------------------------------------------
# Creating tensors
# --------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["abc", ["a", "b"], object(), None, {1: 2}, b"abc", [1.0, None],
                                 [[1, 2], [3]], [[1.0], [2.0, 3.0]]],
                         ids=["str", "list-of-str", "object", "None", "dict", "bytes", "list-with-None",
                              "ragged", "ragged-float"])
def test_tensor_from_non_numbers_raises_type_error_with_a_message(bad):
    with pytest.raises(TypeError) as info:
        cr.tensor(bad)
    msg = str(info.value)
    assert "tensor" in msg and len(msg) > 40
    assert re.search("number|numeric|regular", msg)


def test_requires_grad_on_int_tensor_raises():
    with pytest.raises(TypeError, match="float"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="float"):
        cr.arange(3).requires_grad_()
    with pytest.raises(TypeError):
        cr.zeros(2, dtype="int64", requires_grad=True)


# --------------------------------------------------------------------------
# Assigning into tensors
# --------------------------------------------------------------------------
def test_assigning_into_a_tensor_that_requires_grad_teaches_where_and_concatenate():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        x[0] = 5.0
    msg = str(info.value)
    assert "where" in msg and "concatenate" in msg and "no_grad" in msg
    np.testing.assert_array_equal(x.numpy(), [1, 2, 3])        # unchanged
    y = cr.zeros(3)
    with pytest.raises(RuntimeError, match="where"):
        y[1] = x[0]                                             # the value needs grad


def test_assigning_under_no_grad_or_into_a_plain_tensor_works():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with cr.no_grad():
        x[0] = 5.0
        x[1:] = cr.tensor([7.0, 8.0])
    np.testing.assert_array_equal(x.numpy(), [5, 7, 8])
    assert x.requires_grad
    y = cr.tensor([[1.0, -2.0], [-3.0, 4.0]])
    y[y < 0] = 0.0                                              # a boolean Tensor mask
    y[0, 1] = 9
    np.testing.assert_array_equal(y.numpy(), [[1, 9], [0, 4]])


# --------------------------------------------------------------------------
# Autodiff misuse
# --------------------------------------------------------------------------
def test_backward_on_non_scalar_without_grad_raises():
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        (x * 2).backward()
    msg = str(info.value)
    assert "(3,)" in msg and "sum" in msg


def test_grad_of_non_scalar_and_of_non_tensor_output():
    with pytest.raises(ValueError, match=r"\(2,\)"):
        cr.grad(lambda x: x * 2)(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="Tensor"):
        cr.grad(lambda x: 3.0)(1.0)
    with pytest.raises(TypeError, match="float"):
        cr.grad(lambda x: x.sum())(np.array([1, 2]))
    with pytest.raises(TypeError, match="Tensor"):
        cr.GradientTape().watch(3.0)


def test_requires_grad_cannot_be_switched_off_on_a_non_leaf():
    y = cr.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)


# --------------------------------------------------------------------------
# Other ops
# --------------------------------------------------------------------------
def test_one_hot_label_out_of_range():
    with pytest.raises(ValueError) as info:
        cr.one_hot([0, 3], 3)
    assert "3" in str(info.value) and "[0, 3)" in str(info.value)
    with pytest.raises(ValueError, match="-1"):
        cr.one_hot([-1, 0], 3)
    with pytest.raises(TypeError, match="integer"):
        cr.one_hot([0.5, 1.0], 3)


def test_item_and_bool_of_many_elements():
    with pytest.raises(ValueError, match=r"\(3,\)"):
        cr.ones(3).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(cr.ones(3))
    with pytest.raises(TypeError):
        len(cr.tensor(1.0))


def test_indexing_errors():
    with pytest.raises(IndexError, match=r"\(3,\)"):
        cr.ones(3)[5]
    with pytest.raises(IndexError, match="integer"):
        cr.ones(3)[cr.tensor([0.0])]


def test_misc_value_errors():
    with pytest.raises(ValueError, match="pad"):
        cr.pad(cr.ones(2), ((-1, 0),))
    with pytest.raises(ValueError, match="clip"):
        cr.clip(cr.ones(2))
    with pytest.raises(ValueError, match="empty"):
        cr.max(cr.ones(0))
    with pytest.raises(ValueError, match="shape"):
        x = cr.ones(2)
        x += cr.ones(3, 2)
    with pytest.raises(ValueError, match="floating"):
        cr.gradcheck(lambda a: a, np.array([1, 2]))
