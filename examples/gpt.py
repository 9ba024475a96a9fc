"""A character-level GPT on Tiny Shakespeare, written out as a training loop.

    python examples/gpt.py --data path/to/tinyshakespeare.txt [--iterations 2000]

The model is the one ``chainrule demo gpt`` trains (nanoGPT's CPU
configuration: 4 pre-norm blocks of causal multi-head attention and a GELU
MLP, 4 heads, width 128, context 64, batch 12, token embedding tied to the
output). This script spells out the loop the demo runs: random windows of the
text, forward, cross-entropy, backward, AdamW, and a sample at the end.
"""
import argparse

import numpy as np

import chainrule as cr
from chainrule.datasets.shakespeare import decode
from chainrule.demos.gpt import (CONFIG, blas_threads, build_model, generate, load,
                                 make_optimizer, mean_loss, random_batch, validation_windows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="tinyshakespeare.txt or its folder")
    parser.add_argument("--iterations", type=int, default=CONFIG["iterations"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    threads, _, note = blas_threads()      # one BLAS thread per free core (see the demo)
    print(note)
    with threads:
        train(args)


def train(args):
    config = {**CONFIG, "iterations": args.iterations}
    vocabulary, train_ids, val_ids = load(args.data)
    model = build_model(len(vocabulary), config["depth"], config["heads"], config["width"],
                        config["context"], seed=args.seed)
    optimizer = make_optimizer(model, config)
    weights = model.trainable_weights
    rng = np.random.default_rng(args.seed)
    for step in range(config["iterations"]):
        x, y = random_batch(train_ids, config["batch_size"], config["context"], rng)
        for w in weights:
            w.grad = None
        logits = model(x, training=True)                       # (12, 64, 65)
        loss = cr.losses.softmax_cross_entropy(logits, y).mean()
        loss.backward()
        optimizer.apply([w.grad for w in weights], weights)   # clipped, decayed, scheduled
        if step % 100 == 0:
            print(f"step {step:5d}  loss {float(loss.data):.4f}  "
                  f"learning rate {optimizer.learning_rate:.2e}")
    val_x, val_y = validation_windows(val_ids, config["context"])
    print(f"validation loss: {mean_loss(model, val_x, val_y):.4f} nats per character")
    sample = generate(model, val_ids[:1], 300, config["context"], np.random.default_rng(0))
    print(decode(val_ids[:1], vocabulary) + decode(sample, vocabulary))


if __name__ == "__main__":
    main()
