"""A small Keras classifier: 20 features, 5 classes, Adam, dropout.

RegScope probes it with the embedded engine (the Python harness hooks PyTorch): the surrogate
is rebuilt from the keras.Sequential list, model.compile and model.fit below.
"""
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(4096, 20)).astype("float32")
y = (x[:, :5] @ rng.normal(size=(5, 5))).argmax(axis=1)

model = keras.Sequential([
    keras.Input(shape=(20,)),
    layers.Dense(64, activation="relu"),
    layers.Dropout(0.1),
    layers.Dense(64, activation="relu"),
    layers.Dense(5),
])
optimizer = keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.01)
optimizer.exclude_from_weight_decay(var_names=["bias"])
model.compile(
    optimizer=optimizer,
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.fit(x, y, batch_size=64, epochs=5, validation_split=0.1)
