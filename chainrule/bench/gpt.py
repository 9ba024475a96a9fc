"""The GPT rows: one training iteration of ``chainrule demo gpt``'s model, and
one transformer block forward plus backward, chainrule vs PyTorch eager.

* ``gpt``: the demo's character GPT (4 layers, 4 heads, width 128, context 64,
  batch 12, 65 characters, tied embeddings), one iteration = forward, mean
  cross-entropy, backward, AdamW update with global-norm clipping, as
  ``chainrule.demos.gpt.train_step`` does it and as nanoGPT's ``train.py``
  does it in PyTorch.
* ``transformer``: one pre-norm block (width 128, 4 heads, context 64, batch
  32) forward and backward of ``sum(block(x) * r)`` for a fixed random ``r``,
  the gradients going to the input and every weight; no optimizer.

:func:`torch_gpt` is the same model written the way a PyTorch user writes it
(``nn.Embedding``, ``nn.LayerNorm``, ``nn.Linear``,
``F.scaled_dot_product_attention(is_causal=True)``, ``nn.GELU``), and
:func:`copy_weights` loads a chainrule model's weights into it, so the tests
can check that the two compute the same function.
"""
from __future__ import annotations

import numpy as np

import chainrule as cr

from .report import Section, Target, fmt_time
from .timing import F32, interleaved

VOCAB = 65                 # the distinct characters of Tiny Shakespeare
GPT_TARGET = 1.5           # chainrule / PyTorch eager
BLOCK_TARGET = 1.5
BLOCK_BATCH = 32


def gpt_flops(depth, width, context, batch, vocab):
    """GEMM flops of one training iteration: 3x the forward's (forward, input
    and weight gradients): per block the q/k/v, output and two MLP projections
    (12·width² per token), the attention's two batched products
    (2·context·width per token), and the tied output layer."""
    tokens = batch * context
    per_token = depth * (12 * width * width + 2 * context * width) + width * vocab
    return 3 * 2 * tokens * per_token


def block_flops(width, context, batch):
    """GEMM flops of one block forward and backward."""
    tokens = batch * context
    return 3 * 2 * tokens * (12 * width * width + 2 * context * width)


# --------------------------------------------------------------------------
# PyTorch: the same model
# --------------------------------------------------------------------------
def torch_modules(torch, approximate_gelu="none"):
    """``(Block, GPT)``: PyTorch module classes of the demo's model."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, width, heads, epsilon=1e-5):
            super().__init__()
            self.heads = heads
            self.norm_1 = nn.LayerNorm(width, eps=epsilon)
            self.qkv = nn.Linear(width, 3 * width)
            self.proj = nn.Linear(width, width)
            self.norm_2 = nn.LayerNorm(width, eps=epsilon)
            self.dense_1 = nn.Linear(width, 4 * width)
            self.gelu = nn.GELU(approximate=approximate_gelu)
            self.dense_2 = nn.Linear(4 * width, width)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(self.norm_1(x)).split(c, dim=2)
            q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2)
                       for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
            return x + self.dense_2(self.gelu(self.dense_1(self.norm_2(x))))

    class GPT(nn.Module):
        def __init__(self, vocab, depth, heads, width, context):
            super().__init__()
            self.token_embedding = nn.Embedding(vocab, width)
            self.position_embedding = nn.Embedding(context, width)
            self.blocks = nn.ModuleList(Block(width, heads) for _ in range(depth))
            self.final_norm = nn.LayerNorm(width, eps=1e-5)

        def forward(self, ids):
            t = ids.shape[1]
            x = self.token_embedding(ids) + self.position_embedding(
                torch.arange(t, device=ids.device))
            for block in self.blocks:
                x = block(x)
            return self.final_norm(x) @ self.token_embedding.weight.T    # tied

    return Block, GPT


def copy_weights(model, torch_model, torch):
    """Load the chainrule GPT ``model``'s weights into ``torch_model`` (a
    :func:`torch_modules` GPT of the same sizes): Dense kernels (in, out) become
    Linear weights (out, in)."""
    def put(param, array):
        with torch.no_grad():
            param.copy_(torch.from_numpy(np.ascontiguousarray(array)))

    put(torch_model.token_embedding.weight, model.token_embedding.embeddings.data)
    put(torch_model.position_embedding.weight, model.position_embedding.embeddings.data)
    for block, tblock in zip(model.blocks, torch_model.blocks):
        copy_block(block, tblock, torch)
    put(torch_model.final_norm.weight, model.final_norm.gamma.data)
    put(torch_model.final_norm.bias, model.final_norm.beta.data)


def copy_block(block, tblock, torch):
    """Load one chainrule ``Block``'s weights into a :func:`torch_modules` Block."""
    def put(param, array):
        with torch.no_grad():
            param.copy_(torch.from_numpy(np.ascontiguousarray(array)))

    for norm, tnorm in ((block.norm_1, tblock.norm_1), (block.norm_2, tblock.norm_2)):
        put(tnorm.weight, norm.gamma.data)
        put(tnorm.bias, norm.beta.data)
    attention, width = block.attention, block.width
    # Keras' per-head kernels (width, heads, key_dim) side by side are one
    # (width, 3·width) matrix: q, k, v in PyTorch's order of the fused qkv.
    qkv = [attention.query_dense, attention.key_dense, attention.value_dense]
    put(tblock.qkv.weight, np.concatenate([p.kernel.data.reshape(width, width) for p in qkv], 1).T)
    put(tblock.qkv.bias, np.concatenate([p.bias.data.reshape(width) for p in qkv]))
    put(tblock.proj.weight, attention.output_dense.kernel.data.reshape(width, width).T)
    put(tblock.proj.bias, attention.output_dense.bias.data)
    for dense, tdense in ((block.dense_1, tblock.dense_1), (block.dense_2, tblock.dense_2)):
        put(tdense.weight, dense.kernel.data.T)
        put(tdense.bias, dense.bias.data)


