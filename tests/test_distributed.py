"""chainrule.distributed: data-parallel training on 2 and 3 MPI processes
gives the weights one process gets on the same global batches.

The multi-process tests launch tests/_dist_worker.py with mpiexec and skip
when mpi4py or an MPI launcher is missing (`pip install "chainrule[distributed]"`).
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule import random as cr_random
from chainrule.autodiff import gradients
from chainrule.distributed import comm, launch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _dist_worker import build_model, make_data

WORKER = os.path.join(HERE, "_dist_worker.py")


def _have_mpi():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return launch.find_launcher() is not None


needs_mpi = pytest.mark.skipif(not _have_mpi(), reason='needs mpi4py and mpiexec: '
                               'pip install "chainrule[distributed]"')


def run_ranks(config, world, tmp_path, via_cli=False, timeout=60):
    """Launch the worker on ``world`` processes; (return code, output, seconds, out dir)."""
    out = tmp_path / f"{config['case']}_{world}"
    out.mkdir()
    args = [json.dumps(config), str(out)]
    if via_cli:
        command = [sys.executable, "-m", "chainrule", "launch", "-n", str(world), WORKER, *args]
    else:
        command = [launch.find_launcher(), "-n", str(world), sys.executable, WORKER, *args]
    start = time.monotonic()
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout,
                          cwd=os.path.dirname(HERE))
    return done.returncode, done.stdout + done.stderr, time.monotonic() - start, out


def load_rank(out, rank):
    weights = np.load(out / f"rank{rank}.npz")
    with open(out / f"rank{rank}.json") as f:
        info = json.load(f)
    return [weights[k] for k in weights.files], info


# --------------------------------------------------------------------------
# Equivalence with one process
# --------------------------------------------------------------------------
DENSE_CASES = [
    # optimizer, ranks, global batch: 36 training samples, so batches of 10 end
    # with 6 (shards 3/3 or 2/2/2) and batches of 7 end with 1 (ranks 1 and 2 idle)
    # and a NaN in sample 25 (on rank 0 or 1): every rank stops where one process would
    ("sgd", 2, 10, False, None),
    ("adam", 3, 7, False, None),
    ("adam", 2, 10, True, None),          # through `chainrule launch`
    ("sgd", 2, 10, False, 25),
]
# the same with compiled steps (compile(jit_compile=True)) on every rank and in the one process
DENSE_CASES = [case + (False,) for case in DENSE_CASES] + [("adam", 3, 7, False, None, True),
                                                           ("sgd", 2, 10, False, 25, True)]


@needs_mpi
@pytest.mark.parametrize("optimizer,world,batch_size,via_cli,nan_row,jit_compile", DENSE_CASES)
def test_data_parallel_matches_one_process(tmp_path, optimizer, world, batch_size, via_cli,
                                           nan_row, jit_compile):
    config = {"case": "dense", "optimizer": optimizer, "seed": 3, "batch_size": batch_size,
              "epochs": 2, "validation_split": 0.2, "checkpoint": True, "nan_row": nan_row,
              "jit_compile": jit_compile}
    rc, output, _, out = run_ranks(config, world, tmp_path, via_cli=via_cli)
    assert rc == 0, output
    ranks = [load_rank(out, r) for r in range(world)]
    # Every rank ends with exactly the same weights and logs.
    for weights, info in ranks[1:]:
        for a, b in zip(ranks[0][0], weights):
            np.testing.assert_array_equal(a, b)
        assert info["history"] == ranks[0][1]["history"]
        assert info["seed"] == ranks[0][1]["seed"]
    assert ranks[0][1]["world_size"] == world
    # One process, rank 0's initial weights (the worker seeds rank r with seed + r).
    model = build_model(config, seed=config["seed"])
    x, y = make_data(nan_row=nan_row)
    if nan_row is None:
        history = model.fit(x, y, batch_size=batch_size, epochs=2, validation_split=0.2,
                            verbose=0)
    else:
        with pytest.warns(RuntimeWarning, match="the loss is nan"):
            history = model.fit(x, y, batch_size=batch_size, epochs=2, validation_split=0.2,
                                verbose=0)
        assert "the loss is nan" in output            # every rank said why it stopped
        assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])
    assert model._training_seed == ranks[0][1]["seed"]
    for single, parallel in zip(model.get_weights(), ranks[0][0]):
        np.testing.assert_allclose(parallel, single, rtol=1e-5, atol=1e-6)
    for key, values in history.history.items():       # loss, accuracy, val_loss, val_accuracy
        np.testing.assert_allclose(ranks[0][1]["history"][key], values, rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    # Only rank 0 wrote the checkpoint.
    assert (out / "ckpt_by_rank0.chainrule").exists()
    assert not any((out / f"ckpt_by_rank{r}.chainrule").exists() for r in range(1, world))


def simulate_data_parallel(config, world, seed):
    """The documented semantics, with ``world`` replicas in one process: each
    replica normalizes with its own shard's statistics and draws dropout
    masks from the generator (seed, epoch, rank); gradients are averaged
    weighted by shard size; moving statistics are averaged after each epoch."""
    x, y = make_data()
    replicas = [build_model(config, seed=config["seed"]) for _ in range(world)]
    loss_fn = cr.losses.get("sparse_categorical_crossentropy")
    n, batch = len(x), config["batch_size"]
    for epoch in range(config["epochs"]):
        order = np.random.default_rng([seed, epoch]).permutation(n)
        generators = [np.random.default_rng([seed, epoch, r]) for r in range(world)]
        for start in range(0, n, batch):
            rows = order[start:start + batch]
            average = None
            for r, shard in enumerate(np.array_split(rows, world)):
                model = replicas[r]
                with cr_random.use_generator(generators[r]):
                    out = model(cr.Tensor(x[shard]), training=True)
                loss = loss_fn(y[shard], out)
                for penalty in model.losses:
                    loss = loss + penalty
                share = np.float32(len(shard) / len(rows))
                grads = [g.data * share for g in gradients(loss, model.trainable_weights)]
                average = grads if average is None else [a + g for a, g in zip(average, grads)]
            for model in replicas:
                model.optimizer.apply_gradients(zip(average, model.trainable_weights))
        for same in zip(*[m.non_trainable_weights for m in replicas]):
            mean = np.mean([w.data.astype(np.float64) for w in same], axis=0)
            for w in same:
                w.data[...] = mean.astype(w.dtype)
    return replicas[0].get_weights()


@needs_mpi
@pytest.mark.parametrize("optimizer,world", [("sgd", 2), ("adam", 3)])
def test_batchnorm_and_dropout_follow_the_documented_semantics(tmp_path, optimizer, world):
    config = {"case": "bn_dropout", "optimizer": optimizer, "seed": 5, "batch_size": 12,
              "epochs": 2}
    rc, output, _, out = run_ranks(config, world, tmp_path)
    assert rc == 0, output
    ranks = [load_rank(out, r) for r in range(world)]
    for weights, _ in ranks[1:]:              # moving statistics included
        for a, b in zip(ranks[0][0], weights):
            np.testing.assert_array_equal(a, b)
    expected = simulate_data_parallel(config, world, ranks[0][1]["seed"])
    names = [w.name for w in build_model(config, 0).weights]
    for name, parallel, simulated in zip(names, ranks[0][0], expected):
        np.testing.assert_allclose(parallel, simulated, rtol=1e-5, atol=1e-6, err_msg=name)
    # ...and it is not what one process computes on whole batches (the
    # semantics differ, so this test can tell them apart).
    single = build_model(config, seed=config["seed"])
    single.fit(*make_data(), batch_size=12, epochs=2, verbose=0)
    assert not np.allclose(single.get_weights()[0], ranks[0][0][0], atol=1e-4)


@needs_mpi
def test_allreduce_gradients_in_a_custom_loop(tmp_path):
    config = {"case": "custom_loop", "optimizer": "sgd", "seed": 2}
    rc, output, _, out = run_ranks(config, 2, tmp_path)
    assert rc == 0, output
    averaged, info = load_rank(out, 0)
    # Rows 0..3 on rank 0 and 4..8 on rank 1: the mean-loss gradient over rows 0..8.
    model = build_model(config, seed=config["seed"])
    x, y = make_data()
    rows = slice(0, info["rows"])
    loss = cr.losses.get("sparse_categorical_crossentropy")(y[rows], model(cr.Tensor(x[rows])))
    for expected, got in zip(gradients(loss, model.trainable_weights), averaged):
        np.testing.assert_allclose(got, expected.data, rtol=1e-5, atol=1e-7)
    for a, b in zip(averaged, load_rank(out, 1)[0]):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------
# Failures stop every rank
# --------------------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("case", ["fail", "die"])
def test_a_rank_that_raises_or_dies_stops_every_rank(tmp_path, case):
    # A raising rank aborts the job through the excepthook, well before the
    # others' timeout. A rank that just ends is usually caught by the launcher
    # at once too, but MPICH's launcher occasionally misses it on a busy
    # machine (seen once in CI): then the others' timeout must stop the job.
    timeout = 25 if case == "fail" else 8
    config = {"case": case, "optimizer": "sgd", "seed": 1, "batch_size": 6, "epochs": 3,
              "timeout": timeout}
    rc, output, seconds, out = run_ranks(config, 3, tmp_path, timeout=90)
    assert rc != 0
    if case == "fail":
        assert "rank 1 fails on purpose" in output
        assert seconds < 20
    else:
        assert seconds < timeout + 30
    assert not list(out.glob("rank*.npz"))     # no rank went on to finish training


@needs_mpi
def test_a_stuck_rank_makes_the_others_time_out(tmp_path):
    config = {"case": "stall", "optimizer": "sgd", "seed": 1, "batch_size": 6, "epochs": 3,
              "timeout": 2}
    # Generous wall-clock bounds: starting two interpreters on a busy 2-core
    # machine takes seconds; what matters is that the job ends instead of hanging.
    rc, output, seconds, out = run_ranks(config, 2, tmp_path, timeout=120)
    assert rc != 0
    assert "DistributedTimeoutError" in output and "did not complete within 2 s" in output
    assert seconds < 60
    assert not list(out.glob("rank*.npz"))


# --------------------------------------------------------------------------
# One process, and no MPI at all
# --------------------------------------------------------------------------
@needs_mpi
def test_one_process_data_parallel_is_plain_fit():
    config = {"case": "bn_dropout", "optimizer": "adam", "seed": 4, "batch_size": 8}
    x, y = make_data()
    plain = build_model(config, seed=4)
    plain.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0)
    parallel = build_model(config, seed=4)
    history = parallel.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0,
                           distribution=cr.distributed.DataParallel())
    for a, b in zip(plain.get_weights(), parallel.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history.history == plain.history.history


def test_without_mpi4py_dataparallel_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)       # import mpi4py now fails
    monkeypatch.setitem(comm._STATE, "MPI", None)
    with pytest.raises(ImportError, match=r'pip install "chainrule\[distributed\]"'):
        cr.distributed.DataParallel()
    for name in comm._LAUNCHER_SIZE_VARS:
        monkeypatch.delenv(name, raising=False)
    assert cr.distributed.rank() == 0 and cr.distributed.world_size() == 1
    monkeypatch.setenv("PMI_SIZE", "4")                     # started by mpiexec -n 4
    with pytest.raises(ImportError, match="one of 4 started by an MPI launcher"):
        cr.distributed.world_size()


@pytest.mark.parametrize("kwargs,match", [
    ({"timeout": 0}, "timeout must be a positive number of seconds"),
    ({"bucket_mb": -1}, "bucket_mb must be a positive number of MiB"),
])
def test_dataparallel_validates_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cr.distributed.DataParallel(**kwargs)


def test_launch_without_mpiexec_says_what_to_install(monkeypatch, capsys, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    monkeypatch.setattr(launch, "find_launcher", lambda: None)
    assert launch.main(["-n", "2", str(script)]) == 1
    assert 'pip install "chainrule[distributed]"' in capsys.readouterr().err
    assert launch.main(["-n", "2", str(tmp_path / "missing.py")]) == 2
    assert "no such script" in capsys.readouterr().err
    assert launch.main(["-n", "0", str(script)]) == 2
    assert "-n must be at least 1" in capsys.readouterr().err


def test_shards_cover_each_batch_once_and_differ_by_at_most_one():
    strategy = cr.distributed.DataParallel.__new__(cr.distributed.DataParallel)
    for world in (1, 2, 3, 4):
        strategy.world_size = world
        for count in range(13):
            rows = np.arange(100, 100 + count)
            shards = []
            for r in range(world):
                strategy.rank = r
                shards.append(strategy.shard(rows))
            np.testing.assert_array_equal(np.concatenate(shards), rows)
            assert [len(s) for s in shards] == [len(s) for s in np.array_split(rows, world)]


def test_scaling_model_is_the_ring_all_reduce_formula():
    from chainrule.bench.distributed import allreduce_seconds, scaling_model
    n_bytes, bandwidth, latency = 4e6, 1.25e9, 50e-6
    assert allreduce_seconds(n_bytes, 1) == 0.0
    # N = 4: each worker sends 2·3/4 of the bytes, in 2·3 messages.
    assert allreduce_seconds(n_bytes, 4, bandwidth, latency) == pytest.approx(
        1.5 * 4e6 / 1.25e9 + 6 * 50e-6)
    rate, step, comm_seconds = scaling_model(1e-3, 10 ** 6, 8, 128)
    assert comm_seconds == pytest.approx(2 * 7 / 8 * 4e6 / 1.25e9 + 14 * 50e-6)
    assert step == pytest.approx(0.128 + comm_seconds)
    assert rate == pytest.approx(8 * 128 / step)
