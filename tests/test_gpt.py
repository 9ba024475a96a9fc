"""``chainrule demo gpt``: the character GPT, its data, its training setup and
its PyTorch twin in the benchmarks.

The model is checked against the same model written in PyTorch (same
weights -> same logits, loss and gradients), causality is checked by
changing the future, and the optimizer setup against nanoGPT's formulas.
The quick demo runs on a small synthetic text; the full demo on the real
Tiny Shakespeare is a slow test.
"""
import math
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import DatasetNotFoundError, shakespeare
from chainrule.demos import gpt

SHARED_TEXT = "/work/shared/data/tinyshakespeare.txt"
WORDS = ("the king is dead long live the queen my lord what say you to this "
         "good night sweet prince and flights of angels sing thee to thy rest").split()


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)


@pytest.fixture
def small_text(tmp_path):
    """A tinyshakespeare.txt of 30k characters: lines of words drawn at random
    from a short list, so there is structure to learn."""
    rng = np.random.default_rng(0)
    lines = []
    while sum(map(len, lines)) < 30_000:
        speaker = rng.choice(["KING:", "QUEEN:", "HAMLET:"])
        lines.append(speaker + "\n" + " ".join(rng.choice(WORDS, rng.integers(4, 12))) + ".\n")
    path = tmp_path / "tinyshakespeare.txt"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _small_model(vocab=11, depth=2, heads=2, width=16, context=8, seed=0):
    return gpt.build_model(vocab, depth, heads, width, context, seed=seed)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
def test_encode_decode_round_trip_and_split():
    text = "To be, or not to be:\nthat is the question."
    vocabulary, ids = shakespeare.encode(text)
    assert vocabulary == "".join(sorted(set(text)))
    assert ids.dtype == np.int64 and len(ids) == len(text)
    assert shakespeare.decode(ids, vocabulary) == text
    train, val = shakespeare.split(ids)
    assert len(train) == int(len(text) * 0.9) and np.array_equal(np.concatenate([train, val]), ids)
    with pytest.raises(ValueError, match="'z'.*not in the vocabulary"):
        shakespeare.encode("zebra", vocabulary)
    with pytest.raises(ValueError, match="validation_fraction"):
        shakespeare.split(ids, 1.5)


def test_loader_finds_the_file_and_names_what_is_wrong(tmp_path, small_text):
    assert shakespeare.load_data(small_text) == small_text.read_text(encoding="utf-8")
    assert shakespeare.load_data(small_text.parent).startswith(("KING", "QUEEN", "HAMLET"))
    with pytest.raises(DatasetNotFoundError, match="tinyshakespeare.txt"):
        shakespeare.load_data(tmp_path / "nowhere")
    bad = tmp_path / "bad" / "tinyshakespeare.txt"
    bad.parent.mkdir()
    bad.write_bytes(b"\xff\xfe not text \x80")
    with pytest.raises(ValueError, match="not UTF-8"):
        shakespeare.load_data(bad)


@pytest.mark.skipif(not os.path.isfile(SHARED_TEXT), reason="no shared tinyshakespeare.txt")
def test_the_real_text_is_what_the_readme_says():
    text = shakespeare.load_data(SHARED_TEXT)
    vocabulary, ids = shakespeare.encode(text)
    assert len(text) == 1_115_394 and len(vocabulary) == 65
    train, val = shakespeare.split(ids)
    assert len(val) == 111_540


def test_batches_are_windows_and_their_next_characters():
    ids = np.arange(1000)
    x, y = gpt.random_batch(ids, 5, 16, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 16)
    assert np.array_equal(y, x + 1)                           # the next character
    assert np.array_equal(x[:, 1:], x[:, :-1] + 1)             # contiguous windows
    x, y = gpt.validation_windows(ids, 16)
    assert x.shape == (62, 16)                                  # (1000 - 1) // 16 windows
    assert np.array_equal(x.reshape(-1), ids[:992]) and np.array_equal(y.reshape(-1), ids[1:993])


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------
def test_shapes_parameters_and_tied_output():
    model = _small_model()
    logits = model(np.zeros((3, 8), dtype=np.int64))
    assert logits.shape == (3, 8, 11)
    # 2 blocks of 12·16² + 13·16 (four Dense kernels and biases, two norms) plus
    # the embeddings and the final norm; the output layer adds nothing (tied).
    per_block = 12 * 16 * 16 + (3 * 16 + 16 + 4 * 16 + 16) + 4 * 16
    assert sum(w.size for w in model.trainable_weights) == 2 * per_block + 11 * 16 + 8 * 16 + 2 * 16
    with pytest.raises(ValueError, match="time <= 8"):
        model(np.zeros((1, 9), dtype=np.int64))
    with pytest.raises(ValueError, match="multiple of heads"):
        gpt.GPT(11, heads=3, width=16)