# --------------------------------------------------------------------------
# The steps each library runs
# --------------------------------------------------------------------------
def _batch(config, seed=0):
    rng = np.random.default_rng(seed)
    shape = (config["batch_size"], config["context"])
    return rng.integers(0, VOCAB, shape), rng.integers(0, VOCAB, shape)


def chainrule_gpt_step(config, x, y, seed=0):
    """One training iteration of the demo's model (its own ``train_step``)."""
    from ..demos import gpt
    model = gpt.build_model(VOCAB, config["depth"], config["heads"], config["width"],
                            config["context"], seed=seed)
    optimizer = gpt.make_optimizer(model, config)
    return lambda: gpt.train_step(model, optimizer, x, y)


def torch_gpt_step(torch, config, x, y, approximate_gelu="tanh"):
    """The same iteration in PyTorch eager, as nanoGPT's train.py runs it."""
    _, GPT = torch_modules(torch, approximate_gelu)
    model = GPT(VOCAB, config["depth"], config["heads"], config["width"], config["context"])
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=config["learning_rate"], betas=(config["beta_1"], config["beta_2"]))
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    cross_entropy = torch.nn.functional.cross_entropy

    def step():
        optimizer.zero_grad(set_to_none=True)
        logits = model(X)
        loss = cross_entropy(logits.view(-1, logits.shape[-1]), Y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config["clipnorm"])
        optimizer.step()
        return loss.item()
    return step


def chainrule_block_step(width, heads, context, batch, seed=0):
    """Forward and backward of ``sum(block(x) · r)`` through one demo Block."""
    from ..demos import gpt
    rng = np.random.default_rng(seed)
    x = cr.tensor(rng.standard_normal((batch, context, width)).astype(F32), requires_grad=True)
    r = cr.tensor(rng.standard_normal((batch, context, width)).astype(F32))
    cr.set_seed(seed)
    block = gpt.Block(heads, width, depth=4)
    block(x)
    weights = block.trainable_weights

    def step():
        x.grad = None
        for w in weights:
            w.grad = None
        loss = cr.sum(block(x) * r)
        loss.backward()
        return float(loss.data)
    return step


def torch_block_step(torch, width, heads, context, batch, seed=0, approximate_gelu="tanh"):
    Block, _ = torch_modules(torch, approximate_gelu)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((batch, context, width)).astype(F32))
    x.requires_grad_(True)
    r = torch.from_numpy(rng.standard_normal((batch, context, width)).astype(F32))
    block = Block(width, heads)

    def step():
        x.grad = None
        block.zero_grad(set_to_none=True)
        loss = (block(x) * r).sum()
        loss.backward()
        return loss.item()
    return step


