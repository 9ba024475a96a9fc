"""``chainrule demo gpt``: a character-level GPT learns to write Shakespeare in minutes.

A decoder-only transformer (Radford et al., 2018), configured as nanoGPT's
documented CPU run on ``tinyshakespeare`` (Karpathy, nanoGPT README, "I only
have a macbook"): 4 pre-norm blocks of causal multi-head self-attention (4
heads) and a GELU MLP (GPT-2's tanh GELU), width 128, context 64 characters,
token and position embeddings, the token embedding tied to the output layer,
no dropout. Trained for 2,000 iterations on random batches of 12 windows
with AdamW (betas 0.9, 0.99, weight decay 0.1 on matrices only), the learning
rate rising linearly to 1e-3 over 100 steps and then decaying by a cosine to
1e-4, gradients clipped to global norm 1.0. The loss over the whole
validation split (the last 10% of the text) ends near 1.89 nats per
character; the samples start to look like a play. BLAS gets as many threads
as the other programs leave cores free, chosen again every 25 steps
(``choose_blas_threads``).

Every block, written as the residual stream it updates::

    x = x + attention(layer_norm_1(x))        # causal: position t sees 0..t
    x = x + dense_2(gelu(dense_1(layer_norm_2(x))))

and the logits of the next character are ``layer_norm(x) @ token_embeddingᵀ``.
"""
import contextlib
import math
import os
import time

import numpy as np

import chainrule as cr
from chainrule import layers, ops
from chainrule.scratch import scratch

NAME = "gpt"
SUMMARY = ("a 4-layer character GPT trained on Tiny Shakespeare in minutes "
           "(validation loss ~1.9 nats/char), then writing text")
DATA = "Tiny Shakespeare: tinyshakespeare.txt (1.1 MB of plain text)"

# nanoGPT's CPU configuration (README "I only have a macbook"; lr, min_lr,
# beta2, warm-up and weight decay from config/train_shakespeare_char.py and train.py).
CONFIG = {"depth": 4, "heads": 4, "width": 128, "context": 64, "batch_size": 12,
          "iterations": 2000, "learning_rate": 1e-3, "min_learning_rate": 1e-4,
          "warmup_steps": 100, "weight_decay": 0.1, "beta_1": 0.9, "beta_2": 0.99,
          "clipnorm": 1.0, "eval_interval": 250, "eval_batches": 20}
# --quick: the same model, smaller and shorter, on the first 100k characters.
QUICK = {**CONFIG, "depth": 2, "width": 64, "context": 32, "iterations": 120,
         "warmup_steps": 10, "eval_interval": 40, "eval_batches": 4, "characters": 100_000}
SAMPLE_LENGTH, QUICK_SAMPLE_LENGTH = 500, 100
LAYER_NORM_EPSILON = 1e-5          # PyTorch's and nanoGPT's (Keras' default is 1e-3)
INIT_STDDEV = 0.02                 # GPT-2's initialization, as nanoGPT


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------
def _normal(stddev):
    return cr.initializers.RandomNormal(stddev=stddev)


_GELU_C, _GELU_CUBIC = math.sqrt(2 / math.pi), 0.044715   # Python floats keep float32


def _d_gelu(x, t):
    """d gelu / dx = 0.5·(1 + t) + 0.5·x·(1 - t²)·√(2/π)·(1 + 3·0.044715·x²), with
    t = tanh(√(2/π)·(x + 0.044715·x³)), in chainrule ops (differentiable)."""
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_C * (1 + 3 * _GELU_CUBIC * (x * x))


def _tanh_part(x, out):
    """tanh(√(2/π)·(x + 0.044715·x³)) of the array ``x``, written into ``out``."""
    np.multiply(x, x, out=out)
    out *= _GELU_C * _GELU_CUBIC
    out += _GELU_C
    out *= x
    return np.tanh(out, out=out)


