"""Every differentiable op of chainrule, one module per family.

Each op is a function from tensors to a tensor: its forward is NumPy, its
derivative (vjp) sits right below it and is written with these same ops.
"""
from .elementwise import *  # noqa: F401,F403
from .elementwise import __all__ as _elementwise
from .shaping import *  # noqa: F401,F403
from .shaping import __all__ as _shape
from .index import *  # noqa: F401,F403
from .index import __all__ as _index
from .reduce import *  # noqa: F401,F403
from .reduce import __all__ as _reduce
from .matmul import *  # noqa: F401,F403
from .matmul import __all__ as _matmul
from .nn import *  # noqa: F401,F403
from .nn import __all__ as _nn
from .rnn import *  # noqa: F401,F403
from .rnn import __all__ as _rnn
from .special import *  # noqa: F401,F403
from .special import __all__ as _special
from .rearrange import *  # noqa: F401,F403
from .rearrange import __all__ as _rearrange
from .scan import *  # noqa: F401,F403
from .scan import __all__ as _scan
from .normalization import *  # noqa: F401,F403
from .normalization import __all__ as _normalization
from .attention import *  # noqa: F401,F403
from .attention import __all__ as _attention

__all__ = (_elementwise + _shape + _index + _reduce + _matmul + _nn + _rnn + _special + _rearrange
           + _scan + _normalization + _attention)
from .keras_api import *  # noqa: E402,F401,F403  (keras.ops names: cr.ops only, not in __all__)
