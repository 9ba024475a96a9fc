"""(b) the tiny MLP step and (c) the MNIST MLP Adam step, in every library.

Each library gets its own copy of the same initial weights and does one full
training step per call: forward, loss, backward, optimizer update. Written
the way a user of that library would write it:

* chainrule -- ops on ``cr.Tensor``, ``loss.backward()``,
  ``optimizer.apply_gradients``; the tiny MLP also as a ``cr.Sequential``;
* NumPy -- forward and backward by hand, in-place updates (the floor);
* PyTorch -- eager tensors, ``loss.backward()``, ``torch.optim``;
* JAX -- the whole step (``value_and_grad`` + update) under ``jax.jit``;
* autograd (HIPS) -- ``value_and_grad`` of a NumPy-style loss, NumPy update.

(b) tiny MLP 2-16-16-1, tanh, mean squared error, SGD (lr 0.01), batch 32:
    the cost is almost all per-op bookkeeping.
(c) MLP 784-512-512-10, relu, softmax cross-entropy on integer labels, Adam
    (lr 1e-3, epsilon 1e-7 everywhere), batch 128, float32: the cost is
    almost all GEMMs.
"""
from __future__ import annotations

from itertools import pairwise

import numpy as np

import chainrule as cr
from chainrule.autodiff import gradients

from .data import mnist
from .report import Section, Target, fmt_ratio, fmt_time
from .timing import F32, Timing, interleaved

TINY = (2, 16, 16, 1)
TINY_BATCH = 32
TINY_LR = 0.01
MNIST_SIZES = (784, 512, 512, 10)
MNIST_BATCH = 128
ADAM = {"lr": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "eps": 1e-7}

TINY_TARGET = 2.0        # chainrule / NumPy
MNIST_TARGET = 1.1       # chainrule / NumPy
TINY_JIT_TARGET = 1.3    # chainrule (jit) / NumPy, and below 1.0x JAX jit
FIT_JIT_TARGET = 1.1     # Sequential.fit per step / the compiled Sequential step
# compiled / eager on the GEMM-bound steps: "no slower", within the report's
# stated noise band ("treat differences under about 10% as noise").
NO_SLOWER = 1.1

JIT = "chainrule (jit)"
SEQ_JIT = "chainrule (Sequential, jit)"
FIT_JIT = "chainrule Sequential.fit (jit_compile) per step"


def mlp_flops(sizes, n):
    """2·m·n·k per GEMM: the forward ones, the weight gradients, and the input
    gradients of every layer but the first (the data needs none)."""
    pairs = list(pairwise(sizes))
    fwd = sum(2 * n * a * b for a, b in pairs)
    return 2 * fwd + sum(2 * n * a * b for a, b in pairs[1:])


