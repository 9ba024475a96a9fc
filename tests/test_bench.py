"""chainrule bench: the quick suite runs, prints its table and writes its report.

No timing is asserted anywhere (timings depend on the machine and its load);
the tests check that the suite measures what it says, reports it, and
rejects bad arguments with a clear message.
"""
import numpy as np
import pytest

from chainrule import bench
from chainrule.bench import mlp
from chainrule.bench.report import Section, Target, render, write_atomically
from chainrule.bench.timing import interleaved, rss_now, rss_peak


def test_quick_suite_prints_the_table_and_writes_the_report(tmp_path, capsys):
    out = tmp_path / "BENCH.md"
    code = bench.main(["--quick", "--only", "ops,tiny,memory", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    # the exact command, the machine, the GEMM peak, every requested section and its targets
    assert "chainrule bench --quick --only ops,tiny,memory --out " + str(out) in text
    assert "## Machine" in text and "float32 GEMM peak" in text
    for title in ("(a) Per-op overhead", "(b) Tiny MLP", "(g) Resident memory"):
        assert title in text and title in printed
    assert "Tiny MLP step, chainrule / hand-written NumPy" in text
    # the compiled rows and their targets (issue 19)
    for row in ("| chainrule (jit) |", "| chainrule (Sequential, jit) |",
                "| chainrule Sequential.fit (jit_compile) per step |"):
        assert row in text
    for target in ("Tiny MLP step, chainrule (jit) / hand-written NumPy** <= 1.3x",
                   "Tiny MLP step, chainrule (jit) / JAX jit",
                   "Sequential.fit (jit_compile=True) per step / the compiled Sequential step"
                   " alone** <= 1.1x"):
        assert target in text
    assert ("PASS" in text) or ("MISS" in text)
    # the printed table has a chainrule row with a time per step
    assert any(line.startswith("chainrule ") and ("µs" in line or "ms" in line)
               for line in printed.splitlines())
    assert "wrote" in printed


@pytest.mark.slow
def test_whole_quick_suite_runs(tmp_path, capsys):
    out = tmp_path / "B.md"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    for title in ("(c) MNIST MLP", "(d) MNIST convnet", "(e) LSTM", "(f) MLPClassifier"):
        assert title in text
    assert text.count("| chainrule (jit) |") >= 4              # tiny, MNIST MLP, convnet, LSTM
    assert "| chainrule.sklearn compiled (float32 default) |" in text
    for target in ("MNIST MLP step, chainrule (jit) / chainrule eager",
                   "Convnet step, chainrule (jit) / chainrule eager",
                   "LSTM step, chainrule (jit) / PyTorch eager** <= 1.5x",
                   "MLPClassifier fit time, chainrule compiled / scikit-learn (a speed-up of >= 2x"
                   " at the same accuracy"):
        assert target in text


def test_no_write_leaves_no_file(tmp_path, capsys):
    out = tmp_path / "never.md"
    assert bench.main(["--quick", "--only", "tiny", "--no-write", "--out", str(out)]) == 0
    assert not out.exists()
    assert "Tiny MLP step" in capsys.readouterr().out


def test_unknown_section_is_rejected_with_the_valid_names(capsys):
    with pytest.raises(SystemExit) as info:
        bench.main(["--only", "tiny,warp_drive"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "warp_drive" in err and "mnist_mlp" in err
    with pytest.raises(ValueError, match="unknown benchmark name.*warp_drive"):
        bench.run(only=["warp_drive"])


TINY_MAKERS = [mlp.chainrule_tiny_step, mlp.chainrule_tiny_jit_step,
               mlp.chainrule_tiny_sequential_step, mlp.chainrule_tiny_sequential_jit_step]
MNIST_MAKERS = [mlp.chainrule_mnist_step, mlp.chainrule_mnist_jit_step]


@pytest.mark.parametrize("kind,sizes,make_cr",
                         [("tiny", mlp.TINY, m) for m in TINY_MAKERS] +
                         [("mnist", (20, 16, 12, 5), m) for m in MNIST_MAKERS],
                         ids=[m.__name__ for m in TINY_MAKERS + MNIST_MAKERS])
def test_chainrule_and_numpy_take_the_same_step(kind, sizes, make_cr, monkeypatch):
    """The race is fair: from the same weights, chainrule's first three losses
    (so its update too; for the compiled rows, the trace and two replays)
    match the hand-written NumPy step's."""
    if kind == "mnist":
        monkeypatch.setattr(mlp, "MNIST_SIZES", sizes)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, sizes[0])).astype(np.float32)
    y = (rng.standard_normal((16, 1)).astype(np.float32) if kind == "tiny"
         else rng.integers(0, sizes[-1], 16))
    params = mlp.init_params(sizes, seed=1)
    make_np = mlp.numpy_tiny_step if kind == "tiny" else mlp.numpy_mnist_step
    step_np = make_np([p.copy() for p in params], x, y)
    step_cr = make_cr([p.copy() for p in params], x, y)
    traces = []
    for _ in range(3):
        # each loss is computed from the weights the previous step left: equal updates
        assert step_cr() == pytest.approx(step_np(), rel=1e-5)
        if hasattr(step_cr, "compiled"):
            traces.append(step_cr.compiled.traces)
    assert traces == [] or traces[0] == traces[2] >= 1       # traced once, then replayed


def test_the_fit_row_runs_the_compiled_step_once_per_batch():
    """Sequential.fit (jit_compile=True) over FIT_STEPS copies of one batch
    leaves the weights the compiled Sequential step leaves after as many calls."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((mlp.TINY_BATCH, 2)).astype(np.float32)
    y = rng.standard_normal((mlp.TINY_BATCH, 1)).astype(np.float32)
    params = mlp.init_params(mlp.TINY, seed=2)
    fit = mlp.chainrule_tiny_fit([p.copy() for p in params], x, y, steps=5)
    step = mlp.chainrule_tiny_sequential_jit_step([p.copy() for p in params], x, y)
    losses = [step() for _ in range(5)]
    mean_loss = fit()
    assert mean_loss == pytest.approx(np.mean(losses), rel=1e-5)
    for a, b in zip(fit.model.trainable_weights, step.model.trainable_weights):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-7)
    assert fit.model.jit_compile and losses[-1] < losses[0]


@pytest.mark.parametrize("build", ["convnet", "lstm"])
def test_compiled_model_rows_take_the_eager_step(build, monkeypatch):
    """The convnet (with Dropout: both draw from the same seeded stream) and
    the LSTM: the compiled row's first losses are the eager row's."""
    import chainrule as cr
    from chainrule.bench import models
    rng = np.random.default_rng(5)
    if build == "convnet":
        x, make = rng.random((4, 28, 28, 1), dtype=np.float32), models.chainrule_convnet
    else:
        monkeypatch.setattr(models, "LSTM_STEPS", 6)
        monkeypatch.setattr(models, "LSTM_UNITS", 16)
        x = rng.standard_normal((4, 6, models.LSTM_FEATURES)).astype(np.float32)
        make = models.chainrule_lstm
    y = rng.integers(0, 10, 4)
    eager_model = make()
    eager = models._chainrule_step(eager_model, x, y)
    compiled = models._chainrule_jit_step(make(), x, y, like=eager_model)
    cr.set_seed(7)
    eager_losses = [eager() for _ in range(3)]
    cr.set_seed(7)
    compiled_losses = [compiled()]
    traces = compiled.compiled.traces
    compiled_losses += [compiled() for _ in range(2)]
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=1e-5)
    assert compiled.compiled.traces == traces >= 1               # the replays did not trace


def test_mlp_flops_counts_each_gemm():
    # 2-3-1, batch 4: forward 2*4*(2*3 + 3*1) = 72, weight grads 72, input grad of layer 2: 24
    assert mlp.mlp_flops((2, 3, 1), 4) == 72 + 72 + 2 * 4 * 3 * 1


def test_interleaved_times_every_callable():
    calls = {"a": 0, "b": 0}

    def make(name):
        def step():
            calls[name] += 1
        return step
    result = interleaved({"a": make("a"), "b": make("b")}, repeats=3, min_time=0.001)
    assert set(result) == {"a", "b"}
    for t in result.values():
        assert len(t.samples) == 3 and t.median > 0 and t.calls >= 1
    assert calls["a"] > 3 and calls["b"] > 3


def test_targets_and_report_rendering(tmp_path):
    miss, ok, absent = Target("x / y", 3.0, 1.5), Target("u / v", 0.5, 1.0), Target("w", None, 1.0, "no lib")
    assert miss.verdict == "MISS" and "missed by 2.00x" in miss.line()
    assert ok.verdict == "PASS" and absent.verdict == "NOT MEASURED"
    # a fast enough ratio whose condition failed (the MLPClassifier's accuracy) is a miss
    unmet = Target("u / v", 0.5, 1.0, unmet="the accuracy is 2 points lower")
    assert unmet.verdict == "MISS"
    assert "**MISS** at 0.50x (2.00x headroom), but the accuracy is 2 points lower" in unmet.line()
    section = Section("k", "Title", "What was measured.", ["library", "time"], [["chainrule", "1 ms"]],
                      [miss])
    text = render({"CPU": "test cpu"}, "chainrule bench --only k", "today", "full run", 100.0, [section])
    assert "chainrule bench --only k" in text and "- CPU: test cpu" in text
    assert "| chainrule | 1 ms |" in text and "**MISS** at 3.00x" in text
    path = tmp_path / "r.md"
    write_atomically(path, text)
    assert path.read_text(encoding="utf-8") == text
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]       # no temporary file left


def test_memory_probes_report_bytes():
    now, peak = rss_now(), rss_peak()
    assert peak > 1e6
    if now is not None:                    # /proc is Linux-only
        assert 1e6 < now <= peak * 1.01


def test_cli_dispatches_to_bench(capsys):
    from chainrule.cli import main
    with pytest.raises(SystemExit) as info:
        main(["bench", "--help"])
    assert info.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_a_failing_section_is_reported_and_the_others_still_run(monkeypatch):
    def broken(libs, cfg, peak, log=print):
        raise RuntimeError("simulated failure")
    monkeypatch.setattr(mlp, "tiny_section", broken)
    _, _, sections = bench.run(only=["tiny"], quick=True, log=lambda *a: None)
    assert [s.title for s in sections] == ["tiny: not measured"]
    assert "RuntimeError: simulated failure" in sections[0].markdown()


def test_the_report_goes_to_the_current_directory_by_default(tmp_path, monkeypatch):
    # (after a wheel install the package lives in site-packages: never write there)
    from pathlib import Path

    from chainrule import bench
    out = Path(bench.build_parser().parse_args([]).out)
    assert not out.is_absolute() and out.name == "BENCHMARKS.md"
    monkeypatch.chdir(tmp_path)
    assert out.resolve() == tmp_path / "BENCHMARKS.md"