def test_attention_is_causal():
    """Changing the last character changes only the last position's logits."""
    model = _small_model()
    ids = np.random.default_rng(1).integers(0, 11, (2, 8))
    changed = ids.copy()
    changed[:, -1] = (changed[:, -1] + 1) % 11
    a, b = model(ids).data, model(changed).data
    np.testing.assert_array_equal(a[:, :-1], b[:, :-1])
    assert np.abs(a[:, -1] - b[:, -1]).max() > 1e-4


def test_fused_gelu_equals_the_tanh_formula_to_second_order():
    x = cr.tensor(np.random.default_rng(2).normal(size=(4, 5)) * 3, requires_grad=True)
    np.testing.assert_allclose(gpt.gelu(x).data, cr.ops.gelu(x, approximate=True).data,
                               rtol=1e-12, atol=1e-14)
    (gpt.gelu(x) * x).sum().backward()
    want = cr.grad(lambda z: cr.sum(cr.ops.gelu(z, approximate=True) * z))(x)
    np.testing.assert_allclose(x.grad.data, want.data, rtol=1e-12, atol=1e-14)
    hessian = cr.hessian(lambda z: cr.sum(gpt.gelu(z)))(x)
    want = cr.hessian(lambda z: cr.sum(cr.ops.gelu(z, approximate=True)))(x)
    np.testing.assert_allclose(hessian.data, want.data, rtol=1e-10, atol=1e-12)
    assert cr.gradcheck(gpt.gelu, (x,))


def test_gradients_of_a_tiny_gpt_match_finite_differences_in_float64():
    model = _small_model(vocab=5, depth=1, heads=2, width=4, context=3, seed=3)
    rng = np.random.default_rng(0)
    for w in model.trainable_weights:      # float64, and past the 0.02 init so every term counts
        w.data = w.data.astype(np.float64) * 10 + rng.normal(size=w.shape) * 0.3
    ids, labels = np.array([[0, 3, 1], [4, 4, 2]]), np.array([[3, 1, 2], [4, 2, 0]])

    def loss():
        return cr.losses.softmax_cross_entropy(model(ids), labels).mean()
    loss().backward()
    eps = 1e-6
    for w in model.trainable_weights:
        flat = w.data.reshape(-1)
        for i in rng.choice(flat.size, min(4, flat.size), replace=False):
            keep = flat[i]
            with cr.no_grad():
                flat[i] = keep + eps
                up = float(loss().data)
                flat[i] = keep - eps
                down = float(loss().data)
            flat[i] = keep
            np.testing.assert_allclose(w.grad.data.reshape(-1)[i], (up - down) / (2 * eps),
                                       rtol=1e-5, atol=1e-8, err_msg=w.name)


