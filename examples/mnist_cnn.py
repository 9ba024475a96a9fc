"""MNIST with Keras' small convnet (Conv 32, pool, Conv 64, pool, dropout, dense).

    python examples/mnist_cnn.py [--data path/to/mnist.npz] [--epochs 2]

Adam (learning rate 1e-3) on batches of 32 (Keras' default batch size):
two epochs reach about 98.7% test accuracy. (Batches of 128 give 4x fewer
updates and about 98.3% after two epochs.)
"""
import numpy as np
from _mnist_common import EpochTimer, load, parse_args

import chainrule as cr

# The network is the one `chainrule demo mnist-cnn` trains.
from chainrule.demos.mnist_cnn import build_model


def main():
    args = parse_args(__doc__.splitlines()[0], batch_size=32)
    cr.set_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load(args.data)
    x_train = x_train[..., None].astype(np.float32) / 255     # (N, 28, 28, 1) channels-last
    x_test = x_test[..., None].astype(np.float32) / 255
    model = build_model()
    model.summary()
    timer = EpochTimer()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        verbose=args.verbose, callbacks=[timer])
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=500)
    print(f"train accuracy (last epoch, during training): {history.history['accuracy'][-1]:.4f}")
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    print("seconds per epoch: " + ", ".join(f"{s:.1f}" for s in timer.seconds))
    return accuracy


if __name__ == "__main__":
    main()
