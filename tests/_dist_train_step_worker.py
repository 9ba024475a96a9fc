"""One rank of a data-parallel fit of a model with its own train_step, for
tests/test_distributed_train_step.py:

    mpirun -n 2 python tests/_dist_train_step_worker.py OUT_DIR

Each rank writes OUT_DIR/rank{r}.npz (its weights and its loss history).
The test imports ``build_model`` and ``make_data`` for the one-process run.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import chainrule as cr  # noqa: E402
from chainrule import layers  # noqa: E402


class TapeModel(cr.Model):
    """The Keras guide's shape of step: a tape, compute_loss, optimizer.apply."""

    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(6, activation="tanh")
        self.out = layers.Dense(1)
        self.steps_run = 0

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, data):
        self.steps_run += 1
        x, y = data
        with cr.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=len(x))
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def make_data(n=30):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], np.float32)).astype(np.float32)


def build_model(seed):
    cr.set_seed(seed)
    model = TapeModel()
    model.build((None, 4))
    model.compile(cr.optimizers.SGD(0.05, momentum=0.9), "mse", metrics=["mae"])
    return model


def main(out_dir):
    from chainrule import distributed
    rank = distributed.rank()
    model = build_model(seed=11 + rank)      # different on each rank: fit broadcasts rank 0's
    x, y = make_data()
    history = model.fit(x, y, batch_size=10, epochs=3, verbose=0,
                        distribution=distributed.DataParallel(timeout=60))
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"), *model.get_weights(),
             loss=np.array(history.history["loss"]), steps_run=model.steps_run)


if __name__ == "__main__":
    main(sys.argv[1])