# --------------------------------------------------------------------------
# The same model in PyTorch
# --------------------------------------------------------------------------
def test_the_pytorch_reference_is_the_same_model():
    torch = pytest.importorskip("torch")
    from chainrule.bench import gpt as bench_gpt
    _, TorchGPT = bench_gpt.torch_modules(torch, approximate_gelu="tanh")
    model = _small_model(vocab=13, depth=2, heads=2, width=16, context=8, seed=4)
    rng = np.random.default_rng(5)
    for w in model.trainable_weights:    # float64, and past the 0.02 init so every part matters
        w.data = w.data.astype(np.float64) * 5 + rng.normal(size=w.shape) * 0.05
    twin = TorchGPT(13, 2, 2, 16, 8).double()
    bench_gpt.copy_weights(model, twin, torch)
    rng = np.random.default_rng(6)
    ids, labels = rng.integers(0, 13, (3, 8)), rng.integers(0, 13, (3, 8))

    loss = cr.losses.softmax_cross_entropy(model(ids), labels).mean()
    loss.backward()
    logits = twin(torch.from_numpy(ids))
    tloss = torch.nn.functional.cross_entropy(logits.reshape(-1, 13),
                                              torch.from_numpy(labels).reshape(-1))
    tloss.backward()
    np.testing.assert_allclose(model(ids).data, logits.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(float(loss.data), tloss.item(), rtol=1e-12)
    emb = model.token_embedding.embeddings.grad.data
    np.testing.assert_allclose(emb, twin.token_embedding.weight.grad.numpy(), rtol=1e-8, atol=1e-12)
    block, tblock = model.blocks[0], twin.blocks[0]
    query_grad = tblock.qkv.weight.grad.numpy().T[:, :16].reshape(16, 2, 8)
    assert np.abs(query_grad).max() > 1e-3            # the attention is not saturated
    np.testing.assert_allclose(block.attention.query_dense.kernel.grad.data, query_grad,
                               rtol=1e-8, atol=1e-12)
    output_grad = tblock.proj.weight.grad.numpy().T.reshape(2, 8, 16)
    np.testing.assert_allclose(block.attention.output_dense.kernel.grad.data, output_grad,
                               rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(block.dense_1.kernel.grad.data,
                               tblock.dense_1.weight.grad.numpy().T, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(block.norm_1.gamma.grad.data, tblock.norm_1.weight.grad.numpy(),
                               rtol=1e-8, atol=1e-12)


# --------------------------------------------------------------------------
# Training setup
# --------------------------------------------------------------------------
def _nanogpt_lr(it, learning_rate=1e-3, min_lr=1e-4, warmup=100, decay_iters=2000):
    """nanoGPT train.py get_lr, with warm-up from 0 (Keras' CosineDecay warm-up starts
    at the initial rate, here 0)."""
    if it < warmup:
        return learning_rate * it / warmup
    if it > decay_iters:
        return min_lr
    ratio = (it - warmup) / (decay_iters - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (learning_rate - min_lr)


def test_optimizer_is_nanogpts_adamw():
    model = _small_model()
    opt = gpt.make_optimizer(model, gpt.CONFIG)
    assert isinstance(opt, cr.optimizers.AdamW)
    assert (opt.beta_1, opt.beta_2, opt.weight_decay, opt.global_clipnorm) == (0.9, 0.99, 0.1, 1.0)
    for step in (0, 50, 100, 101, 700, 1999, 2000, 2500):
        opt.iterations = step
        assert opt.learning_rate == pytest.approx(_nanogpt_lr(step), rel=1e-9,
                                                  abs=1e-12), step
    decayed = [w.name for w in model.trainable_weights if opt._use_weight_decay(w)]
    kept = [w.name for w in model.trainable_weights if not opt._use_weight_decay(w)]
    # two blocks of 4 attention kernels and 2 Dense kernels, and the two embeddings
    assert sorted(decayed) == sorted(["kernel"] * 12 + ["embeddings"] * 2)
    # per block 4 attention biases (3 of them (heads, key_dim)), 2 Dense biases, 2 norms;
    # and the final norm
    assert sorted(kept) == sorted(["bias"] * 12 + ["gamma", "beta"] * 5)
    attention = model.blocks[0].attention
    assert attention.query_dense.bias.ndim == 2 and not opt._use_weight_decay(
        attention.query_dense.bias)


def test_a_step_lowers_the_loss_on_the_same_batch():
    model = _small_model()
    opt = gpt.make_optimizer(model, {**gpt.CONFIG, "warmup_steps": 1, "iterations": 50})
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 11, (4, 8)), rng.integers(0, 11, (4, 8))
    first = [gpt.train_step(model, opt, x, y) for _ in range(20)]
    assert first[-1] < first[0] - 0.2


# --------------------------------------------------------------------------
# The demo
# --------------------------------------------------------------------------
def test_quick_demo_learns_prints_and_plots(small_text, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    result = gpt.run(quick=True, seed=0, out_dir=str(tmp_path), data_path=small_text)
    out = capsys.readouterr().out
    vocab = len(set(small_text.read_text(encoding="utf-8")))
    assert "validation loss" in out and f"{result['val_loss']:.4f}" in out
    assert out.count("step ") >= 3                        # printed as it goes
    assert result["val_loss"] < math.log(vocab) - 1.0     # far better than uniform guessing
    assert len(result["sample"]) == gpt.QUICK_SAMPLE_LENGTH and result["sample"] in out
    assert set(result["sample"]) <= set(small_text.read_text(encoding="utf-8"))
    assert result["pngs"] == [os.path.join(str(tmp_path), "gpt.png")]
    import matplotlib.image as mpimg
    image = mpimg.imread(result["pngs"][0])
    assert image.shape[1] >= 400 and image.std() > 0.01


def test_quick_demo_is_reproducible_by_seed(small_text, tmp_path, monkeypatch):
    monkeypatch.setattr(gpt, "save_loss_figure", lambda *args, **kwargs: [])
    monkeypatch.setitem(gpt.QUICK, "iterations", 20)
    first = gpt.run(quick=True, seed=1, out_dir=str(tmp_path), data_path=small_text)
    again = gpt.run(quick=True, seed=1, out_dir=str(tmp_path), data_path=small_text)
    assert first["val_loss"] == again["val_loss"] and first["sample"] == again["sample"]
    other = gpt.run(quick=True, seed=2, out_dir=str(tmp_path), data_path=small_text)
    assert other["val_loss"] != first["val_loss"]


def test_cli_lists_gpt_and_reports_missing_data(tmp_path, capsys):
    from chainrule.demos import main
    assert main(["--list"]) == 0
    assert "gpt" in capsys.readouterr().out
    assert main(["gpt", "--quick", "--data", str(tmp_path / "nothing"),
                 "--out-dir", str(tmp_path)]) == 3
    assert "tinyshakespeare.txt" in capsys.readouterr().err


def test_blas_threads_follow_the_free_cores(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas():
        return [p["num_threads"] for p in threadpoolctl.threadpool_info()
                if p["user_api"] == "blas"]
    before = blas()
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (5.3, 4.0, 3.0))
    context, threads, note = gpt.blas_threads()
    assert threads == 1
    assert note == "BLAS on 1 of 2 cores (load average 5.3: other programs keep the rest busy)"
    with context:
        assert set(blas()) <= {1}
    assert blas() == before
    # the load changes during a run: the count follows it, and the context restores it
    with gpt.blas_threads()[0]:
        monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 4.0, 3.0))
        assert gpt.follow_the_load(1) == 2 and set(blas()) <= {2}
        assert gpt.follow_the_load(2) == 2
    assert blas() == before
    for load, threads in ((0.2, 2), (0.9, 2), (1.2, 1), (2.0, 1)):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, 0.1, 0.1))
        assert gpt.blas_threads()[1] == threads, load
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setattr(os, "getloadavg", lambda: (4.0, 0.1, 0.1))
    assert gpt.blas_threads()[1] == 13 and "13 of 16" in gpt.blas_threads()[2]