def _d_gelu_arrays(g, x):
    """``g`` times the derivative above, on arrays: one fresh array (the result);
    tanh is computed again into a scratch buffer rather than kept from the
    forward, which is cheaper than a fresh array per call (PROFILE-gpt.md)."""
    t = _tanh_part(x, scratch("gpt gelu tanh", x.shape, x.dtype))
    d = x * x
    d *= 3 * _GELU_CUBIC
    d += 1
    d *= x
    d *= 0.5 * _GELU_C
    work = np.multiply(t, t, out=scratch("gpt gelu work", x.shape, x.dtype))
    np.subtract(1, work, out=work)
    d *= work                                 # 0.5·x·(1 - t²)·√(2/π)·(1 + 3·0.044715·x²)
    np.multiply(t, 0.5, out=work)
    d += work
    d += 0.5
    d *= g
    return d


@cr.custom_gradient
def gelu(x):
    """GELU in GPT-2's tanh form, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))),
    as one node (``cr.ops.gelu(x, approximate=True)`` is the same formula in
    eight ops; the MLP runs it on the widest activations, so one pass pays).

    The tanh form is the one OpenAI's GPT-2 used and ``keras.ops.gelu``'s
    default; the exact erf form costs about 40 times more per element here
    (scipy's erf), for a difference below 1e-3.
    """
    xd = x.data
    y = _tanh_part(xd, scratch("gpt gelu tanh", xd.shape, xd.dtype)) + 1
    y *= xd
    y *= 0.5

    def grad_fn(upstream):
        if cr.is_grad_enabled():        # a recorded backward: a derivative in ops, differentiable
            return upstream * _d_gelu(x, ops.tanh(_GELU_C * x * (1 + _GELU_CUBIC * x * x)))
        return cr.as_tensor(_d_gelu_arrays(upstream.data, xd))
    return cr.as_tensor(y), grad_fn


class Block(layers.Layer):
    """x + attention(norm(x)), then x + mlp(norm(x)): a pre-norm transformer block
    (GPT-2's order; nanoGPT's ``Block``)."""

    def __init__(self, heads, width, depth, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.width, self.depth = heads, width, depth
        self.norm_1 = layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON)
        self.attention = layers.MultiHeadAttention(
            heads, width // heads, kernel_initializer=_normal(INIT_STDDEV))
        self.norm_2 = layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON)
        self.dense_1 = layers.Dense(4 * width, kernel_initializer=_normal(INIT_STDDEV))
        self.dense_2 = layers.Dense(width, kernel_initializer=_normal(self.residual_stddev))

    @property
    def residual_stddev(self):
        """GPT-2 scales the initial weights of the projections that write into
        the residual stream by 1/√(2·depth)."""
        return INIT_STDDEV / math.sqrt(2 * self.depth)

    def build(self, input_shape):
        self.attention.build(input_shape, input_shape)        # its projections, now
        kernel = self.attention.output_dense.kernel          # it writes into x too
        kernel.data = _normal(self.residual_stddev)(kernel.shape, kernel.dtype)

    def call(self, x):
        h = self.norm_1(x)
        x = x + self.attention(h, h, use_causal_mask=True)
        return x + self.dense_2(gelu(self.dense_1(self.norm_2(x))))


