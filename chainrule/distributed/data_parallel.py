"""Synchronous data parallelism: every rank holds the whole model, trains on
its shard of each global batch, and all ranks apply the same averaged
gradient, so their weights stay identical.

One step with ``N`` ranks and a global batch of ``B`` samples::

    rank r takes rows [start_r, start_r + n_r) of the batch   (n_r ≈ B / N)
    L_r  = mean loss over its n_r rows (+ regularization)
    g_r  = ∂L_r/∂w
    g    = Σ_r (n_r / B) · g_r          # MPI Allreduce(SUM) of the scaled g_r
         = ∂/∂w of the mean loss over all B rows       (exactly, in real arithmetic)
    w   ← optimizer(w, g)               # the same update on every rank

Gradients travel flattened into a few buckets (``bucket_mb`` each, float32
for a float32 model); the buckets' all-reduces are started one after the
other without waiting, so packing bucket k+1 overlaps sending bucket k.
They do not overlap the backward pass: ``gradients`` hands back every
gradient at once, and a per-weight hook in the engine would cost more
reading than the few milliseconds it could hide on a NumPy step.

The class is a strategy object that ``Model.fit(..., distribution=dp)``
talks to through a handful of methods (``begin_fit``, ``shard``,
``reduce_step``, ``average_logs``, ``end_epoch``, ``select_callbacks``,
``rank_generator``); ``fit`` never imports this module.
"""
from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Sequence, TypeVar

import numpy as np

from ..models.callbacks import CSVLogger, ModelCheckpoint, ProgbarLogger
from ..tensor import Tensor
from . import comm

if TYPE_CHECKING:
    from ..models.callbacks import Callback
    from ..models.model import Model

GradLike = TypeVar("GradLike", Tensor, np.ndarray)

__all__ = ["DataParallel", "allreduce_gradients", "broadcast_weights"]

_DEFAULT_TIMEOUT = 300.0

# Callbacks that print or write files: on ranks other than 0 they are left out.
# A callback of your own can ask for the same with a `chief_only = True` attribute.
_CHIEF_ONLY = (ProgbarLogger, ModelCheckpoint, CSVLogger)


