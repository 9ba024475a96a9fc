"""A model with its own train_step trains under DataParallel as on one process:
its optimizer.apply goes through the loop's all-reduce (issue 16, one loop).
Skips without mpi4py and an MPI launcher."""
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _dist_train_step_worker import build_model, make_data  # noqa: E402

from chainrule.distributed import launch  # noqa: E402


def _have_mpi():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return launch.find_launcher() is not None


@pytest.mark.skipif(not _have_mpi(), reason='needs mpi4py and mpiexec: '
                    'pip install "chainrule[distributed]"')
def test_a_custom_train_step_on_two_ranks_matches_one_process(tmp_path):
    worker = os.path.join(HERE, "_dist_train_step_worker.py")
    done = subprocess.run([launch.find_launcher(), "-n", "2", sys.executable, worker,
                           str(tmp_path)], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(HERE), check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    model = build_model(seed=11)            # rank 0's initial weights
    x, y = make_data()
    history = model.fit(x, y, batch_size=10, epochs=3, verbose=0, shuffle=True)
    for rank in (0, 1):
        saved = np.load(tmp_path / f"rank{rank}.npz")
        weights = [saved[f"arr_{i}"] for i in range(len(model.get_weights()))]
        for got, expected in zip(weights, model.get_weights()):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(saved["loss"], history.history["loss"], rtol=1e-5)
        assert int(saved["steps_run"]) == model.steps_run == 9     # 3 epochs of 3 batches
