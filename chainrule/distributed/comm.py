"""The MPI side of ``chainrule.distributed``: who am I, how many are we, and
collectives that give up after a timeout instead of hanging.

``mpi4py`` is imported here, lazily, and nowhere else in chainrule: the
core never needs it. Without it a single process is rank 0 of 1, unless an
MPI launcher started several processes, which is then an error (each would
train alone without knowing it).

Failure behaviour. ``init()`` installs an excepthook: an exception that
nobody catches prints its traceback and calls ``MPI_Abort``, which makes the
launcher kill every rank, so one failing rank stops all of them at once.
A rank that is merely stuck (or that caught the exception and went on) is
caught by the timeout: every collective here polls a non-blocking request
and raises :class:`DistributedTimeoutError` on the ranks still waiting.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np

__all__ = ["INSTALL_HINT", "DistributedTimeoutError", "init", "rank", "world_size"]

INSTALL_HINT = ('pip install "chainrule[distributed]" (installs mpi4py and the MPICH '
                'library and its mpiexec), or pip install mpi4py on a cluster that '
                'has its own MPI (module load openmpi/mpich first)')

# Environment variables MPI launchers set for each process they start.
_LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")

_STATE = {"MPI": None, "hook_installed": False}


class DistributedTimeoutError(RuntimeError):
    """A collective did not complete in time: another rank stopped or is stuck."""


def _import_mpi():
    """The ``mpi4py.MPI`` module, or an ImportError that says what to install."""
    if _STATE["MPI"] is None:
        try:
            from mpi4py import MPI
        except ImportError as error:
            raise ImportError(f"chainrule.distributed needs mpi4py and an MPI library, "
                              f"which are not installed: {INSTALL_HINT}.") from error
        _STATE["MPI"] = MPI
    return _STATE["MPI"]


def _mpi_available():
    try:
        _import_mpi()
    except ImportError:
        return False
    return True


def _launched_size():
    """The number of processes an MPI launcher says it started (1 when none)."""
    for name in _LAUNCHER_SIZE_VARS:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 1


def init(abort_on_error: bool = True) -> Any:
    """Start MPI (once) and return ``MPI.COMM_WORLD``.

    With ``abort_on_error`` (the default) an uncaught exception on any rank
    prints its traceback and aborts every rank, instead of leaving the
    others waiting forever in the next collective.

    Args:
        abort_on_error: install the excepthook that aborts every rank on an
            uncaught exception.

    Returns:
        mpi4py's ``MPI.COMM_WORLD`` (an ``Intracomm``).
    """
    MPI = _import_mpi()
    comm = MPI.COMM_WORLD
    if abort_on_error and not _STATE["hook_installed"]:
        previous = sys.excepthook

        def abort_all_ranks(exc_type: Any, exc: Any, tb: Any) -> None:
            previous(exc_type, exc, tb)          # the traceback first, so the cause is visible
            sys.stderr.flush()
            sys.stdout.flush()
            if comm.Get_size() > 1:
                # The launcher forwards our output through a pipe; MPI_Abort kills
                # the job at once, so give it a moment to pass the traceback on.
                time.sleep(0.5)
                comm.Abort(1)

        sys.excepthook = abort_all_ranks
        _STATE["hook_installed"] = True
    return comm


def rank() -> int:
    """This process's rank, 0 .. world_size() - 1 (0 without MPI).

    Returns:
        The rank.
    """
    if not _mpi_available():
        _check_not_launched()
        return 0
    return init().Get_rank()


def world_size() -> int:
    """How many processes train together (1 without MPI).

    Returns:
        The number of ranks.
    """
    if not _mpi_available():
        _check_not_launched()
        return 1
    return init().Get_size()


def _check_not_launched() -> None:
    size = _launched_size()
    if size > 1:
        raise ImportError(f"this process is one of {size} started by an MPI launcher, but "
                          f"mpi4py is not installed, so the processes cannot talk to each "
                          f"other: {INSTALL_HINT}.")


# --------------------------------------------------------------------------
# Collectives with a timeout
# --------------------------------------------------------------------------
def wait(request: Any, timeout: float, what: str) -> None:
    """Wait for a non-blocking MPI request, at most ``timeout`` seconds.

    Spins for the first millisecond (a step's all-reduce on one machine
    takes microseconds), then sleeps between polls so a long wait does not
    burn a core that another rank may need.

    Args:
        request: an mpi4py ``Request`` (from ``Iallreduce``, ``Ibcast``...).
        timeout: seconds before raising ``DistributedTimeoutError``.
        what: the collective's name, for the error message.
    """
    start = time.monotonic()
    pause = 0.0
    while not request.Test():
        waited = time.monotonic() - start
        if waited > timeout:
            comm = init()
            raise DistributedTimeoutError(
                f"rank {comm.Get_rank()} of {comm.Get_size()}: {what} did not complete "
                f"within {timeout:g} s; another rank has stopped or is stuck (look for its "
                f"error above). Every rank stops: a synchronous step needs all of them.")
        if waited > 1e-3:
            time.sleep(pause)
            pause = min(2 * pause or 1e-5, 1e-3)


def allreduce_sum(buffer: np.ndarray, timeout: float, what: str = "all-reduce") -> np.ndarray:
    """Sum ``buffer`` (a contiguous NumPy array) over every rank, in place.

    Args:
        buffer: the contiguous array to sum; overwritten with the sum.
        timeout: seconds before raising ``DistributedTimeoutError``.
        what: the collective's name, for the error message.

    Returns:
        ``buffer``.
    """
    MPI = _import_mpi()
    wait(init().Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM), timeout, what)
    return buffer


def start_allreduce_sum(buffer: np.ndarray) -> Any:
    """Start summing ``buffer`` in place; returns the request to ``wait`` on.

    Args:
        buffer: the contiguous array to sum; overwritten with the sum once done.

    Returns:
        The mpi4py ``Request``.
    """
    MPI = _import_mpi()
    return init().Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)


def broadcast(buffer: np.ndarray, timeout: float, root: int = 0,
              what: str = "broadcast") -> np.ndarray:
    """Overwrite ``buffer`` on every rank with rank ``root``'s, in place.

    Args:
        buffer: the contiguous array (same shape and dtype on every rank).
        timeout: seconds before raising ``DistributedTimeoutError``.
        root: the rank whose values everyone gets.
        what: the collective's name, for the error message.

    Returns:
        ``buffer``.
    """
    wait(init().Ibcast(buffer, root=root), timeout, what)
    return buffer


def allgather(buffer: np.ndarray, timeout: float, what: str = "all-gather") -> np.ndarray:
    """Every rank's ``buffer`` (same shape and dtype on each), stacked in rank
    order: an array of shape ``(world_size, *buffer.shape)`` on every rank.

    Args:
        buffer: this rank's array.
        timeout: seconds before raising ``DistributedTimeoutError``.
        what: the collective's name, for the error message.

    Returns:
        The stacked arrays.
    """
    comm = init()
    out = np.empty((comm.Get_size(),) + buffer.shape, dtype=buffer.dtype)
    wait(comm.Iallgather(np.ascontiguousarray(buffer), out), timeout, what)
    return out


def barrier(timeout: float = 300.0) -> None:
    """Wait until every rank gets here (or raise after ``timeout`` seconds).

    Args:
        timeout: seconds before raising ``DistributedTimeoutError``.
    """
    wait(init().Ibarrier(), timeout, "barrier")


def broadcast_int(value: int | None, timeout: float, root: int = 0) -> int | None:
    """Rank ``root``'s integer, on every rank (``None`` travels as -1).

    Args:
        value: this rank's integer (only ``root``'s matters), or None.
        timeout: seconds before raising ``DistributedTimeoutError``.
        root: the rank whose value everyone gets.

    Returns:
        ``root``'s value.
    """
    buffer = np.array([-1 if value is None else int(value)], dtype=np.int64)
    broadcast(buffer, timeout, root, "broadcast of the training seed")
    return None if buffer[0] == -1 else int(buffer[0])