def test_example_script_runs_its_loop(small_text, monkeypatch, capsys):
    import runpy
    script = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "gpt.py")
    monkeypatch.setattr("sys.argv", ["gpt.py", "--data", str(small_text), "--iterations", "3"])
    runpy.run_path(script, run_name="__main__")
    out = capsys.readouterr().out
    assert "step     0  loss" in out and "learning rate 1.00e-05" in out   # 1 of 100 warm-up steps
    assert "validation loss:" in out


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isfile(SHARED_TEXT), reason="no shared tinyshakespeare.txt")
def test_full_demo_reaches_nanogpts_validation_loss(tmp_path, capsys):
    result = gpt.run(quick=False, seed=0, out_dir=str(tmp_path), data_path=SHARED_TEXT)
    print(f"GPT demo: validation loss {result['val_loss']:.4f} in {result['seconds']:.0f}s "
          f"(load average {os.getloadavg()})")
    assert result["val_loss"] <= 1.92


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isfile(SHARED_TEXT), reason="no shared tinyshakespeare.txt")
def test_quick_demo_on_the_real_text(tmp_path, capsys):
    result = gpt.run(quick=True, seed=0, out_dir=str(tmp_path), data_path=SHARED_TEXT)
    assert result["val_loss"] < math.log(65) - 1.0


@pytest.mark.slow
def test_bench_rows_run(capsys):
    pytest.importorskip("torch")
    from chainrule import bench
    assert bench.main(["--quick", "--only", "gpt,transformer", "--no-write"]) == 0
    out = capsys.readouterr().out
    assert "GPT iteration, chainrule / PyTorch eager" in out
    assert "Transformer block, chainrule / PyTorch eager" in out
