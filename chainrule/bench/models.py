"""(d) the MNIST convnet step and (e) the LSTM step: chainrule vs PyTorch.

Both are whole training steps of a model built from layers (forward, softmax
cross-entropy from logits, backward, Adam update), the same architecture in
both libraries; each library initializes its own weights (the cost does not
depend on the values).

(d) The Keras MNIST example convnet, batch 128, 28x28x1 inputs: Conv2D 32 3x3
    relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2, Flatten, Dropout 0.5,
    Dense 10. chainrule is NHWC (Keras' layout), PyTorch NCHW (its own).
(e) LSTM with 128 units over 50 time steps, batch 64, 32 input features, the
    last hidden state into Dense 10.
"""
from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import layers
from chainrule.autodiff import gradients

from .data import mnist
from .mlp import ADAM, JIT, no_slower_target, step_header, step_rows
from .report import Section, Target, fmt_time
from .timing import F32, interleaved

CONV_BATCH = 128
LSTM_UNITS, LSTM_STEPS, LSTM_BATCH, LSTM_FEATURES = 128, 50, 64, 32
CONV_TARGET = 1.5        # chainrule / PyTorch
LSTM_TARGET = 1.5        # chainrule / PyTorch


def convnet_flops(n=CONV_BATCH):
    """Forward GEMM flops F of the convnet; a step is about 3F (forward, weight
    gradients, input gradients) less the first layer's input gradient."""
    conv1 = 2 * n * 26 * 26 * (3 * 3 * 1) * 32
    conv2 = 2 * n * 11 * 11 * (3 * 3 * 32) * 64
    dense = 2 * n * 1600 * 10
    return 3 * (conv1 + conv2 + dense) - conv1


def lstm_flops():
    """Per time step, z = [x, h] @ [kernel; recurrent_kernel]: 2·B·(F+U)·4U;
    the backward does the two gradient GEMMs of each."""
    per_step = 2 * LSTM_BATCH * (LSTM_FEATURES + LSTM_UNITS) * 4 * LSTM_UNITS
    dense = 2 * LSTM_BATCH * LSTM_UNITS * 10
    return 3 * (LSTM_STEPS * per_step + dense)


def _chainrule_step(model, x, y):
    X = cr.tensor(x)
    opt = cr.optimizers.Adam(learning_rate=ADAM["lr"], epsilon=ADAM["eps"])
    model(X)                                     # build the weights
    ws = model.trainable_weights

    def step():
        for w in ws:
            w.grad = None
        loss = cr.losses.softmax_cross_entropy(model(X, training=True), y).mean()
        loss.backward()
        opt.apply_gradients([(w.grad, w) for w in ws])
        return loss.item()
    return step


def _chainrule_jit_step(model, x, y, like=None):
    """The same step under ``cr.jit`` (traced on the first call, then replayed
    as straight-line NumPy); ``like``: a built model whose weights to copy, so
    the compiled and the eager rows start from the same values."""
    X = cr.tensor(x)
    opt = cr.optimizers.Adam(learning_rate=ADAM["lr"], epsilon=ADAM["eps"])
    model(X)                                     # build the weights
    ws = model.trainable_weights
    if like is not None:
        for w, source in zip(ws, like.trainable_weights):
            w.data[...] = source.data

    @cr.jit
    def train(X, labels):
        loss = cr.losses.softmax_cross_entropy(model(X, training=True), labels).mean()
        opt.apply_gradients(zip(gradients(loss, ws), ws))
        return loss

    def step():
        return train(X, y).item()
    step.compiled = train
    return step


def _torch_step(torch, model, x, y):
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=ADAM["lr"], eps=ADAM["eps"])
    cross_entropy = torch.nn.functional.cross_entropy
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = cross_entropy(model(X), Y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def chainrule_convnet():
    return cr.Sequential([cr.Input((28, 28, 1)),
                          layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                          layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                          layers.Flatten(), layers.Dropout(0.5), layers.Dense(10)])


def torch_convnet(nn):
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * 5 * 5, 10))


def chainrule_lstm():
    return cr.Sequential([cr.Input((LSTM_STEPS, LSTM_FEATURES)), layers.LSTM(LSTM_UNITS),
                          layers.Dense(10)])