class DataParallel:
    """Data-parallel training over MPI ranks, for ``model.fit(..., distribution=)``.

    Semantics (the same as PyTorch's DistributedDataParallel without
    SyncBatchNorm, and Keras 3's ``keras.distribution.DataParallel``):

    * The weights (trainable and not) and the shuffling seed are broadcast
      from rank 0 when ``fit`` starts, so every rank starts identical.
    * ``batch_size`` is the *global* batch: each rank takes an equal share
      (sizes differ by at most one) of the same shuffled batch; the mean-loss
      gradient is averaged weighted by shard size, so the update equals the
      one a single process computes on the whole batch.
    * The loss and metrics in the logs and the validation results are
      averaged across ranks, weighted by sample counts; every rank sees the
      same logs, so callbacks like EarlyStopping decide the same everywhere.
      Only rank 0 prints the progress bar and runs ModelCheckpoint and
      CSVLogger.
    * BatchNormalization normalizes with each rank's own shard statistics
      (no synchronized batch norm); its moving mean and variance are
      averaged across ranks at the end of every epoch.
    * Dropout draws masks per rank, from a generator seeded by
      ``(seed, epoch, rank)``: reproducible, independent between ranks, but
      not the masks one process would draw on the whole batch.

    Args:
        timeout: seconds a rank waits in a collective before it decides that
            another rank has died and raises ``DistributedTimeoutError``.
        bucket_mb: size of the gradient buckets in MiB.

    Launch with ``mpirun -n 4 python train.py`` or ``chainrule launch -n 4 train.py``:

    >>> import chainrule as cr                            # doctest: +SKIP
    >>> from chainrule.distributed import DataParallel   # doctest: +SKIP
    >>> dp = DataParallel()                               # doctest: +SKIP
    >>> model.fit(x, y, batch_size=256, epochs=5, distribution=dp)   # doctest: +SKIP
    """

    def __init__(self, timeout: float = _DEFAULT_TIMEOUT, bucket_mb: float = 4.0) -> None:
        _check_positive(timeout, "timeout", "seconds, e.g. 300")
        _check_positive(bucket_mb, "bucket_mb", "MiB, e.g. 4")
        self._comm = comm.init()           # ImportError with what to install, without mpi4py
        self.rank = self._comm.Get_rank()
        self.world_size = self._comm.Get_size()
        self.timeout = float(timeout)
        self.bucket_bytes = int(bucket_mb * 2 ** 20)

    @property
    def is_chief(self) -> bool:
        """True on rank 0, the rank that prints and writes checkpoints."""
        return self.rank == 0

    def __repr__(self) -> str:
        return f"DataParallel(rank={self.rank}, world_size={self.world_size})"

    # -- hooks called by fit -----------------------------------------------
    def begin_fit(self, model: Model, seed: int | None,
                  epochs_seen: int | None) -> tuple[int | None, int | None]:
        """Make every rank start from rank 0's weights, seed and epoch count.

        Args:
            model: the model ``fit`` trains.
            seed: this rank's shuffling seed (rank 0's wins).
            epochs_seen: this rank's count of epochs already trained (rank 0's wins).

        Returns:
            ``(seed, epochs_seen)`` of rank 0.
        """
        broadcast_weights(model, timeout=self.timeout)
        seed = comm.broadcast_int(seed, self.timeout)
        epochs_seen = comm.broadcast_int(epochs_seen, self.timeout)
        return seed, epochs_seen

    def check_data(self, arrays: Sequence[np.ndarray],
                   val_arrays: Sequence[np.ndarray] | None = None) -> None:
        """Fail on every rank, before any step, unless every rank was given the
        same number of samples and the same shapes and dtypes (training and
        validation). Each rank takes its share of the *same* global batches:
        with other lengths the ranks would take different numbers of steps and
        average gradients of unrelated batches.

        Args:
            arrays: the training arrays (inputs, targets, sample weights).
            val_arrays: the validation arrays, or None.
        """
        mine = _describe(arrays, val_arrays)
        encoded = np.zeros(_DESCRIPTION_BYTES, np.uint8)
        raw = mine.encode()[:_DESCRIPTION_BYTES]
        encoded[:len(raw)] = np.frombuffer(raw, np.uint8)
        every = comm.allgather(encoded, self.timeout, "all-gather of the data shapes")
        described = [bytes(row).rstrip(b"\0").decode(errors="replace") for row in every]
        differ = [r for r, d in enumerate(described) if d != described[0]]
        if differ:
            other = differ[0]
            raise ValueError(
                f"DataParallel: every rank must be given the same data (each trains on its "
                f"share of the same global batches), but rank 0 has {described[0]} and rank "
                f"{other} has {described[other]}"
                + (f" (ranks {', '.join(map(str, differ))} differ from rank 0)"
                   if len(differ) > 1 else "")
                + ". Load the same arrays on every rank; fit shards them.")

    def shard_bounds(self, count: int) -> tuple[int, int]:
        """(start, stop) of this rank's share of ``count`` rows: the first
        ``count % world_size`` ranks take one row more than the others.

        Args:
            count: the number of rows of the global batch.

        Returns:
            ``(start, stop)``.
        """
        base, extra = divmod(count, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (self.rank < extra)

    def shard(self, rows: np.ndarray) -> np.ndarray:
        """This rank's part of ``rows`` (an array of sample indices).

        Args:
            rows: the sample indices of the global batch.

        Returns:
            This rank's slice of them.
        """
        start, stop = self.shard_bounds(len(rows))
        return rows[start:stop]

    def rank_generator(self, seed: int, epoch: int) -> np.random.Generator | None:
        """The generator for this rank's dropout masks in ``epoch`` (None with
        one process, which then behaves exactly like plain ``fit``).

        Args:
            seed: the run's seed (the same on every rank).
            epoch: the epoch's index.

        Returns:
            A Generator seeded by ``(seed, epoch, rank)``, or None with one process.
        """
        if self.world_size == 1:
            return None
        return np.random.default_rng([seed, epoch, self.rank])

    def reduce_step(self, grads: Sequence[Tensor | np.ndarray | None], params: Sequence[Tensor],
                    values: Sequence[float], n_local: int,
                    n_global: int) -> tuple[list[np.ndarray | None], list[float]]:
        """Average one step's gradients and loss values over the ranks.

        ``grads`` are this rank's gradients of its mean loss (None where a
        weight got none, or all None for an empty shard); ``values`` are
        floats (the loss and per-output losses). Returns (gradients as arrays,
        None where no rank had one; the values averaged weighted by shard size).

        Args:
            grads: this rank's gradients, one per weight (None allowed).
            params: the weights, for the shapes of missing gradients.
            values: this rank's loss values (floats).
            n_local: the number of samples in this rank's shard.
            n_global: the number of samples in the global batch.

        Returns:
            ``(gradients, values)`` averaged over the ranks.
        """
        scale = n_local / n_global
        arrays: list[np.ndarray] = []
        present: list[float] = []
        for grad, param in zip(grads, params):
            if grad is None or n_local == 0:
                arrays.append(np.zeros(param.shape, param.dtype))
                present.append(0.0)
            else:
                g = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
                arrays.append(g * g.dtype.type(scale))
                present.append(1.0)
        extras = [v * scale if n_local else 0.0 for v in values] + present
        dtype = arrays[0].dtype if arrays else np.dtype(np.float64)
        arrays.append(np.array(extras, dtype=dtype))
        summed = _sum_over_ranks(arrays, self.timeout, self.bucket_bytes, "gradient all-reduce")
        tail = summed.pop()
        averaged = [float(v) for v in tail[:len(values)]]
        reduced = [g if flag > 0 else None for g, flag in zip(summed, tail[len(values):])]
        return reduced, averaged

    def average_logs(self, logs: dict[str, float], count: int) -> dict[str, float]:
        """``logs`` averaged over the ranks, weighted by ``count`` (this rank's
        number of samples behind them).

        Args:
            logs: this rank's numbers (loss, metrics).
            count: this rank's number of samples behind them.

        Returns:
            The logs averaged over every rank.
        """
        keys = list(logs)
        buffer = np.array([float(logs[k]) * count if count else 0.0 for k in keys] + [count],
                          dtype=np.float64)
        comm.allreduce_sum(buffer, self.timeout, "all-reduce of the metrics")
        total = buffer[-1]
        if total == 0:
            return dict(logs)
        return {k: float(v / total) for k, v in zip(keys, buffer[:-1])}

    def end_epoch(self, model: Model) -> None:
        """Average the non-trainable weights (BatchNormalization's moving
        statistics) across ranks, so every rank evaluates and saves the same model.

        Args:
            model: the model ``fit`` trains.
        """
        weights = [w for w in model.non_trainable_weights if w.dtype.kind == "f"]
        if not weights or self.world_size == 1:
            return
        # float64 sums: a weight equal on every rank comes back bit for bit.
        sums = _sum_over_ranks([w.data.astype(np.float64) for w in weights], self.timeout,
                               self.bucket_bytes, "all-reduce of the moving statistics")
        for w, total in zip(weights, sums):
            w.data[...] = (total / self.world_size).astype(w.dtype)
            w._version += 1

    def select_callbacks(self, callbacks: Sequence[Callback] | None,
                         verbose: int) -> tuple[Sequence[Callback] | None, int]:
        """Rank 0 keeps everything; the others print nothing and write no files.

        Args:
            callbacks: the callbacks given to ``fit``.
            verbose: ``fit``'s verbosity.

        Returns:
            ``(callbacks, verbose)`` for this rank.
        """
        if self.is_chief:
            return callbacks, verbose
        kept = [cb for cb in (callbacks or [])
                if not isinstance(cb, _CHIEF_ONLY) and not getattr(cb, "chief_only", False)]
        return kept, 0


# --------------------------------------------------------------------------
# Functions for custom loops
# --------------------------------------------------------------------------
def allreduce_gradients(grads: Sequence[GradLike | None], weight: float | None = None,
                        timeout: float = _DEFAULT_TIMEOUT,
                        bucket_mb: float = 4.0) -> list[GradLike | None]:
    """Average ``grads`` (a list of arrays or Tensors, None allowed) over every rank.

    ``weight`` is this rank's share, usually its number of samples: the
    result is ``Σ_r weight_r · g_r / Σ_r weight_r`` (equal weights when
    omitted), the gradient of the mean loss over all ranks' samples when
    each ``g_r`` is the gradient of rank r's mean loss. Returns a list of the
    same kinds (Tensor in, Tensor out); None stays None only where every rank
    had None.

    Args:
        grads: this rank's gradients (arrays or Tensors; None allowed).
        weight: this rank's share (its sample count); None gives every rank 1.
        timeout: seconds a collective waits before raising ``DistributedTimeoutError``.
        bucket_mb: size of the all-reduce buckets in MiB.

    Returns:
        The averaged gradients, each of its input's kind.

    >>> loss, grads = cr.value_and_grad(loss_fn)(*params)      # doctest: +SKIP
    >>> from chainrule.distributed import allreduce_gradients            # doctest: +SKIP
    >>> grads = allreduce_gradients(grads, weight=len(x_local))          # doctest: +SKIP
    >>> optimizer.apply_gradients(zip(grads, params))           # doctest: +SKIP
    """
    grads = list(grads)
    w: float = 1.0 if weight is None else weight
    if not isinstance(w, numbers.Real) or w < 0:
        raise ValueError(f"allreduce_gradients: weight must be a number >= 0 (this rank's "
                         f"sample count), got {weight!r}")
    arrays: list[np.ndarray] = []
    present: list[float] = []
    for g in grads:
        if g is None:
            present.append(0.0)
            continue
        data = g.data if isinstance(g, Tensor) else np.asarray(g)
        arrays.append(data * data.dtype.type(w) if data.dtype.kind == "f" else data * float(w))
        present.append(1.0)
    # One small all-reduce first: the total weight, and which gradients exist
    # (every rank must send the same layout; a None on some ranks only is an error).
    flags = np.array(present + [float(w)], dtype=np.float64)
    comm.allreduce_sum(flags, timeout, "all-reduce of the gradient layout")
    size = comm.init().Get_size()
    if np.any((flags[:-1] > 0) & (flags[:-1] < size)):
        raise ValueError("allreduce_gradients: a gradient is None on some ranks but not on "
                         "others; pass zeros of the weight's shape instead of None")
    total = flags[-1]
    if total <= 0:
        raise ValueError("allreduce_gradients: the weights of all ranks sum to 0; give at "
                         "least one rank a positive weight")
    summed = _sum_over_ranks(arrays, timeout, int(bucket_mb * 2 ** 20), "gradient all-reduce")
    out: list[Any] = []
    k = 0
    for g in grads:
        if g is None:
            out.append(None)
            continue
        mean = summed[k] / summed[k].dtype.type(total)
        k += 1
        out.append(Tensor(mean) if isinstance(g, Tensor) else mean)
    return out


def broadcast_weights(model: Model, root: int = 0, timeout: float = _DEFAULT_TIMEOUT) -> None:
    """Overwrite every weight of ``model`` (trainable and not) with rank
    ``root``'s, so all ranks start from the same point.

    Args:
        model: a built model (the same architecture on every rank).
        root: the rank whose weights everyone gets.
        timeout: seconds a collective waits before raising ``DistributedTimeoutError``.
    """
    if not getattr(model, "built", False) or not model.weights:
        raise ValueError(f"broadcast_weights: '{getattr(model, 'name', model)}' has no weights "
                         f"yet; build it first (model.build(input_shape) or call it on a batch)")
    arrays = model.get_weights()
    flat = _concat_by_dtype(arrays)
    for buffer, _ in flat.values():
        comm.broadcast(buffer, timeout, root, "broadcast of the weights")
    model.set_weights(_split_by_dtype(arrays, flat))


# --------------------------------------------------------------------------
# Buckets
# --------------------------------------------------------------------------
def _concat_by_dtype(arrays):
    """{dtype: (one flat buffer of every array of that dtype, [their positions])}."""
    groups = {}
    for i, a in enumerate(arrays):
        groups.setdefault(a.dtype, []).append(i)
    return {dtype: (np.concatenate([arrays[i].ravel() for i in idx]), idx)
            for dtype, idx in groups.items()}


def _split_by_dtype(arrays, flat):
    out = [None] * len(arrays)
    for buffer, idx in flat.values():
        offset = 0
        for i in idx:
            size = arrays[i].size
            out[i] = buffer[offset:offset + size].reshape(arrays[i].shape)
            offset += size
    return out


def _sum_over_ranks(arrays, timeout, bucket_bytes, what):
    """Σ over ranks of each array, through flat buckets of at most
    ``bucket_bytes`` (one array larger than that gets a bucket of its own).

    All buckets are started before the first is waited on: MPI runs them in
    the order every rank started them, while this rank packs the next one.
    """
    buckets, current, size = [], [], 0
    for i, a in enumerate(arrays):
        if current and (size + a.nbytes > bucket_bytes or a.dtype != arrays[current[0]].dtype):
            buckets.append(current)
            current, size = [], 0
        current.append(i)
        size += a.nbytes
    if current:
        buckets.append(current)
    pending = []
    for idx in buckets:
        buffer = np.concatenate([np.ascontiguousarray(arrays[i]).ravel() for i in idx])
        pending.append((comm.start_allreduce_sum(buffer), buffer, idx))
    out = [None] * len(arrays)
    for request, buffer, idx in pending:
        comm.wait(request, timeout, what)
        offset = 0
        for i in idx:
            out[i] = buffer[offset:offset + arrays[i].size].reshape(arrays[i].shape)
            offset += arrays[i].size
    return out


_DESCRIPTION_BYTES = 2048


def _describe(arrays, val_arrays):
    """``"36 samples of (5,) float32, (,) int64; validation: none"``: what
    must agree across ranks."""
    def part(group):
        count = len(group[0]) if group and np.ndim(group[0]) else 0
        shapes = ", ".join(f"{tuple(np.shape(a)[1:])} {np.asarray(a).dtype}" for a in group)
        return f"{count} samples of {shapes}"
    return f"{part(list(arrays))}; validation: " + \
        (part(list(val_arrays)) if val_arrays else "none")


def _check_positive(value, name, hint):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"DataParallel: {name} must be a positive number of {hint}; "
                         f"got {value!r}")
