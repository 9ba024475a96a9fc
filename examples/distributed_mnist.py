"""MNIST MLP trained data-parallel on N MPI processes.

    mpirun -n 2 python examples/distributed_mnist.py [--epochs 2] [--data mnist.npz]
    chainrule launch -n 2 examples/distributed_mnist.py

Every process runs this same script. ``DataParallel`` makes them start from
rank 0's weights, gives each its share of every global batch of
``--batch-size`` samples and averages the gradients, so the training is the
one a single process would do on the same batches (the same network and
schedule as examples/mnist_mlp.py). Only rank 0 prints and saves.
Needs ``pip install "chainrule[distributed]"``.
"""
import numpy as np
from _mnist_common import EpochTimer, load, parse_args

import chainrule as cr
from chainrule import distributed
from chainrule.demos.mnist_mlp import build_model, schedule


def main():
    args = parse_args(__doc__.splitlines()[0])
    strategy = distributed.DataParallel()
    chief = strategy.is_chief
    cr.set_seed(args.seed)        # rank 0's weights and shuffling seed are used everywhere
    (x_train, y_train), (x_test, y_test) = load(args.data)
    x_train = x_train.reshape(-1, 784).astype(np.float32) / 255
    x_test = x_test.reshape(-1, 784).astype(np.float32) / 255
    model = build_model()
    timer = EpochTimer()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        verbose=args.verbose, distribution=strategy,
                        callbacks=[timer, cr.callbacks.LearningRateScheduler(schedule)])
    if chief:
        loss, accuracy = model.evaluate(x_test, y_test, batch_size=1000)
        print(f"{strategy.world_size} process(es); train accuracy (last epoch) "
              f"{history.history['accuracy'][-1]:.4f}; test loss {loss:.4f}, "
              f"test accuracy {accuracy:.4f}")
        print("seconds per epoch: " + ", ".join(f"{s:.1f}" for s in timer.seconds))
        return accuracy   # save here too (model.save): rank 0 only, the weights are the same
    return None


if __name__ == "__main__":
    main()