def torch_lstm(torch):
    nn = torch.nn

    class LastStep(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(LSTM_FEATURES, LSTM_UNITS, batch_first=True)
            self.dense = nn.Linear(LSTM_UNITS, 10)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return self.dense(h[-1])
    return LastStep()


def _section(key, title, text, steps, flops, peak, cfg, target_what, limit, log, jit_target):
    """``jit_target``: "pytorch" (compiled / PyTorch <= ``limit``, as the eager
    row) or "eager" (compiled no slower than eager)."""
    timings = interleaved(steps, cfg["repeats"], cfg["min_time"], warmup=1)
    for name, t in timings.items():
        log(f"  {key:<9} {name:<24} {fmt_time(t.median):>10} / step")
    refs = ["PyTorch eager"] if "PyTorch eager" in timings else []
    torch_ratio = lambda name: timings[name].median / timings["PyTorch eager"].median \
        if refs else None
    why = "See benchmarks/PROFILE.md." if refs else "PyTorch not installed"
    targets = [Target(target_what, torch_ratio("chainrule"), limit, why)]
    if jit_target == "pytorch":
        targets.append(Target(target_what.replace("chainrule", "chainrule (jit)", 1),
                              torch_ratio(JIT), limit,
                              "The LSTM is one op, so the compiled step is the eager one; its "
                              "time is the backward through time's products "
                              "(benchmarks/PROFILE-jit.md)." if refs else
                              "PyTorch not installed"))
    else:
        what = target_what.split(",")[0]
        targets.append(no_slower_target(what, timings[JIT].median / timings["chainrule"].median))
    refs = ["chainrule"] + refs
    return Section(key, title, text, step_header(refs), step_rows(timings, flops, peak, refs),
                   targets)


def convnet_section(libs, cfg, peak, log=print):
    x, y, _, _, source = mnist(CONV_BATCH)
    x = x[..., None]
    cr.set_seed(0)
    eager = chainrule_convnet()
    steps = {"chainrule": _chainrule_step(eager, x, y),
             JIT: _chainrule_jit_step(chainrule_convnet(), x, y, like=eager)}
    torch = libs["PyTorch"].module if libs["PyTorch"].available else None
    if torch is not None:
        torch.manual_seed(0)
        steps["PyTorch eager"] = _torch_step(torch, torch_convnet(torch.nn),
                                             np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y)
    text = ("The Keras MNIST example convnet (Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 "
            "relu, MaxPool 2, Flatten, Dropout 0.5, Dense 10), one batch of 128 "
            f"{source} images; softmax cross-entropy from logits, Adam (lr 1e-3). One call = "
            "zero gradients, forward in training mode, loss, backward, update. chainrule "
            "runs NHWC, PyTorch NCHW (oneDNN). `chainrule (jit)`: the same step under "
            "`cr.jit` (dropout draws fresh masks at every replay). "
            f"{convnet_flops() / 1e6:.0f} MFLOP of convolution/GEMM work per step.")
    return _section("convnet", "(d) MNIST convnet training step, batch 128", text, steps,
                    convnet_flops(), peak, cfg, "Convnet step, chainrule / PyTorch eager",
                    CONV_TARGET, log, jit_target="eager")


def lstm_section(libs, cfg, peak, log=print):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((LSTM_BATCH, LSTM_STEPS, LSTM_FEATURES)).astype(F32)
    y = rng.integers(0, 10, LSTM_BATCH)
    cr.set_seed(0)
    eager = chainrule_lstm()
    steps = {"chainrule": _chainrule_step(eager, x, y),
             JIT: _chainrule_jit_step(chainrule_lstm(), x, y, like=eager)}
    torch = libs["PyTorch"].module if libs["PyTorch"].available else None
    if torch is not None:
        torch.manual_seed(0)
        steps["PyTorch eager"] = _torch_step(torch, torch_lstm(torch), x, y)
    text = (f"`LSTM({LSTM_UNITS})` over {LSTM_STEPS} time steps, batch {LSTM_BATCH}, "
            f"{LSTM_FEATURES} input features (synthetic), the last hidden state into Dense 10; "
            "softmax cross-entropy, Adam. One call = forward, backward through all 50 steps, "
            "update. PyTorch is `nn.LSTM` (its fused CPU kernel). `chainrule (jit)`: the "
            "same step under `cr.jit`. "
            f"{lstm_flops() / 1e6:.0f} MFLOP of GEMMs per step.")
    return _section("lstm", "(e) LSTM training step: 128 units, 50 steps, batch 64", text, steps,
                    lstm_flops(), peak, cfg, "LSTM step, chainrule / PyTorch eager",
                    LSTM_TARGET, log, jit_target="pytorch")
