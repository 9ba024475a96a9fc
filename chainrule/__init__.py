"""chainrule: a deep-learning library you can read, built on NumPy.

>>> import chainrule as cr
>>> a = cr.tensor(2.0, requires_grad=True)
>>> b = cr.tensor(3.0, requires_grad=True)
>>> J = 3 * (a * b + 4)
>>> J.backward()
>>> a.grad, b.grad
(tensor(9.), tensor(6.))
"""
__version__ = "0.5.0"

from .tensor import (Tensor, tensor, as_tensor, zeros, ones, full, zeros_like,
                     ones_like, arange, eye, rand, randn)
from .random import set_seed
from .graph import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, detect_anomaly
# every op family's names (what `from .ops import *` gives, spelled out so that
# type checkers see them)
from .ops.elementwise import *  # noqa: F401,F403
from .ops.shaping import *  # noqa: F401,F403
from .ops.index import *  # noqa: F401,F403
from .ops.reduce import *  # noqa: F401,F403
from .ops.matmul import *  # noqa: F401,F403
from .ops.nn import *  # noqa: F401,F403
from .ops.rnn import *  # noqa: F401,F403
from .ops.special import *  # noqa: F401,F403
from .ops.rearrange import *  # noqa: F401,F403
from .ops.scan import *  # noqa: F401,F403
from .ops.normalization import *  # noqa: F401,F403
from .ops.attention import *  # noqa: F401,F403
from .ops.keras_api import linspace  # noqa: F401  (NumPy's/PyTorch's cr.linspace)
from .autodiff import grad, value_and_grad, jacobian, hessian, GradientTape, custom_gradient
from .autodiff import UnconnectedGradients  # noqa: F401  (tf.UnconnectedGradients)
from .compiled import jit, JitError, TensorSpec  # noqa: E402,F401
from .gradcheck import gradcheck, GradcheckError
from .errors import ShapeError
# Building blocks, models and training (Keras-style), then the uses on top.
from . import activations, initializers, regularizers, losses, metrics, optimizers, layers  # noqa: E402
from . import constraints  # noqa: E402,F401  (keras.constraints)
from .variables import Variable  # noqa: E402,F401  (keras.Variable)
from . import callbacks, utils  # noqa: E402
from .models import Sequential, Model, Input, load_model  # noqa: E402
from . import linalg, datasets, attacks, distributed, saving  # noqa: E402
from .explain import explain  # noqa: E402

# dtype names, so `cr.float64` reads like `torch.float64` (they are NumPy's).
from numpy import float32, float64, int32, int64, bool_  # noqa: E402,F401
