"""One rank of a data-parallel training run, for tests/test_distributed.py.

    mpirun -n 2 python tests/_dist_worker.py '{"case": "dense", ...}' OUT_DIR

Each rank writes OUT_DIR/rank{r}.npz (its weights) and OUT_DIR/rank{r}.json
(its history and training seed). The test imports ``make_data`` and
``build_model`` to train the single-process reference on the same data.

Cases: "dense" (Dense layers, SGD or Adam, validation and accuracy),
"bn_dropout" (BatchNormalization and Dropout), "fail" (rank 1 raises in the
middle of an epoch), "die" (rank 1's process ends), "stall" (rank 1 hangs;
the others must time out), "custom_loop" (allreduce_gradients), "mismatch_count"
and "mismatch_labels" (rank 1 is given 36 samples, or (N, 1) labels: fit must
refuse on every rank before the first step).
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import chainrule as cr
from chainrule import layers


def make_data(n=46, features=5, classes=3, nan_row=None):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    if nan_row is not None:          # a broken sample: training must stop on every rank
        x[nan_row, 0] = np.nan
    return x, np.minimum(y, classes - 1)


def build_model(config, seed):
    """The model of ``config``, initialized from ``cr.set_seed(seed)``."""
    cr.set_seed(seed)
    stack = [cr.Input((5,)), layers.Dense(8, activation="tanh",
                                          kernel_regularizer=cr.regularizers.L2(1e-3))]
    if config["case"] == "bn_dropout":
        stack += [layers.BatchNormalization(momentum=0.8), layers.Dropout(0.3)]
    stack += [layers.Dense(3, activation="softmax")]
    model = cr.Sequential(stack)
    optimizer = cr.optimizers.SGD(0.1, momentum=0.9) if config["optimizer"] == "sgd" \
        else cr.optimizers.Adam(0.01)
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=config.get("jit_compile", False))
    return model


class _Fail(cr.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if batch == 2:
            raise RuntimeError("rank 1 fails on purpose")


class _Die(cr.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if batch == 2:
            os._exit(3)              # no exception, no excepthook: the process just ends


class _Stall(cr.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if batch == 2:
            time.sleep(120)


def custom_loop_gradients(config, out_dir):
    """allreduce_gradients in a custom loop: uneven shards (rank r takes r + 1
    rows more than rank 0), weighted by their sizes."""
    from chainrule import distributed
    from chainrule.autodiff import gradients
    rank, size = distributed.rank(), distributed.world_size()
    model = build_model(config, seed=config["seed"] + rank)
    distributed.broadcast_weights(model)
    x, y = make_data(config.get("n", 46))
    bounds = np.cumsum([0] + [4 + r for r in range(size)])
    rows = slice(bounds[rank], bounds[rank + 1])
    loss = cr.losses.get("sparse_categorical_crossentropy")(y[rows], model(cr.Tensor(x[rows])))
    grads = gradients(loss, model.trainable_weights)
    averaged = distributed.allreduce_gradients(grads, weight=len(x[rows]))
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"), *[g.data for g in averaged])
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"rows": int(bounds[-1])}, f)


def main(config, out_dir):
    from chainrule import distributed
    if config["case"] == "custom_loop":
        return custom_loop_gradients(config, out_dir)
    dp = distributed.DataParallel(timeout=config.get("timeout", 60))
    rank = distributed.rank()
    # Each rank initializes differently on purpose: fit must broadcast rank 0's weights.
    model = build_model(config, seed=config["seed"] + rank)
    x, y = make_data(config.get("n", 46), nan_row=config.get("nan_row"))
    if config["case"].startswith("mismatch") and rank == 1:      # rank 1 holds other data
        if config["case"] == "mismatch_count":
            x, y = make_data(36)
        else:
            y = y.reshape(-1, 1)
    if config["case"].startswith("mismatch"):
        start = time.monotonic()
        try:
            model.fit(x, y, batch_size=config["batch_size"], epochs=config["epochs"],
                      verbose=0, distribution=dp)
            outcome = {"error": None}
        except ValueError as e:
            outcome = {"error": str(e)}
        outcome.update(seconds=time.monotonic() - start,
                       iterations=int(model.optimizer.iterations))
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump(outcome, f)
        return
    callbacks = []
    if rank == 1 and config["case"] in ("fail", "die", "stall"):
        callbacks.append({"fail": _Fail, "die": _Die, "stall": _Stall}[config["case"]]())
    if config.get("checkpoint"):
        callbacks.append(cr.callbacks.ModelCheckpoint(
            os.path.join(out_dir, f"ckpt_by_rank{rank}.chainrule"), save_best_only=False))
    history = model.fit(x, y, batch_size=config["batch_size"], epochs=config["epochs"],
                        validation_split=config.get("validation_split", 0.0),
                        callbacks=callbacks, verbose=0, distribution=dp)
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"), *model.get_weights())
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"history": history.history, "seed": model._training_seed,
                   "world_size": distributed.world_size()}, f)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), sys.argv[2])
