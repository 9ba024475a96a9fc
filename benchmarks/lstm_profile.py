"""Scratch: one LSTM forward+backward (128 units, 50 steps, batch 64, 32 inputs, float32),
chainrule against PyTorch CPU eager in the same run.

    python benchmarks/lstm_profile.py            # timings
    python benchmarks/lstm_profile.py --profile  # cProfile of the chainrule call
    python benchmarks/lstm_profile.py --layer GRU
"""
import argparse
import time

import numpy as np

import chainrule as cr

B, T, F, U = 64, 50, 32, 128


def chainrule_step(layer_name, fused=True):
    layer = getattr(cr.layers, layer_name)(U)
    x = cr.Tensor(np.random.default_rng(0).standard_normal((B, T, F)).astype(np.float32))
    layer(x)
    if not fused:
        layer.fused = False

    def step():
        out = layer(x)
        loss = (out * out).sum()
        loss.backward()
        for w in layer.weights:
            w.grad = None
    return step


def torch_step(layer_name):
    import torch
    torch.set_num_threads(2)
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[layer_name]
    layer = cls(F, U, batch_first=True)
    x = torch.tensor(np.random.default_rng(0).standard_normal((B, T, F)).astype(np.float32))

    def step():
        out, _ = layer(x)
        loss = (out[:, -1] ** 2).sum()
        loss.backward()
        layer.zero_grad()
    return step


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--layer", default="LSTM")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--unfused", action="store_true")
    args = ap.parse_args()
    step = chainrule_step(args.layer, fused=not args.unfused)
    if args.profile:
        import cProfile
        import pstats
        cProfile.run("for _ in range(10): step()", "/tmp/lstm.prof")
        pstats.Stats("/tmp/lstm.prof").sort_stats("tottime").print_stats(15)
    else:
        rows = [("chainrule", step), ("chainrule unfused", chainrule_step(args.layer, fused=False))]
        try:
            rows.append(("torch", torch_step(args.layer)))
        except ImportError:
            pass
        # The rows take turns (a busy machine slows some rounds down, never
        # speeds one up); each keeps its best and its median.
        results = {name: [] for name, _ in rows}
        for _ in range(4):
            for name, fn in rows:
                fn()
                for _ in range(5):
                    start = time.perf_counter()
                    fn()
                    results[name].append(1000 * (time.perf_counter() - start))
        for name, times in results.items():
            print(f"{args.layer} {name:18s} best {min(times):7.1f} ms  "
                  f"median {float(np.median(times)):7.1f} ms")