# --------------------------------------------------------------------------
# The sections
# --------------------------------------------------------------------------
def _rows(key, timings, flops, peak, log):
    from .mlp import step_header, step_rows
    for name, t in timings.items():
        log(f"  {key:<11} {name:<24} {fmt_time(t.median):>10} / step")
    refs = ["PyTorch eager"] if "PyTorch eager" in timings else []
    ratio = timings["chainrule"].median / timings["PyTorch eager"].median if refs else None
    return step_header(refs), step_rows(timings, flops, peak, refs), ratio


_WHY = ("Both libraries with their default threads; on a machine whose cores are busy, "
        "OpenBLAS's second thread stalls each small product (benchmarks/PROFILE-gpt.md "
        "has the one-thread ratios and where the time goes).")


def _torch(libs):
    return libs["PyTorch"].module if libs["PyTorch"].available else None


def gpt_section(libs, cfg, peak, log=print):
    from ..demos.gpt import CONFIG
    x, y = _batch(CONFIG)
    steps = {"chainrule": chainrule_gpt_step(CONFIG, x, y)}
    torch = _torch(libs)
    if torch is not None:
        torch.manual_seed(0)
        steps["PyTorch eager"] = torch_gpt_step(torch, CONFIG, x, y)
    flops = gpt_flops(CONFIG["depth"], CONFIG["width"], CONFIG["context"],
                      CONFIG["batch_size"], VOCAB)
    timings = interleaved(steps, cfg["repeats"], cfg["min_time"], warmup=2)
    header, rows, ratio = _rows("gpt", timings, flops, peak, log)
    text = ("One training iteration of `chainrule demo gpt`'s model (nanoGPT's CPU "
            f"configuration: {CONFIG['depth']} layers, {CONFIG['heads']} heads, width "
            f"{CONFIG['width']}, context {CONFIG['context']}, batch {CONFIG['batch_size']}, "
            f"{VOCAB} characters, token embedding tied to the output): forward, mean "
            "cross-entropy, backward, gradients clipped to global norm 1, AdamW. PyTorch runs "
            "the same model (`nn.Embedding`, `nn.LayerNorm`, `nn.Linear`, "
            "`F.scaled_dot_product_attention(is_causal=True)`, tanh GELU) with "
            "`torch.optim.AdamW` and `clip_grad_norm_`, as nanoGPT's train.py does. "
            f"{flops / 1e6:.0f} MFLOP of GEMMs per iteration.")
    return Section("gpt", "(h) GPT training iteration (the demo's model)", text, header, rows,
                   [Target("GPT iteration, chainrule / PyTorch eager", ratio, GPT_TARGET,
                           _WHY if ratio is not None else "PyTorch not installed")])


def transformer_section(libs, cfg, peak, log=print):
    from ..demos.gpt import CONFIG
    width, heads, context = CONFIG["width"], CONFIG["heads"], CONFIG["context"]
    steps = {"chainrule": chainrule_block_step(width, heads, context, BLOCK_BATCH)}
    torch = _torch(libs)
    if torch is not None:
        torch.manual_seed(0)
        steps["PyTorch eager"] = torch_block_step(torch, width, heads, context, BLOCK_BATCH)
    flops = block_flops(width, context, BLOCK_BATCH)
    timings = interleaved(steps, cfg["repeats"], cfg["min_time"], warmup=2)
    header, rows, ratio = _rows("transformer", timings, flops, peak, log)
    text = (f"One pre-norm transformer block (width {width}, {heads} heads, context "
            f"{context}, batch {BLOCK_BATCH}: layer norm, causal multi-head attention, "
            "residual, layer norm, 4x GELU MLP, residual), forward and backward of "
            "`sum(block(x) * r)` to the input and every weight, no update. PyTorch: "
            "`nn.LayerNorm`, `nn.Linear`, `F.scaled_dot_product_attention(is_causal=True)`, "
            f"tanh GELU. {flops / 1e6:.0f} MFLOP of GEMMs per call.")
    return Section("transformer", "(i) Transformer block forward + backward", text, header,
                   rows, [Target("Transformer block, chainrule / PyTorch eager", ratio,
                                 BLOCK_TARGET, _WHY if ratio is not None
                                 else "PyTorch not installed")])