def init_params(sizes, seed=0):
    """[W1, b1, W2, b2, ...] in float32: He-scaled normal weights, small biases."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in pairwise(sizes):
        params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)).astype(F32))
        params.append((rng.standard_normal(fan_out) * 0.01).astype(F32))
    return params


# --------------------------------------------------------------------------
# Hand-written NumPy
# --------------------------------------------------------------------------
class NumpyAdam:
    """Adam (Keras' form, bias corrections folded into the step size), in place."""

    def __init__(self, params, lr, beta_1, beta_2, eps):
        self.params, self.lr, self.b1, self.b2, self.eps = params, lr, beta_1, beta_2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.scratch = [np.empty_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        alpha = F32(self.lr * np.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t))
        for p, g, m, v, s in zip(self.params, grads, self.m, self.v, self.scratch):
            m *= F32(self.b1)
            m += F32(1 - self.b1) * g
            v *= F32(self.b2)
            np.square(g, out=s)
            s *= F32(1 - self.b2)
            v += s
            np.sqrt(v, out=s)
            s += F32(self.eps)
            np.divide(m, s, out=s)
            s *= alpha
            p -= s


def numpy_tiny_step(params, x, y):
    W1, b1, W2, b2, W3, b3 = params
    lr = F32(TINY_LR)

    def step():
        h1 = np.tanh(x @ W1 + b1)
        h2 = np.tanh(h1 @ W2 + b2)
        d = h2 @ W3 + b3 - y
        loss = float(np.mean(d * d))
        g = d * F32(2 / d.size)
        gW3, gb3 = h2.T @ g, g.sum(0)
        g = (g @ W3.T) * (1 - h2 * h2)
        gW2, gb2 = h1.T @ g, g.sum(0)
        g = (g @ W2.T) * (1 - h1 * h1)
        gW1, gb1 = x.T @ g, g.sum(0)
        for p, grad in zip(params, (gW1, gb1, gW2, gb2, gW3, gb3)):
            p -= lr * grad
        return loss
    return step


def numpy_mnist_step(params, x, y):
    W1, b1, W2, b2, W3, b3 = params
    adam = NumpyAdam(params, **{k: ADAM[k] for k in ("lr", "beta_1", "beta_2", "eps")})
    n = len(y)
    rows = np.arange(n)

    def step():
        h1 = x @ W1
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ W2
        h2 += b2
        np.maximum(h2, 0, out=h2)
        z = h2 @ W3
        z += b3
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        s = p.sum(axis=1, keepdims=True)
        loss = float(np.log(s[:, 0]).mean() - z[rows, y].mean())
        p /= s                                   # softmax
        p[rows, y] -= 1                          # d loss / d z = (softmax - onehot) / n
        p *= F32(1 / n)
        gW3, gb3 = h2.T @ p, p.sum(0)
        d2 = p @ W3.T
        d2 *= h2 > 0
        gW2, gb2 = h1.T @ d2, d2.sum(0)
        d1 = d2 @ W2.T
        d1 *= h1 > 0
        gW1, gb1 = x.T @ d1, d1.sum(0)
        adam.step((gW1, gb1, gW2, gb2, gW3, gb3))
        return loss
    return step


# --------------------------------------------------------------------------
# chainrule
# --------------------------------------------------------------------------
def chainrule_tiny_step(params, x, y):
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    W1, b1, W2, b2, W3, b3 = ps
    X, Y = cr.tensor(x), cr.tensor(y)
    opt = cr.optimizers.SGD(learning_rate=TINY_LR)

    def step():
        for p in ps:
            p.grad = None
        # cr.linear is x @ W + b as one op (what Dense uses); PyTorch's row
        # uses addmm, what nn.Linear uses.
        h1 = cr.tanh(cr.linear(X, W1, b1))
        h2 = cr.tanh(cr.linear(h1, W2, b2))
        d = cr.linear(h2, W3, b3) - Y
        loss = (d * d).mean()
        loss.backward()
        opt.apply_gradients([(p.grad, p) for p in ps])
        return loss.item()
    return step


def chainrule_tiny_sequential_step(params, x, y):
    model = _tiny_sequential(params)
    ws = model.trainable_weights
    X, Y = cr.tensor(x), cr.tensor(y)
    opt = cr.optimizers.SGD(learning_rate=TINY_LR)

    def step():
        for w in ws:
            w.grad = None
        d = model(X, training=True) - Y
        loss = (d * d).mean()
        loss.backward()
        opt.apply_gradients([(w.grad, w) for w in ws])
        return loss.item()
    return step


def chainrule_mnist_step(params, x, y):
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    W1, b1, W2, b2, W3, b3 = ps
    X = cr.tensor(x)
    opt = cr.optimizers.Adam(learning_rate=ADAM["lr"], beta_1=ADAM["beta_1"],
                             beta_2=ADAM["beta_2"], epsilon=ADAM["eps"])

    def step():
        for p in ps:
            p.grad = None
        h1 = cr.relu(cr.linear(X, W1, b1))
        h2 = cr.relu(cr.linear(h1, W2, b2))
        loss = cr.losses.softmax_cross_entropy(cr.linear(h2, W3, b3), y).mean()
        loss.backward()
        opt.apply_gradients([(p.grad, p) for p in ps])
        return loss.item()
    return step


def chainrule_tiny_jit_step(params, x, y):
    """The tiny step under ``cr.jit``: traced on the first call, then replayed
    as straight-line NumPy (gradients as values, as under ``jax.jit``)."""
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    W1, b1, W2, b2, W3, b3 = ps
    opt = cr.optimizers.SGD(learning_rate=TINY_LR)

    @cr.jit
    def train(X, Y):
        h1 = cr.tanh(cr.linear(X, W1, b1))
        h2 = cr.tanh(cr.linear(h1, W2, b2))
        d = cr.linear(h2, W3, b3) - Y
        loss = (d * d).mean()
        opt.apply_gradients(zip(gradients(loss, ps), ps))
        return loss

    def step():
        return train(x, y).item()
    step.compiled = train
    return step


def _tiny_sequential(params):
    from chainrule import layers
    model = cr.Sequential([cr.Input((TINY[0],)), layers.Dense(TINY[1], activation="tanh"),
                           layers.Dense(TINY[2], activation="tanh"), layers.Dense(TINY[3])])
    for w, p in zip(model.trainable_weights, params):
        w.data[...] = p
    return model


def chainrule_tiny_sequential_jit_step(params, x, y):
    """The ``Sequential`` step (forward, mean squared error, gradients, SGD)
    under ``cr.jit``: the compiled step alone, without ``fit``'s loop. The
    loss is the one ``compile(loss="mse")`` gives fit (Keras' per-sample mean
    over the last axis, then the batch mean), so the fit row differs from
    this one by what fit adds."""
    model = _tiny_sequential(params)
    ws = model.trainable_weights
    opt = cr.optimizers.SGD(learning_rate=TINY_LR)

    @cr.jit
    def train(X, Y):
        loss = cr.losses.mean_squared_error(Y, model(X, training=True)).mean()
        opt.apply_gradients(zip(gradients(loss, ws), ws))
        return loss

    def step():
        return train(x, y).item()
    step.compiled, step.model = train, model
    return step


FIT_STEPS = 200         # batches per call of the Sequential.fit row (fit's own ~0.17 ms per call: <1 µs a step)


def chainrule_tiny_fit(params, x, y, steps=FIT_STEPS):
    """One ``fit`` epoch of ``steps`` batches (the same batch repeated) on a
    Sequential compiled with ``jit_compile=True``; returns the epoch's mean
    loss. The section divides its time by ``steps``."""
    model = _tiny_sequential(params)
    model.compile(optimizer=cr.optimizers.SGD(learning_rate=TINY_LR), loss="mse",
                  jit_compile=True)
    xs, ys = np.concatenate([x] * steps), np.concatenate([y] * steps)

    def step():
        history = model.fit(xs, ys, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
        return history.history["loss"][-1]
    step.model = model
    return step


def chainrule_mnist_jit_step(params, x, y):
    """The MNIST MLP step under ``cr.jit``."""
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    W1, b1, W2, b2, W3, b3 = ps
    opt = cr.optimizers.Adam(learning_rate=ADAM["lr"], beta_1=ADAM["beta_1"],
                             beta_2=ADAM["beta_2"], epsilon=ADAM["eps"])

    @cr.jit
    def train(X, labels):
        h1 = cr.relu(cr.linear(X, W1, b1))
        h2 = cr.relu(cr.linear(h1, W2, b2))
        loss = cr.losses.softmax_cross_entropy(cr.linear(h2, W3, b3), labels).mean()
        opt.apply_gradients(zip(gradients(loss, ps), ps))
        return loss

    def step():
        return train(x, y).item()
    step.compiled = train
    return step


# --------------------------------------------------------------------------
# PyTorch, JAX, autograd
# --------------------------------------------------------------------------
def torch_tiny_step(torch, params, x, y):
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    W1, b1, W2, b2, W3, b3 = ps
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.SGD(ps, lr=TINY_LR)

    def step():
        opt.zero_grad(set_to_none=True)
        h1 = torch.tanh(torch.addmm(b1, X, W1))
        h2 = torch.tanh(torch.addmm(b2, h1, W2))
        d = torch.addmm(b3, h2, W3) - Y
        loss = (d * d).mean()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def torch_mnist_step(torch, params, x, y):
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    W1, b1, W2, b2, W3, b3 = ps
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(ps, lr=ADAM["lr"], betas=(ADAM["beta_1"], ADAM["beta_2"]),
                           eps=ADAM["eps"])
    cross_entropy = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad(set_to_none=True)
        h1 = torch.relu(torch.addmm(b1, X, W1))
        h2 = torch.relu(torch.addmm(b2, h1, W2))
        loss = cross_entropy(torch.addmm(b3, h2, W3), Y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def _jax_mlp(jax, activation):
    jnp = jax.numpy

    def forward(params, x):
        h = x
        for i in range(0, len(params) - 2, 2):
            h = activation(h @ params[i] + params[i + 1])
        return h @ params[-2] + params[-1]
    return jnp, forward


def jax_tiny_step(jax, params, x, y):
    jnp, forward = _jax_mlp(jax, jax.numpy.tanh)

    def loss_fn(ps, x, y):
        d = forward(ps, x) - y
        return jnp.mean(d * d)

    @jax.jit
    def update(ps, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(ps, x, y)
        return [p - TINY_LR * g for p, g in zip(ps, grads)], loss

    state = {"ps": [jnp.asarray(p) for p in params]}
    X, Y = jnp.asarray(x), jnp.asarray(y)

    def step():
        state["ps"], loss = update(state["ps"], X, Y)
        return float(loss)                      # waits for the result, as .item() does
    return step


def jax_mnist_step(jax, params, x, y):
    jnp, forward = _jax_mlp(jax, jax.nn.relu)
    b1, b2, eps, lr = ADAM["beta_1"], ADAM["beta_2"], ADAM["eps"], ADAM["lr"]

    def loss_fn(ps, x, y):
        z = forward(ps, x)
        logp = z - jax.scipy.special.logsumexp(z, axis=1, keepdims=True)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def update(ps, ms, vs, t, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(ps, x, y)
        alpha = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        ms = [m + (g - m) * (1 - b1) for m, g in zip(ms, grads)]
        vs = [v + (g * g - v) * (1 - b2) for v, g in zip(vs, grads)]
        ps = [p - alpha * m / (jnp.sqrt(v) + eps) for p, m, v in zip(ps, ms, vs)]
        return ps, ms, vs, loss

    state = {"ps": [jnp.asarray(p) for p in params], "t": 0}
    state["ms"] = [jnp.zeros_like(p) for p in state["ps"]]
    state["vs"] = [jnp.zeros_like(p) for p in state["ps"]]
    X, Y = jnp.asarray(x), jnp.asarray(y)

    def step():
        state["t"] += 1
        state["ps"], state["ms"], state["vs"], loss = update(
            state["ps"], state["ms"], state["vs"], jnp.float32(state["t"]), X, Y)
        return float(loss)
    return step


def autograd_tiny_step(autograd, params, x, y):
    anp = autograd.numpy
    lr = F32(TINY_LR)

    def loss_fn(ps):
        W1, b1, W2, b2, W3, b3 = ps
        h1 = anp.tanh(anp.dot(x, W1) + b1)
        h2 = anp.tanh(anp.dot(h1, W2) + b2)
        d = anp.dot(h2, W3) + b3 - y
        return anp.mean(d * d)
    value_and_grad = autograd.value_and_grad(loss_fn)

    def step():
        loss, grads = value_and_grad(params)
        for p, g in zip(params, grads):
            p -= lr * g
        return float(loss)
    return step


def autograd_mnist_step(autograd, params, x, y):
    anp = autograd.numpy
    from autograd.scipy.special import logsumexp
    rows = np.arange(len(y))
    adam = NumpyAdam(params, **{k: ADAM[k] for k in ("lr", "beta_1", "beta_2", "eps")})

    def loss_fn(ps):
        W1, b1, W2, b2, W3, b3 = ps
        h1 = anp.maximum(anp.dot(x, W1) + b1, 0)
        h2 = anp.maximum(anp.dot(h1, W2) + b2, 0)
        z = anp.dot(h2, W3) + b3
        return anp.mean(logsumexp(z, axis=1) - z[rows, y])
    value_and_grad = autograd.value_and_grad(loss_fn)

    def step():
        loss, grads = value_and_grad(params)
        adam.step([g.astype(F32, copy=False) for g in grads])
        return float(loss)
    return step


# --------------------------------------------------------------------------
# The sections
# --------------------------------------------------------------------------
def build_steps(kind, libs, params, x, y):
    """``{row label: step}`` for every available library; params are copied per library."""
    copy = lambda: [p.copy() for p in params]
    tiny = kind == "tiny"
    steps = {"NumPy (by hand)": (numpy_tiny_step if tiny else numpy_mnist_step)(copy(), x, y),
             "chainrule": (chainrule_tiny_step if tiny else chainrule_mnist_step)(copy(), x, y),
             JIT: (chainrule_tiny_jit_step if tiny else chainrule_mnist_jit_step)(copy(), x, y)}
    if tiny:
        steps["chainrule (Sequential)"] = chainrule_tiny_sequential_step(copy(), x, y)
        steps[SEQ_JIT] = chainrule_tiny_sequential_jit_step(copy(), x, y)
        steps[FIT_JIT] = chainrule_tiny_fit(copy(), x, y)
    makers = {"PyTorch": (torch_tiny_step, torch_mnist_step),
              "JAX": (jax_tiny_step, jax_mnist_step),
              "autograd": (autograd_tiny_step, autograd_mnist_step)}
    for name, (tiny, big) in makers.items():
        lib = libs.get(name)
        if lib is not None and lib.available:
            label = {"PyTorch": "PyTorch eager", "JAX": "JAX jit", "autograd": "HIPS autograd"}[name]
            steps[label] = (tiny if kind == "tiny" else big)(lib.module, copy(), x, y)
    return steps


def check_same_loss(steps, rtol):
    """First-step losses of every library agree with NumPy's (else the race is
    unfair); the fit row (an epoch's mean loss) is checked by the tests instead."""
    losses = {name: step() for name, step in steps.items() if name != FIT_JIT}
    ref = losses["NumPy (by hand)"]
    bad = {k: v for k, v in losses.items() if abs(v - ref) > rtol * max(1.0, abs(ref))}
    if bad:
        raise AssertionError(f"first-step losses differ from NumPy's {ref:.6f}: {bad}")
    return losses


def step_rows(timings, flops, peak, refs):
    """Rows: library, time per step, GFLOP/s, % of peak, ratio to each ref, noise."""
    rows = []
    for name, t in timings.items():
        gflops = flops / t.median / 1e9
        ratios = [fmt_ratio(t.median / timings[r].median) if r in timings else "—" for r in refs]
        rows.append([name, fmt_time(t.median), f"{gflops:.2f}", f"{100 * gflops / peak:.1f}%",
                     *ratios, f"{100 * t.spread:.0f}%"])
    return rows


def step_header(refs):
    return ["library", "time / step", "GFLOP/s", "% of peak", *[f"vs {r}" for r in refs], "noise"]


def tiny_section(libs, cfg, peak, log=print):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((TINY_BATCH, TINY[0])).astype(F32)
    y = rng.standard_normal((TINY_BATCH, TINY[-1])).astype(F32)
    steps = build_steps("tiny", libs, init_params(TINY), x, y)
    check_same_loss(steps, 1e-4)
    timings = interleaved(steps, cfg["repeats"], cfg["min_time"])
    timings[FIT_JIT] = per_step(timings[FIT_JIT], FIT_STEPS)
    for name, t in timings.items():
        log(f"  tiny MLP  {name:<48} {fmt_time(t.median):>10} / step")
    refs = ["NumPy (by hand)"] + [r for r in ("PyTorch eager", "JAX jit") if r in timings]
    ratio = timings["chainrule"].median / timings["NumPy (by hand)"].median
    jit_ratio = timings[JIT].median / timings["NumPy (by hand)"].median
    targets = [
        Target("Tiny MLP step, chainrule / hand-written NumPy", ratio, TINY_TARGET,
               "See benchmarks/PROFILE.md for where the time goes."),
        Target("Tiny MLP step, chainrule (jit) / hand-written NumPy", jit_ratio,
               TINY_JIT_TARGET, "The replayed kernels cost what NumPy's do; the difference "
               "is the optimizer update (a method call per variable) and the square-mean "
               "backward (benchmarks/PROFILE-jit.md, by line of the generated code)."),
        Target("Tiny MLP step, chainrule (jit) / JAX jit (faster than JAX)",
               timings[JIT].median / timings["JAX jit"].median if "JAX jit" in timings else None,
               1.0, "JAX runs the step as one XLA call, about as fast as hand-written "
               "NumPy; the replay is ~20 NumPy calls (benchmarks/PROFILE-jit.md)."
               if "JAX jit" in timings else "JAX not installed"),
        Target("Tiny MLP, Sequential.fit (jit_compile=True) per step / the compiled "
               "Sequential step alone", timings[FIT_JIT].median / timings[SEQ_JIT].median,
               FIT_JIT_TARGET, "fit adds to each compiled step a finiteness test of every "
               "gradient and its per-batch Python: batching, the loss tracker, callbacks, "
               "logs (benchmarks/PROFILE-jit.md).")]
    return Section(
        "tiny", "(b) Tiny MLP training step: 2-16-16-1, batch 32, SGD",
        "tanh, tanh, linear; mean squared error; SGD (lr 0.01); float32; one call = zero the "
        "gradients, forward, loss, backward, update, and the loss read back as a Python float. "
        "Every library starts from the same weights and its first loss is checked against "
        f"NumPy's. {mlp_flops(TINY, TINY_BATCH):,} flops per step: this measures per-op "
        "overhead, not arithmetic. `chainrule (jit)`: the same step under `cr.jit` "
        "(traced once, replayed as straight-line NumPy; gradients as values, as under "
        "`jax.jit`); `chainrule (Sequential, jit)`: the `Sequential` model's step under "
        "`cr.jit`, with the loss `compile(loss='mse')` gives fit (a per-sample mean, then "
        f"the batch mean); `{FIT_JIT}`: one `model.fit` epoch of {FIT_STEPS} batches of 32 on the "
        "same Sequential compiled with `jit_compile=True` (loss 'mse', SGD), its time "
        f"divided by {FIT_STEPS}: the compiled step plus what fit adds (batching, the loss "
        "tracker, callbacks, logs).",
        step_header(refs), step_rows(timings, mlp_flops(TINY, TINY_BATCH), peak, refs),
        targets)


def mnist_section(libs, cfg, peak, log=print):
    x, y, _, _, source = mnist(MNIST_BATCH)
    x = x.reshape(len(x), -1)
    steps = build_steps("mnist", libs, init_params(MNIST_SIZES), x, y)
    check_same_loss(steps, 1e-4)
    timings = interleaved(steps, cfg["repeats"], cfg["min_time"])
    for name, t in timings.items():
        log(f"  MNIST MLP {name:<24} {fmt_time(t.median):>10} / step")
    refs = ["NumPy (by hand)", "chainrule"] + (["PyTorch eager"] if "PyTorch eager" in timings
                                               else [])
    flops = mlp_flops(MNIST_SIZES, MNIST_BATCH)
    ratio = timings["chainrule"].median / timings["NumPy (by hand)"].median
    jit_ratio = timings[JIT].median / timings["chainrule"].median
    return Section(
        "mnist_mlp", "(c) MNIST MLP training step: 784-512-512-10, batch 128, Adam",
        f"relu, relu, linear; softmax cross-entropy on integer labels (mean over the batch); "
        f"Adam (lr 1e-3, epsilon 1e-7); float32; one batch of {source} images. One call = "
        f"zero the gradients, forward, loss, backward, Adam update, loss read back. "
        f"{flops / 1e6:.1f} MFLOP of GEMMs per step (3 forward, 3 weight-gradient and 2 "
        "input-gradient GEMMs; the element-wise work is not counted). `chainrule (jit)`: "
        "the same step under `cr.jit`.",
        step_header(refs), step_rows(timings, flops, peak, refs),
        [Target("MNIST MLP step, chainrule / hand-written NumPy", ratio, MNIST_TARGET,
                "See benchmarks/PROFILE.md for where the time goes."),
         no_slower_target("MNIST MLP step", jit_ratio)])


def no_slower_target(what, ratio):
    """compiled / eager: "no slower than eager", within the report's noise band."""
    return Target(f"{what}, chainrule (jit) / chainrule eager (no slower: 1.0x, within the "
                  f"report's {100 * (NO_SLOWER - 1):.0f}% noise band)", ratio, NO_SLOWER,
                  "The step is bound by its products; the replay saves only the graph's "
                  "bookkeeping (benchmarks/PROFILE-jit.md).")


def per_step(timing, steps):
    """A Timing of calls that each ran ``steps`` steps, as seconds per step."""
    return Timing(timing.median / steps, [s / steps for s in timing.samples], timing.calls)
