"""Issue 20, item 5: DataParallel compares the ranks' data when fit starts.

Rank 1 is given other data (36 samples where the others have 46, as the
issue's run; or labels of shape (N, 1) instead of (N,)): every rank must
refuse with the same ValueError before the first step, instead of rank 0
training on to weights near 1e26 while the other times out."""
import json

import pytest

from test_distributed import needs_mpi, run_ranks


@needs_mpi
@pytest.mark.parametrize("case,world,expected", [
    ("mismatch_count", 2, "rank 0 has 46 samples of (5,) float32, () int64; validation"),
    ("mismatch_labels", 3, "rank 1 has 46 samples of (5,) float32, (1,) int64"),
])
def test_mismatched_shards_fail_on_every_rank_at_fit_start(tmp_path, case, world, expected):
    config = {"case": case, "optimizer": "sgd", "seed": 1, "batch_size": 10, "epochs": 2,
              "timeout": 30}
    rc, output, seconds, out = run_ranks(config, world, tmp_path, timeout=90)
    assert rc == 0, output
    outcomes = []
    for rank in range(world):
        with open(out / f"rank{rank}.json") as f:
            outcomes.append(json.load(f))
    for rank, outcome in enumerate(outcomes):
        assert outcome["error"] is not None, f"rank {rank} trained on"
        assert outcome["error"].startswith("DataParallel: every rank must be given the same "
                                           "data"), outcome["error"]
        assert expected in outcome["error"]
        assert outcome["iterations"] == 0          # refused before the first step
        assert outcome["seconds"] < 25             # not by the others' timeout (30 s)
    assert len({o["error"] for o in outcomes}) == 1     # the same message everywhere
    if case == "mismatch_count":
        assert "rank 1 has 36 samples" in outcomes[0]["error"]
