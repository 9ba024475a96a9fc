"""Data-parallel training on MPI: the same script runs on N processes
(``mpirun -n 4 python train.py`` or ``chainrule launch -n 4 train.py``),
each trains on its share of every batch, and the gradients are averaged.

>>> import chainrule as cr                                # doctest: +SKIP
>>> from chainrule import distributed                     # doctest: +SKIP
>>> model.fit(x, y, batch_size=256, distribution=distributed.DataParallel())  # doctest: +SKIP
>>> if distributed.rank() == 0:                           # doctest: +SKIP
...     model.save("model.chainrule")

What is here:

* ``init()``, ``rank()``, ``world_size()``, ``barrier()`` — the MPI basics
  (``comm.py``); without mpi4py a lone process is rank 0 of 1.
* ``DataParallel`` — the strategy ``Model.fit(..., distribution=)`` accepts
  (``data_parallel.py``, which documents what happens to BatchNormalization
  and Dropout).
* ``allreduce_gradients(grads, weight=)`` and ``broadcast_weights(model)``
  for custom training loops.
* ``launch.main`` — ``chainrule launch``, a thin wrapper over ``mpiexec``.

mpi4py and an MPI library are optional: ``pip install "chainrule[distributed]"``.
Nothing below this floor imports this package.
"""
from .comm import DistributedTimeoutError, barrier, init, rank, world_size
from .data_parallel import DataParallel, allreduce_gradients, broadcast_weights

__all__ = ["DataParallel", "DistributedTimeoutError", "allreduce_gradients", "barrier",
           "broadcast_weights", "init", "rank", "world_size"]
