"""The keras.io example "Simple MNIST convnet" (fchollet; keras.io/examples/vision/mnist_convnet/),
ported to chainrule.

Changed from the example: the imports (``import chainrule as keras``,
``from chainrule import layers``) and smaller sizes so that it runs in about
ten seconds: 6,000 training and 2,000 test images (``SUBSET``)
instead of 60,000 and 10,000, and 2 epochs instead of 15 (about 89%
test accuracy instead of 99%). MNIST comes from ``keras.datasets.mnist.load_data()``,
which finds ``mnist.npz`` through ``$CHAINRULE_DATA`` or chainrule's cache
(see ``chainrule/datasets/``).
"""
import numpy as np
import chainrule as keras
from chainrule import layers

SUBSET = 6000          # smaller than the example (all 60,000)
EPOCHS = 2             # smaller than the example (15)

# %% Prepare the data

# Model / data parameters
num_classes = 10
input_shape = (28, 28, 1)

# Load the data and split it between train and test sets
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train, y_train = x_train[:SUBSET], y_train[:SUBSET]
x_test, y_test = x_test[:SUBSET // 3], y_test[:SUBSET // 3]

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")


# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

# %% Build the model

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()

# %% Train the model

batch_size = 128
epochs = EPOCHS

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)

# %% Evaluate the trained model

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