class GPT(cr.Model):
    """ids (batch, time) -> next-character logits (batch, time, vocab_size)."""

    def __init__(self, vocab_size, depth=4, heads=4, width=128, context=64, **kwargs):
        super().__init__(**kwargs)
        if width % heads:
            raise ValueError(f"GPT: width {width} must be a multiple of heads ({heads})")
        self.vocab_size, self.depth, self.heads = vocab_size, depth, heads
        self.width, self.context = width, context
        self.token_embedding = layers.Embedding(vocab_size, width,
                                                embeddings_initializer=_normal(INIT_STDDEV))
        self.position_embedding = layers.Embedding(context, width,
                                                   embeddings_initializer=_normal(INIT_STDDEV))
        self.blocks = [Block(heads, width, depth, name=f"block_{i}") for i in range(depth)]
        self.final_norm = layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON)

    def call(self, ids):
        ids = ids.data if isinstance(ids, cr.Tensor) else np.asarray(ids)
        if ids.ndim != 2 or ids.shape[1] > self.context:
            raise ValueError(f"GPT: expected ids of shape (batch, time) with time <= "
                             f"{self.context} (the context), got shape {ids.shape}")
        x = self.token_embedding(ids) + self.position_embedding(np.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        # The output layer is the token embedding, transposed (weight tying).
        return ops.matmul(self.final_norm(x), ops.transpose(self.token_embedding.embeddings))


def build_model(vocab_size, depth=4, heads=4, width=128, context=64, seed=None):
    """The GPT, built: ids (batch, time) -> logits (batch, time, vocab)."""
    if seed is not None:
        cr.set_seed(seed)
    model = GPT(vocab_size, depth=depth, heads=heads, width=width, context=context)
    model(np.zeros((1, context), dtype=np.int64))      # build every weight now
    return model


def make_optimizer(model, config):
    """AdamW with nanoGPT's schedule, clipping and weight decay on matrices only."""
    decay_steps = max(config["iterations"] - config["warmup_steps"], 1)
    # Linear warm-up from 0 to lr, then lr·((1 - alpha)·cos + alpha), which ends at
    # alpha·lr = min_lr: nanoGPT's get_lr (train.py) in Keras 3's CosineDecay.
    schedule = cr.optimizers.schedules.CosineDecay(
        0.0, decay_steps, alpha=config["min_learning_rate"] / config["learning_rate"],
        warmup_target=config["learning_rate"], warmup_steps=config["warmup_steps"])
    optimizer = cr.optimizers.AdamW(
        learning_rate=schedule, weight_decay=config["weight_decay"], beta_1=config["beta_1"],
        beta_2=config["beta_2"], epsilon=1e-8, global_clipnorm=config["clipnorm"])
    # nanoGPT decays the matrices of the products and the embeddings, never biases or
    # layer-norm scales and offsets (attention's per-head biases are 2-D, so by name).
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
def load(data_path=None, characters=None):
    """``(vocabulary, train_ids, validation_ids)`` of Tiny Shakespeare (int64)."""
    from chainrule.datasets import shakespeare
    text = shakespeare.load_data(data_path)      # DatasetNotFoundError if missing
    vocabulary = "".join(sorted(set(text)))      # from the whole text, as nanoGPT
    if characters is not None:
        text = text[:characters]
    _, ids = shakespeare.encode(text, vocabulary)
    train, validation = shakespeare.split(ids)
    return vocabulary, train, validation


def random_batch(ids, batch_size, context, rng):
    """``(x, y)``: ``batch_size`` windows at random offsets and the same windows
    one character later (nanoGPT's get_batch)."""
    starts = rng.integers(0, len(ids) - context, batch_size)
    offsets = starts[:, None] + np.arange(context)
    return ids[offsets], ids[offsets + 1]


def validation_windows(ids, context):
    """Every whole window of the split, end to end: ``(x, y)`` of shape
    ((len(ids) - 1) // context, context); each character after the first is a
    target once (a tail shorter than a window is left out)."""
    n = (len(ids) - 1) // context
    x = ids[:n * context].reshape(n, context)
    y = ids[1:n * context + 1].reshape(n, context)
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def mean_loss(model, x, y, batch_size=256):
    """Mean cross-entropy (nats per character) of ``model`` over windows ``x``
    with next characters ``y``, in batches, without recording a graph."""
    total = 0.0
    with cr.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(x[start:start + batch_size])
            losses = cr.losses.softmax_cross_entropy(logits, y[start:start + batch_size])
            total += float(np.sum(losses.data, dtype=np.float64))
    return total / y.size


# --------------------------------------------------------------------------
# Training and sampling
# --------------------------------------------------------------------------
def train_step(model, optimizer, x, y):
    """One step: forward, mean cross-entropy, backward, AdamW update; the loss."""
    weights = model.trainable_weights
    for w in weights:
        w.grad = None
    loss = cr.losses.softmax_cross_entropy(model(x, training=True), y).mean()
    loss.backward()
    optimizer.apply([w.grad for w in weights], weights)
    return float(loss.data)


def generate(model, prompt_ids, length, context, rng, temperature=1.0):
    """``length`` more ids after ``prompt_ids``, each drawn from the model's
    softmax over the last ``context`` ids."""
    ids = list(prompt_ids)
    with cr.no_grad():
        for _ in range(length):
            window = np.asarray(ids[-context:], dtype=np.int64)[None]
            logits = model(window).data[0, -1].astype(np.float64) / temperature
            p = np.exp(logits - logits.max())
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return ids[len(prompt_ids):]


def save_loss_figure(history, out_dir, filename="gpt.png"):
    """The training loss per step and the validation estimates; [path] or []."""
    from ._plotting import pyplot, save_figure
    plt = pyplot()
    if plt is None:
        return []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(history["step"], history["loss"], lw=0.6, alpha=0.5, label="training batch")
    ax.plot(history["eval_step"], history["val_loss"], "o-", label="validation (estimate)")
    if history.get("final_val_loss") is not None:
        ax.axhline(history["final_val_loss"], ls="--", color="k", lw=0.8,
                   label=f"whole validation split: {history['final_val_loss']:.3f}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title("character GPT on Tiny Shakespeare")
    ax.legend()
    return [save_figure(fig, out_dir, filename)]


RECHECK_STEPS = 25      # the load changes while the demo trains: choose again this often


def choose_blas_threads():
    """``(threads, note)``: how many BLAS threads this machine can use now, or
    ``(None, "")`` when that cannot be set here.

    Every core while the one-minute load average is below 1, then one fewer
    per unit of load, at least one: ``floor(cores - load + 1)``. On a busy
    machine a second OpenBLAS thread spins waiting for a core that is not
    free, and a (768, 128) @ (128, 384) product takes 5-35 ms instead of
    0.3-3 ms on one thread; at a load below 1 two threads win (a step 56-58 ms
    against 80-87 ms on one; benchmarks/PROFILE-gpt.md). Needs
    ``threadpoolctl`` (it comes with scikit-learn); without it BLAS keeps its
    own default. The thread count does not change the results: OpenBLAS
    splits a product's rows and columns, never its sums, between threads.
    """
    try:
        import threadpoolctl  # noqa: F401
        load = os.getloadavg()[0]
    except (ImportError, OSError):                # no threadpoolctl, or no load average
        return None, ""
    cores = os.cpu_count() or 1
    threads = max(1, min(cores, math.floor(cores - load + 1)))
    note = (f"BLAS on {threads} of {cores} cores (load average {load:.1f}"
            + (": other programs keep the rest busy)" if threads < cores else ")"))
    return threads, note


def blas_threads():
    """``(context, threads, note)``: a context running BLAS on
    ``choose_blas_threads()``'s count (restoring it after), that count, and
    what to print."""
    threads, note = choose_blas_threads()
    if threads is None:
        return contextlib.nullcontext(), None, ""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(threads, user_api="blas"), threads, note


def follow_the_load(threads):
    """Inside ``blas_threads()``' context: choose the thread count again and
    set it if it changed (saying so); returns the count now in force."""
    now, note = choose_blas_threads()
    if threads is None or now is None or now == threads:
        return threads
    from threadpoolctl import threadpool_limits
    threadpool_limits(now, user_api="blas")       # the enclosing context restores BLAS after
    print(note, flush=True)
    return now


def run(quick=False, seed=0, out_dir=".", data_path=None):
    """Train the GPT, print the validation loss as it goes and a sample, save the plot.

    Returns ``{"val_loss", "train_loss", "seconds", "seconds_per_iteration",
    "sample", "parameters", "history", "pngs", "blas_threads"}``; ``val_loss``
    is over the whole validation split.
    """
    config = QUICK if quick else CONFIG
    vocabulary, train_ids, val_ids = load(data_path, config.get("characters"))
    print(f"Tiny Shakespeare: {len(train_ids):,} training and {len(val_ids):,} validation "
          f"characters, {len(vocabulary)} distinct"
          + (" (--quick: the first 100k)" if quick else ""))
    model = build_model(len(vocabulary), config["depth"], config["heads"], config["width"],
                        config["context"], seed=seed)
    optimizer = make_optimizer(model, config)
    parameters = sum(w.size for w in model.trainable_weights)
    print(f"GPT: {config['depth']} layers, {config['heads']} heads, width {config['width']}, "
          f"context {config['context']}: {parameters:,} parameters; "
          f"{config['iterations']} iterations of batch {config['batch_size']}")
    threads_context, threads, note = blas_threads()
    if note:
        print(note)
    with threads_context:
        return _train_and_report(model, optimizer, config, vocabulary, train_ids, val_ids,
                                 parameters, quick, seed, out_dir, threads)


def _train_and_report(model, optimizer, config, vocabulary, train_ids, val_ids, parameters,
                      quick, seed, out_dir, threads):
    """The training loop, the final evaluation, the sample and the plot."""
    from chainrule.datasets.shakespeare import decode
    rng = np.random.default_rng(seed)
    eval_rng = np.random.default_rng(seed + 1)
    context, batch_size = config["context"], config["batch_size"]
    history = {"step": [], "loss": [], "eval_step": [], "val_loss": []}

    def estimate():
        x, y = random_batch(val_ids, config["eval_batches"] * batch_size, context, eval_rng)
        return mean_loss(model, x, y)

    start = time.perf_counter()
    for it in range(config["iterations"]):
        if it and it % RECHECK_STEPS == 0:
            threads = follow_the_load(threads)
        x, y = random_batch(train_ids, batch_size, context, rng)
        loss = train_step(model, optimizer, x, y)
        history["step"].append(it)
        history["loss"].append(loss)
        last = it == config["iterations"] - 1
        if (it + 1) % config["eval_interval"] == 0 or last:
            val = estimate()
            history["eval_step"].append(it + 1)
            history["val_loss"].append(val)
            print(f"step {it + 1:5d}: train loss {loss:.4f}, validation loss {val:.4f} "
                  f"(estimate on {config['eval_batches'] * batch_size} windows), "
                  f"{time.perf_counter() - start:.1f}s", flush=True)
    train_seconds = time.perf_counter() - start
    val_x, val_y = validation_windows(val_ids, context)
    final = mean_loss(model, val_x, val_y)
    history["final_val_loss"] = final
    print(f"validation loss over the whole split ({val_y.size:,} characters in "
          f"{len(val_y)} windows of {context}): {final:.4f} nats per character")
    sample_rng = np.random.default_rng(seed)
    length = QUICK_SAMPLE_LENGTH if quick else SAMPLE_LENGTH
    sample = decode(generate(model, val_ids[:1], length, context, sample_rng), vocabulary)
    print(f"\na sample of {length} characters after '{decode(val_ids[:1], vocabulary)}':\n")
    print(decode(val_ids[:1], vocabulary) + sample)
    seconds = time.perf_counter() - start
    print(f"\ntrained {config['iterations']} iterations in {train_seconds:.1f}s "
          f"({1000 * train_seconds / config['iterations']:.1f} ms each); "
          f"{seconds:.1f}s with the evaluation and the sample")
    pngs = save_loss_figure(history, out_dir)
    return {"val_loss": final, "train_loss": float(np.mean(history["loss"][-50:])),
            "seconds": seconds, "seconds_per_iteration": train_seconds / config["iterations"],
            "sample": sample, "parameters": parameters, "history": history, "pngs": pngs,
            "blas_threads": threads}
